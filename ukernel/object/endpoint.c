/* SPDX-License-Identifier: MIT */
/* endpoint: the queue of threads waiting to send or receive. */
#include "endpoint.h"

#include <stddef.h>

#include "../include/hv/errors.h"
#include "../kernel/assert.h"
#include "../kernel/ipc.h"

void endpoint_enqueue(struct endpoint *ep, struct tcb *t, enum endpoint_state as)
{
    kassert(ep->state == EP_IDLE || ep->state == (uint32_t)as);
    t->blocked_ep = ep;
    t->q_next = NULL;
    t->q_prev = ep->tail;
    if (ep->tail != NULL)
        ep->tail->q_next = t;
    else
        ep->head = t;
    ep->tail = t;
    ep->state = as;
}

void endpoint_dequeue(struct endpoint *ep, struct tcb *t)
{
    kassert(t->blocked_ep == ep);
    if (t->q_prev != NULL)
        t->q_prev->q_next = t->q_next;
    else
        ep->head = t->q_next;
    if (t->q_next != NULL)
        t->q_next->q_prev = t->q_prev;
    else
        ep->tail = t->q_prev;
    t->q_next = NULL;
    t->q_prev = NULL;
    t->blocked_ep = NULL;
    if (ep->head == NULL)
        ep->state = EP_IDLE;
}

void endpoint_finalize(struct endpoint *ep)
{
    while (ep->head != NULL) {
        struct tcb *t = ep->head;
        endpoint_dequeue(ep, t);
        ipc_abort(t, HV_ERR_CANCELLED);
    }
}
