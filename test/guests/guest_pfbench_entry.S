/* SPDX-License-Identifier: MIT */
/* guest_pfbench_entry: multiboot entry, the switch to long mode and the #PF stub of the page-fault benchmark guest. */
#include "guest_ports.h"

#define MB_MAGIC 0x1badb002
#define MB_FLAGS 0
#define SEL_CODE32 0x08
#define SEL_DATA 0x10
#define SEL_CODE64 0x18
#define MSR_EFER 0xc0000080
#define EFER_LME 0x100
#define EFER_NXE 0x800

    .section .text.entry, "ax"
    .code32
    .globl _start
mb_header:
    .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
    .long 0
_start:                                 /* GUEST_PAGING_ENTRY: flat 32-bit, paging off */
    cli
    lgdt gdt_desc
    ljmp $SEL_CODE32, $1f
1:  mov $SEL_DATA, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %ax, %fs
    mov %ax, %gs
    mov $stack_top, %esp
    /* Boot tables: the first 2 MiB identity (one 2 MiB page); C builds the real ones. */
    movl $boot_pdpt + 3, boot_pml4
    movl $boot_pd + 3, boot_pdpt
    movl $0x000083, boot_pd
    mov %cr4, %eax
    or $0x20, %eax                      /* PAE */
    mov %eax, %cr4
    mov $boot_pml4, %eax
    mov %eax, %cr3
    mov $MSR_EFER, %ecx
    rdmsr
    or $(EFER_LME | EFER_NXE), %eax
    wrmsr
    mov %cr0, %eax
    or $0x80010001, %eax                /* PG WP PE */
    mov %eax, %cr0
    ljmp $SEL_CODE64, $long_entry

    .code64
long_entry:
    mov $SEL_DATA, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $stack_top, %rsp
    call pfbench_main
2:  hlt
    jmp 2b

/* #PF: the C handler maps the page (demand paging) or reports and stops; then retry. */
    .globl pfb_pf_stub
pfb_pf_stub:
    push %rax
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %r8
    push %r9
    push %r10
    push %r11
    sub $8, %rsp                        /* 6 frame words + 9 saved + this: 16-byte aligned */
    mov %cr2, %rdi
    mov 80(%rsp), %rsi                  /* the error code */
    call pfb_page_fault
    add $8, %rsp
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rax
    add $8, %rsp
    iretq

/* Any other vector: stop (the C side reports it). */
    .globl pfb_other_stub
pfb_other_stub:
    call pfb_unexpected_trap
3:  hlt
    jmp 3b

    .section .data
    .balign 16
gdt:
    .quad 0
    .quad 0x00cf9b000000ffff            /* 0x08 code32 */
    .quad 0x00cf93000000ffff            /* 0x10 data */
    .quad 0x00af9b000000ffff            /* 0x18 code64 */
gdt_end:
gdt_desc:
    .word gdt_end - gdt - 1
    .long gdt

    .section .bss
    .balign 4096
boot_pml4: .skip 4096
boot_pdpt: .skip 4096
boot_pd: .skip 4096
    .skip 16384
stack_top:
