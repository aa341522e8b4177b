/* SPDX-License-Identifier: MIT */
/* fault: turning a thread's exception, page fault, unknown system call or timeout into a message. */
#ifndef HV_KERNEL_FAULT_H
#define HV_KERNEL_FAULT_H

#include <stdint.h>

#include "../object/tcb.h"

struct trap_frame;

/* The user thread `t` took exception `vector` (its registers are already saved in t->ctx). */
void fault_raise_exception(struct tcb *t, uint64_t vector, uint64_t error_code, uint64_t cr2);
/* `t` issued a system call number the core does not have: reflect it or fault. */
void fault_unknown_syscall(struct tcb *t);
/* `t` ran out of budget and its SchedContext asks for a timeout fault. */
void fault_raise_timeout(struct tcb *t);

/* `t`'s guest exited for its handler: w0 reason, w1 qualification, w2 address, w3 length. */
void fault_raise_vm_exit(struct tcb *t, uint64_t reason, uint64_t qualification, uint64_t address,
                         uint64_t length);

#endif
