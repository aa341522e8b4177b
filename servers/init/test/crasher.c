/* SPDX-License-Identifier: MIT */
/* crasher: init's restart-policy test server: faults at once (a write to address 0x10). */
#include <stdint.h>
#include <stdio.h>

int main(void)
{
    printf("crasher: crashing\n");
    fflush(stdout);
    volatile uint64_t *volatile bad = (volatile uint64_t *)(uintptr_t)0x10;
    *bad = 1;
    return 0;
}
