/* SPDX-License-Identifier: MIT */
/* intr: VM time from the TSC, the core's timer for device deadlines, and interrupt delivery to the vCPUs. */
#include "hv/errors.h"
#include "hv/objects.h"
#include "vmm.h"

#define RFLAGS_IF (1ull << 9)
#define VMM_NMI_VECTOR 2u

uint64_t vmm_now_ns(void *ctx)
{
    const struct vmm *v = ctx;
    return vdev_muldiv(vmm_rdtsc() - v->tsc0, VDEV_NS_PER_SEC, v->tsc_hz);
}

void vmm_clock_init(struct vmm *v)
{
    v->tsc_hz = v->info->tsc_hz != 0 ? v->info->tsc_hz : 1000000000ull;
    v->tsc0 = vmm_rdtsc();
    v->clock = (struct vclock){ vmm_now_ns, v };
    v->armed_ns = VDEV_NO_DEADLINE;
    /* Probe the timer: disarming is harmless and tells whether the core has it. */
    uint64_t args[2] = { 0, 0 };
    v->have_timer = vmm_invoke(VMM_SLOT_NTFN, HV_INV_NOTIFICATION_SET_TIMER, 2, args, NULL) == HV_OK;
}

/* The core signals VMM_BIT_TIMER at the deadline (1 ms resolution). */
static void arm_timer(struct vmm *v, uint64_t deadline_ns)
{
    if (!v->have_timer || deadline_ns == v->armed_ns)
        return;
    uint64_t args[2] = { 0, 0 };
    if (deadline_ns != VDEV_NO_DEADLINE) {
        args[0] = v->tsc0 + vdev_muldiv(deadline_ns, v->tsc_hz, VDEV_NS_PER_SEC);
        if (args[0] == 0)
            args[0] = 1;
        args[1] = VMM_BIT_TIMER;
    }
    if (vmm_invoke(VMM_SLOT_NTFN, HV_INV_NOTIFICATION_SET_TIMER, 2, args, NULL) == HV_OK)
        v->armed_ns = deadline_ns;
}

void vmm_inject_exception(struct vmm_vcpu *c, uint8_t vector, bool has_error, uint32_t error)
{
    c->st.inject_event = HV_INJECT_VALID | ((uint64_t)HV_INJECT_TYPE_EXCEPTION << HV_INJECT_TYPE_SHIFT) | vector |
                         (has_error ? HV_INJECT_ERROR_VALID : 0u);
    c->st.inject_error = error;
    c->st.mtd |= HV_MTD_INJECT;
}

/* Whether the guest can take an external interrupt at this instruction boundary. */
static bool can_take(const struct vmm_vcpu *c)
{
    return (c->st.rflags & RFLAGS_IF) != 0 && (c->st.intr_state & HV_INTR_SHADOW) == 0 &&
           (c->st.inject_event & HV_INJECT_VALID) == 0;
}

/*
 * NMIs (LVT LINT1 or an NMI IPI). Nothing tells the vmm whether the guest blocks NMIs, so
 * it keeps track: an injected NMI blocks further ones until the NMI window exit (VMX: NMI
 * blocking ended; SVM: the guest's next IRET, the end of its handler); until then a pending
 * one waits for that window. An event already in delivery goes first.
 */
static void inject_nmi(struct vmm *v, struct vmm_vcpu *c)
{
    c->nmi_window = (c->st.intr_state & HV_INTR_REQUEST_NMI_WINDOW) != 0;
    if (v->plat.lapic[c->index].nmi_pending == 0 && !c->nmi_blocked)
        return;
    if (v->plat.lapic[c->index].nmi_pending != 0 && !c->nmi_blocked &&
        (c->st.inject_event & HV_INJECT_VALID) == 0 && vmm_platform_take_nmi(&v->plat, c->index)) {
        c->st.inject_event = HV_INJECT_VALID | ((uint64_t)HV_INJECT_TYPE_NMI << HV_INJECT_TYPE_SHIFT) | VMM_NMI_VECTOR;
        c->st.inject_error = 0;
        c->nmi_blocked = true;
        v->nmis++;
    }
    /* Watch for the end of the handler (blocked), or for the event in delivery (pending). */
    c->st.intr_state |= HV_INTR_REQUEST_NMI_WINDOW;
    c->st.mtd |= HV_MTD_INJECT | HV_MTD_RSP_RIP_RFLAGS;
    c->nmi_window = true;
}

void vmm_inject_pending(struct vmm *v, struct vmm_vcpu *c)
{
    c->window = false;
    inject_nmi(v, c);
    if (!vmm_platform_intr_pending(&v->plat, c->index))
        return;
    uint8_t vector;
    if (can_take(c)) {
        if (vmm_platform_intr_take(&v->plat, c->index, &vector)) {
            c->st.inject_event = HV_INJECT_VALID | ((uint64_t)HV_INJECT_TYPE_EXTINT << HV_INJECT_TYPE_SHIFT) | vector;
            c->st.inject_error = 0;
            c->st.mtd |= HV_MTD_INJECT | HV_MTD_RSP_RIP_RFLAGS;
        }
        return;
    }
    /* Blocked for now (IF = 0, an STI/MOV SS shadow, an event still in delivery): exit at
     * the first instruction boundary where the guest can take it. */
    c->st.intr_state |= HV_INTR_REQUEST_WINDOW;
    c->st.mtd |= HV_MTD_INJECT;
    c->window = true;
}

void vmm_tick(struct vmm *v)
{
    if (vmm_platform_next_deadline(&v->plat) <= vmm_now_ns(v))
        vmm_platform_tick(&v->plat);
}

void vmm_service(struct vmm *v)
{
    vmm_tick(v);

    vmm_vm_events(v);
    if (v->stop != VMM_RUNNING)
        return;

    for (unsigned i = 0; i < v->ncpus && !v->resetting && v->stop == VMM_RUNNING; i++) {
        struct vmm_vcpu *c = &v->cpu[i];
        /* INIT and SIPI first (smp.c): an AP in wait-for-SIPI takes nothing else. */
        if (vmm_smp_events(v, c) || vmm_smp_running(v, c))
            continue;
        bool nmi = v->plat.lapic[i].nmi_pending != 0 && !c->nmi_blocked;
        bool intr = vmm_platform_intr_pending(&v->plat, i);
        if (!nmi && !intr)
            continue;
        if (c->held && c->halted && (nmi || (c->st.rflags & RFLAGS_IF) != 0)) {
            vmm_inject_pending(v, c);      /* st.mtd still holds the HLT's RIP advance */
            vmm_resume(v, c);
        } else if (!c->held && (nmi ? !c->nmi_window : !c->window)) {
            vmm_recall(v, c);              /* running: bring it out so the event can be injected */
        }
    }
    arm_timer(v, vmm_platform_next_deadline(&v->plat));
}

void vmm_recall(struct vmm *v, struct vmm_vcpu *c)
{
    if (c->recalled || c->held || !c->started)
        return;
    uint64_t err = vmm_invoke(c->vcpu_cap, HV_INV_VCPU_RECALL, 0, 0, 0);
    if (err == HV_OK)
        c->recalled = true;
    else
        vmm_log(v, "vcpu %u: recall failed (error %lu)", c->index, (unsigned long)err);
}
