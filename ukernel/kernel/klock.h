/* SPDX-License-Identifier: MIT */
/* klock: the big kernel lock: one CPU at a time runs the core's object and scheduling code. */
#ifndef HV_KERNEL_KLOCK_H
#define HV_KERNEL_KLOCK_H

#include <stdbool.h>

/*
 * Taken on every entry from user mode and by the timer hook; released just before
 * returning to user mode or halting. Re-entrant on the CPU that holds it: a timer
 * interrupt taken from user mode runs the hook while the entry already holds it.
 */
void klock_acquire(void);
void klock_release(void);
bool klock_held_here(void);

#endif
