/* SPDX-License-Identifier: MIT */
/* sched: priority run queues per CPU, budget accounting and refill, the switch to user mode. */
#include "sched.h"

#include <stddef.h>

#include "../arch/x86_64/cpu.h"
#include "../arch/x86_64/lapic.h"
#include "../arch/x86_64/percpu.h"
#include "../arch/x86_64/trap.h"
#include "../include/hv/fault.h"
#include "../object/notification.h"
#include "../object/sched_context.h"
#include "assert.h"
#include "budget.h"
#include "config.h"
#include "fault.h"
#include "fpu.h"
#include "klock.h"
#include "console.h"
#include "runqueue.h"
#include "platform.h"
#include "../object/vspace.h"
#include "vcpu_run.h"

struct run_queue sched_queues[CONFIG_MAX_CPUS];
static struct sched_context *throttled;     /* SCs waiting for their next period */

void return_to_user(struct user_context *ctx) __attribute__((noreturn));
void switch_stack_and_call(uint64_t stack_top, void (*fn)(void)) __attribute__((noreturn));

uint64_t sched_now(void)
{
    return rdtsc();
}

uint64_t sched_us_to_ticks(uint64_t us)
{
    return budget_us_to_ticks(us, lapic_timer_info()->tsc_hz);
}

uint64_t sched_ticks_to_us(uint64_t ticks)
{
    return budget_ticks_to_us(ticks, lapic_timer_info()->tsc_hz);
}

/* Makes another CPU look at its run queue now rather than at its next tick. */
static void kick_cpu(unsigned cpu)
{
    struct percpu *p = percpu_of(cpu);
    if (p == NULL || !p->online)
        return;
    p->need_resched = 1;
    (void)lapic_send_ipi(p->apic_id, VECTOR_RESCHEDULE);
}

static void reschedule_interrupt(struct trap_frame *frame)
{
    (void)frame;
    this_cpu()->need_resched = 1;
    lapic_eoi();
}

void sched_poll_eviction(void)
{
    if (!percpu_boot_cpu_installed)
        return;
    struct percpu *cpu = this_cpu();
    struct tcb *want = cpu->evict_request;
    if (want == NULL)
        return;
    if (cpu->current == want) {
        cpu->current = NULL;
        cpu->loaded_cr3 = 0;
        vspace_activate_kernel();   /* its tables may be freed as soon as the request is answered */
    }
    __asm__ volatile("" ::: "memory");     /* TSO: the stores above are seen first */
    cpu->evict_request = NULL;
}

#define EVICT_SPIN_LIMIT 2000000000ull

static void evict_from(unsigned index, struct tcb *t)
{
    struct percpu *p = percpu_of(index);
    p->evict_request = t;
    kick_cpu(index);
    for (uint64_t spins = 0; p->evict_request != NULL; spins++) {
        if (spins == EVICT_SPIN_LIMIT)
            panic("sched: cpu %u does not give up thread %p", index, (void *)t);
        cpu_relax();
    }
}

void sched_evict_remote(struct tcb *t)
{
    unsigned me = this_cpu_index();
    for (unsigned i = 0; i < CONFIG_MAX_CPUS; i++) {
        struct percpu *p = percpu_of(i);
        if (i != me && p != NULL && p->online && p->current == t)
            evict_from(i, t);
    }
}

void sched_evict_address_space(uint64_t pml4_pa)
{
    unsigned me = this_cpu_index();
    for (unsigned i = 0; i < CONFIG_MAX_CPUS; i++) {
        struct percpu *p = percpu_of(i);
        struct tcb *cur = p != NULL ? p->current : NULL;
        if (i != me && cur != NULL && p->online && p->loaded_cr3 == pml4_pa)
            evict_from(i, cur);
    }
}

void sched_kick_thread(const struct tcb *t)
{
    unsigned me = this_cpu_index();
    for (unsigned i = 0; i < CONFIG_MAX_CPUS; i++) {
        struct percpu *p = percpu_of(i);
        if (t != NULL && i != me && p != NULL && p->online && p->current == t)
            kick_cpu(i);
    }
}

void sched_init(void)
{
    trap_set_irq_handler(VECTOR_RESCHEDULE, reschedule_interrupt);
}

void sched_make_runnable(struct tcb *t)
{
    struct run_queue *q = &sched_queues[t->cpu];
    t->state = THREAD_RUNNABLE;
    if (t->sc == NULL)
        return;     /* runnable, but nothing to run on until a SchedContext is bound */
    if (t->sc->remaining == 0) {
        sched_throttle(t);  /* runs after its next refill */
        return;
    }
    if (runqueue_contains(q, t))
        return;
    runqueue_append(q, t);
    if (t->cpu != this_cpu_index())
        kick_cpu(t->cpu);
}

void sched_remove(struct tcb *t)
{
    struct run_queue *q = &sched_queues[t->cpu];
    if (!runqueue_contains(q, t))
        return;
    runqueue_unlink(q, t);
}

struct tcb *sched_current(void)
{
    return this_cpu()->current;
}

void sched_throttle(struct tcb *t)
{
    struct sched_context *sc = t->sc;
    sched_remove(t);
    if (sc->on_throttle_list)
        return;
    sc->on_throttle_list = 1;
    sc->throttle_next = throttled;
    throttled = sc;
}

void sched_account(void)
{
    struct percpu *cpu = this_cpu();
    struct tcb *t = cpu->current;
    uint64_t now = sched_now();
    uint64_t used = now - cpu->last_switch;
    cpu->last_switch = now;
    if (t == NULL || t->sc == NULL)
        return;
    struct sched_context *sc = t->sc;
    /* A thread that never ran dry is refilled on time too; an overrun between two timer
     * ticks is taken from the next refills (debt). */
    budget_charge(sc, used, now, sc->on_throttle_list != 0);
    if (sc->remaining == 0) {
        /* Out of budget: refilled at its next period, whatever it is doing now. */
        bool was_runnable = t->state == THREAD_RUNNABLE;
        sched_throttle(t);
        if (was_runnable && sc->timeout_fault)
            fault_raise_timeout(t);
    }
}

void sched_sc_reconfigured(struct sched_context *sc)
{
    struct percpu *cpu = this_cpu();
    if (cpu->current == NULL || cpu->current->sc != sc)
        return;
    uint64_t now = sched_now();
    sc->consumed += now - cpu->last_switch;
    cpu->last_switch = now;
}

void sched_forget(struct sched_context *sc)
{
    for (struct sched_context **link = &throttled; *link != NULL; link = &(*link)->throttle_next) {
        if (*link == sc) {
            *link = sc->throttle_next;
            break;
        }
    }
    sc->throttle_next = NULL;
    sc->on_throttle_list = 0;
}

/*
 * Refills every SC whose next period has begun (periods form a fixed grid from
 * the SC's configuration) and requeues its thread. Overruns are paid back first,
 * so over many periods a thread gets exactly budget/period of the CPU.
 */
static void refill_due(uint64_t now)
{
    struct sched_context **link = &throttled;
    while (*link != NULL) {
        struct sched_context *sc = *link;
        if (!budget_start_period_if_due(sc, now)) {
            link = &sc->throttle_next;
            continue;
        }
        if (sc->remaining == 0)
            continue;   /* this whole period went to paying back: wait for the next */
        *link = sc->throttle_next;
        sc->throttle_next = NULL;
        sc->on_throttle_list = 0;
        if (sc->tcb != NULL && sc->tcb->state == THREAD_RUNNABLE)
            sched_make_runnable(sc->tcb);
    }
}

void sched_tick(void)
{
    klock_acquire();    /* from the idle loop; a no-op re-entry on a user-mode trap */
    sched_account();
    uint64_t now = sched_now();
    refill_due(now);
    notification_timers_expire(now);    /* NOTIFICATION_SET_TIMER: tick resolution */
    this_cpu()->need_resched = 1;
    klock_release();
}

void sched_yield(void)
{
    struct tcb *t = sched_current();
    if (t != NULL && t->state == THREAD_RUNNABLE) {
        sched_remove(t);
        sched_make_runnable(t);
    }
}

static void idle_loop(void)
{
    struct percpu *cpu = this_cpu();
    for (;;) {
        irq_disable();
        klock_acquire();
        cpu->last_switch = sched_now();
        if (runqueue_highest(&sched_queues[cpu->index]) != NULL)
            sched_exit_to_user();
        klock_release();
        cpu_idle_once();    /* sti; hlt: an interrupt may make a thread runnable */
    }
}

void sched_idle(void)
{
    struct percpu *cpu = this_cpu();
    cpu->current = NULL;
    cpu->loaded_cr3 = 0;
    vspace_activate_kernel();       /* loaded_cr3 = 0 promises no user tables are in use here */
    if (klock_held_here())
        klock_release();
    switch_stack_and_call(cpu->kernel_stack_top, idle_loop);
}

void sched_exit_to_user(void)
{
    struct percpu *cpu = this_cpu();
    struct run_queue *q = &sched_queues[cpu->index];
    struct tcb *cur = cpu->current;

    /* A running thread stays at the head of its queue; a tick rotates it to the tail. */
    if (cpu->need_resched && cur != NULL && runqueue_contains(q, cur)) {
        sched_remove(cur);
        sched_make_runnable(cur);
    }
    cpu->need_resched = 0;
    struct tcb *next = runqueue_highest(q);
    while (next != NULL && next->slots[TCB_SLOT_VSPACE].cap.type != HV_OBJ_PML4) {
        /* Its address space was deleted under it: it cannot run again until reconfigured. */
        kprintf("core: thread %p lost its address space: stopped\n", (void *)next);
        sched_remove(next);
        next->state = THREAD_INACTIVE;
        next = runqueue_highest(q);
    }
    if (next == NULL)
        sched_idle();
    cpu->current = next;
    cpu->current_ctx_end = (uint64_t)(uintptr_t)&next->ctx.fs_base;
    if (next != cur)
        cpu->last_switch = sched_now();
    cpu->loaded_cr3 = vspace_activate(next);
    if (next->vcpu != NULL)
        switch_stack_and_call(cpu->kernel_stack_top, vcpu_run_current);   /* runs its guest */
    if (cpu->fs_base != next->ctx.fs_base) {
        wrmsr(MSR_FS_BASE, next->ctx.fs_base);
        cpu->fs_base = next->ctx.fs_base;
    }
    fpu_restore(cpu, next);
    klock_release();
    return_to_user(&next->ctx);
}
