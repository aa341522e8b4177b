/* SPDX-License-Identifier: MIT */
/* klock: the big kernel lock: one CPU at a time runs the core's object and scheduling code. */
#ifndef HV_KERNEL_KLOCK_H
#define HV_KERNEL_KLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../arch/x86_64/percpu.h"
#include "sched.h"
#include "spinlock.h"

/*
 * Taken on every entry from user mode and by the timer hook; released just before
 * returning to user mode or halting. Re-entrant on the CPU that holds it: a timer
 * interrupt taken from user mode runs the hook while the entry already holds it.
 */
void klock_acquire(void);
void klock_release(void);
bool klock_held_here(void);

#define KLOCK_NO_OWNER 0xffffffffu

/* Invariant: owner == KLOCK_NO_OWNER iff depth == 0 iff the spinlock is free. */
struct klock {
    struct spinlock lock;
    volatile uint32_t owner;    /* CPU index of the holder */
    unsigned depth;             /* re-entries on the holder */
};
extern struct klock klock;

/*
 * The outermost acquire on a system call from user mode, when this CPU cannot hold
 * the lock: klock_acquire with its uncontended case inline (the IPC fast path's entry).
 */
static inline void klock_acquire_from_user(struct percpu *cpu)
{
    if (!spin_trylock(&klock.lock)) {
        klock_acquire();    /* waits, answering eviction requests meanwhile */
        return;
    }
    klock.owner = cpu->index;
    klock.depth = 1;
    if (cpu->evict_request != NULL)
        sched_poll_eviction();
}

/* The matching release, just before the return to user mode (depth is 1: no re-entry is open). */
static inline void klock_release_to_user(void)
{
    klock.owner = KLOCK_NO_OWNER;
    klock.depth = 0;
    spin_unlock(&klock.lock);
}

#endif
