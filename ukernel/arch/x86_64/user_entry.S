/* SPDX-License-Identifier: MIT */
/* user_entry: SYSCALL entry (saves user state into the current TCB) and the returns to user mode. */
#include "gpr_frame.h"
#include "percpu.h"

#define USER_CS (0x28 | 3)
#define USER_SS (0x20 | 3)

    .section .text

/*
 * SYSCALL: rcx = user rip, r11 = user rflags, interrupts masked by FMASK.
 * The user context (struct user_context) is built in place in the current TCB
 * by pushing onto it top down, then the C handler runs on this CPU's stack.
 */
    .global syscall_entry
syscall_entry:
    swapgs
    mov %rsp, %gs:PERCPU_USER_RSP
    mov %gs:PERCPU_CURRENT_CTX_END, %rsp
    pushq $USER_SS
    pushq %gs:PERCPU_USER_RSP
    pushq %r11                  /* rflags */
    pushq $USER_CS
    pushq %rcx                  /* rip */
    PUSH_GPRS
    mov %gs:PERCPU_KERNEL_STACK_TOP, %rsp
    xor %ebp, %ebp              /* ends frame-pointer chains; DF is already clear (FMASK) */
    call syscall_dispatch       /* never returns: it ends in return_to_user */
    ud2

/* void return_to_user(struct user_context *ctx): restores ctx and iretq to user mode. */
    .global return_to_user
return_to_user:
    mov %rdi, %rsp
    POP_GPRS
    swapgs
    iretq

/*
 * void return_to_user_sysret(struct user_context *ctx): the same return with SYSRET.
 * Only when that restores exactly what IRETQ would (kernel/fastpath.c checks):
 * ctx->rcx == rip and ctx->r11 == rflags (as the SYSCALL that saved them left them),
 * rip canonical in the user half (SYSRET to a non-canonical rip faults in ring 0 on
 * Intel CPUs), rflags free of what SYSRET clears, cs/ss the selectors SYSRET loads.
 * Interrupts stay masked until SYSRET loads rflags; NMI and #MC use IST stacks.
 */
    .global return_to_user_sysret
return_to_user_sysret:
    mov %rdi, %rsp
    POP_GPRS                    /* rsp now at the iretq frame: rip, cs, rflags, rsp, ss */
    mov 24(%rsp), %rsp          /* the user stack */
    swapgs
    sysretq

/* void switch_stack_and_call(uint64_t stack_top, void (*fn)(void)): never returns. */
    .global switch_stack_and_call
switch_stack_and_call:
    mov %rdi, %rsp
    xor %ebp, %ebp
    call *%rsi
    ud2
