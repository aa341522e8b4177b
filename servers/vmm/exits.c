/* SPDX-License-Identifier: MIT */
/* exits: the dispatch table from exit reason to handler, and the handlers — port I/O, MMIO, CPUID, MSRs, HLT, windows, faults. */
#include <stdlib.h>

#include "vmm.h"

#define EXC_GP 13u
#define EXC_UD 6u
#define EXC_PF 14u
#define LEN_CPUID 2u
#define LEN_MSR 2u
#define LEN_HLT 1u

typedef bool (*exit_handler)(struct vmm *v, struct vmm_vcpu *c);

static const char *const exit_names[HV_EXIT_REASON_COUNT] = {
    [HV_EXIT_NONE] = "none", [HV_EXIT_CPUID] = "cpuid", [HV_EXIT_IO] = "io", [HV_EXIT_HLT] = "hlt",
    [HV_EXIT_GPA] = "gpa", [HV_EXIT_EXCEPTION] = "exception", [HV_EXIT_INTR_WINDOW] = "intr_window",
    [HV_EXIT_NMI_WINDOW] = "nmi_window", [HV_EXIT_TRIPLE_FAULT] = "triple_fault", [HV_EXIT_RECALL] = "recall",
    [HV_EXIT_MSR_READ] = "rdmsr", [HV_EXIT_MSR_WRITE] = "wrmsr", [HV_EXIT_VMCALL] = "vmcall",
    [HV_EXIT_INVALID_STATE] = "invalid_state", [HV_EXIT_UNHANDLED] = "unhandled",
    [HV_EXIT_CR_ACCESS] = "cr_access", [HV_EXIT_INVLPG] = "invlpg",
};

const char *vmm_exit_name(uint64_t reason)
{
    return reason < HV_EXIT_REASON_COUNT && exit_names[reason] != 0 ? exit_names[reason] : "?";
}

void vmm_stop_vm(struct vmm *v, enum vmm_stop why, const struct vmm_vcpu *c, const char *what)
{
    if (v->stop != VMM_RUNNING)
        return;
    v->stop = why;
    if (c == 0) {
        vmm_log(v, "%s", what);
        return;
    }
    const struct hv_vcpu_state *s = &c->st;
    vmm_log(v, "%s at rip 0x%lx (vcpu %u, exit %s, qualification 0x%lx, address 0x%lx)", what,
            (unsigned long)s->rip, c->index, vmm_exit_name(c->reason), (unsigned long)c->qual,
            (unsigned long)c->addr);
    vmm_log(v, "  rax 0x%lx rbx 0x%lx rcx 0x%lx rdx 0x%lx rsp 0x%lx rflags 0x%lx", (unsigned long)s->rax,
            (unsigned long)s->rbx, (unsigned long)s->rcx, (unsigned long)s->rdx, (unsigned long)s->rsp,
            (unsigned long)s->rflags);
    vmm_log(v, "  cr0 0x%lx cr2 0x%lx cr3 0x%lx cr4 0x%lx efer 0x%lx cs %04x ss %04x", (unsigned long)s->cr0,
            (unsigned long)s->cr2, (unsigned long)s->cr3, (unsigned long)s->cr4, (unsigned long)s->efer,
            s->cs.selector, s->ss.selector);
    vmm_log(v, "  the last exits (oldest first; intr_state/inject as reported -> as answered):");
    for (uint64_t k = c->exits >= VMM_TRACE ? c->exits - VMM_TRACE + 1u : 1u; k <= c->exits; k++) {
        const struct vmm_trace *t = &c->trace[k % VMM_TRACE];
        vmm_log(v, "  #%lu %s qual 0x%lx rip 0x%lx rflags 0x%lx intr_state 0x%lx -> 0x%lx inject 0x%lx -> 0x%lx",
                (unsigned long)k, vmm_exit_name(t->reason), (unsigned long)t->qual, (unsigned long)t->rip,
                (unsigned long)t->rflags, (unsigned long)t->exit_intr_state, (unsigned long)t->intr_state,
                (unsigned long)t->exit_inject, (unsigned long)t->inject);
    }
}

static void advance(struct vmm_vcpu *c, uint64_t len)
{
    c->st.rip += len;
    c->st.mtd |= HV_MTD_RSP_RIP_RFLAGS;
    if ((c->st.intr_state & HV_INTR_SHADOW) != 0) {   /* a skipped instruction ends the shadow */
        c->st.intr_state &= ~(uint64_t)HV_INTR_SHADOW;
        c->st.mtd |= HV_MTD_INJECT;
    }
}

static uint64_t merge(uint64_t old, uint64_t val, unsigned size)
{
    if (size == 4)
        return val & 0xffffffffull;                 /* a 32-bit write zero-extends */
    uint64_t mask = (1ull << (size * 8u)) - 1u;
    return (old & ~mask) | (val & mask);
}

static bool on_io(struct vmm *v, struct vmm_vcpu *c)
{
    if ((c->qual & HV_IO_STRING) != 0 || c->len == 0)
        return vmm_emulate(v, c);       /* ins/outs (with rep) and anything without a length */
    uint16_t port = (uint16_t)(c->qual & HV_IO_PORT_MASK);
    unsigned size = (unsigned)(c->qual >> HV_IO_SIZE_SHIFT) & 7u;
    if ((c->qual & HV_IO_IN) != 0) {
        uint32_t val = 0;
        (void)vmm_platform_pio_read(&v->plat, c->index, port, size, &val);
        c->st.rax = merge(c->st.rax, val, size);
        c->st.mtd |= HV_MTD_GPR;
    } else {
        (void)vmm_platform_pio_write(&v->plat, c->index, port, size, (uint32_t)c->st.rax);
    }
    advance(c, c->len);
    return true;
}

static bool on_gpa(struct vmm *v, struct vmm_vcpu *c)
{
    if (c->addr < v->ram_bytes) {
        /* RAM is mapped with every right: a fault here means the core's view disagrees. */
        vmm_stop_vm(v, VMM_STOP_FAULT, c, "guest RAM access faulted");
        return false;
    }
    return vmm_emulate(v, c);
}

static bool on_cpuid(struct vmm *v, struct vmm_vcpu *c)
{
    uint32_t r[4];
    vmm_cpuid(v, c, (uint32_t)c->st.rax, (uint32_t)c->st.rcx, r);
    c->st.rax = r[0];
    c->st.rbx = r[1];
    c->st.rcx = r[2];
    c->st.rdx = r[3];
    c->st.mtd |= HV_MTD_GPR;
    advance(c, c->len != 0 ? c->len : LEN_CPUID);
    return true;
}

static bool on_msr_read(struct vmm *v, struct vmm_vcpu *c)
{
    uint64_t val;
    if (!vmm_msr_read(v, c, (uint32_t)c->st.rcx, &val)) {
        vmm_inject_exception(c, EXC_GP, true, 0);
        return true;
    }
    c->st.rax = val & 0xffffffffull;
    c->st.rdx = val >> 32;
    c->st.mtd |= HV_MTD_GPR;
    advance(c, c->len != 0 ? c->len : LEN_MSR);
    return true;
}

static bool on_msr_write(struct vmm *v, struct vmm_vcpu *c)
{
    uint64_t val = (c->st.rax & 0xffffffffull) | (c->st.rdx << 32);
    if (!vmm_msr_write(v, c, (uint32_t)c->st.rcx, val)) {
        vmm_inject_exception(c, EXC_GP, true, 0);
        return true;
    }
    advance(c, c->len != 0 ? c->len : LEN_MSR);
    return true;
}

static bool on_hlt(struct vmm *v, struct vmm_vcpu *c)
{
    advance(c, c->len != 0 ? c->len : LEN_HLT);
    if (!v->have_timer)
        return true;            /* nothing would wake us: the guest polls through its idle loop */
    if (vmm_platform_intr_pending(&v->plat, c->index) && (c->st.rflags & (1ull << 9)) != 0)
        return true;            /* an interrupt is waiting: no sleep */
    if (v->plat.lapic[c->index].nmi_pending != 0 && !c->nmi_blocked)
        return true;            /* an NMI wakes HLT whatever IF says */
    c->halted = true;
    return false;               /* held until vmm_service finds an interrupt for it */
}

/* Nothing to do but what every resume does: inject what is pending. */
static bool on_resume(struct vmm *v, struct vmm_vcpu *c)
{
    (void)v;
    (void)c;
    return true;
}

/* The NMI handler ended (or NMIs are unblocked): the next one can go in. */
static bool on_nmi_window(struct vmm *v, struct vmm_vcpu *c)
{
    (void)v;
    c->nmi_blocked = false;
    return true;
}

static bool on_exception(struct vmm *v, struct vmm_vcpu *c)
{
    /* Only intercepted exceptions come here (none are requested): give it back to the guest. */
    uint8_t vector = (uint8_t)(c->qual & 0xffu);
    if (vector == EXC_PF) {
        c->st.cr2 = c->addr;
        c->st.mtd |= HV_MTD_CR;
    }
    bool has_error = vector == 8 || (vector >= 10 && vector <= 14) || vector == 17;
    (void)v;
    vmm_inject_exception(c, vector, has_error, (uint32_t)(c->qual >> 32));
    return true;
}

static bool on_vmcall(struct vmm *v, struct vmm_vcpu *c)
{
    (void)v;
    vmm_inject_exception(c, EXC_UD, false, 0);     /* no hypercalls: as a CPU without a hypervisor */
    return true;
}

static bool on_triple_fault(struct vmm *v, struct vmm_vcpu *c)
{
    vmm_stop_vm(v, VMM_STOP_FAULT, c, "triple fault");
    return false;
}

static bool on_invalid(struct vmm *v, struct vmm_vcpu *c)
{
    vmm_stop_vm(v, VMM_STOP_FAULT, c, "the CPU refused the guest state");
    return false;
}

static bool on_unhandled(struct vmm *v, struct vmm_vcpu *c)
{
    vmm_stop_vm(v, VMM_STOP_FAULT, c, "an exit the vmm does not handle");
    return false;
}

/* CR accesses and INVLPG the core did not decode (shadow paging): the emulator does them. */
static bool on_emulate(struct vmm *v, struct vmm_vcpu *c)
{
    return vmm_emulate(v, c);
}

static const exit_handler handlers[HV_EXIT_REASON_COUNT] = {
    [HV_EXIT_NONE] = on_resume,
    [HV_EXIT_CPUID] = on_cpuid,
    [HV_EXIT_IO] = on_io,
    [HV_EXIT_HLT] = on_hlt,
    [HV_EXIT_GPA] = on_gpa,
    [HV_EXIT_EXCEPTION] = on_exception,
    [HV_EXIT_INTR_WINDOW] = on_resume,
    [HV_EXIT_NMI_WINDOW] = on_nmi_window,
    [HV_EXIT_TRIPLE_FAULT] = on_triple_fault,
    [HV_EXIT_RECALL] = on_resume,
    [HV_EXIT_MSR_READ] = on_msr_read,
    [HV_EXIT_MSR_WRITE] = on_msr_write,
    [HV_EXIT_VMCALL] = on_vmcall,
    [HV_EXIT_INVALID_STATE] = on_invalid,
    [HV_EXIT_UNHANDLED] = on_unhandled,
    [HV_EXIT_CR_ACCESS] = on_emulate,
    [HV_EXIT_INVLPG] = on_emulate,
};

bool vmm_handle_exit(struct vmm *v, struct vmm_vcpu *c)
{
    c->st.mtd = 0;      /* from here: the groups to write back */
    if (c->reason == HV_EXIT_RECALL)
        c->recalled = false;
    if (c->reason >= HV_EXIT_REASON_COUNT) {
        vmm_stop_vm(v, VMM_STOP_FAULT, c, "an unknown exit reason");
        return false;
    }
    v->exits_by_reason[c->reason]++;
    return handlers[c->reason](v, c);
}
