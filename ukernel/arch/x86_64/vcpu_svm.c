/* SPDX-License-Identifier: MIT */
/* vcpu_svm: the AMD SVM backend: VMCB setup, guest state access, VMRUN and exit normalization. */
#include <stddef.h>

#include "../../kernel/assert.h"
#include "../../kernel/config.h"
#include "../../kernel/console.h"
#include "../../kernel/kmem.h"
#include "../../lib/kstring.h"
#include "cpu.h"
#include "cpu_features.h"
#include "layout.h"
#include "paging.h"
#include "percpu.h"
#include "svm_vmcb.h"
#include "vcpu_arch.h"

#define PAGE 4096ull
#define MSR_VM_HSAVE_PA 0xc0010117u
#define VM_CR_SVMDIS (1ull << 4)

/* Architectural reset state (APM vol. 2, 14.1.3). */
#define RESET_CS_SELECTOR 0xf000u
#define RESET_CS_BASE 0xffff0000ull
#define RESET_RIP 0xfff0ull
#define RESET_RFLAGS 0x2ull
#define RESET_CR0 0x60000010ull         /* CD NW ET */
#define RESET_DR6 0xffff0ff0ull
#define RESET_DR7 0x400ull
#define RESET_PAT 0x0007040600070406ull
#define SEG_ATTR_CODE 0x9bu             /* present, S, execute/read, accessed */
#define SEG_ATTR_DATA 0x93u             /* present, S, read/write, accessed */
#define SEG_ATTR_LDT 0x82u
#define SEG_ATTR_TSS_BUSY 0x8bu
#define REAL_MODE_LIMIT 0xffffu

/*
 * Per-CPU pages the core cannot take from untyped memory because they exist
 * before any capability does: the host save area the CPU writes at VMRUN
 * (VM_HSAVE_PA) and the page VMSAVE/VMLOAD keep the host's FS/GS/TR/... in. Static,
 * in .bss, CONFIG_MAX_CPUS of each (64 KiB with 8 CPUs).
 */
static uint8_t hsave_area[CONFIG_MAX_CPUS][PAGE] __attribute__((aligned(PAGE)));
static uint8_t host_save[CONFIG_MAX_CPUS][PAGE] __attribute__((aligned(PAGE)));

void svm_vmrun(uint64_t vmcb_pa, uint64_t *gpr, uint64_t host_save_pa);

static bool have_nrips;

static uint64_t image_pa(const void *p)
{
    return (uint64_t)(uintptr_t)p - KERNEL_VMA;
}

/* --- VMCB field access --- */

static uint8_t *vmcb(const struct vcpu_arch *v)
{
    return kmem_ptr(v->control_pa);
}

static uint64_t rd64(const struct vcpu_arch *v, unsigned off)
{
    uint64_t x;
    __builtin_memcpy(&x, vmcb(v) + off, sizeof(x));
    return x;
}

static void wr64(const struct vcpu_arch *v, unsigned off, uint64_t x)
{
    __builtin_memcpy(vmcb(v) + off, &x, sizeof(x));
}

static uint32_t rd32(const struct vcpu_arch *v, unsigned off)
{
    uint32_t x;
    __builtin_memcpy(&x, vmcb(v) + off, sizeof(x));
    return x;
}

static void wr32(const struct vcpu_arch *v, unsigned off, uint32_t x)
{
    __builtin_memcpy(vmcb(v) + off, &x, sizeof(x));
}

static void set_bits32(const struct vcpu_arch *v, unsigned off, uint32_t bits, bool on)
{
    uint32_t x = rd32(v, off);
    wr32(v, off, on ? (x | bits) : (x & ~bits));
}

/* The VMCB segment format is hv_segment's (selector, attrib, limit, base). */
_Static_assert(sizeof(struct hv_segment) == 16, "VMCB segment slot");

static void seg_read(const struct vcpu_arch *v, unsigned off, struct hv_segment *s)
{
    __builtin_memcpy(s, vmcb(v) + off, sizeof(*s));
}

static void seg_write(const struct vcpu_arch *v, unsigned off, const struct hv_segment *s)
{
    __builtin_memcpy(vmcb(v) + off, s, sizeof(*s));
}

static void seg_set(const struct vcpu_arch *v, unsigned off, uint16_t sel, uint16_t attr,
                    uint32_t limit, uint64_t base)
{
    struct hv_segment s = { sel, attr, limit, base };
    seg_write(v, off, &s);
}

/* --- probe and per-CPU enable --- */

static bool svm_probe(const struct cpu_features *f)
{
    have_nrips = f->svm.nrips;
    return f->svm.supported && !f->svm.disabled_by_bios && f->svm.asids > 1;
}

static bool svm_nested_paging(void)
{
    return cpu_features()->svm.npt;
}

/* NPT tables are long-mode page tables (APM 15.25.5): a PDE with PS maps 2 MiB, always. */
static bool svm_nested_2m_leaves(void)
{
    return true;
}

static bool svm_cpu_enable(unsigned cpu)
{
    if (cpu >= CONFIG_MAX_CPUS)
        return false;
    if (rdmsr(MSR_VM_CR) & VM_CR_SVMDIS)
        return false;
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SVME);
    wrmsr(MSR_VM_HSAVE_PA, image_pa(hsave_area[cpu]));
    return true;
}

static uint64_t svm_pages(void)
{
    return (uint64_t)SVM_PAGES * PAGE;
}

/* --- setup --- */

static void reset_state(struct vcpu_arch *v)
{
    seg_set(v, VMCB_CS, RESET_CS_SELECTOR, SEG_ATTR_CODE, REAL_MODE_LIMIT, RESET_CS_BASE);
    seg_set(v, VMCB_SS, 0, SEG_ATTR_DATA, REAL_MODE_LIMIT, 0);
    seg_set(v, VMCB_DS, 0, SEG_ATTR_DATA, REAL_MODE_LIMIT, 0);
    seg_set(v, VMCB_ES, 0, SEG_ATTR_DATA, REAL_MODE_LIMIT, 0);
    seg_set(v, VMCB_FS, 0, SEG_ATTR_DATA, REAL_MODE_LIMIT, 0);
    seg_set(v, VMCB_GS, 0, SEG_ATTR_DATA, REAL_MODE_LIMIT, 0);
    seg_set(v, VMCB_LDTR, 0, SEG_ATTR_LDT, REAL_MODE_LIMIT, 0);
    seg_set(v, VMCB_TR, 0, SEG_ATTR_TSS_BUSY, REAL_MODE_LIMIT, 0);
    seg_set(v, VMCB_GDTR, 0, 0, REAL_MODE_LIMIT, 0);
    seg_set(v, VMCB_IDTR, 0, 0, REAL_MODE_LIMIT, 0);
    wr64(v, VMCB_RIP, RESET_RIP);
    wr64(v, VMCB_RFLAGS, RESET_RFLAGS);
    wr64(v, VMCB_CR0, RESET_CR0);
    wr64(v, VMCB_EFER, EFER_SVME);      /* VMRUN requires it (the guest never sees it) */
    wr64(v, VMCB_DR6, RESET_DR6);
    wr64(v, VMCB_DR7, RESET_DR7);
    wr64(v, VMCB_G_PAT, RESET_PAT);
}

static void svm_setup(struct vcpu_arch *v, uint64_t pages_pa, uint32_t tag)
{
    memset(v, 0, sizeof(*v));
    v->control_pa = pages_pa + SVM_PAGE_VMCB * PAGE;
    v->iopm_pa = pages_pa + SVM_PAGE_IOPM * PAGE;
    v->msrpm_pa = pages_pa + SVM_PAGE_MSRPM * PAGE;
    v->loaded_cpu = -1;
    /* Every port and every MSR exits: the handler decides what a guest may touch. */
    memset(kmem_ptr(v->iopm_pa), 0xff, (uint64_t)SVM_IOPM_PAGES * PAGE);
    memset(kmem_ptr(v->msrpm_pa), 0xff, (uint64_t)SVM_MSRPM_PAGES * PAGE);
    memset(vmcb(v), 0, VMCB_SIZE);

    wr32(v, VMCB_INTERCEPT_MISC1, SVM_ICPT_INTR | SVM_ICPT_NMI | SVM_ICPT_SMI | SVM_ICPT_INIT |
                                  SVM_ICPT_CPUID | SVM_ICPT_HLT | SVM_ICPT_IOIO | SVM_ICPT_MSR |
                                  SVM_ICPT_SHUTDOWN | SVM_ICPT_INVLPGA | SVM_ICPT_TASK_SWITCH);
    /* VMRUN must be intercepted (else VMRUN fails); the others are host-only instructions. */
    wr32(v, VMCB_INTERCEPT_MISC2, SVM_ICPT_VMRUN | SVM_ICPT_VMMCALL | SVM_ICPT_VMLOAD |
                                  SVM_ICPT_VMSAVE | SVM_ICPT_STGI | SVM_ICPT_CLGI |
                                  SVM_ICPT_SKINIT);
    wr64(v, VMCB_IOPM_BASE, v->iopm_pa);
    wr64(v, VMCB_MSRPM_BASE, v->msrpm_pa);
    wr32(v, VMCB_ASID, tag);
    /* Host IF masks physical interrupts while the guest runs; the guest's IF only virtual ones. */
    wr32(v, VMCB_INT_CTL, SVM_V_INTR_MASKING);
    *(vmcb(v) + VMCB_TLB_CONTROL) = SVM_TLB_FLUSH_ALL;     /* the ASID may have served a dead vCPU */
    reset_state(v);
}

static void svm_set_nested_root(struct vcpu_arch *v, uint64_t root_pa)
{
    wr64(v, VMCB_NESTED_CTL, root_pa != 0 ? SVM_NP_ENABLE : 0);
    wr64(v, VMCB_N_CR3, root_pa);
    set_bits32(v, VMCB_INTERCEPT_CR, SVM_ICPT_CR3_READ | SVM_ICPT_CR3_WRITE, false);
    set_bits32(v, VMCB_INTERCEPT_MISC1, SVM_ICPT_INVLPG, false);
    *(vmcb(v) + VMCB_TLB_CONTROL) = SVM_TLB_FLUSH_ALL;
}

/*
 * Shadow paging: the guest runs on the core's shadow tables (no nested paging);
 * the guest-visible CR0/CR3/CR4/EFER live in the core (kernel/vcpu_shadow.c), the
 * VMCB holds the hardware values. Without decode assists (QEMU has none) the CR
 * exits carry no operand: the core decodes the instruction itself.
 */
#define SHADOW_CR_ICPT (SVM_ICPT_CR0_READ | SVM_ICPT_CR3_READ | SVM_ICPT_CR4_READ | \
                        SVM_ICPT_CR0_WRITE | SVM_ICPT_CR3_WRITE | SVM_ICPT_CR4_WRITE)

static void svm_set_shadow_root(struct vcpu_arch *v, uint64_t shadow_cr3)
{
    wr64(v, VMCB_CR3, shadow_cr3);
}

static void svm_shadow_mode(struct vcpu_arch *v, bool on)
{
    if (on) {
        wr64(v, VMCB_NESTED_CTL, 0);
        wr64(v, VMCB_N_CR3, 0);
    }
    set_bits32(v, VMCB_INTERCEPT_CR, SHADOW_CR_ICPT, on);
    set_bits32(v, VMCB_INTERCEPT_MISC1, SVM_ICPT_INVLPG, on);
    *(vmcb(v) + VMCB_TLB_CONTROL) = SVM_TLB_FLUSH_ALL;
}

/* The guest's own CR0/CR4 are not needed: every CR read is intercepted (the core answers). */
static void svm_shadow_load(struct vcpu_arch *v, uint64_t cr0, uint64_t cr4, uint64_t efer,
                            uint64_t guest_cr0, uint64_t guest_cr4)
{
    (void)guest_cr0;
    (void)guest_cr4;
    wr64(v, VMCB_CR0, cr0);
    wr64(v, VMCB_CR4, cr4);
    wr64(v, VMCB_EFER, efer | EFER_SVME);
}

/* Runs on the CPU about to enter the guest (host interrupts off). */
static void svm_flush_tlb_gva(struct vcpu_arch *v, uint64_t gva)
{
    uint32_t asid = rd32(v, VMCB_ASID);
    __asm__ volatile("invlpga %%rax, %%ecx" : : "a"(gva), "c"(asid) : "memory");
}

static void svm_inject_exception(struct vcpu_arch *v, unsigned vector, bool has_error,
                                 uint32_t error_code, uint64_t cr2)
{
    uint64_t ev = (vector & 0xffu) | SVM_EVENT_TYPE_EXCEPTION | SVM_EVENT_VALID;
    if (has_error)
        ev |= SVM_EVENT_ERROR_VALID | ((uint64_t)error_code << 32);
    wr64(v, VMCB_EVENTINJ, ev);
    if (vector == 14)
        wr64(v, VMCB_CR2, cr2);
}

static void svm_flush_tlb(struct vcpu_arch *v)
{
    *(vmcb(v) + VMCB_TLB_CONTROL) = SVM_TLB_FLUSH_ALL;
}

/* --- state --- */

static void svm_state_write(struct vcpu_arch *v, const struct hv_vcpu_state *s)
{
    uint64_t mtd = s->mtd;
    if (mtd & HV_MTD_GPR) {
        wr64(v, VMCB_RAX, s->rax);
        v->gpr[1] = s->rcx; v->gpr[2] = s->rdx; v->gpr[3] = s->rbx;
        v->gpr[5] = s->rbp; v->gpr[6] = s->rsi; v->gpr[7] = s->rdi;
        v->gpr[8] = s->r8; v->gpr[9] = s->r9; v->gpr[10] = s->r10; v->gpr[11] = s->r11;
        v->gpr[12] = s->r12; v->gpr[13] = s->r13; v->gpr[14] = s->r14; v->gpr[15] = s->r15;
    }
    if (mtd & HV_MTD_RSP_RIP_RFLAGS) {
        wr64(v, VMCB_RSP, s->rsp);
        wr64(v, VMCB_RIP, s->rip);
        wr64(v, VMCB_RFLAGS, s->rflags);
    }
    if (mtd & HV_MTD_CR) {
        wr64(v, VMCB_CR0, s->cr0);
        wr64(v, VMCB_CR2, s->cr2);
        wr64(v, VMCB_CR3, s->cr3);
        wr64(v, VMCB_CR4, s->cr4);
        wr64(v, VMCB_EFER, s->efer | EFER_SVME);
    }
    if (mtd & HV_MTD_SEG) {
        seg_write(v, VMCB_CS, &s->cs);
        seg_write(v, VMCB_SS, &s->ss);
        seg_write(v, VMCB_DS, &s->ds);
        seg_write(v, VMCB_ES, &s->es);
        seg_write(v, VMCB_FS, &s->fs);
        seg_write(v, VMCB_GS, &s->gs);
        /* SVM takes the CPL from here, not from CS: keep them in step (real mode: 0). */
        *(vmcb(v) + VMCB_CPL) = (uint8_t)((s->ss.attr >> 5) & 3u);
    }
    if (mtd & HV_MTD_SYS_SEG) {
        seg_write(v, VMCB_TR, &s->tr);
        seg_write(v, VMCB_LDTR, &s->ldtr);
        seg_set(v, VMCB_GDTR, 0, 0, (uint32_t)s->gdtr.limit, s->gdtr.base);
        seg_set(v, VMCB_IDTR, 0, 0, (uint32_t)s->idtr.limit, s->idtr.base);
    }
    if (mtd & HV_MTD_MSR) {
        wr64(v, VMCB_STAR, s->star);
        wr64(v, VMCB_LSTAR, s->lstar);
        wr64(v, VMCB_CSTAR, s->cstar);
        wr64(v, VMCB_SFMASK, s->sfmask);
        wr64(v, VMCB_KERNEL_GS_BASE, s->kernel_gs_base);
        wr64(v, VMCB_SYSENTER_CS, s->sysenter_cs);
        wr64(v, VMCB_SYSENTER_ESP, s->sysenter_esp);
        wr64(v, VMCB_SYSENTER_EIP, s->sysenter_eip);
        wr64(v, VMCB_G_PAT, s->pat);
    }
    if (mtd & HV_MTD_INJECT) {
        /* EVENTINJ: the hv_vcpu_state word is its low half, the error code its high half. */
        uint64_t ev = s->inject_event & 0xffffffffull;
        wr64(v, VMCB_EVENTINJ, (ev & SVM_EVENT_VALID) ? (ev | (s->inject_error << 32)) : 0);
        wr64(v, VMCB_INT_STATE, (s->intr_state & HV_INTR_SHADOW) ? SVM_INT_SHADOW : 0);
        bool window = (s->intr_state & HV_INTR_REQUEST_WINDOW) != 0;
        /* An interrupt window: a virtual interrupt pending at the highest priority exits
         * (VINTR) exactly when the guest could take it. */
        uint32_t ctl = rd32(v, VMCB_INT_CTL) & ~(SVM_V_IRQ | (0xfu << SVM_V_INTR_PRIO_SHIFT) |
                                                 SVM_V_IGN_TPR);
        if (window)
            ctl |= SVM_V_IRQ | (0xfu << SVM_V_INTR_PRIO_SHIFT) | SVM_V_IGN_TPR;
        wr32(v, VMCB_INT_CTL, ctl);
        set_bits32(v, VMCB_INTERCEPT_MISC1, SVM_ICPT_VINTR, window);
        /* NMI window: reported at the guest's next IRET (the end of an NMI handler). */
        set_bits32(v, VMCB_INTERCEPT_MISC1, SVM_ICPT_IRET,
                   (s->intr_state & HV_INTR_REQUEST_NMI_WINDOW) != 0);
    }
    if (mtd & HV_MTD_TSC)
        wr64(v, VMCB_TSC_OFFSET, s->tsc_offset);
}

static void svm_state_read(struct vcpu_arch *v, uint64_t mtd, struct hv_vcpu_state *s)
{
    s->mtd = mtd;
    if (mtd & HV_MTD_GPR) {
        s->rax = rd64(v, VMCB_RAX);
        s->rcx = v->gpr[1]; s->rdx = v->gpr[2]; s->rbx = v->gpr[3];
        s->rbp = v->gpr[5]; s->rsi = v->gpr[6]; s->rdi = v->gpr[7];
        s->r8 = v->gpr[8]; s->r9 = v->gpr[9]; s->r10 = v->gpr[10]; s->r11 = v->gpr[11];
        s->r12 = v->gpr[12]; s->r13 = v->gpr[13]; s->r14 = v->gpr[14]; s->r15 = v->gpr[15];
    }
    if (mtd & HV_MTD_RSP_RIP_RFLAGS) {
        s->rsp = rd64(v, VMCB_RSP);
        s->rip = rd64(v, VMCB_RIP);
        s->rflags = rd64(v, VMCB_RFLAGS);
    }
    if (mtd & HV_MTD_CR) {
        s->cr0 = rd64(v, VMCB_CR0);
        s->cr2 = rd64(v, VMCB_CR2);
        s->cr3 = rd64(v, VMCB_CR3);
        s->cr4 = rd64(v, VMCB_CR4);
        s->efer = rd64(v, VMCB_EFER) & ~EFER_SVME;
    }
    if (mtd & HV_MTD_SEG) {
        seg_read(v, VMCB_CS, &s->cs);
        seg_read(v, VMCB_SS, &s->ss);
        seg_read(v, VMCB_DS, &s->ds);
        seg_read(v, VMCB_ES, &s->es);
        seg_read(v, VMCB_FS, &s->fs);
        seg_read(v, VMCB_GS, &s->gs);
    }
    if (mtd & HV_MTD_SYS_SEG) {
        struct hv_segment g, i;
        seg_read(v, VMCB_TR, &s->tr);
        seg_read(v, VMCB_LDTR, &s->ldtr);
        seg_read(v, VMCB_GDTR, &g);
        seg_read(v, VMCB_IDTR, &i);
        s->gdtr.base = g.base;
        s->gdtr.limit = g.limit;
        s->idtr.base = i.base;
        s->idtr.limit = i.limit;
    }
    if (mtd & HV_MTD_MSR) {
        s->star = rd64(v, VMCB_STAR);
        s->lstar = rd64(v, VMCB_LSTAR);
        s->cstar = rd64(v, VMCB_CSTAR);
        s->sfmask = rd64(v, VMCB_SFMASK);
        s->kernel_gs_base = rd64(v, VMCB_KERNEL_GS_BASE);
        s->sysenter_cs = rd64(v, VMCB_SYSENTER_CS);
        s->sysenter_esp = rd64(v, VMCB_SYSENTER_ESP);
        s->sysenter_eip = rd64(v, VMCB_SYSENTER_EIP);
        s->pat = rd64(v, VMCB_G_PAT);
    }
    if (mtd & HV_MTD_INJECT) {
        uint64_t ev = rd64(v, VMCB_EVENTINJ);
        s->inject_event = ev & 0xffffffffull;
        s->inject_error = ev >> 32;
        s->intr_state = 0;
        if (rd64(v, VMCB_INT_STATE) & SVM_INT_SHADOW)
            s->intr_state |= HV_INTR_SHADOW;
        if (rd32(v, VMCB_INTERCEPT_MISC1) & SVM_ICPT_VINTR)
            s->intr_state |= HV_INTR_REQUEST_WINDOW;
        if (rd32(v, VMCB_INTERCEPT_MISC1) & SVM_ICPT_IRET)
            s->intr_state |= HV_INTR_REQUEST_NMI_WINDOW;
    }
    if (mtd & HV_MTD_TSC)
        s->tsc_offset = rd64(v, VMCB_TSC_OFFSET);
}

static void svm_set_exception_intercepts(struct vcpu_arch *v, uint32_t vector_bitmap)
{
    wr32(v, VMCB_INTERCEPT_EXC, vector_bitmap);
}

/* --- run --- */

static unsigned io_size(uint64_t info1)
{
    if (info1 & SVM_IOIO_SZ32)
        return 4;
    return (info1 & SVM_IOIO_SZ16) ? 2 : 1;
}

/* Instruction length from next-RIP where the CPU has it (QEMU has not), else `fixed`. */
static uint64_t insn_length(const struct vcpu_arch *v, uint64_t fixed)
{
    if (have_nrips) {
        uint64_t next = rd64(v, VMCB_NEXT_RIP);
        uint64_t rip = rd64(v, VMCB_RIP);
        if (next > rip && next - rip <= 15)
            return next - rip;
    }
    return fixed;
}

static void normalize(struct vcpu_arch *v, struct vcpu_exit *e)
{
    uint64_t code = rd64(v, VMCB_EXITCODE);
    uint64_t info1 = rd64(v, VMCB_EXITINFO1);
    uint64_t info2 = rd64(v, VMCB_EXITINFO2);
    v->raw_exit = code;
    e->reason = HV_EXIT_UNHANDLED;
    e->qualification = code;
    e->address = 0;
    e->instruction_length = 0;

    if (code >= SVM_EXIT_EXCP_BASE && code < SVM_EXIT_EXCP_BASE + 32) {
        uint64_t vector = code - SVM_EXIT_EXCP_BASE;
        e->reason = HV_EXIT_EXCEPTION;
        e->qualification = vector | ((info1 & 0xffffffffull) << 32);
        e->address = vector == 14 ? info2 : 0;
        return;
    }
    if (code < SVM_EXIT_CR_WRITE_BASE + 16) {
        e->reason = HV_EXIT_CR_ACCESS;
        e->qualification = (code & HV_CR_NUMBER_MASK) |
                           (code >= SVM_EXIT_CR_WRITE_BASE ? HV_CR_WRITE : 0);
        return;
    }
    switch (code) {
    case SVM_EXIT_INTR:
    case SVM_EXIT_NMI:
    case SVM_EXIT_SMI:
    case SVM_EXIT_INIT:
        e->reason = HV_EXIT_NONE;
        e->qualification = 0;
        break;
    case SVM_EXIT_CPUID:
        e->reason = HV_EXIT_CPUID;
        e->qualification = 0;
        e->instruction_length = 2;      /* 0f a2 */
        break;
    case SVM_EXIT_HLT:
        e->reason = HV_EXIT_HLT;
        e->qualification = 0;
        e->instruction_length = insn_length(v, 1);  /* f4 (a prefixed HLT: the handler decodes) */
        break;
    case SVM_EXIT_VMMCALL:
        e->reason = HV_EXIT_VMCALL;
        e->qualification = 0;
        e->instruction_length = 3;      /* 0f 01 d9 */
        break;
    case SVM_EXIT_IOIO:
        e->reason = HV_EXIT_IO;
        e->qualification = ((info1 >> SVM_IOIO_PORT_SHIFT) & HV_IO_PORT_MASK) |
                           ((uint64_t)io_size(info1) << HV_IO_SIZE_SHIFT) |
                           ((info1 & SVM_IOIO_IN) ? HV_IO_IN : 0) |
                           ((info1 & SVM_IOIO_STR) ? HV_IO_STRING : 0) |
                           ((info1 & SVM_IOIO_REP) ? HV_IO_REP : 0);
        /* EXITINFO2 is the next RIP for IOIO even without NRIPS. */
        e->instruction_length = info2 - rd64(v, VMCB_RIP);
        break;
    case SVM_EXIT_MSR:
        e->reason = info1 ? HV_EXIT_MSR_WRITE : HV_EXIT_MSR_READ;
        e->qualification = v->gpr[1] & 0xffffffffull;  /* ecx */
        e->instruction_length = 2;      /* 0f 32 / 0f 30 */
        break;
    case SVM_EXIT_INVLPG:
        e->reason = HV_EXIT_INVLPG;
        e->qualification = 0;
        break;
    case SVM_EXIT_NPF:
        e->reason = HV_EXIT_GPA;
        e->address = info2;
        e->qualification = (info1 & SVM_NPF_FETCH) ? HV_GPA_EXECUTE :
                           (info1 & SVM_NPF_WRITE) ? HV_GPA_WRITE : HV_GPA_READ;
        break;
    case SVM_EXIT_VINTR:
        e->reason = HV_EXIT_INTR_WINDOW;
        e->qualification = 0;
        wr32(v, VMCB_INT_CTL, rd32(v, VMCB_INT_CTL) & ~SVM_V_IRQ);
        set_bits32(v, VMCB_INTERCEPT_MISC1, SVM_ICPT_VINTR, false);
        break;
    case SVM_EXIT_IRET:
        e->reason = HV_EXIT_NMI_WINDOW;
        e->qualification = 0;
        set_bits32(v, VMCB_INTERCEPT_MISC1, SVM_ICPT_IRET, false);
        break;
    case SVM_EXIT_SHUTDOWN:
        e->reason = HV_EXIT_TRIPLE_FAULT;
        e->qualification = 0;
        break;
    case SVM_EXIT_INVALID:
        e->reason = HV_EXIT_INVALID_STATE;
        e->qualification = 0;
        break;
    default:
        break;  /* UNHANDLED with the raw code */
    }
}

/*
 * What VMX entry refuses and VMRUN would take, refused here too so both backends give
 * the same HV_EXIT_INVALID_STATE (hv/vcpu.h); 0 = enterable, else an SVM_INVALID_*
 * detail. A non-canonical RIP in 64-bit mode (VMRUN enters, the first fetch faults; only
 * a state write makes one, a guest jump faults before RIP changes). An external
 * interrupt injected while the guest cannot take it, IF = 0 or in an STI / MOV SS
 * shadow (VMRUN would deliver it regardless): the handler must wait for the window.
 */
static uint32_t entry_refusal(const struct vcpu_arch *v)
{
    if ((rd64(v, VMCB_EFER) & EFER_LMA) && (rd32(v, VMCB_CS) & (SVM_ATTR_L << 16)) &&
        !va_is_canonical(rd64(v, VMCB_RIP)))
        return SVM_INVALID_RIP;
    uint64_t ev = rd64(v, VMCB_EVENTINJ);
    if ((ev & SVM_EVENT_VALID) && ((ev >> HV_INJECT_TYPE_SHIFT) & 7u) == HV_INJECT_TYPE_EXTINT &&
        (!(rd64(v, VMCB_RFLAGS) & RFLAGS_IF) || (rd64(v, VMCB_INT_STATE) & SVM_INT_SHADOW)))
        return SVM_INVALID_INJECT;
    return 0;
}

static void svm_run(struct vcpu_arch *v, struct vcpu_exit *exit)
{
    kassert(!(read_rflags() & RFLAGS_IF));
    uint32_t refusal = entry_refusal(v);
    if (refusal != 0) {
        exit->reason = HV_EXIT_INVALID_STATE;
        exit->qualification = refusal;
        exit->address = 0;
        exit->instruction_length = 0;
        return;
    }
    unsigned cpu = this_cpu_index();
    __asm__ volatile("clgi" ::: "memory");
    svm_vmrun(v->control_pa, v->gpr, image_pa(host_save[cpu]));
    __asm__ volatile("stgi" ::: "memory");  /* IF is 0: a pending interrupt waits for the caller */
    *(vmcb(v) + VMCB_TLB_CONTROL) = SVM_TLB_FLUSH_NONE;
    /* An event whose delivery the exit interrupted is delivered again at the next entry. */
    uint64_t intinfo = rd64(v, VMCB_EXITINTINFO);
    if (intinfo & SVM_EVENT_VALID) {
        wr64(v, VMCB_EVENTINJ, intinfo);
        /* The CPU had taken that event, so no STI / MOV SS shadow was in force; QEMU's
         * SVM still reports one when the delivery exits (a #PF on the IDT or stack under
         * shadow paging), which would make entry_refusal refuse the re-injection. */
        if (((intinfo >> HV_INJECT_TYPE_SHIFT) & 7u) == HV_INJECT_TYPE_EXTINT)
            wr64(v, VMCB_INT_STATE, rd64(v, VMCB_INT_STATE) & ~SVM_INT_SHADOW);
    } else
        wr64(v, VMCB_EVENTINJ, 0);
    normalize(v, exit);
}

static void svm_release(struct vcpu_arch *v)
{
    (void)v;    /* a VMCB is plain memory: nothing is cached on a CPU between runs */
}

static const struct vcpu_arch_ops svm_ops = {
    .name = "svm",
    .backend = VCPU_BACKEND_SVM,
    .probe = svm_probe,
    .nested_paging = svm_nested_paging,
    .nested_2m_leaves = svm_nested_2m_leaves,
    .cpu_enable = svm_cpu_enable,
    .pages = svm_pages,
    .setup = svm_setup,
    .set_nested_root = svm_set_nested_root,
    .set_shadow_root = svm_set_shadow_root,
    .flush_tlb = svm_flush_tlb,
    .state_write = svm_state_write,
    .state_read = svm_state_read,
    .set_exception_intercepts = svm_set_exception_intercepts,
    .run = svm_run,
    .release = svm_release,
    .shadow_mode = svm_shadow_mode,
    .shadow_load = svm_shadow_load,
    .flush_tlb_gva = svm_flush_tlb_gva,
    .inject_exception = svm_inject_exception,
};
VCPU_BACKEND(svm_ops);
