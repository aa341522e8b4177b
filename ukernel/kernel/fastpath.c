/* SPDX-License-Identifier: MIT */
/* fastpath: the first C code of a system call, and the IPC fast path: call and reply_recv thread to thread. */
#include "fastpath.h"
#include "fpu.h"

#include <stddef.h>

#include "../arch/x86_64/cpu.h"
#include "../arch/x86_64/paging.h"
#include "../include/hv/ipc_buffer.h"
#include "../object/cnode.h"
#include "../object/endpoint.h"
#include "../object/notification.h"
#include "../object/reply.h"
#include "../object/sched_context.h"
#include "../object/vspace.h"
#include "ipc.h"
#include "klock.h"
#include "kmem.h"
#include "runqueue.h"
#include "sched.h"
#include "syscall.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))
#define unlikely(x) __builtin_expect(!!(x), 0)
#define likely(x) __builtin_expect(!!(x), 1)

#define SYSCALL_INSN_BYTES 2    /* 0f 05 */

bool fastpath_enabled = true;

void return_to_user(struct user_context *ctx) __attribute__((noreturn));
void return_to_user_sysret(struct user_context *ctx) __attribute__((noreturn));

/* Tag bits 3..11 are the length (7 bits) then the cap count (2): "<= 4 words, no caps" is one compare. */
_Static_assert(HV_TAG_CAPS_SHIFT == HV_TAG_LENGTH_SHIFT + 7 && HV_TAG_LENGTH_MASK == 0x7f,
               "length and caps are adjacent");
#define TAG_LENGTH_AND_CAPS(tag) (((tag) >> HV_TAG_LENGTH_SHIFT) & 0x1ffu)
/* hv_tag(label, length, 0) of a tag whose length field stays: clear the caps and reserved bits. */
#define TAG_KEEP_LABEL_LENGTH (~((uint64_t)HV_TAG_CAPS_MASK << HV_TAG_CAPS_SHIFT | ((1u << HV_TAG_LENGTH_SHIFT) - 1u)))

/* What SYSRET keeps of R11 (Intel SDM, AMD APM: RFLAGS = R11 & 0x3c7fd7 | 2): not RF, VM, reserved bits. */
#define SYSRET_RFLAGS_KEPT 0x3c7fd7ull

/* A CNode's guard and radix never reach 64 bits on their own: a one-level CSpace has a guard. */
_Static_assert(HV_CNODE_MAX_RADIX < 64, "radix + guard_bits == 64 implies guard_bits > 0");

/*
 * cnode_lookup_cap for the common CSpace: one CNode whose guard and radix take the
 * whole 64-bit pointer (a root task's, or init's servers'). NULL when the pointer is
 * invalid or the CSpace has more levels: the general path then resolves it fully (or
 * reports the error). An empty slot is returned; its type (NULL) fails the caller's check.
 * Same test as cnode.c's resolve with depth 64; the guard value of a CNode cap has no
 * bits above guard_bits (cnode.c's mint checks it), so the guard compares whole.
 */
static ALWAYS_INLINE struct cte *lookup_one_level(const struct tcb *t, uint64_t cptr)
{
    const struct cap *root = tcb_cspace(t);
    unsigned radix = root->size_bits;
    if (unlikely(root->type != HV_OBJ_CNODE || radix + root->guard_bits != 64u))
        return NULL;
    if (unlikely((cptr >> radix) != root->data))
        return NULL;
    uint64_t index = cptr & ((1ull << radix) - 1u);
    if (unlikely(index == 0))
        return NULL;    /* slot 0 is the CNode's header */
    return &cnode_slots(root)[index];
}

/*
 * transfer() for a message of len <= 4 register words and no capability: words
 * 0..len-1 (only those), no cap arrived, result, tag and badge.
 */
static ALWAYS_INLINE void deliver(const struct tcb *from, struct tcb *to, uint64_t tag, uint64_t badge)
{
    unsigned len = hv_tag_length(tag);
    if (likely(len == HV_MSG_REG_WORDS)) {
        to->ctx.rdx = from->ctx.rdx;
        to->ctx.r8 = from->ctx.r8;
        to->ctx.r9 = from->ctx.r9;
        to->ctx.r10 = from->ctx.r10;
    } else {
        switch (len) {
        case 3: to->ctx.r9 = from->ctx.r9; /* fall through */
        case 2: to->ctx.r8 = from->ctx.r8; /* fall through */
        case 1: to->ctx.rdx = from->ctx.rdx; /* fall through */
        default: break;
        }
    }
    const struct cap *frame = &to->slots[TCB_SLOT_IPC_BUFFER].cap;     /* tcb_ipc_buffer */
    if (likely(frame->type == HV_OBJ_FRAME))
        ((struct hv_ipc_buffer *)kmem_ptr(frame->object))->recv_caps = 0;
    ipc_set_result(to, HV_OK);
    to->ctx.rsi = tag & TAG_KEEP_LABEL_LENGTH;
    to->ctx.rdi = badge;
}

/*
 * This CPU's run queue. The empty asm hides the address arithmetic from the compiler,
 * which would otherwise redo index * sizeof(struct run_queue) at every use.
 */
static ALWAYS_INLINE struct run_queue *this_queue(const struct percpu *cpu)
{
    struct run_queue *q = &sched_queues[cpu->index];
    __asm__("" : "+r"(q));
    return q;
}

/* runqueue_highest(q) == t, for `t` queued at the tail of its level. */
static ALWAYS_INLINE bool picks(const struct run_queue *q, const struct tcb *t)
{
    _Static_assert(RUNQUEUE_BITMAP_WORDS == 4, "the words above are checked one by one");
    unsigned p = t->priority;
    unsigned w = p / 64;
    if ((q->bitmap[w] >> (p % 64)) != 1u || q->head[p] != t)
        return false;   /* a higher level in the word, or another thread first at t's level */
    uint64_t above = 0;     /* the levels in the words above */
    if (w < 3)
        above |= q->bitmap[3];
    if (w < 2)
        above |= q->bitmap[2];
    if (w < 1)
        above |= q->bitmap[1];
    return above == 0;
}

/* sched_remove for the current thread (of this CPU's queue), which blocks now. */
static ALWAYS_INLINE void block_current(struct run_queue *q, struct tcb *t, enum thread_state state)
{
    unsigned p = t->priority;
    struct tcb *n = t->q_next;
    if (likely(t->q_prev == NULL && q->head[p] == t)) {
        /* runqueue_unlink of a level's head: where the running thread stays. */
        q->head[p] = n;
        if (likely(n == NULL)) {
            q->tail[p] = NULL;
            q->bitmap[p / 64] &= ~(1ull << (p % 64));
        } else {
            n->q_prev = NULL;
            t->q_next = NULL;
        }
    } else if (runqueue_contains(q, t)) {
        runqueue_unlink(q, t);
    }
    t->state = (uint8_t)state;
}

/*
 * sched_make_runnable for a thread that was blocked (so on no run queue: blocking
 * takes a thread off its queue); inline when it belongs to this CPU and has budget.
 */
static ALWAYS_INLINE void make_runnable(const struct percpu *cpu, struct run_queue *q, struct tcb *t)
{
    const struct sched_context *sc = t->sc;
    if (unlikely(t->cpu != cpu->index || sc == NULL || sc->remaining == 0)) {
        sched_make_runnable(t);
        return;
    }
    t->state = THREAD_RUNNABLE;
    /* runqueue_append */
    unsigned p = t->priority;
    struct tcb *tail = q->tail[p];
    t->q_next = NULL;
    t->q_prev = tail;
    q->tail[p] = t;
    if (likely(tail == NULL)) {
        q->head[p] = t;
        q->bitmap[p / 64] |= 1ull << (p % 64);
    } else {
        tail->q_next = t;
    }
}

/* endpoint_dequeue of the head. */
static ALWAYS_INLINE void endpoint_pop_head(struct endpoint *ep, struct tcb *head)
{
    struct tcb *n = head->q_next;
    ep->head = n;
    if (likely(n == NULL)) {
        ep->tail = NULL;
        ep->state = EP_IDLE;
    } else {
        n->q_prev = NULL;
        head->q_next = NULL;
    }
    head->blocked_ep = NULL;
}

/*
 * sched_account for the thread that just blocked, when it changes nothing but the
 * counters: it has an SC, is not waiting for a refill, its period has not ended and
 * what it used since the last switch leaves budget. Otherwise false, nothing charged.
 */
static ALWAYS_INLINE bool charge(struct percpu *cpu, const struct tcb *t, uint64_t now)
{
    struct sched_context *sc = t->sc;
    uint64_t used = now - cpu->last_switch;
    if (unlikely(sc == NULL || sc->on_throttle_list || now - sc->period_start >= sc->period_ticks ||
                 used >= sc->remaining))
        return false;
    cpu->last_switch = now;
    sc->consumed += used;
    sc->remaining -= used;
    return true;
}

/*
 * SYSRET restores exactly what IRETQ would when the context is as the SYSCALL that
 * saved it left it (rcx = rip, r11 = rflags), rip is canonical (in the user half:
 * SYSRET to a non-canonical rip faults in ring 0 on Intel CPUs) and rflags has
 * nothing SYSRET clears. cs and ss are always the user selectors SYSRET loads: the
 * entry paths save them from user-mode frames and nothing else writes them.
 */
static ALWAYS_INLINE bool sysret_restores(const struct user_context *c)
{
    return c->rcx == c->rip && c->r11 == c->rflags && c->rip < USER_VA_END &&
           (c->rflags & ~SYSRET_RFLAGS_KEPT) == 0;
}

/*
 * sched_account + sched_exit_to_user after `cur` blocked and `next` became runnable
 * on this CPU's queue: when the charge is plain and the scheduler would pick `next`
 * (the head of the highest non-empty level), enters it directly; else the general code.
 */
__attribute__((noreturn)) static ALWAYS_INLINE void switch_to(struct percpu *cpu, struct run_queue *q,
                                                              const struct tcb *cur, struct tcb *next)
{
    uint64_t now = rdtsc();    /* sched_now */
    if (unlikely(!charge(cpu, cur, now))) {
        sched_account();
        sched_exit_to_user();
    }
    const struct cap *vspace = &next->slots[TCB_SLOT_VSPACE].cap;
    if (unlikely(!picks(q, next) || vspace->type != HV_OBJ_PML4))
        sched_exit_to_user();
    /* The rest of sched_exit_to_user for a pick other than the current thread (which blocked). */
    cpu->need_resched = 0;
    cpu->current = next;
    cpu->current_ctx_end = (uint64_t)(uintptr_t)&next->ctx.fs_base;
    uint64_t pa = kmem_pa((void *)(uintptr_t)vspace->object);
    if (read_cr3() != pa)   /* as vspace_activate; CR3 never holds flag bits here */
        write_cr3(pa);
    cpu->loaded_cr3 = pa;
    if (cpu->fs_base != next->ctx.fs_base) {
        wrmsr(MSR_FS_BASE, next->ctx.fs_base);
        cpu->fs_base = next->ctx.fs_base;
    }
    fpu_restore(cpu, next);
    klock_release_to_user();
    if (sysret_restores(&next->ctx))
        return_to_user_sysret(&next->ctx);
    return_to_user(&next->ctx);
}

static ALWAYS_INLINE void fastpath_call(struct percpu *cpu, struct tcb *t)
{
    uint64_t tag = t->ctx.rsi;
    if (unlikely(TAG_LENGTH_AND_CAPS(tag) > HV_MSG_REG_WORDS || t->cpu != cpu->index))
        return;     /* words in the IPC buffer, a capability to transfer, or moved to another CPU */
    struct cte *slot = lookup_one_level(t, t->ctx.rdi);
    if (unlikely(slot == NULL || slot->cap.type != HV_OBJ_ENDPOINT || !cap_has_rights(&slot->cap, HV_RIGHT_WRITE)))
        return;
    struct endpoint *ep = endpoint_of(&slot->cap);
    if (unlikely(ep->state != EP_RECEIVERS))
        return;     /* the caller will queue */
    struct tcb *recv = ep->head;
    struct reply *r = recv->recv_reply;
    if (unlikely(r == NULL))
        return;     /* nobody could answer: the general path fails the call */

    /* Exactly ipc_send (call, receiver waiting): deliver, bind the reply, block the caller. */
    struct run_queue *q = this_queue(cpu);
    t->flags = 0;
    endpoint_pop_head(ep, recv);
    r->owner = NULL;
    deliver(t, recv, tag, slot->cap.data);
    recv->recv_reply = NULL;
    if (unlikely(r->caller != NULL))
        reply_cancel(r);    /* an unanswered earlier caller is released */
    r->caller = t;
    t->caller_reply = r;
    block_current(q, t, THREAD_BLOCKED_REPLY);
    make_runnable(cpu, q, recv);
    switch_to(cpu, q, t, recv);
}

static ALWAYS_INLINE void fastpath_reply_recv(struct percpu *cpu, struct tcb *t)
{
    uint64_t tag = t->ctx.rsi;
    if (unlikely(hv_tag_length(tag) > HV_MSG_REG_WORDS || (t->flags & TCB_FLAG_FAULT) != 0 ||
                 t->cpu != cpu->index))
        return;     /* a reply never carries caps: the caps field is ignored, as in ipc_reply */
    struct cte *slot = lookup_one_level(t, t->ctx.rdi);
    if (unlikely(slot == NULL || slot->cap.type != HV_OBJ_ENDPOINT || !cap_has_rights(&slot->cap, HV_RIGHT_READ)))
        return;
    struct cte *reply_slot = lookup_one_level(t, t->ctx.r12);
    if (unlikely(reply_slot == NULL || reply_slot->cap.type != HV_OBJ_REPLY))
        return;     /* no reply cap (r12 = 0), or an error the general path reports */
    struct reply *r = reply_of(&reply_slot->cap);
    struct tcb *caller = r->caller;
    if (unlikely(caller == NULL || caller->fault_label != 0))
        return;     /* nothing to answer, or a fault reply (resume or stop) */
    struct endpoint *ep = endpoint_of(&slot->cap);
    const struct notification *bound = t->bound_ntfn;
    if (unlikely(ep->state == EP_SENDERS || (bound != NULL && bound->active)))
        return;     /* the receive completes at once, with a message or the notification */

    /* Exactly ipc_reply, then ipc_recv with nothing pending: deliver, wake the caller, block. */
    struct run_queue *q = this_queue(cpu);
    r->caller = NULL;
    caller->caller_reply = NULL;
    caller->flags = 0;
    deliver(t, caller, tag, 0);
    make_runnable(cpu, q, caller);
    if (unlikely(r->owner != NULL && r->owner != t))
        r->owner->recv_reply = NULL;
    r->owner = t;
    t->recv_reply = r;
    block_current(q, t, THREAD_BLOCKED_RECV);
    if (likely(ep->state == EP_IDLE)) {
        /* endpoint_enqueue on an empty endpoint */
        t->blocked_ep = ep;
        t->q_next = NULL;
        t->q_prev = NULL;
        ep->head = t;
        ep->tail = t;
        ep->state = EP_RECEIVERS;
    } else {
        endpoint_enqueue(ep, t, EP_RECEIVERS);
    }
    switch_to(cpu, q, t, caller);
}

void syscall_dispatch(void)
{
    struct percpu *cpu = this_cpu();
    klock_acquire_from_user(cpu);
    struct tcb *t = cpu->current;
    if (unlikely(t == NULL))
        sched_exit_to_user();   /* the thread was destroyed by another CPU meanwhile */
    fpu_save(cpu, t);
    uint64_t nr = t->ctx.rax;
    if (unlikely(t->state != THREAD_RUNNABLE)) {
        /* Suspended from another CPU while it ran here: redo the call when it resumes. */
        t->ctx.rip -= SYSCALL_INSN_BYTES;
        sched_exit_to_user();
    }
    /* Each fast path returns only if it did nothing; then the general path handles the call. */
    if (nr == HV_SYS_CALL && fastpath_enabled)
        fastpath_call(cpu, t);
    else if (nr == HV_SYS_REPLY_RECV && fastpath_enabled)
        fastpath_reply_recv(cpu, t);
    syscall_general(t, nr);
}
