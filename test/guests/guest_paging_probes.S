/* SPDX-License-Identifier: MIT */
/* guest_paging_probes: the paging guest's 32-bit phase hook, fault stubs and access probes (ring 0 and ring 3). */
#include "guest_ports.h"

#define SEL_UDATA 0x23      /* guest_long_entry.S's GDT: 0x20 | RPL 3 */
#define SEL_UCODE 0x2b      /* 0x28 | RPL 3 */

    .text

/* The 32-bit phase guest_long_entry.S calls with paging off: the legacy formats (guest_paging32.c). */
    .code32
    .globl guest_entry32
guest_entry32:
    call GUEST_PAGING32_LOAD
    mov %eax, tally32
    ret

    .code64
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

    .section .bss
    .balign 16
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
