/* SPDX-License-Identifier: MIT */
/* smp: the VM's application processors — wait-for-SIPI, INIT and startup IPIs taken from the LAPIC model, an AP's first start and its restarts. */

/*
 * An AP is in one of three states (struct vmm_vcpu):
 *   wait-for-SIPI, never started   !started, wait_sipi: its thread was never resumed
 *   running                        started, !wait_sipi: in the guest, or held at an exit
 *   wait-for-SIPI after an INIT    started, wait_sipi, held: its last exit stays unanswered
 * INIT (an IPI from another vCPU; the LAPIC model reset the AP's APIC and set init_pending)
 * is taken only while the AP is held (a running one is recalled first), so its exit can be
 * kept; a SIPI is taken in wait-for-SIPI and starts the AP in real mode at vector << 12
 * (ap.c): the first time by writing the state and resuming its thread, after that by
 * answering the held exit with the whole state. A SIPI to a CPU not waiting for one and
 * INIT to the BSP (the LAPIC model drops it) do nothing, as on hardware.
 */
#include "ap.h"
#include "hv/errors.h"
#include "hv/objects.h"
#include "vmm.h"

#define CPUID_SIGNATURE_LEAF 1u

static void start_ap(struct vmm *v, struct vmm_vcpu *c, uint8_t vector)
{
    uint32_t sig[4];
    vmm_cpuid(v, c, CPUID_SIGNATURE_LEAF, 0, sig);
    ap_sipi_state(&c->st, vector, sig[0]);
    c->wait_sipi = false;
    c->window = false;
    c->nmi_window = false;
    c->nmi_blocked = false;
    while (vmm_platform_take_nmi(&v->plat, c->index)) {
        /* NMIs sent while it waited for SIPI are lost, as on hardware */
    }
    if (c->started) {
        vmm_resume(v, c);           /* the exit held since INIT, answered with every group */
        return;
    }
    /* The first start: the TSC as the BSP's (INIT leaves a started CPU's TSC alone). */
    c->st.tsc_offset = v->cpu[0].st.tsc_offset;
    c->st.mtd |= HV_MTD_TSC;
    uint64_t err = vmm_vcpu_write(c->vcpu_cap, &c->st);
    if (err == HV_OK)
        err = vmm_invoke(c->tcb_cap, HV_INV_TCB_RESUME, 0, NULL, NULL);
    if (err != HV_OK) {
        vmm_log(v, "vcpu %u: cannot start it (error %lu)", c->index, (unsigned long)err);
        vmm_stop_vm(v, VMM_STOP_FAULT, 0, "an AP could not be started");
        return;
    }
    c->started = true;
}

bool vmm_smp_events(struct vmm *v, struct vmm_vcpu *c)
{
    if (c->started && !c->held)
        return false;               /* running: vmm_smp_running decides */
    if (vmm_platform_take_init(&v->plat, c->index)) {
        c->wait_sipi = true;        /* the exit stays held; its handler's edits are dropped */
        c->halted = false;
    }
    uint8_t vector;
    if (vmm_platform_take_sipi(&v->plat, c->index, &vector) && c->wait_sipi) {
        v->sipis++;
        vmm_log(v, "vcpu %u: startup IPI, real mode at %04x:0000", c->index, (unsigned)vector << 8);
        start_ap(v, c, vector);
        return true;
    }
    return c->wait_sipi;
}

bool vmm_smp_running(struct vmm *v, struct vmm_vcpu *c)
{
    if (!c->started || c->held)
        return false;
    if (v->plat.lapic[c->index].init_pending) {
        vmm_recall(v, c);           /* INIT is taken at its next exit */
        return true;
    }
    uint8_t vector;
    (void)vmm_platform_take_sipi(&v->plat, c->index, &vector);   /* to a running CPU: ignored */
    return false;
}
