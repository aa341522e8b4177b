/* SPDX-License-Identifier: MIT */
/* tcb: thread configuration, register access, start/stop, and teardown. */
#include "tcb.h"

#include <stddef.h>

#include "../arch/x86_64/cpu.h"
#include "../arch/x86_64/percpu.h"
#include "../include/hv/ipc_buffer.h"
#include "../kernel/config.h"
#include "../kernel/fpu.h"
#include "../kernel/ipc.h"
#include "../kernel/kmem.h"
#include "../kernel/sched.h"
#include "../lib/kstring.h"
#include "cnode.h"
#include "endpoint.h"
#include "notification.h"
#include "object.h"
#include "reply.h"
#include "sched_context.h"
#include "vcpu.h"
#include "vspace.h"

#define USER_CS (0x28 | 3)
#define USER_SS (0x20 | 3)
#define RFLAGS_RESERVED_ONE (1ull << 1)
#define FPU_DEFAULT_FCW 0x037f
#define FPU_DEFAULT_MXCSR 0x1f80u
/* Flags user code may set: CF PF AF ZF SF TF DF OF AC ID — never IOPL, NT, VM, IF=0. */
#define RFLAGS_USER_MASK 0x00240fd5ull

void tcb_init(struct tcb *t)
{
    t->hdr.type = HV_OBJ_TCB;
    t->state = THREAD_INACTIVE;
    t->ctx.cs = USER_CS;
    t->ctx.ss = USER_SS;
    t->ctx.rflags = RFLAGS_RESERVED_ONE | RFLAGS_IF;
    /* The power-on FPU state: all x87 and SSE exceptions masked. */
    uint16_t fcw = FPU_DEFAULT_FCW;
    uint32_t mxcsr = FPU_DEFAULT_MXCSR;
    memcpy(&t->fpu[TCB_FXSAVE_FCW], &fcw, sizeof(fcw));
    memcpy(&t->fpu[TCB_FXSAVE_MXCSR], &mxcsr, sizeof(mxcsr));
    fpu_image_changed(t);   /* a version no CPU holds: a TCB where a deleted one was starts clean */
}

struct hv_ipc_buffer *tcb_ipc_buffer(const struct tcb *t)
{
    const struct cap *f = &t->slots[TCB_SLOT_IPC_BUFFER].cap;
    if (f->type != HV_OBJ_FRAME)
        return NULL;
    return kmem_ptr(f->object);
}

void tcb_cancel_ipc(struct tcb *t)
{
    switch (t->state) {
    case THREAD_BLOCKED_SEND:
    case THREAD_BLOCKED_RECV:
        ipc_cancel_recv(t);     /* takes it off the endpoint either way */
        break;
    case THREAD_BLOCKED_REPLY:
        if (t->caller_reply != NULL) {
            t->caller_reply->caller = NULL;
            t->caller_reply = NULL;
        }
        break;
    case THREAD_BLOCKED_NOTIFICATION:
        if (t->blocked_ntfn != NULL)
            notification_dequeue(t->blocked_ntfn, t);
        break;
    default:
        break;
    }
    sched_remove(t);
    t->state = THREAD_INACTIVE;
    t->flags = 0;
    t->fault_label = 0;
}

void tcb_finalize(struct tcb *t)
{
    sched_evict_remote(t);  /* its memory may be reused once we return */
    vcpu_unbind_tcb(t);
    tcb_cancel_ipc(t);
    if (t->recv_reply != NULL) {
        t->recv_reply->owner = NULL;
        t->recv_reply = NULL;
    }
    if (t->bound_ntfn != NULL) {
        t->bound_ntfn->bound_tcb = NULL;
        t->bound_ntfn = NULL;
    }
    if (t->sc != NULL) {
        t->sc->tcb = NULL;
        t->sc = NULL;
    }
    for (unsigned cpu = 0; cpu < CONFIG_MAX_CPUS; cpu++) {
        if (percpu_of(cpu)->current == t)
            percpu_of(cpu)->current = NULL;
    }
    for (unsigned i = 0; i < TCB_SLOT_COUNT; i++)
        cap_delete(&t->slots[i]);
}

/* Replaces a TCB-held reference with a copy of `src` (a child of it, so revoking src removes it). */
static void set_slot(struct tcb *t, enum tcb_slot which, struct cte *src)
{
    cap_delete(&t->slots[which]);
    if (src != NULL) {
        struct cap c = src->cap;
        if (which == TCB_SLOT_IPC_BUFFER)
            object_cap_derived(&c);
        cap_insert(&t->slots[which], &c, src);
    }
}

enum { CFG_FAULT_EP = 0, CFG_CSPACE, CFG_VSPACE, CFG_IPC_FRAME, CFG_IPC_VA, CFG_ARGS };

/* Looks up an optional cap argument: cptr 0 means "none". */
static enum hv_error optional_cap(const struct cap *root, uint64_t cptr, uint8_t type,
                                  struct cte **out)
{
    *out = NULL;
    if (cptr == 0)
        return HV_OK;
    enum hv_error err = cnode_lookup_cap(root, cptr, out);
    if (err != HV_OK)
        return err;
    return (*out)->cap.type == type ? HV_OK : HV_ERR_WRONG_TYPE;
}

static enum hv_error configure(const struct cap *root, struct tcb *t, const uint64_t *args,
                               unsigned nargs)
{
    if (nargs < CFG_ARGS)
        return HV_ERR_TRUNCATED;
    struct cte *fault_ep, *cspace, *vspace, *ipc_frame;
    enum hv_error err;
    if ((err = optional_cap(root, args[CFG_FAULT_EP], HV_OBJ_ENDPOINT, &fault_ep)) != HV_OK ||
        (err = optional_cap(root, args[CFG_CSPACE], HV_OBJ_CNODE, &cspace)) != HV_OK ||
        (err = optional_cap(root, args[CFG_VSPACE], HV_OBJ_PML4, &vspace)) != HV_OK ||
        (err = optional_cap(root, args[CFG_IPC_FRAME], HV_OBJ_FRAME, &ipc_frame)) != HV_OK)
        return err;
    if (fault_ep != NULL && !cap_has_rights(&fault_ep->cap, HV_RIGHT_WRITE))
        return HV_ERR_INSUFFICIENT_RIGHTS;
    if (ipc_frame != NULL) {
        if (!cap_has_rights(&ipc_frame->cap, HV_RIGHT_READ | HV_RIGHT_WRITE))
            return HV_ERR_INSUFFICIENT_RIGHTS;
        if (args[CFG_IPC_VA] & 0xfff)
            return HV_ERR_ALIGNMENT;
        if (args[CFG_IPC_VA] >= USER_VA_END)
            return HV_ERR_RANGE;
    }
    if (t->state != THREAD_INACTIVE && (cspace != NULL || vspace != NULL))
        return HV_ERR_BUSY;     /* change address spaces only while stopped */

    if (fault_ep != NULL)
        set_slot(t, TCB_SLOT_FAULT_EP, fault_ep);
    if (cspace != NULL)
        set_slot(t, TCB_SLOT_CSPACE, cspace);
    if (vspace != NULL)
        set_slot(t, TCB_SLOT_VSPACE, vspace);
    if (ipc_frame != NULL) {
        set_slot(t, TCB_SLOT_IPC_BUFFER, ipc_frame);
        t->ipc_buffer_va = args[CFG_IPC_VA];
    }
    return HV_OK;
}

static bool user_address_ok(uint64_t va)
{
    return va < USER_VA_END;
}

enum hv_error tcb_invoke(const struct cap *root, struct cte *slot, uint64_t label,
                         const uint64_t *args, unsigned nargs, struct hv_msg *reply_out)
{
    struct tcb *t = tcb_of(&slot->cap);
    const struct cap *c = &slot->cap;
    bool writes = label != HV_INV_TCB_READ_REGISTERS;
    if (writes && !cap_has_rights(c, HV_RIGHT_WRITE))
        return HV_ERR_INSUFFICIENT_RIGHTS;
    if (!writes && !cap_has_rights(c, HV_RIGHT_READ))
        return HV_ERR_INSUFFICIENT_RIGHTS;

    switch (label) {
    case HV_INV_TCB_CONFIGURE:
        return configure(root, t, args, nargs);
    case HV_INV_TCB_WRITE_REGISTERS:
        if (nargs < 5)
            return HV_ERR_TRUNCATED;
        if (!user_address_ok(args[0]) || !user_address_ok(args[1]))
            return HV_ERR_RANGE;
        if (t == sched_current())
            return HV_ERR_BUSY;     /* a thread does not rewrite itself mid-call */
        t->ctx.rip = args[0];
        t->ctx.rsp = args[1];
        t->ctx.rflags = (args[2] & RFLAGS_USER_MASK) | RFLAGS_RESERVED_ONE | RFLAGS_IF;
        t->ctx.rdi = args[3];
        t->ctx.rsi = args[4];
        return HV_OK;
    case HV_INV_TCB_READ_REGISTERS:
        reply_out->w[0] = t->ctx.rip;
        reply_out->w[1] = t->ctx.rsp;
        reply_out->w[2] = t->ctx.rflags;
        reply_out->w[3] = t->ctx.rax;
        reply_out->tag = hv_tag(0, 4, 0);
        return HV_OK;
    case HV_INV_TCB_RESUME:
        if (t->state != THREAD_INACTIVE)
            return HV_OK;   /* already running or blocked: nothing to do */
        if (tcb_cspace(t)->type != HV_OBJ_CNODE || t->slots[TCB_SLOT_VSPACE].cap.type != HV_OBJ_PML4)
            return HV_ERR_ILLEGAL_OPERATION;    /* configure it first */
        if (t->sc == NULL)
            return HV_ERR_ILLEGAL_OPERATION;    /* nothing to run on: bind a SchedContext */
        t->fault_label = 0;
        sched_make_runnable(t);
        return HV_OK;
    case HV_INV_TCB_SUSPEND:
        tcb_cancel_ipc(t);
        return HV_OK;
    case HV_INV_TCB_SET_AFFINITY:
        if (nargs < 1)
            return HV_ERR_TRUNCATED;
        if (args[0] >= CONFIG_MAX_CPUS || !percpu_of((unsigned)args[0])->online)
            return HV_ERR_RANGE;
        if (t->state == THREAD_RUNNABLE) {
            sched_remove(t);
            t->cpu = (uint8_t)args[0];
            sched_make_runnable(t);
        } else {
            t->cpu = (uint8_t)args[0];
        }
        return HV_OK;
    case HV_INV_TCB_SET_FS_BASE:
        if (nargs < 1)
            return HV_ERR_TRUNCATED;
        if (!user_address_ok(args[0]))
            return HV_ERR_RANGE;
        t->ctx.fs_base = args[0];
        return HV_OK;
    case HV_INV_TCB_SET_SYSCALL_ENTRY:
        if (nargs < 1)
            return HV_ERR_TRUNCATED;
        if (!user_address_ok(args[0]))
            return HV_ERR_RANGE;
        t->syscall_entry = args[0];
        return HV_OK;
    case HV_INV_TCB_BIND_NOTIFICATION: {
        if (nargs < 1)
            return HV_ERR_TRUNCATED;
        if (args[0] == 0) {
            if (t->bound_ntfn != NULL) {
                t->bound_ntfn->bound_tcb = NULL;
                t->bound_ntfn = NULL;
            }
            return HV_OK;
        }
        struct cte *n;
        enum hv_error err = cnode_lookup_cap(root, args[0], &n);
        if (err != HV_OK)
            return err;
        if (n->cap.type != HV_OBJ_NOTIFICATION)
            return HV_ERR_WRONG_TYPE;
        if (!cap_has_rights(&n->cap, HV_RIGHT_READ))
            return HV_ERR_INSUFFICIENT_RIGHTS;
        struct notification *ntfn = notification_of(&n->cap);
        if (ntfn->bound_tcb != NULL || t->bound_ntfn != NULL)
            return HV_ERR_BUSY;
        ntfn->bound_tcb = t;
        t->bound_ntfn = ntfn;
        return HV_OK;
    }
    case HV_INV_TCB_SET_PRIORITY: {
        if (nargs < 1)
            return HV_ERR_TRUNCATED;
        const struct tcb *self = sched_current();
        uint64_t ceiling = self != NULL ? self->max_priority : 255u;
        if (args[0] > ceiling)
            return HV_ERR_RANGE;    /* cannot give more than one has */
        bool queued = t->state == THREAD_RUNNABLE;
        if (queued)
            sched_remove(t);
        t->priority = (uint8_t)args[0];
        t->max_priority = (uint8_t)args[0];
        if (queued)
            sched_make_runnable(t);
        return HV_OK;
    }
    default:
        return HV_ERR_UNKNOWN_INVOCATION;
    }
}
