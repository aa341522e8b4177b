/* SPDX-License-Identifier: MIT */
/* endpoint: synchronous IPC rendezvous with badges: call / reply-recv / send / recv. */
#ifndef HV_OBJECT_ENDPOINT_H
#define HV_OBJECT_ENDPOINT_H

#include "kobj.h"
#include "tcb.h"

enum endpoint_state { EP_IDLE = 0, EP_SENDERS, EP_RECEIVERS };

/* Invariant: the queue holds only senders or only receivers, FIFO; empty iff EP_IDLE. */
struct endpoint {
    struct kobj hdr;
    uint32_t state;
    uint32_t reserved;
    struct tcb *head;
    struct tcb *tail;
};

static inline struct endpoint *endpoint_of(const struct cap *c)
{
    return (struct endpoint *)(uintptr_t)c->object;
}

void endpoint_enqueue(struct endpoint *ep, struct tcb *t, enum endpoint_state as);
void endpoint_dequeue(struct endpoint *ep, struct tcb *t);
/* Wakes every queued thread with HV_ERR_CANCELLED (the endpoint is going away). */
void endpoint_finalize(struct endpoint *ep);

#endif
