/* SPDX-License-Identifier: MIT */
/* vcpu: guest state layout, transfer mask, normalized exit reasons and the VM-exit message. */
#ifndef HV_ABI_VCPU_H
#define HV_ABI_VCPU_H

#include <stdint.h>

/*
 * A VM exit the core does not finish itself stops the vCPU's thread and becomes a
 * call to its fault endpoint (as every fault does, fault.h), label HV_FAULT_VM_EXIT:
 *
 *   w0 = enum hv_exit_reason
 *   w1 = qualification (per reason, below)
 *   w2 = guest-physical or guest-linear address (per reason), else 0
 *   w3 = length of the exiting instruction, 0 if the CPU did not say
 *        (QEMU's SVM has no next-RIP: the handler must decode then)
 *   IPC buffer msg[HV_VCPU_STATE_WORD ...] = struct hv_vcpu_state, of which only
 *   the groups named in its `mtd` word are valid.
 *
 * Which groups an exit carries is the handler's choice per exit reason
 * (VCPU_SET_TRANSFER), as NOVA's message-transfer descriptors: a port I/O exit
 * needs GPRs and RIP, not the segment registers.
 *
 * Reply HV_VCPU_REPLY_RESUME with the groups to write back in the state's `mtd`
 * (same layout, same words) to resume the guest; HV_FAULT_STOP (or no reply)
 * leaves it stopped. An event to inject travels in the INJECT group.
 */

/* Transfer-mask groups (struct hv_vcpu_state.mtd). */
#define HV_MTD_GPR (1u << 0)         /* rax rbx rcx rdx rsi rdi rbp r8-r15 */
#define HV_MTD_RSP_RIP_RFLAGS (1u << 1)
#define HV_MTD_CR (1u << 2)          /* cr0 cr2 cr3 cr4 efer (guest view) */
#define HV_MTD_SEG (1u << 3)         /* cs ss ds es fs gs */
#define HV_MTD_SYS_SEG (1u << 4)     /* tr ldtr gdtr idtr */
#define HV_MTD_MSR (1u << 5)         /* star lstar cstar sfmask kernel_gs_base sysenter_* pat */
#define HV_MTD_INJECT (1u << 6)      /* event injection, interruptibility, window requests */
#define HV_MTD_TSC (1u << 7)         /* tsc_offset */
#define HV_MTD_ALL 0xffu

/* A segment register in the AMD VMCB's packed attribute form (VMX converts). */
struct hv_segment {
    uint16_t selector;
    uint16_t attr;      /* type(4) s dpl(2) p | avl l db g  (VMCB "attrib" layout) */
    uint32_t limit;     /* byte-granular (expanded) limit */
    uint64_t base;
};

struct hv_dtable {
    uint64_t base;
    uint64_t limit;
};

/* Event injection word (HV_MTD_INJECT: inject_event); AMD EVENTINJ layout. */
#define HV_INJECT_VECTOR_MASK 0xffu
#define HV_INJECT_TYPE_SHIFT 8
#define HV_INJECT_TYPE_EXTINT 0u     /* external interrupt */
#define HV_INJECT_TYPE_NMI 2u
#define HV_INJECT_TYPE_EXCEPTION 3u
#define HV_INJECT_TYPE_SOFT_INT 4u
#define HV_INJECT_ERROR_VALID (1u << 11)
#define HV_INJECT_VALID (1u << 31)

/*
 * Window requests and interrupt shadow (HV_MTD_INJECT: intr_state). A window request
 * is one-shot on both backends: the INTR_WINDOW / NMI_WINDOW exit it causes also
 * clears it (the exit's state shows it clear); the handler sets it again to wait for
 * another window. Until that exit it stays set and reads back as set.
 */
#define HV_INTR_SHADOW (1u << 0)         /* guest is in an STI / MOV SS shadow */
#define HV_INTR_REQUEST_WINDOW (1u << 8) /* exit as soon as the guest can take an interrupt */
#define HV_INTR_REQUEST_NMI_WINDOW (1u << 9)

/*
 * The guest's architectural state as the handler sees it. Word offsets are part of
 * the ABI (the struct is copied to and from IPC-buffer message words).
 */
struct hv_vcpu_state {
    uint64_t mtd;       /* which groups below are valid (exit) / to be written (reply) */
    /* HV_MTD_GPR */
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    /* HV_MTD_RSP_RIP_RFLAGS */
    uint64_t rsp, rip, rflags;
    /* HV_MTD_CR */
    uint64_t cr0, cr2, cr3, cr4, efer;
    /* HV_MTD_SEG */
    struct hv_segment cs, ss, ds, es, fs, gs;
    /* HV_MTD_SYS_SEG */
    struct hv_segment tr, ldtr;
    struct hv_dtable gdtr, idtr;
    /* HV_MTD_MSR */
    uint64_t star, lstar, cstar, sfmask, kernel_gs_base;
    uint64_t sysenter_cs, sysenter_esp, sysenter_eip, pat;
    /* HV_MTD_INJECT */
    uint64_t inject_event;      /* HV_INJECT_*; consumed when delivered */
    uint64_t inject_error;
    uint64_t intr_state;        /* HV_INTR_* */
    /* HV_MTD_TSC */
    uint64_t tsc_offset;
};

/* The state starts after the four register words of the message. */
#define HV_VCPU_STATE_WORD 4u
#define HV_VCPU_STATE_WORDS (sizeof(struct hv_vcpu_state) / 8u)
_Static_assert(sizeof(struct hv_vcpu_state) % 8u == 0, "state is whole words");
_Static_assert(HV_VCPU_STATE_WORD + sizeof(struct hv_vcpu_state) / 8u <= 64u,
               "the exit message fits HV_MSG_MAX_WORDS");

/*
 * The guest's SSE registers (HV_INV_VCPU_READ_VEC / WRITE_VEC), in IPC-buffer words
 * HV_VCPU_VEC_WORD.. . They live in the vCPU thread's FXSAVE area (the core restores it
 * before each guest entry and saves it after). Not the whole 512-byte FXSAVE image: a
 * message holds 64 words of which 4 are the registers, so 480 bytes at most, and the x87
 * part is no VMM's business (the emulator does no x87). XMM0..15 only: the guests' CPUID
 * hides AVX and XSAVE, so there is no YMM upper half to carry.
 */
struct hv_vcpu_vec {
    uint64_t mxcsr;             /* bits 0-31; WRITE: a bit outside mxcsr_mask is HV_ERR_INVALID_ARGUMENT */
    uint64_t mxcsr_mask;        /* READ: the bits MXCSR may have (the CPU's MXCSR_MASK); ignored by WRITE */
    uint8_t xmm[16][16];        /* XMM0..15, little-endian */
};
#define HV_VCPU_VEC_WORD 4u
#define HV_VCPU_VEC_WORDS (sizeof(struct hv_vcpu_vec) / 8u)
_Static_assert(sizeof(struct hv_vcpu_vec) % 8u == 0, "vector state is whole words");
_Static_assert(HV_VCPU_VEC_WORD + sizeof(struct hv_vcpu_vec) / 8u <= 64u, "the vector state fits HV_MSG_MAX_WORDS");

/* Fault label of a VM exit (next to HV_FAULT_* in fault.h) and the reply that resumes. */
#define HV_FAULT_VM_EXIT 5u
#define HV_VCPU_REPLY_RESUME 0u     /* == HV_FAULT_RESUME */

/* Normalized exit reasons: the same on SVM and VMX. */
enum hv_exit_reason {
    HV_EXIT_NONE = 0,
    HV_EXIT_CPUID = 1,          /* w3 = 2 */
    HV_EXIT_IO = 2,             /* w1 = HV_IO_* qualification */
    HV_EXIT_HLT = 3,
    HV_EXIT_GPA = 4,            /* no frame (or not enough rights) at w2 = gpa; w1 = HV_GPA_* access */
    HV_EXIT_EXCEPTION = 5,      /* intercepted guest exception: w1 = vector | error << 32; w2 = cr2 for #PF */
    HV_EXIT_INTR_WINDOW = 6,
    HV_EXIT_NMI_WINDOW = 7,
    HV_EXIT_TRIPLE_FAULT = 8,   /* shutdown: the guest is dead until its state is rewritten */
    HV_EXIT_RECALL = 9,         /* VCPU_RECALL from another thread */
    HV_EXIT_MSR_READ = 10,      /* rcx = MSR; reply with rax:rdx */
    HV_EXIT_MSR_WRITE = 11,
    HV_EXIT_VMCALL = 12,        /* VMMCALL / VMCALL */
    HV_EXIT_INVALID_STATE = 13, /* entry refused the state: w1 = backend detail */
    HV_EXIT_UNHANDLED = 14,     /* a backend exit with no normalized meaning: w1 = raw exit code */
    HV_EXIT_CR_ACCESS = 15,     /* shadow mode, an access the core did not decode: w1 = CR | HV_CR_WRITE */
    HV_EXIT_INVLPG = 16,        /* shadow mode, an INVLPG the core did not decode */
    HV_EXIT_REASON_COUNT
};

/*
 * VCPU_READ_COUNTERS: what the vCPU's exits became, counted since it was made. The
 * four result registers carry the totals (w0 guest exits, w1 resolved in the core,
 * w2 messages to the handler, w3 exits that only ended the run for the host), the IPC
 * buffer from word HV_VCPU_COUNTERS_WORD the table by normalized reason:
 *  - exits[r]: VM exits out of the guest, by reason; exits[HV_EXIT_NONE] are those
 *    that only gave the CPU back to the host (an interrupt, NMI, preemption timer);
 *  - resolved[r]: of those, the exits the core finished itself without a message
 *    (shadow mode: #PF, CR accesses, INVLPG, EFER);
 *  - messages[r]: HV_FAULT_VM_EXIT messages sent to the handler, including the ones
 *    the core makes without a guest exit (HV_EXIT_RECALL, HV_EXIT_INVALID_STATE for a
 *    vCPU without guest memory).
 * exits[] and resolved[] count by the exit's own reason, messages[] by the reason
 * reported (shadow mode reports a guest #PF on a table outside guest memory as
 * HV_EXIT_GPA). An exit is neither resolved nor sent when its thread was stopped
 * meanwhile (the guest redoes the instruction).
 */
struct hv_vcpu_counters {
    uint64_t exits[HV_EXIT_REASON_COUNT];
    uint64_t resolved[HV_EXIT_REASON_COUNT];
    uint64_t messages[HV_EXIT_REASON_COUNT];
};
#define HV_VCPU_COUNTERS_WORD 4u
#define HV_VCPU_COUNTERS_WORDS (sizeof(struct hv_vcpu_counters) / 8u)
_Static_assert(HV_VCPU_COUNTERS_WORD + sizeof(struct hv_vcpu_counters) / 8u <= 64u,
               "the counters fit HV_MSG_MAX_WORDS");

/* HV_EXIT_IO qualification (w1). */
#define HV_IO_PORT_MASK 0xffffu
#define HV_IO_SIZE_SHIFT 16         /* bytes: 1, 2 or 4 */
#define HV_IO_IN (1u << 24)
#define HV_IO_STRING (1u << 25)
#define HV_IO_REP (1u << 26)

/* HV_EXIT_CR_ACCESS qualification (w1): the control register number, and the direction. */
#define HV_CR_NUMBER_MASK 0xfu
#define HV_CR_WRITE (1u << 4)

/* HV_EXIT_GPA access (w1). */
#define HV_GPA_READ (1u << 0)
#define HV_GPA_WRITE (1u << 1)
#define HV_GPA_EXECUTE (1u << 2)

#endif
