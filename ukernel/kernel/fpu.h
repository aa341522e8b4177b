/* SPDX-License-Identifier: MIT */
/* fpu: a thread's x87/SSE state — saved at every kernel entry, reloaded only when the CPU holds another's. */
#ifndef HV_KERNEL_FPU_H
#define HV_KERNEL_FPU_H

#include <stdint.h>

#include "../arch/x86_64/percpu.h"
#include "../object/tcb.h"
#include "config.h"

/*
 * Each thread's FXSAVE image (tcb.fpu) carries a version, and each CPU remembers the version
 * of the image it last saved or restored (percpu.fpu_version, 0 = none). A version is made
 * afresh whenever an image changes: at every save, when a TCB is made, when a vmm writes a
 * vCPU's XMM registers. Versions are never reused (CPU index in the top byte, that CPU's
 * count below), so a TCB made where a deleted one was can never match what a CPU still holds.
 *
 * Invariant: cpu->fpu_version == t->fpu_version only if this CPU's registers hold t's
 * image, or t has run here since that save or restore and they hold t's newer state. Any
 * other thread's image has another version, so fpu_restore() loads it. Saving stays eager
 * (every kernel entry), so a thread that is not running always has its state in tcb.fpu for
 * the core to read (the vCPU register calls). The skip matters for a vCPU whose exits end in
 * the core (shadow page faults, CR writes): no FXRSTOR before each re-entry — and under QEMU's
 * multi-threaded TCG every FXRSTOR also rewrites CPU 0's SVM flags (docs/architecture.md, "Two
 * Linux VMs"), so fewer of them is fewer chances of that race.
 */

_Static_assert(CONFIG_MAX_CPUS < 255, "a CPU's index + 1 fits the version's top byte");

/* A version no image has had: CPU `cpu`'s next. */
static inline uint64_t fpu_new_version(struct percpu *cpu)
{
    uint64_t made = ++cpu->fpu_versions_made;
    return ((uint64_t)(cpu->index + 1u) << 56) | made;   /* index + 1: never 0, the "none" */
}

/* The core changed t's image (a new TCB, a register write): no CPU holds it any more. */
static inline void fpu_image_changed(struct tcb *t)
{
    t->fpu_version = fpu_new_version(this_cpu());
}

/* Saves the running thread t's x87/SSE registers into its image. */
static inline void fpu_save(struct percpu *cpu, struct tcb *t)
{
    __asm__ volatile("fxsave64 %0" : "=m"(*(uint8_t(*)[TCB_FXSAVE_BYTES])t->fpu));
    t->fpu_version = fpu_new_version(cpu);
    cpu->fpu_version = t->fpu_version;
}

/* Makes the registers t's before t runs: FXRSTOR unless this CPU already holds t's state. */
static inline void fpu_restore(struct percpu *cpu, const struct tcb *t)
{
    if (cpu->fpu_version == t->fpu_version)
        return;
    __asm__ volatile("fxrstor64 %0" : : "m"(*(const uint8_t(*)[TCB_FXSAVE_BYTES])t->fpu));
    cpu->fpu_version = t->fpu_version;
}

#endif
