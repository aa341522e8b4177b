/* SPDX-License-Identifier: MIT */
/* suite panic: an unexpected fault in the core prints a full register dump and ends the run failed. */
#include "../arch/x86_64/cpu.h"
#include "../kernel/console.h"
#include "ktest.h"

#define PANIC_PROBE_VA 0x00006b6b6b6b6000ull

/*
 * The harness runs this suite with --expect-panic: it passes only if the dump
 * names vector 14, the RIP of the faulting load and CR2 announced below.
 */
__attribute__((noinline)) static void fault_unrecoverably(uint64_t va)
{
    extern const char panic_probe_rip[];
    kprintf("ktest: expect vector=14 rip=0x%016lx cr2=0x%016lx\n",
            (uint64_t)(uintptr_t)panic_probe_rip, va);
    __asm__ volatile(".global panic_probe_rip\n"
                     "panic_probe_rip: movq (%0), %%rax\n" : : "r"(va) : "rax", "memory");
}

KTEST_SUITE(panic)
{
    (void)bi;
    fault_unrecoverably(PANIC_PROBE_VA);
    ktest_check(false, "fault_was_fatal", "the core survived an unhandled #PF");
}
