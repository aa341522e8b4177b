/* SPDX-License-Identifier: MIT */
/* notification: signal, wait, delivery to a bound receiver, and the deadline timer. */
#include "notification.h"

#include <stddef.h>

#include "../kernel/assert.h"
#include "../kernel/ipc.h"
#include "../kernel/klock.h"
#include "../kernel/sched.h"

/*
 * Every armed notification, earliest deadline first (ties: in arming order).
 * Guarded by the kernel lock; no memory of its own: the links are in the objects.
 */
static struct notification *timer_head;

void notification_dequeue(struct notification *n, struct tcb *t)
{
    kassert(t->blocked_ntfn == n);
    if (t->q_prev != NULL)
        t->q_prev->q_next = t->q_next;
    else
        n->head = t->q_next;
    if (t->q_next != NULL)
        t->q_next->q_prev = t->q_prev;
    else
        n->tail = t->q_prev;
    t->q_next = NULL;
    t->q_prev = NULL;
    t->blocked_ntfn = NULL;
}

void notification_signal(struct notification *n, uint64_t badge)
{
    if (n->head != NULL) {
        struct tcb *t = n->head;
        notification_dequeue(n, t);
        ipc_complete_wait(t, n->word | badge);
        n->word = 0;
        return;
    }
    struct tcb *b = n->bound_tcb;
    if (b != NULL && b->state == THREAD_BLOCKED_RECV) {
        /* A bound receiver blocked on an endpoint takes the signal instead. */
        ipc_cancel_recv(b);
        ipc_complete_wait(b, n->word | badge);
        n->word = 0;
        return;
    }
    n->word |= badge;
    n->active = 1;
}

bool notification_take(struct notification *n, uint64_t *bits)
{
    if (!n->active)
        return false;
    *bits = n->word;
    n->word = 0;
    n->active = 0;
    return true;
}

static void timer_unlink(struct notification *n)
{
    kassert(n->timer_deadline != 0);
    if (n->timer_prev != NULL)
        n->timer_prev->timer_next = n->timer_next;
    else
        timer_head = n->timer_next;
    if (n->timer_next != NULL)
        n->timer_next->timer_prev = n->timer_prev;
    n->timer_next = NULL;
    n->timer_prev = NULL;
    n->timer_deadline = 0;
    n->timer_bits = 0;
}

/* Inserts behind every deadline <= this one, so equal deadlines fire in arming order. */
static void timer_link(struct notification *n, uint64_t deadline, uint64_t bits)
{
    kassert(n->timer_deadline == 0 && deadline != 0 && bits != 0);
    struct notification *prev = NULL, *next = timer_head;
    while (next != NULL && next->timer_deadline <= deadline) {
        prev = next;
        next = next->timer_next;
    }
    n->timer_deadline = deadline;
    n->timer_bits = bits;
    n->timer_prev = prev;
    n->timer_next = next;
    if (prev != NULL)
        prev->timer_next = n;
    else
        timer_head = n;
    if (next != NULL)
        next->timer_prev = n;
}

void notification_timers_expire(uint64_t now)
{
    kassert(klock_held_here());
    while (timer_head != NULL && timer_head->timer_deadline <= now) {
        struct notification *n = timer_head;
        uint64_t bits = n->timer_bits;
        timer_unlink(n);    /* first: a signal never re-arms, but the list stays consistent */
        notification_signal(n, bits);
    }
}

enum { TIMER_DEADLINE = 0, TIMER_BITS, TIMER_ARGS };

/* Changes nothing: every way SET_TIMER can fail. */
static enum hv_error decode_set_timer(const struct cap *c, const uint64_t *args, unsigned nargs)
{
    if (nargs < TIMER_ARGS)
        return HV_ERR_TRUNCATED;
    if (!cap_has_rights(c, HV_RIGHT_WRITE))
        return HV_ERR_INSUFFICIENT_RIGHTS;
    if (args[TIMER_DEADLINE] != 0 && args[TIMER_BITS] == 0)
        return HV_ERR_INVALID_ARGUMENT;    /* a timer that would signal nothing */
    return HV_OK;
}

/* Cannot fail: replaces any armed deadline; a deadline already reached signals now. */
static void invoke_set_timer(struct notification *n, uint64_t deadline, uint64_t bits)
{
    if (n->timer_deadline != 0)
        timer_unlink(n);
    if (deadline == 0)
        return;
    if (deadline <= sched_now()) {
        notification_signal(n, bits);
        return;
    }
    timer_link(n, deadline, bits);
}

enum hv_error notification_invoke(struct cte *slot, uint64_t label, const uint64_t *args, unsigned nargs)
{
    if (label != HV_INV_NOTIFICATION_SET_TIMER)
        return HV_ERR_UNKNOWN_INVOCATION;
    enum hv_error err = decode_set_timer(&slot->cap, args, nargs);
    if (err != HV_OK)
        return err;
    invoke_set_timer(notification_of(&slot->cap), args[TIMER_DEADLINE], args[TIMER_BITS]);
    return HV_OK;
}

void notification_finalize(struct notification *n)
{
    /* No cap names it any more: it must not stay on the armed list (its memory may be reused). */
    if (n->timer_deadline != 0)
        timer_unlink(n);
    while (n->head != NULL) {
        struct tcb *t = n->head;
        notification_dequeue(n, t);
        ipc_abort(t, HV_ERR_CANCELLED);
    }
    if (n->bound_tcb != NULL) {
        n->bound_tcb->bound_ntfn = NULL;
        n->bound_tcb = NULL;
    }
}
