/* SPDX-License-Identifier: MIT */
/* suite_vcpu_guest: real-mode guest programs the vcpu suite copies to guest-physical 0x1000 and runs. */

#include "suite_vcpu_guest.h"

/* Guest address of a label: the programs are copied to GUEST_CODE_GPA, CS = 0. */
#define ADDR(label) ((label) - vcpu_guest_main + GUEST_CODE_GPA)
#define BADDR(label) ((label) - vcpu_guest_bench + GUEST_CODE_GPA)
#define MADDR(label) ((label) - vcpu_guest_modes + GUEST_CODE_GPA)
#define NADDR(label) ((label) - vcpu_guest_nmi + GUEST_CODE_GPA)

    .section .rodata
    .code16

/*
 * The main program: each step ends in the exit the suite expects next (see
 * suite_vcpu.c, which drives it in the same order).
 */
    .globl vcpu_guest_main, vcpu_guest_main_end
vcpu_guest_main:
    xorw %ax, %ax
    movw %ax, %ds
    movw %ax, %ss
    movw $GUEST_STACK_TOP, %sp
    /* CPUID exit; the host answers EAX..EDX, the guest reports each on PORT_REPORT. */
    movl $GUEST_CPUID_LEAF, %eax
    xorl %ecx, %ecx
    cpuid
    movl %edx, %esi
    movw $PORT_REPORT, %dx
    outl %eax, %dx
    movl %ebx, %eax
    outl %eax, %dx
    movl %ecx, %eax
    outl %eax, %dx
    movl %esi, %eax
    outl %eax, %dx
    /* IN: the host supplies the value; the guest echoes it. */
    movw $PORT_IN, %dx
    inw %dx, %ax
    movw $PORT_ECHO, %dx
    outw %ax, %dx
    hlt
    /* External interrupt GUEST_IRQ_VECTOR, injected while halted after STI. */
    movw $ADDR(irq_handler), (GUEST_IRQ_VECTOR * 4)
    movw $0, (GUEST_IRQ_VECTOR * 4 + 2)
    sti
    hlt
    cli
    /* An NMI injected while halted, into IVT entry 2. */
    movw $ADDR(nmi_handler), 8
    movw $0, 10
    hlt
    /* #UD the host intercepts. */
    ud2
    /* #DE the guest handles itself (IVT entry 0). */
    movw $ADDR(de_handler), 0
    movw $0, 2
    xorb %bl, %bl
    movw $1, %ax
    divb %bl
    /* A read of guest-physical GUEST_HOLE_GPA, not mapped until the host sees the exit. */
    movw $(GUEST_HOLE_GPA >> 4), %ax
    movw %ax, %es
    movb %es:GUEST_HOLE_OFFSET, %al
    outb %al, $PORT_HOLE
    /* The same gpa again, after the host moved it to another frame and flushed. */
    movb %es:GUEST_HOLE_OFFSET, %al
    outb %al, $PORT_HOLE_REMAP
    /* Interrupt window: the host asks for it while IF = 0. */
    outb %al, $PORT_WINDOW
    sti
    nop
    nop
    cli
    outb %al, $PORT_WINDOW_DONE
    /* A long loop that host timer interrupts cut into. */
    movl $GUEST_LOOP_COUNT, %ecx
    xorl %eax, %eax
1:  addl %ecx, %eax
    roll $1, %eax
    decl %ecx
    jnz 1b
    outl %eax, $PORT_LOOP
    /* Triple fault: no IDT, then an exception. */
    lidt ADDR(empty_idt)
    int3
    hlt
irq_handler:
    pushw %ax
    movb $GUEST_IRQ_VECTOR, %al
    outb %al, $PORT_IRQ
    popw %ax
    iret
nmi_handler:
    movb $2, %al
    outb %al, $PORT_NMI
    iret
de_handler:
    pushw %bp
    movw %sp, %bp
    addw $2, 2(%bp)                 /* return past the two-byte DIV */
    popw %bp
    movb $0xde, %al
    outb %al, $PORT_DE
    iret
empty_idt:
    .word 0
    .long 0
vcpu_guest_main_end:

/* The null-exit loop the benchmark runs: CPUID forever. */
    .globl vcpu_guest_bench, vcpu_guest_bench_end
vcpu_guest_bench:
1:  cpuid
    jmp 1b
vcpu_guest_bench_end:

/*
 * Real mode -> protected mode -> long mode, built by the guest itself: a GDT, an
 * identity map of the first 2 MiB (PML4 at GUEST_PT_GPA), then a 64-bit OUT that
 * reports RIP-relative data and CR0/EFER through the host.
 */
    .globl vcpu_guest_modes, vcpu_guest_modes_end
vcpu_guest_modes:
    cli
    xorw %ax, %ax
    movw %ax, %ds
    movw %ax, %ss
    movw $GUEST_STACK_TOP, %sp
    lgdt MADDR(modes_gdt_ptr)
    movl %cr0, %eax
    orl $0x21, %eax                 /* PE, and NE: a bit VMX owns (the write exits there) */
    movl %eax, %cr0
    ljmpl $0x08, $MADDR(modes_pm)
    .code32
modes_pm:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movl $(GUEST_PM_MAGIC), %eax
    outl %eax, $PORT_MODE
    /* Page tables: PML4[0] -> PDPT[0] -> PD[0] = 2 MiB page at 0. */
    movl $GUEST_PT_GPA, %edi
    xorl %eax, %eax
    movl $(3 * 4096 / 4), %ecx
    rep stosl
    movl $(GUEST_PT_GPA + 0x1000 + 3), GUEST_PT_GPA
    movl $(GUEST_PT_GPA + 0x2000 + 3), GUEST_PT_GPA + 0x1000
    movl $0x83, GUEST_PT_GPA + 0x2000
    movl %cr4, %eax
    orl $0x20, %eax                 /* PAE */
    movl %eax, %cr4
    movl $GUEST_PT_GPA, %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx          /* EFER.LME: WRMSR exits, the host sets it */
    movl $0x100, %eax
    xorl %edx, %edx
    wrmsr
    movl %cr0, %eax
    orl $0x80000000, %eax
    movl %eax, %cr0
    ljmpl $0x18, $MADDR(modes_lm)
    .code64
modes_lm:
    movq modes_magic(%rip), %rax
    outl %eax, $PORT_MODE
    movq %cr0, %rax
    outl %eax, $PORT_MODE
    movq %cr4, %rax
    outl %eax, $PORT_MODE
    /* A read of an unmapped guest-virtual address: #PF, intercepted by the host. */
    movq $GUEST_UNMAPPED_GVA, %rbx
    movb (%rbx), %al
    hlt
    .balign 8
modes_magic:
    .quad GUEST_LM_MAGIC
modes_gdt:
    .quad 0
    .quad 0x00cf9b000000ffff        /* 0x08 code 32 */
    .quad 0x00cf93000000ffff        /* 0x10 data */
    .quad 0x00af9b000000ffff        /* 0x18 code 64 */
modes_gdt_ptr:
    .word 4 * 8 - 1
    .long MADDR(modes_gdt)
vcpu_guest_modes_end:

/*
 * Shadow paging at the backend (suite_vcpu.c, check_shadow_backend): entered in long
 * mode at GUEST_CODE_GPA on the suite's own identity shadow table. Each step is the
 * exit the suite expects next; position-independent (no absolute addresses).
 */
    .code64
    .globl vcpu_guest_shadow, vcpu_guest_shadow_pf, vcpu_guest_shadow_end
vcpu_guest_shadow:
    movq %cr0, %rax                 /* VMX: the read shadow, no exit; SVM: a CR0 read exit */
    outl %eax, $PORT_SHADOW
    movq %cr4, %rax
    outl %eax, $PORT_SHADOW
    movq %cr3, %rax                 /* a CR3 read exit on both (the suite answers) */
    outl %eax, $PORT_SHADOW
    movq %rbx, %cr0                 /* rbx = the guest's CR0 with TS flipped: a CR0 write exit */
    invlpg (%rcx)                   /* an INVLPG exit */
    movb (%rdx), %al                /* rdx unmapped in the shadow: a #PF exit; the suite injects one */
vcpu_guest_shadow_hlt:
    hlt
vcpu_guest_shadow_pf:               /* the guest's #PF handler (64-bit interrupt gate) */
    movq %cr2, %rax
    outl %eax, $PORT_SHADOW
    popq %rax                       /* the error code */
    outl %eax, $PORT_SHADOW
    hlt
vcpu_guest_shadow_end:

/*
 * PAE paging under nested paging (check_pae_cr3): 32-bit protected mode, set up by the
 * suite; reads GUEST_PAE_GVA and reports it, forever. The suite switches CR3 between
 * two PDPTs that map that gva to different frames.
 */
    .code32
    .globl vcpu_guest_pae, vcpu_guest_pae_end
vcpu_guest_pae:
    movl GUEST_PAE_GVA, %eax
    outl %eax, $PORT_PAE
    jmp vcpu_guest_pae
vcpu_guest_pae_end:

/*
 * Host NMIs while a guest runs: an endless busy loop (no HLT) mixing six registers,
 * with ECX counting iterations, and an OUT to PORT_NMI_TICK every GUEST_NMI_TICK
 * iterations so the host also runs between exits. One macro for the two guests below:
 * in their 16-bit code the assembler prefixes its 32-bit operands, in long mode they
 * are native; the loop is the same either way.
 */
.macro NMI_BUSY_LOOP
    xorl %ecx, %ecx
    movl $GUEST_NMI_SEED_A, %eax
    movl %eax, %ebx
    notl %ebx
    xorl %esi, %esi
    xorl %edi, %edi
    movl $GUEST_NMI_SEED_BP, %ebp
1:  incl %ecx
    addl %ecx, %eax
    roll $1, %eax
    xorl %eax, %ebx
    addl %ebx, %esi
    subl %esi, %edi
    rorl $3, %ebp
    xorl %edi, %ebp
    testl $(GUEST_NMI_TICK - 1), %ecx
    jnz 1b
    outl %eax, $PORT_NMI_TICK
    jmp 1b
.endm

/* Real mode: the host's NMIs must never reach the guest; IVT entry 2 reports vector 2 on PORT_NMI if one does. */
    .code16
    .globl vcpu_guest_nmi, vcpu_guest_nmi_end
vcpu_guest_nmi:
    cli
    xorw %ax, %ax
    movw %ax, %ds
    movw %ax, %ss
    movw $GUEST_STACK_TOP, %sp
    movw $NADDR(nmi_reached_guest), 8
    movw $0, 10
    NMI_BUSY_LOOP
nmi_reached_guest:
    movb $2, %al
    outb %al, $PORT_NMI
    iret
vcpu_guest_nmi_end:

/*
 * The same loop in long mode, for the run under shadow paging (entered at
 * GUEST_CODE_GPA on the suite's identity shadow table); IDT gate 2 points at the
 * handler, which reports vector 2 if a host NMI ever reaches the guest.
 */
    .code64
    .globl vcpu_guest_nmi64, vcpu_guest_nmi64_handler, vcpu_guest_nmi64_end
vcpu_guest_nmi64:
    NMI_BUSY_LOOP
vcpu_guest_nmi64_handler:
    movb $2, %al
    outb %al, $PORT_NMI
    iretq
vcpu_guest_nmi64_end:
