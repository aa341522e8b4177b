/* SPDX-License-Identifier: MIT */
/* vcpu_run: the exit path: a thread bound to a vCPU runs its guest until an exit its handler must see. */
#ifndef HV_KERNEL_VCPU_RUN_H
#define HV_KERNEL_VCPU_RUN_H

/*
 * Entered by sched_exit_to_user (on a fresh kernel stack, kernel lock held,
 * interrupts off) instead of returning to user mode when the chosen thread has a
 * vCPU. Loops: enter the guest without the lock; after each exit take the host's
 * pending interrupts, retake the lock, and either re-enter (HV_EXIT_NONE, nothing
 * to reschedule), go back to the scheduler (preempted, out of budget, stopped,
 * evicted) or stop the thread with a VM-exit message to its fault endpoint.
 * Never returns.
 */
__attribute__((noreturn)) void vcpu_run_current(void);

#endif
