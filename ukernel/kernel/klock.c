/* SPDX-License-Identifier: MIT */
/* klock: the big kernel lock with an owner, so the owning CPU may re-enter. */
#include "klock.h"

#include "../arch/x86_64/percpu.h"
#include "../arch/x86_64/smp.h"
#include "assert.h"
#include "sched.h"
#include "spinlock.h"

struct klock klock = { SPINLOCK_INIT, KLOCK_NO_OWNER, 0 };

void klock_acquire(void)
{
    uint32_t me = this_cpu_index();
    if (klock.owner == me) {
        klock.depth++;
        return;
    }
    /* While waiting, honour a request to drop our thread and a cross-CPU call (a VMCLEAR
     * of a VMCS this CPU holds): their sender may hold the lock and wait for us. */
    while (!spin_trylock(&klock.lock)) {
        sched_poll_eviction();
        smp_call_poll();
        cpu_relax();
    }
    klock.owner = me;
    klock.depth = 1;
    sched_poll_eviction();
}

void klock_release(void)
{
    kassert(klock.owner == this_cpu_index() && klock.depth > 0);
    if (--klock.depth > 0)
        return;
    klock.owner = KLOCK_NO_OWNER;
    spin_unlock(&klock.lock);
}

bool klock_held_here(void)
{
    return klock.owner == this_cpu_index();
}
