/* SPDX-License-Identifier: MIT */
/* notification: signal, wait, and delivery to a bound receiver. */
#include "notification.h"

#include <stddef.h>

#include "../kernel/assert.h"
#include "../kernel/ipc.h"
#include "../kernel/sched.h"

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

void notification_finalize(struct notification *n)
{
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
