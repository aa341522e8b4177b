/* SPDX-License-Identifier: MIT */
/* sched_context: the right to run: a budget per period at a priority, bound to one thread. */
#ifndef HV_OBJECT_SCHED_CONTEXT_H
#define HV_OBJECT_SCHED_CONTEXT_H

#include <stdbool.h>
#include <stdint.h>

#include "kobj.h"
#include "tcb.h"

/*
 * Budget accounting is in TSC ticks. A thread runs only while its SC has budget
 * left in the current period; at each period boundary the budget is refilled
 * (a deferrable server: unused budget does not carry over). The policy — which
 * thread gets what — lives in the sched server; the core only enforces it.
 */
struct sched_context {
    struct kobj hdr;
    uint16_t timeout_fault;     /* exhaustion is a HV_FAULT_TIMEOUT message, not just a wait */
    uint16_t on_throttle_list;  /* waiting for its refill (kernel/sched.c) */
    uint64_t budget_us;
    uint64_t period_us;
    uint64_t budget_ticks;
    uint64_t period_ticks;
    uint64_t remaining;         /* ticks left in this period */
    uint64_t period_start;      /* TSC of the current period's start */
    uint64_t consumed;          /* ticks consumed in all */
    uint64_t debt;              /* ticks overrun, taken from the next refills */
    struct tcb *tcb;
    struct sched_context *throttle_next;    /* on the throttled list */
};

_Static_assert(sizeof(struct sched_context) <= (1u << HV_SCHED_CONTEXT_BITS), "SC fits");

static inline struct sched_context *sched_context_of(const struct cap *c)
{
    return (struct sched_context *)(uintptr_t)c->object;
}

enum hv_error sched_context_invoke(const struct cap *root, struct cte *slot, uint64_t label,
                                   const uint64_t *args, unsigned nargs, struct hv_msg *reply_out);
void sched_context_finalize(struct sched_context *sc);
/* Configures without checks (the core's own use for the root task). */
void sched_context_set(struct sched_context *sc, uint64_t budget_us, uint64_t period_us);
void sched_context_bind(struct sched_context *sc, struct tcb *t);

#endif
