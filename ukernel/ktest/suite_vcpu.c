/* SPDX-License-Identifier: MIT */
/* suite vcpu: conformance of the vcpu_arch backend (SVM or VMX), driven only through vcpu_arch.h. */
#include <stddef.h>
#include <stdint.h>

#include "../arch/x86_64/cpu.h"
#include "../arch/x86_64/lapic.h"
#include "../arch/x86_64/layout.h"
#include "../arch/x86_64/nested_pte.h"
#include "../arch/x86_64/percpu.h"
#include "../arch/x86_64/smp.h"
#include "../arch/x86_64/svm_vmcb.h"
#include "../arch/x86_64/trap.h"
#include "../arch/x86_64/vcpu_arch.h"
#include "../arch/x86_64/vmx.h"
#include "../kernel/console.h"
#include "../lib/kstring.h"
#include "ktest.h"
#include "suite_vcpu_guest.h"

/*
 * The suite plays the part of the VCPU object and its handler: it owns the
 * backend's pages, builds the nested table (EPT or NPT format, whichever the
 * backend uses) mapping guest-physical [0, GUEST_RAM_SIZE) onto a static buffer
 * plus the reset-vector page, runs the guest and answers its exits.
 */
#define BACKEND_PAGES_MAX 0x10000u
#define NESTED_TABLES 8

static uint8_t backend_pages[BACKEND_PAGES_MAX] __attribute__((aligned(4096)));
static uint8_t guest_ram[GUEST_RAM_SIZE] __attribute__((aligned(4096)));
static uint8_t reset_page[4096] __attribute__((aligned(4096)));
static uint8_t hole_page[4096] __attribute__((aligned(4096)));
static uint8_t hole_page2[4096] __attribute__((aligned(4096)));
static uint64_t nested[NESTED_TABLES][512] __attribute__((aligned(4096)));
static unsigned nested_used;
static struct vcpu_arch vcpu;

#define TABLE_ADDR_MASK NESTED_ADDR_MASK

static uint64_t image_pa(const void *p)
{
    return (uint64_t)(uintptr_t)p - KERNEL_VMA;
}

static uint64_t *table_of(uint64_t entry)
{
    for (unsigned i = 0; i < nested_used; i++) {
        if (image_pa(nested[i]) == (entry & TABLE_ADDR_MASK))
            return nested[i];
    }
    return NULL;
}

/* Maps one 4 KiB guest page; false when the table pool ran out. */
static bool nested_map(uint64_t gpa, uint64_t hpa)
{
    /* The encodings GuestMemory uses (nested_pte.h), so the backend is tested on them. */
    enum nested_format f = vcpu_arch_backend() == VCPU_BACKEND_VMX ? NESTED_EPT : NESTED_NPT;
    if (nested_used == 0)
        nested_used = 1;                    /* nested[0] is the root */
    uint64_t *t = nested[0];
    for (int level = 3; level > 0; level--) {
        unsigned idx = (gpa >> (12 + 9 * level)) & 511;
        if (!nested_present(f, t[idx])) {
            if (nested_used == NESTED_TABLES)
                return false;
            t[idx] = nested_table_entry(f, image_pa(nested[nested_used++]));
        }
        t = table_of(t[idx]);
        if (t == NULL)
            return false;
    }
    t[(gpa >> 12) & 511] = nested_leaf_entry(f, hpa, NESTED_READ | NESTED_WRITE | NESTED_EXECUTE);
    return true;
}

/* ---- driving the guest ---- */

/* Runs until an exit other than NONE; counts the NONE ones (host interrupts). */
static struct vcpu_exit run(unsigned *nones)
{
    struct vcpu_exit e;
    for (unsigned i = 0; i < 1000000; i++) {
        irq_disable();
        vcpu_arch_run(&vcpu, &e);
        irq_enable();
        if (e.reason != HV_EXIT_NONE)
            return e;
        if (nones != NULL)
            (*nones)++;
    }
    e.reason = HV_EXIT_NONE;
    return e;
}

static struct hv_vcpu_state get(uint64_t mtd)
{
    struct hv_vcpu_state s;
    memset(&s, 0, sizeof(s));
    vcpu_arch_state_read(&vcpu, mtd, &s);
    return s;
}

static void put(struct hv_vcpu_state *s, uint64_t mtd)
{
    s->mtd = mtd;
    vcpu_arch_state_write(&vcpu, s);
}

/* Advances RIP past the instruction that exited, as a handler does. */
static void skip(uint64_t len)
{
    struct hv_vcpu_state s = get(HV_MTD_RSP_RIP_RFLAGS);
    s.rip += len;
    put(&s, HV_MTD_RSP_RIP_RFLAGS);
}

static const char *reason_name(enum hv_exit_reason r)
{
    static const char *const names[HV_EXIT_REASON_COUNT] = {
        "NONE", "CPUID", "IO", "HLT", "GPA", "EXCEPTION", "INTR_WINDOW", "NMI_WINDOW",
        "TRIPLE_FAULT", "RECALL", "MSR_READ", "MSR_WRITE", "VMCALL", "INVALID_STATE",
        "UNHANDLED", "CR_ACCESS", "INVLPG",
    };
    return (unsigned)r < HV_EXIT_REASON_COUNT ? names[r] : "?";
}

/* Expects an OUT of `size` bytes to `port`; returns the value (RAX) and skips the OUT. */
static bool expect_out(const char *name, uint16_t port, unsigned size, uint64_t *value)
{
    struct vcpu_exit e = run(NULL);
    struct hv_vcpu_state s = get(HV_MTD_GPR);
    uint64_t mask = size == 4 ? 0xffffffffull : size == 2 ? 0xffffull : 0xffull;
    uint64_t want_q = port | ((uint64_t)size << HV_IO_SIZE_SHIFT);
    bool ok = e.reason == HV_EXIT_IO && e.qualification == want_q && e.instruction_length >= 1;
    ktest_check(ok, name, "exit %s q=0x%lx (want IO q=0x%lx) len %lu w1/w2 0x%lx", reason_name(e.reason),
                e.qualification, want_q, e.instruction_length, e.address);
    if (value != NULL)
        *value = s.rax & mask;
    if (e.reason == HV_EXIT_IO)
        skip(e.instruction_length);
    return ok;
}

static void load_program(const unsigned char *start, const unsigned char *end)
{
    memcpy(guest_ram + GUEST_CODE_GPA, start, (size_t)(end - start));
}

/* Real mode at 0000:GUEST_CODE_GPA with an IVT-sized IDT, nothing pending. */
static void real_mode_state(struct hv_vcpu_state *s)
{
    memset(s, 0, sizeof(*s));
    const struct hv_segment data = { 0, 0x93, 0xffff, 0 };
    s->cs = (struct hv_segment){ 0, 0x9b, 0xffff, 0 };
    s->ss = s->ds = s->es = s->fs = s->gs = data;
    s->tr = (struct hv_segment){ 0, 0x8b, 0xffff, 0 };
    s->ldtr = (struct hv_segment){ 0, 0x82, 0xffff, 0 };
    s->gdtr = (struct hv_dtable){ 0, 0xffff };
    s->idtr = (struct hv_dtable){ 0, 0x3ff };
    s->cr0 = 0x60000010;
    s->rip = GUEST_CODE_GPA;
    s->rsp = GUEST_STACK_TOP;
    s->rflags = 2;
    s->pat = 0x0007040600070406ull;
}

static uint32_t expected_loop_result(void)
{
    uint32_t a = 0;
    for (uint32_t c = GUEST_LOOP_COUNT; c != 0; c--) {
        a += c;
        a = (a << 1) | (a >> 31);
    }
    return a;
}

/* ---- the checks ---- */

static void check_reset_state(void)
{
    struct hv_vcpu_state s = get(HV_MTD_ALL);
    ktest_check(s.cs.selector == 0xf000 && s.cs.base == 0xffff0000ull && s.cs.attr == 0x9b &&
                    s.rip == 0xfff0 && s.cr0 == 0x60000010 && s.rflags == 2 && s.efer == 0 &&
                    s.ds.attr == 0x93 && s.ds.limit == 0xffff,
                "reset_state", "cs %x base %lx attr %x rip %lx cr0 %lx rflags %lx efer %lx ds.attr %x",
                s.cs.selector, s.cs.base, s.cs.attr, s.rip, s.cr0, s.rflags, s.efer, s.ds.attr);
}

static void check_main_program(void)
{
    /* CPUID, reached from the reset vector through a far jump to 0000:1000. */
    struct vcpu_exit e = run(NULL);
    struct hv_vcpu_state s = get(HV_MTD_GPR | HV_MTD_RSP_RIP_RFLAGS | HV_MTD_SEG);
    ktest_check(e.reason == HV_EXIT_CPUID && s.cs.base == 0 && s.cs.selector == 0,
                "reset_vector_runs", "exit %s cs %x base 0x%lx rip 0x%lx", reason_name(e.reason),
                s.cs.selector, s.cs.base, s.rip);
    ktest_check(e.reason == HV_EXIT_CPUID && e.instruction_length == 2 &&
                    (s.rax & 0xffffffff) == GUEST_CPUID_LEAF,
                "cpuid_exit", "exit %s len %lu rax 0x%lx", reason_name(e.reason),
                e.instruction_length, s.rax);
    static const uint32_t answer[4] = { 0x11223344, 0x55667788, 0x99aabbcc, 0xddeeff01 };
    s.rax = answer[0];
    s.rbx = answer[1];
    s.rcx = answer[2];
    s.rdx = answer[3];
    s.rip += e.instruction_length;
    put(&s, HV_MTD_GPR | HV_MTD_RSP_RIP_RFLAGS);
    bool seen = true;
    for (unsigned i = 0; i < 4; i++) {
        uint64_t v = 0;
        seen = expect_out("cpuid_report_out", PORT_REPORT, 4, &v) && seen;
        seen = seen && v == answer[i];
    }
    ktest_check(seen, "cpuid_values_seen_by_guest", "guest did not report the four answers");

    /* IN: the value the handler writes to RAX is what the guest reads. */
    e = run(NULL);
    ktest_check(e.reason == HV_EXIT_IO &&
                    e.qualification == (PORT_IN | (2u << HV_IO_SIZE_SHIFT) | HV_IO_IN),
                "io_in_exit", "exit %s q 0x%lx", reason_name(e.reason), e.qualification);
    s = get(HV_MTD_GPR | HV_MTD_RSP_RIP_RFLAGS);
    s.rax = (s.rax & ~0xffffull) | 0xbeef;
    s.rip += e.instruction_length;
    put(&s, HV_MTD_GPR | HV_MTD_RSP_RIP_RFLAGS);
    uint64_t v = 0;
    expect_out("io_out_exit", PORT_ECHO, 2, &v);
    ktest_check(v == 0xbeef, "io_in_value", "guest echoed 0x%lx", v);

    e = run(NULL);
    /* 0 = the CPU did not say (SVM without next-RIP); if it says, it must be right. */
    ktest_check(e.reason == HV_EXIT_HLT && e.instruction_length <= 1, "hlt_exit",
                "exit %s len %lu", reason_name(e.reason), e.instruction_length);
    skip(1);

    /* STI; HLT, then an external interrupt into the guest's IVT handler. */
    e = run(NULL);
    s = get(HV_MTD_RSP_RIP_RFLAGS | HV_MTD_INJECT);
    ktest_check(e.reason == HV_EXIT_HLT && (s.rflags & RFLAGS_IF), "sti_hlt_exit",
                "exit %s rflags 0x%lx", reason_name(e.reason), s.rflags);
    s.rip += 1;
    s.inject_event = HV_INJECT_VALID | GUEST_IRQ_VECTOR;   /* type 0: external interrupt */
    s.inject_error = 0;
    s.intr_state = 0;
    put(&s, HV_MTD_RSP_RIP_RFLAGS | HV_MTD_INJECT);
    v = 0;
    expect_out("interrupt_handler_ran", PORT_IRQ, 1, &v);
    s = get(HV_MTD_INJECT);
    ktest_check(v == GUEST_IRQ_VECTOR && !(s.inject_event & HV_INJECT_VALID),
                "interrupt_injected", "handler reported 0x%lx, event 0x%lx left", v, s.inject_event);

    /* NMI injected into a halted guest: its IVT entry 2 runs. */
    e = run(NULL);
    ktest_check(e.reason == HV_EXIT_HLT, "hlt_before_nmi", "exit %s", reason_name(e.reason));
    s = get(HV_MTD_RSP_RIP_RFLAGS | HV_MTD_INJECT);
    s.rip += 1;
    s.inject_event = HV_INJECT_VALID | (HV_INJECT_TYPE_NMI << HV_INJECT_TYPE_SHIFT) | 2;
    s.intr_state = 0;
    put(&s, HV_MTD_RSP_RIP_RFLAGS | HV_MTD_INJECT);
    v = 0;
    expect_out("nmi_handler_out", PORT_NMI, 1, &v);
    ktest_check(v == 2, "nmi_injected", "handler reported 0x%lx", v);

    /* #UD intercepted. */
    vcpu_arch_set_exception_intercepts(&vcpu, 1u << 6);
    e = run(NULL);
    ktest_check(e.reason == HV_EXIT_EXCEPTION && (e.qualification & 0xffffffff) == 6,
                "ud_intercepted", "exit %s q 0x%lx", reason_name(e.reason), e.qualification);
    vcpu_arch_set_exception_intercepts(&vcpu, 0);
    skip(2);

    /* #DE not intercepted: the guest's handler reports, no exception exit first. */
    v = 0;
    expect_out("de_in_guest", PORT_DE, 1, &v);
    ktest_check(v == 0xde, "de_handler_value", "0x%lx", v);

    /* A gpa with no nested mapping, then mapped and retried. */
    e = run(NULL);
    uint64_t want = GUEST_HOLE_GPA + GUEST_HOLE_OFFSET;
    ktest_check(e.reason == HV_EXIT_GPA && e.address == want && (e.qualification & HV_GPA_READ) &&
                    !(e.qualification & HV_GPA_WRITE),
                "gpa_exit", "exit %s gpa 0x%lx (want 0x%lx) access 0x%lx", reason_name(e.reason),
                e.address, want, e.qualification);
    hole_page[GUEST_HOLE_OFFSET] = 0x5a;
    bool mapped = nested_map(GUEST_HOLE_GPA, image_pa(hole_page));
    vcpu_arch_set_nested_root(&vcpu, image_pa(nested[0]));
    v = 0;
    expect_out("gpa_retry_out", PORT_HOLE, 1, &v);
    ktest_check(mapped && v == 0x5a, "gpa_mapped_then_read", "mapped %d value 0x%lx", mapped, v);

    /* The gpa moved to another frame (the entry rewritten in place, as GuestMemory does on
     * unmap + map): after vcpu_arch_flush_tlb the guest reads the new frame. */
    hole_page2[GUEST_HOLE_OFFSET] = 0xa5;
    mapped = nested_map(GUEST_HOLE_GPA, image_pa(hole_page2));
    vcpu_arch_flush_tlb(&vcpu);
    v = 0;
    expect_out("gpa_remap_out", PORT_HOLE_REMAP, 1, &v);
    ktest_check(mapped && v == 0xa5, "gpa_remapped_read_after_flush", "mapped %d value 0x%lx", mapped, v);

    /* Interrupt window requested while IF = 0: the exit comes once the guest sets IF. */
    expect_out("window_setup_out", PORT_WINDOW, 1, NULL);
    s = get(HV_MTD_INJECT);
    s.inject_event = 0;
    s.intr_state = HV_INTR_REQUEST_WINDOW;
    put(&s, HV_MTD_INJECT);
    e = run(NULL);
    s = get(HV_MTD_RSP_RIP_RFLAGS | HV_MTD_INJECT);
    ktest_check(e.reason == HV_EXIT_INTR_WINDOW && (s.rflags & RFLAGS_IF) &&
                    !(s.intr_state & (HV_INTR_SHADOW | HV_INTR_REQUEST_WINDOW)),
                "interrupt_window_exit", "exit %s rflags 0x%lx intr 0x%lx", reason_name(e.reason),
                s.rflags, s.intr_state);
    s.intr_state = 0;
    s.inject_event = 0;
    put(&s, HV_MTD_INJECT);
    expect_out("window_done_out", PORT_WINDOW_DONE, 1, NULL);

    /* A long loop: host timer interrupts end runs with NONE; the result is still right. */
    unsigned nones = 0;
    uint64_t ticks0 = lapic_timer_ticks();
    uint64_t tsc0 = rdtsc();
    e = run(&nones);
    uint64_t tsc = rdtsc() - tsc0;
    uint64_t ticks = lapic_timer_ticks() - ticks0;
    s = get(HV_MTD_GPR);
    uint32_t want_loop = expected_loop_result();
    ktest_check(e.reason == HV_EXIT_IO && (e.qualification & HV_IO_PORT_MASK) == PORT_LOOP &&
                    (uint32_t)s.rax == want_loop,
                "long_loop_result", "exit %s q 0x%lx eax 0x%lx want 0x%x", reason_name(e.reason),
                e.qualification, s.rax, want_loop);
    ktest_check(nones >= 1 && ticks >= 1, "host_interrupts_end_runs",
                "%u NONE exits, %lu host ticks during the loop", nones, ticks);
    kprintf("vcpu: long loop took %u host interrupts (%lu ticks, %lu TSC cycles)\n", nones, ticks, tsc);
    skip(e.instruction_length);

    /* Empty IDT and an exception: shutdown. */
    e = run(NULL);
    ktest_check(e.reason == HV_EXIT_TRIPLE_FAULT, "triple_fault_exit", "exit %s",
                reason_name(e.reason));
}

/*
 * Null exit round trips (informational BENCH lines; TSC cycles, which on Bochs
 * with ips = TSC rate count emulated instructions): run() alone re-entering the
 * same CPUID, and a handler's full CPUID round trip (read RIP, advance, write, run).
 */
static void bench_null_exit(void)
{
    struct hv_vcpu_state s;
    real_mode_state(&s);
    load_program(vcpu_guest_bench, vcpu_guest_bench_end);
    put(&s, HV_MTD_ALL);
    enum { ROUNDS = 2000 };
    unsigned bad = 0;
    struct vcpu_exit e = run(NULL);         /* warm: first entry after new state */
    uint64_t t0 = rdtsc();
    for (unsigned i = 0; i < ROUNDS; i++) {
        e = run(NULL);
        bad += e.reason != HV_EXIT_CPUID;
    }
    uint64_t bare = (rdtsc() - t0) / ROUNDS;
    t0 = rdtsc();
    for (unsigned i = 0; i < ROUNDS; i++) {
        skip(e.instruction_length);
        e = run(NULL);
        bad += e.reason != HV_EXIT_CPUID;
    }
    uint64_t full = (rdtsc() - t0) / ROUNDS;
    ktest_check(bad == 0, "revived_after_triple_fault", "%u of %u runs were not CPUID exits",
                bad, 2u * ROUNDS);
    kprintf("BENCH vcpu_null_exit_%s_tsc %lu cycles\n", vcpu_arch_name(), bare);
    kprintf("BENCH vcpu_cpuid_roundtrip_%s_tsc %lu cycles\n", vcpu_arch_name(), full);
    uint64_t tsc_khz = lapic_timer_info()->tsc_hz / 1000;
    if (tsc_khz != 0)
        kprintf("vcpu: %lu ns per null exit, %lu ns per CPUID round trip (emulated time)\n",
                bare * 1000000 / tsc_khz, full * 1000000 / tsc_khz);
}

static bool seg_eq(const struct hv_segment *a, const struct hv_segment *b)
{
    return a->selector == b->selector && a->attr == b->attr && a->limit == b->limit &&
           a->base == b->base;
}

static void check_round_trip(void)
{
    struct hv_vcpu_state w;
    memset(&w, 0, sizeof(w));
    uint64_t *const wg[15] = { &w.rax, &w.rbx, &w.rcx, &w.rdx, &w.rsi, &w.rdi, &w.rbp, &w.r8,
                               &w.r9, &w.r10, &w.r11, &w.r12, &w.r13, &w.r14, &w.r15 };
    for (unsigned i = 0; i < 15; i++)
        *wg[i] = 0x0101010101010101ull * (i + 1);
    w.rsp = 0xffff800000123450ull;
    w.rip = 0xffffffff81000000ull;
    w.rflags = 0x246;
    w.cr0 = 0x80050033;
    w.cr2 = 0x00007fffdead0000ull;
    w.cr3 = 0x1234000;
    w.cr4 = 0x6a0;
    w.efer = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;
    w.cs = (struct hv_segment){ 0x10, 0xa9b, 0xffffffff, 0 };
    w.ss = (struct hv_segment){ 0x18, 0xc93, 0xffffffff, 0 };
    w.ds = (struct hv_segment){ 0x2b, 0xcf3, 0xffffffff, 0 };
    w.es = (struct hv_segment){ 0x2b, 0xcf3, 0xfffff, 0x1000 };
    w.fs = (struct hv_segment){ 0, 0x0f3, 0xffff, 0x00007f0012345000ull };
    w.gs = (struct hv_segment){ 0, 0x093, 0xffff, 0xffff888000001000ull };
    w.tr = (struct hv_segment){ 0x40, 0x8b, 0x67, 0xfffffe0000003000ull };
    w.ldtr = (struct hv_segment){ 0x50, 0x82, 0xff, 0xffff888000002000ull };
    w.gdtr = (struct hv_dtable){ 0xfffffe0000001000ull, 0x7f };
    w.idtr = (struct hv_dtable){ 0xfffffe0000000000ull, 0xfff };
    w.star = 0x0023001000000000ull;
    w.lstar = 0xffffffff81a00000ull;
    w.cstar = 0xffffffff81a00100ull;
    w.sfmask = 0x47700;
    w.kernel_gs_base = 0xffff888011110000ull;
    w.sysenter_cs = 0x10;
    w.sysenter_esp = 0xfffffe0000004000ull;
    w.sysenter_eip = 0xffffffff81a00200ull;
    w.pat = 0x0407050600070106ull;
    w.inject_event = HV_INJECT_VALID | HV_INJECT_ERROR_VALID |
                     (HV_INJECT_TYPE_EXCEPTION << HV_INJECT_TYPE_SHIFT) | 13;
    w.inject_error = 0x18;
    w.intr_state = HV_INTR_REQUEST_WINDOW;
    w.tsc_offset = 0xfffffff000000000ull;
    put(&w, HV_MTD_ALL);
    struct hv_vcpu_state r = get(HV_MTD_ALL);

    ktest_check(r.mtd == HV_MTD_ALL, "round_trip_mtd", "mtd 0x%lx", r.mtd);
    const uint64_t rg[15] = { r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.r8,
                              r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15 };
    bool gpr_ok = true;
    for (unsigned i = 0; i < 15; i++)
        gpr_ok = gpr_ok && rg[i] == 0x0101010101010101ull * (i + 1);
    ktest_check(gpr_ok, "round_trip_gpr", "rax 0x%lx r15 0x%lx", r.rax, r.r15);
    ktest_check(r.rsp == w.rsp && r.rip == w.rip && r.rflags == w.rflags, "round_trip_rip",
                "rsp 0x%lx rip 0x%lx rflags 0x%lx", r.rsp, r.rip, r.rflags);
    ktest_check(r.cr0 == w.cr0 && r.cr2 == w.cr2 && r.cr3 == w.cr3 && r.cr4 == w.cr4 &&
                    r.efer == w.efer,
                "round_trip_cr", "cr0 0x%lx cr2 0x%lx cr3 0x%lx cr4 0x%lx efer 0x%lx", r.cr0,
                r.cr2, r.cr3, r.cr4, r.efer);
    ktest_check(seg_eq(&r.cs, &w.cs) && seg_eq(&r.ss, &w.ss) && seg_eq(&r.ds, &w.ds) &&
                    seg_eq(&r.es, &w.es) && seg_eq(&r.fs, &w.fs) && seg_eq(&r.gs, &w.gs),
                "round_trip_seg", "cs %x/%x/%x ds %x/%x es %x/%lx fs %lx gs %lx", r.cs.selector,
                r.cs.attr, r.cs.limit, r.ds.attr, r.ds.limit, r.es.attr, r.es.base, r.fs.base,
                r.gs.base);
    ktest_check(seg_eq(&r.tr, &w.tr) && seg_eq(&r.ldtr, &w.ldtr) && r.gdtr.base == w.gdtr.base &&
                    r.gdtr.limit == w.gdtr.limit && r.idtr.base == w.idtr.base &&
                    r.idtr.limit == w.idtr.limit,
                "round_trip_sys_seg", "tr %x/%x/%lx ldtr %x/%x gdtr %lx/%lx", r.tr.selector,
                r.tr.attr, r.tr.base, r.ldtr.selector, r.ldtr.attr, r.gdtr.base, r.gdtr.limit);
    ktest_check(r.star == w.star && r.lstar == w.lstar && r.cstar == w.cstar &&
                    r.sfmask == w.sfmask && r.kernel_gs_base == w.kernel_gs_base &&
                    r.sysenter_cs == w.sysenter_cs && r.sysenter_esp == w.sysenter_esp &&
                    r.sysenter_eip == w.sysenter_eip && r.pat == w.pat,
                "round_trip_msr", "star %lx lstar %lx kgs %lx sysenter %lx pat %lx", r.star,
                r.lstar, r.kernel_gs_base, r.sysenter_eip, r.pat);
    ktest_check(r.inject_event == w.inject_event && r.inject_error == w.inject_error &&
                    r.intr_state == w.intr_state,
                "round_trip_inject", "event 0x%lx error 0x%lx intr 0x%lx", r.inject_event,
                r.inject_error, r.intr_state);
    ktest_check(r.tsc_offset == w.tsc_offset, "round_trip_tsc", "0x%lx", r.tsc_offset);

    /* A not-present (null) segment reads back as attr 0 whatever the backend stores. */
    struct hv_vcpu_state n = r;
    n.ldtr = (struct hv_segment){ 0, 0, 0, 0 };
    n.fs.attr = 0;
    put(&n, HV_MTD_SEG | HV_MTD_SYS_SEG);
    r = get(HV_MTD_SEG | HV_MTD_SYS_SEG);
    ktest_check(r.ldtr.attr == 0 && r.fs.attr == 0 && r.ds.attr == 0xcf3, "null_segment_attr",
                "ldtr attr 0x%x fs attr 0x%x ds attr 0x%x", r.ldtr.attr, r.fs.attr, r.ds.attr);
}

static void check_invalid_state(void)
{
    struct hv_vcpu_state s;
    real_mode_state(&s);
    /* 64-bit mode (CR0.PG|PE, CR4.PAE, EFER.LME|LMA, CS.L) with a non-canonical RIP. */
    s.cr0 = 0x80000011;
    s.cr3 = GUEST_PT_GPA;
    s.cr4 = 0x20;
    s.efer = EFER_LME | EFER_LMA;
    s.cs = (struct hv_segment){ 0x8, 0xa9b, 0xffffffff, 0 };
    s.ss = s.ds = s.es = (struct hv_segment){ 0x10, 0xc93, 0xffffffff, 0 };
    s.rip = 0x0000800000001000ull;
    put(&s, HV_MTD_ALL);
    struct vcpu_exit e = run(NULL);
    ktest_check(e.reason == HV_EXIT_INVALID_STATE, "noncanonical_rip_refused",
                "exit %s q 0x%lx", reason_name(e.reason), e.qualification);
    kprintf("vcpu: invalid state detail 0x%lx\n", e.qualification);

    /* An external interrupt the guest cannot take is refused on both backends (VMX entry
     * fails on it; SVM would deliver it regardless): IF = 0, then IF = 1 in an STI shadow. */
    real_mode_state(&s);
    s.inject_event = HV_INJECT_VALID | GUEST_IRQ_VECTOR;
    put(&s, HV_MTD_ALL);
    e = run(NULL);
    ktest_check(e.reason == HV_EXIT_INVALID_STATE, "extint_with_if_clear_refused", "exit %s q 0x%lx",
                reason_name(e.reason), e.qualification);
    s.rflags = 2 | RFLAGS_IF;
    s.intr_state = HV_INTR_SHADOW;
    put(&s, HV_MTD_ALL);
    e = run(NULL);
    ktest_check(e.reason == HV_EXIT_INVALID_STATE, "extint_in_sti_shadow_refused", "exit %s q 0x%lx",
                reason_name(e.reason), e.qualification);

    /* VMX refuses a write it cannot enter with (CR4.VMXE) and changes nothing. */
    if (vcpu_arch_backend() == VCPU_BACKEND_VMX) {
        real_mode_state(&s);
        s.rip = 0x2000;
        put(&s, HV_MTD_ALL);
        struct hv_vcpu_state bad = s;
        bad.rip = 0x3000;
        bad.cr4 = 1u << 13;
        put(&bad, HV_MTD_RSP_RIP_RFLAGS | HV_MTD_CR);
        struct hv_vcpu_state r = get(HV_MTD_RSP_RIP_RFLAGS | HV_MTD_CR);
        e = run(NULL);
        ktest_check(e.reason == HV_EXIT_INVALID_STATE && r.rip == 0x2000 && r.cr4 == 0,
                    "refused_write_changes_nothing", "exit %s q 0x%lx rip 0x%lx cr4 0x%lx",
                    reason_name(e.reason), e.qualification, r.rip, r.cr4);
    }

    /* Put right, the same vCPU runs again. */
    real_mode_state(&s);
    load_program(vcpu_guest_bench, vcpu_guest_bench_end);
    put(&s, HV_MTD_ALL);
    e = run(NULL);
    ktest_check(e.reason == HV_EXIT_CPUID, "runs_after_invalid_state", "exit %s q 0x%lx",
                reason_name(e.reason), e.qualification);
}

/* One CPUID round trip wherever this runs (a cross-CPU call: interrupts are off). */
struct remote_run {
    unsigned cpu;
    enum hv_exit_reason reason;
    bool skipped;                       /* past the CPUID the last run stopped at (once) */
};

static void cpuid_round_trip(void *arg)
{
    struct remote_run *r = arg;
    struct vcpu_exit e;
    r->cpu = this_cpu_index();
    if (!r->skipped) {
        skip(2);
        r->skipped = true;
    }
    for (unsigned i = 0; i < 1000; i++) {
        vcpu_arch_run(&vcpu, &e);
        if (e.reason != HV_EXIT_NONE)
            break;
    }
    r->reason = e.reason;
}

/*
 * The vCPU moves between CPUs: released on CPU 0 and run on CPU 1, then run on
 * CPU 0 again without a release (the backend must clear it on CPU 1 itself).
 */
static void check_migration(void)
{
    if (smp_online_count() < 2) {
        kprintf("vcpu: one CPU online: migration not tested\n");
        return;
    }
    struct hv_vcpu_state s;
    real_mode_state(&s);
    load_program(vcpu_guest_bench, vcpu_guest_bench_end);
    put(&s, HV_MTD_ALL);
    struct vcpu_exit e = run(NULL);
    vcpu_arch_release(&vcpu);
    /* With interrupts off, a host interrupt pending on CPU 1 (its timer tick) makes every
     * run end at once with HV_EXIT_NONE; CPU 1 takes it after the call, so call again. */
    struct remote_run r = { 0, HV_EXIT_NONE, false };
    bool called = false;
    for (unsigned attempt = 0; attempt < 20 && r.reason == HV_EXIT_NONE; attempt++)
        called = smp_call_on_cpu(1, cpuid_round_trip, &r);
    ktest_check(e.reason == HV_EXIT_CPUID && called && r.cpu == 1 && r.reason == HV_EXIT_CPUID,
                "runs_on_other_cpu_after_release", "first %s, call %d, cpu %u exit %s",
                reason_name(e.reason), called, r.cpu, reason_name(r.reason));
    struct remote_run back = { 1, HV_EXIT_NONE, false };
    for (unsigned attempt = 0; attempt < 20 && back.reason == HV_EXIT_NONE; attempt++) {
        irq_disable();
        cpuid_round_trip(&back);
        irq_enable();               /* a pending tick that ended every run is taken here */
    }
    ktest_check(back.cpu == 0 && back.reason == HV_EXIT_CPUID, "moves_back_without_release",
                "cpu %u exit %s", back.cpu, reason_name(back.reason));
}

/* ---- host NMIs while a guest runs ---- */

/* Paced NMIs: each waits until the previous one was taken, so none can merge. */
#define NMI_PACED 64u
/* A burst sent back to back: at least the first is taken, later ones may merge. */
#define NMI_BURST 16u
/* NMIs the guest's CPU then sends itself in the host, one at each tick exit. */
#define NMI_SELF 16u
#define NMI_WAIT_MS 500u
#define NMI_GUEST_WAIT_MS 20000u
#define NMI_RUN_LIMIT 100000000u

/* The guest's six registers after `n` iterations (vcpu_guest_nmi, suite_vcpu_guest.S). */
struct nmi_guest_regs {
    uint32_t a, b, c, si, di, bp;
};

static uint32_t rol32(uint32_t v, unsigned n)
{
    return (v << n) | (v >> (32 - n));
}

static struct nmi_guest_regs nmi_guest_model(uint32_t n)
{
    struct nmi_guest_regs r = { GUEST_NMI_SEED_A, ~(uint32_t)GUEST_NMI_SEED_A, 0, 0, 0,
                                GUEST_NMI_SEED_BP };
    while (r.c != n) {
        r.c++;
        r.a = rol32(r.a + r.c, 1);
        r.b ^= r.a;
        r.si += r.b;
        r.di -= r.si;
        r.bp = rol32(r.bp, 32 - 3) ^ r.di;
    }
    return r;
}

/* What the guest's CPU saw (written there, read by CPU 0 once `finished` is set). */
struct nmi_run {
    volatile uint32_t running;      /* the guest ran once: CPU 0 may start sending */
    volatile uint32_t self_phase;   /* CPU 0 is done sending: send NMI_SELF, then end */
    volatile uint32_t finished;
    unsigned cpu;
    uint64_t ticks;                 /* PORT_NMI_TICK exits */
    uint64_t nmi_exits;             /* runs an NMI ended (raw exit code) */
    uint64_t other_nones;           /* runs a host interrupt ended */
    uint64_t guest_nmis;            /* the guest's vector 2 reported: must stay 0 */
    uint64_t self_sent, self_lost;  /* NMIs sent to itself between exits, and not taken */
    enum hv_exit_reason last;       /* an unexpected exit, or NONE */
    uint64_t last_q;
    struct hv_vcpu_state regs;      /* the guest's GPRs at its last tick */
};

static bool wait_count_above(unsigned cpu, uint64_t old, uint64_t ms)
{
    uint64_t budget = lapic_timer_info()->tsc_hz / 1000 * ms;
    uint64_t start = rdtsc();
    while (trap_nmi_count(cpu) <= old) {
        if (rdtsc() - start > budget)
            return false;
        cpu_relax();
    }
    return true;
}

static bool is_nmi_exit(const struct vcpu_arch *v)
{
    /* No exception is intercepted here, so VMX basic reason 0 can only be an NMI. */
    return v->raw_exit == (vcpu_arch_backend() == VCPU_BACKEND_SVM ? SVM_EXIT_NMI
                                                                  : VMX_EXIT_EXCEPTION_NMI);
}

/* On the guest's CPU, in its call IPI: runs the guest until CPU 0 says stop. */
static void nmi_guest_loop(void *arg)
{
    struct nmi_run *r = arg;
    r->cpu = this_cpu_index();
    uint32_t apic = smp_cpu_apic_id(r->cpu);
    r->last = HV_EXIT_NONE;
    for (uint32_t i = 0; i < NMI_RUN_LIMIT; i++) {
        struct vcpu_exit e;
        vcpu_arch_run(&vcpu, &e);       /* interrupts off, as the core runs a guest */
        r->running = 1;
        if (e.reason == HV_EXIT_NONE) {
            if (is_nmi_exit(&vcpu))
                r->nmi_exits++;
            else
                r->other_nones++;
            irq_enable();               /* the host interrupt that ended the run */
            __asm__ volatile("nop");    /* past STI's one-instruction shadow */
            irq_disable();
            continue;
        }
        if (e.reason == HV_EXIT_IO && (e.qualification & HV_IO_PORT_MASK) == PORT_NMI) {
            r->guest_nmis++;
            skip(e.instruction_length);
            continue;
        }
        if (e.reason != HV_EXIT_IO || (e.qualification & HV_IO_PORT_MASK) != PORT_NMI_TICK) {
            r->last = e.reason;
            r->last_q = e.qualification;
            break;
        }
        r->ticks++;
        if (r->self_phase && r->self_sent < NMI_SELF) {
            /* In the host between two exits, interrupts off, this vCPU still loaded. */
            uint64_t before = trap_nmi_count(r->cpu);
            r->self_sent++;
            if (!lapic_send_nmi(apic) || !wait_count_above(r->cpu, before, NMI_WAIT_MS))
                r->self_lost++;
        }
        skip(e.instruction_length);
        if (r->self_sent == NMI_SELF) {
            vcpu_arch_state_read(&vcpu, HV_MTD_GPR, &r->regs);
            break;
        }
    }
    r->finished = 1;
}

/* Check names of the nested-paging and the shadow-paging run. */
#define NMI_CHECK(shadow, what) ((shadow) ? "nmi_shadow_" what : "nmi_" what)

/*
 * Host NMIs while a guest runs on CPU 1: CPU 0 sends NMI IPIs to CPU 1, paced
 * (each after the previous was taken: every one must be counted by CPU 1's host
 * handler) and then in a burst (at least one counted, never more than sent: NMIs
 * merge while one is pending). Then CPU 1 sends itself NMI_SELF NMIs while in the
 * host between exits, each of which must be taken at once. The guest must never see
 * vector 2, must keep running its loop and end with exactly the registers its
 * iteration count implies. The guest is loaded and the vCPU released on CPU 0.
 */
static bool nmi_exercise(bool shadow)
{

    static struct nmi_run r;
    memset(&r, 0, sizeof(r));
    uint64_t count0 = trap_nmi_count(1);
    bool posted = smp_call_post(1, nmi_guest_loop, &r);
    uint64_t budget = lapic_timer_info()->tsc_hz / 1000 * NMI_GUEST_WAIT_MS;
    uint64_t start = rdtsc();
    while (posted && !r.running && !r.finished && rdtsc() - start < budget)
        cpu_relax();
    ktest_check(posted && r.running, NMI_CHECK(shadow, "guest_started"), "posted %d running %u", posted,
                r.running);
    uint32_t apic = smp_cpu_apic_id(1);
    unsigned lost = 0, unsent = 0;
    uint64_t spread = 1;
    for (unsigned i = 0; i < NMI_PACED && posted && !r.finished; i++) {
        /* A varying delay, so the NMIs land in the guest and in the host alike. */
        spread = spread * 6364136223846793005ull + 1442695040888963407ull;
        for (uint64_t d = (spread >> 33) % 20000; d != 0; d--)
            cpu_relax();
        uint64_t before = trap_nmi_count(1);
        if (!lapic_send_nmi(apic))
            unsent++;
        else if (!wait_count_above(1, before, NMI_WAIT_MS))
            lost++;
    }
    uint64_t paced = trap_nmi_count(1) - count0;
    uint64_t burst0 = trap_nmi_count(1);
    for (unsigned i = 0; i < NMI_BURST && posted && !r.finished; i++) {
        if (!lapic_send_nmi(apic))
            unsent++;
    }
    (void)wait_count_above(1, burst0, NMI_WAIT_MS);
    /* Let a merged pending NMI land before the count is read. */
    uint64_t settle = rdtsc();
    while (rdtsc() - settle < lapic_timer_info()->tsc_hz / 100)
        cpu_relax();
    uint64_t burst = trap_nmi_count(1) - burst0;
    uint64_t self0 = trap_nmi_count(1);
    r.self_phase = 1;
    start = rdtsc();
    while (posted && !r.finished && rdtsc() - start < budget)
        cpu_relax();
    bool waited = posted && r.finished && smp_call_wait(1);
    uint64_t self = trap_nmi_count(1) - self0;
    uint64_t total = trap_nmi_count(1) - count0;

    kprintf("vcpu: %s: host NMIs on cpu 1: %lu paced, %lu of %u in a burst, %lu self; "
            "%lu ended guest runs, %lu other host interrupts, %lu ticks\n",
            shadow ? "shadow" : "nested", paced, burst, NMI_BURST, self, r.nmi_exits, r.other_nones, r.ticks);
    ktest_check(waited && r.cpu == 1 && r.last == HV_EXIT_NONE, NMI_CHECK(shadow, "guest_kept_running"),
                "finished %u cpu %u, unexpected exit %s q 0x%lx", r.finished, r.cpu,
                reason_name(r.last), r.last_q);
    ktest_check(unsent == 0 && lost == 0 && paced == NMI_PACED, NMI_CHECK(shadow, "paced_all_taken_by_host"),
                "%u unsent, %u not taken in %u ms, count rose by %lu of %u", unsent, lost,
                NMI_WAIT_MS, paced, NMI_PACED);
    ktest_check(burst >= 1 && burst <= NMI_BURST, NMI_CHECK(shadow, "burst_taken_by_host"),
                "count rose by %lu for %u sent", burst, NMI_BURST);
    ktest_check(r.self_sent == NMI_SELF && r.self_lost == 0 && self == NMI_SELF,
                NMI_CHECK(shadow, "between_exits_taken_by_host"), "%lu sent, %lu not taken, count rose by %lu",
                r.self_sent, r.self_lost, self);
    ktest_check(r.nmi_exits >= 1 && r.nmi_exits <= total, NMI_CHECK(shadow, "ended_guest_runs"),
                "%lu runs ended by an NMI, %lu NMIs counted", r.nmi_exits, total);
    ktest_check(r.guest_nmis == 0, NMI_CHECK(shadow, "never_reached_guest"), "the guest took vector 2 %lu times",
                r.guest_nmis);
    /* The last tick's registers: EAX..EBP exactly as ECX iterations make them. */
    uint32_t n = (uint32_t)r.regs.rcx;
    struct nmi_guest_regs want = nmi_guest_model(n);
    bool intact = n != 0 && n % GUEST_NMI_TICK == 0 && n / GUEST_NMI_TICK == r.ticks &&
                  (uint32_t)r.regs.rax == want.a && (uint32_t)r.regs.rbx == want.b &&
                  (uint32_t)r.regs.rsi == want.si && (uint32_t)r.regs.rdi == want.di &&
                  (uint32_t)r.regs.rbp == want.bp;
    ktest_check(intact, NMI_CHECK(shadow, "guest_state_intact"),
                "%u iterations (%lu ticks): eax 0x%lx/0x%x ebx 0x%lx/0x%x esi 0x%lx/0x%x "
                "edi 0x%lx/0x%x ebp 0x%lx/0x%x", n, r.ticks, r.regs.rax, want.a, r.regs.rbx,
                want.b, r.regs.rsi, want.si, r.regs.rdi, want.di, r.regs.rbp, want.bp);
    return waited;      /* false: CPU 1 may still be running the vCPU */
}

static bool check_host_nmi(void)
{
    if (smp_online_count() < 2) {
        kprintf("vcpu: one CPU online: host NMIs during a guest not tested\n");
        return true;
    }
    struct hv_vcpu_state s;
    real_mode_state(&s);
    load_program(vcpu_guest_nmi, vcpu_guest_nmi_end);
    put(&s, HV_MTD_ALL);
    vcpu_arch_release(&vcpu);
    return nmi_exercise(false);
}

/* The guest goes to protected mode and long mode itself (EFER through the WRMSR exit). */
static void check_mode_switch(void)
{
    struct hv_vcpu_state s;
    real_mode_state(&s);
    load_program(vcpu_guest_modes, vcpu_guest_modes_end);
    put(&s, HV_MTD_ALL);
    uint64_t v = 0;
    expect_out("protected_mode_out", PORT_MODE, 4, &v);
    ktest_check(v == GUEST_PM_MAGIC, "protected_mode", "reported 0x%lx", v);
    struct vcpu_exit e = run(NULL);
    s = get(HV_MTD_GPR | HV_MTD_RSP_RIP_RFLAGS | HV_MTD_CR);
    ktest_check(e.reason == HV_EXIT_MSR_WRITE && s.rcx == 0xc0000080, "wrmsr_exit",
                "exit %s rcx 0x%lx", reason_name(e.reason), s.rcx);
    s.efer = (s.rdx << 32) | (s.rax & 0xffffffff);
    s.rip += e.instruction_length ? e.instruction_length : 2;
    put(&s, HV_MTD_RSP_RIP_RFLAGS | HV_MTD_CR);
    v = 0;
    expect_out("long_mode_out", PORT_MODE, 4, &v);
    ktest_check(v == GUEST_LM_MAGIC, "long_mode_rip_relative", "reported 0x%lx", v);
    /* The guest sees exactly its own CR0 (reset value | PE | NE | PG) and CR4 (PAE). */
    v = 0;
    expect_out("long_mode_cr0_out", PORT_MODE, 4, &v);
    uint64_t cr4 = 0;
    expect_out("long_mode_cr4_out", PORT_MODE, 4, &cr4);
    s = get(HV_MTD_CR | HV_MTD_SEG);
    ktest_check(v == 0xe0000031 && cr4 == 0x20 && s.cr0 == v && s.cr4 == cr4 &&
                    (s.efer & EFER_LMA) && (s.cs.attr & 0x200),
                "long_mode_state", "guest cr0 0x%lx cr4 0x%lx, read cr0 0x%lx cr4 0x%lx efer 0x%lx cs.attr 0x%x",
                v, cr4, s.cr0, s.cr4, s.efer, s.cs.attr);
    /* #PF intercepted: vector, error code (not present, read, supervisor) and CR2 in w2. */
    vcpu_arch_set_exception_intercepts(&vcpu, 1u << 14);
    e = run(NULL);
    ktest_check(e.reason == HV_EXIT_EXCEPTION && e.qualification == 14 &&
                    e.address == GUEST_UNMAPPED_GVA,
                "pf_intercepted_with_cr2", "exit %s q 0x%lx address 0x%lx", reason_name(e.reason),
                e.qualification, e.address);
    vcpu_arch_set_exception_intercepts(&vcpu, 0);
    skip(2);                                /* movb (%rbx), %al */
    e = run(NULL);
    ktest_check(e.reason == HV_EXIT_HLT, "long_mode_hlt", "exit %s", reason_name(e.reason));
}

/*
 * The backend's shadow-paging obligations (vcpu_arch.h), without the core's vTLB: the
 * suite builds a 4-level shadow table mapping gva [0, GUEST_RAM_SIZE) 1:1 onto guest
 * RAM, switches the long-mode guest left by check_mode_switch to shadow mode and
 * checks what the core relies on: the guest reads its own CR0/CR4 (VMX: read shadows;
 * SVM: intercepted reads the suite answers), CR3 reads, CR0 writes and INVLPG exit as
 * HV_EXIT_CR_ACCESS / HV_EXIT_INVLPG, a #PF on an unmapped gva exits with the gva,
 * an injected #PF reaches the guest's handler with the CR2 and error code given; VMX
 * refuses a real-mode guest (no unrestricted guest without EPT); and nested paging
 * works again after shadow_mode(off).
 */
static uint64_t shadow_tables[4][512] __attribute__((aligned(4096)));

/* Offset of a label in a guest program (both symbols in the same assembled block). */
static uint64_t program_offset(const unsigned char *label, const unsigned char *start)
{
    return (uint64_t)((uintptr_t)label - (uintptr_t)start);
}

/* Runs, answering the CR reads an SVM backend intercepts; counts CR3 reads. */
static struct vcpu_exit run_answering_cr_reads(const uint64_t view[5], unsigned *cr3_reads)
{
    for (;;) {
        struct vcpu_exit e = run(NULL);
        if (e.reason != HV_EXIT_CR_ACCESS || (e.qualification & HV_CR_WRITE))
            return e;
        unsigned cr = (unsigned)(e.qualification & HV_CR_NUMBER_MASK);
        if (cr == 3)
            (*cr3_reads)++;
        struct hv_vcpu_state s = get(HV_MTD_GPR | HV_MTD_RSP_RIP_RFLAGS);
        s.rax = view[cr];                   /* movq %crN, %rax */
        s.rip += 3;
        put(&s, HV_MTD_GPR | HV_MTD_RSP_RIP_RFLAGS);
    }
}

static bool expect_shadow_out(const char *name, const uint64_t view[5], unsigned *cr3_reads,
                              uint64_t want)
{
    struct vcpu_exit e = run_answering_cr_reads(view, cr3_reads);
    struct hv_vcpu_state s = get(HV_MTD_GPR);
    bool io = e.reason == HV_EXIT_IO && (e.qualification & HV_IO_PORT_MASK) == PORT_SHADOW;
    ktest_check(io && (s.rax & 0xffffffffull) == (want & 0xffffffffull), name,
                "exit %s q 0x%lx rax 0x%lx want 0x%lx", reason_name(e.reason), e.qualification,
                s.rax, want);
    if (io)
        skip(e.instruction_length);
    return io;
}

static void check_shadow_backend(void)
{
    ktest_check(vcpu_arch_shadow_supported(), "shadow_supported", "backend %s", vcpu_arch_name());
    if (!vcpu_arch_shadow_supported())
        return;
    struct hv_vcpu_state before = get(HV_MTD_CR);
    /* The identity shadow: PML4 -> PDPT -> PD -> one PT of guest RAM (P, RW, US). */
    memset(shadow_tables, 0, sizeof(shadow_tables));
    for (unsigned i = 0; i < 3; i++)
        shadow_tables[i][0] = image_pa(shadow_tables[i + 1]) | 7u;
    for (uint64_t gva = 0; gva < GUEST_RAM_SIZE; gva += 4096)
        shadow_tables[3][gva >> 12] = image_pa(guest_ram + gva) | 7u;
    /* A 64-bit interrupt gate for #PF: selector 0x18 (the modes program's 64-bit CS). */
    uint64_t handler = GUEST_CODE_GPA + program_offset(vcpu_guest_shadow_pf, vcpu_guest_shadow);
    uint64_t *idt = (uint64_t *)(void *)(guest_ram + GUEST_SHADOW_IDT_GPA);
    const size_t pf_gate = (size_t)14 * 2;  /* 16-byte gates: two words each */
    memset(idt, 0, (size_t)256 * 16);
    idt[pf_gate] = (handler & 0xffff) | (0x18ull << 16) | (0x8e00ull << 32) |
                   ((handler >> 16 & 0xffff) << 48);
    idt[pf_gate + 1] = handler >> 32;
    load_program(vcpu_guest_shadow, vcpu_guest_shadow_end);

    /* Guest view: CR0 PG|ET|PE (no NE/WP), CR4 PAE|PGE, CR3 a value only the core knows. */
    const uint64_t view[5] = { 0x80000011ull, 0, 0, 0x12345000ull, 0xa0ull };
    vcpu_arch_shadow_mode(&vcpu, true);
    vcpu_arch_shadow_load(&vcpu, 0x80010031ull, 0x20ull, EFER_LME | EFER_LMA | EFER_NXE, view[0],
                          view[4]);
    vcpu_arch_set_shadow_root(&vcpu, image_pa(shadow_tables[0]));
    vcpu_arch_set_exception_intercepts(&vcpu, 1u << 14);
    vcpu_arch_flush_tlb(&vcpu);
    struct hv_vcpu_state s = get(HV_MTD_GPR | HV_MTD_RSP_RIP_RFLAGS | HV_MTD_SYS_SEG);
    s.rip = GUEST_CODE_GPA;
    s.rsp = GUEST_STACK_TOP;
    s.rflags = 2;
    s.rbx = view[0] ^ 8u;                   /* CR0.TS flipped */
    s.rcx = 0x2000;
    s.rdx = GUEST_SHADOW_HOLE_GVA;
    s.idtr.base = GUEST_SHADOW_IDT_GPA;
    s.idtr.limit = 256 * 16 - 1;
    put(&s, HV_MTD_GPR | HV_MTD_RSP_RIP_RFLAGS | HV_MTD_SYS_SEG);

    unsigned cr3_reads = 0;
    expect_shadow_out("shadow_cr0_read_is_guest_view", view, &cr3_reads, view[0]);
    expect_shadow_out("shadow_cr4_read_is_guest_view", view, &cr3_reads, view[4]);
    expect_shadow_out("shadow_cr3_read_value", view, &cr3_reads, view[3]);
    ktest_check(cr3_reads == 1, "shadow_cr3_read_exits", "%u CR3 read exits", cr3_reads);
    struct vcpu_exit e = run(NULL);
    ktest_check(e.reason == HV_EXIT_CR_ACCESS && e.qualification == HV_CR_WRITE /* CR0 */,
                "shadow_cr0_write_exits", "exit %s q 0x%lx", reason_name(e.reason), e.qualification);
    if (e.reason == HV_EXIT_CR_ACCESS)
        skip(3);                            /* movq %rbx, %cr0 */
    e = run(NULL);
    ktest_check(e.reason == HV_EXIT_INVLPG, "shadow_invlpg_exits", "exit %s q 0x%lx",
                reason_name(e.reason), e.qualification);
    if (e.reason == HV_EXIT_INVLPG)
        skip(3);                            /* invlpg (%rcx) */
    vcpu_arch_flush_tlb_gva(&vcpu, 0x2000);
    e = run(NULL);
    ktest_check(e.reason == HV_EXIT_EXCEPTION && e.qualification == 14 &&
                    e.address == GUEST_SHADOW_HOLE_GVA,
                "shadow_pf_exit_with_gva", "exit %s q 0x%lx address 0x%lx", reason_name(e.reason),
                e.qualification, e.address);
    /* The guest's own #PF (as the core injects one): CR2 and error code as given. */
    vcpu_arch_inject_exception(&vcpu, 14, true, 6, 0xdead000ull);
    expect_shadow_out("shadow_pf_injected_cr2", view, &cr3_reads, 0xdead000ull);
    expect_shadow_out("shadow_pf_injected_error", view, &cr3_reads, 6);
    e = run(NULL);
    ktest_check(e.reason == HV_EXIT_HLT, "shadow_hlt", "exit %s", reason_name(e.reason));

    if (vcpu_arch_backend() == VCPU_BACKEND_VMX) {
        /* Without EPT there is no unrestricted guest: CR0.PE = 0 must not enter. */
        vcpu_arch_shadow_load(&vcpu, 0x80010031ull, 0x20ull, EFER_NXE, 0x60000010ull, 0);
        e = run(NULL);
        ktest_check(e.reason == HV_EXIT_INVALID_STATE, "shadow_real_mode_refused_vmx",
                    "exit %s q 0x%lx", reason_name(e.reason), e.qualification);
    }

    /* Back to nested paging, as the core does at shadow_stop: the guest's CRs written. */
    vcpu_arch_shadow_mode(&vcpu, false);
    before.mtd = HV_MTD_CR;
    vcpu_arch_state_write(&vcpu, &before);
    vcpu_arch_set_nested_root(&vcpu, image_pa(nested[0]));
    vcpu_arch_set_exception_intercepts(&vcpu, 0);
    s = get(HV_MTD_RSP_RIP_RFLAGS);
    s.rip = GUEST_CODE_GPA + program_offset(vcpu_guest_shadow_pf, vcpu_guest_shadow) - 1; /* the hlt */
    put(&s, HV_MTD_RSP_RIP_RFLAGS);
    e = run(NULL);
    struct hv_vcpu_state after = get(HV_MTD_CR);
    ktest_check(e.reason == HV_EXIT_HLT && after.cr0 == before.cr0 && after.cr4 == before.cr4 &&
                    after.cr3 == before.cr3,
                "nested_after_shadow", "exit %s q 0x%lx cr0 0x%lx cr3 0x%lx cr4 0x%lx",
                reason_name(e.reason), e.qualification, after.cr0, after.cr3, after.cr4);
}

/*
 * Host NMIs during a guest again, under shadow paging: the long-mode loop on the
 * identity shadow table check_shadow_backend built, an IDT gate 2 that reports.
 * Returns false if CPU 1 may still be running the vCPU.
 */
static bool check_host_nmi_shadow(void)
{
    if (smp_online_count() < 2 || !vcpu_arch_shadow_supported()) {
        kprintf("vcpu: host NMIs under shadow paging not tested (%u CPUs, shadow %d)\n",
                smp_online_count(), vcpu_arch_shadow_supported());
        return true;
    }
    struct hv_vcpu_state before = get(HV_MTD_CR);
    uint64_t handler =
        GUEST_CODE_GPA + program_offset(vcpu_guest_nmi64_handler, vcpu_guest_nmi64);
    uint64_t *idt = (uint64_t *)(void *)(guest_ram + GUEST_SHADOW_IDT_GPA);
    const size_t nmi_gate = (size_t)EXC_NMI * 2;   /* 16-byte gates: two words each */
    memset(idt, 0, (size_t)256 * 16);
    idt[nmi_gate] = (handler & 0xffff) | (0x18ull << 16) | (0x8e00ull << 32) |
                    ((handler >> 16 & 0xffff) << 48);
    idt[nmi_gate + 1] = handler >> 32;
    load_program(vcpu_guest_nmi64, vcpu_guest_nmi64_end);
    vcpu_arch_shadow_mode(&vcpu, true);
    vcpu_arch_shadow_load(&vcpu, 0x80010031ull, 0x20ull, EFER_LME | EFER_LMA | EFER_NXE,
                          0x80000011ull, 0xa0ull);
    vcpu_arch_set_shadow_root(&vcpu, image_pa(shadow_tables[0]));
    vcpu_arch_flush_tlb(&vcpu);
    struct hv_vcpu_state s = get(HV_MTD_GPR | HV_MTD_RSP_RIP_RFLAGS | HV_MTD_SYS_SEG);
    s.rip = GUEST_CODE_GPA;
    s.rsp = GUEST_STACK_TOP;
    s.rflags = 2;
    s.idtr.base = GUEST_SHADOW_IDT_GPA;
    s.idtr.limit = 256 * 16 - 1;
    put(&s, HV_MTD_GPR | HV_MTD_RSP_RIP_RFLAGS | HV_MTD_SYS_SEG);
    vcpu_arch_release(&vcpu);
    if (!nmi_exercise(true))
        return false;
    /* Back to nested paging, the guest's CRs as they were. */
    vcpu_arch_shadow_mode(&vcpu, false);
    before.mtd = HV_MTD_CR;
    vcpu_arch_state_write(&vcpu, &before);
    vcpu_arch_set_nested_root(&vcpu, image_pa(nested[0]));
    return true;
}

/*
 * PAE guest under nested paging, CR3 written by the handler. VMX with EPT enters with
 * the PDPTEs in the VMCS (SDM 26.3.2.4), not those at CR3: the backend must load them
 * from guest memory when the handler changes CR3, or the guest keeps the old address
 * space. PDPT A and B share a page (PAE CR3 is 32-byte aligned) and map GUEST_PAE_GVA
 * to frames holding 0xaaaa and 0xbbbb. A PDPT at a gpa without a frame is a GPA exit
 * for that page (VMX: the backend's PDPTE load; SVM: the walk's first access).
 */
static bool pae_run(const char *out_name, const char *name, uint64_t cr3, uint64_t want)
{
    struct hv_vcpu_state s = get(HV_MTD_CR);
    s.cr3 = cr3;
    put(&s, HV_MTD_CR);
    uint64_t v = 0;
    bool ok = expect_out(out_name, PORT_PAE, 4, &v);
    ktest_check(ok && v == want, name, "read 0x%lx want 0x%lx", v, want);
    return ok;
}

static void check_pae_cr3(void)
{
    uint8_t *ram = guest_ram;
    uint64_t *pdpt = (uint64_t *)(void *)(ram + GUEST_PAE_PDPT_GPA);
    uint64_t *pd_a = (uint64_t *)(void *)(ram + 0x41000), *pd_b = (uint64_t *)(void *)(ram + 0x42000);
    uint64_t *pt_a = (uint64_t *)(void *)(ram + 0x43000), *pt_b = (uint64_t *)(void *)(ram + 0x44000);
    memset(ram + GUEST_PAE_PDPT_GPA, 0, 0x7000);
    pdpt[0] = 0x41000 | 1u;                 /* A: PDPTEs have P and the address only */
    pdpt[4] = 0x42000 | 1u;                 /* B, 32 bytes on */
    pd_a[0] = pd_b[0] = 0x83;               /* [0, 2 MiB) identity: code, stack */
    pd_a[1] = 0x43000 | 3u;
    pd_b[1] = 0x44000 | 3u;
    pt_a[0] = 0x45000 | 3u;
    pt_b[0] = 0x46000 | 3u;
    *(uint32_t *)(void *)(ram + 0x45000) = 0xaaaa;
    *(uint32_t *)(void *)(ram + 0x46000) = 0xbbbb;
    load_program(vcpu_guest_pae, vcpu_guest_pae_end);

    struct hv_vcpu_state s = get(HV_MTD_ALL);
    static const struct hv_segment code32 = { 0x08, 0xc9b, 0xffffffff, 0 };
    static const struct hv_segment data32 = { 0x10, 0xc93, 0xffffffff, 0 };
    s.cs = code32;
    s.ss = s.ds = s.es = s.fs = s.gs = data32;
    s.rip = GUEST_CODE_GPA;
    s.rsp = GUEST_STACK_TOP;
    s.rflags = 2;
    s.cr0 = 0x80000031ull;                  /* PG NE ET PE */
    s.cr4 = 0x20;                           /* PAE */
    s.efer = 0;
    s.cr3 = GUEST_PAE_PDPT_GPA;
    s.inject_event = 0;
    put(&s, HV_MTD_RSP_RIP_RFLAGS | HV_MTD_SEG | HV_MTD_CR);
    uint64_t v = 0;
    bool ok = expect_out("pae_out", PORT_PAE, 4, &v);
    ktest_check(ok && v == 0xaaaa, "pae_cr3_a", "read 0x%lx", v);
    if (!ok)
        return;
    pae_run("pae_out_b", "pae_cr3_b_by_handler", GUEST_PAE_PDPT_GPA + 32, 0xbbbb);
    pae_run("pae_out_a", "pae_cr3_a_by_handler", GUEST_PAE_PDPT_GPA, 0xaaaa);
    s = get(HV_MTD_CR);
    s.cr3 = GUEST_PAE_UNMAPPED_GPA;
    put(&s, HV_MTD_CR);
    struct vcpu_exit e = run(NULL);
    ktest_check(e.reason == HV_EXIT_GPA && (e.address & ~0xfffull) == GUEST_PAE_UNMAPPED_GPA,
                "pae_pdpt_unmapped_gpa_exit", "exit %s q 0x%lx address 0x%lx", reason_name(e.reason),
                e.qualification, e.address);
    pae_run("pae_out_after_gpa_exit", "pae_runs_after_gpa_exit", GUEST_PAE_PDPT_GPA + 32, 0xbbbb);
}

KTEST_SUITE(vcpu)
{
    (void)bi;
    enum vcpu_backend b = vcpu_arch_backend();
    ktest_check(b != VCPU_BACKEND_NONE, "backend_present", "no SVM or VMX backend");
    if (b == VCPU_BACKEND_NONE)
        return;
    kprintf("vcpu: testing backend %s, %lu bytes of pages\n", vcpu_arch_name(), vcpu_arch_pages());
    ktest_check(vcpu_arch_pages() <= BACKEND_PAGES_MAX && vcpu_arch_nested_paging(),
                "pages_fit_and_nested_paging", "%lu bytes, nested %d", vcpu_arch_pages(),
                vcpu_arch_nested_paging());
    if (vcpu_arch_pages() > BACKEND_PAGES_MAX || !vcpu_arch_nested_paging())
        return;

    bool mapped = true;
    for (uint64_t gpa = 0; gpa < GUEST_RAM_SIZE; gpa += 4096)
        mapped = mapped && nested_map(gpa, image_pa(guest_ram + gpa));
    mapped = mapped && nested_map(GUEST_RESET_PAGE_GPA, image_pa(reset_page));
    ktest_check(mapped, "nested_table_built", "table pool of %u exhausted", NESTED_TABLES);
    if (!mapped)
        return;
    /* At f000:fff0: jmp far 0000:GUEST_CODE_GPA. */
    static const uint8_t jump[5] = { 0xea, GUEST_CODE_GPA & 0xff, GUEST_CODE_GPA >> 8, 0, 0 };
    memcpy(reset_page + 0xff0, jump, sizeof(jump));
    load_program(vcpu_guest_main, vcpu_guest_main_end);

    vcpu_arch_setup(&vcpu, image_pa(backend_pages), 1);
    vcpu_arch_set_nested_root(&vcpu, image_pa(nested[0]));
    check_reset_state();
    check_main_program();
    bench_null_exit();
    check_round_trip();
    check_invalid_state();
    check_migration();
    if (!check_host_nmi()) {
        ktest_check(false, "vcpu_back_from_cpu1", "the NMI guest did not end: later checks skipped");
        return;
    }
    check_mode_switch();
    check_shadow_backend();
    if (!check_host_nmi_shadow()) {
        ktest_check(false, "vcpu_back_from_cpu1_shadow",
                    "the shadow NMI guest did not end: later checks skipped");
        return;
    }
    check_pae_cr3();
    vcpu_arch_release(&vcpu);
}
