/* SPDX-License-Identifier: MIT */
/* syscall: system call routing and object invocation dispatch. */
#include "syscall.h"

#include <stddef.h>

#include "../arch/x86_64/cpu.h"
#include "../arch/x86_64/gdt.h"
#include "../arch/x86_64/lapic.h"
#include "../arch/x86_64/percpu.h"
#include "../arch/x86_64/trap.h"
#include "../include/hv/ipc_buffer.h"
#include "../include/hv/syscall.h"
#include "../object/cnode.h"
#include "../object/endpoint.h"
#include "../object/guest_memory.h"
#include "../object/ioport.h"
#include "../object/irq.h"
#include "../object/notification.h"
#include "../object/reply.h"
#include "../object/sched_context.h"
#include "../object/tcb.h"
#include "../object/untyped.h"
#include "../object/vcpu.h"
#include "../object/vspace.h"
#include "fault.h"
#include "fpu.h"
#include "ipc.h"
#include "klock.h"
#include "sched.h"

extern char syscall_entry[];

#define FMASK_CLEAR (RFLAGS_IF | (1ull << 8) /* TF */ | (1ull << 10) /* DF */ | (1ull << 18) /* AC */)

void syscall_init_cpu(void)
{
    /* User code may use x87/SSE: the core saves and restores it per thread (FXSAVE). */
    write_cr0((read_cr0() & ~(CR0_EM | CR0_TS)) | CR0_MP);
    write_cr4(read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT);
    /* Traps from user mode land on this CPU's kernel stack. */
    gdt_tss(this_cpu()->index)->rsp[0] = this_cpu()->kernel_stack_top;
    wrmsr(MSR_STAR, ((uint64_t)GDT_USER_CS32 << 48) | ((uint64_t)GDT_KERNEL_CS << 32));
    wrmsr(MSR_LSTAR, (uint64_t)(uintptr_t)syscall_entry);
    wrmsr(MSR_FMASK, FMASK_CLEAR);
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
    /* Every thread's FS base starts at 0; the exits load it and keep percpu.fs_base in step. */
    wrmsr(MSR_FS_BASE, 0);
    this_cpu()->fs_base = 0;
}

/* Gathers the message words of an invocation: 4 from registers, the rest from the IPC buffer. */
static unsigned invocation_args(const struct tcb *t, uint64_t *args)
{
    unsigned len = hv_tag_length(t->ctx.rsi);
    const struct hv_ipc_buffer *buf = tcb_ipc_buffer(t);
    if (len > HV_MSG_MAX_WORDS)
        len = HV_MSG_MAX_WORDS;
    if (len > HV_MSG_REG_WORDS && buf == NULL)
        len = HV_MSG_REG_WORDS;
    args[0] = t->ctx.rdx;
    args[1] = t->ctx.r8;
    args[2] = t->ctx.r9;
    args[3] = t->ctx.r10;
    for (unsigned i = HV_MSG_REG_WORDS; i < len; i++)
        args[i] = buf->msg[i];
    return len;
}

/* An invocation of a kernel object: decode (cannot change anything) then invoke. */
static void invoke_object(struct tcb *t, struct cte *slot)
{
    uint64_t args[HV_MSG_MAX_WORDS];
    unsigned nargs = invocation_args(t, args);
    uint64_t label = hv_tag_label(t->ctx.rsi);
    const struct cap *root = tcb_cspace(t);
    struct hv_msg out = { 0, 0, { 0, 0, 0, 0 } };
    enum hv_error err;

    switch (slot->cap.type) {
    case HV_OBJ_UNTYPED:
        err = untyped_invoke(root, slot, label, args, nargs);
        break;
    case HV_OBJ_CNODE:
        err = cnode_invoke(root, slot, label, args, nargs);
        break;
    case HV_OBJ_TCB:
        err = tcb_invoke(root, slot, label, args, nargs, &out);
        break;
    case HV_OBJ_SCHED_CONTEXT:
        err = sched_context_invoke(root, slot, label, args, nargs, &out);
        break;
    case HV_OBJ_PML4:
    case HV_OBJ_PDPT:
    case HV_OBJ_PD:
    case HV_OBJ_PT:
    case HV_OBJ_FRAME:
        err = vspace_invoke(root, slot, label, args, nargs, &out);
        break;
    case HV_OBJ_IOPORT_CONTROL:
    case HV_OBJ_IOPORT:
        err = ioport_invoke(root, slot, label, args, nargs, &out);
        break;
    case HV_OBJ_IRQ_CONTROL:
    case HV_OBJ_IRQ_HANDLER:
        err = irq_invoke(root, slot, label, args, nargs, &out);
        break;
    case HV_OBJ_GUEST_MEMORY:
        err = guest_memory_invoke(root, slot, label, args, nargs, &out);
        break;
    case HV_OBJ_VCPU:
        err = vcpu_invoke(root, slot, label, args, nargs, &out);
        break;
    case HV_OBJ_NOTIFICATION:
        err = notification_invoke(slot, label, args, nargs);
        break;
    default:
        err = HV_ERR_WRONG_TYPE;
        break;
    }
    /* The caller may have deleted itself (its own TCB); then nothing is written back. */
    if (sched_current() != t)
        return;
    ipc_set_result(t, err);
    t->ctx.rsi = err == HV_OK ? out.tag : 0;
    t->ctx.rdx = out.w[0];
    t->ctx.r8 = out.w[1];
    t->ctx.r9 = out.w[2];
    t->ctx.r10 = out.w[3];
}

static void do_wait(struct tcb *t, struct cte *slot, bool blocking)
{
    struct notification *n = notification_of(&slot->cap);
    uint64_t bits = 0;
    if (notification_take(n, &bits) || !blocking) {
        ipc_complete_wait(t, bits);
        return;
    }
    sched_remove(t);
    t->state = THREAD_BLOCKED_NOTIFICATION;
    t->blocked_ntfn = n;
    t->q_next = NULL;
    t->q_prev = n->tail;
    if (n->tail != NULL)
        n->tail->q_next = t;
    else
        n->head = t;
    n->tail = t;
}

/* Resolves the reply cap named in r12 (0: none). */
static enum hv_error reply_arg(struct tcb *t, struct cte **out)
{
    *out = NULL;
    if (t->ctx.r12 == 0)
        return HV_OK;
    struct cte *r;
    enum hv_error err = cnode_lookup_cap(tcb_cspace(t), t->ctx.r12, &r);
    if (err != HV_OK)
        return err;
    if (r->cap.type != HV_OBJ_REPLY)
        return HV_ERR_WRONG_TYPE;
    *out = r;
    return HV_OK;
}

static void handle_syscall(struct tcb *t, uint64_t nr)
{
    if (nr == HV_SYS_YIELD) {
        ipc_set_result(t, HV_OK);
        sched_yield();
        return;
    }
    struct cte *slot;
    enum hv_error err = cnode_lookup_cap(tcb_cspace(t), t->ctx.rdi, &slot);
    if (err != HV_OK) {
        ipc_set_result(t, err);
        return;
    }
    uint8_t type = slot->cap.type;
    struct cte *reply = NULL;

    switch (nr) {
    case HV_SYS_CALL:
    case HV_SYS_SEND:
    case HV_SYS_NB_SEND:
        if (type == HV_OBJ_ENDPOINT) {
            if (!cap_has_rights(&slot->cap, HV_RIGHT_WRITE)) {
                ipc_set_result(t, HV_ERR_INSUFFICIENT_RIGHTS);
                return;
            }
            t->flags = 0;
            ipc_send(t, slot, nr == HV_SYS_CALL, nr != HV_SYS_NB_SEND);
        } else if (type == HV_OBJ_NOTIFICATION && (nr != HV_SYS_CALL || hv_tag_label(t->ctx.rsi) == 0)) {
            if (!cap_has_rights(&slot->cap, HV_RIGHT_WRITE)) {
                ipc_set_result(t, HV_ERR_INSUFFICIENT_RIGHTS);
                return;
            }
            notification_signal(notification_of(&slot->cap), slot->cap.data);
            ipc_set_result(t, HV_OK);
        } else if (type == HV_OBJ_REPLY) {
            ipc_reply(t, slot);
            ipc_set_result(t, HV_OK);
        } else {
            invoke_object(t, slot);     /* incl. a labelled call on a notification (SET_TIMER) */
        }
        return;
    case HV_SYS_SIGNAL:
        if (type != HV_OBJ_NOTIFICATION) {
            ipc_set_result(t, HV_ERR_WRONG_TYPE);
            return;
        }
        if (!cap_has_rights(&slot->cap, HV_RIGHT_WRITE)) {
            ipc_set_result(t, HV_ERR_INSUFFICIENT_RIGHTS);
            return;
        }
        notification_signal(notification_of(&slot->cap), slot->cap.data);
        ipc_set_result(t, HV_OK);
        return;
    case HV_SYS_WAIT:
    case HV_SYS_POLL:
        if (type != HV_OBJ_NOTIFICATION) {
            ipc_set_result(t, HV_ERR_WRONG_TYPE);
            return;
        }
        if (!cap_has_rights(&slot->cap, HV_RIGHT_READ)) {
            ipc_set_result(t, HV_ERR_INSUFFICIENT_RIGHTS);
            return;
        }
        do_wait(t, slot, nr == HV_SYS_WAIT);
        return;
    case HV_SYS_RECV:
    case HV_SYS_REPLY_RECV:
        if (type != HV_OBJ_ENDPOINT) {
            ipc_set_result(t, HV_ERR_WRONG_TYPE);
            return;
        }
        if (!cap_has_rights(&slot->cap, HV_RIGHT_READ)) {
            ipc_set_result(t, HV_ERR_INSUFFICIENT_RIGHTS);
            return;
        }
        err = reply_arg(t, &reply);
        if (err != HV_OK) {
            ipc_set_result(t, err);
            return;
        }
        if (nr == HV_SYS_REPLY_RECV && reply != NULL)
            ipc_reply(t, reply);
        ipc_recv(t, slot, reply);
        return;
    default:
        ipc_set_result(t, HV_ERR_UNKNOWN_SYSCALL);
        return;
    }
}

void syscall_general(struct tcb *t, uint64_t nr)
{
    if (nr >= HV_SYS_FIRST && nr <= HV_SYS_LAST)
        handle_syscall(t, nr);
    else
        fault_unknown_syscall(t);
    /* Charge after the call completed, so a budget fault never swallows a system call. */
    sched_account();
    sched_exit_to_user();
}

void syscall_user_trap(struct trap_frame *f)
{
    klock_acquire();
    struct tcb *t = sched_current();
    if (t == NULL) {
        /* Our thread was taken away while we entered: only the interrupt is left to serve. */
        if (f->vector >= 32)
            trap_handle_interrupt(f);
        sched_exit_to_user();
    }
    fpu_save(this_cpu(), t);
    struct user_context *c = &t->ctx;
    /* trap_frame and user_context share the register order; copy the GPRs and iret frame. */
    c->r15 = f->r15; c->r14 = f->r14; c->r13 = f->r13; c->r12 = f->r12;
    c->r11 = f->r11; c->r10 = f->r10; c->r9 = f->r9; c->r8 = f->r8;
    c->rbp = f->rbp; c->rdi = f->rdi; c->rsi = f->rsi; c->rdx = f->rdx;
    c->rcx = f->rcx; c->rbx = f->rbx; c->rax = f->rax;
    c->rip = f->rip; c->cs = f->cs; c->rflags = f->rflags; c->rsp = f->rsp; c->ss = f->ss;
    sched_account();

    if (f->vector < 32) {
        if (t->state == THREAD_RUNNABLE)
            fault_raise_exception(t, f->vector, f->error_code, f->vector == EXC_PF ? read_cr2() : 0);
    } else {
        trap_handle_interrupt(f);
    }
    sched_exit_to_user();
}
