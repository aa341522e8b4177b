/* SPDX-License-Identifier: MIT */
/* whereami: init's cpus test server: exits with the APIC ID it ran on, if it never saw another (else 200). */
#include <cpuid.h>
#include <stdio.h>
#include <stdlib.h>

#include "hv/syscall.h"

#define SAMPLES 2000u

static unsigned apic_id(void)
{
    unsigned a, b, c, d;
    __cpuid(1, a, b, c, d);
    return b >> 24;     /* CPUID.1:EBX[31:24], the initial APIC ID of this CPU */
}

int main(void)
{
    unsigned first = apic_id(), moved = 0;
    for (unsigned i = 0; i < SAMPLES; i++) {
        if (apic_id() != first)
            moved++;
        hv_yield();
    }
    printf("whereami: APIC ID %u in %u samples, %u on another CPU\n", first, SAMPLES, moved);
    fflush(stdout);
    exit(moved == 0 && first < 200 ? (int)first : 200);
}
