/* SPDX-License-Identifier: MIT */
/* sched: per-CPU run queues by priority, budget enforcement, and the switch back to user mode. */
#ifndef HV_KERNEL_SCHED_H
#define HV_KERNEL_SCHED_H

#include <stdbool.h>
#include <stdint.h>

#include "../object/tcb.h"

/*
 * Takes `t` off every other CPU that is running it, and returns once none is
 * (their saved state is in the TCB). Called before a TCB or an address space in use
 * elsewhere is destroyed. The other CPU answers from its next kernel entry, even if
 * it is waiting for the kernel lock this CPU holds.
 */
void sched_evict_remote(struct tcb *t);
/* Evicts this CPU's thread if another CPU asked (see sched_evict_remote). */
void sched_poll_eviction(void);
/* Evicts, from every other CPU, a thread running in the address space `pml4_pa`. */
void sched_evict_address_space(uint64_t pml4_pa);

/* Interrupts every other CPU currently running `t` (it re-checks its state at once). */
void sched_kick_thread(const struct tcb *t);

/* Installs the cross-CPU reschedule interrupt (once, before any thread runs). */
void sched_init(void);
/* Makes `t` runnable on its CPU's queue (tail of its priority). */
void sched_make_runnable(struct tcb *t);
/* Takes `t` off its run queue (it is about to block or stop). */
void sched_remove(struct tcb *t);
/* The thread whose user state the current kernel entry saved (NULL in the idle loop). */
struct tcb *sched_current(void);
/* Charges the time since the last switch to the current thread's SchedContext. */
void sched_account(void);
/* Timer tick: refill budgets whose period began, preempt if a better thread waits. */
void sched_tick(void);
/* Yields: the current thread goes to the tail of its priority. */
void sched_yield(void);
/* Picks the next thread on this CPU and enters it (or idles). Never returns. */
__attribute__((noreturn)) void sched_exit_to_user(void);
/* Halts this CPU until a thread becomes runnable here. Never returns. */
__attribute__((noreturn)) void sched_idle(void);

/* Drops an SC from the refill list (it is being destroyed). */
struct sched_context;
void sched_forget(struct sched_context *sc);
/* Remembers a thread whose SC must be refilled at its next period. */
void sched_throttle(struct tcb *t);

/*
 * `sc` was just given new terms (a new period starts now): if it is the running thread's
 * here, the time it ran since its last charge counts as consumed but not against the
 * new budget — charged to the new period, it would overrun a full budget by up to a tick.
 * (A thread running on another CPU is charged that time at its next tick: at most one.)
 */
void sched_sc_reconfigured(struct sched_context *sc);
uint64_t sched_us_to_ticks(uint64_t us);
/* TSC ticks -> microseconds, exactly (kernel/budget.h). */
uint64_t sched_ticks_to_us(uint64_t ticks);
uint64_t sched_now(void);

#endif
