/* SPDX-License-Identifier: MIT */
/* guest_smp: a tiny 2-CPU guest in bzImage form for the real vmm — the BSP starts the AP by INIT/SIPI/SIPI, the AP runs real-mode then protected-mode code, IPIs go both ways, then the AP is restarted. */

/*
 * Loaded by the vmm's Linux loader like guest_bzimage.S (pref_address 1 MiB, entered in
 * 64-bit mode at +0x200 with the first 4 GiB identity-mapped); talks on COM1. Only the BSP
 * prints. The AP's start: the real-mode trampoline copied to 0x8000 (SIPI vector 0x08)
 * marks that it ran and stores its initial APIC ID (CPUID leaf 1), loads a flat GDT and
 * jumps to 32-bit protected mode (no paging) in this image, where it sets an IDT (vector
 * 0x40: count, EOI, answer the BSP with vector 0x41; vector 2: count NMIs), enables its
 * local APIC with logical ID bit 1 (flat model), records its LAPIC ID register, and halts
 * with interrupts on. Checks (PASS:/FAIL: smp.*, then SUMMARY, then S5):
 *   ap_real_mode, ap_protected_mode, ap_cpuid_apic_id, ap_lapic_id, bsp_lapic_id,
 *   ipi_bsp_to_ap, ipi_ap_to_bsp (fixed, physical), tsc_consistent (the AP's TSC, read in
 *   its IPI handler, lies between the BSP's readings around the IPI), ipi_all_but_self,
 *   ipi_logical (flat logical destination), nmi_ipi, sipi_to_started_ignored (a SIPI with
 *   vector 0x09 to the started AP: the stub at 0x9000 must not run), ap_restart (INIT and
 *   SIPI again to the halted AP: the trampoline runs again), ipi_after_restart.
 */
#define LOAD 0x100000
#define PM(x) ((x) - pm_start + LOAD)
#define PM_TMR 0x608                    /* 24-bit, 3.579545 MHz */
#define WAIT_TICKS (3579545 * 3)        /* a condition gets 3 s of VM time */
#define SHORT_TICKS (3579545 / 5)       /* 0.2 s: time for something that must not happen */
#define LAPIC 0xfee00000
#define LAPIC_ID 0x20
#define LAPIC_EOI 0xb0
#define LAPIC_LDR 0xd0
#define LAPIC_SVR 0xf0
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define TRAMP 0x8000                    /* SIPI vector 0x08 */
#define BAD_STUB 0x9000                 /* SIPI vector 0x09: must never run */
#define BAD_FLAG (BAD_STUB + 0x100)
#define T(x) ((x) - tramp_start + TRAMP)
#define VEC_AP 0x40
#define VEC_BSP 0x41
#define ICR_FIXED 0x4000                /* assert, fixed, physical */
#define ICR_LOGICAL (1 << 11)
#define ICR_NMI 0x4400
#define ICR_INIT 0xc500                 /* level, assert */
#define ICR_INIT_DEASSERT 0x8500
#define ICR_SIPI 0x4600
#define ICR_ALL_BUT_SELF (3 << 18)

/* send_ipi dest, icr: the ICR's high word (destination) then its low word (sends). */
.macro send_ipi dest, icr
    movl $\dest, LAPIC_ICR_HI(%rbx)
    movl $\icr, LAPIC_ICR_LO(%rbx)
.endm
/* expect_ge counter, n, name: wait (wait_ge) until the word at the address `counter`
 * reaches n, and report the check `name` (PASS when it did). */
.macro expect_ge counter, n, name
    lea \counter, %rdi
    mov $\n, %esi
    call wait_ge
    lea \name(%rip), %rsi
    call report
.endm
/* ipi_check dest, icr, counter, n, name: send an IPI, then expect_ge counter, n, name. */
.macro ipi_check dest, icr, counter, n, name
    send_ipi \dest, \icr
    expect_ge \counter, \n, \name
.endm

#include "bzimage_header.inc"
entry64:
    lea stack_top(%rip), %rsp
    lea msg_start(%rip), %rsi
    call puts
    xor %r12d, %r12d                /* failures */
    mov $LAPIC, %ebx                /* %rbx: the local APIC (no sign-extended disp32 in 64-bit mode) */

    /* The BSP's IDT: vector 0x41 counts the AP's IPIs. */
    lea bsp_ipi_handler(%rip), %rax
    lea idt64 + VEC_BSP * 16(%rip), %rdi
    mov %ax, (%rdi)
    mov %cs, %dx
    mov %dx, 2(%rdi)
    movw $0x8e00, 4(%rdi)
    shr $16, %rax
    mov %ax, 6(%rdi)
    shr $16, %rax
    mov %eax, 8(%rdi)
    movl $0, 12(%rdi)
    lidt idt64_desc(%rip)
    movl $0x1ff, LAPIC_SVR(%rbx)    /* software-enabled, spurious vector 0xff */

    /* The trampoline at 0x8000 and the stub that must not run at 0x9000. */
    lea tramp_start(%rip), %rsi
    mov $TRAMP, %edi
    mov $tramp_end - tramp_start, %ecx
    rep movsb
    lea bad_start(%rip), %rsi
    mov $BAD_STUB, %edi
    mov $bad_end - bad_start, %ecx
    rep movsb
    movl $0, BAD_FLAG

    call start_ap                   /* INIT, INIT de-assert, SIPI, SIPI (the second: ignored) */
    expect_ge T(tramp_state), 1, name_real
    expect_ge ap_state(%rip), 2, name_protected
    mov T(tramp_apicid), %eax       /* stored before the switch to protected mode */
    cmp $1, %eax
    lea name_cpuid_id(%rip), %rsi
    call report
    mov ap_lapic_id(%rip), %eax
    cmp $0x01000000, %eax
    lea name_ap_lapic_id(%rip), %rsi
    call report
    mov LAPIC_ID(%rbx), %eax
    cmp $0, %eax
    lea name_bsp_lapic_id(%rip), %rsi
    call report
    sti

    /* Fixed IPI to APIC 1; the AP answers with one to APIC 0. */
    ipi_check 0x01000000, ICR_FIXED | VEC_AP, ap_ipis(%rip), 1, name_ipi_to_ap
    expect_ge bsp_ipis(%rip), 1, name_ipi_to_bsp

    /* The AP's TSC (stamped by its IPI handler) lies between two BSP readings around the IPI. */
    rdtsc
    shl $32, %rdx
    or %rax, %rdx
    mov %rdx, %r14
    send_ipi 0x01000000, ICR_FIXED | VEC_AP
    lea ap_ipis(%rip), %rdi
    mov $2, %esi
    call wait_ge
    rdtsc
    shl $32, %rdx
    or %rax, %rdx
    mov ap_tsc(%rip), %rax
    cmp %r14, %rax
    jb 11f
    cmp %rdx, %rax
    ja 11f
    xor %eax, %eax                  /* ZF: t0 <= ap_tsc <= t1 */
    jmp 12f
11: or $1, %eax
12: lea name_tsc(%rip), %rsi
    call report

    /* All excluding self. */
    ipi_check 0, ICR_ALL_BUT_SELF | ICR_FIXED | VEC_AP, ap_ipis(%rip), 3, name_ipi_others

    /* Logical, flat model: the AP's LDR is bit 1. */
    ipi_check 0x02000000, ICR_LOGICAL | ICR_FIXED | VEC_AP, ap_ipis(%rip), 4, name_ipi_logical

    /* NMI to APIC 1. */
    ipi_check 0x01000000, ICR_NMI, ap_nmis(%rip), 1, name_nmi

    /* A SIPI to the started AP does nothing: the stub at 0x9000 must not run. */
    send_ipi 0x01000000, ICR_SIPI | (BAD_STUB >> 12)
    mov $SHORT_TICKS, %r13d
    call delay
    mov BAD_FLAG, %eax
    cmp $0, %eax
    lea name_sipi_ignored(%rip), %rsi
    call report

    /* Restart the (halted) AP: INIT and SIPI again, the trampoline runs again. */
    movl $0, T(tramp_state)
    movl $0, ap_state(%rip)
    call start_ap
    expect_ge ap_state(%rip), 2, name_restart
    ipi_check 0x01000000, ICR_FIXED | VEC_AP, ap_ipis(%rip), 5, name_ipi_again
    jmp summary_power_off

/* INIT (assert, de-assert), then two SIPIs with vector 0x08, to APIC 1. */
start_ap:
    send_ipi 0x01000000, ICR_INIT
    send_ipi 0x01000000, ICR_INIT_DEASSERT
    send_ipi 0x01000000, ICR_SIPI | (TRAMP >> 12)
    send_ipi 0x01000000, ICR_SIPI | (TRAMP >> 12)
    ret

/* wait_ge: until the word at %rdi >= %esi or WAIT_TICKS of the PM timer; returns ZF =
 * reached. wait_ge_ticks: the same with %r13 ticks. */
wait_ge:
    mov $WAIT_TICKS, %r13d
wait_ge_ticks:
    xor %r8d, %r8d
    mov $PM_TMR, %dx
    in %dx, %eax
    mov %eax, %r9d
2:  cmp %esi, (%rdi)
    jae 3f
    pause
    in %dx, %eax
    mov %eax, %r10d
    sub %r9d, %eax
    and $0xffffff, %eax
    add %rax, %r8
    mov %r10d, %r9d
    cmp %r13, %r8
    jb 2b
    cmp %esi, (%rdi)
    jae 3f
    or $1, %eax                     /* not reached: ZF clear */
    ret
3:  xor %eax, %eax                  /* reached: ZF set */
    ret

/* delay: %r13 PM timer ticks (a wait for a word that stays 0 to reach 1). */
delay:
    lea never_set(%rip), %rdi
    mov $1, %esi
    jmp wait_ge_ticks

#include "bzimage_report.inc"

bsp_ipi_handler:
    push %rax
    lock incl bsp_ipis(%rip)
    mov $LAPIC + LAPIC_EOI, %eax
    movl $0, (%rax)
    pop %rax
    iretq

/* ---- the AP in 32-bit protected mode, flat, no paging ---- */
    .code32
ap_pm32:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %ax, %fs
    mov %ax, %gs
    mov $PM(ap_stack_top), %esp
    lidt PM(ap_idt_desc)
    movl $0x1ff, LAPIC + LAPIC_SVR
    movl $0x02000000, LAPIC + LAPIC_LDR
    mov LAPIC + LAPIC_ID, %eax
    mov %eax, PM(ap_lapic_id)
    movl $2, PM(ap_state)
    sti
9:  hlt
    jmp 9b

ap_ipi_handler:
    push %eax
    push %edx
    rdtsc
    mov %eax, PM(ap_tsc)
    mov %edx, PM(ap_tsc) + 4
    pop %edx
    pop %eax
    lock incl PM(ap_ipis)
    movl $0, LAPIC + LAPIC_EOI
    movl $0, LAPIC + LAPIC_ICR_HI
    movl $ICR_FIXED | VEC_BSP, LAPIC + LAPIC_ICR_LO
    iret

ap_nmi_handler:
    lock incl PM(ap_nmis)
    iret

/* ---- the AP's real-mode start, copied to TRAMP ---- */
    .code16
tramp_start:
    cli
    mov %cs, %ax
    mov %ax, %ds
    movl $1, %ds:(tramp_state - tramp_start)
    mov $1, %eax
    cpuid
    shr $24, %ebx
    mov %ebx, %ds:(tramp_apicid - tramp_start)
    lgdtl %ds:(tramp_gdtr - tramp_start)
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $0x08, $PM(ap_pm32)
    .p2align 2
tramp_gdtr:
    .word ap_gdt_end - ap_gdt - 1
    .long PM(ap_gdt)
tramp_state:
    .long 0
tramp_apicid:
    .long 0xff
tramp_end:

/* The stub for SIPI vector 0x09: marks BAD_FLAG and halts (a correct vmm never runs it). */
bad_start:
    mov %cs, %ax
    mov %ax, %ds
    movl $1, %ds:0x100
10: cli
    hlt
    jmp 10b
bad_end:
    .code64

    .p2align 3
ap_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff        /* 0x08: 32-bit code, flat */
    .quad 0x00cf92000000ffff        /* 0x10: data, flat */
ap_gdt_end:

/* The AP's 32-bit IDT: vector 2 (NMI) and VEC_AP, nothing else present. */
#define GATE32(h) .word PM(h) & 0xffff, 0x08, 0x8e00, PM(h) >> 16
    .p2align 3
ap_idt:
    .fill 2, 8, 0
    GATE32(ap_nmi_handler)
    .fill VEC_AP - 3, 8, 0
    GATE32(ap_ipi_handler)
ap_idt_end:
ap_idt_desc:
    .word ap_idt_end - ap_idt - 1
    .long PM(ap_idt)

    .p2align 4
idt64:
    .fill (VEC_BSP + 1) * 2, 8, 0
idt64_end:
idt64_desc:
    .word idt64_end - idt64 - 1
    .quad PM(idt64)

    .p2align 2
ap_state:    .long 0
ap_lapic_id: .long 0
ap_ipis:     .long 0
ap_nmis:     .long 0
bsp_ipis:    .long 0
never_set:   .long 0
    .p2align 3
ap_tsc:      .quad 0

msg_start:   .asciz "guest_smp: starting\n"
name_real:         .asciz "smp.ap_real_mode"
name_cpuid_id:     .asciz "smp.ap_cpuid_apic_id"
name_protected:    .asciz "smp.ap_protected_mode"
name_ap_lapic_id:  .asciz "smp.ap_lapic_id"
name_bsp_lapic_id: .asciz "smp.bsp_lapic_id"
name_ipi_to_ap:    .asciz "smp.ipi_bsp_to_ap"
name_ipi_to_bsp:   .asciz "smp.ipi_ap_to_bsp"
name_tsc:          .asciz "smp.tsc_consistent"
name_ipi_others:   .asciz "smp.ipi_all_but_self"
name_ipi_logical:  .asciz "smp.ipi_logical"
name_nmi:          .asciz "smp.nmi_ipi"
name_sipi_ignored: .asciz "smp.sipi_to_started_ignored"
name_restart:      .asciz "smp.ap_restart"
name_ipi_again:    .asciz "smp.ipi_after_restart"
msg_summary: .asciz "SUMMARY: 14 tests, "
    .p2align 4
    .fill 1024, 1, 0
stack_top:
    .fill 1024, 1, 0
ap_stack_top:
    .p2align 4
pm_end:
