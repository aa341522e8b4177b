/* SPDX-License-Identifier: MIT */
/* spinlock: a test-and-test-and-set lock over xchg, its atomic helpers, and interrupt save/restore. */
#ifndef HV_KERNEL_SPINLOCK_H
#define HV_KERNEL_SPINLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "../arch/x86_64/cpu.h"

#define SPINLOCK_FREE 0u
#define SPINLOCK_HELD 1u

struct spinlock {
    volatile uint32_t state;    /* SPINLOCK_FREE or SPINLOCK_HELD */
};

#define SPINLOCK_INIT { SPINLOCK_FREE }

/*
 * In both helpers the asm writes *p through a local copy of the pointer: that way
 * clang-tidy sees the write and does not ask for a pointer to const.
 */

/* xchg with a memory operand is locked implicitly and is a full barrier. */
static inline uint32_t atomic_xchg_u32(volatile uint32_t *p, uint32_t v)
{
    volatile uint32_t *target = p;
    __asm__ volatile("xchgl %0, %1" : "+r"(v), "+m"(*target) : : "memory");
    return v;
}

/* Stores `desired` if *p == expected; returns the value *p had (== expected on success). */
static inline uint32_t atomic_cmpxchg_u32(volatile uint32_t *p, uint32_t expected, uint32_t desired)
{
    volatile uint32_t *target = p;
    __asm__ volatile("lock cmpxchgl %2, %1"
                     : "+a"(expected), "+m"(*target)
                     : "r"(desired)
                     : "memory", "cc");
    return expected;
}

/*
 * x86 keeps stores in order and loads in order (TSO), so a plain store after a
 * compiler barrier publishes everything before it, and a plain load followed by a
 * compiler barrier is an acquire.
 */
static inline void atomic_store_release_u32(volatile uint32_t *p, uint32_t v)
{
    __asm__ volatile("" ::: "memory");
    *p = v;
}

static inline uint32_t atomic_load_acquire_u32(const volatile uint32_t *p)
{
    uint32_t v = *p;
    __asm__ volatile("" ::: "memory");
    return v;
}

static inline bool spin_trylock(struct spinlock *lock)
{
    return atomic_xchg_u32(&lock->state, SPINLOCK_HELD) == SPINLOCK_FREE;
}

static inline void spin_lock(struct spinlock *lock)
{
    while (!spin_trylock(lock)) {
        /* Wait with plain reads so the line stays shared until the holder lets go. */
        while (lock->state != SPINLOCK_FREE)
            cpu_relax();
    }
}

static inline void spin_unlock(struct spinlock *lock)
{
    atomic_store_release_u32(&lock->state, SPINLOCK_FREE);
}

/* Disables interrupts and returns whether they were enabled, for irq_restore(). */
static inline bool irq_save(void)
{
    bool enabled = (read_rflags() & RFLAGS_IF) != 0;
    irq_disable();
    return enabled;
}

static inline void irq_restore(bool enabled)
{
    if (enabled)
        irq_enable();
}

/*
 * For locks also taken from interrupt handlers: a handler on the CPU that holds
 * the lock would otherwise spin on it forever.
 */
static inline bool spin_lock_irqsave(struct spinlock *lock)
{
    bool enabled = irq_save();
    spin_lock(lock);
    return enabled;
}

static inline void spin_unlock_irqrestore(struct spinlock *lock, bool enabled)
{
    spin_unlock(lock);
    irq_restore(enabled);
}

#endif
