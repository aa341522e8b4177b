/* SPDX-License-Identifier: MIT */
/* guest_pfbench_traps: the trap stubs of the page-fault benchmark guest (#PF to its demand pager, any other vector stops). */
    .text
    .code64

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
