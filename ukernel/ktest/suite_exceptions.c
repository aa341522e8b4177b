/* SPDX-License-Identifier: MIT */
/* suite exceptions: CPU exceptions reach the core with the right vector, error code and address. */
#include "../arch/x86_64/cpu.h"
#include "../arch/x86_64/extable.h"
#include "../arch/x86_64/trap.h"
#include "ktest.h"

/* Lower-half canonical address nothing maps, and a non-canonical one. */
#define UNMAPPED_VA ((uint64_t)0x00005a5a5a5a5000)
#define NONCANONICAL_VA ((uint64_t)0x8000000000000000)

static bool rip_inside(uint64_t rip, const void *fn)
{
    uint64_t start = (uint64_t)(uintptr_t)fn;
    return rip >= start && rip < start + 64;
}

KTEST_SUITE(exceptions)
{
    (void)bi;
    const struct fault_record *fr = trap_last_fault();
    uint64_t count0 = fr->count;
    uint64_t v = 0;

    bool faulted = probe_divide_by_zero();
    ktest_check(faulted && fr->vector == EXC_DE && rip_inside(fr->rip, probe_divide_by_zero),
                "divide_error_vector_0", "faulted=%d vector=%lu rip=0x%lx", faulted, fr->vector,
                fr->rip);

    faulted = probe_ud2();
    ktest_check(faulted && fr->vector == EXC_UD && rip_inside(fr->rip, probe_ud2),
                "invalid_opcode_vector_6", "faulted=%d vector=%lu", faulted, fr->vector);

    faulted = probe_int3();
    ktest_check(faulted && fr->vector == EXC_BP, "breakpoint_vector_3", "faulted=%d vector=%lu",
                faulted, fr->vector);

    faulted = probe_read64(UNMAPPED_VA + 0x18, &v);
    ktest_check(faulted && fr->vector == EXC_PF, "page_fault_vector_14", "faulted=%d vector=%lu",
                faulted, fr->vector);
    ktest_check(fr->cr2 == UNMAPPED_VA + 0x18, "page_fault_address_in_cr2",
                "cr2=0x%lx expected 0x%lx", fr->cr2, (uint64_t)(UNMAPPED_VA + 0x18));
    ktest_check(fr->error_code == 0, "page_fault_error_read_not_present", "error=0x%lx",
                fr->error_code);
    ktest_check(rip_inside(fr->rip, probe_read64), "page_fault_rip", "rip=0x%lx", fr->rip);

    faulted = probe_write64(UNMAPPED_VA, 1);
    ktest_check(faulted && fr->vector == EXC_PF && fr->error_code == PF_ERR_WRITE &&
                    fr->cr2 == UNMAPPED_VA,
                "page_fault_error_write_not_present", "error=0x%lx cr2=0x%lx", fr->error_code,
                fr->cr2);

    faulted = probe_read64(NONCANONICAL_VA, &v);
    ktest_check(faulted && fr->vector == EXC_GP && fr->error_code == 0,
                "noncanonical_is_general_protection", "faulted=%d vector=%lu error=0x%lx",
                faulted, fr->vector, fr->error_code);

    ktest_check(fr->count - count0 == 6, "every_fault_recorded_once", "count delta=%lu",
                fr->count - count0);

    /* After all that, interrupts still arrive and the core still runs. */
    ktest_check((read_rflags() & RFLAGS_IF) != 0, "interrupts_still_enabled", "RFLAGS=0x%lx",
                read_rflags());
}
