/* SPDX-License-Identifier: MIT */
/* extable: expected-fault recovery: a faulting instruction listed here resumes at its fixup. */
#ifndef HV_ARCH_EXTABLE_H
#define HV_ARCH_EXTABLE_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Entries live in the __ex_table section as (fault_rip, fixup_rip) pairs. The
 * trap handler looks up the faulting RIP; on a hit it records the fault (see
 * trap_last_fault()) and resumes at the fixup instead of panicking. The probe
 * functions below are the only users so far; later, copies from user memory.
 */
struct extable_entry {
    uint64_t fault_rip;
    uint64_t fixup_rip;
};

/* Returns the fixup address for a faulting RIP, or 0. */
uint64_t extable_lookup(uint64_t rip);

/* Each probe returns true when the access faulted (and was recovered). */
bool probe_read64(uint64_t va, uint64_t *value_out);
bool probe_write64(uint64_t va, uint64_t value);
bool probe_divide_by_zero(void);
bool probe_ud2(void);
bool probe_int3(void);

/*
 * Calls code at `va` (expected to be a non-executable page). An instruction fetch
 * fault there is recovered by trap.c: it returns to this call's return address.
 */
bool probe_exec(uint64_t va);
extern volatile uint64_t probe_exec_target;  /* armed fetch address, 0 when idle */

#endif
