/* SPDX-License-Identifier: MIT */
/* guest_paging_entry: multiboot entry, the switch to long mode, fault stubs and access probes of the paging guest. */
#include "guest_ports.h"

#define MB_MAGIC 0x1badb002
#define MB_FLAGS 0
#define SEL_CODE32 0x08
#define SEL_DATA 0x10
#define SEL_CODE64 0x18
#define SEL_UDATA 0x23      /* 0x20 | RPL 3 */
#define SEL_UCODE 0x2b      /* 0x28 | RPL 3 */
#define SEL_TSS 0x30
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
    /* The legacy phase (32-bit paging, PAE: guest_paging32.c) runs first, paging off around it. */
    call GUEST_PAGING32_LOAD
    mov %eax, tally32
    lgdt gdt_desc
    ljmp $SEL_CODE32, $2f
2:  mov $SEL_DATA, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    /* Boot tables: the first 4 MiB identity, 2 MiB pages, user-accessible. */
    movl $boot_pdpt + 7, boot_pml4
    movl $boot_pd + 7, boot_pdpt
    movl $0x000087, boot_pd
    movl $0x200087, boot_pd + 8
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
    call paging_main
2:  hlt
    jmp 2b

/* --- fault stubs --- */

/* #PF: record; from ring 3 back to user_probe's caller, else resume at recover_rip. */
    .globl pf_stub
pf_stub:
    mov %cr2, %rax
    mov %rax, last_cr2(%rip)
    mov (%rsp), %rax
    mov %rax, last_ec(%rip)
    movq $14, last_vec(%rip)
    testq $3, 16(%rsp)
    jnz user_fault
    mov recover_rip(%rip), %rax
    mov %rax, 8(%rsp)
    add $8, %rsp
    iretq

/* Any other vector: record it and stop (the report shows it). */
    .globl other_stub
other_stub:
    movq $0xff, last_vec(%rip)
    call unexpected_trap
3:  hlt
    jmp 3b

/* int $0x80 from ring 3: the probe completed. */
    .globl user_done_stub
user_done_stub:
    xor %eax, %eax
    jmp user_return
user_fault:
    mov $1, %eax
    jmp user_return

/* --- probes: 0 = access done, 1 = it faulted (last_* hold what the #PF said) --- */

    .globl probe_read
probe_read:
    lea 1f(%rip), %rax
    mov %rax, recover_rip(%rip)
    movb (%rdi), %al
    movzbl %al, %eax
    mov %rax, last_value(%rip)
    xor %eax, %eax
    ret
1:  mov $1, %eax
    ret

    .globl probe_write
probe_write:
    lea 1f(%rip), %rax
    mov %rax, recover_rip(%rip)
    movb $0x5a, (%rdi)
    xor %eax, %eax
    ret
1:  mov $1, %eax
    ret

    .globl probe_exec
probe_exec:
    lea 1f(%rip), %rax
    mov %rax, recover_rip(%rip)
    call *%rdi                          /* the target is a RET */
    xor %eax, %eax
    ret
1:  pop %rcx                            /* the return address the CALL pushed */
    mov $1, %eax
    ret

/* user_probe(kind 0 read / 1 write / 2 exec, addr): the access from ring 3. */
    .globl user_probe
user_probe:
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, kern_rsp(%rip)
    pushq $SEL_UDATA
    pushq $user_stack_top
    pushq $2
    pushq $SEL_UCODE
    lea user_stub(%rip), %rax
    push %rax
    iretq
user_return:
    mov kern_rsp(%rip), %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    ret

user_stub:
    cmp $0, %rdi
    je 1f
    cmp $1, %rdi
    je 2f
    call *%rsi
    jmp 3f
1:  movb (%rsi), %al
    jmp 3f
2:  movb $0x5a, (%rsi)
3:  int $0x80
4:  jmp 4b

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
    .skip 8192
stack_top:
    .skip 4096
intr_stack_top:
    .skip 4096
user_stack_top:
    .balign 16
tss: .skip 104
kern_rsp: .quad 0
    .globl tally32
tally32: .quad 0                        /* struct tally * of the legacy phase */
    .globl recover_rip, last_cr2, last_ec, last_vec, last_value
recover_rip: .quad 0
last_cr2: .quad 0
last_ec: .quad 0
last_vec: .quad 0
last_value: .quad 0

    /* The legacy phase, a -m32 blob linked at GUEST_PAGING32_LOAD. */
    .section .paging32, "awx"
    .incbin "guest_paging32.blob"
