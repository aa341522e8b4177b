/* SPDX-License-Identifier: MIT */
/* reply: the one-shot right to answer a call, held by the receiver as an object it supplies. */
#ifndef HV_OBJECT_REPLY_H
#define HV_OBJECT_REPLY_H

#include "kobj.h"
#include "tcb.h"

/* Invariant: caller != NULL iff caller->state == THREAD_BLOCKED_REPLY and caller->caller_reply == this. */
struct reply {
    struct kobj hdr;
    struct tcb *caller;
    struct tcb *owner;      /* receiver currently blocked in recv with this reply object */
    uint64_t reserved;
};

static inline struct reply *reply_of(const struct cap *c)
{
    return (struct reply *)(uintptr_t)c->object;
}

/* Drops the caller link; the caller gets HV_ERR_CANCELLED (or stays stopped if it faulted). */
void reply_cancel(struct reply *r);
void reply_finalize(struct reply *r);

#endif
