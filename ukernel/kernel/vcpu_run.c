/* SPDX-License-Identifier: MIT */
/* vcpu_run: the loop that enters a guest, takes host interrupts, and turns exits into messages. */
#include "vcpu_run.h"

#include <stddef.h>

#include "../arch/x86_64/cpu.h"
#include "../arch/x86_64/percpu.h"
#include "../arch/x86_64/vcpu_arch.h"
#include "../include/hv/vcpu.h"
#include "../lib/kstring.h"
#include "../object/sched_context.h"
#include "../object/vcpu.h"
#include "assert.h"
#include "fault.h"
#include "fpu.h"
#include "klock.h"
#include "sched.h"
#include "vcpu_shadow.h"

/* The counters' row of an exit reason (a backend never reports one out of range). */
static unsigned counter_index(enum hv_exit_reason r)
{
    return r < HV_EXIT_REASON_COUNT ? (unsigned)r : (unsigned)HV_EXIT_UNHANDLED;
}

/* Stops the thread: its handler gets HV_FAULT_VM_EXIT with the state its mask chose. */
static void report(struct tcb *t, struct vcpu *v, const struct vcpu_exit *e)
{
    uint32_t mtd = e->reason < HV_EXIT_REASON_COUNT ? v->transfer[e->reason] : HV_MTD_ALL;
    v->counters.messages[counter_index(e->reason)]++;
    v->exit = *e;
    memset(&v->exit_state, 0, sizeof(v->exit_state));
    vcpu_state_read(v, mtd, &v->exit_state);
    vcpu_arch_release(&v->arch);    /* the handler may touch the state from any CPU */
    fault_raise_vm_exit(t, e->reason, e->qualification, e->address, e->instruction_length);
}

/* An exit the core produces itself (no guest entry happened). */
static void report_core(struct tcb *t, struct vcpu *v, enum hv_exit_reason reason, uint64_t qual)
{
    struct vcpu_exit e = { reason, qual, 0, 0 };
    report(t, v, &e);
}

void vcpu_run_current(void)
{
    struct percpu *cpu = this_cpu();
    struct tcb *t = cpu->current;
    kassert(t != NULL && t->vcpu != NULL && klock_held_here());
    struct vcpu *v = t->vcpu;
    unsigned me_bit = 1u << cpu->index;

    for (;;) {
        if (v->recall) {
            v->recall = 0;
            report_core(t, v, HV_EXIT_RECALL, 0);
            sched_exit_to_user();
        }
        bool shadow = v->mode == HV_VCPU_MODE_SHADOW;
        if (v->mode != HV_VCPU_MODE_NESTED && !shadow) {
            /* Never enter without a guest-physical space: no NPT would be host memory. */
            report_core(t, v, HV_EXIT_INVALID_STATE, HV_VCPU_INVALID_NO_MEMORY);
            sched_exit_to_user();
        }
        /* Shadow mode: the guest runs on the vTLB's tables; pending flushes happen here. */
        if (shadow)
            vcpu_shadow_before_entry(v, me_bit);
        if (!(v->tlb_clean_cpus & me_bit)) {
            vcpu_arch_flush_tlb(&v->arch);
            v->tlb_clean_cpus |= me_bit;
        }
        fpu_restore(cpu, t);   /* no FXRSTOR when the last exit ended in the core */
        klock_release();

        struct vcpu_exit e;
        vcpu_arch_run(&v->arch, &e);
        /* The backend restored the host's FS base from its own copy (VMLOAD or the VMCS
         * host area): re-read it so the exit path's cache of MSR_FS_BASE stays true. */
        cpu->fs_base = rdmsr(MSR_FS_BASE);

        fpu_save(cpu, t);
        /* The interrupt that ended the run (or one that came meanwhile) is taken here. */
        irq_enable();
        __asm__ volatile("nop" ::: "memory");
        irq_disable();
        klock_acquire();
        if (cpu->current != t)
            sched_exit_to_user();   /* evicted (being destroyed, or its memory changed): hands off */
        unsigned row = counter_index(e.reason);
        v->counters.exits[row]++;   /* not evicted: the vCPU is still bound to this thread */
        sched_account();
        if (t->state != THREAD_RUNNABLE)
            sched_exit_to_user();   /* stopped meanwhile: the guest redoes the exiting instruction */
        /* Shadow mode: #PF, CR and INVLPG exits (and EFER) end here, no message. */
        if (e.reason != HV_EXIT_NONE && shadow && vcpu_shadow_exit(v, &e)) {
            v->counters.resolved[row]++;
            e.reason = HV_EXIT_NONE;
        }
        if (e.reason != HV_EXIT_NONE) {
            report(t, v, &e);
            sched_exit_to_user();
        }
        if (cpu->need_resched || t->sc == NULL || t->sc->on_throttle_list) {
            vcpu_arch_release(&v->arch);
            sched_exit_to_user();
        }
    }
}
