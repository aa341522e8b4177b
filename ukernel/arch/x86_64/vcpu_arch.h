/* SPDX-License-Identifier: MIT */
/* vcpu_arch: the one interface behind which vcpu_svm.c (AMD VMCB) and vcpu_vmx.c (Intel VMCS) sit. */
#ifndef HV_ARCH_VCPU_ARCH_H
#define HV_ARCH_VCPU_ARCH_H

#include <stdbool.h>
#include <stdint.h>

#include "../../include/hv/vcpu.h"

/*
 * The VCPU object (object/vcpu.c) owns policy-free bookkeeping (binding to a TCB,
 * GuestMemory, transfer masks, shadow paging); everything that touches a VMCB or a
 * VMCS is here, in one of two backends selected once at boot from the CPU's
 * features. Nothing above this interface names SVM or VMX.
 *
 * Memory: the core has no heap. The object hands the backend the physical pages
 * it needs (VMCB or VMCS, I/O and MSR permission bitmaps), carved from the
 * untyped memory the VCPU was retyped from; their sizes are vcpu_arch_pages().
 */

enum vcpu_backend {
    VCPU_BACKEND_NONE = 0,
    VCPU_BACKEND_SVM,
    VCPU_BACKEND_VMX,
};

/* Backend-private per-vCPU state; sized for both so the object needs no union games. */
struct vcpu_arch {
    uint64_t control_pa;        /* VMCB or VMCS */
    uint64_t iopm_pa;           /* I/O permission bitmap (SVM 12 KiB, VMX 8 KiB A+B) */
    uint64_t msrpm_pa;          /* MSR permission bitmap (SVM 8 KiB, VMX 4 KiB) */
    /* Guest registers the hardware does not keep in the VMCB/VMCS. */
    uint64_t gpr[16];           /* indexed as the ModRM register number; [4] (rsp) unused */
    uint64_t cr2;               /* VMX keeps no guest CR2: restored around entry */
    int32_t loaded_cpu;         /* VMX: CPU whose VMCS pointer holds this one, -1 none */
    uint32_t launched;          /* VMX: VMLAUNCH done since the last VMCLEAR */
    uint64_t raw_exit;          /* last backend exit code (for reports) */
};

/* A normalized exit, as the message words of hv/vcpu.h. */
struct vcpu_exit {
    enum hv_exit_reason reason;
    uint64_t qualification;
    uint64_t address;
    uint64_t instruction_length;
};

struct cpu_features;

/*
 * What a backend provides. Each backend file defines one `const struct
 * vcpu_arch_ops` and registers it with VCPU_BACKEND(); vcpu_arch.c picks the
 * first whose probe() accepts the boot CPU. The entries mean exactly what the
 * vcpu_arch_* wrappers below document.
 */
struct vcpu_arch_ops {
    const char *name;                   /* "svm" / "vmx", for the console */
    enum vcpu_backend backend;
    bool (*probe)(const struct cpu_features *f);
    bool (*nested_paging)(void);
    bool (*nested_2m_leaves)(void);
    bool (*cpu_enable)(unsigned cpu);
    uint64_t (*pages)(void);
    void (*setup)(struct vcpu_arch *v, uint64_t pages_pa, uint32_t tag);
    void (*set_nested_root)(struct vcpu_arch *v, uint64_t root_pa);
    void (*set_shadow_root)(struct vcpu_arch *v, uint64_t shadow_cr3);
    void (*flush_tlb)(struct vcpu_arch *v);
    void (*state_write)(struct vcpu_arch *v, const struct hv_vcpu_state *s);
    void (*state_read)(struct vcpu_arch *v, uint64_t mtd, struct hv_vcpu_state *s);
    void (*set_exception_intercepts)(struct vcpu_arch *v, uint32_t vector_bitmap);
    void (*run)(struct vcpu_arch *v, struct vcpu_exit *exit);
    void (*release)(struct vcpu_arch *v);
    /* Shadow paging (kernel/vcpu_shadow.c); all NULL: the backend refuses shadow mode. */
    void (*shadow_mode)(struct vcpu_arch *v, bool on);
    void (*shadow_load)(struct vcpu_arch *v, uint64_t cr0, uint64_t cr4, uint64_t efer,
                        uint64_t guest_cr0, uint64_t guest_cr4);
    void (*flush_tlb_gva)(struct vcpu_arch *v, uint64_t gva);
    void (*inject_exception)(struct vcpu_arch *v, unsigned vector, bool has_error,
                             uint32_t error_code, uint64_t cr2);
};

#define VCPU_BACKEND(ops)                                                                  \
    static const struct vcpu_arch_ops *const vcpu_backend_##ops                            \
        __attribute__((used, section(".vcpu_backends"))) = &(ops)

/* Which backend runs on this machine (after vcpu_arch_init); NONE if neither. */
enum vcpu_backend vcpu_arch_backend(void);
const char *vcpu_arch_name(void);
bool vcpu_arch_nested_paging(void);    /* NPT / EPT available */
/* The nested format takes 2 MiB leaves in a PD (NPT always; EPT if its capability MSR says so). */
bool vcpu_arch_nested_2m_leaves(void);

/* Boot CPU, once: pick the backend. Then on every CPU: enable it (EFER.SVME + host
 * save area, or feature control + VMXON). Returns false with a console message if
 * the CPU cannot (the core then runs without VCPU objects). */
bool vcpu_arch_init(void);
bool vcpu_arch_cpu_enable(unsigned cpu);

/* Bytes of backend pages one vCPU needs, a 4 KiB-aligned contiguous run. */
uint64_t vcpu_arch_pages(void);

/*
 * Sets up a vCPU in `pages_pa` (physical, zeroed, vcpu_arch_pages() bytes): every
 * exit the core must see is intercepted (CPUID, HLT, I/O, MSR, VMCALL, shutdown;
 * INVLPG and CR3 accesses when shadow paging), the guest starts in the
 * architectural reset state (real mode, CS:IP = f000:fff0), ASID/VPID `tag` (non-zero).
 */
void vcpu_arch_setup(struct vcpu_arch *v, uint64_t pages_pa, uint32_t tag);

/* Nested paging root (NPT: a PML4 in x86-64 format; EPT: an EPT PML4) or, with
 * shadow paging, the shadow root the guest runs on. */
void vcpu_arch_set_nested_root(struct vcpu_arch *v, uint64_t root_pa);
void vcpu_arch_set_shadow_root(struct vcpu_arch *v, uint64_t shadow_cr3);

/*
 * Drops the vCPU's cached guest translations at its next entry (SVM: TLB_CONTROL;
 * VMX: INVVPID/INVEPT). The core calls it when GuestMemory loses or narrows a
 * mapping and before a vCPU runs on a CPU for the first time since its tag was
 * (re)assigned.
 */
void vcpu_arch_flush_tlb(struct vcpu_arch *v);

/* Copy guest state in (the groups in s->mtd) and out (groups in `mtd`). */
void vcpu_arch_state_write(struct vcpu_arch *v, const struct hv_vcpu_state *s);
void vcpu_arch_state_read(struct vcpu_arch *v, uint64_t mtd, struct hv_vcpu_state *s);

/* Intercept guest exception vectors (bit per vector); 0 stops intercepting them. */
void vcpu_arch_set_exception_intercepts(struct vcpu_arch *v, uint32_t vector_bitmap);

/*
 * Enters the guest on this CPU with host interrupts off and returns at the next
 * exit. A host interrupt arriving while the guest runs ends the run with reason
 * HV_EXIT_NONE (the core handles the interrupt and re-enters or schedules).
 */
void vcpu_arch_run(struct vcpu_arch *v, struct vcpu_exit *exit);

/* VMX: make the VMCS not current on the CPU holding it (before migration or free). */
void vcpu_arch_release(struct vcpu_arch *v);

/*
 * --- Shadow paging (HV_VCPU_MODE_SHADOW; the core's side is kernel/vcpu_shadow.c) ---
 *
 * The core keeps the guest-visible CR0, CR3, CR4 and EFER (in struct shadow); the
 * backend's guest-state area holds what the hardware really runs with. A backend that
 * offers shadow mode implements all four entries below (vcpu_arch_shadow_supported()
 * is false otherwise, and SET_GUEST_MEMORY(mode shadow) returns HV_ERR_NOT_SUPPORTED):
 *
 *  shadow_mode(on):  nested paging off, and these exits on: guest #PF is NOT set here
 *       (the core ORs vector 14 into set_exception_intercepts itself); reads and writes
 *       of CR0, CR3 and CR4 (including CLTS/LMSW), INVLPG, and RDMSR/WRMSR of EFER
 *       (both backends: every MSR exits already; w1 = ECX). Exits are normalized as
 *       HV_EXIT_CR_ACCESS (qualification = CR number | HV_CR_WRITE) and HV_EXIT_INVLPG;
 *       the core decodes the instruction from guest memory (it uses no decode assists,
 *       so a backend need not provide them). shadow_mode(off): those intercepts off
 *       again (the core then rewrites the guest-visible CRs with state_write and sets a
 *       nested root). VMX: EPT and "unrestricted guest" off, CR0/CR4 guest/host masks
 *       covering every bit with read shadows = the guest values (VMX cannot intercept
 *       MOV from CR0/CR4, so the guest reads the shadow; a write that changes any bit
 *       exits, CLTS/LMSW too), CR3-load/store exiting, INVLPG exiting, #PF in the
 *       exception bitmap with PFEC mask/match 0; EFER through "load IA32_EFER" with the
 *       IA-32e-mode-guest entry control = EFER.LMA. Without unrestricted guest the CPU
 *       runs the guest with CR0.PE = PG = 1: a guest whose CR0.PE is 0 (real mode) does
 *       not enter (run gives HV_EXIT_INVALID_STATE, VMX_INVALID_SHADOW_REAL_MODE).
 *  shadow_load(cr0, cr4, efer, guest_cr0, guest_cr4): the hardware values the guest runs
 *       with (PG, WP, PAE and NXE forced, PGE clear; EFER.LME = LMA = the guest's LMA);
 *       the backend adds its own must-be-one bits (SVM: EFER.SVME; VMX: CR0/CR4
 *       FIXED0). guest_cr0/guest_cr4 are what the guest sees (VMX: the read shadows;
 *       SVM intercepts the reads and ignores them). set_shadow_root gives CR3; it does
 *       not flush (the core asks with flush_tlb / flush_tlb_gva when a flush is due).
 *  flush_tlb_gva(gva): drop the vCPU's hardware TLB entries for one gva before the next
 *       entry, on the calling CPU (SVM: INVLPGA gva, ASID; VMX: INVVPID
 *       individual-address, single-context where that is missing).
 *  inject_exception(vector, has_error, error, cr2): deliver a fault at the next entry
 *       without touching interrupt-window state; for vector 14 also set the guest CR2.
 */
bool vcpu_arch_shadow_supported(void);
void vcpu_arch_shadow_mode(struct vcpu_arch *v, bool on);
void vcpu_arch_shadow_load(struct vcpu_arch *v, uint64_t cr0, uint64_t cr4, uint64_t efer,
                           uint64_t guest_cr0, uint64_t guest_cr4);
void vcpu_arch_flush_tlb_gva(struct vcpu_arch *v, uint64_t gva);
void vcpu_arch_inject_exception(struct vcpu_arch *v, unsigned vector, bool has_error,
                                uint32_t error_code, uint64_t cr2);

#endif
