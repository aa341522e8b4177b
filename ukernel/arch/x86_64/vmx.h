/* SPDX-License-Identifier: MIT */
/* vmx: Intel VMX architectural constants (VMCS field encodings, controls, exit reasons, EPT). */
#ifndef HV_ARCH_VMX_H
#define HV_ARCH_VMX_H

/*
 * Everything here is from the SDM (vol. 3C, appendices A-C and chapters 24-28);
 * only vcpu_vmx.c and vcpu_vmx_entry.S use it. The assembly includes the offsets
 * at the end, so the rest is guarded for C.
 */

/* struct vcpu_arch offsets used by vcpu_vmx_entry.S (asserted in vcpu_vmx.c). */
#define VMX_ARCH_GPR 24
#define VMX_ARCH_CR2 152
#define VMX_ENTRY_OK 0          /* returned after a VM exit */
#define VMX_ENTRY_FAIL_INVALID 1 /* VMfailInvalid (CF): no current VMCS */
#define VMX_ENTRY_FAIL_VALID 2  /* VMfailValid (ZF): see VMCS_VM_INSTRUCTION_ERROR */

#define VMCS_HOST_RSP_ENC 0x6c14

#ifndef __ASSEMBLER__

#include <stdint.h>

/* ---- MSRs ---- */
#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_PAT 0x277
#define MSR_CSTAR 0xc0000083
#define MSR_VMX_PINBASED_CTLS 0x481
#define MSR_VMX_EXIT_CTLS 0x483
#define MSR_VMX_ENTRY_CTLS 0x484
#define MSR_VMX_MISC 0x485
#define MSR_VMX_CR0_FIXED0 0x486
#define MSR_VMX_CR0_FIXED1 0x487
#define MSR_VMX_CR4_FIXED0 0x488
#define MSR_VMX_CR4_FIXED1 0x489
#define MSR_VMX_TRUE_PINBASED_CTLS 0x48d
#define MSR_VMX_TRUE_PROCBASED_CTLS 0x48e
#define MSR_VMX_TRUE_EXIT_CTLS 0x48f
#define MSR_VMX_TRUE_ENTRY_CTLS 0x490

#define VMX_MISC_PREEMPTION_RATE_MASK 0x1full   /* timer ticks every 2^rate TSC cycles */
#define FEATURE_CONTROL_LOCKED (1ull << 0)
#define FEATURE_CONTROL_VMXON_OUTSIDE_SMX_BIT (1ull << 2)
#define VMX_BASIC_REVISION_MASK 0x7fffffffull
#define VMX_BASIC_TRUE_CTLS (1ull << 55)
#define CR4_VMXE (1ull << 13)
#define CR0_NE (1ull << 5)

/* EPT/VPID capability MSR (0x48c) bits. */
#define EPT_CAP_WB_MEMTYPE (1ull << 14)
#define EPT_CAP_AD (1ull << 21)
#define EPT_CAP_PDE_2M (1ull << 16)     /* EPT PDEs may map 2 MiB pages */
#define EPT_CAP_INVEPT (1ull << 20)
#define EPT_CAP_INVEPT_SINGLE (1ull << 25)
#define EPT_CAP_INVEPT_ALL (1ull << 26)
#define VPID_CAP_INVVPID (1ull << 32)
#define VPID_CAP_INVVPID_INDIVIDUAL (1ull << 40)
#define VPID_CAP_INVVPID_SINGLE (1ull << 41)
#define VPID_CAP_INVVPID_ALL (1ull << 43)

#define INVEPT_SINGLE_CONTEXT 1ull
#define INVEPT_ALL_CONTEXT 2ull
#define INVVPID_INDIVIDUAL_ADDRESS 0ull
#define INVVPID_SINGLE_CONTEXT 1ull
#define INVVPID_ALL_CONTEXT 2ull

/* ---- VMCS field encodings (SDM appendix B) ---- */
/* 16-bit */
#define VMCS_VPID 0x0000
#define VMCS_GUEST_ES_SELECTOR 0x0800     /* + 2 * segment index (enum vmx_seg) */
#define VMCS_HOST_ES_SELECTOR 0x0c00
#define VMCS_HOST_CS_SELECTOR 0x0c02
#define VMCS_HOST_SS_SELECTOR 0x0c04
#define VMCS_HOST_DS_SELECTOR 0x0c06
#define VMCS_HOST_FS_SELECTOR 0x0c08
#define VMCS_HOST_GS_SELECTOR 0x0c0a
#define VMCS_HOST_TR_SELECTOR 0x0c0c
/* 64-bit */
#define VMCS_IO_BITMAP_A 0x2000
#define VMCS_IO_BITMAP_B 0x2002
#define VMCS_MSR_BITMAP 0x2004
#define VMCS_EXIT_MSR_STORE_ADDR 0x2006
#define VMCS_EXIT_MSR_LOAD_ADDR 0x2008
#define VMCS_ENTRY_MSR_LOAD_ADDR 0x200a
#define VMCS_TSC_OFFSET 0x2010
#define VMCS_EPT_POINTER 0x201a
#define VMCS_GUEST_PHYSICAL_ADDRESS 0x2400
#define VMCS_LINK_POINTER 0x2800
#define VMCS_GUEST_IA32_DEBUGCTL 0x2802
#define VMCS_GUEST_IA32_PAT 0x2804
#define VMCS_GUEST_IA32_EFER 0x2806
#define VMCS_GUEST_PDPTE0 0x280a          /* + 2 * n, n = 0..3 (PAE paging under EPT) */
#define VMCS_HOST_IA32_PAT 0x2c00
#define VMCS_HOST_IA32_EFER 0x2c02
/* 32-bit */
#define VMCS_PIN_CONTROLS 0x4000
#define VMCS_PROC_CONTROLS 0x4002
#define VMCS_EXCEPTION_BITMAP 0x4004
#define VMCS_PF_ERROR_MASK 0x4006
#define VMCS_PF_ERROR_MATCH 0x4008
#define VMCS_CR3_TARGET_COUNT 0x400a
#define VMCS_EXIT_CONTROLS 0x400c
#define VMCS_EXIT_MSR_STORE_COUNT 0x400e
#define VMCS_EXIT_MSR_LOAD_COUNT 0x4010
#define VMCS_ENTRY_CONTROLS 0x4012
#define VMCS_ENTRY_MSR_LOAD_COUNT 0x4014
#define VMCS_ENTRY_INTR_INFO 0x4016
#define VMCS_ENTRY_EXCEPTION_ERROR 0x4018
#define VMCS_ENTRY_INSTRUCTION_LENGTH 0x401a
#define VMCS_PROC_CONTROLS2 0x401e
#define VMCS_VM_INSTRUCTION_ERROR 0x4400
#define VMCS_EXIT_REASON 0x4402
#define VMCS_EXIT_INTR_INFO 0x4404
#define VMCS_EXIT_INTR_ERROR 0x4406
#define VMCS_IDT_VECTORING_INFO 0x4408
#define VMCS_IDT_VECTORING_ERROR 0x440a
#define VMCS_EXIT_INSTRUCTION_LENGTH 0x440c
#define VMCS_GUEST_ES_LIMIT 0x4800        /* + 2 * segment index */
#define VMCS_GUEST_GDTR_LIMIT 0x4810
#define VMCS_GUEST_IDTR_LIMIT 0x4812
#define VMCS_GUEST_ES_AR 0x4814           /* + 2 * segment index */
#define VMCS_GUEST_INTERRUPTIBILITY 0x4824
#define VMCS_GUEST_ACTIVITY_STATE 0x4826
#define VMCS_GUEST_SYSENTER_CS 0x482a
#define VMCS_PREEMPTION_TIMER_VALUE 0x482e
#define VMCS_HOST_SYSENTER_CS 0x4c00
/* natural width */
#define VMCS_CR0_GUEST_HOST_MASK 0x6000
#define VMCS_CR4_GUEST_HOST_MASK 0x6002
#define VMCS_CR0_READ_SHADOW 0x6004
#define VMCS_CR4_READ_SHADOW 0x6006
#define VMCS_EXIT_QUALIFICATION 0x6400
#define VMCS_GUEST_LINEAR_ADDRESS 0x640a
#define VMCS_GUEST_CR0 0x6800
#define VMCS_GUEST_CR3 0x6802
#define VMCS_GUEST_CR4 0x6804
#define VMCS_GUEST_ES_BASE 0x6806         /* + 2 * segment index */
#define VMCS_GUEST_GDTR_BASE 0x6816
#define VMCS_GUEST_IDTR_BASE 0x6818
#define VMCS_GUEST_DR7 0x681a
#define VMCS_GUEST_RSP 0x681c
#define VMCS_GUEST_RIP 0x681e
#define VMCS_GUEST_RFLAGS 0x6820
#define VMCS_GUEST_PENDING_DEBUG 0x6822
#define VMCS_GUEST_SYSENTER_ESP 0x6824
#define VMCS_GUEST_SYSENTER_EIP 0x6826
#define VMCS_HOST_CR0 0x6c00
#define VMCS_HOST_CR3 0x6c02
#define VMCS_HOST_CR4 0x6c04
#define VMCS_HOST_FS_BASE 0x6c06
#define VMCS_HOST_GS_BASE 0x6c08
#define VMCS_HOST_TR_BASE 0x6c0a
#define VMCS_HOST_GDTR_BASE 0x6c0c
#define VMCS_HOST_IDTR_BASE 0x6c0e
#define VMCS_HOST_SYSENTER_ESP 0x6c10
#define VMCS_HOST_SYSENTER_EIP 0x6c12
#define VMCS_HOST_RSP VMCS_HOST_RSP_ENC
#define VMCS_HOST_RIP 0x6c16

/* Guest segment registers in VMCS encoding order: field = first + 2 * index. */
enum vmx_seg {
    VMX_SEG_ES = 0, VMX_SEG_CS, VMX_SEG_SS, VMX_SEG_DS, VMX_SEG_FS, VMX_SEG_GS,
    VMX_SEG_LDTR, VMX_SEG_TR, VMX_SEG_COUNT
};
_Static_assert(VMCS_GUEST_ES_SELECTOR + 2 * VMX_SEG_TR == 0x080e, "TR selector (B.1.2)");
_Static_assert(VMCS_GUEST_ES_LIMIT + 2 * VMX_SEG_TR == 0x480e, "TR limit (B.3.3)");
_Static_assert(VMCS_GUEST_ES_AR + 2 * VMX_SEG_TR == 0x4822, "TR access rights (B.3.3)");
_Static_assert(VMCS_GUEST_ES_BASE + 2 * VMX_SEG_TR == 0x6814, "TR base (B.4.3)");
_Static_assert(VMCS_GUEST_ES_AR + 2 * VMX_SEG_COUNT == VMCS_GUEST_INTERRUPTIBILITY,
               "access-rights fields end where interruptibility begins");

/* ---- execution controls (SDM 24.6) ---- */
#define PIN_EXTERNAL_INTERRUPT_EXITING (1u << 0)
#define PIN_NMI_EXITING (1u << 3)
#define PIN_VIRTUAL_NMIS (1u << 5)
#define PIN_PREEMPTION_TIMER (1u << 6)

#define PROC_INTERRUPT_WINDOW_EXITING (1u << 2)
#define PROC_USE_TSC_OFFSETTING (1u << 3)
#define PROC_HLT_EXITING (1u << 7)
#define PROC_INVLPG_EXITING (1u << 9)
#define PROC_CR3_LOAD_EXITING (1u << 15)
#define PROC_CR3_STORE_EXITING (1u << 16)
#define PROC_NMI_WINDOW_EXITING (1u << 22)
#define PROC_UNCONDITIONAL_IO_EXITING (1u << 24)
#define PROC_USE_IO_BITMAPS (1u << 25)
#define PROC_USE_MSR_BITMAPS (1u << 28)
#define PROC_ACTIVATE_SECONDARY (1u << 31)

#define PROC2_ENABLE_EPT (1u << 1)
#define PROC2_ENABLE_VPID (1u << 5)
#define PROC2_UNRESTRICTED_GUEST (1u << 7)

#define EXIT_HOST_ADDRESS_SPACE_SIZE (1u << 9)
#define EXIT_ACK_INTERRUPT (1u << 15)
#define EXIT_SAVE_PAT (1u << 18)
#define EXIT_LOAD_PAT (1u << 19)
#define EXIT_SAVE_EFER (1u << 20)
#define EXIT_LOAD_EFER (1u << 21)

#define ENTRY_IA32E_MODE_GUEST (1u << 9)
#define ENTRY_LOAD_PAT (1u << 14)
#define ENTRY_LOAD_EFER (1u << 15)

/* ---- event information (VM-entry/exit interruption info, SDM 24.8.3, 24.9.2) ---- */
#define VMX_INTR_VECTOR_MASK 0xffu
#define VMX_INTR_TYPE_SHIFT 8
#define VMX_INTR_TYPE_MASK (7u << VMX_INTR_TYPE_SHIFT)
#define VMX_INTR_TYPE_EXTINT 0u
#define VMX_INTR_TYPE_NMI 2u
#define VMX_INTR_TYPE_HW_EXCEPTION 3u
#define VMX_INTR_TYPE_SOFT_INT 4u
#define VMX_INTR_TYPE_PRIV_SOFT_EXCEPTION 5u
#define VMX_INTR_TYPE_SOFT_EXCEPTION 6u
#define VMX_INTR_ERROR_VALID (1u << 11)
#define VMX_INTR_VALID (1u << 31)

/* Guest interruptibility state and activity state (SDM 24.4.2). */
#define VMX_INTERRUPTIBILITY_STI (1u << 0)
#define VMX_INTERRUPTIBILITY_MOV_SS (1u << 1)
#define VMX_INTERRUPTIBILITY_NMI (1u << 3)
#define VMX_ACTIVITY_ACTIVE 0u

/* Segment access rights (SDM 24.4.1): VMCB attr bits 7:0 stay, 11:8 move to 15:12. */
#define VMX_AR_UNUSABLE (1u << 16)
#define VMX_AR_LOW_MASK 0xffu
#define VMX_AR_HIGH_MASK 0xf000u
#define VMX_AR_HIGH_SHIFT 4
#define VMX_AR_P (1u << 7)
#define VMX_AR_L (1u << 13)

/* ---- basic exit reasons (SDM appendix C) ---- */
#define VMX_EXIT_EXCEPTION_NMI 0
#define VMX_EXIT_EXTERNAL_INTERRUPT 1
#define VMX_EXIT_TRIPLE_FAULT 2
#define VMX_EXIT_INTERRUPT_WINDOW 7
#define VMX_EXIT_NMI_WINDOW 8
#define VMX_EXIT_CPUID 10
#define VMX_EXIT_HLT 12
#define VMX_EXIT_INVLPG 14
#define VMX_EXIT_VMCALL 18
#define VMX_EXIT_CR_ACCESS 28
#define VMX_EXIT_IO 30
#define VMX_EXIT_RDMSR 31
#define VMX_EXIT_WRMSR 32
#define VMX_EXIT_INVALID_GUEST_STATE 33
#define VMX_EXIT_MSR_LOADING 34
#define VMX_EXIT_MACHINE_CHECK 41
#define VMX_EXIT_EPT_VIOLATION 48
#define VMX_EXIT_EPT_MISCONFIG 49
#define VMX_EXIT_PREEMPTION_TIMER 52
#define VMX_EXIT_REASON_MASK 0xffffu
#define VMX_EXIT_ENTRY_FAILURE (1u << 31)

/* I/O exit qualification (SDM table 27-5). */
#define VMX_IO_SIZE_MASK 7u           /* size - 1 */
#define VMX_IO_IN (1u << 3)
#define VMX_IO_STRING (1u << 4)
#define VMX_IO_REP (1u << 5)
#define VMX_IO_PORT_SHIFT 16

/* EPT violation qualification (SDM table 27-7). */
#define VMX_EPT_QUAL_READ (1u << 0)
#define VMX_EPT_QUAL_WRITE (1u << 1)
#define VMX_EPT_QUAL_FETCH (1u << 2)

/* Control-register access qualification (SDM table 27-3). */
#define VMX_CR_QUAL_CR_MASK 0xfu
#define VMX_CR_QUAL_TYPE_SHIFT 4
#define VMX_CR_QUAL_TYPE_MASK 3u
#define VMX_CR_QUAL_TYPE_MOV_TO 0u
#define VMX_CR_QUAL_TYPE_MOV_FROM 1u
#define VMX_CR_QUAL_TYPE_CLTS 2u
#define VMX_CR_QUAL_TYPE_LMSW 3u
#define VMX_CR_QUAL_REG_SHIFT 8
#define VMX_CR_QUAL_REG_MASK 0xfu
#define VMX_CR_QUAL_LMSW_SHIFT 16

/* ---- EPT (SDM 28.3) ---- */
#define EPT_READ (1ull << 0)
#define EPT_WRITE (1ull << 1)
#define EPT_EXECUTE (1ull << 2)
#define EPT_MEMTYPE_SHIFT 3
#define EPT_MEMTYPE_WB 6ull
#define EPT_LARGE (1ull << 7)
#define EPT_ADDR_MASK 0x000ffffffffff000ull
#define EPTP_MEMTYPE_WB 6ull
#define EPTP_WALK_LENGTH_4 (3ull << 3)
#define EPTP_AD_ENABLE (1ull << 6)

/*
 * HV_EXIT_INVALID_STATE detail (exit word w1) from this backend: what refused the
 * state. Software checks (state_write / before entry) are 0x1xx, a VM-entry
 * failure exit is 0x200 | basic exit reason (w2 = exit qualification), a VMfail is
 * 0x300 | VM-instruction error number.
 */
#define VMX_INVALID_RFLAGS 0x101u           /* reserved bits set or bit 1 clear */
#define VMX_INVALID_CR0 0x102u              /* bits VMX forbids, or PG without PE */
#define VMX_INVALID_CR4 0x103u              /* bits VMX forbids, or VMXE */
#define VMX_INVALID_EFER 0x104u             /* unknown bits, or LMA disagreeing with LME/PG/PAE */
#define VMX_INVALID_RIP 0x105u              /* non-canonical in 64-bit mode, above 4 GiB outside it */
#define VMX_INVALID_SEGMENT_BASE 0x106u     /* non-canonical base, CS/SS/DS/ES base above 4 GiB */
#define VMX_INVALID_TR 0x107u               /* TR not present */
#define VMX_INVALID_MSR 0x108u              /* non-canonical MSR address or bad PAT type */
#define VMX_INVALID_INJECT 0x109u           /* bad event, or an interrupt the guest cannot take */
#define VMX_INVALID_MIGRATION 0x10au        /* the CPU holding the VMCS did not release it */
#define VMX_INVALID_CPU 0x10bu              /* VMX is not enabled on this CPU */
#define VMX_INVALID_EPT_MISCONFIG 0x10cu    /* EPT misconfiguration exit (w2 = gpa) */
#define VMX_INVALID_SHADOW_REAL_MODE 0x10du /* shadow paging with guest CR0.PE = 0 (no unrestricted guest) */
#define VMX_INVALID_PDPTE 0x10eu            /* EPT + PAE: a PDPTE at CR3 with reserved bits (w2 = its gpa) */
#define VMX_INVALID_ENTRY_FAILURE 0x200u
#define VMX_INVALID_VMFAIL 0x300u

/* An entry of the VM-entry/exit MSR load and store areas (SDM 24.7.2). */
struct vmx_msr_entry {
    uint32_t index;
    uint32_t reserved;
    uint64_t value;
};
_Static_assert(sizeof(struct vmx_msr_entry) == 16, "MSR area entry (SDM table 24-12)");

#endif /* __ASSEMBLER__ */

#endif
