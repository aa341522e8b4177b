/* SPDX-License-Identifier: MIT */
/* fastpath: the first C code of a system call, and the IPC fast path: call and reply_recv thread to thread. */
#ifndef HV_KERNEL_FASTPATH_H
#define HV_KERNEL_FASTPATH_H

#include <stdbool.h>

/*
 * syscall_dispatch (declared in syscall.h) lives in fastpath.c: it takes the kernel
 * lock, saves the thread's FPU state, and tries the fast path for `call` and
 * `reply_recv` before handing any system call to syscall_general.
 *
 * A fast `call` or `reply_recv` either completes and enters the thread that runs
 * next, or changes nothing and leaves the call to the general path. A completed one
 * leaves exactly the state the general path would leave (handle_syscall,
 * sched_account, sched_exit_to_user): same messages, badges, tags, reply links,
 * queues and budget charges. It only skips the generality: a one-level capability
 * lookup, no message beyond the registers, no capability transfer, no scheduler
 * search when the partner is the thread the scheduler would pick. See
 * docs/architecture.md §3, "The IPC fast path".
 */

/*
 * True unless the command line says `fastpath=off` (set once at boot, before any
 * thread runs): then every call takes the general path — the reference the tests
 * and the benchmark compare the fast path with.
 */
extern bool fastpath_enabled;

#endif
