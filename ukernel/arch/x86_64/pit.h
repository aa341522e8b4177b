/* SPDX-License-Identifier: MIT */
/* pit: the 8254 timer's channel 2, used only as a reference clock to calibrate others. */
#ifndef HV_ARCH_PIT_H
#define HV_ARCH_PIT_H

#include <stdint.h>

#define PIT_FREQUENCY_HZ 1193182u
#define PIT_MAX_WAIT_US 50000u      /* one 16-bit countdown is ~54.9 ms */

/* Arms channel 2 to count down `us` microseconds (<= PIT_MAX_WAIT_US). */
void pit_oneshot_start(uint32_t us);
/* True once the countdown armed by pit_oneshot_start() has reached zero. */
int pit_oneshot_done(void);
/* Busy-waits `us` microseconds by the PIT (any length; split into countdowns). */
void pit_delay_us(uint64_t us);

#endif
