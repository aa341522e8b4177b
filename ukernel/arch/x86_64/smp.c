/* SPDX-License-Identifier: MIT */
/* smp: ACPI MADT discovery, INIT-SIPI-SIPI start of the application processors, and cross-CPU calls. */
#include "smp.h"

#include "../../kernel/config.h"
#include "../../kernel/console.h"
#include "../../kernel/platform.h"
#include "../../kernel/sched.h"
#include "../../kernel/spinlock.h"
#include "../../kernel/syscall.h"
#include "../../lib/kstring.h"
#include "../../lib/unaligned.h"
#include "cpu.h"
#include "gdt.h"
#include "kernel_paging.h"
#include "lapic.h"
#include "layout.h"
#include "pit.h"
#include "trap.h"
#include "vcpu_arch.h"

/* ---- ACPI (ACPI 6.5 specification, 5.2.5 - 5.2.12) ---- */
#define RSDP_SIGNATURE "RSD PTR "
#define RSDP_SIGNATURE_LENGTH 8
#define RSDP_ALIGN 16
#define RSDP_V1_LENGTH 20           /* the part the first checksum covers */
#define RSDP_V2_LENGTH 36
#define RSDP_MAX_LENGTH 64          /* room for growth; anything longer is corrupt */
#define RSDP_OFF_REVISION 15
#define RSDP_OFF_RSDT 16
#define RSDP_OFF_LENGTH 20
#define RSDP_OFF_XSDT 24
#define RSDP_REVISION_XSDT 2        /* revision 2 and later have the XSDT and a length */

#define BDA_EBDA_SEGMENT 0x40e      /* BIOS data area: real-mode segment of the EBDA */
#define EBDA_SEARCH_LENGTH 1024     /* the RSDP may be in the EBDA's first 1 KiB */
#define EBDA_LOWEST 0x80000         /* an EBDA pointer below this is not plausible */
#define BIOS_AREA_START 0xe0000     /* ... or on a 16-byte boundary in the BIOS ROM area */
#define BIOS_AREA_END 0x100000

#define SDT_HEADER_LENGTH 36
#define SDT_OFF_LENGTH 4
#define SDT_SIGNATURE_LENGTH 4
#define XSDT_ENTRY_SIZE 8
#define RSDT_ENTRY_SIZE 4
/* No real table is this large; a bigger length is a corrupt header, not a reason to read 4 GiB. */
#define ACPI_TABLE_MAX_LENGTH (1u << 20)

#define RSDT_SIGNATURE "RSDT"
#define XSDT_SIGNATURE "XSDT"
#define MADT_SIGNATURE "APIC"
#define MADT_ENTRIES_OFFSET 44      /* header, local APIC address, flags */
#define MADT_ENTRY_HEADER_LENGTH 2  /* type, length */
#define MADT_TYPE_LOCAL_APIC 0
#define MADT_TYPE_LOCAL_X2APIC 9
#define MADT_LOCAL_APIC_LENGTH 8    /* type, length, ACPI id, APIC id, flags (4) */
#define MADT_LOCAL_APIC_OFF_ID 3
#define MADT_LOCAL_APIC_OFF_FLAGS 4
#define MADT_LOCAL_X2APIC_LENGTH 16 /* type, length, reserved (2), x2APIC id (4), flags (4), uid */
#define MADT_LOCAL_X2APIC_OFF_ID 4
#define MADT_LOCAL_X2APIC_OFF_FLAGS 8
#define MADT_LAPIC_ENABLED (1u << 0)
#define XAPIC_MAX_ID 0xfe           /* 0xff is the broadcast destination */

/* ---- start-up (SDM Vol. 3A, 9.4.4.1 "Typical BSP Initialization Sequence") ---- */
#define INIT_SETTLE_US 10000u       /* after INIT, before the first SIPI */
#define SIPI_SETTLE_US 200u         /* after each SIPI */
#define SIPI_ATTEMPTS 2
#define AP_ONLINE_TIMEOUT_US 200000u
#define ONLINE_POLL_CHUNK_US 10000u

/* BIOSes are known to scribble on the first 64 KiB (Linux reserves it), so skip it. */
#define TRAMPOLINE_LOWEST 0x10000ull
#define TRAMPOLINE_LIMIT 0x100000ull    /* the SIPI vector is a page number below 1 MiB */

#define CR4_PCIDE (1ull << 17)      /* may only be set in long mode: the AP sets it later if ever */

/* Bounded wait for a cross-CPU call; generous for emulators, short enough to report. */
#define CALL_TIMEOUT_MS 1000u
#define MS_PER_S 1000u

struct cpu_slot {
    uint32_t apic_id;
    bool online;
};

extern const uint8_t ap_trampoline_start[], ap_trampoline_end[], ap_trampoline_params[];
extern const char boot_stack_top[];

static struct cpu_slot cpus[CONFIG_MAX_CPUS];
static unsigned cpu_count = 1;
static uint64_t trampoline_pa;
static const uint8_t *trusted_madt;     /* set once madt_collect() accepted it */
/* Each AP's kernel stack (the boot CPU keeps the boot stack). */
static uint8_t ap_stacks[CONFIG_MAX_CPUS - 1][KERNEL_STACK_SIZE] __attribute__((aligned(16)));

static bool checksum_ok(const uint8_t *p, size_t length)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < length; i++)
        sum = (uint8_t)(sum + p[i]);
    return sum == 0;
}

/* Physical [pa, pa+length) lies in the physmap (and does not wrap). */
static bool phys_range_mapped(uint64_t pa, uint64_t length)
{
    uint64_t top = kernel_physmap_size();
    return pa < top && length <= top - pa;
}

static const uint8_t *rsdp_scan(uint64_t start, uint64_t end)
{
    for (uint64_t pa = start; pa + RSDP_V1_LENGTH <= end; pa += RSDP_ALIGN) {
        const uint8_t *p = phys_to_virt(pa);
        if (memcmp(p, RSDP_SIGNATURE, RSDP_SIGNATURE_LENGTH) == 0 && checksum_ok(p, RSDP_V1_LENGTH))
            return p;
    }
    return NULL;
}

static const uint8_t *rsdp_find(void)
{
    uint16_t ebda_segment;
    memcpy(&ebda_segment, phys_to_virt(BDA_EBDA_SEGMENT), sizeof(ebda_segment));
    uint64_t ebda = (uint64_t)ebda_segment << 4;
    if (ebda >= EBDA_LOWEST && ebda + EBDA_SEARCH_LENGTH <= BIOS_AREA_START) {
        const uint8_t *p = rsdp_scan(ebda, ebda + EBDA_SEARCH_LENGTH);
        if (p != NULL)
            return p;
    }
    return rsdp_scan(BIOS_AREA_START, BIOS_AREA_END);
}

/* A system description table at `pa` with a sane length and checksum, or NULL (with *why set). */
static const uint8_t *sdt_map(uint64_t pa, const char **why)
{
    if (!phys_range_mapped(pa, SDT_HEADER_LENGTH)) {
        *why = "table header outside physical memory";
        return NULL;
    }
    const uint8_t *t = phys_to_virt(pa);
    uint32_t length = rd32(t + SDT_OFF_LENGTH);
    if (length < SDT_HEADER_LENGTH || length > ACPI_TABLE_MAX_LENGTH ||
        !phys_range_mapped(pa, length)) {
        *why = "table length out of range";
        return NULL;
    }
    if (!checksum_ok(t, length)) {
        *why = "table checksum mismatch";
        return NULL;
    }
    return t;
}

/* The MADT, found through the RSDP and the XSDT (or RSDT), or NULL with the reason. */
static const uint8_t *madt_find(const char **why)
{
    const uint8_t *rsdp = rsdp_find();
    if (rsdp == NULL) {
        *why = "no ACPI RSDP in the EBDA or the BIOS area";
        return NULL;
    }
    uint64_t root_pa = rd32(rsdp + RSDP_OFF_RSDT);
    size_t entry_size = RSDT_ENTRY_SIZE;
    if (rsdp[RSDP_OFF_REVISION] >= RSDP_REVISION_XSDT) {
        uint32_t length = rd32(rsdp + RSDP_OFF_LENGTH);
        if (length < RSDP_V2_LENGTH || length > RSDP_MAX_LENGTH || !checksum_ok(rsdp, length)) {
            *why = "ACPI 2.0 RSDP with a bad length or extended checksum";
            return NULL;
        }
        if (rd64(rsdp + RSDP_OFF_XSDT) != 0) {
            root_pa = rd64(rsdp + RSDP_OFF_XSDT);
            entry_size = XSDT_ENTRY_SIZE;
        }
    }
    const char *root_signature = entry_size == XSDT_ENTRY_SIZE ? XSDT_SIGNATURE : RSDT_SIGNATURE;
    const char *root_why = NULL;
    const uint8_t *root = sdt_map(root_pa, &root_why);
    if (root == NULL) {
        kprintf("smp: the %s at 0x%lx is corrupt: %s\n", root_signature, root_pa, root_why);
        *why = "corrupt ACPI root table";
        return NULL;
    }
    if (memcmp(root, root_signature, SDT_SIGNATURE_LENGTH) != 0) {
        *why = "the RSDP points to a table that is not an RSDT/XSDT";
        return NULL;
    }
    uint32_t root_length = rd32(root + SDT_OFF_LENGTH);
    for (uint32_t off = SDT_HEADER_LENGTH; off + entry_size <= root_length; off += entry_size) {
        uint64_t pa = entry_size == XSDT_ENTRY_SIZE ? rd64(root + off) : rd32(root + off);
        const char *table_why = NULL;
        const uint8_t *t = sdt_map(pa, &table_why);
        if (t != NULL && memcmp(t, MADT_SIGNATURE, SDT_SIGNATURE_LENGTH) == 0)
            return t;
        if (t == NULL && phys_range_mapped(pa, SDT_HEADER_LENGTH) &&
            memcmp(phys_to_virt(pa), MADT_SIGNATURE, SDT_SIGNATURE_LENGTH) == 0) {
            kprintf("smp: the MADT at 0x%lx is corrupt: %s\n", pa, table_why);
            *why = "corrupt MADT";
            return NULL;
        }
    }
    *why = "no MADT (\"APIC\") in the ACPI root table";
    return NULL;
}

static bool cpu_known(uint32_t apic_id)
{
    for (unsigned i = 0; i < cpu_count; i++) {
        if (cpus[i].apic_id == apic_id)
            return true;
    }
    return false;
}

/*
 * Fills cpus[1..] with the enabled processors of the MADT other than the boot
 * CPU (already cpus[0]). Returns NULL, or why the table cannot be trusted.
 */
static const char *madt_collect(const uint8_t *madt)
{
    uint32_t length = rd32(madt + SDT_OFF_LENGTH);
    if (length < MADT_ENTRIES_OFFSET)
        return "MADT shorter than its fixed fields";
    bool boot_cpu_listed = false;
    unsigned dropped = 0;
    uint32_t off = MADT_ENTRIES_OFFSET;
    while (off < length) {
        if (length - off < MADT_ENTRY_HEADER_LENGTH)
            return "MADT entry header runs past the table";
        uint8_t type = madt[off];
        uint8_t entry_length = madt[off + 1];
        if (entry_length < MADT_ENTRY_HEADER_LENGTH || entry_length > length - off)
            return "MADT entry length out of range";
        const uint8_t *e = madt + off;
        off += entry_length;

        uint32_t apic_id;
        uint32_t flags;
        if (type == MADT_TYPE_LOCAL_APIC) {
            if (entry_length < MADT_LOCAL_APIC_LENGTH)
                return "MADT local APIC entry too short";
            apic_id = e[MADT_LOCAL_APIC_OFF_ID];
            flags = rd32(e + MADT_LOCAL_APIC_OFF_FLAGS);
        } else if (type == MADT_TYPE_LOCAL_X2APIC) {
            if (entry_length < MADT_LOCAL_X2APIC_LENGTH)
                return "MADT local x2APIC entry too short";
            apic_id = rd32(e + MADT_LOCAL_X2APIC_OFF_ID);
            flags = rd32(e + MADT_LOCAL_X2APIC_OFF_FLAGS);
        } else {
            continue;
        }
        if (!(flags & MADT_LAPIC_ENABLED))
            continue;   /* absent, or only hot-pluggable later */
        if (apic_id == cpus[0].apic_id) {
            boot_cpu_listed = true;
            continue;
        }
        if (apic_id > XAPIC_MAX_ID) {
            kprintf("smp: APIC id %u needs x2APIC mode; that CPU is not used\n", apic_id);
            continue;
        }
        if (cpu_known(apic_id)) {
            kprintf("smp: MADT lists APIC id %u twice; the second entry is ignored\n", apic_id);
            continue;
        }
        if (cpu_count == CONFIG_MAX_CPUS) {
            dropped++;
            continue;
        }
        cpus[cpu_count++].apic_id = apic_id;
    }
    if (!boot_cpu_listed) {
        cpu_count = 1;
        return "the boot CPU's APIC id is not in the MADT";
    }
    if (dropped > 0)
        kprintf("smp: the MADT lists %u CPUs beyond CONFIG_MAX_CPUS (%u); they are not used\n",
                dropped, CONFIG_MAX_CPUS);
    return NULL;
}

/* ---- the trampoline page ---- */

static bool overlaps(uint64_t a_start, uint64_t a_end, uint64_t b_start, uint64_t b_end)
{
    return a_start < b_end && b_start < a_end;
}

/*
 * A page the memory map says is usable (and no other entry claims) and no boot
 * module occupies. The multiboot2 structure itself was copied into boot_info
 * before this runs, and the image starts at 1 MiB, so neither is in the way.
 */
static bool low_page_free(const struct boot_info *bi, uint64_t pa)
{
    uint64_t end = pa + PAGE_SIZE;
    bool usable = false;
    for (size_t i = 0; i < bi->region_count; i++) {
        const struct mem_region *r = &bi->regions[i];
        if (r->type == MEM_USABLE && pa >= r->base && end <= r->base + r->length)
            usable = true;
        else if (r->type != MEM_USABLE && overlaps(pa, end, r->base, r->base + r->length))
            return false;
    }
    for (size_t i = 0; i < bi->module_count; i++) {
        if (overlaps(pa, end, bi->modules[i].start, bi->modules[i].end))
            return false;
    }
    return usable;
}

/* The highest free page of conventional memory (0 if there is none). */
static uint64_t trampoline_page_find(const struct boot_info *bi)
{
    for (uint64_t pa = TRAMPOLINE_LIMIT - PAGE_SIZE; pa >= TRAMPOLINE_LOWEST; pa -= PAGE_SIZE) {
        if (low_page_free(bi, pa))
            return pa;
    }
    return 0;
}

/* ---- starting one AP ---- */

/* The trampoline's symbols are linker addresses: measured as numbers, not as pointers into one object. */
static size_t trampoline_offset(const uint8_t *symbol)
{
    return (size_t)((uintptr_t)symbol - (uintptr_t)ap_trampoline_start);
}

static struct ap_boot_params *trampoline_params(void)
{
    size_t off = trampoline_offset(ap_trampoline_params);
    return (struct ap_boot_params *)((uint8_t *)phys_to_virt(trampoline_pa) + off);
}

/* Polls *flag against the PIT for up to timeout_us; true once it is set. */
static bool wait_for_flag(const volatile uint32_t *flag, uint32_t timeout_us)
{
    for (uint32_t waited = 0; waited < timeout_us; waited += ONLINE_POLL_CHUNK_US) {
        pit_oneshot_start(ONLINE_POLL_CHUNK_US);
        while (!pit_oneshot_done()) {
            if (atomic_load_acquire_u32(flag) != 0)
                return true;
            cpu_relax();
        }
    }
    return atomic_load_acquire_u32(flag) != 0;
}

static uint64_t ap_stack_top(unsigned cpu)
{
    return (uint64_t)(uintptr_t)(ap_stacks[cpu - 1] + KERNEL_STACK_SIZE);
}

static bool start_ap(unsigned cpu)
{
    uint32_t apic_id = cpus[cpu].apic_id;
    struct ap_boot_params *params = trampoline_params();
    params->stack_top = ap_stack_top(cpu);
    params->cpu_index = cpu;
    params->started = 0;
    struct percpu *block = percpu_of(cpu);
    block->online = 0;
    __asm__ volatile("mfence" ::: "memory");   /* parameters visible before the IPIs */

    bool sent = lapic_send_init(apic_id);
    pit_delay_us(INIT_SETTLE_US);
    for (unsigned i = 0; sent && i < SIPI_ATTEMPTS; i++) {
        /* A second SIPI only for an AP that missed the first; a running one ignores it anyway. */
        if (atomic_load_acquire_u32(&params->started) == AP_STARTED_MAGIC)
            break;
        sent = lapic_send_startup(apic_id, (uint8_t)(trampoline_pa >> PAGE_SHIFT));
        pit_delay_us(SIPI_SETTLE_US);
    }
    if (sent && wait_for_flag(&block->online, AP_ONLINE_TIMEOUT_US))
        return true;

    bool reached_trampoline = atomic_load_acquire_u32(&params->started) == AP_STARTED_MAGIC;
    /* Park it in wait-for-SIPI: a late AP must not run on with the next AP's stack. */
    lapic_send_init(apic_id);
    kprintf("smp: cpu %u (apic id %u) did not start (%s)\n", cpu, apic_id,
            !sent ? "its local APIC did not accept the IPI" :
            reached_trampoline ? "it ran the trampoline but never reached ap_main's online point" :
                                 "no sign of life after INIT-SIPI-SIPI");
    return false;
}

static void flush_trampoline_mapping(void *arg)
{
    invlpg(*(const uint64_t *)arg);
}

static void smp_call_interrupt(struct trap_frame *frame);

void smp_boot_aps(const struct boot_info *bi)
{
    cpus[0].apic_id = lapic_id();
    cpus[0].online = true;
    cpu_count = 1;
    percpu_install(0, cpus[0].apic_id, (uint64_t)(uintptr_t)boot_stack_top);
    percpu_of(0)->online = 1;
    trap_set_irq_handler(VECTOR_SMP_CALL, smp_call_interrupt);

    const char *why = NULL;
    const uint8_t *madt = madt_find(&why);
    if (madt != NULL)
        why = madt_collect(madt);
    if (madt != NULL && why == NULL)
        trusted_madt = madt;
    if (why != NULL) {
        kprintf("smp: %s; continuing on the boot CPU only\n", why);
    } else if (cpu_count > 1) {
        trampoline_pa = trampoline_page_find(bi);
        uint64_t pml4 = kernel_pml4_pa();
        if (trampoline_pa == 0) {
            kprintf("smp: no free page below 1 MiB for the AP trampoline; boot CPU only\n");
        } else if (pml4 >= (1ull << 32)) {
            kprintf("smp: the core's PML4 lies above 4 GiB, out of the trampoline's reach\n");
        } else if (!kernel_paging_map_identity_page(trampoline_pa)) {
            kprintf("smp: cannot identity-map the trampoline page 0x%lx\n", trampoline_pa);
        } else {
            size_t size = trampoline_offset(ap_trampoline_end);
            if (size > PAGE_SIZE)
                panic("smp: the AP trampoline is %lu bytes, more than the page it is copied to", size);
            memcpy(phys_to_virt(trampoline_pa), ap_trampoline_start, size);
            struct ap_boot_params *params = trampoline_params();
            params->cr3 = pml4;
            params->cr4 = read_cr4() & ~CR4_PCIDE;
            params->cr0 = read_cr0();
            params->efer = EFER_LME | EFER_NXE;
            params->entry = (uint64_t)(uintptr_t)ap_main;
            for (unsigned cpu = 1; cpu < cpu_count; cpu++) {
                cpus[cpu].online = start_ap(cpu);
                if (cpus[cpu].online)
                    kprintf("smp: cpu %u (apic id %u) online\n", cpu, cpus[cpu].apic_id);
            }
            /* Nothing runs from the page any more: drop it from every TLB that may hold it. */
            kernel_paging_unmap_identity_page(trampoline_pa);
            for (unsigned cpu = 1; cpu < cpu_count; cpu++) {
                if (cpus[cpu].online && !smp_call_on_cpu(cpu, flush_trampoline_mapping, &trampoline_pa))
                    kprintf("smp: cpu %u did not flush the trampoline mapping\n", cpu);
            }
        }
    }
    kprintf("smp: %u cpus online\n", smp_online_count());
}

void ap_main(unsigned cpu)
{
    /* GS base first: the console and the timer interrupt ask which CPU they run on. */
    percpu_install(cpu, cpus[cpu].apic_id, ap_stack_top(cpu));
    gdt_init_cpu(cpu);
    idt_load();
    lapic_init();
    lapic_timer_start(CONFIG_TIMER_HZ);
    irq_enable();
    if (vcpu_arch_backend() != VCPU_BACKEND_NONE && !vcpu_arch_cpu_enable(cpu))
        kprintf("vcpu: cpu %u could not enable %s\n", cpu, vcpu_arch_name());
    atomic_store_release_u32(&this_cpu()->online, 1);
    /* From here the AP is the scheduler's: it runs threads whose affinity names it. */
    syscall_init_cpu();
    sched_idle();
}

/* ---- queries ---- */

unsigned smp_cpu_count(void)
{
    return cpu_count;
}

uint32_t smp_cpu_apic_id(unsigned cpu)
{
    return cpu < cpu_count ? cpus[cpu].apic_id : 0;
}

bool smp_cpu_online(unsigned cpu)
{
    return cpu < cpu_count && cpus[cpu].online;
}

unsigned smp_online_count(void)
{
    unsigned n = 0;
    for (unsigned cpu = 0; cpu < cpu_count; cpu++)
        n += cpus[cpu].online ? 1u : 0u;
    return n;
}

uint64_t smp_trampoline_page(void)
{
    return trampoline_pa;
}

unsigned smp_madt_foreach(smp_madt_entry_fn fn, void *ctx)
{
    if (trusted_madt == NULL)
        return 0;
    /* madt_collect() has checked every entry header and length against the table. */
    uint32_t length = rd32(trusted_madt + SDT_OFF_LENGTH);
    unsigned n = 0;
    for (uint32_t off = MADT_ENTRIES_OFFSET; off < length; off += trusted_madt[off + 1], n++)
        fn(ctx, trusted_madt[off], trusted_madt + off, trusted_madt[off + 1]);
    return n;
}

/* ---- cross-CPU calls ---- */

/* Runs this CPU's pending call, if any (interrupts off, so the IPI cannot run it twice). */
static void run_mailbox(void)
{
    struct percpu_mailbox *m = &this_cpu()->mailbox;
    if (atomic_load_acquire_u32(&m->state) == MAILBOX_PENDING) {
        m->fn(m->arg);
        atomic_store_release_u32(&m->state, MAILBOX_DONE);
    }
}

static void smp_call_interrupt(struct trap_frame *frame)
{
    (void)frame;
    lapic_eoi();
    run_mailbox();
}

void smp_call_poll(void)
{
    if (!percpu_boot_cpu_installed)
        return;
    bool irqs = irq_save();
    run_mailbox();
    irq_restore(irqs);
}

bool smp_call_post(unsigned cpu, percpu_call_fn fn, void *arg)
{
    if (!smp_cpu_online(cpu) || cpu == this_cpu_index())
        return false;
    struct percpu_mailbox *m = &percpu_of(cpu)->mailbox;
    if (atomic_cmpxchg_u32(&m->state, MAILBOX_IDLE, MAILBOX_CLAIMED) != MAILBOX_IDLE)
        return false;
    m->fn = fn;
    m->arg = arg;
    atomic_store_release_u32(&m->state, MAILBOX_PENDING);
    return lapic_send_ipi(cpus[cpu].apic_id, VECTOR_SMP_CALL);
}

bool smp_call_wait(unsigned cpu)
{
    if (!smp_cpu_online(cpu))
        return false;
    struct percpu_mailbox *m = &percpu_of(cpu)->mailbox;
    /* The TSC, not the PIT: any CPU may call, and the PIT is one shared device. */
    uint64_t budget = lapic_timer_info()->tsc_hz / MS_PER_S * CALL_TIMEOUT_MS;
    uint64_t start = rdtsc();
    while (atomic_load_acquire_u32(&m->state) != MAILBOX_DONE) {
        if (rdtsc() - start > budget)
            return false;   /* the mailbox stays busy: a late run must not hit a new request */
        cpu_relax();
    }
    atomic_store_release_u32(&m->state, MAILBOX_IDLE);
    return true;
}

/* ---- stopping the other CPUs (panic) ---- */

#define STOP_WAIT_MS 100u
#define STOP_SPIN_LIMIT 100000000u  /* without a calibrated TSC */
static volatile uint32_t stop_owner;        /* APIC ID + 1 of the stopping CPU, 0 = none */

unsigned smp_stop_others(unsigned *others)
{
    *others = 0;
    if (smp_online_count() < 2)
        return 0;
    /* The local APIC, not this_cpu(): a panic may come with the user's GS base. */
    uint32_t self = lapic_id();
    uint32_t prev = atomic_cmpxchg_u32(&stop_owner, 0, self + 1);
    if (prev != 0 && prev != self + 1) {
        for (;;)        /* another CPU stops everyone: its NMI parks this one */
            __asm__ volatile("cli; hlt" ::: "memory");
    }
    trap_nmi_request_stop();
    for (unsigned cpu = 0; cpu < cpu_count; cpu++) {
        if (cpus[cpu].online && cpus[cpu].apic_id != self && !trap_nmi_parked(cpu) &&
            lapic_send_nmi(cpus[cpu].apic_id))
            (*others)++;
    }
    uint64_t hz = lapic_timer_info()->tsc_hz;
    uint64_t start = rdtsc();
    unsigned parked = 0;
    for (uint32_t spin = 0; spin < STOP_SPIN_LIMIT; spin++) {
        parked = 0;
        for (unsigned cpu = 0; cpu < cpu_count; cpu++)
            parked += trap_nmi_parked(cpu) ? 1u : 0u;
        if (parked >= *others || (hz != 0 && rdtsc() - start > hz / MS_PER_S * STOP_WAIT_MS))
            break;
        cpu_relax();
    }
    return parked;
}

bool smp_call_on_cpu(unsigned cpu, percpu_call_fn fn, void *arg)
{
    if (smp_cpu_online(cpu) && cpu == this_cpu_index()) {
        bool irqs = irq_save();
        fn(arg);
        irq_restore(irqs);
        return true;
    }
    return smp_call_post(cpu, fn, arg) && smp_call_wait(cpu);
}
