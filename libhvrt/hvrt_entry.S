/* SPDX-License-Identifier: MIT */
/* hvrt_entry: where the core reflects a Linux system call: save, dispatch, return like sysret would. */
#include "hv/hvrt.h"

/*
 * Entered with every register as at the `syscall` instruction (rax = Linux
 * number, rdi, rsi, rdx, r10, r8, r9 = arguments, rsp unchanged); the return
 * address and flags are in the IPC buffer (reflect_rip, reflect_rflags). Linux
 * preserves all registers but rax, rcx and r11; so does this. The caller's red
 * zone (128 bytes below rsp) is left alone.
 */
    .text
    .global hvrt_syscall_entry
    .type hvrt_syscall_entry, @function
hvrt_syscall_entry:
    lea -128(%rsp), %rsp                /* skip the SysV red zone */
    push %rbx
    push %r9
    push %r8
    push %r10
    push %rdx
    push %rsi
    push %rdi
    push %rax                           /* struct hvrt_args: nr, a[0..5] */
    mov %rsp, %rbx
    mov %rsp, %rdi
    and $-16, %rsp
    cld
    call hvrt_dispatch
    lea 8(%rbx), %rsp                   /* drop nr; rax holds the result */
    pop %rdi
    pop %rsi
    pop %rdx
    pop %r10
    pop %r8
    pop %r9
    pop %rbx
    mov hvrt_ipc_va(%rip), %r11
    mov HVRT_IPC_REFLECT_RIP(%r11), %rcx
    pushq HVRT_IPC_REFLECT_RFLAGS(%r11)  /* still below the red zone */
    popfq
    lea 128(%rsp), %rsp                 /* lea and jmp leave the flags alone */
    jmp *%rcx
    .size hvrt_syscall_entry, . - hvrt_syscall_entry

    .section .note.GNU-stack, "", @progbits
