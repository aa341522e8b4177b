/* SPDX-License-Identifier: MIT */
/* guest_ports: what the test guests and the test vmm (test/user/vmmtest.c) agree on. */
#ifndef HV_TEST_GUEST_PORTS_H
#define HV_TEST_GUEST_PORTS_H

#define GUEST_LOAD_GPA 0x7c00           /* real mode, CS = DS = SS = 0, entry at the load address */
#define GUEST_STACK_TOP 0x7000
#define GUEST_PORT_CONSOLE 0xe9         /* OUT al: one character of the guest's report */
#define GUEST_PORT_VALUE 0x5a0          /* IN eax: the vmm answers GUEST_IN_VALUE */
#define GUEST_PORT_PHASE 0x5a1          /* OUT al: GUEST_PHASE_* */
#define GUEST_PHASE_SPIN 1              /* about to spin until recalled (the vmm sets cx = GUEST_RECALL_CX) */
#define GUEST_PHASE_DONE 2              /* finished: the vmm stops the vCPU */
#define GUEST_PHASE_UNMAP 3             /* the vmm deletes the frame cap at GUEST_GPA_PROBE */
#define GUEST_IN_VALUE 0xcafebabe
#define GUEST_CPUID_LEAF 0x48560000
#define GUEST_CPUID_EAX 0x11111111
#define GUEST_CPUID_EBX 0x22222222
#define GUEST_CPUID_ECX 0x33333333
#define GUEST_CPUID_EDX 0x44444444
#define GUEST_HLT_VECTOR 0x40           /* the vmm injects this external interrupt after a HLT */
#define GUEST_DE_MARKER 0xd0d0          /* the vmm sets bx after forwarding the guest's #DE */
#define GUEST_GPA_PROBE 0x90000         /* unmapped until the guest touches it */
#define GUEST_GPA_PATTERN 0x5a5a        /* the vmm's frame at GUEST_GPA_PROBE starts with this */
#define GUEST_GPA_PATTERN2 0xa5a5       /* ... and the one it maps after GUEST_PHASE_UNMAP */
#define GUEST_RECALL_CX 0x7777
#define GUEST_PHASE_VEC 4               /* XMM3 = GUEST_VEC_IN_BASE + i: the vmm reads it and writes XMM2, MXCSR */
#define GUEST_VEC_IN_BASE 0x30          /* byte i of the guest's XMM3 */
#define GUEST_VEC_OUT_BASE 0xa0         /* byte i of the XMM2 the vmm writes */
#define GUEST_VEC_MXCSR 0x7f80          /* the MXCSR the vmm writes (round toward zero, all masked) */
#define GUEST_TSC_OFFSET_SHIFT 50       /* the vmm sets TSC offset 1 << 50: edx >= 1 << 18 */


/* guest_large: started in flat 32-bit protected mode (paging off) at GUEST_LOAD_GPA, it
 * touches the 2 MiB frame the test vmm (test/user/largetest.c) maps at GUEST_LARGE_GPA. */
#define GUEST_LARGE_GPA 0x200000        /* one 2 MiB frame: guest-physical [GPA, GPA + SIZE) */
#define GUEST_LARGE_SIZE 0x200000
#define GUEST_PHASE_LARGE_READ 4        /* ebx, ecx: the dwords at the first and last 4 bytes */
#define GUEST_PHASE_LARGE_WRITTEN 5     /* the guest's marks are in the frame (below) */
#define GUEST_LARGE_HOST_LO 0x1a2b3c4d  /* what the vmm put at the start ... */
#define GUEST_LARGE_HOST_HI 0x5e6f7a8b  /* ... and in the last dword */
#define GUEST_LARGE_MARK_LO 0x11223344  /* what the guest writes at offset 4 ... */
#define GUEST_LARGE_MARK_HI 0x55667788  /* ... and at SIZE - 8; page i gets i at its offset 8 */
#define GUEST_LARGE_PROBE (GUEST_LARGE_GPA + GUEST_LARGE_SIZE - 0x1000)  /* read after UNMAP */

/* guest_paging: a multiboot guest booted bare by QEMU (-kernel) or by the test vmm in the
 * same 32-bit flat protected-mode state; it reports on COM1 and ends at isa-debug-exit. */
#define GUEST_PAGING_LOAD 0x100000      /* linked and loaded here */
#define GUEST_PAGING_ENTRY 0x100010     /* after the multiboot header */
#define GUEST_PAGING32_LOAD 0x140000    /* the legacy-paging phase (guest_paging32.c) */
#define GUEST_PAGING_END 0x180000       /* the vmm backs guest-physical [0, this) */
#define GUEST_PORT_COM1 0x3f8           /* OUT al: one character of the report */
#define GUEST_PORT_EXIT 0xf4            /* OUT al: finished (QEMU isa-debug-exit when bare) */
#define GUEST_EXIT_VALUE 0x10           /* bare QEMU exits with status 33 */
#define GUEST_PORT_BOCHS_SHUTDOWN 0x8900  /* "Shutdown" here ends bare Bochs (no isa-debug-exit) */
#define GUEST_PAGING_HOSTILE_GPA 0x3ff00000ull  /* a guest page table outside guest memory */
#define GUEST_PORT_COM1_LCR 0x3fb       /* OUT al: line control, 8N1 at entry (the test vmm ignores it) */
#define GUEST_COM1_LCR_8N1 0x03
#define GUEST_PORT_COM1_LSR 0x3fd       /* IN al: line status; the test vmm answers THR empty */
#define GUEST_COM1_LSR_THRE 0x20        /* transmit holding register empty */
#define GUEST_COM1_LSR_TEMT 0x40        /* transmitter empty: every byte is out */

#ifndef __ASSEMBLER__
/*
 * One character on COM1 as a bare machine needs it: Bochs models the UART's pace and
 * drops a byte written before the transmit register is empty (QEMU and the test vmm
 * never make the guest wait).
 */
static inline unsigned char guest_inb(unsigned short port)
{
    unsigned char v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline void guest_com1_wait(unsigned char lsr_bits)
{
    while ((guest_inb(GUEST_PORT_COM1_LSR) & lsr_bits) != lsr_bits) {
    }
}

static inline void guest_com1_putc(char c)
{
    guest_com1_wait(GUEST_COM1_LSR_THRE);
    __asm__ volatile("outb %0, %1" : : "a"((unsigned char)c), "Nd"((unsigned short)GUEST_PORT_COM1));
}
#endif

/* guest_pfbench: the page-fault-heavy benchmark guest, same hand-off and ports as
 * guest_paging (loaded at GUEST_PAGING_LOAD, entered at GUEST_PAGING_ENTRY). */
#define GUEST_PFBENCH_POOL 0x200000     /* its data frames: [POOL, END) */
#define GUEST_PFBENCH_END 0x480000      /* the vmm backs guest-physical [0, this) */

#endif
