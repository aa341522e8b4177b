/* SPDX-License-Identifier: MIT */
/* hvrt_start: ELF entry of musl servers: set up the runtime, build a Linux stack, enter musl's _start. */
#include "hv/hvrt.h"

#define INIT_VECTOR_BYTES 1024

    .section .text.hvrt_start, "ax"
    .global _hv_start
    .type _hv_start, @function
/* In: rdi = IPC buffer va, rsi = TSC Hz (0: 1 GHz), rsp = stack top (see hvrt.h). */
_hv_start:
    mov %rdi, hvrt_ipc_va(%rip)
    mov %rsi, hvrt_tsc_hz(%rip)
    and $-16, %rsp
    mov %rsp, %rdi                      /* the Linux vector goes into [top - 1024, top) */
    sub $INIT_VECTOR_BYTES, %rsp
    xor %ebp, %ebp
    call hvrt_init
    mov %rax, %rsp                      /* -> argc, as the Linux kernel leaves it */
    xor %eax, %eax
    xor %ebx, %ebx
    xor %ecx, %ecx
    xor %edx, %edx
    xor %esi, %esi
    xor %edi, %edi
    xor %ebp, %ebp
    jmp _start                          /* musl's crt1.o: _start_c -> __libc_start_main */
    .size _hv_start, . - _hv_start

    .section .note.GNU-stack, "", @progbits
