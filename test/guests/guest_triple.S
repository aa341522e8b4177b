/* SPDX-License-Identifier: MIT */
/* guest_triple: a hostile guest that triple-faults (no IDT, then an exception). */
    .code16
    .section .text
    .globl _start
_start:
    cli
    xor %ax, %ax
    mov %ax, %ds
    lidt empty_idt
    ud2                         /* #UD -> #GP -> #DF -> shutdown */
1:  jmp 1b
empty_idt:
    .word 0
    .long 0
