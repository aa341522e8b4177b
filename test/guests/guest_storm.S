/* SPDX-License-Identifier: MIT */
/* guest_storm: a hostile guest that exits as fast as it can, forever (port I/O in a loop). */
#include "guest_ports.h"
    .code16
    .section .text
    .globl _start
_start:
    cli
    mov $GUEST_PORT_VALUE, %dx
1:  in %dx, %eax
    jmp 1b
