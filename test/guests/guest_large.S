/* SPDX-License-Identifier: MIT */
/* guest_large: a flat 32-bit test guest reading and writing across the 2 MiB frame at GUEST_LARGE_GPA. */
#include "guest_ports.h"

    .code32
    .section .text
    .globl _start
_start:
    /* LARGE_READ: the vmm's dwords at both ends of the 2 MiB, in ebx and ecx */
    mov GUEST_LARGE_GPA, %ebx
    mov GUEST_LARGE_GPA + GUEST_LARGE_SIZE - 4, %ecx
    mov $GUEST_PHASE_LARGE_READ, %al
    mov $GUEST_PORT_PHASE, %dx
    out %al, %dx

    /* LARGE_WRITTEN: marks at both ends, and each 4 KiB page's index at its offset 8 */
    movl $GUEST_LARGE_MARK_LO, GUEST_LARGE_GPA + 4
    movl $GUEST_LARGE_MARK_HI, GUEST_LARGE_GPA + GUEST_LARGE_SIZE - 8
    xor %esi, %esi
    mov $(GUEST_LARGE_GPA + 8), %edi
1:  mov %esi, (%edi)
    add $0x1000, %edi
    inc %esi
    cmp $(GUEST_LARGE_SIZE / 0x1000), %esi
    jne 1b
    mov $GUEST_PHASE_LARGE_WRITTEN, %al
    mov $GUEST_PORT_PHASE, %dx
    out %al, %dx

    /* UNMAP: the vmm deletes the frame's cap; the next access to it must be a GPA exit */
    mov $GUEST_PHASE_UNMAP, %al
    mov $GUEST_PORT_PHASE, %dx
    out %al, %dx
    mov GUEST_LARGE_PROBE, %ebx
    /* reached only if the access did not exit */
    mov $GUEST_PHASE_DONE, %al
    mov $GUEST_PORT_PHASE, %dx
    out %al, %dx
2:  hlt
    jmp 2b
