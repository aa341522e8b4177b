/* SPDX-License-Identifier: MIT */
/* vmm: the per-VM monitor server — sets up one VM from what init gives, then serves its exits in a single-threaded event loop. */

/*
 * One vmm per VM (manifest: the server holding `vm_control { vm: X }`). MINIX-style:
 * init (set the VM up), then a receive loop that dispatches on the exit reason
 * (exits.c). It creates no objects (servers have no CNode or VSpace caps): it works
 * with exactly these capabilities.
 *
 * Capabilities the vmm expects (slot: what; manifest.default.txtpb gives them):
 *   1  HVRT_SLOT_TCB        its own TCB (the notification below is bound to it)
 *   2  HVRT_SLOT_CONSOLE    the real UART of the VM's console (the server's `console`:
 *                           COM1 0x3f8..0x3ff, the appliance console, by default; a port
 *                           of its own, e.g. COM2, keeps two VMs' lines apart): guest
 *                           console output and the vmm's own lines, input reads
 *   3  HVRT_SLOT_EXIT_NTFN  init's exit notification (hvrt)
 *   16 notification { badge: 1 }   timer (bit VMM_BIT_TIMER via SET_TIMER) and console
 *                                  IRQ (bit VMM_BIT_CONSOLE = the badge)
 *   17 irq { line: 4 }      optional: that UART's IRQ (COM1/COM3: 4, COM2/COM4: 3) for console input; without
 *                           it the VM's console is output only
 *   S  vm_control { vm: X } S = info->vm_control_slot; S .. S + HV_VM_SLOTS(vcpus) - 1:
 *                           the exit endpoint, then per vCPU its VCPU, TCB and Reply
 * and in its VSpace (vm_abi.h): the VM info page, guest RAM, the kernel and initrd.
 *
 * The loop: vmm_service (device deadlines, interrupts for halted or running vCPUs,
 * VM events, the timer re-armed), then one receive on the exit endpoint that returns
 * either a VM exit (badge = vCPU + 1) or the bound notification (timer, console IRQ).
 * An exit is handled and answered at once, except HLT without a pending interrupt:
 * its Reply object keeps it until vmm_service injects one. Several vCPUs: their exits
 * queue on the one endpoint; each receive takes a free Reply object (free_replies), the
 * answer gives it back, so held vCPUs (HLT, an AP waiting for SIPI) keep theirs. Only
 * vCPU 0 starts here; APs start at the guest's INIT/SIPI (smp.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv/errors.h"
#include "hv/hvrt.h"
#include "hv/ipc_buffer.h"
#include "hv/objects.h"
#include "hv/syscall.h"
#include "vmm.h"

static struct vmm vm;

static int setup_fail(struct vmm *v, const char *what, uint64_t err)
{
    vmm_log(v, "setup failed: %s (error %lu)", what, (unsigned long)err);
    return VMM_STOP_SETUP;
}

static int setup(struct vmm *v)
{
    const struct hv_vm_info *info = (const struct hv_vm_info *)(uintptr_t)HV_VM_INFO_VA;
    v->info = info;
    v->name = "?";
    v->stop = VMM_RUNNING;
    if (info->magic != HV_VM_INFO_MAGIC || info->version != HV_VM_INFO_VERSION)
        return setup_fail(v, "no VM info page", 0);
    v->name = info->name;
    if (info->vcpus == 0 || info->vcpus > VMM_MAX_VCPUS)
        return setup_fail(v, "vCPU count not supported", info->vcpus);
    v->ncpus = info->vcpus;
    v->slot_exits = info->vm_control_slot + HV_VM_SLOT_EXITS;
    v->ram_bytes = info->ram_bytes;
    v->gm = (struct gmem){ 1, { { 0, info->ram_bytes, (uint8_t *)(uintptr_t)HV_VM_RAM_VA } } };
    for (unsigned i = 0; i < v->ncpus; i++) {
        struct vmm_vcpu *c = &v->cpu[i];
        c->index = i;
        c->vcpu_cap = info->vm_control_slot + HV_VM_SLOT_VCPU(i);
        c->tcb_cap = info->vm_control_slot + HV_VM_SLOT_TCB(i);
        c->wait_sipi = i != 0;      /* APs wait for INIT/SIPI from the guest (smp.c) */
        v->free_replies[v->nfree++] = info->vm_control_slot + HV_VM_SLOT_REPLY(i);
    }

    vmm_clock_init(v);
    struct vmm_platform_config pc = {
        .cpus = v->ncpus, .clock = &v->clock, .wall_time = 0, .ram = v->ram_bytes,
        .console = vmm_console_out, .console_ctx = v,
    };
    if (vmm_platform_init(&v->plat, &pc) != VMM_PLATFORM_OK)
        return setup_fail(v, "platform", 0);
    if (e820_build(&v->e820, v->ram_bytes) != E820_OK)
        return setup_fail(v, "e820 map", 0);
    int rc = vmm_load_guest(v, true);
    if (rc != VMM_RUNNING)
        return rc;

    uint64_t err;
    for (unsigned i = 0; i < v->ncpus; i++) {
        for (uint64_t r = 1; r < HV_EXIT_REASON_COUNT; r++) {
            uint64_t args[2] = { r, HV_MTD_ALL };
            if ((err = vmm_invoke(v->cpu[i].vcpu_cap, HV_INV_VCPU_SET_TRANSFER, 2, args, NULL)) != HV_OK)
                return setup_fail(v, "VCPU_SET_TRANSFER", err);
        }
    }
    uint64_t bind[1] = { VMM_SLOT_NTFN };
    if ((err = vmm_invoke(HVRT_SLOT_TCB, HV_INV_TCB_BIND_NOTIFICATION, 1, bind, NULL)) != HV_OK)
        return setup_fail(v, "binding the notification", err);
    vmm_console_init(v);
    if (!v->have_timer)
        vmm_log(v, "the core has no timer: HLT does not sleep (polling)");

    /* vCPU 0 starts at the kernel's 64-bit entry. */
    if ((err = vmm_vcpu_write(v->cpu[0].vcpu_cap, &v->boot)) != HV_OK)
        return setup_fail(v, "VCPU_WRITE_STATE", err);
    if ((err = vmm_invoke(v->cpu[0].tcb_cap, HV_INV_TCB_RESUME, 0, NULL, NULL)) != HV_OK)
        return setup_fail(v, "starting vCPU 0", err);
    v->cpu[0].started = true;
    return VMM_RUNNING;
}

static void on_exit_message(struct vmm *v, const struct hv_msg *m, uint64_t reply)
{
    uint64_t i = m->badge - 1u;
    if (m->badge == 0 || i >= v->ncpus) {
        vmm_log(v, "exit with unknown badge %lu ignored", (unsigned long)m->badge);
        return;
    }
    struct vmm_vcpu *c = &v->cpu[i];
    const struct hv_ipc_buffer *ipc = (const struct hv_ipc_buffer *)(uintptr_t)hvrt_ipc_va;
    memcpy(&c->st, &ipc->msg[HV_VCPU_STATE_WORD], sizeof(c->st));
    c->reason = m->w[0];
    c->qual = m->w[1];
    c->addr = m->w[2];
    c->len = m->w[3];
    c->reply = reply;
    c->held = true;
    c->halted = false;
    c->exits++;
    c->trace[c->exits % VMM_TRACE] = (struct vmm_trace){ c->reason, c->qual, c->st.rip, c->st.rflags,
                                                         c->st.intr_state, c->st.inject_event, 0, 0 };
    v->nfree--;
    if (v->resetting) {
        vmm_reset_exit(v, c);       /* held (or, once all are, answered by the reset) */
        return;
    }
    bool resume = vmm_handle_exit(v, c);
    vmm_vm_events(v);               /* a reset port written: this exit is the reset's */
    if (v->stop != VMM_RUNNING || v->resetting || !c->held || vmm_smp_events(v, c))
        return;                     /* stopped, reset, or an INIT keeps it (a SIPI may have restarted it) */
    if (resume) {
        vmm_tick(v);
        vmm_inject_pending(v, c);
        vmm_resume(v, c);
    }
}

static void report(const struct vmm *v)
{
    uint64_t total = 0;
    for (unsigned r = 0; r < HV_EXIT_REASON_COUNT; r++)
        total += v->exits_by_reason[r];
    vmm_log(v, "%lu exits: io %lu, gpa %lu, hlt %lu, msr %lu, cpuid %lu, window %lu, recall %lu",
            (unsigned long)total, (unsigned long)v->exits_by_reason[HV_EXIT_IO],
            (unsigned long)v->exits_by_reason[HV_EXIT_GPA], (unsigned long)v->exits_by_reason[HV_EXIT_HLT],
            (unsigned long)(v->exits_by_reason[HV_EXIT_MSR_READ] + v->exits_by_reason[HV_EXIT_MSR_WRITE]),
            (unsigned long)v->exits_by_reason[HV_EXIT_CPUID], (unsigned long)v->exits_by_reason[HV_EXIT_INTR_WINDOW],
            (unsigned long)v->exits_by_reason[HV_EXIT_RECALL]);
    if (v->resets != 0)
        vmm_log(v, "%u resets", v->resets);
    if (v->ncpus > 1) {
        unsigned up = 0;
        for (unsigned i = 0; i < v->ncpus; i++)
            up += v->cpu[i].started ? 1u : 0u;
        vmm_log(v, "%u of %u vCPUs started, %lu startup IPIs taken, %lu NMIs injected", up, v->ncpus,
                (unsigned long)v->sipis, (unsigned long)v->nmis);
        for (unsigned i = 0; i < v->ncpus; i++)
            vmm_log(v, "  vcpu %u: %lu exits", i, (unsigned long)v->cpu[i].exits);
    }
}

int main(void)
{
    struct vmm *v = &vm;
    int rc = setup(v);
    if (rc != VMM_RUNNING) {
        vmm_console_flush();
        return rc;
    }
    while (v->stop == VMM_RUNNING) {
        vmm_service(v);
        if (v->stop != VMM_RUNNING)
            break;
        uint64_t reply = v->nfree != 0 ? v->free_replies[v->nfree - 1] : 0;
        struct hv_msg m = { 0, 0, { 0, 0, 0, 0 } };
        uint64_t err = hv_recv(v->slot_exits, reply, &m);
        if (err != HV_OK) {
            vmm_log(v, "receive failed (error %lu)", (unsigned long)err);
            vmm_stop_vm(v, VMM_STOP_FAULT, 0, "the exit endpoint is gone");
            break;
        }
        if (hv_tag_label(m.tag) == HV_FAULT_VM_EXIT)
            on_exit_message(v, &m, reply);
        else if ((m.badge & VMM_BIT_CONSOLE) != 0 && v->have_console_irq)
            vmm_console_input(v);
    }
    report(v);
    vmm_console_flush();
    return v->stop;
}
