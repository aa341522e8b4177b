/* SPDX-License-Identifier: MIT */
/* tcb: a thread: its saved user registers, state, scheduling and IPC links, and its own cap slots. */
#ifndef HV_OBJECT_TCB_H
#define HV_OBJECT_TCB_H

#include <stdbool.h>
#include <stdint.h>

#include "../include/hv/errors.h"
#include "../include/hv/syscall.h"
#include "cap.h"
#include "kobj.h"

/*
 * Saved user state. The order is the push order of the kernel entry paths
 * (arch/x86_64/user_entry.S): they build this struct in place, top down.
 */
struct user_context {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t rip, cs, rflags, rsp, ss;  /* an iretq frame */
    uint64_t fs_base;
};

enum thread_state {
    THREAD_INACTIVE = 0,        /* never started, suspended, or stopped after a fault */
    THREAD_RUNNABLE,            /* on a run queue or running */
    THREAD_BLOCKED_SEND,        /* queued on an endpoint to send (or call) */
    THREAD_BLOCKED_RECV,        /* queued on an endpoint to receive */
    THREAD_BLOCKED_REPLY,       /* called; waits for the reply */
    THREAD_BLOCKED_NOTIFICATION,/* waiting on a notification */
    THREAD_THROTTLED,           /* budget exhausted; waits for its replenishment */
};

/* The TCB's own capability slots: references that keep the objects alive. */
enum tcb_slot {
    TCB_SLOT_CSPACE = 0,
    TCB_SLOT_VSPACE,
    TCB_SLOT_FAULT_EP,
    TCB_SLOT_IPC_BUFFER,
    TCB_SLOT_COUNT
};

struct endpoint;
struct notification;
struct reply;
struct sched_context;
struct vcpu;

/* FXSAVE image layout, 64-bit form (Intel SDM Vol. 1, 10.5.1, table 10-2). */
#define TCB_FXSAVE_BYTES 512u
#define TCB_FXSAVE_FCW 0u
#define TCB_FXSAVE_MXCSR 24u
#define TCB_FXSAVE_MXCSR_MASK 28u   /* 0 there means TCB_MXCSR_MASK_DEFAULT */
#define TCB_FXSAVE_XMM 160u         /* XMM0..15, 16 bytes each */
#define TCB_MXCSR_MASK_DEFAULT 0xffbfu  /* SDM 10.5.1.2: all but DAZ */
_Static_assert(TCB_FXSAVE_XMM + 16u * 16u <= TCB_FXSAVE_BYTES, "XMM0-15 inside the FXSAVE image");

struct tcb {
    struct kobj hdr;
    uint8_t state;              /* enum thread_state */
    uint8_t priority;
    uint8_t max_priority;       /* highest priority this thread may give others */
    uint8_t cpu;                /* affinity */
    uint32_t flags;             /* TCB_FLAG_* */

    struct user_context ctx;

    /* One queue at a time: a run queue, an endpoint queue or a notification queue. */
    struct tcb *q_next;
    struct tcb *q_prev;
    struct endpoint *blocked_ep;
    struct notification *blocked_ntfn;

    /* IPC in progress */
    uint64_t send_badge;        /* badge of the endpoint cap used to send */
    struct cte *send_cap_slot;  /* that cap (for GRANT checks and transfer) */
    struct reply *recv_reply;   /* receiver: the reply object named in recv */
    struct reply *caller_reply; /* caller: the reply object it waits on */
    uint32_t fault_label;       /* non-zero while the thread is stopped in a fault */
    uint64_t fault_words[HV_MSG_REG_WORDS];

    struct sched_context *sc;
    struct notification *bound_ntfn;
    uint64_t ipc_buffer_va;     /* where the thread sees its IPC buffer */
    uint64_t syscall_entry;     /* reflected Linux system calls go here (0: fault instead) */

    struct cte slots[TCB_SLOT_COUNT];
    struct vcpu *vcpu;          /* bound vCPU: the thread runs that guest instead of user code */

    /* x87/SSE state (FXSAVE image): saved on every entry, restored on an exit to this thread
     * unless the CPU still holds this version of it (kernel/fpu.h). */
    uint64_t fpu_version;
    uint8_t fpu[TCB_FXSAVE_BYTES] __attribute__((aligned(16)));
};

#define TCB_FLAG_CALL (1u << 0)     /* blocked send is a call (expects a reply) */
#define TCB_FLAG_GRANT (1u << 1)    /* the send cap carries GRANT */
#define TCB_FLAG_FAULT (1u << 2)    /* the pending send is a fault message */

_Static_assert(sizeof(struct tcb) <= (1u << HV_TCB_BITS), "TCB fits its object size");

static inline struct tcb *tcb_of(const struct cap *c)
{
    return (struct tcb *)(uintptr_t)c->object;
}

void tcb_init(struct tcb *t);
void tcb_finalize(struct tcb *t);
enum hv_error tcb_invoke(const struct cap *root, struct cte *slot, uint64_t label,
                         const uint64_t *args, unsigned nargs, struct hv_msg *reply_out);

/* The thread's IPC buffer as the core reaches it, or NULL if none is configured. */
struct hv_ipc_buffer *tcb_ipc_buffer(const struct tcb *t);
/* The thread's CSpace root cap (type NULL if none). */
static inline const struct cap *tcb_cspace(const struct tcb *t)
{
    return &t->slots[TCB_SLOT_CSPACE].cap;
}

/* Cancels whatever blocking operation the thread is in; it ends INACTIVE. */
void tcb_cancel_ipc(struct tcb *t);

#endif
