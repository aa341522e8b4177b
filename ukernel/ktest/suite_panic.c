/* SPDX-License-Identifier: MIT */
/* suite panic: an unexpected fault in the core prints a full register dump, stops the other CPUs and ends the run failed. */
#include "../arch/x86_64/cpu.h"
#include "../arch/x86_64/smp.h"
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

#define SPIN_START_SPINS 100000000u

static volatile uint32_t cpu1_spinning;

/* CPU 1, in its call IPI (interrupts off): spins for good; only an NMI stops it. */
static void spin_forever(void *arg)
{
    (void)arg;
    cpu1_spinning = 1;
    for (;;)
        cpu_relax();
}

KTEST_SUITE(panic)
{
    (void)bi;
    /*
     * With two CPUs, CPU 1 spins with interrupts off when CPU 0 panics: the harness
     * then also wants "panic: stopped 1 of 1 other CPUs" (the NMI parked it).
     */
    if (smp_online_count() >= 2 && smp_call_post(1, spin_forever, NULL)) {
        for (uint32_t i = 0; i < SPIN_START_SPINS && !cpu1_spinning; i++)
            cpu_relax();
        kprintf("ktest: expect stopped=%u of 1\n", cpu1_spinning ? 1u : 0u);
    }
    fault_unrecoverably(PANIC_PROBE_VA);
    ktest_check(false, "fault_was_fatal", "the core survived an unhandled #PF");
}
