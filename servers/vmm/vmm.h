/* SPDX-License-Identifier: MIT */
/* vmm: one VM's monitor — its capabilities, vCPUs, devices and the exit handlers the event loop dispatches to. */
#ifndef VMM_VMM_H
#define VMM_VMM_H

#include <stdbool.h>
#include <stdint.h>

#include "e820.h"
#include "gmem.h"
#include "hv/vcpu.h"
#include "hv/vm_abi.h"
#include "platform.h"

/*
 * The vmm's own CSpace slots (manifest, see main.c for the whole list). The VM's slots
 * (exit endpoint, per-vCPU VCPU/TCB/Reply) start at info->vm_control_slot (vm_abi.h).
 */
#define VMM_SLOT_NTFN 16u               /* notification (badge VMM_BIT_CONSOLE): timer + console IRQ */
#define VMM_SLOT_CONSOLE_IRQ 17u        /* optional: IRQ handler of the real COM1 (irq { line: 4 }) */

/* Bits of the notification word. */
#define VMM_BIT_CONSOLE 1u              /* the console IRQ (the notification cap's badge) */
#define VMM_BIT_TIMER 2u                /* the core's timer (SET_TIMER bits) */

#define VMM_MAX_VCPUS 8u
_Static_assert(VMM_MAX_VCPUS <= HV_VM_MAX_VCPUS && VMM_MAX_VCPUS <= 8u, "platform has 8 LAPICs");

/* Why the VM stopped (the vmm's exit code). */
enum vmm_stop {
    VMM_RUNNING = -1,
    VMM_STOP_POWEROFF = 0,          /* ACPI S5: a clean end */
    VMM_STOP_FAULT = 1,             /* triple fault, invalid state, an exit nobody handles */
    VMM_STOP_RESET = 2,             /* a reset loop: too many resets in quick succession */
    VMM_STOP_SETUP = 3,             /* the VM could not be set up */
};

/* The last exits of a vCPU, for the report when its VM stops. */
#define VMM_TRACE 8u
struct vmm_trace {
    uint64_t reason, qual, rip, rflags;
    uint64_t exit_intr_state, exit_inject;  /* as the exit reported them */
    uint64_t intr_state, inject;            /* as answered */
};

struct vmm_vcpu {
    unsigned index;
    uint64_t vcpu_cap, tcb_cap;
    uint64_t reply;                 /* the Reply object holding its exit (held) */
    bool held;                      /* an exit received and not yet answered */
    bool halted;                    /* held in HLT until an interrupt */
    bool window;                    /* an interrupt window is requested */
    bool recalled;                  /* a RECALL is on its way */
    bool started;                   /* its thread was resumed (vCPU 0 at setup, an AP at its first SIPI) */
    bool wait_sipi;                 /* wait-for-SIPI: not started, or held since an INIT (smp.c) */
    bool nmi_window;                /* an NMI window is requested */
    bool nmi_blocked;               /* an NMI was injected and no NMI window exit seen since */
    /* The exit being served. */
    uint64_t reason, qual, addr, len;
    struct hv_vcpu_state st;        /* read at the exit, edited, written by the reply (st.mtd) */
    uint64_t exits;
    struct vmm_trace trace[VMM_TRACE];      /* ring, indexed by exits % VMM_TRACE */
};

struct vmm {
    const struct hv_vm_info *info;
    const char *name;
    uint64_t slot_exits;
    unsigned ncpus;
    struct vmm_vcpu cpu[VMM_MAX_VCPUS];
    uint64_t free_replies[VMM_MAX_VCPUS];
    unsigned nfree;

    struct gmem gm;                 /* guest RAM at HV_VM_RAM_VA */
    uint64_t ram_bytes;
    struct e820_map e820;
    struct vmm_platform plat;
    struct vclock clock;
    uint64_t tsc0, tsc_hz;
    uint64_t armed_ns;              /* the deadline the core's timer is set for (VDEV_NO_DEADLINE: none) */
    bool have_timer, have_console_irq;

    /* The boot image (load.c): what setup and every reset put into guest RAM. */
    char cmdline[HV_VM_CMDLINE_MAX + 64];  /* + " tsc_early_khz=<20 digits> tsc=reliable" */
    struct hv_vcpu_state boot;      /* vCPU 0's entry state */

    /* Reset (reset.c). */
    bool resetting;                 /* waiting for the started vCPUs to be held */
    unsigned resets;                /* since the VM was set up */
    unsigned quick_resets;          /* in a row, each within VMM_RESET_QUICK_NS of the last */
    uint64_t last_reset_ns;

    enum vmm_stop stop;
    uint64_t unclaimed_mmio;        /* counters for the report */
    uint64_t sipis, nmis;
    uint64_t exits_by_reason[HV_EXIT_REASON_COUNT];
};

/* load.c: ACPI tables and the Linux kernel, initrd, command line and boot_params into
 * guest RAM, vCPU 0's entry state into v->boot; at setup (log: say where) and at each reset.
 * Returns VMM_RUNNING or VMM_STOP_SETUP (logged). */
int vmm_load_guest(struct vmm *v, bool log);

/* reset.c: a PC's reset line. A reset that comes within VMM_RESET_QUICK_NS of VM time of
 * the previous one is "quick"; VMM_RESET_QUICK_MAX quick ones in a row stop the VM
 * (VMM_STOP_RESET) instead of rebooting it forever. */
#define VMM_RESET_QUICK_NS (10ull * 1000000000ull)
#define VMM_RESET_QUICK_MAX 8u
/*
 * Reset the VM (source names the reset line for the log). Every started vCPU that runs is
 * recalled; once all are held, the devices go back to power-on state (vmm_platform_reset),
 * the boot image is loaded again (vmm_load_guest) and vCPU 0's held exit is answered with
 * the entry state; the other vCPUs stay held, not started, until a SIPI starts them.
 */
void vmm_reset_vm(struct vmm *v, const char *source);
/* An exit of vCPU c arrived while v->resetting: keep it held, and finish the reset once no
 * started vCPU runs. */
void vmm_reset_exit(struct vmm *v, struct vmm_vcpu *c);
/* The platform's whole-VM events: S5 stops the VM, a reset line resets it. */
void vmm_vm_events(struct vmm *v);

/* core.c: the core's invocations (wrappers over hv_call). */
uint64_t vmm_invoke(uint64_t cap, uint64_t label, unsigned n, const uint64_t *args, uint64_t *out);
uint64_t vmm_vcpu_write(uint64_t vcpu, const struct hv_vcpu_state *s);
uint64_t vmm_vcpu_read(uint64_t vcpu, uint64_t mtd, struct hv_vcpu_state *s);
/* VCPU_READ_VEC / WRITE_VEC: the guest's XMM0-15 and MXCSR (through the IPC buffer). */
uint64_t vmm_vcpu_vec_read(uint64_t vcpu, struct hv_vcpu_vec *s);
uint64_t vmm_vcpu_vec_write(uint64_t vcpu, const struct hv_vcpu_vec *s);
/* Answer the exit held in c->reply with c->st (groups in c->st.mtd) and resume the vCPU. */
void vmm_resume(struct vmm *v, struct vmm_vcpu *c);
uint64_t vmm_rdtsc(void);

/* console.c: guest UART output to the appliance console, console input from the real COM1. */
void vmm_console_out(void *ctx, uint8_t byte);
void vmm_console_flush(void);
void vmm_console_init(struct vmm *v);
void vmm_console_input(struct vmm *v);
/* printf to the console as "vmm: vm <name>: ..." (flushes the guest's partial line first). */
void vmm_log(const struct vmm *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* intr.c: VM time, the core's timer, interrupt delivery. */
void vmm_clock_init(struct vmm *v);
uint64_t vmm_now_ns(void *ctx);
/* Run the device timers whose deadlines passed. */
void vmm_tick(struct vmm *v);
/* Tick the devices whose deadlines passed, deliver to halted vCPUs, recall running ones,
 * take VM events, and re-arm the timer. */
void vmm_service(struct vmm *v);
/* Before resuming c: inject a pending interrupt or ask for a window. */
void vmm_inject_pending(struct vmm *v, struct vmm_vcpu *c);
void vmm_inject_exception(struct vmm_vcpu *c, uint8_t vector, bool has_error, uint32_t error);
/* Bring a running vCPU out of the guest (HV_EXIT_RECALL), once until that exit arrives. */
void vmm_recall(struct vmm *v, struct vmm_vcpu *c);

/* smp.c: INIT and startup IPIs. For a vCPU held at an exit or never started: take its INIT
 * and SIPI; true if it is in wait-for-SIPI or was just started (nothing else to do for it).
 * For a running one: true if it was recalled to take an INIT (a SIPI to it is dropped). */
bool vmm_smp_events(struct vmm *v, struct vmm_vcpu *c);
bool vmm_smp_running(struct vmm *v, struct vmm_vcpu *c);

/* exits.c: one handler per exit reason. Returns true to resume the vCPU now, false to hold it. */
bool vmm_handle_exit(struct vmm *v, struct vmm_vcpu *c);
const char *vmm_exit_name(uint64_t reason);
void vmm_stop_vm(struct vmm *v, enum vmm_stop why, const struct vmm_vcpu *c, const char *what);

/* cpuid.c, msr.c */
void vmm_cpuid(const struct vmm *v, const struct vmm_vcpu *c, uint32_t leaf, uint32_t sub, uint32_t out[4]);
/* false: the MSR does not exist (the caller injects #GP). */
bool vmm_msr_read(struct vmm *v, struct vmm_vcpu *c, uint32_t msr, uint64_t *val);
bool vmm_msr_write(struct vmm *v, struct vmm_vcpu *c, uint32_t msr, uint64_t val);

/* insn.c: run the instruction at the vCPU's RIP through the emulator (MMIO, string I/O, ...).
 * Returns false if the VM must stop. */
bool vmm_emulate(struct vmm *v, struct vmm_vcpu *c);

#endif
