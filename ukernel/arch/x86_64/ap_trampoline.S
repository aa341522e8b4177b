/* SPDX-License-Identifier: MIT */
/* ap_trampoline: an application processor's way from the start-up IPI (real mode) to ap_main (long mode). */
#include "smp.h"

/*
 * This code is never run where it is linked: smp.c copies the bytes between
 * ap_trampoline_start and ap_trampoline_end to a free page below 1 MiB and sends
 * that page number as the start-up vector. The AP begins in real mode at
 * CS = page << 8, IP = 0, so everything here is addressed relative to the start,
 * and the physical base (CS << 4) is kept in %ebx/%rbx. No stack is used before
 * the C entry: there is none the AP could use in real mode.
 */
#define TRAMP_OFFSET(sym) ((sym) - ap_trampoline_start)
#define PARAM(field) (TRAMP_OFFSET(ap_trampoline_params) + (field))

#define CR0_PE 0x1
#define MSR_EFER 0xc0000080

/* Selectors of the trampoline's own GDT (the AP loads the core's in gdt_init_cpu()). */
#define TRAMP_CODE32_SEL 0x08
#define TRAMP_DATA_SEL 0x10
#define TRAMP_CODE64_SEL 0x18

    .section .rodata.ap_trampoline, "a"
    .balign 16
    .global ap_trampoline_start
ap_trampoline_start:
    .code16
    cli
    cld
    mov %cs, %ax
    mov %ax, %ds
    /* Tells the boot CPU the start-up IPI arrived, whatever happens next. */
    movl $AP_STARTED_MAGIC, PARAM(AP_PARAM_STARTED)
    xor %ebx, %ebx
    mov %ax, %bx
    shl $4, %ebx

    /* The absolute addresses depend on the page the boot CPU chose: fill them in. */
    leal TRAMP_OFFSET(tramp_gdt)(%ebx), %eax
    movl %eax, TRAMP_OFFSET(tramp_gdtr) + 2
    leal TRAMP_OFFSET(tramp_protected_mode)(%ebx), %eax
    movl %eax, TRAMP_OFFSET(tramp_far_protected)
    leal TRAMP_OFFSET(tramp_long_mode)(%ebx), %eax
    movl %eax, TRAMP_OFFSET(tramp_far_long)

    lgdtl TRAMP_OFFSET(tramp_gdtr)
    mov %cr0, %eax
    or $CR0_PE, %eax
    mov %eax, %cr0
    ljmpl *TRAMP_OFFSET(tramp_far_protected)

    .code32
tramp_protected_mode:
    mov $TRAMP_DATA_SEL, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    /* The boot CPU's control registers: PAE (and PGE) first, then the core's tables. */
    movl PARAM(AP_PARAM_CR4)(%ebx), %eax
    mov %eax, %cr4
    movl PARAM(AP_PARAM_CR3)(%ebx), %eax
    mov %eax, %cr3
    mov $MSR_EFER, %ecx
    movl PARAM(AP_PARAM_EFER)(%ebx), %eax
    movl PARAM(AP_PARAM_EFER) + 4(%ebx), %edx
    wrmsr
    /*
     * Paging on (long mode active, compatibility mode). The next fetch is from this
     * page's physical address, which the boot CPU identity-mapped for the purpose.
     */
    movl PARAM(AP_PARAM_CR0)(%ebx), %eax
    mov %eax, %cr0
    ljmpl *TRAMP_OFFSET(tramp_far_long)(%ebx)

    .code64
tramp_long_mode:
    /* Upper halves of registers are undefined after compatibility mode. */
    mov %ebx, %ebx
    mov $TRAMP_DATA_SEL, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov PARAM(AP_PARAM_STACK_TOP)(%rbx), %rsp
    mov PARAM(AP_PARAM_CPU_INDEX)(%rbx), %rdi
    mov PARAM(AP_PARAM_ENTRY)(%rbx), %rax
    xor %ebp, %ebp
    call *%rax
    /* ap_main does not return. */
1:  cli
    hlt
    jmp 1b

    /*
     * The accessed bit (type bit 0) is preset: otherwise loading a selector makes
     * the CPU write it into this page, which is mapped read-only once paging is on
     * (Bochs does that write and faults; QEMU TCG happens not to).
     */
    .balign 8
tramp_gdt:
    .quad 0
    .quad 0x00cf9b000000ffff        /* 0x08: 32-bit code, flat, accessed */
    .quad 0x00cf93000000ffff        /* 0x10: data, flat, accessed */
    .quad 0x00af9b000000ffff        /* 0x18: 64-bit code, accessed */
tramp_gdt_end:
    .balign 8
tramp_gdtr:
    .word tramp_gdt_end - tramp_gdt - 1
    .long 0                         /* physical base, filled in at run time */
    .balign 8
tramp_far_protected:                /* m16:32 far pointer, offset filled in at run time */
    .long 0
    .word TRAMP_CODE32_SEL
    .balign 8
tramp_far_long:
    .long 0
    .word TRAMP_CODE64_SEL

    .balign 8
    .global ap_trampoline_params
ap_trampoline_params:
    .skip AP_PARAMS_SIZE
    .global ap_trampoline_end
ap_trampoline_end:     /* smp.c checks that all of it fits in the one page it copies */
