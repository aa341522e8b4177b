/* SPDX-License-Identifier: MIT */
/* vcpu_vmx_entry: VMLAUNCH/VMRESUME with the guest's general registers and CR2, and the VM-exit stub. */

#include "vmx.h"

/* Guest register slots in struct vcpu_arch.gpr[], by ModRM number. */
#define G(n) (VMX_ARCH_GPR + 8 * (n))

    .section .text

/*
 * int vmx_enter(struct vcpu_arch *v, uint32_t launched)
 *
 * Called with interrupts off and the vCPU's VMCS current on this CPU. Saves the
 * host's callee-saved registers, points HOST_RSP at this frame (HOST_RIP is
 * vmx_exit_stub, written at setup), loads guest CR2 and GPRs and enters with
 * VMRESUME if `launched`, else VMLAUNCH. Returns VMX_ENTRY_OK after the VM exit
 * (guest GPRs and CR2 saved back into *v), or VMX_ENTRY_FAIL_* if the instruction
 * itself failed (nothing of the guest ran; *v unchanged).
 */
    .globl vmx_enter
    .type vmx_enter, @function
vmx_enter:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    pushq %rdi                      /* the exit stub finds v at 0(%rsp) */
    movq $VMCS_HOST_RSP_ENC, %rax
    vmwrite %rsp, %rax
    jbe .Lfail                      /* CF or ZF: no current VMCS */

    movq VMX_ARCH_CR2(%rdi), %rax
    movq %rax, %cr2                 /* leaves the arithmetic flags undefined: test after */
    testl %esi, %esi                /* ZF = not launched; the MOVs below keep the flags */
    movq G(0)(%rdi), %rax
    movq G(1)(%rdi), %rcx
    movq G(2)(%rdi), %rdx
    movq G(3)(%rdi), %rbx
    movq G(5)(%rdi), %rbp
    movq G(6)(%rdi), %rsi
    movq G(8)(%rdi), %r8
    movq G(9)(%rdi), %r9
    movq G(10)(%rdi), %r10
    movq G(11)(%rdi), %r11
    movq G(12)(%rdi), %r12
    movq G(13)(%rdi), %r13
    movq G(14)(%rdi), %r14
    movq G(15)(%rdi), %r15
    movq G(7)(%rdi), %rdi
    jz .Llaunch
    vmresume
    jmp .Lfail
.Llaunch:
    vmlaunch
    /* Falls through only on VMfail: CF = VMfailInvalid, ZF = VMfailValid. */
.Lfail:
    movl $VMX_ENTRY_FAIL_INVALID, %eax  /* MOV keeps the flags */
    jc .Lout
    movl $VMX_ENTRY_FAIL_VALID, %eax
    jmp .Lout

/* HOST_RIP: the CPU arrives here on every VM exit, RSP = the frame above, IF = 0. */
    .globl vmx_exit_stub
    .type vmx_exit_stub, @function
vmx_exit_stub:
    pushq %rdi                      /* guest RDI */
    movq 8(%rsp), %rdi              /* v */
    movq %rax, G(0)(%rdi)
    movq %rcx, G(1)(%rdi)
    movq %rdx, G(2)(%rdi)
    movq %rbx, G(3)(%rdi)
    movq %rbp, G(5)(%rdi)
    movq %rsi, G(6)(%rdi)
    movq %r8, G(8)(%rdi)
    movq %r9, G(9)(%rdi)
    movq %r10, G(10)(%rdi)
    movq %r11, G(11)(%rdi)
    movq %r12, G(12)(%rdi)
    movq %r13, G(13)(%rdi)
    movq %r14, G(14)(%rdi)
    movq %r15, G(15)(%rdi)
    popq %rax
    movq %rax, G(7)(%rdi)
    movq %cr2, %rax
    movq %rax, VMX_ARCH_CR2(%rdi)
    xorl %eax, %eax                 /* VMX_ENTRY_OK */
.Lout:
    popq %rdi
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size vmx_enter, . - vmx_enter
