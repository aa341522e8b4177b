/* SPDX-License-Identifier: MIT */
/* smp: discovering the CPUs (ACPI MADT), starting the application processors, cross-CPU calls. */
#ifndef HV_ARCH_SMP_H
#define HV_ARCH_SMP_H

/*
 * The parameter block at ap_trampoline_params, written by the boot CPU before each
 * start-up IPI and read by ap_trampoline.S (offsets shared with the assembly).
 */
#define AP_PARAM_CR3 0x00           /* the core's PML4 (below 4 GiB: loaded in 32-bit mode) */
#define AP_PARAM_CR4 0x08
#define AP_PARAM_CR0 0x10           /* with PG: the write that turns paging on */
#define AP_PARAM_EFER 0x18
#define AP_PARAM_STACK_TOP 0x20     /* higher-half stack for the C entry */
#define AP_PARAM_ENTRY 0x28         /* ap_main, higher half */
#define AP_PARAM_CPU_INDEX 0x30     /* first argument of ap_main */
#define AP_PARAM_STARTED 0x38       /* set to AP_STARTED_MAGIC by the first real-mode instructions */
#define AP_PARAMS_SIZE 0x40
#define AP_STARTED_MAGIC 0x53495049 /* "SIPI" */

/* Vector of the cross-CPU call IPI (below the timer's 0xef, above the PIC's 0x20-0x2f). */
#define VECTOR_SMP_CALL 0xee

#ifndef __ASSEMBLER__

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../kernel/bootinfo.h"
#include "percpu.h"

struct ap_boot_params {
    uint64_t cr3;
    uint64_t cr4;
    uint64_t cr0;
    uint64_t efer;
    uint64_t stack_top;
    uint64_t entry;
    uint64_t cpu_index;
    volatile uint32_t started;
    uint32_t reserved;
};
_Static_assert(offsetof(struct ap_boot_params, cr3) == AP_PARAM_CR3, "ap_trampoline.S layout");
_Static_assert(offsetof(struct ap_boot_params, cr4) == AP_PARAM_CR4, "ap_trampoline.S layout");
_Static_assert(offsetof(struct ap_boot_params, cr0) == AP_PARAM_CR0, "ap_trampoline.S layout");
_Static_assert(offsetof(struct ap_boot_params, efer) == AP_PARAM_EFER, "ap_trampoline.S layout");
_Static_assert(offsetof(struct ap_boot_params, stack_top) == AP_PARAM_STACK_TOP,
               "ap_trampoline.S layout");
_Static_assert(offsetof(struct ap_boot_params, entry) == AP_PARAM_ENTRY, "ap_trampoline.S layout");
_Static_assert(offsetof(struct ap_boot_params, cpu_index) == AP_PARAM_CPU_INDEX,
               "ap_trampoline.S layout");
_Static_assert(offsetof(struct ap_boot_params, started) == AP_PARAM_STARTED,
               "ap_trampoline.S layout");
_Static_assert(sizeof(struct ap_boot_params) == AP_PARAMS_SIZE, "ap_trampoline.S layout");

/*
 * Finds the CPUs in the ACPI MADT and starts every application processor
 * (INIT-SIPI-SIPI through a trampoline below 1 MiB). The boot CPU becomes CPU 0
 * with its per-CPU block installed. A missing or corrupt MADT, or an AP that does
 * not come up in time, is reported and the core continues with the CPUs it has.
 * Call once, on the boot CPU, with its local APIC timer running.
 */
void smp_boot_aps(const struct boot_info *bi);

/* CPUs the MADT listed and the core kept (at most CONFIG_MAX_CPUS); 1 without a MADT. */
unsigned smp_cpu_count(void);
/* APIC ID of CPU `cpu` as the MADT gives it. */
uint32_t smp_cpu_apic_id(unsigned cpu);
bool smp_cpu_online(unsigned cpu);
unsigned smp_online_count(void);
/* Physical page the trampoline used (0 if none was needed); unmapped after bring-up. */
uint64_t smp_trampoline_page(void);

/*
 * Visits each entry of the MADT smp_boot_aps() found and validated (every entry's
 * header and length checked against the table): fn(ctx, type, entry, length), with
 * `entry` at the entry's type byte. Returns the entries visited; 0 without a trusted MADT.
 */
typedef void (*smp_madt_entry_fn)(void *ctx, uint8_t type, const uint8_t *entry, uint8_t length);
unsigned smp_madt_foreach(smp_madt_entry_fn fn, void *ctx);

/*
 * Cross-CPU calls through the target's mailbox: smp_call_post() hands fn(arg) to
 * online CPU `cpu`, which runs it in its call-IPI handler (interrupts off), and
 * returns at once; smp_call_wait() waits (bounded) until it has run.
 * smp_call_on_cpu() does both (and runs fn directly when `cpu` is the caller).
 * Each returns false if the CPU is not online, its mailbox is busy, or the call
 * did not finish within the timeout.
 */
bool smp_call_post(unsigned cpu, percpu_call_fn fn, void *arg);
bool smp_call_wait(unsigned cpu);
bool smp_call_on_cpu(unsigned cpu, percpu_call_fn fn, void *arg);
/* Runs a call posted to this CPU now: for loops that spin with interrupts off (the
 * kernel lock), so a caller holding the lock is answered without its IPI. */
void smp_call_poll(void);

/*
 * Stops every other online CPU for good, whatever it is doing (interrupts off, a
 * guest running): an NMI to each, whose handler parks it (trap_nmi_request_stop()).
 * For panic(): the first CPU to call it is the one left running; a CPU that calls
 * it after another did waits there for its NMI. Waits a bounded time for the
 * targets to park; *others = CPUs sent an NMI, returns how many parked. With one
 * CPU online it does nothing (and touches no local APIC: safe before it is mapped).
 */
unsigned smp_stop_others(unsigned *others);

/* The C entry of each application processor, reached from ap_trampoline.S. */
__attribute__((noreturn)) void ap_main(unsigned cpu);

#endif /* __ASSEMBLER__ */

#endif
