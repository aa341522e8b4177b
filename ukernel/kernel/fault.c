/* SPDX-License-Identifier: MIT */
/* fault: fault messages to the fault endpoint, and Linux system call reflection. */
#include "fault.h"

#include "../arch/x86_64/trap.h"
#include "../include/hv/fault.h"
#include "../include/hv/ipc_buffer.h"
#include "../include/hv/vcpu.h"
#include "../object/sched_context.h"
#include "console.h"
#include "ipc.h"
#include "sched.h"

static void raise(struct tcb *t, uint32_t label, uint64_t w0, uint64_t w1, uint64_t w2, uint64_t w3)
{
    struct cte *fault_ep = &t->slots[TCB_SLOT_FAULT_EP];
    t->fault_label = label;
    t->fault_words[0] = w0;
    t->fault_words[1] = w1;
    t->fault_words[2] = w2;
    t->fault_words[3] = w3;
    if (fault_ep->cap.type != HV_OBJ_ENDPOINT) {
        kprintf("core: thread %p fault %u (0x%lx 0x%lx rip 0x%lx) with no fault handler: stopped\n",
                (void *)t, label, w0, w1, t->ctx.rip);
        t->fault_label = 0;
        ipc_stop_faulted(t);
        return;
    }
    ipc_send_fault(t, fault_ep);
}

void fault_raise_exception(struct tcb *t, uint64_t vector, uint64_t error_code, uint64_t cr2)
{
    if (vector == EXC_PF)
        raise(t, HV_FAULT_PAGE, cr2, error_code, t->ctx.rip, t->ctx.rsp);
    else
        raise(t, HV_FAULT_EXCEPTION, vector, error_code, t->ctx.rip, t->ctx.rsp);
}

void fault_unknown_syscall(struct tcb *t)
{
    struct hv_ipc_buffer *buf = tcb_ipc_buffer(t);
    if (t->syscall_entry != 0 && buf != NULL) {
        /* Reflect to the thread's own runtime: like a function call it did not make. */
        buf->reflect_rip = t->ctx.rip;
        buf->reflect_rflags = t->ctx.r11;
        t->ctx.rip = t->syscall_entry;
        return;
    }
    raise(t, HV_FAULT_SYSCALL, t->ctx.rax, t->ctx.rip, t->ctx.rsp, t->ctx.rdi);
}

void fault_raise_vm_exit(struct tcb *t, uint64_t reason, uint64_t qualification, uint64_t address,
                         uint64_t length)
{
    raise(t, HV_FAULT_VM_EXIT, reason, qualification, address, length);
}

void fault_raise_timeout(struct tcb *t)
{
    uint64_t consumed = t->sc != NULL ? t->sc->consumed : 0;
    raise(t, HV_FAULT_TIMEOUT, sched_ticks_to_us(consumed), t->ctx.rip, 0, 0);
}
