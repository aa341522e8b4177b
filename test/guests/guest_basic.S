/* SPDX-License-Identifier: MIT */
/* guest_basic: a real-mode test guest: CPUID, port I/O, HLT + injected interrupt, exceptions, a missing gpa, recall, TSC offset. */
#include "guest_ports.h"

    .code16
    .section .text
    .globl _start
_start:
    cli
    xor %ax, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $GUEST_STACK_TOP, %sp
    /* IVT: #UD and the injected vector are handled here (#DE is intercepted by the vmm). */
    movw $ud_handler, 6 * 4
    movw $0, 6 * 4 + 2
    movw $irq_handler, GUEST_HLT_VECTOR * 4
    movw $0, GUEST_HLT_VECTOR * 4 + 2

    /* cpuid: the vmm's chosen values */
    mov $GUEST_CPUID_LEAF, %eax
    cpuid
    cmp $GUEST_CPUID_EDX, %edx
    jne 1f
    cmp $GUEST_CPUID_EAX, %eax
    jne 1f
    cmp $GUEST_CPUID_EBX, %ebx
    jne 1f
    cmp $GUEST_CPUID_ECX, %ecx
    jne 1f
    mov $1, %dl
    jmp 2f
1:  mov $0, %dl
2:  mov $name_cpuid, %si
    call report

    /* io_in: an IN answered by the vmm */
    mov $GUEST_PORT_VALUE, %dx
    in %dx, %eax
    cmp $GUEST_IN_VALUE, %eax
    sete %dl
    mov $name_io_in, %si
    call report

    /* hlt_inject: the vmm injects an interrupt our IVT handler counts */
    movw $0, irq_count
    sti
    hlt
    cli
    cmpw $1, irq_count
    sete %dl
    mov $name_hlt, %si
    call report

    /* guest_exception: #UD handled by the guest's own IVT entry, no exit */
    movw $0, ud_count
    ud2
    cmpw $1, ud_count
    sete %dl
    mov $name_ud, %si
    call report

    /* exception_forwarded: #DE is intercepted; the vmm skips the div and marks bx */
    xor %bx, %bx
    mov $1, %ax
    xor %dx, %dx
    xor %cl, %cl
    div %cl                     /* f6 f1: 2 bytes */
    cmp $GUEST_DE_MARKER, %bx
    sete %dl
    mov $name_de, %si
    call report

    /* gpa_exit: nothing at GUEST_GPA_PROBE until the vmm maps a frame there */
    mov $(GUEST_GPA_PROBE >> 4), %ax
    mov %ax, %es
    mov %es:0, %ax
    push %ds
    pop %es
    cmp $GUEST_GPA_PATTERN, %ax
    sete %dl
    mov $name_gpa, %si
    call report

    /* gpa_unmap: the vmm deletes that frame's cap (unmap + guest TLB flush); the next
     * access exits again and the vmm maps a frame holding another pattern */
    mov $GUEST_PORT_PHASE, %dx
    mov $GUEST_PHASE_UNMAP, %al
    out %al, %dx
    mov $(GUEST_GPA_PROBE >> 4), %ax
    mov %ax, %es
    mov %es:0, %ax
    push %ds
    pop %es
    cmp $GUEST_GPA_PATTERN2, %ax
    sete %dl
    mov $name_unmap, %si
    call report

    /* tsc_offset: the vmm's offset shows in RDTSC */
    rdtsc
    cmp $(1 << (GUEST_TSC_OFFSET_SHIFT - 32)), %edx
    setae %dl
    mov $name_tsc, %si
    call report

    /* recall: spin until another thread recalls the vCPU and the vmm sets cx (cleared
     * before the phase exit: the recall may land at any instruction after it) */
    xor %cx, %cx
    mov $GUEST_PORT_PHASE, %dx
    mov $GUEST_PHASE_SPIN, %al
    out %al, %dx
3:  cmp $GUEST_RECALL_CX, %cx
    jne 3b
    mov $1, %dl
    mov $name_recall, %si
    call report

    /* vec: SSE on (CR4.OSFXSR, CR0.EM/TS clear); XMM3 loaded for the vmm to read with
     * VCPU_READ_VEC at the phase exit, which writes XMM2 and MXCSR with VCPU_WRITE_VEC */
    mov %cr4, %eax
    or $0x200, %eax
    mov %eax, %cr4
    mov %cr0, %eax
    and $0xfffffff3, %eax
    mov %eax, %cr0
    movdqu vec_in, %xmm3
    mov $GUEST_PORT_PHASE, %dx
    mov $GUEST_PHASE_VEC, %al
    out %al, %dx
    movdqu %xmm2, vec_out
    stmxcsr mxcsr_out
    mov $vec_out, %si
    mov $GUEST_VEC_OUT_BASE, %al
    mov $16, %cx
5:  cmp (%si), %al
    jne 6f
    inc %si
    inc %al
    loop 5b
    cmpl $GUEST_VEC_MXCSR, mxcsr_out
6:  sete %dl
    mov $name_vec, %si
    call report

    /* SUMMARY: N tests, M failures */
    mov $str_summary, %si
    call puts
    mov tests, %ax
    call putdec
    mov $str_tests, %si
    call puts
    mov failures, %ax
    call putdec
    mov $str_failures, %si
    call puts

    mov $GUEST_PORT_PHASE, %dx
    mov $GUEST_PHASE_DONE, %al
    out %al, %dx
4:  hlt
    jmp 4b

/* report: dl = 1 pass / 0 fail, si = name. */
report:
    incw tests
    push %si
    test %dl, %dl
    jz 1f
    mov $str_pass, %si
    jmp 2f
1:  incw failures
    mov $str_fail, %si
2:  call puts
    pop %si
    call puts
    mov $'\n', %al
    call putc
    ret

puts:
    lodsb
    test %al, %al
    jz 1f
    call putc
    jmp puts
1:  ret

putc:
    push %dx
    mov $GUEST_PORT_CONSOLE, %dx
    out %al, %dx
    pop %dx
    ret

/* putdec: ax in decimal (no leading zeros). */
putdec:
    mov $10, %cx
    xor %bx, %bx
1:  xor %dx, %dx
    div %cx
    push %dx
    inc %bx
    test %ax, %ax
    jnz 1b
2:  pop %ax
    add $'0', %al
    call putc
    dec %bx
    jnz 2b
    ret

ud_handler:
    incw %cs:ud_count
    push %bp
    mov %sp, %bp
    addw $2, 2(%bp)             /* past the 2-byte ud2 */
    pop %bp
    iret

irq_handler:
    incw %cs:irq_count
    iret

    .balign 2
tests: .word 0
failures: .word 0
irq_count: .word 0
ud_count: .word 0
str_pass: .asciz "PASS: "
str_fail: .asciz "FAIL: "
str_summary: .asciz "SUMMARY: "
str_tests: .asciz " tests, "
str_failures: .asciz " failures\n"
name_cpuid: .asciz "cpuid"
name_io_in: .asciz "io_in"
name_hlt: .asciz "hlt_inject"
name_ud: .asciz "guest_exception"
name_de: .asciz "exception_forwarded"
name_gpa: .asciz "gpa_exit"
name_unmap: .asciz "gpa_unmap_flushes"
name_tsc: .asciz "tsc_offset"
name_recall: .asciz "recall"
name_vec: .asciz "vec_written"
    .balign 16
vec_in: .byte 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f
vec_out: .fill 16, 1, 0
mxcsr_out: .long 0
