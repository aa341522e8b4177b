/* SPDX-License-Identifier: MIT */
/* probe: accesses that are expected to fault, each with an __ex_table fixup. */

.macro extable fault, fixup
    .pushsection __ex_table, "a"
    .balign 8
    .quad \fault, \fixup
    .popsection
.endm

    .section .text

/* bool probe_read64(uint64_t va, uint64_t *value_out) */
    .global probe_read64
probe_read64:
1:  mov (%rdi), %rax
    mov %rax, (%rsi)
    xor %eax, %eax
    ret
2:  mov $1, %eax
    ret
    extable 1b, 2b

/* bool probe_write64(uint64_t va, uint64_t value) */
    .global probe_write64
probe_write64:
1:  mov %rsi, (%rdi)
    xor %eax, %eax
    ret
2:  mov $1, %eax
    ret
    extable 1b, 2b

/* bool probe_divide_by_zero(void) */
    .global probe_divide_by_zero
probe_divide_by_zero:
    mov $1, %eax
    xor %edx, %edx
    xor %ecx, %ecx
1:  div %ecx
    xor %eax, %eax
    ret
2:  mov $1, %eax
    ret
    extable 1b, 2b

/* bool probe_ud2(void) */
    .global probe_ud2
probe_ud2:
1:  ud2
    xor %eax, %eax
    ret
2:  mov $1, %eax
    ret
    extable 1b, 2b

/* bool probe_int3(void): #BP is a trap, so the reported RIP is after int3. */
    .global probe_int3
probe_int3:
    int3
1:  xor %eax, %eax
    ret
2:  mov $1, %eax
    ret
    extable 1b, 2b

/* bool probe_exec(uint64_t va) */
    .global probe_exec
probe_exec:
    movabs $probe_exec_target, %rax
    mov %rdi, (%rax)
    xor %eax, %eax          /* the callee returns 0 if it ran; trap.c sets 1 on a fetch fault */
    call *%rdi
    movabs $probe_exec_target, %rcx
    movq $0, (%rcx)
    ret
