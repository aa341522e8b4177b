/* SPDX-License-Identifier: MIT */
/* start: entry of a freestanding test program: rdi = bootinfo (root task) or argument. */
    .section .text.start, "ax"
    .global _start
_start:
    xor %ebp, %ebp
    and $-16, %rsp
    call user_main
1:  ud2
    jmp 1b

    .section .note.GNU-stack, "", @progbits
