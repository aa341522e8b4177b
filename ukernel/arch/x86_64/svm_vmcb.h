/* SPDX-License-Identifier: MIT */
/* svm_vmcb: the AMD VMCB layout (APM vol. 2, appendix B) as named offsets, bits and exit codes. */
#ifndef HV_ARCH_SVM_VMCB_H
#define HV_ARCH_SVM_VMCB_H

#include <stdint.h>

/* Control area (offsets from the VMCB's start). */
#define VMCB_INTERCEPT_CR 0x000         /* reads bits 0-15, writes bits 16-31 */
#define VMCB_INTERCEPT_EXC 0x008        /* one bit per exception vector */
#define VMCB_INTERCEPT_MISC1 0x00c
#define VMCB_INTERCEPT_MISC2 0x010
#define VMCB_IOPM_BASE 0x040
#define VMCB_MSRPM_BASE 0x048
#define VMCB_TSC_OFFSET 0x050
#define VMCB_ASID 0x058                 /* u32 */
#define VMCB_TLB_CONTROL 0x05c          /* u8 */
#define VMCB_INT_CTL 0x060              /* u32: V_TPR, V_IRQ, priority, masking */
#define VMCB_INT_VECTOR 0x064           /* u32 */
#define VMCB_INT_STATE 0x068            /* bit 0: interrupt shadow */
#define VMCB_EXITCODE 0x070
#define VMCB_EXITINFO1 0x078
#define VMCB_EXITINFO2 0x080
#define VMCB_EXITINTINFO 0x088
#define VMCB_NESTED_CTL 0x090
#define VMCB_EVENTINJ 0x0a8
#define VMCB_N_CR3 0x0b0
#define VMCB_CLEAN 0x0c0                /* u32 */
#define VMCB_NEXT_RIP 0x0c8

/* State-save area. Segments: selector u16, attrib u16, limit u32, base u64. */
#define VMCB_SAVE 0x400
#define VMCB_ES (VMCB_SAVE + 0x000)
#define VMCB_CS (VMCB_SAVE + 0x010)
#define VMCB_SS (VMCB_SAVE + 0x020)
#define VMCB_DS (VMCB_SAVE + 0x030)
#define VMCB_FS (VMCB_SAVE + 0x040)
#define VMCB_GS (VMCB_SAVE + 0x050)
#define VMCB_GDTR (VMCB_SAVE + 0x060)
#define VMCB_LDTR (VMCB_SAVE + 0x070)
#define VMCB_IDTR (VMCB_SAVE + 0x080)
#define VMCB_TR (VMCB_SAVE + 0x090)
#define VMCB_CPL (VMCB_SAVE + 0x0cb)    /* u8 */
#define VMCB_EFER (VMCB_SAVE + 0x0d0)
#define VMCB_CR4 (VMCB_SAVE + 0x148)
#define VMCB_CR3 (VMCB_SAVE + 0x150)
#define VMCB_CR0 (VMCB_SAVE + 0x158)
#define VMCB_DR7 (VMCB_SAVE + 0x160)
#define VMCB_DR6 (VMCB_SAVE + 0x168)
#define VMCB_RFLAGS (VMCB_SAVE + 0x170)
#define VMCB_RIP (VMCB_SAVE + 0x178)
#define VMCB_RSP (VMCB_SAVE + 0x1d8)
#define VMCB_RAX (VMCB_SAVE + 0x1f8)
#define VMCB_STAR (VMCB_SAVE + 0x200)
#define VMCB_LSTAR (VMCB_SAVE + 0x208)
#define VMCB_CSTAR (VMCB_SAVE + 0x210)
#define VMCB_SFMASK (VMCB_SAVE + 0x218)
#define VMCB_KERNEL_GS_BASE (VMCB_SAVE + 0x220)
#define VMCB_SYSENTER_CS (VMCB_SAVE + 0x228)
#define VMCB_SYSENTER_ESP (VMCB_SAVE + 0x230)
#define VMCB_SYSENTER_EIP (VMCB_SAVE + 0x238)
#define VMCB_CR2 (VMCB_SAVE + 0x240)
#define VMCB_G_PAT (VMCB_SAVE + 0x268)
#define VMCB_SIZE 0x1000

_Static_assert(VMCB_G_PAT + 8 <= VMCB_SIZE, "the state-save area fits the VMCB page");
_Static_assert(VMCB_TR - VMCB_ES == 9 * 16, "ten 16-byte segment slots ES..TR");

/* VMCB_INTERCEPT_MISC1 bits. */
#define SVM_ICPT_INTR (1u << 0)
#define SVM_ICPT_NMI (1u << 1)
#define SVM_ICPT_SMI (1u << 2)
#define SVM_ICPT_INIT (1u << 3)
#define SVM_ICPT_VINTR (1u << 4)
#define SVM_ICPT_IRET (1u << 20)
#define SVM_ICPT_CPUID (1u << 18)
#define SVM_ICPT_HLT (1u << 24)
#define SVM_ICPT_INVLPG (1u << 25)
#define SVM_ICPT_INVLPGA (1u << 26)
#define SVM_ICPT_IOIO (1u << 27)
#define SVM_ICPT_MSR (1u << 28)
#define SVM_ICPT_TASK_SWITCH (1u << 29)
#define SVM_ICPT_SHUTDOWN (1u << 31)
/* VMCB_INTERCEPT_MISC2 bits. */
#define SVM_ICPT_VMRUN (1u << 0)
#define SVM_ICPT_VMMCALL (1u << 1)
#define SVM_ICPT_VMLOAD (1u << 2)
#define SVM_ICPT_VMSAVE (1u << 3)
#define SVM_ICPT_STGI (1u << 4)
#define SVM_ICPT_CLGI (1u << 5)
#define SVM_ICPT_SKINIT (1u << 6)
/* VMCB_INTERCEPT_CR: reads of CRn at bit n, writes at bit 16 + n. */
#define SVM_ICPT_CR0_READ (1u << 0)
#define SVM_ICPT_CR3_READ (1u << 3)
#define SVM_ICPT_CR4_READ (1u << 4)
#define SVM_ICPT_CR0_WRITE (1u << 16)
#define SVM_ICPT_CR3_WRITE (1u << 19)
#define SVM_ICPT_CR4_WRITE (1u << 20)
_Static_assert(SVM_ICPT_CR3_WRITE == SVM_ICPT_CR3_READ << 16, "write intercepts sit 16 bits up");

/* VMCB_INT_CTL. */
#define SVM_V_IRQ (1u << 8)
#define SVM_V_INTR_PRIO_SHIFT 16
#define SVM_V_IGN_TPR (1u << 20)
#define SVM_V_INTR_MASKING (1u << 24)
/* VMCB_INT_STATE. */
#define SVM_INT_SHADOW (1ull << 0)
/* VMCB_NESTED_CTL. */
#define SVM_NP_ENABLE (1ull << 0)
/* VMCB_TLB_CONTROL. */
#define SVM_TLB_FLUSH_NONE 0u
#define SVM_TLB_FLUSH_ALL 1u
/* Segment attrib (the descriptor's bits 55-52 and 47-40 packed): CS.L, 64-bit code. */
#define SVM_ATTR_L (1u << 9)
/* HV_EXIT_INVALID_STATE details the backend produces itself (the VMX_INVALID_* values). */
#define SVM_INVALID_RIP 0x105u      /* non-canonical in 64-bit mode */
#define SVM_INVALID_INJECT 0x109u   /* an external interrupt the guest cannot take */
/* VMCB_EXITINTINFO / EVENTINJ valid bit. */
#define SVM_EVENT_VALID (1ull << 31)
#define SVM_EVENT_ERROR_VALID (1ull << 11)
#define SVM_EVENT_TYPE_EXCEPTION (3ull << 8)

/* Exit codes (VMCB_EXITCODE). */
#define SVM_EXIT_CR_READ_BASE 0x00   /* 0x00-0x0f: read of CRn; 0x10-0x1f: write */
#define SVM_EXIT_CR_WRITE_BASE 0x10
#define SVM_EXIT_INVLPG 0x79
#define SVM_EXIT_EXCP_BASE 0x40
#define SVM_EXIT_INTR 0x60
#define SVM_EXIT_NMI 0x61
#define SVM_EXIT_SMI 0x62
#define SVM_EXIT_INIT 0x63
#define SVM_EXIT_VINTR 0x64
#define SVM_EXIT_CPUID 0x72
#define SVM_EXIT_IRET 0x74
#define SVM_EXIT_HLT 0x78
#define SVM_EXIT_IOIO 0x7b
#define SVM_EXIT_MSR 0x7c
#define SVM_EXIT_SHUTDOWN 0x7f
#define SVM_EXIT_VMMCALL 0x81
#define SVM_EXIT_NPF 0x400
#define SVM_EXIT_INVALID 0xffffffffffffffffull

/* IOIO EXITINFO1. */
#define SVM_IOIO_IN (1u << 0)
#define SVM_IOIO_STR (1u << 2)
#define SVM_IOIO_REP (1u << 3)
#define SVM_IOIO_SZ8 (1u << 4)
#define SVM_IOIO_SZ16 (1u << 5)
#define SVM_IOIO_SZ32 (1u << 6)
#define SVM_IOIO_PORT_SHIFT 16
/* NPF EXITINFO1 (a #PF-style error code). */
#define SVM_NPF_WRITE (1u << 1)
#define SVM_NPF_FETCH (1u << 4)

/* The backend's pages, one contiguous run: VMCB, I/O permission map (12 KiB), MSR map (8 KiB). */
#define SVM_PAGE_VMCB 0u
#define SVM_PAGE_IOPM 1u
#define SVM_IOPM_PAGES 3u
#define SVM_PAGE_MSRPM (SVM_PAGE_IOPM + SVM_IOPM_PAGES)
#define SVM_MSRPM_PAGES 2u
#define SVM_PAGES (SVM_PAGE_MSRPM + SVM_MSRPM_PAGES)

#endif
