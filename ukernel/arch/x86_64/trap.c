/* SPDX-License-Identifier: MIT */
/* trap: IDT construction, exception reporting and interrupt routing. */
#include "trap.h"

#include "../../kernel/config.h"
#include "../../kernel/console.h"
#include "../../kernel/platform.h"
#include "../../kernel/syscall.h"
#include "cpu.h"
#include "extable.h"
#include "gdt.h"

#define IDT_ENTRIES 256
#define IDT_TYPE_INTERRUPT_GATE 0x8e    /* present, DPL 0, 64-bit interrupt gate */
#define IDT_TYPE_TRAP_GATE_DPL3 0xef    /* for int3 from user mode later */

struct __attribute__((packed)) idt_gate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t offset_mid;
    uint32_t offset_high;
    uint32_t reserved;
};
_Static_assert(sizeof(struct idt_gate) == 16, "64-bit IDT gate (SDM 6.14.1)");

extern const uint64_t trap_stub_table[IDT_ENTRIES];
extern const struct extable_entry __ex_table_start[];
extern const struct extable_entry __ex_table_end[];

static struct idt_gate idt[IDT_ENTRIES] __attribute__((aligned(16)));
static irq_handler_fn irq_handlers[IDT_ENTRIES];
static struct fault_record last_fault;
/* Host NMIs each CPU took (written only by that CPU's NMI handler, read by any). */
static volatile uint64_t nmi_counts[CONFIG_MAX_CPUS];
/* Set once, by the CPU that stops the others (a panic): every NMI after it parks its CPU. */
static volatile uint32_t nmi_stop_requested;
static volatile uint32_t nmi_parked[CONFIG_MAX_CPUS];
volatile uint64_t probe_exec_target;

static void idt_set(unsigned vector, uint64_t handler, uint8_t ist, uint8_t type)
{
    struct idt_gate *g = &idt[vector];
    g->offset_low = (uint16_t)handler;
    g->selector = GDT_KERNEL_CS;
    g->ist = ist;
    g->type_attr = type;
    g->offset_mid = (uint16_t)(handler >> 16);
    g->offset_high = (uint32_t)(handler >> 32);
    g->reserved = 0;
}

void idt_init(void)
{
    for (unsigned v = 0; v < IDT_ENTRIES; v++)
        idt_set(v, trap_stub_table[v], 0, IDT_TYPE_INTERRUPT_GATE);
    idt[EXC_DF].ist = IST_DOUBLE_FAULT;
    idt[EXC_NMI].ist = IST_NMI;
    idt[EXC_MC].ist = IST_MACHINE_CHECK;
}

void idt_load(void)
{
    struct descriptor_table_ptr ptr = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };
    __asm__ volatile("lidt %0" : : "m"(ptr));
}

void trap_set_irq_handler(uint8_t vector, irq_handler_fn fn)
{
    irq_handlers[vector] = fn;
}

const struct fault_record *trap_last_fault(void)
{
    return &last_fault;
}

uint64_t extable_lookup(uint64_t rip)
{
    /* Bounds are linker symbols; count entries by address so no cross-object compare. */
    size_t n = ((uintptr_t)__ex_table_end - (uintptr_t)__ex_table_start) / sizeof(struct extable_entry);
    for (size_t i = 0; i < n; i++) {
        if (__ex_table_start[i].fault_rip == rip)
            return __ex_table_start[i].fixup_rip;
    }
    return 0;
}

const char *exception_name(uint64_t vector)
{
    static const char *const names[32] = {
        [EXC_DE] = "#DE divide error", [EXC_DB] = "#DB debug", [EXC_NMI] = "NMI",
        [EXC_BP] = "#BP breakpoint", [EXC_OF] = "#OF overflow", [EXC_BR] = "#BR bound range",
        [EXC_UD] = "#UD invalid opcode", [EXC_NM] = "#NM device not available",
        [EXC_DF] = "#DF double fault", [EXC_TS] = "#TS invalid TSS",
        [EXC_NP] = "#NP segment not present", [EXC_SS] = "#SS stack fault",
        [EXC_GP] = "#GP general protection", [EXC_PF] = "#PF page fault",
        [EXC_MF] = "#MF x87 error", [EXC_AC] = "#AC alignment check",
        [EXC_MC] = "#MC machine check", [EXC_XM] = "#XM SIMD error",
        [EXC_VE] = "#VE virtualization exception", [EXC_CP] = "#CP control protection",
        [EXC_HV] = "#HV hypervisor injection", [EXC_VC] = "#VC VMM communication",
        [EXC_SX] = "#SX security exception",
    };
    if (vector < 32 && names[vector] != NULL)
        return names[vector];
    return vector < 32 ? "reserved exception" : "interrupt";
}

void trap_dump(const struct trap_frame *f)
{
    kprintf("EXCEPTION: %s (vector %lu) error=0x%lx at RIP=0x%016lx\n",
            exception_name(f->vector), f->vector, f->error_code, f->rip);
    kprintf("  RAX=%016lx RBX=%016lx RCX=%016lx RDX=%016lx\n", f->rax, f->rbx, f->rcx, f->rdx);
    kprintf("  RSI=%016lx RDI=%016lx RBP=%016lx RSP=%016lx\n", f->rsi, f->rdi, f->rbp, f->rsp);
    kprintf("  R8 =%016lx R9 =%016lx R10=%016lx R11=%016lx\n", f->r8, f->r9, f->r10, f->r11);
    kprintf("  R12=%016lx R13=%016lx R14=%016lx R15=%016lx\n", f->r12, f->r13, f->r14, f->r15);
    kprintf("  CS=%04lx SS=%04lx RFLAGS=%016lx\n", f->cs, f->ss, f->rflags);
    kprintf("  CR0=%016lx CR2=0x%016lx CR3=%016lx CR4=%016lx\n",
            read_cr0(), read_cr2(), read_cr3(), read_cr4());
    if (f->vector == EXC_PF) {
        kprintf("  page fault: %s %s access, %s mode%s\n",
                (f->error_code & PF_ERR_PRESENT) ? "protection violation on" : "not-present",
                (f->error_code & PF_ERR_FETCH) ? "fetch" :
                    (f->error_code & PF_ERR_WRITE) ? "write" : "read",
                (f->error_code & PF_ERR_USER) ? "user" : "supervisor",
                (f->error_code & PF_ERR_RSVD) ? ", reserved bit set" : "");
    }
}

/* An expected fault: record it and resume where the probe said. */
static bool try_recover(struct trap_frame *f)
{
    uint64_t fixup = extable_lookup(f->rip);
    bool exec_probe = probe_exec_target != 0 && f->rip == probe_exec_target &&
                      f->vector == EXC_PF && (f->error_code & PF_ERR_FETCH);
    if (fixup == 0 && !exec_probe)
        return false;

    last_fault.vector = f->vector;
    last_fault.error_code = f->error_code;
    last_fault.rip = f->rip;
    last_fault.cr2 = f->vector == EXC_PF ? read_cr2() : 0;
    last_fault.count++;
    if (exec_probe) {
        /* Return from the call into the non-executable page, reporting a fault. */
        f->rip = *(const uint64_t *)(uintptr_t)f->rsp;
        f->rsp += 8;
        f->rax = 1;
    } else {
        f->rip = fixup;
    }
    return true;
}

void (*trap_timer_hook)(void);

uint64_t trap_nmi_count(unsigned cpu)
{
    return cpu < CONFIG_MAX_CPUS ? nmi_counts[cpu] : 0;
}

void trap_nmi_request_stop(void)
{
    nmi_stop_requested = 1;
    __asm__ volatile("mfence" ::: "memory");    /* seen before the NMIs that follow */
}

bool trap_nmi_parked(unsigned cpu)
{
    return cpu < CONFIG_MAX_CPUS && nmi_parked[cpu] != 0;
}

/*
 * A host NMI: counted on its CPU and otherwise ignored, unless a CPU asked the
 * others to stop: then this CPU parks for good (docs/architecture.md, traps). It
 * may interrupt anything, the kernel lock holder and the console included, and may
 * find the user's GS base (between SWAPGS and IRETQ/SYSRET): so it takes no lock,
 * prints nothing and finds its CPU from its IST stack, not from this_cpu().
 */
static void handle_nmi(const struct trap_frame *f)
{
    int cpu = gdt_ist_owner(IST_NMI, (uint64_t)(uintptr_t)f);
    if (cpu < 0)
        return;
    nmi_counts[cpu] = nmi_counts[cpu] + 1;
    if (nmi_stop_requested) {
        nmi_parked[cpu] = 1;
        /* No IRET: NMIs stay blocked, IF is 0 (interrupt gate): nothing wakes it. */
        for (;;)
            __asm__ volatile("cli; hlt" ::: "memory");
    }
}

void trap_handle_interrupt(struct trap_frame *f)
{
    irq_handler_fn fn = irq_handlers[f->vector];
    if (fn != NULL)
        fn(f);
    else if (f->vector != VECTOR_SPURIOUS)
        kprintf("core: unexpected interrupt vector %lu ignored\n", f->vector);
    if (f->vector == VECTOR_LAPIC_TIMER && trap_timer_hook != NULL)
        trap_timer_hook();
}

void trap_dispatch(struct trap_frame *f)
{
    if (f->vector == EXC_NMI) {
        handle_nmi(f);      /* from the kernel, a user thread or (int $2) a guest's exit */
        return;
    }
    if (f->cs & 3)
        syscall_user_trap(f);  /* from user mode: becomes a fault message or a reschedule */
    if (f->vector < 32) {
        if (try_recover(f))
            return;
        trap_dump(f);
        panic("unhandled %s in the core", exception_name(f->vector));
    }
    trap_handle_interrupt(f);
}
