/* SPDX-License-Identifier: MIT */
/* syscall: the core's system call entry: decode the call, route it, return to user mode. */
#ifndef HV_KERNEL_SYSCALL_H
#define HV_KERNEL_SYSCALL_H

#include <stdint.h>

/* Programs STAR/LSTAR/FMASK on this CPU so SYSCALL enters syscall_entry. */
void syscall_init_cpu(void);

/*
 * Called by user_entry.S with the current thread's registers saved (kernel/fastpath.c:
 * the kernel lock, the thread's FPU state, the IPC fast path). Never returns.
 */
__attribute__((noreturn)) void syscall_dispatch(void);

struct tcb;
/* The general path of system call `nr` of the current thread `t` (lock held, state saved). */
__attribute__((noreturn)) void syscall_general(struct tcb *t, uint64_t nr);

/* A trap from user mode (frame already copied into the thread). Never returns. */
struct trap_frame;
__attribute__((noreturn)) void syscall_user_trap(struct trap_frame *frame);

#endif
