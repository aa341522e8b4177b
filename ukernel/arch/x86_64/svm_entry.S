/* SPDX-License-Identifier: MIT */
/* svm_entry: VMSAVE host, VMLOAD guest, guest GPRs in, VMRUN, guest GPRs out, VMSAVE guest, VMLOAD host. */

/* struct vcpu_arch.gpr[] is indexed by ModRM register number (vcpu_arch.h). */
#define GPR_RCX (1 * 8)
#define GPR_RDX (2 * 8)
#define GPR_RBX (3 * 8)
#define GPR_RBP (5 * 8)
#define GPR_RSI (6 * 8)
#define GPR_RDI (7 * 8)
#define GPR_R8 (8 * 8)
#define GPR_R9 (9 * 8)
#define GPR_R10 (10 * 8)
#define GPR_R11 (11 * 8)
#define GPR_R12 (12 * 8)
#define GPR_R13 (13 * 8)
#define GPR_R14 (14 * 8)
#define GPR_R15 (15 * 8)

    .section .text

/*
 * void svm_vmrun(uint64_t vmcb_pa, uint64_t *gpr, uint64_t host_save_pa)
 *
 * Called with GIF = 0 (CLGI) and RFLAGS.IF = 0. IF is set for VMRUN only: with
 * V_INTR_MASKING the host's IF decides whether a physical interrupt ends the guest
 * (INTR intercept), and GIF = 0 keeps it pending until the caller's STGI + STI.
 * VMRUN/#VMEXIT swap only RAX, RSP, RIP and the VMCB state: every other general
 * register comes back holding the guest's value. Between VMLOAD guest and VMLOAD
 * host the GS base is the guest's: nothing here may touch the per-CPU block.
 */
    .global svm_vmrun
svm_vmrun:
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    push %rsi                   /* gpr array, 8(%rsp) below */
    push %rdx                   /* host save area, 0(%rsp) */
    mov %rdx, %rax
    vmsave %rax                 /* host FS/GS/TR/LDTR, KernelGSBase, STAR.., SYSENTER_* */
    mov %rdi, %rax
    vmload %rax                 /* the guest's */
    mov GPR_RCX(%rsi), %rcx
    mov GPR_RDX(%rsi), %rdx
    mov GPR_RBX(%rsi), %rbx
    mov GPR_RBP(%rsi), %rbp
    mov GPR_RDI(%rsi), %rdi
    mov GPR_R8(%rsi), %r8
    mov GPR_R9(%rsi), %r9
    mov GPR_R10(%rsi), %r10
    mov GPR_R11(%rsi), %r11
    mov GPR_R12(%rsi), %r12
    mov GPR_R13(%rsi), %r13
    mov GPR_R14(%rsi), %r14
    mov GPR_R15(%rsi), %r15
    mov GPR_RSI(%rsi), %rsi
    sti                         /* takes effect after VMRUN's shadow; GIF still holds interrupts */
    vmrun %rax                  /* rax = VMCB pa; the host's rax comes back from the save area */
    cli
    push %rsi                   /* the guest's rsi, while we find the array again */
    mov 16(%rsp), %rsi
    mov %rcx, GPR_RCX(%rsi)
    mov %rdx, GPR_RDX(%rsi)
    mov %rbx, GPR_RBX(%rsi)
    mov %rbp, GPR_RBP(%rsi)
    mov %rdi, GPR_RDI(%rsi)
    mov %r8, GPR_R8(%rsi)
    mov %r9, GPR_R9(%rsi)
    mov %r10, GPR_R10(%rsi)
    mov %r11, GPR_R11(%rsi)
    mov %r12, GPR_R12(%rsi)
    mov %r13, GPR_R13(%rsi)
    mov %r14, GPR_R14(%rsi)
    mov %r15, GPR_R15(%rsi)
    popq GPR_RSI(%rsi)
    vmsave %rax                 /* the guest's FS/GS/... back into its VMCB */
    pop %rax
    vmload %rax                 /* the host's again: GS base = this CPU's block */
    add $8, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret
