/* SPDX-License-Identifier: MIT */
/* ipc: message transfer between threads: send, call, receive, reply, and their cancellation. */
#ifndef HV_KERNEL_IPC_H
#define HV_KERNEL_IPC_H

#include <stdbool.h>
#include <stdint.h>

#include "../include/hv/errors.h"
#include "../object/cap.h"
#include "../object/tcb.h"

/*
 * A thread's outgoing message is its saved registers (tag in rsi, words in rdx,
 * r8, r9, r10) plus words 4.. in its IPC buffer — or, for a fault, the fault
 * words the core stored in the TCB. Delivery writes the receiver's saved
 * registers (rax = HV_OK, rsi = tag, rdi = badge, words) and IPC buffer.
 */

/* Sends through the endpoint cap in `ep_slot` (call: wait for the reply; blocking or not). */
void ipc_send(struct tcb *sender, struct cte *ep_slot, bool call, bool blocking);
/* Receives on the endpoint cap in `ep_slot`; `reply` (may be NULL) will answer a call. */
void ipc_recv(struct tcb *receiver, struct cte *ep_slot, struct cte *reply_slot);
/* Answers the call bound to the reply object, with the replier's message. */
void ipc_reply(struct tcb *replier, struct cte *reply_slot);
/* Sends a fault message for `t` (fault words already stored) to its fault endpoint. */
void ipc_send_fault(struct tcb *t, struct cte *fault_ep_slot);

/* Ends a blocked operation with an error in rax; the thread becomes runnable. */
void ipc_abort(struct tcb *t, enum hv_error err);
/* A wait (or bound receive) completes with the notification word. */
void ipc_complete_wait(struct tcb *t, uint64_t bits);
/* Takes a receiver off its endpoint (it will be completed differently). */
void ipc_cancel_recv(struct tcb *t);
/* A faulted thread whose handler gave up: stays stopped. */
void ipc_stop_faulted(struct tcb *t);

/* Sets the result of a system call in the thread's saved registers. */
static inline void ipc_set_result(struct tcb *t, enum hv_error err)
{
    t->ctx.rax = (uint64_t)err;
}

#endif
