/* SPDX-License-Identifier: MIT */
/* vcpu_vmx: the Intel VMX backend of vcpu_arch (VMXON per CPU, one VMCS per vCPU, EPT, exit normalization). */
#include <stddef.h>

#include "cpu.h"
#include "cpu_features.h"
#include "gdt.h"
#include "lapic.h"
#include "layout.h"
#include "smp.h"
#include "vcpu_arch.h"
#include "nested_pte.h"
#include "vmx.h"
#include "../../kernel/assert.h"
#include "../../kernel/config.h"
#include "../../kernel/console.h"
#include "../../kernel/kmem.h"
#include "../../lib/kstring.h"

_Static_assert(offsetof(struct vcpu_arch, gpr) == VMX_ARCH_GPR, "vcpu_vmx_entry.S layout");
_Static_assert(offsetof(struct vcpu_arch, cr2) == VMX_ARCH_CR2, "vcpu_vmx_entry.S layout");

int vmx_enter(struct vcpu_arch *v, uint32_t launched);
void vmx_exit_stub(void);

/*
 * The pages one vCPU owns (vcpu_arch_pages(), contiguous, from the VCPU's untyped):
 *
 *   +0x0000 VMCS                  (revision id in the first word)
 *   +0x1000 I/O bitmap A          ports 0000-7fff, all ones: every port exits
 *   +0x2000 I/O bitmap B          ports 8000-ffff, all ones
 *   +0x3000 MSR bitmap            all ones: every RDMSR/WRMSR exits
 *   +0x4000 guest MSR area        VM-entry load = VM-exit store (syscall MSRs, KERNEL_GS_BASE)
 *   +0x4800 host MSR area         VM-exit load (the host's values, refreshed before each entry)
 *   +0x4c00 struct vmx_soft       what the backend keeps beside the VMCS
 */
#define VMX_OFF_IO_A 0x1000u
#define VMX_OFF_IO_B 0x2000u
#define VMX_OFF_MSR_BITMAP 0x3000u
#define VMX_OFF_GUEST_MSRS 0x4000u
#define VMX_OFF_HOST_MSRS 0x4800u
#define VMX_OFF_SOFT 0x4c00u
#define VMX_PAGES_BYTES 0x5000u

/* The MSRs the VMCS does not hold but the guest may own (HV_MTD_MSR), in area order. */
enum vmx_area_msr { AREA_STAR, AREA_LSTAR, AREA_CSTAR, AREA_SFMASK, AREA_KERNEL_GS_BASE, AREA_COUNT };
static const uint32_t area_msr_index[AREA_COUNT] = {
    [AREA_STAR] = MSR_STAR, [AREA_LSTAR] = MSR_LSTAR, [AREA_CSTAR] = MSR_CSTAR,
    [AREA_SFMASK] = MSR_FMASK, [AREA_KERNEL_GS_BASE] = MSR_KERNEL_GS_BASE,
};

/* Work run() does before the next entry (struct vmx_soft.pending). */
#define PENDING_FLUSH (1u << 0)     /* INVEPT/INVVPID: new nested root or new CPU */
#define PENDING_CHECK (1u << 1)     /* state written: re-check what entry checks would miss */
#define PENDING_PDPTES (1u << 2)    /* EPT + PAE: CR state written, load GUEST_PDPTE0-3 from CR3 */

struct vmx_soft {
    uint32_t pending;
    uint32_t refused;           /* VMX_INVALID_* of a state_write that wrote nothing, 0 = none */
    uint32_t vpid;
    uint32_t shadow_paging;     /* shadow_mode(on): no EPT, CR exits, the core owns the CRs */
    uint64_t eptp;
};
_Static_assert(VMX_OFF_SOFT + sizeof(struct vmx_soft) <= VMX_PAGES_BYTES, "soft state fits");
_Static_assert(VMX_OFF_GUEST_MSRS + AREA_COUNT * sizeof(struct vmx_msr_entry) <= VMX_OFF_HOST_MSRS,
               "guest MSR area fits");
_Static_assert(VMX_OFF_HOST_MSRS + AREA_COUNT * sizeof(struct vmx_msr_entry) <= VMX_OFF_SOFT,
               "host MSR area fits");

/* What the CPU allows, read once on the boot CPU (probe) and used for every VMCS. */
static struct {
    uint32_t revision;
    uint32_t pin, proc, proc2, exit, entry;    /* controls after allowed-0/1 adjustment */
    uint32_t proc_allowed1;                    /* for optional bits set later */
    uint32_t pin_allowed1;
    uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
    uint64_t ept_vpid_cap;
    uint64_t cr0_mask, cr4_mask;               /* bits whose guest view is the read shadow */
    uint32_t preemption_rate;                  /* VMX-preemption timer: TSC >> rate */
} caps;

/*
 * Per CPU: the VMXON region (a static page each, CONFIG_MAX_CPUS of them: the
 * region must exist before any untyped memory is handed out, and it is one page
 * per CPU for the core's lifetime) and which VMCS is current there.
 */
static uint8_t vmxon_region[CONFIG_MAX_CPUS][4096] __attribute__((aligned(4096)));
static struct vmx_cpu {
    uint64_t current_vmcs;      /* physical address, 0 = none */
    bool enabled;
    struct descriptor_table_ptr gdtr;   /* VM exit sets the GDTR limit to 0xffff: restored */
} vmx_cpus[CONFIG_MAX_CPUS];

/* ---- VMX instructions ---- */

static inline bool vmwrite(uint64_t field, uint64_t value)
{
    bool fail;
    __asm__ volatile("vmwrite %[v], %[f]" : "=@ccbe"(fail) : [v] "rm"(value), [f] "r"(field) : "cc");
    return !fail;
}

static inline uint64_t vmread(uint64_t field)
{
    uint64_t value = 0;
    __asm__ volatile("vmread %[f], %[v]" : [v] "=rm"(value) : [f] "r"(field) : "cc");
    return value;
}

static inline bool vmptrld(uint64_t pa)
{
    bool fail;
    __asm__ volatile("vmptrld %[pa]" : "=@ccbe"(fail) : [pa] "m"(pa) : "cc", "memory");
    return !fail;
}

static inline bool vmclear(uint64_t pa)
{
    bool fail;
    __asm__ volatile("vmclear %[pa]" : "=@ccbe"(fail) : [pa] "m"(pa) : "cc", "memory");
    return !fail;
}

static inline bool vmxon(uint64_t pa)
{
    bool fail;
    __asm__ volatile("vmxon %[pa]" : "=@ccbe"(fail) : [pa] "m"(pa) : "cc", "memory");
    return !fail;
}

static inline void invept(uint64_t type, uint64_t eptp)
{
    const uint64_t desc[2] = { eptp, 0 };      /* EPTP, reserved */
    __asm__ volatile("invept %[d], %[t]" : : [d] "m"(desc), [t] "r"(type) : "cc", "memory");
}

static inline void invvpid_addr(uint64_t type, uint16_t vpid, uint64_t gva)
{
    const uint64_t desc[2] = { vpid, gva };    /* VPID in bits 15:0, linear address */
    __asm__ volatile("invvpid %[d], %[t]" : : [d] "m"(desc), [t] "r"(type) : "cc", "memory");
}

static inline void invvpid(uint64_t type, uint16_t vpid)
{
    invvpid_addr(type, vpid, 0);
}

static inline uint64_t irq_save(void)
{
    uint64_t flags = read_rflags();
    irq_disable();
    return flags;
}

static inline void irq_restore(uint64_t flags)
{
    if (flags & RFLAGS_IF)
        irq_enable();
}

static inline struct vmx_soft *soft_of(const struct vcpu_arch *v)
{
    return kmem_ptr(v->control_pa + VMX_OFF_SOFT);
}

static inline struct vmx_msr_entry *guest_msrs(const struct vcpu_arch *v)
{
    return kmem_ptr(v->control_pa + VMX_OFF_GUEST_MSRS);
}

static bool canonical(uint64_t a);
static void flush_tlbs(const struct vmx_soft *s);

/* ---- capabilities ---- */

/* Allowed-0 bits (low half) must be 1, allowed-1 bits (high half) may be 1. */
static bool adjust_controls(uint32_t msr, uint32_t required, uint32_t optional, uint32_t *out)
{
    uint64_t v = rdmsr(msr);
    uint32_t must = (uint32_t)v, may = (uint32_t)(v >> 32);
    *out = ((required | optional) & may) | must;
    return (required & ~may) == 0;
}

static bool vmx_probe(const struct cpu_features *f)
{
    const struct vmx_features *x = &f->vmx;
    if (!x->supported || x->locked_off || !x->secondary_controls || !x->ept ||
        !x->ept_4level || !x->ept_wb || !x->unrestricted_guest || x->vmcs_size > 4096)
        return false;
    caps.revision = x->vmcs_revision;
    bool t = x->true_controls;
    bool ok = adjust_controls(t ? MSR_VMX_TRUE_PINBASED_CTLS : MSR_VMX_PINBASED_CTLS,
                              PIN_EXTERNAL_INTERRUPT_EXITING | PIN_NMI_EXITING,
                              PIN_VIRTUAL_NMIS | PIN_PREEMPTION_TIMER,
                              &caps.pin);
    ok = ok && adjust_controls(t ? MSR_VMX_TRUE_PROCBASED_CTLS : MSR_VMX_PROCBASED_CTLS,
                               PROC_HLT_EXITING | PROC_USE_IO_BITMAPS | PROC_USE_MSR_BITMAPS |
                                   PROC_ACTIVATE_SECONDARY | PROC_USE_TSC_OFFSETTING,
                               0, &caps.proc);
    ok = ok && adjust_controls(MSR_VMX_PROCBASED_CTLS2,
                               PROC2_ENABLE_EPT | PROC2_UNRESTRICTED_GUEST,
                               x->vpid ? PROC2_ENABLE_VPID : 0, &caps.proc2);
    ok = ok && adjust_controls(t ? MSR_VMX_TRUE_EXIT_CTLS : MSR_VMX_EXIT_CTLS,
                               EXIT_HOST_ADDRESS_SPACE_SIZE | EXIT_SAVE_EFER | EXIT_LOAD_EFER |
                                   EXIT_SAVE_PAT | EXIT_LOAD_PAT,
                               0, &caps.exit);
    ok = ok && adjust_controls(t ? MSR_VMX_TRUE_ENTRY_CTLS : MSR_VMX_ENTRY_CTLS,
                               ENTRY_LOAD_EFER | ENTRY_LOAD_PAT, 0, &caps.entry);
    if (!ok) {
        kprintf("vmx: a required VM-execution control is not available\n");
        return false;
    }
    /* Acknowledge-interrupt-on-exit stays off: the host takes the interrupt after STI. */
    caps.exit &= ~EXIT_ACK_INTERRUPT;
    caps.entry &= ~ENTRY_IA32E_MODE_GUEST;          /* per vCPU, from the guest's EFER.LMA */
    caps.proc_allowed1 = (uint32_t)(rdmsr(t ? MSR_VMX_TRUE_PROCBASED_CTLS : MSR_VMX_PROCBASED_CTLS) >> 32);
    caps.pin_allowed1 = (uint32_t)(rdmsr(t ? MSR_VMX_TRUE_PINBASED_CTLS : MSR_VMX_PINBASED_CTLS) >> 32);
    caps.cr0_fixed0 = rdmsr(MSR_VMX_CR0_FIXED0);
    caps.cr0_fixed1 = rdmsr(MSR_VMX_CR0_FIXED1);
    caps.cr4_fixed0 = rdmsr(MSR_VMX_CR4_FIXED0);
    caps.cr4_fixed1 = rdmsr(MSR_VMX_CR4_FIXED1);
    caps.ept_vpid_cap = rdmsr(MSR_VMX_EPT_VPID_CAP);
    caps.preemption_rate = (uint32_t)(rdmsr(MSR_VMX_MISC) & VMX_MISC_PREEMPTION_RATE_MASK);
    /*
     * Guest view of CR0/CR4: the bits VMX forces to 1 (CR0.NE, CR4.VMXE; CR0.PE/PG are
     * free under unrestricted guest) are owned by the host and read from the shadow,
     * so the guest sees exactly the value it (or the handler) wrote.
     */
    caps.cr0_mask = caps.cr0_fixed0 & ~(CR0_PE | CR0_PG);
    caps.cr4_mask = caps.cr4_fixed0;
    return true;
}

static bool vmx_nested_paging(void) { return true; }   /* probe requires EPT */
/* An EPT PDE with bit 7 maps 2 MiB only where IA32_VMX_EPT_VPID_CAP bit 16 says so (SDM A.10). */
static bool vmx_nested_2m_leaves(void) { return (caps.ept_vpid_cap & EPT_CAP_PDE_2M) != 0; }

static uint64_t vmx_pages(void) { return VMX_PAGES_BYTES; }

static bool vmx_cpu_enable(unsigned cpu)
{
    if (cpu >= CONFIG_MAX_CPUS)
        return false;
    uint64_t fc = rdmsr(MSR_FEATURE_CONTROL);
    if (!(fc & FEATURE_CONTROL_LOCKED)) {
        /* Bochs's BIOS leaves it 0: allow VMXON outside SMX, then lock (until reset). */
        wrmsr(MSR_FEATURE_CONTROL, fc | FEATURE_CONTROL_LOCKED | FEATURE_CONTROL_VMXON_OUTSIDE_SMX_BIT);
    } else if (!(fc & FEATURE_CONTROL_VMXON_OUTSIDE_SMX_BIT)) {
        kprintf("vmx: cpu %u: firmware locked VMX off\n", cpu);
        return false;
    }
    write_cr0((read_cr0() | caps.cr0_fixed0) & caps.cr0_fixed1);
    write_cr4((read_cr4() | caps.cr4_fixed0 | CR4_VMXE) & caps.cr4_fixed1);
    uint32_t *region = (uint32_t *)vmxon_region[cpu];
    region[0] = caps.revision;
    uint64_t pa = (uint64_t)(uintptr_t)vmxon_region[cpu] - KERNEL_VMA;
    if (!vmxon(pa)) {
        kprintf("vmx: cpu %u: VMXON failed\n", cpu);
        return false;
    }
    vmx_cpus[cpu].enabled = true;
    vmx_cpus[cpu].current_vmcs = 0;
    __asm__ volatile("sgdt %0" : "=m"(vmx_cpus[cpu].gdtr));
    /* Nothing tagged with a VPID or EPTP survives from before VMXON on this CPU. */
    if (caps.ept_vpid_cap & EPT_CAP_INVEPT_ALL)
        invept(INVEPT_ALL_CONTEXT, 0);
    if ((caps.proc2 & PROC2_ENABLE_VPID) && (caps.ept_vpid_cap & VPID_CAP_INVVPID_ALL))
        invvpid(INVVPID_ALL_CONTEXT, 0);
    return true;
}

/* ---- making a VMCS current on this CPU ---- */

/* Runs on the CPU where the VMCS is active (cross-CPU call, interrupts off). */
static void clear_here(void *arg)
{
    const struct vcpu_arch *v = arg;
    struct vmx_cpu *c = &vmx_cpus[this_cpu_index()];
    vmclear(v->control_pa);
    if (c->current_vmcs == v->control_pa)
        c->current_vmcs = 0;
}

/* VMCLEAR wherever it is active; afterwards no CPU holds it and VMLAUNCH comes next. */
static bool clear_vmcs(struct vcpu_arch *v)
{
    if (v->loaded_cpu < 0)
        return true;
    unsigned cpu = (unsigned)v->loaded_cpu;
    if (cpu == this_cpu_index())
        clear_here(v);
    else if (!smp_call_on_cpu(cpu, clear_here, v))
        return false;
    v->loaded_cpu = -1;
    v->launched = 0;
    return true;
}

/* Host state that is fixed for a CPU (written whenever the VMCS moves to this CPU). */
static void write_host_state(unsigned cpu)
{
    struct descriptor_table_ptr idtr;
    __asm__ volatile("sidt %0" : "=m"(idtr));
    vmwrite(VMCS_HOST_CR0, read_cr0());
    vmwrite(VMCS_HOST_CR4, read_cr4());
    vmwrite(VMCS_HOST_CS_SELECTOR, GDT_KERNEL_CS);
    vmwrite(VMCS_HOST_SS_SELECTOR, GDT_KERNEL_DS);
    vmwrite(VMCS_HOST_DS_SELECTOR, GDT_KERNEL_DS);
    vmwrite(VMCS_HOST_ES_SELECTOR, GDT_KERNEL_DS);
    vmwrite(VMCS_HOST_FS_SELECTOR, 0);
    vmwrite(VMCS_HOST_GS_SELECTOR, 0);
    vmwrite(VMCS_HOST_TR_SELECTOR, GDT_TSS);
    vmwrite(VMCS_HOST_TR_BASE, (uint64_t)(uintptr_t)gdt_tss(cpu));
    vmwrite(VMCS_HOST_GDTR_BASE, vmx_cpus[cpu].gdtr.base);
    vmwrite(VMCS_HOST_IDTR_BASE, idtr.base);
    vmwrite(VMCS_HOST_GS_BASE, rdmsr(MSR_GS_BASE));    /* the per-CPU block */
    vmwrite(VMCS_HOST_SYSENTER_CS, rdmsr(MSR_IA32_SYSENTER_CS));
    vmwrite(VMCS_HOST_SYSENTER_ESP, rdmsr(MSR_IA32_SYSENTER_ESP));
    vmwrite(VMCS_HOST_SYSENTER_EIP, rdmsr(MSR_IA32_SYSENTER_EIP));
    vmwrite(VMCS_HOST_IA32_EFER, rdmsr(MSR_EFER));
    vmwrite(VMCS_HOST_IA32_PAT, rdmsr(MSR_IA32_PAT));
    vmwrite(VMCS_HOST_RIP, (uint64_t)(uintptr_t)vmx_exit_stub);
}

/*
 * Makes v's VMCS the current one on this CPU (interrupts off). A VMCS active on
 * another CPU is VMCLEARed there first (release() should have done it before the
 * vCPU moved; this is the safety net). False if that CPU did not answer.
 */
static bool make_current(struct vcpu_arch *v)
{
    unsigned cpu = this_cpu_index();
    if (cpu >= CONFIG_MAX_CPUS || !vmx_cpus[cpu].enabled)
        return false;
    struct vmx_cpu *c = &vmx_cpus[cpu];
    if (v->loaded_cpu == (int32_t)cpu) {
        if (c->current_vmcs != v->control_pa) {
            if (!vmptrld(v->control_pa))
                return false;
            c->current_vmcs = v->control_pa;
        }
        return true;
    }
    if (!clear_vmcs(v))
        return false;
    if (!vmptrld(v->control_pa))
        return false;
    c->current_vmcs = v->control_pa;
    v->loaded_cpu = (int32_t)cpu;
    v->launched = 0;
    write_host_state(cpu);
    soft_of(v)->pending |= PENDING_FLUSH;   /* this CPU may hold stale VPID/EPTP entries */
    return true;
}

/* ---- segment conversion ---- */

/* VMCB attr (type s dpl p | avl l db g in 12 bits) -> VMX access rights; not present = unusable. */
static uint32_t attr_to_ar(uint16_t attr)
{
    if (!(attr & VMX_AR_P))
        return VMX_AR_UNUSABLE;
    return (attr & VMX_AR_LOW_MASK) | (((uint32_t)attr << VMX_AR_HIGH_SHIFT) & VMX_AR_HIGH_MASK);
}

static uint16_t ar_to_attr(uint32_t ar)
{
    if (ar & VMX_AR_UNUSABLE)
        return 0;
    return (uint16_t)((ar & VMX_AR_LOW_MASK) | ((ar & VMX_AR_HIGH_MASK) >> VMX_AR_HIGH_SHIFT));
}

static void seg_write(enum vmx_seg i, const struct hv_segment *s)
{
    vmwrite(VMCS_GUEST_ES_SELECTOR + 2u * i, s->selector);
    vmwrite(VMCS_GUEST_ES_AR + 2u * i, attr_to_ar(s->attr));
    vmwrite(VMCS_GUEST_ES_LIMIT + 2u * i, s->limit);
    vmwrite(VMCS_GUEST_ES_BASE + 2u * i, s->base);
}

static void seg_read(enum vmx_seg i, struct hv_segment *s)
{
    s->selector = (uint16_t)vmread(VMCS_GUEST_ES_SELECTOR + 2u * i);
    s->attr = ar_to_attr((uint32_t)vmread(VMCS_GUEST_ES_AR + 2u * i));
    s->limit = (uint32_t)vmread(VMCS_GUEST_ES_LIMIT + 2u * i);
    s->base = vmread(VMCS_GUEST_ES_BASE + 2u * i);
}

/* ---- event conversion (AMD EVENTINJ layout <-> VMX interruption information) ---- */

static uint32_t inject_to_vmx(uint64_t ev)
{
    if (!(ev & HV_INJECT_VALID))
        return 0;
    uint32_t vector = (uint32_t)ev & HV_INJECT_VECTOR_MASK;
    uint32_t type = ((uint32_t)ev >> HV_INJECT_TYPE_SHIFT) & 7u;
    uint32_t vtype = type == HV_INJECT_TYPE_NMI ? VMX_INTR_TYPE_NMI
                     : type == HV_INJECT_TYPE_EXCEPTION ? VMX_INTR_TYPE_HW_EXCEPTION
                     : type == HV_INJECT_TYPE_SOFT_INT ? VMX_INTR_TYPE_SOFT_INT
                     : VMX_INTR_TYPE_EXTINT;
    /*
     * Exceptions, #BP and #OF included, go in as hardware exceptions: the return
     * address is RIP, as with SVM's EVENTINJ.
     */
    uint32_t info = VMX_INTR_VALID | vector | (vtype << VMX_INTR_TYPE_SHIFT);
    if (ev & HV_INJECT_ERROR_VALID)
        info |= VMX_INTR_ERROR_VALID;
    return info;
}

static uint64_t inject_from_vmx(uint32_t info)
{
    if (!(info & VMX_INTR_VALID))
        return 0;
    uint32_t vtype = (info & VMX_INTR_TYPE_MASK) >> VMX_INTR_TYPE_SHIFT;
    uint64_t type = vtype == VMX_INTR_TYPE_NMI ? HV_INJECT_TYPE_NMI
                    : vtype == VMX_INTR_TYPE_EXTINT ? HV_INJECT_TYPE_EXTINT
                    : vtype == VMX_INTR_TYPE_SOFT_INT ? HV_INJECT_TYPE_SOFT_INT
                    : HV_INJECT_TYPE_EXCEPTION;
    uint64_t ev = HV_INJECT_VALID | (info & VMX_INTR_VECTOR_MASK) | (type << HV_INJECT_TYPE_SHIFT);
    if (info & VMX_INTR_ERROR_VALID)
        ev |= HV_INJECT_ERROR_VALID;
    return ev;
}

/* ---- setup ---- */

static void set_proc_bits(uint32_t set, uint32_t clear)
{
    uint32_t proc = (uint32_t)vmread(VMCS_PROC_CONTROLS);
    vmwrite(VMCS_PROC_CONTROLS, (proc & ~clear) | (set & caps.proc_allowed1));
}

/*
 * CR0 as the guest sees it is `view`; the bits of the guest/host mask (CR0.NE with
 * EPT; also PE, PG and WP under shadow paging) are forced on in the real CR0 and
 * read from the shadow.
 */
static void write_guest_cr0(uint64_t view)
{
    vmwrite(VMCS_CR0_READ_SHADOW, view);
    vmwrite(VMCS_GUEST_CR0, (view | vmread(VMCS_CR0_GUEST_HOST_MASK)) & caps.cr0_fixed1);
}

static uint64_t read_guest_cr0(void)
{
    uint64_t mask = vmread(VMCS_CR0_GUEST_HOST_MASK);
    return (vmread(VMCS_GUEST_CR0) & ~mask) | (vmread(VMCS_CR0_READ_SHADOW) & mask);
}

static void write_guest_cr4(uint64_t view)
{
    vmwrite(VMCS_CR4_READ_SHADOW, view);
    vmwrite(VMCS_GUEST_CR4, (view | caps.cr4_mask) & caps.cr4_fixed1);
}

/* EFER and the IA-32e-mode-guest entry control always agree (EFER.LMA). */
static void write_guest_efer(uint64_t efer)
{
    vmwrite(VMCS_GUEST_IA32_EFER, efer);
    uint32_t entry = (uint32_t)vmread(VMCS_ENTRY_CONTROLS) & ~ENTRY_IA32E_MODE_GUEST;
    vmwrite(VMCS_ENTRY_CONTROLS, entry | ((efer & EFER_LMA) ? ENTRY_IA32E_MODE_GUEST : 0));
}

/* The architectural reset state (SDM 9.1.1): real mode, CS:IP = f000:fff0. */
static void write_reset_state(void)
{
    static const struct hv_segment data = { 0, 0x93, 0xffff, 0 };
    static const struct hv_segment code = { 0xf000, 0x9b, 0xffff, 0xffff0000ull };
    static const struct hv_segment ldtr = { 0, 0x82, 0xffff, 0 };
    static const struct hv_segment tr = { 0, 0x8b, 0xffff, 0 };
    for (enum vmx_seg i = VMX_SEG_ES; i <= VMX_SEG_GS; i++)
        seg_write(i, i == VMX_SEG_CS ? &code : &data);
    seg_write(VMX_SEG_LDTR, &ldtr);
    seg_write(VMX_SEG_TR, &tr);
    vmwrite(VMCS_GUEST_GDTR_BASE, 0);
    vmwrite(VMCS_GUEST_GDTR_LIMIT, 0xffff);
    vmwrite(VMCS_GUEST_IDTR_BASE, 0);
    vmwrite(VMCS_GUEST_IDTR_LIMIT, 0xffff);
    write_guest_cr0(0x60000010ull);
    write_guest_cr4(0);
    vmwrite(VMCS_GUEST_CR3, 0);
    write_guest_efer(0);
    vmwrite(VMCS_GUEST_DR7, 0x400);
    vmwrite(VMCS_GUEST_RSP, 0);
    vmwrite(VMCS_GUEST_RIP, 0xfff0);
    vmwrite(VMCS_GUEST_RFLAGS, 0x2);
    vmwrite(VMCS_GUEST_IA32_PAT, 0x0007040600070406ull);
    vmwrite(VMCS_GUEST_IA32_DEBUGCTL, 0);
    vmwrite(VMCS_GUEST_SYSENTER_CS, 0);
    vmwrite(VMCS_GUEST_SYSENTER_ESP, 0);
    vmwrite(VMCS_GUEST_SYSENTER_EIP, 0);
    vmwrite(VMCS_GUEST_INTERRUPTIBILITY, 0);
    vmwrite(VMCS_GUEST_ACTIVITY_STATE, VMX_ACTIVITY_ACTIVE);
    vmwrite(VMCS_GUEST_PENDING_DEBUG, 0);
    vmwrite(VMCS_LINK_POINTER, ~0ull);
}

/*
 * The VMX-preemption timer ends every guest run after one host timer period at
 * most (reloaded at each entry). A backstop, and needed on Bochs 2.7: it loads the
 * guest's RFLAGS before it considers itself in the guest, so a guest entered with
 * IF = 0 masks host interrupts until the guest itself changes IF.
 */
static uint64_t preemption_slice(void)
{
    uint64_t tsc_hz = lapic_timer_info()->tsc_hz;
    uint64_t slice = (tsc_hz / CONFIG_TIMER_HZ) >> caps.preemption_rate;
    if (slice == 0)
        slice = 1;
    return slice > 0xffffffffull ? 0xffffffffull : slice;
}

static void vmx_setup(struct vcpu_arch *v, uint64_t pages_pa, uint32_t tag)
{
    kassert((pages_pa & 0xfff) == 0);
    memset(v, 0, sizeof(*v));
    v->control_pa = pages_pa;
    v->iopm_pa = pages_pa + VMX_OFF_IO_A;
    v->msrpm_pa = pages_pa + VMX_OFF_MSR_BITMAP;
    v->loaded_cpu = -1;

    memset(kmem_ptr(pages_pa), 0, VMX_PAGES_BYTES);
    *(uint32_t *)kmem_ptr(pages_pa) = caps.revision;
    memset(kmem_ptr(pages_pa + VMX_OFF_IO_A), 0xff, (size_t)3 * 4096);   /* I/O A, B and MSR bitmaps */
    struct vmx_msr_entry *g = guest_msrs(v);
    struct vmx_msr_entry *h = kmem_ptr(pages_pa + VMX_OFF_HOST_MSRS);
    for (unsigned i = 0; i < AREA_COUNT; i++) {
        g[i].index = area_msr_index[i];
        h[i].index = area_msr_index[i];
    }
    struct vmx_soft *s = soft_of(v);
    s->vpid = tag & 0xffffu;
    s->pending = PENDING_FLUSH | PENDING_CHECK;

    uint64_t flags = irq_save();
    unsigned cpu = this_cpu_index();
    if (cpu >= CONFIG_MAX_CPUS || !vmx_cpus[cpu].enabled) {
        s->refused = VMX_INVALID_CPU;   /* every run says so; nothing was loaded */
        irq_restore(flags);
        return;
    }
    vmclear(pages_pa);              /* launch state "clear", data in memory */
    bool ok = vmptrld(pages_pa);
    kassert(ok);
    vmx_cpus[cpu].current_vmcs = pages_pa;
    v->loaded_cpu = (int32_t)cpu;
    write_host_state(cpu);

    vmwrite(VMCS_PIN_CONTROLS, caps.pin);
    if (caps.pin & PIN_PREEMPTION_TIMER)
        vmwrite(VMCS_PREEMPTION_TIMER_VALUE, preemption_slice());
    vmwrite(VMCS_PROC_CONTROLS, caps.proc);
    vmwrite(VMCS_PROC_CONTROLS2, caps.proc2);
    vmwrite(VMCS_EXIT_CONTROLS, caps.exit);
    vmwrite(VMCS_ENTRY_CONTROLS, caps.entry);
    vmwrite(VMCS_EXCEPTION_BITMAP, 0);
    vmwrite(VMCS_PF_ERROR_MASK, 0);
    vmwrite(VMCS_PF_ERROR_MATCH, 0);
    vmwrite(VMCS_CR3_TARGET_COUNT, 0);
    vmwrite(VMCS_IO_BITMAP_A, pages_pa + VMX_OFF_IO_A);
    vmwrite(VMCS_IO_BITMAP_B, pages_pa + VMX_OFF_IO_B);
    vmwrite(VMCS_MSR_BITMAP, pages_pa + VMX_OFF_MSR_BITMAP);
    vmwrite(VMCS_EXIT_MSR_STORE_ADDR, pages_pa + VMX_OFF_GUEST_MSRS);
    vmwrite(VMCS_EXIT_MSR_STORE_COUNT, AREA_COUNT);
    vmwrite(VMCS_ENTRY_MSR_LOAD_ADDR, pages_pa + VMX_OFF_GUEST_MSRS);
    vmwrite(VMCS_ENTRY_MSR_LOAD_COUNT, AREA_COUNT);
    vmwrite(VMCS_EXIT_MSR_LOAD_ADDR, pages_pa + VMX_OFF_HOST_MSRS);
    vmwrite(VMCS_EXIT_MSR_LOAD_COUNT, AREA_COUNT);
    vmwrite(VMCS_ENTRY_INTR_INFO, 0);
    vmwrite(VMCS_TSC_OFFSET, 0);
    if (caps.proc2 & PROC2_ENABLE_VPID)
        vmwrite(VMCS_VPID, s->vpid);
    vmwrite(VMCS_CR0_GUEST_HOST_MASK, caps.cr0_mask);
    vmwrite(VMCS_CR4_GUEST_HOST_MASK, caps.cr4_mask);
    write_reset_state();
    irq_restore(flags);
}

static void vmx_set_nested_root(struct vcpu_arch *v, uint64_t root_pa)
{
    struct vmx_soft *s = soft_of(v);
    s->eptp = (root_pa & EPT_ADDR_MASK) | EPTP_MEMTYPE_WB | EPTP_WALK_LENGTH_4 |
              ((caps.ept_vpid_cap & EPT_CAP_AD) ? EPTP_AD_ENABLE : 0);
    /* Also the way to say "the tables changed": the next entry flushes EPT-derived entries. */
    s->pending |= PENDING_FLUSH;
    uint64_t flags = irq_save();
    if (make_current(v))
        vmwrite(VMCS_EPT_POINTER, s->eptp);
    irq_restore(flags);
}

/*
 * Shadow paging (vcpu_arch.h; the core's side is kernel/vcpu_shadow.c). EPT off, so
 * "unrestricted guest" off too (it requires EPT): the CPU runs the guest with CR0.PE
 * and PG set (CR0 FIXED0) on the core's shadow tables, which map a guest with paging
 * off 1:1 (gva = gpa) in PAE format, so protected mode with paging off needs nothing
 * more. A real-mode guest (CR0.PE = 0) would need virtual-8086 emulation as KVM does
 * without unrestricted guest; it is refused at entry instead (check_entry_state).
 *
 * The core keeps the guest-visible CR0/CR3/CR4/EFER; the VMCS holds the hardware
 * values and, in the CR0/CR4 read shadows, the guest's (MOV from CR0/CR4 cannot be
 * intercepted on VMX: with a mask of every bit the guest reads the shadow; a MOV to
 * CR0/CR4, CLTS or LMSW that would change any bit exits). CR3 loads and stores,
 * INVLPG and #PF exit (#PF through the exception bitmap the core sets, PFEC mask and
 * match 0 so every #PF does); EFER exits as an MSR like every MSR.
 */
#define SHADOW_PROC_EXITS (PROC_CR3_LOAD_EXITING | PROC_CR3_STORE_EXITING | PROC_INVLPG_EXITING)

static void vmx_shadow_mode(struct vcpu_arch *v, bool on)
{
    struct vmx_soft *s = soft_of(v);
    uint64_t flags = irq_save();
    if (make_current(v)) {
        s->shadow_paging = on;
        if (on) {
            vmwrite(VMCS_PROC_CONTROLS2, caps.proc2 & ~(PROC2_ENABLE_EPT | PROC2_UNRESTRICTED_GUEST));
            set_proc_bits(SHADOW_PROC_EXITS, 0);
            vmwrite(VMCS_CR0_GUEST_HOST_MASK, ~0ull);
            vmwrite(VMCS_CR4_GUEST_HOST_MASK, ~0ull);
        } else {
            /* The core writes the guest-visible CRs next (state_write) and a nested root. */
            vmwrite(VMCS_PROC_CONTROLS2, caps.proc2);
            set_proc_bits(0, SHADOW_PROC_EXITS);
            vmwrite(VMCS_CR0_GUEST_HOST_MASK, caps.cr0_mask);
            vmwrite(VMCS_CR4_GUEST_HOST_MASK, caps.cr4_mask);
        }
        vmwrite(VMCS_PF_ERROR_MASK, 0);
        vmwrite(VMCS_PF_ERROR_MATCH, 0);
        /* Linear mappings of the other mode are tagged with the same VPID: drop them. */
        s->pending |= PENDING_FLUSH | PENDING_CHECK;
    }
    irq_restore(flags);
}

static void vmx_shadow_load(struct vcpu_arch *v, uint64_t cr0, uint64_t cr4, uint64_t efer,
                            uint64_t guest_cr0, uint64_t guest_cr4)
{
    struct vmx_soft *s = soft_of(v);
    kassert(s->shadow_paging);
    uint64_t flags = irq_save();
    if (make_current(v)) {
        vmwrite(VMCS_CR0_READ_SHADOW, guest_cr0);
        vmwrite(VMCS_GUEST_CR0, (cr0 | caps.cr0_fixed0) & caps.cr0_fixed1);
        vmwrite(VMCS_CR4_READ_SHADOW, guest_cr4);
        vmwrite(VMCS_GUEST_CR4, (cr4 | caps.cr4_fixed0) & caps.cr4_fixed1);
        write_guest_efer(efer);
        s->pending |= PENDING_CHECK;
    }
    irq_restore(flags);
}

/* The CPU walks `shadow_cr3`; no flush here: the core asks for one when it is due. */
static void vmx_set_shadow_root(struct vcpu_arch *v, uint64_t shadow_cr3)
{
    kassert(soft_of(v)->shadow_paging);
    uint64_t flags = irq_save();
    if (make_current(v) && vmread(VMCS_GUEST_CR3) != shadow_cr3)
        vmwrite(VMCS_GUEST_CR3, shadow_cr3);
    irq_restore(flags);
}

/*
 * Drops this CPU's linear (and combined) mappings of one gva for the vCPU's VPID, now
 * (the core calls it on the CPU about to enter; other CPUs flush everything when the
 * vCPU runs there next). No VPID: every entry and exit flushes VPID 0 anyway.
 */
static void vmx_flush_tlb_gva(struct vcpu_arch *v, uint64_t gva)
{
    const struct vmx_soft *s = soft_of(v);
    if (!(caps.proc2 & PROC2_ENABLE_VPID))
        return;
    if ((caps.ept_vpid_cap & VPID_CAP_INVVPID_INDIVIDUAL) && canonical(gva))
        invvpid_addr(INVVPID_INDIVIDUAL_ADDRESS, (uint16_t)s->vpid, gva);
    else
        flush_tlbs(s);
}

/* A fault for the guest at the next entry; #PF also sets the guest's CR2 (kept in v). */
static void vmx_inject_exception(struct vcpu_arch *v, unsigned vector, bool has_error,
                                 uint32_t error_code, uint64_t cr2)
{
    uint64_t flags = irq_save();
    if (make_current(v)) {
        uint32_t info = VMX_INTR_VALID | (vector & VMX_INTR_VECTOR_MASK) |
                        (VMX_INTR_TYPE_HW_EXCEPTION << VMX_INTR_TYPE_SHIFT);
        if (has_error)
            info |= VMX_INTR_ERROR_VALID;
        vmwrite(VMCS_ENTRY_INTR_INFO, info);
        vmwrite(VMCS_ENTRY_EXCEPTION_ERROR, error_code);
        if (vector == 14)
            v->cr2 = cr2;
    }
    irq_restore(flags);
}

static void vmx_set_exception_intercepts(struct vcpu_arch *v, uint32_t vector_bitmap)
{
    uint64_t flags = irq_save();
    if (make_current(v))
        vmwrite(VMCS_EXCEPTION_BITMAP, vector_bitmap);
    irq_restore(flags);
}

/* ---- state transfer ---- */

static bool canonical(uint64_t a)
{
    return (uint64_t)(((int64_t)(a << 16)) >> 16) == a;
}

#define RFLAGS_FIXED1 (1ull << 1)
#define RFLAGS_RESERVED (~0x3f7fd7ull)      /* 63:22, 15, 5, 3 must be 0 */
#define EFER_ALLOWED (EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE)

/*
 * Checks of one write that need nothing but the values written. Entry checks
 * the CPU (and not always Bochs) would apply; a refused write changes nothing.
 */
static uint32_t check_write(const struct hv_vcpu_state *s)
{
    if (s->mtd & HV_MTD_RSP_RIP_RFLAGS) {
        if ((s->rflags & RFLAGS_RESERVED) || !(s->rflags & RFLAGS_FIXED1))
            return VMX_INVALID_RFLAGS;
    }
    if (s->mtd & HV_MTD_CR) {
        uint64_t cr0 = (s->cr0 | caps.cr0_mask);
        if ((cr0 & ~caps.cr0_fixed1) || ((s->cr0 & CR0_PG) && !(s->cr0 & CR0_PE)))
            return VMX_INVALID_CR0;
        if (((s->cr4 | caps.cr4_mask) & ~caps.cr4_fixed1) || (s->cr4 & CR4_VMXE))
            return VMX_INVALID_CR4;
        if (s->efer & ~EFER_ALLOWED)
            return VMX_INVALID_EFER;
    }
    if (s->mtd & HV_MTD_SEG) {
        const struct hv_segment *segs[] = { &s->cs, &s->ss, &s->ds, &s->es };
        for (unsigned i = 0; i < 4; i++) {
            if ((segs[i]->attr & VMX_AR_P) && (segs[i]->base >> 32) != 0)
                return VMX_INVALID_SEGMENT_BASE;
        }
        if (!canonical(s->fs.base) || !canonical(s->gs.base))
            return VMX_INVALID_SEGMENT_BASE;
    }
    if (s->mtd & HV_MTD_SYS_SEG) {
        if (!canonical(s->tr.base) || !canonical(s->ldtr.base) || !canonical(s->gdtr.base) ||
            !canonical(s->idtr.base) || s->gdtr.limit > 0xffff || s->idtr.limit > 0xffff)
            return VMX_INVALID_SEGMENT_BASE;
        if (!(s->tr.attr & VMX_AR_P))
            return VMX_INVALID_TR;
    }
    if (s->mtd & HV_MTD_MSR) {
        if (!canonical(s->lstar) || !canonical(s->cstar) || !canonical(s->kernel_gs_base) ||
            !canonical(s->sysenter_esp) || !canonical(s->sysenter_eip))
            return VMX_INVALID_MSR;
        for (unsigned i = 0; i < 8; i++) {
            uint64_t type = (s->pat >> (8 * i)) & 0xff;
            if (type == 2 || type == 3 || type > 7)
                return VMX_INVALID_MSR;
        }
    }
    if (s->mtd & HV_MTD_INJECT) {
        uint32_t type = ((uint32_t)s->inject_event >> HV_INJECT_TYPE_SHIFT) & 7u;
        uint32_t vector = (uint32_t)s->inject_event & HV_INJECT_VECTOR_MASK;
        if ((s->inject_event & HV_INJECT_VALID) &&
            ((type != HV_INJECT_TYPE_EXTINT && type != HV_INJECT_TYPE_NMI &&
              type != HV_INJECT_TYPE_EXCEPTION && type != HV_INJECT_TYPE_SOFT_INT) ||
             (type == HV_INJECT_TYPE_EXCEPTION && vector >= 32) ||
             (type == HV_INJECT_TYPE_NMI && vector != 2) ||
             (type == HV_INJECT_TYPE_EXCEPTION && vector == 2)))
            return VMX_INVALID_INJECT;
        if ((s->intr_state & HV_INTR_REQUEST_NMI_WINDOW) &&
            !(caps.proc_allowed1 & PROC_NMI_WINDOW_EXITING && caps.pin & PIN_VIRTUAL_NMIS))
            return VMX_INVALID_INJECT;
    }
    return 0;
}

#define CR0_CD (1ull << 30)
#define CR0_NW (1ull << 29)
#define CR4_PSE (1ull << 4)
#define CR4_SMEP (1ull << 20)
/* What makes a MOV to CR0 / CR4 reload the PAE PDPTEs (SDM 4.4.1). */
#define CR0_PDPTE_BITS (CR0_PG | CR0_CD | CR0_NW)
#define CR4_PDPTE_BITS (CR4_PAE | CR4_PGE | CR4_PSE | CR4_SMEP)

/*
 * A CR write by the handler (VMCS current) that a CPU would follow with a PDPTE load:
 * a new CR3, or a change of the CR0/CR4 bits that reload them, or of EFER.
 */
static bool paging_changed(const struct hv_vcpu_state *s)
{
    return s->cr3 != vmread(VMCS_GUEST_CR3) ||
           ((s->cr0 ^ read_guest_cr0()) & CR0_PDPTE_BITS) ||
           ((s->cr4 ^ vmread(VMCS_CR4_READ_SHADOW)) & CR4_PDPTE_BITS) ||
           s->efer != vmread(VMCS_GUEST_IA32_EFER);
}

static void vmx_state_write(struct vcpu_arch *v, const struct hv_vcpu_state *s)
{
    struct vmx_soft *soft = soft_of(v);
    uint32_t refused = check_write(s);
    if (refused != 0) {
        soft->refused = refused;
        return;
    }
    uint64_t flags = irq_save();
    if (!make_current(v)) {
        soft->refused = VMX_INVALID_MIGRATION;
        irq_restore(flags);
        return;
    }
    soft->refused = 0;
    soft->pending |= PENDING_CHECK;
    if (s->mtd & HV_MTD_GPR) {
        const uint64_t regs[16] = { s->rax, s->rcx, s->rdx, s->rbx, 0, s->rbp, s->rsi, s->rdi,
                                    s->r8, s->r9, s->r10, s->r11, s->r12, s->r13, s->r14, s->r15 };
        memcpy(v->gpr, regs, sizeof(regs));
    }
    if (s->mtd & HV_MTD_RSP_RIP_RFLAGS) {
        vmwrite(VMCS_GUEST_RSP, s->rsp);
        vmwrite(VMCS_GUEST_RIP, s->rip);
        vmwrite(VMCS_GUEST_RFLAGS, s->rflags);
        /* A handler that sets RIP wants the vCPU running (also after a shutdown). */
        vmwrite(VMCS_GUEST_ACTIVITY_STATE, VMX_ACTIVITY_ACTIVE);
    }
    if (s->mtd & HV_MTD_CR) {
        v->cr2 = s->cr2;
        /* Shadow paging: the core takes the guest's CRs and calls shadow_load itself. */
        if (!soft->shadow_paging) {
            if (paging_changed(s))
                soft->pending |= PENDING_PDPTES;    /* as a MOV to CR3/CR0/CR4 would */
            write_guest_cr0(s->cr0);
            vmwrite(VMCS_GUEST_CR3, s->cr3);
            write_guest_cr4(s->cr4);
            write_guest_efer(s->efer);
        }
    }
    if (s->mtd & HV_MTD_SEG) {
        seg_write(VMX_SEG_CS, &s->cs);
        seg_write(VMX_SEG_SS, &s->ss);
        seg_write(VMX_SEG_DS, &s->ds);
        seg_write(VMX_SEG_ES, &s->es);
        seg_write(VMX_SEG_FS, &s->fs);
        seg_write(VMX_SEG_GS, &s->gs);
    }
    if (s->mtd & HV_MTD_SYS_SEG) {
        seg_write(VMX_SEG_TR, &s->tr);
        seg_write(VMX_SEG_LDTR, &s->ldtr);
        vmwrite(VMCS_GUEST_GDTR_BASE, s->gdtr.base);
        vmwrite(VMCS_GUEST_GDTR_LIMIT, s->gdtr.limit);
        vmwrite(VMCS_GUEST_IDTR_BASE, s->idtr.base);
        vmwrite(VMCS_GUEST_IDTR_LIMIT, s->idtr.limit);
    }
    if (s->mtd & HV_MTD_MSR) {
        struct vmx_msr_entry *g = guest_msrs(v);
        g[AREA_STAR].value = s->star;
        g[AREA_LSTAR].value = s->lstar;
        g[AREA_CSTAR].value = s->cstar;
        g[AREA_SFMASK].value = s->sfmask;
        g[AREA_KERNEL_GS_BASE].value = s->kernel_gs_base;
        vmwrite(VMCS_GUEST_SYSENTER_CS, s->sysenter_cs);
        vmwrite(VMCS_GUEST_SYSENTER_ESP, s->sysenter_esp);
        vmwrite(VMCS_GUEST_SYSENTER_EIP, s->sysenter_eip);
        vmwrite(VMCS_GUEST_IA32_PAT, s->pat);
    }
    if (s->mtd & HV_MTD_INJECT) {
        uint32_t info = inject_to_vmx(s->inject_event);
        vmwrite(VMCS_ENTRY_INTR_INFO, info);
        vmwrite(VMCS_ENTRY_EXCEPTION_ERROR, (uint32_t)s->inject_error);
        /*
         * A software interrupt is delivered as the INT n (CD ib, two bytes) at RIP:
         * the return address pushed is RIP + 2.
         */
        vmwrite(VMCS_ENTRY_INSTRUCTION_LENGTH, 2);
        uint32_t intr = (uint32_t)vmread(VMCS_GUEST_INTERRUPTIBILITY) & VMX_INTERRUPTIBILITY_NMI;
        if (s->intr_state & HV_INTR_SHADOW) {
            /* STI blocking needs IF=1; otherwise the shadow is the MOV SS kind. */
            intr |= (vmread(VMCS_GUEST_RFLAGS) & RFLAGS_IF) ? VMX_INTERRUPTIBILITY_STI
                                                            : VMX_INTERRUPTIBILITY_MOV_SS;
        }
        vmwrite(VMCS_GUEST_INTERRUPTIBILITY, intr);
        uint32_t set = 0, clear = 0;
        if (s->intr_state & HV_INTR_REQUEST_WINDOW)
            set |= PROC_INTERRUPT_WINDOW_EXITING;
        else
            clear |= PROC_INTERRUPT_WINDOW_EXITING;
        if (s->intr_state & HV_INTR_REQUEST_NMI_WINDOW)
            set |= PROC_NMI_WINDOW_EXITING;
        else
            clear |= PROC_NMI_WINDOW_EXITING;
        set_proc_bits(set, clear);
    }
    if (s->mtd & HV_MTD_TSC)
        vmwrite(VMCS_TSC_OFFSET, s->tsc_offset);
    irq_restore(flags);
}

static void vmx_state_read(struct vcpu_arch *v, uint64_t mtd, struct hv_vcpu_state *s)
{
    uint64_t flags = irq_save();
    s->mtd = mtd;
    if (!make_current(v)) {
        s->mtd = 0;
        irq_restore(flags);
        return;
    }
    if (mtd & HV_MTD_GPR) {
        const uint64_t *r = v->gpr;
        s->rax = r[0]; s->rcx = r[1]; s->rdx = r[2]; s->rbx = r[3];
        s->rbp = r[5]; s->rsi = r[6]; s->rdi = r[7];
        s->r8 = r[8]; s->r9 = r[9]; s->r10 = r[10]; s->r11 = r[11];
        s->r12 = r[12]; s->r13 = r[13]; s->r14 = r[14]; s->r15 = r[15];
    }
    if (mtd & HV_MTD_RSP_RIP_RFLAGS) {
        s->rsp = vmread(VMCS_GUEST_RSP);
        s->rip = vmread(VMCS_GUEST_RIP);
        s->rflags = vmread(VMCS_GUEST_RFLAGS);
    }
    if (mtd & HV_MTD_CR) {
        s->cr0 = read_guest_cr0();
        s->cr2 = v->cr2;
        s->cr3 = vmread(VMCS_GUEST_CR3);    /* shadow paging: the core puts the guest's in */
        s->cr4 = (vmread(VMCS_GUEST_CR4) & ~caps.cr4_mask) |
                 (vmread(VMCS_CR4_READ_SHADOW) & caps.cr4_mask);
        s->efer = vmread(VMCS_GUEST_IA32_EFER);
    }
    if (mtd & HV_MTD_SEG) {
        seg_read(VMX_SEG_CS, &s->cs);
        seg_read(VMX_SEG_SS, &s->ss);
        seg_read(VMX_SEG_DS, &s->ds);
        seg_read(VMX_SEG_ES, &s->es);
        seg_read(VMX_SEG_FS, &s->fs);
        seg_read(VMX_SEG_GS, &s->gs);
    }
    if (mtd & HV_MTD_SYS_SEG) {
        seg_read(VMX_SEG_TR, &s->tr);
        seg_read(VMX_SEG_LDTR, &s->ldtr);
        s->gdtr.base = vmread(VMCS_GUEST_GDTR_BASE);
        s->gdtr.limit = vmread(VMCS_GUEST_GDTR_LIMIT);
        s->idtr.base = vmread(VMCS_GUEST_IDTR_BASE);
        s->idtr.limit = vmread(VMCS_GUEST_IDTR_LIMIT);
    }
    if (mtd & HV_MTD_MSR) {
        const struct vmx_msr_entry *g = guest_msrs(v);
        s->star = g[AREA_STAR].value;
        s->lstar = g[AREA_LSTAR].value;
        s->cstar = g[AREA_CSTAR].value;
        s->sfmask = g[AREA_SFMASK].value;
        s->kernel_gs_base = g[AREA_KERNEL_GS_BASE].value;
        s->sysenter_cs = vmread(VMCS_GUEST_SYSENTER_CS);
        s->sysenter_esp = vmread(VMCS_GUEST_SYSENTER_ESP);
        s->sysenter_eip = vmread(VMCS_GUEST_SYSENTER_EIP);
        s->pat = vmread(VMCS_GUEST_IA32_PAT);
    }
    if (mtd & HV_MTD_INJECT) {
        uint32_t info = (uint32_t)vmread(VMCS_ENTRY_INTR_INFO);
        s->inject_event = inject_from_vmx(info);
        s->inject_error = (info & VMX_INTR_ERROR_VALID) ? vmread(VMCS_ENTRY_EXCEPTION_ERROR) : 0;
        uint32_t intr = (uint32_t)vmread(VMCS_GUEST_INTERRUPTIBILITY);
        uint32_t proc = (uint32_t)vmread(VMCS_PROC_CONTROLS);
        s->intr_state = ((intr & (VMX_INTERRUPTIBILITY_STI | VMX_INTERRUPTIBILITY_MOV_SS))
                             ? HV_INTR_SHADOW : 0) |
                        ((proc & PROC_INTERRUPT_WINDOW_EXITING) ? HV_INTR_REQUEST_WINDOW : 0) |
                        ((proc & PROC_NMI_WINDOW_EXITING) ? HV_INTR_REQUEST_NMI_WINDOW : 0);
    }
    if (mtd & HV_MTD_TSC)
        s->tsc_offset = vmread(VMCS_TSC_OFFSET);
    irq_restore(flags);
}

/* ---- run ---- */

/*
 * Checks across groups that the CPU would make at entry but Bochs does not (a
 * non-canonical RIP there triple-faults the guest instead). 0 = fine.
 */
static uint32_t check_entry_state(const struct vmx_soft *s)
{
    if (s->shadow_paging && !(vmread(VMCS_CR0_READ_SHADOW) & CR0_PE))
        return VMX_INVALID_SHADOW_REAL_MODE;    /* needs unrestricted guest (EPT) */
    uint64_t efer = vmread(VMCS_GUEST_IA32_EFER);
    uint64_t cr0 = vmread(VMCS_GUEST_CR0);
    uint64_t cr4 = vmread(VMCS_GUEST_CR4);
    uint64_t rip = vmread(VMCS_GUEST_RIP);
    uint32_t cs_ar = (uint32_t)vmread(VMCS_GUEST_ES_AR + 2u * VMX_SEG_CS);
    bool lma = (efer & EFER_LMA) != 0;
    if (lma && (!(efer & EFER_LME) || !(cr0 & CR0_PG) || !(cr4 & CR4_PAE)))
        return VMX_INVALID_EFER;
    if (!lma && (efer & EFER_LME) && (cr0 & CR0_PG))
        return VMX_INVALID_EFER;
    if (lma && (cs_ar & VMX_AR_L)) {
        if (!canonical(rip))
            return VMX_INVALID_RIP;
    } else if ((rip >> 32) != 0) {
        return VMX_INVALID_RIP;
    }
    uint32_t info = (uint32_t)vmread(VMCS_ENTRY_INTR_INFO);
    if ((info & VMX_INTR_VALID) &&
        ((info & VMX_INTR_TYPE_MASK) >> VMX_INTR_TYPE_SHIFT) == VMX_INTR_TYPE_EXTINT) {
        uint32_t intr = (uint32_t)vmread(VMCS_GUEST_INTERRUPTIBILITY);
        if (!(vmread(VMCS_GUEST_RFLAGS) & RFLAGS_IF) ||
            (intr & (VMX_INTERRUPTIBILITY_STI | VMX_INTERRUPTIBILITY_MOV_SS)))
            return VMX_INVALID_INJECT;
    }
    return 0;
}

/*
 * PAE paging under EPT (SDM 26.3.2.4, 27.3.4): VM entry takes the four PDPTEs from
 * GUEST_PDPTE0-3, not from CR3, and VM exit stores the CPU's into them; a guest MOV to
 * CR3/CR0/CR4 loads them itself. Only when the backend or the handler changes the
 * paging state (state_write, an emulated MOV to CR0) are the fields stale: loaded here
 * from guest memory at CR3 as the CPU would, through the vCPU's EPT tables. Returns 0,
 * PDPTE_MISSING (*gpa not mapped readable: the run ends as a GPA exit) or
 * VMX_INVALID_PDPTE (a reserved bit set, where a MOV to CR3 would #GP).
 */
#define PDPTE_MISSING 1u
#define PAE_PDPTE_P (1ull << 0)
#define PAE_PDPTE_RESERVED_LOW 0x1e6ull     /* bits 2:1 and 8:5 (SDM table 4-8) */
#define PAE_CR3_MASK 0xffffffe0ull

static unsigned phys_bits(void)
{
    if (cpu_features()->max_ext_leaf < 0x80000008u)
        return 36;
    return cpuid(0x80000008u, 0).eax & 0xffu;
}

/* gpa -> hpa through the EPT tables (readable leaf); false if not mapped. */
static bool ept_translate(uint64_t eptp, uint64_t gpa, uint64_t *hpa)
{
    uint64_t table = eptp & EPT_ADDR_MASK;
    for (unsigned level = NESTED_LEVELS; level >= 1; level--) {
        const uint64_t *t = kmem_ptr(table);
        uint64_t e = __atomic_load_n(&t[nested_index(gpa, level)], __ATOMIC_RELAXED);
        if (!nested_present(NESTED_EPT, e))
            return false;
        if (level == 1 || (e & EPT_PS)) {
            if (!(e & EPT_R))
                return false;
            uint64_t span = 1ull << (12u + 9u * (level - 1u));
            *hpa = (nested_entry_pa(e) & ~(span - 1)) + (gpa & (span - 1));
            return true;
        }
        table = nested_entry_pa(e);
    }
    return false;
}

static uint32_t load_pdptes(const struct vmx_soft *s, uint64_t *gpa)
{
    if (s->shadow_paging || s->eptp == 0)
        return 0;   /* shadow: no EPT, the CPU loads them from the shadow root itself */
    uint64_t cr0 = vmread(VMCS_GUEST_CR0), cr4 = vmread(VMCS_GUEST_CR4);
    if (!(cr0 & CR0_PG) || !(cr4 & CR4_PAE) || (vmread(VMCS_GUEST_IA32_EFER) & EFER_LMA))
        return 0;
    *gpa = vmread(VMCS_GUEST_CR3) & PAE_CR3_MASK;
    uint64_t hpa;
    if (!ept_translate(s->eptp, *gpa, &hpa))
        return PDPTE_MISSING;
    const uint64_t *p = kmem_ptr(hpa);      /* 32-byte aligned: one page */
    uint64_t reserved = PAE_PDPTE_RESERVED_LOW | ~((1ull << phys_bits()) - 1);
    uint64_t e[4];
    for (unsigned i = 0; i < 4; i++) {
        e[i] = __atomic_load_n(&p[i], __ATOMIC_RELAXED);
        if ((e[i] & PAE_PDPTE_P) && (e[i] & reserved))
            return VMX_INVALID_PDPTE;
    }
    for (unsigned i = 0; i < 4; i++)
        vmwrite(VMCS_GUEST_PDPTE0 + 2u * i, e[i]);
    return 0;
}

/* Host state that changes between entries: the thread's address space, FS base, syscall MSRs. */
static void refresh_host_state(const struct vcpu_arch *v)
{
    vmwrite(VMCS_HOST_CR3, read_cr3());
    vmwrite(VMCS_HOST_FS_BASE, rdmsr(MSR_FS_BASE));
    struct vmx_msr_entry *h = kmem_ptr(v->control_pa + VMX_OFF_HOST_MSRS);
    for (unsigned i = 0; i < AREA_COUNT; i++)
        h[i].value = rdmsr(h[i].index);
}

/*
 * Drops what this CPU caches for the vCPU (SDM 29.4). With EPT the guest runs on
 * guest-physical and combined mappings, both tagged with the EPTP's root (EPTRTA);
 * INVEPT single-context for our EPTP drops both, for every VPID, so it covers a
 * GuestMemory unmap (the guest-physical half changed) and a VPID reused by a new
 * vCPU on the same memory (combined mappings of the old one). INVVPID would leave
 * the guest-physical mappings in place, so it is not enough there. Under shadow
 * paging (no EPT) the guest runs on linear mappings tagged by VPID alone: INVVPID
 * single-context. All-context where the single form is missing.
 */
static void flush_tlbs(const struct vmx_soft *s)
{
    if (!s->shadow_paging && s->eptp != 0) {
        if (caps.ept_vpid_cap & EPT_CAP_INVEPT_SINGLE)
            invept(INVEPT_SINGLE_CONTEXT, s->eptp);
        else if (caps.ept_vpid_cap & EPT_CAP_INVEPT_ALL)
            invept(INVEPT_ALL_CONTEXT, 0);
        return;
    }
    if (caps.proc2 & PROC2_ENABLE_VPID) {
        if (caps.ept_vpid_cap & VPID_CAP_INVVPID_SINGLE)
            invvpid(INVVPID_SINGLE_CONTEXT, (uint16_t)s->vpid);
        else if (caps.ept_vpid_cap & VPID_CAP_INVVPID_ALL)
            invvpid(INVVPID_ALL_CONTEXT, 0);
    }
}

static void set_exit(struct vcpu_exit *e, enum hv_exit_reason r, uint64_t q, uint64_t a, uint64_t len)
{
    e->reason = r;
    e->qualification = q;
    e->address = a;
    e->instruction_length = len;
}

static uint64_t io_qualification(uint64_t q)
{
    uint64_t out = ((q >> VMX_IO_PORT_SHIFT) & HV_IO_PORT_MASK) |
                   (((q & VMX_IO_SIZE_MASK) + 1) << HV_IO_SIZE_SHIFT);
    if (q & VMX_IO_IN)
        out |= HV_IO_IN;
    if (q & VMX_IO_STRING)
        out |= HV_IO_STRING;
    if (q & VMX_IO_REP)
        out |= HV_IO_REP;
    return out;
}

static void inject_gp(void)
{
    vmwrite(VMCS_ENTRY_INTR_INFO, VMX_INTR_VALID | VMX_INTR_ERROR_VALID | 13u |
                                      (VMX_INTR_TYPE_HW_EXCEPTION << VMX_INTR_TYPE_SHIFT));
    vmwrite(VMCS_ENTRY_EXCEPTION_ERROR, 0);
}

/*
 * A MOV to CR0/CR4 that touched a bit the host owns (CR0.NE, CR4.VMXE): finished
 * here, as the guest expects of its CPU, without a trip to the handler. False =
 * not one of those (the handler gets it as UNHANDLED).
 */
static bool emulate_cr_write(struct vcpu_arch *v, uint64_t q)
{
    struct vmx_soft *s = soft_of(v);
    if (s->shadow_paging)
        return false;
    unsigned type = (q >> VMX_CR_QUAL_TYPE_SHIFT) & VMX_CR_QUAL_TYPE_MASK;
    unsigned cr = q & VMX_CR_QUAL_CR_MASK;
    unsigned reg = (q >> VMX_CR_QUAL_REG_SHIFT) & VMX_CR_QUAL_REG_MASK;
    if (type != VMX_CR_QUAL_TYPE_MOV_TO || (cr != 0 && cr != 4))
        return false;
    uint64_t value = reg == 4 ? vmread(VMCS_GUEST_RSP) : v->gpr[reg];
    if (cr == 0) {
        uint64_t old = vmread(VMCS_CR0_READ_SHADOW);
        if ((value >> 32) || ((value & CR0_PG) && !(value & CR0_PE)) ||
            ((value & (1ull << 29)) && !(value & (1ull << 30)))) {
            inject_gp();
            return true;
        }
        write_guest_cr0(value);
        if ((value ^ old) & CR0_PDPTE_BITS)
            s->pending |= PENDING_PDPTES;
        uint64_t efer = vmread(VMCS_GUEST_IA32_EFER);
        if ((value & CR0_PG) && !(old & CR0_PG) && (efer & EFER_LME))
            write_guest_efer(efer | EFER_LMA);
        else if (!(value & CR0_PG) && (old & CR0_PG))
            write_guest_efer(efer & ~EFER_LMA);
    } else {
        if ((value & CR4_VMXE) || ((value | caps.cr4_mask) & ~caps.cr4_fixed1)) {
            inject_gp();
            return true;
        }
        if ((value ^ vmread(VMCS_CR4_READ_SHADOW)) & CR4_PDPTE_BITS)
            s->pending |= PENDING_PDPTES;
        write_guest_cr4(value);
    }
    vmwrite(VMCS_GUEST_RIP, vmread(VMCS_GUEST_RIP) + vmread(VMCS_EXIT_INSTRUCTION_LENGTH));
    return true;
}

/* Normalizes the exit just taken; false if it was finished here and the guest re-enters. */
static bool normalize_exit(struct vcpu_arch *v, uint32_t reason, struct vcpu_exit *e)
{
    uint64_t q = vmread(VMCS_EXIT_QUALIFICATION);
    uint32_t basic = reason & VMX_EXIT_REASON_MASK;
    uint64_t len = 0;

    /* An event whose delivery the exit interrupted is delivered on the next entry. */
    uint32_t idt = (uint32_t)vmread(VMCS_IDT_VECTORING_INFO);
    if ((idt & VMX_INTR_VALID) && basic != VMX_EXIT_TRIPLE_FAULT) {
        vmwrite(VMCS_ENTRY_INTR_INFO, idt & ~(1u << 12));
        vmwrite(VMCS_ENTRY_EXCEPTION_ERROR, vmread(VMCS_IDT_VECTORING_ERROR));
        vmwrite(VMCS_ENTRY_INSTRUCTION_LENGTH, vmread(VMCS_EXIT_INSTRUCTION_LENGTH));
    }
    switch (basic) {
    case VMX_EXIT_CPUID:
    case VMX_EXIT_HLT:
    case VMX_EXIT_IO:
    case VMX_EXIT_VMCALL:
    case VMX_EXIT_RDMSR:
    case VMX_EXIT_WRMSR:
    case VMX_EXIT_INVLPG:
    case VMX_EXIT_CR_ACCESS:
        len = vmread(VMCS_EXIT_INSTRUCTION_LENGTH);
        break;
    default:
        break;
    }
    switch (basic) {
    case VMX_EXIT_EXCEPTION_NMI: {
        uint32_t info = (uint32_t)vmread(VMCS_EXIT_INTR_INFO);
        uint32_t vector = info & VMX_INTR_VECTOR_MASK;
        if (((info & VMX_INTR_TYPE_MASK) >> VMX_INTR_TYPE_SHIFT) == VMX_INTR_TYPE_NMI) {
            __asm__ volatile("int $2");      /* the host's NMI: let its handler see it */
            set_exit(e, HV_EXIT_NONE, 0, 0, 0);
            return true;
        }
        uint64_t error = (info & VMX_INTR_ERROR_VALID) ? vmread(VMCS_EXIT_INTR_ERROR) : 0;
        set_exit(e, HV_EXIT_EXCEPTION, vector | (error << 32), vector == 14 ? q : 0, 0);
        return true;
    }
    case VMX_EXIT_PREEMPTION_TIMER:
    case VMX_EXIT_EXTERNAL_INTERRUPT:
        /* Not acknowledged on exit: still pending at the local APIC, taken right here. */
        __asm__ volatile("sti; nop; cli" ::: "memory");
        set_exit(e, HV_EXIT_NONE, 0, 0, 0);
        return true;
    case VMX_EXIT_TRIPLE_FAULT:
        set_exit(e, HV_EXIT_TRIPLE_FAULT, 0, 0, 0);
        return true;
    case VMX_EXIT_INTERRUPT_WINDOW:
        set_proc_bits(0, PROC_INTERRUPT_WINDOW_EXITING);    /* one-shot (hv/vcpu.h) */
        set_exit(e, HV_EXIT_INTR_WINDOW, 0, 0, 0);
        return true;
    case VMX_EXIT_NMI_WINDOW:
        set_proc_bits(0, PROC_NMI_WINDOW_EXITING);
        set_exit(e, HV_EXIT_NMI_WINDOW, 0, 0, 0);
        return true;
    case VMX_EXIT_CPUID:
        set_exit(e, HV_EXIT_CPUID, 0, 0, len);
        return true;
    case VMX_EXIT_HLT:
        set_exit(e, HV_EXIT_HLT, 0, 0, len);
        return true;
    case VMX_EXIT_IO:
        set_exit(e, HV_EXIT_IO, io_qualification(q), 0, len);
        return true;
    case VMX_EXIT_EPT_VIOLATION: {
        uint64_t access = ((q & VMX_EPT_QUAL_READ) ? HV_GPA_READ : 0) |
                          ((q & VMX_EPT_QUAL_WRITE) ? HV_GPA_WRITE : 0) |
                          ((q & VMX_EPT_QUAL_FETCH) ? HV_GPA_EXECUTE : 0);
        /* An IRET that unblocked NMIs faulted: NMIs stay blocked when it is retried. */
        if ((q & (1u << 12)) && !(idt & VMX_INTR_VALID) && (caps.pin & PIN_VIRTUAL_NMIS))
            vmwrite(VMCS_GUEST_INTERRUPTIBILITY,
                    vmread(VMCS_GUEST_INTERRUPTIBILITY) | VMX_INTERRUPTIBILITY_NMI);
        set_exit(e, HV_EXIT_GPA, access, vmread(VMCS_GUEST_PHYSICAL_ADDRESS), 0);
        return true;
    }
    case VMX_EXIT_EPT_MISCONFIG:
        set_exit(e, HV_EXIT_INVALID_STATE, VMX_INVALID_EPT_MISCONFIG,
                 vmread(VMCS_GUEST_PHYSICAL_ADDRESS), 0);
        return true;
    case VMX_EXIT_VMCALL:
        set_exit(e, HV_EXIT_VMCALL, 0, 0, len);
        return true;
    case VMX_EXIT_RDMSR:
        set_exit(e, HV_EXIT_MSR_READ, v->gpr[1] & 0xffffffffull, 0, len);    /* ecx */
        return true;
    case VMX_EXIT_WRMSR:
        set_exit(e, HV_EXIT_MSR_WRITE, v->gpr[1] & 0xffffffffull, 0, len);
        return true;
    case VMX_EXIT_CR_ACCESS: {
        if (soft_of(v)->shadow_paging) {
            /* The core decodes the instruction itself (as on SVM, no decode assists). */
            unsigned type = (q >> VMX_CR_QUAL_TYPE_SHIFT) & VMX_CR_QUAL_TYPE_MASK;
            set_exit(e, HV_EXIT_CR_ACCESS,
                     (q & VMX_CR_QUAL_CR_MASK) | (type != VMX_CR_QUAL_TYPE_MOV_FROM ? HV_CR_WRITE : 0),
                     0, len);
            return true;
        }
        if (emulate_cr_write(v, q))
            return false;
        set_exit(e, HV_EXIT_UNHANDLED, basic, q, len);
        return true;
    }
    case VMX_EXIT_INVLPG:
        if (soft_of(v)->shadow_paging) {
            set_exit(e, HV_EXIT_INVLPG, 0, q, len);
            return true;
        }
        set_exit(e, HV_EXIT_UNHANDLED, basic, q, len);
        return true;
    default:
        set_exit(e, HV_EXIT_UNHANDLED, basic, q, len);
        return true;
    }
}

static void vmx_run(struct vcpu_arch *v, struct vcpu_exit *e)
{
    kassert(!(read_rflags() & RFLAGS_IF));
    struct vmx_soft *s = soft_of(v);
    if (s->refused != 0) {
        set_exit(e, HV_EXIT_INVALID_STATE, s->refused, 0, 0);
        return;
    }
    if (!make_current(v)) {
        set_exit(e, HV_EXIT_INVALID_STATE, VMX_INVALID_MIGRATION, 0, 0);
        return;
    }
    for (;;) {
        if (s->pending & PENDING_CHECK) {
            uint32_t bad = check_entry_state(s);
            if (bad != 0) {
                set_exit(e, HV_EXIT_INVALID_STATE, bad, 0, 0);
                return;
            }
            s->pending &= ~PENDING_CHECK;
        }
        if (s->pending & PENDING_PDPTES) {
            uint64_t gpa = 0;
            uint32_t bad = load_pdptes(s, &gpa);
            if (bad == PDPTE_MISSING) {
                /* As the CPU's own load would: an EPT violation reading the PDPT. */
                set_exit(e, HV_EXIT_GPA, HV_GPA_READ, gpa, 0);
                return;
            }
            if (bad != 0) {
                set_exit(e, HV_EXIT_INVALID_STATE, bad, gpa, 0);
                return;
            }
            s->pending &= ~PENDING_PDPTES;
        }
        if (s->pending & PENDING_FLUSH) {
            flush_tlbs(s);
            s->pending &= ~PENDING_FLUSH;
        }
        refresh_host_state(v);
        int rc = vmx_enter(v, v->launched);
        unsigned cpu = this_cpu_index();
        if (rc != VMX_ENTRY_OK) {
            uint64_t err = rc == VMX_ENTRY_FAIL_VALID ? vmread(VMCS_VM_INSTRUCTION_ERROR) : 0;
            v->raw_exit = VMX_INVALID_VMFAIL | err;
            set_exit(e, HV_EXIT_INVALID_STATE, VMX_INVALID_VMFAIL | err, 0, 0);
            return;
        }
        /* VM exit left the GDTR limit at 0xffff: descriptors beyond the table must not load. */
        __asm__ volatile("lgdt %0" : : "m"(vmx_cpus[cpu].gdtr));
        uint32_t reason = (uint32_t)vmread(VMCS_EXIT_REASON);
        v->raw_exit = reason;
        if (reason & VMX_EXIT_ENTRY_FAILURE) {
            /* Whatever the CPU made of the launch state, VMCLEAR makes it "clear" again. */
            uint64_t q = vmread(VMCS_EXIT_QUALIFICATION);
            vmclear(v->control_pa);
            vmptrld(v->control_pa);
            v->launched = 0;
            set_exit(e, HV_EXIT_INVALID_STATE, VMX_INVALID_ENTRY_FAILURE | (reason & VMX_EXIT_REASON_MASK), q, 0);
            return;
        }
        v->launched = 1;
        if (normalize_exit(v, reason, e))
            return;
    }
}

/*
 * The core's flush request (a GuestMemory mapping went away, or the vCPU has not run
 * on this CPU since): done by run() on the CPU that enters next, right before entry,
 * so it needs no current VMCS here and works whichever CPU asks.
 */
static void vmx_flush_tlb(struct vcpu_arch *v)
{
    soft_of(v)->pending |= PENDING_FLUSH;
}

/*
 * Called whenever the vCPU's thread stops, from its CPU or another (quiesce): a no-op
 * when no CPU holds the VMCS; otherwise VMCLEAR runs on the CPU that holds it (a
 * cross-CPU call, answered even by a CPU spinning on the kernel lock), so its data is
 * in memory and any CPU may load it next.
 */
static void vmx_release(struct vcpu_arch *v)
{
    uint64_t flags = irq_save();
    if (!clear_vmcs(v))
        kprintf("vmx: cpu %d did not release a VMCS\n", v->loaded_cpu);
    irq_restore(flags);
}

static const struct vcpu_arch_ops vmx_ops = {
    .name = "vmx",
    .backend = VCPU_BACKEND_VMX,
    .probe = vmx_probe,
    .nested_paging = vmx_nested_paging,
    .nested_2m_leaves = vmx_nested_2m_leaves,
    .cpu_enable = vmx_cpu_enable,
    .pages = vmx_pages,
    .setup = vmx_setup,
    .set_nested_root = vmx_set_nested_root,
    .set_shadow_root = vmx_set_shadow_root,
    .flush_tlb = vmx_flush_tlb,
    .state_write = vmx_state_write,
    .state_read = vmx_state_read,
    .set_exception_intercepts = vmx_set_exception_intercepts,
    .run = vmx_run,
    .release = vmx_release,
    .shadow_mode = vmx_shadow_mode,
    .shadow_load = vmx_shadow_load,
    .flush_tlb_gva = vmx_flush_tlb_gva,
    .inject_exception = vmx_inject_exception,
};
VCPU_BACKEND(vmx_ops);
