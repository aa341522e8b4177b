/* SPDX-License-Identifier: MIT */
/* guest_bzimage: a tiny guest in bzImage form for the real vmm's Linux loader — a well-behaved one (wild MMIO survived, ACPI power-off) or, with GUEST_BAD, one the vmm must stop. */

/*
 * The file is what Documentation/arch/x86/boot.rst describes: a boot sector and one setup
 * sector holding the setup header, then the protected-mode part, which the loader places
 * at pref_address (1 MiB; not relocatable) and enters in 64-bit mode at +0x200 with the
 * first 4 GiB identity-mapped. It talks on the platform's COM1 (0x3f8).
 *
 * Good (vm "good"): an MMIO write and read where no device is (the vmm reports it, the
 * read gives all ones), the local APIC's and the I/O APIC's version registers, SSE moves
 * (movdqu, movaps) loading from and storing to MMIO with another XMM register kept, its
 * checks as PASS:/FAIL: good.* and a SUMMARY, then S5 through the ACPI PM1a control port.
 * It first waits 2 s on the PM timer: two vmms write the one console a character at a
 * time, and its check lines must not interleave with the bad VM's report.
 * Bad (vm "bad", GUEST_BAD): an x87 load from the local APIC page, which no emulator
 * does: #UD is injected, and with no IDT that becomes a triple fault: the vmm must stop
 * this VM, say why, and exit 1 — nothing else in the appliance may notice.
 */
#define LOAD 0x100000
#define PM(x) ((x) - pm_start + LOAD)
#define PM_TMR 0x608                    /* 24-bit, 3.579545 MHz */
#define PM_TMR_QUIET (3579545 * 2)      /* the good guest first waits 2 s (see below) */
#define NO_DEVICE_GPA 0xd0000000
#define LAPIC_VERSION 0xfee00030
#define IOAPIC_BASE 0xfec00000
#define LAPIC_VERSION_VALUE 0x50014     /* the vmm's LAPIC model: 6 LVT entries, version 0x14 */
#define LAPIC_TPR 0xfee00080
#define CR4_OSFXSR 0x200

#include "bzimage_header.inc"
entry64:
    lea stack_top(%rip), %rsp
#ifdef GUEST_BAD
    lea msg_bad(%rip), %rsi
    call puts
    lidt empty_idt(%rip)
    mov $LAPIC_VERSION, %rbx
    flds (%rbx)                     /* no emulator does x87 on MMIO: #UD, then no IDT */
    lea msg_alive(%rip), %rsi       /* not reached */
    call puts
1:  hlt
    jmp 1b
#else
    /* 2 s on the PM timer (24 bits: sum the deltas). */
    xor %r8d, %r8d
    mov $PM_TMR, %dx
    in %dx, %eax
    mov %eax, %r9d
6:  in %dx, %eax
    mov %eax, %r10d
    sub %r9d, %eax
    and $0xffffff, %eax
    add %rax, %r8
    mov %r10d, %r9d
    cmp $PM_TMR_QUIET, %r8
    jb 6b

    lea msg_good(%rip), %rsi
    call puts
    xor %r12d, %r12d                /* failures */

    mov $NO_DEVICE_GPA, %rbx
    movl $0x12345678, (%rbx)
    mov (%rbx), %eax
    lea name_wild(%rip), %rsi
    cmp $0xffffffff, %eax
    call report

    mov $LAPIC_VERSION, %rbx
    mov (%rbx), %eax
    and $0xff, %eax
    lea name_lapic(%rip), %rsi
    cmp $0x14, %eax
    call report

    mov $IOAPIC_BASE, %rbx
    movl $1, (%rbx)                 /* IOREGSEL: the version register */
    mov 0x10(%rbx), %eax            /* IOWIN */
    and $0xff, %eax
    lea name_ioapic(%rip), %rsi
    cmp $0x11, %eax
    call report

    /* SSE moves to and from MMIO: the vmm's emulator needs the guest's XMM registers
     * (VCPU_READ_VEC) and writes a loaded one back (VCPU_WRITE_VEC). 16-byte accesses are
     * split into 8-byte device accesses: the LAPIC answers its register's dword, zeros. */
    mov %cr4, %rax
    or $CR4_OSFXSR, %rax
    mov %rax, %cr4
    movdqa keep_pattern(%rip), %xmm4        /* must survive the emulated loads below */
    mov $LAPIC_VERSION, %rbx
    movdqu (%rbx), %xmm0                    /* unaligned-form load from MMIO */
    movq %xmm0, %rax
    psrldq $8, %xmm0
    movq %xmm0, %rcx
    lea name_sse_lapic(%rip), %rsi
    cmp $LAPIC_VERSION_VALUE, %rax
    jne 7f
    test %rcx, %rcx
7:  call report

    mov $NO_DEVICE_GPA, %rbx
    movaps (%rbx), %xmm5                    /* aligned load where no device is: all ones */
    movq %xmm5, %rax
    psrldq $8, %xmm5
    movq %xmm5, %rcx
    and %rcx, %rax
    lea name_sse_none(%rip), %rsi
    cmp $-1, %rax
    call report

    movaps tpr_pattern(%rip), %xmm1
    mov $LAPIC_TPR, %rbx
    movaps %xmm1, (%rbx)                    /* aligned store to MMIO: TPR = 0x20 */
    mov (%rbx), %eax
    movl $0, (%rbx)
    movdqu %xmm1, 0x20(%rbx)                /* unaligned-form store to the read-only PPR: dropped */
    lea name_sse_tpr(%rip), %rsi
    cmp $0x20, %eax
    call report

    pcmpeqd keep_pattern(%rip), %xmm4       /* all ones where equal */
    pmovmskb %xmm4, %eax
    lea name_sse_kept(%rip), %rsi
    cmp $0xffff, %eax
    call report

    jmp summary_power_off
#endif

#include "bzimage_report.inc"

    .p2align 3
empty_idt:
    .word 0
    .quad 0
#ifdef GUEST_BAD
msg_bad:     .asciz "guest_bad: about to do x87 on MMIO with no IDT\n"
msg_alive:   .asciz "guest_bad: still alive (the vmm did not stop this VM)\n"
#else
msg_good:    .asciz "guest_good: starting\n"
name_wild:   .asciz "good.no_device_reads_all_ones"
name_lapic:  .asciz "good.lapic_version"
name_ioapic: .asciz "good.ioapic_version"
name_sse_lapic: .asciz "good.sse_movdqu_load_mmio"
name_sse_none: .asciz "good.sse_movaps_load_no_device"
name_sse_tpr: .asciz "good.sse_movaps_store_mmio"
name_sse_kept: .asciz "good.sse_other_xmm_kept"
#endif
msg_summary: .asciz "SUMMARY: 7 tests, "   /* for bzimage_report.inc (unused by the bad variant) */
    .p2align 4
#ifndef GUEST_BAD
keep_pattern: .quad 0x0123456789abcdef, 0xfedcba9876543210
tpr_pattern:  .quad 0x20, 0
#endif
    .fill 1024, 1, 0
stack_top:
    .p2align 4
pm_end:
