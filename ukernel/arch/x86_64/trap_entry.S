/* SPDX-License-Identifier: MIT */
/* trap_entry: one stub per vector, a common path that builds struct trap_frame. */

/* Vectors for which the CPU pushes an error code. */
#define HAS_ERROR_CODE(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)

#include "gpr_frame.h"

    .section .text
    .altmacro

.macro stub_addr v
    .quad trap_stub_\v
.endm

.macro trap_stub v
    .balign 16
trap_stub_\v:
    .if (HAS_ERROR_CODE(\v)) == 0
    pushq $0
    .endif
    pushq $\v
    jmp trap_common
.endm

    .global trap_stubs_start
trap_stubs_start:
    .set vec, 0
    .rept 256
    trap_stub %vec
    .set vec, vec + 1
    .endr

trap_common:
    /* From user mode, switch to the kernel's GS base. */
    testb $3, 24(%rsp)              /* CS of the interrupted context */
    jz 1f
    swapgs
1:  PUSH_GPRS
    cld
    mov %rsp, %rdi
    /* Align the stack for the C ABI; the frame pointer keeps the frame. */
    mov %rsp, %rbx
    and $-16, %rsp
    call trap_dispatch
    mov %rbx, %rsp
    POP_GPRS
    testb $3, 24(%rsp)
    jz 2f
    swapgs
2:  add $16, %rsp                   /* vector and error code */
    iretq

    .section .rodata
    .balign 8
    .global trap_stub_table
trap_stub_table:
    .set vec, 0
    .rept 256
    stub_addr %vec
    .set vec, vec + 1
    .endr

