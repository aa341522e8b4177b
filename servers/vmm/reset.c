/* SPDX-License-Identifier: MIT */
/* reset: the VM's reset line (i8042 0xfe, port 0xcf9, the FADT's reset register) — devices to power-on state, the boot image reloaded, vCPU 0 at the kernel entry again, the other vCPUs back to waiting for INIT/SIPI. */
#include "hv/errors.h"
#include "hv/objects.h"
#include "vmm.h"

/*
 * Like a PC's RESET#: every CPU and every device starts over, memory is not cleared.
 * The vmm cannot change a vCPU's state while it runs, so a reset is two steps:
 *   1. vmm_reset_vm: count and log it, set v->resetting and RECALL every started vCPU
 *      that is not held (an exit of this VM's vCPUs arriving now is held, not handled:
 *      vmm_reset_exit);
 *   2. finish, once no started vCPU runs: vmm_platform_reset, vmm_load_guest, vCPU 0's
 *      held exit answered with the entry state (all groups but the TSC); every other vCPU
 *      stays held (its exit unanswered) or, never started, suspended, as an AP after RESET#
 *      waits for INIT/SIPI: the SIPI answers that held exit with the real-mode start state.
 * With one vCPU the reset finishes at once (the vCPU that wrote the reset port is held).
 * vCPU 0's XMM0-15 and MXCSR are reset too (VCPU_WRITE_VEC); VM time, the TSC and the x87
 * registers run on (no interface reaches them); the RTC keeps its time and CMOS NVRAM
 * (battery-backed on a PC).
 */

#define MXCSR_RESET 0x1f80u

static bool all_held(const struct vmm *v)
{
    for (unsigned i = 0; i < v->ncpus; i++)
        if (v->cpu[i].started && !v->cpu[i].held)
            return false;
    return true;
}

static void finish(struct vmm *v)
{
    vmm_platform_reset(&v->plat);
    if (vmm_load_guest(v, false) != VMM_RUNNING) {
        vmm_stop_vm(v, VMM_STOP_SETUP, 0, "the boot image cannot be loaded again after a reset");
        return;
    }
    v->resetting = false;
    for (unsigned i = 0; i < v->ncpus; i++) {
        struct vmm_vcpu *c = &v->cpu[i];
        c->halted = false;
        c->window = false;
        c->nmi_window = false;
        c->nmi_blocked = false;
        /* An AP stays held (its exit unanswered) or, never started, suspended: as after
         * RESET#, it is in wait-for-SIPI (smp.c), and the SIPI answers that exit with its
         * start state. */
        if (i != 0) {
            c->wait_sipi = true;
            continue;
        }
        if (!c->held)
            continue;
        c->st = v->boot;
        /* SSE as after RESET#: XMM0-15 zero, MXCSR 0x1f80 (the x87 part is not reachable). */
        struct hv_vcpu_vec vec = { .mxcsr = MXCSR_RESET };
        uint64_t err = vmm_vcpu_vec_write(c->vcpu_cap, &vec);
        if (err != HV_OK)
            vmm_log(v, "vcpu 0: its SSE registers could not be reset (error %lu)", (unsigned long)err);
        vmm_resume(v, c);
    }
}

void vmm_reset_vm(struct vmm *v, const char *source)
{
    if (v->stop != VMM_RUNNING || v->resetting)
        return;     /* a second reset line while one is in progress is the same reset */
    uint64_t now = vmm_now_ns(v);
    v->quick_resets = v->resets != 0 && now - v->last_reset_ns < VMM_RESET_QUICK_NS ? v->quick_resets + 1u : 1u;
    v->last_reset_ns = now;
    v->resets++;
    vmm_log(v, "reset %u by %s", v->resets, source);
    if (v->quick_resets > VMM_RESET_QUICK_MAX) {
        vmm_stop_vm(v, VMM_STOP_RESET, 0, "reset loop: too many resets in quick succession, the VM stops");
        return;
    }
    v->resetting = true;
    for (unsigned i = 0; i < v->ncpus; i++) {
        struct vmm_vcpu *c = &v->cpu[i];
        if (!c->started || c->held || c->recalled)
            continue;
        if (vmm_invoke(c->vcpu_cap, HV_INV_VCPU_RECALL, 0, 0, 0) == HV_OK)
            c->recalled = true;
    }
    if (all_held(v))
        finish(v);
}

void vmm_reset_exit(struct vmm *v, struct vmm_vcpu *c)
{
    if (c->reason == HV_EXIT_RECALL)
        c->recalled = false;
    if (all_held(v))
        finish(v);
}

void vmm_vm_events(struct vmm *v)
{
    uint32_t ev = vmm_platform_take_events(&v->plat);
    if ((ev & VDEV_EVENT_POWEROFF) != 0) {
        vmm_stop_vm(v, VMM_STOP_POWEROFF, 0, "powered off");
        return;
    }
    if ((ev & VDEV_EVENT_RESET_KBC) != 0)
        vmm_reset_vm(v, "the keyboard controller (port 0x64)");
    else if ((ev & VDEV_EVENT_RESET_RCR) != 0)
        vmm_reset_vm(v, "the reset control register (port 0xcf9)");
}
