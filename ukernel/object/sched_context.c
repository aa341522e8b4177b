/* SPDX-License-Identifier: MIT */
/* sched_context: configuring budgets and binding them to threads. */
#include "sched_context.h"

#include <stddef.h>

#include "../kernel/sched.h"
#include "cnode.h"

#define SC_MIN_PERIOD_US 1000u          /* budgets are enforced at timer-tick (1 ms) granularity */
#define SC_MAX_PERIOD_US 60000000u

void sched_context_set(struct sched_context *sc, uint64_t budget_us, uint64_t period_us)
{
    sc->budget_us = budget_us;
    sc->period_us = period_us;
    sc->budget_ticks = sched_us_to_ticks(budget_us);
    sc->period_ticks = sched_us_to_ticks(period_us);
    sc->remaining = sc->budget_ticks;
    sc->debt = 0;
    sc->period_start = sched_now();
}

void sched_context_bind(struct sched_context *sc, struct tcb *t)
{
    sc->tcb = t;
    t->sc = sc;
    if (t->state == THREAD_RUNNABLE)
        sched_make_runnable(t);
}

void sched_context_finalize(struct sched_context *sc)
{
    sched_forget(sc);
    if (sc->tcb != NULL) {
        sched_remove(sc->tcb);
        sc->tcb->sc = NULL;
        sc->tcb = NULL;
    }
}

enum hv_error sched_context_invoke(const struct cap *root, struct cte *slot, uint64_t label,
                                   const uint64_t *args, unsigned nargs, struct hv_msg *reply_out)
{
    struct sched_context *sc = sched_context_of(&slot->cap);
    if (!cap_has_rights(&slot->cap, HV_RIGHT_WRITE) && label != HV_INV_SC_CONSUMED)
        return HV_ERR_INSUFFICIENT_RIGHTS;
    switch (label) {
    case HV_INV_SC_CONFIGURE:
        /* (budget_us, period_us, timeout_fault) */
        if (nargs < 3)
            return HV_ERR_TRUNCATED;
        if (args[1] < SC_MIN_PERIOD_US || args[1] > SC_MAX_PERIOD_US || args[0] == 0 ||
            args[0] > args[1] || args[2] > 1)
            return HV_ERR_RANGE;
        sched_context_set(sc, args[0], args[1]);
        sched_sc_reconfigured(sc);
        sc->timeout_fault = (uint16_t)args[2];
        if (sc->tcb != NULL && sc->tcb->state == THREAD_RUNNABLE)
            sched_make_runnable(sc->tcb);
        return HV_OK;
    case HV_INV_SC_BIND: {
        if (nargs < 1)
            return HV_ERR_TRUNCATED;
        struct cte *t;
        enum hv_error err = cnode_lookup_cap(root, args[0], &t);
        if (err != HV_OK)
            return err;
        if (t->cap.type != HV_OBJ_TCB)
            return HV_ERR_WRONG_TYPE;
        if (sc->tcb != NULL || tcb_of(&t->cap)->sc != NULL)
            return HV_ERR_BUSY;
        if (sc->period_ticks == 0)
            return HV_ERR_ILLEGAL_OPERATION;    /* configure it first */
        sched_context_bind(sc, tcb_of(&t->cap));
        return HV_OK;
    }
    case HV_INV_SC_UNBIND:
        sched_context_finalize(sc);
        return HV_OK;
    case HV_INV_SC_CONSUMED: {
        reply_out->w[0] = sched_ticks_to_us(sc->consumed);
        reply_out->tag = hv_tag(0, 1, 0);
        return HV_OK;
    }
    default:
        return HV_ERR_UNKNOWN_INVOCATION;
    }
}
