/* SPDX-License-Identifier: MIT */
/* boot: multiboot2 header and the 32-bit entry that switches to 64-bit long mode in the higher half. */
#include "layout.h"

#define MB2_HEADER_MAGIC 0xe85250d6
#define MB2_ARCH_I386 0
#define CR0_PG (1 << 31)
#define CR0_WP (1 << 16)
#define CR4_PAE (1 << 5)
#define MSR_EFER 0xc0000080
#define EFER_LME (1 << 8)
#define EFER_NXE (1 << 11)
#define PTE_PW 0x3          /* present | writable */
#define PTE_PS 0x80         /* 2 MiB page at the PD level */
#define COM1 0x3f8

/* ---- multiboot2 header: must lie in the first 32 KiB of the image, 8-byte aligned ---- */
    .section .multiboot2, "a"
    .balign 8
mb2_header:
    .long MB2_HEADER_MAGIC
    .long MB2_ARCH_I386
    .long mb2_header_end - mb2_header
    .long -(MB2_HEADER_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header))
    /* module alignment tag: modules start on page boundaries (they become frames) */
    .balign 8
    .word 6, 0
    .long 8
    /* end tag */
    .balign 8
    .word 0, 0
    .long 8
mb2_header_end:

/* ---- 32-bit protected-mode entry (linked and run at its physical address) ---- */
    .section .boot.text, "ax"
    .code32
    .global _start
_start:
    cli
    cld
    /* eax = multiboot2 magic, ebx = physical address of the information structure. */
    mov %eax, %ebp          /* kept in ebp/esi until kernel_main(magic, info) */
    mov %ebx, %esi
    mov $boot_stack32_top, %esp

    /* Long mode is required: CPUID 0x80000001 EDX bit 29. */
    mov $0x80000000, %eax
    cpuid
    cmp $0x80000001, %eax
    jb no_long_mode
    mov $0x80000001, %eax
    cpuid
    test $(1 << 29), %edx
    jz no_long_mode

    /*
     * Boot page tables: the first 1 GiB mapped with 2 MiB pages, reachable from three
     * places: identity (to survive the switch), PHYSMAP_BASE (to read the multiboot2
     * information from C) and KERNEL_VMA (where the C code is linked). C replaces
     * them with the final tables in arch_paging_init().
     */
    /* The loader zeroes bss, but the tables must be zero even if it did not. */
    mov $boot_tables_start, %edi
    mov $((boot_tables_end - boot_tables_start) / 4), %ecx
    xor %eax, %eax
    rep stosl
    mov $boot_pd, %ebx
    xor %ecx, %ecx
1:  mov %ecx, %eax
    shl $21, %eax
    or $(PTE_PW | PTE_PS), %eax
    mov %eax, (%ebx, %ecx, 8)
    movl $0, 4(%ebx, %ecx, 8)
    inc %ecx
    cmp $512, %ecx
    jb 1b

    mov $boot_pd, %eax
    or $PTE_PW, %eax
    mov %eax, boot_pdpt_low
    mov %eax, boot_pdpt_high + 510 * 8          /* 0xffffffff80000000 -> 0 */

    mov $boot_pdpt_low, %eax
    or $PTE_PW, %eax
    mov %eax, boot_pml4                          /* identity */
    mov %eax, boot_pml4 + 256 * 8                /* PHYSMAP_BASE */
    mov $boot_pdpt_high, %eax
    or $PTE_PW, %eax
    mov %eax, boot_pml4 + 511 * 8                /* KERNEL_VMA */

    mov %cr4, %eax
    or $CR4_PAE, %eax
    mov %eax, %cr4
    mov $boot_pml4, %eax
    mov %eax, %cr3
    mov $MSR_EFER, %ecx
    rdmsr
    or $(EFER_LME | EFER_NXE), %eax
    wrmsr
    mov %cr0, %eax
    or $(CR0_PG | CR0_WP), %eax
    mov %eax, %cr0

    lgdt boot_gdt_ptr
    ljmp $0x08, $long_mode_entry

no_long_mode:
    mov $no_lm_msg, %esi
2:  lodsb
    test %al, %al
    jz 3f
    mov $COM1, %dx
    out %al, %dx
    jmp 2b
3:  hlt
    jmp 3b

    .code64
long_mode_entry:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %eax, %eax
    mov %ax, %fs
    mov %ax, %gs
    movabs $higher_half_entry, %rax
    jmp *%rax

    .section .boot.rodata, "a"
no_lm_msg:
    .asciz "hv: this CPU has no 64-bit long mode; cannot boot\r\n"
    .balign 8
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff     /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff     /* 0x10: data */
boot_gdt_end:
boot_gdt_ptr:
    .word boot_gdt_end - boot_gdt - 1
    .long boot_gdt

    .section .boot.bss, "aw", @nobits
    .balign 4096
    .global boot_pml4
boot_tables_start:
boot_pml4:      .skip 4096
boot_pdpt_low:  .skip 4096
boot_pdpt_high: .skip 4096
boot_pd:        .skip 4096
boot_tables_end:
boot_stack32:   .skip 1024
boot_stack32_top:

/* ---- 64-bit code in the higher half ---- */
    .section .text
    .code64
higher_half_entry:
    /* Zero .bss (it holds the stack we are about to use) before any C runs. */
    mov %rsi, %rbx
    movabs $__bss_start, %rdi
    movabs $__bss_end, %rcx
    sub %rdi, %rcx
    xor %eax, %eax
    rep stosb
    movabs $boot_stack_top, %rsp
    mov %ebp, %edi          /* magic */
    mov %ebx, %esi          /* information structure, physical (zero-extended) */
    xor %ebp, %ebp
    call kernel_main
4:  cli
    hlt
    jmp 4b

    .section .bss
    .balign 16
    .global boot_stack_bottom
boot_stack_bottom:
    .skip KERNEL_STACK_SIZE
    .global boot_stack_top
boot_stack_top:
