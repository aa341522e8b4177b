/* SPDX-License-Identifier: MIT */
/* guest_long_entry: the multiboot entry and switch to long mode shared by the long-mode test guests (guest_paging, guest_pfbench). */
#include "guest_ports.h"

/*
 * Linked first in each guest (its .text.entry at GUEST_PAGING_LOAD): the multiboot
 * header, then _start at GUEST_PAGING_ENTRY, entered flat 32-bit with paging off (by
 * QEMU -kernel, GRUB under Bochs, or the test vmm in the same state). It sets COM1 to
 * 8N1, loads its GDT, calls the guest's 32-bit phase guest_entry32 (paging off; a
 * guest without one gets the weak default below, which returns at once) and loads the
 * GDT again, since that phase may load its own. Then boot tables (the first 4 MiB
 * identity, 2 MiB pages, user-accessible: the guest builds its real ones), PAE,
 * EFER.LME|NXE, CR0.PG|WP, long mode, a TSS (ring-0 stack intr_stack_top for traps
 * from ring 3) and guest_main(), which does not return.
 */

#define MB_MAGIC 0x1badb002
#define MB_FLAGS 0
#define SEL_CODE32 0x08
#define SEL_DATA 0x10
#define SEL_CODE64 0x18
#define SEL_TSS 0x30
#define MSR_EFER 0xc0000080
#define EFER_LME 0x100
#define EFER_NXE 0x800
#define CR4_PAE 0x20
#define CR0_PG_WP_PE 0x80010001
#define BOOT_PDE_2M_USER 0x87           /* P RW US PS */
#define BOOT_TABLE_USER 7               /* P RW US */

    .section .text.entry, "ax"
    .code32
    .globl _start
mb_header:
    .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
    .long 0
_start:                                 /* GUEST_PAGING_ENTRY: flat 32-bit, paging off */
    cli
    mov $GUEST_COM1_LCR_8N1, %al        /* COM1 8N1: Bochs's UART starts with 5 data bits */
    mov $GUEST_PORT_COM1_LCR, %dx
    out %al, %dx
    lgdt gdt_desc
    ljmp $SEL_CODE32, $1f
1:  mov $SEL_DATA, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %ax, %fs
    mov %ax, %gs
    mov $stack_top, %esp
    call guest_entry32
    lgdt gdt_desc
    ljmp $SEL_CODE32, $2f
2:  mov $SEL_DATA, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    movl $boot_pdpt + BOOT_TABLE_USER, boot_pml4
    movl $boot_pd + BOOT_TABLE_USER, boot_pdpt
    movl $(0x000000 + BOOT_PDE_2M_USER), boot_pd
    movl $(0x200000 + BOOT_PDE_2M_USER), boot_pd + 8
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
    or $CR0_PG_WP_PE, %eax
    mov %eax, %cr0
    ljmp $SEL_CODE64, $long_entry

/* The default 32-bit phase: none. */
    .weak guest_entry32
guest_entry32:
    ret

    .code64
long_entry:
    mov $SEL_DATA, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $stack_top, %rsp
    /* TSS descriptor (base = tss), then load TR. */
    lea tss(%rip), %rax
    mov %ax, gdt + SEL_TSS + 2
    shr $16, %rax
    mov %al, gdt + SEL_TSS + 4
    mov %ah, gdt + SEL_TSS + 7
    shr $16, %rax
    mov %eax, gdt + SEL_TSS + 8
    movq $intr_stack_top, tss + 4
    mov $SEL_TSS, %ax
    ltr %ax
    call guest_main
3:  hlt
    jmp 3b

    .section .data
    .balign 16
gdt:
    .quad 0
    .quad 0x00cf9b000000ffff            /* 0x08 code32 */
    .quad 0x00cf93000000ffff            /* 0x10 data */
    .quad 0x00af9b000000ffff            /* 0x18 code64 */
    .quad 0x00cff3000000ffff            /* 0x20 user data */
    .quad 0x00affb000000ffff            /* 0x28 user code64 */
    .quad 0x0000890000000067            /* 0x30 TSS (base filled in) */
    .quad 0
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
    .skip 4096
intr_stack_top:
    .skip 4096
    .globl user_stack_top
user_stack_top:                         /* ring 3's stack, for guests that go there */
    .balign 16
tss: .skip 104
