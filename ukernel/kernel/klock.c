/* SPDX-License-Identifier: MIT */
/* klock: the big kernel lock with an owner, so the owning CPU may re-enter. */
#include "klock.h"

#include "../arch/x86_64/percpu.h"
#include "assert.h"
#include "sched.h"
#include "spinlock.h"

#define NO_OWNER 0xffffffffu

static struct spinlock lock = SPINLOCK_INIT;
static volatile uint32_t owner = NO_OWNER;
static unsigned depth;

void klock_acquire(void)
{
    uint32_t me = this_cpu_index();
    if (owner == me) {
        depth++;
        return;
    }
    /* While waiting, honour a request to drop our thread: its owner may hold the lock. */
    while (!spin_trylock(&lock)) {
        sched_poll_eviction();
        cpu_relax();
    }
    owner = me;
    depth = 1;
    sched_poll_eviction();
}

void klock_release(void)
{
    kassert(owner == this_cpu_index() && depth > 0);
    if (--depth > 0)
        return;
    owner = NO_OWNER;
    spin_unlock(&lock);
}

bool klock_held_here(void)
{
    return owner == this_cpu_index();
}
