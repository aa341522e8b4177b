/* SPDX-License-Identifier: MIT */
/* pagingtest: root task that runs guest_paging or guest_pfbench in a VM, nested or shadow as its "vmmode" module says. */
#include "hvu.h"
#include "hvu_vm.h"

#include "lib/kstring.h"
#include "../guests/guest_ports.h"

/*
 * The guest starts as QEMU's multiboot loader would start it (flat 32-bit protected
 * mode, paging off, EAX = multiboot magic) so the same bytes run bare and here. Its
 * PASS/FAIL lines become checks; its "TABLE:" line is echoed for the bare-vs-VM
 * comparison test; its last act (a page table outside guest memory) must end in a
 * GPA exit at that address, after which the vmm stops only that VM.
 * With a boot module "guest_pfbench" instead, it runs that benchmark guest (more guest
 * memory, its "PFBENCH" line echoed, an ordinary end at the exit port, a SchedContext
 * whose budget is its whole period so the vCPU never idles in a timed run).
 */

#define PAGE 4096ull
#define VM_VA 0x0000600000000000ull
#define VCPU_BITS 20u           /* 1 MiB: backend pages, shadow state, ~240 shadow tables */
#define GM_BITS 16u
#define VCPU_PRIORITY 100u
#define LINE_MAX 120u
#define MSR_EFER 0xc0000080u
#define MB_BOOT_MAGIC 0x2badb002u

static const struct hv_bootinfo *boot;
static uint64_t fault_ep, reply_obj;
static struct hvu_guest_report report;

/* What runs: guest_paging (the default) or guest_pfbench. */
struct guest_kind {
    const char *module;
    uint64_t end;               /* guest-physical [0, end) is backed */
    bool hostile_end;           /* ends in a GPA exit at GUEST_PAGING_HOSTILE_GPA */
    uint64_t budget_us, period_us;
};
static const struct guest_kind paging_guest = { "guest_paging", GUEST_PAGING_END, true, 5000, 10000 };
static const struct guest_kind pfbench_guest = { "guest_pfbench", GUEST_PFBENCH_END, false, 10000, 10000 };
static const struct guest_kind *guest = &paging_guest;

static uint64_t inv(uint64_t cap, uint64_t label, unsigned n, const uint64_t *args)
{
    return hvu_invoke(cap, label, n, args, NULL);
}

static void guest_line(const char *line)
{
    if (hvu_guest_line(&report, line))
        return;
    if (strncmp(line, "TABLE: ", 7) == 0 || strncmp(line, "PFBENCH ", 8) == 0)
        hvu_printf("%s\n", line);   /* TABLE: compared with the bare run's; PFBENCH: read by scripts/bench */
    else
        hvu_printf("guest: %s\n", line);
}

static uint64_t make_vm(uint64_t mode, uint64_t *vcpu_out, uint64_t *tcb_out, uint64_t *gm_out)
{
    uint64_t err;
    uint64_t gm = hvu_retype(HV_OBJ_GUEST_MEMORY, GM_BITS, &err);
    if (gm == 0)
        return err;
    for (uint64_t gfn = 0; gfn < guest->end / PAGE; gfn++) {
        uint64_t f = hvu_retype(HV_OBJ_FRAME, 0, &err);
        if (f == 0)
            return err;
        if ((err = hvu_map_frame_into(HV_ROOT_VSPACE, f, VM_VA + gfn * PAGE, 0)) != HV_OK)
            return err;
        memset((void *)(uintptr_t)(VM_VA + gfn * PAGE), 0, PAGE);
        uint64_t g;
        if ((err = hvu_copy(f, HV_RIGHTS_ALL, &g)) != HV_OK)
            return err;
        if ((err = inv(gm, HV_INV_GUEST_MEMORY_MAP, 3, (uint64_t[]){ g, gfn, HV_GUEST_RIGHTS_ALL })) != HV_OK)
            return err;
    }
    const uint8_t *bytes;
    uint64_t size;
    if ((err = hvu_map_module(boot, guest->module, &bytes, &size)) != HV_OK)
        return err;
    if (GUEST_PAGING_LOAD + size > guest->end)
        return HV_ERR_RANGE;
    memcpy((void *)(uintptr_t)(VM_VA + GUEST_PAGING_LOAD), bytes, size);

    uint64_t vcpu, tcb;
    if ((err = hvu_vcpu_create(gm, mode, VCPU_BITS, fault_ep, VCPU_PRIORITY, &vcpu, &tcb)) != HV_OK)
        return err;
    /* The multiboot hand-off state. */
    if ((err = hvu_vcpu_set_flat32(vcpu, GUEST_PAGING_ENTRY, 0, MB_BOOT_MAGIC)) != HV_OK)
        return err;
    /* EFER exits (nested mode) need the CRs; nothing else does. */
    uint64_t msr_mtd = HV_MTD_GPR | HV_MTD_RSP_RIP_RFLAGS | HV_MTD_CR;
    (void)inv(vcpu, HV_INV_VCPU_SET_TRANSFER, 2, (uint64_t[]){ HV_EXIT_MSR_READ, msr_mtd });
    (void)inv(vcpu, HV_INV_VCPU_SET_TRANSFER, 2, (uint64_t[]){ HV_EXIT_MSR_WRITE, msr_mtd });
    *vcpu_out = vcpu;
    *tcb_out = tcb;
    *gm_out = gm;
    return HV_OK;
}

static void reply(uint64_t label, uint64_t mtd)
{
    hvu_exit_state()->mtd = mtd;
    struct hv_msg m = hvu_resume_msg();
    if (label == HV_FAULT_STOP)
        m = (struct hv_msg){ hv_tag(HV_FAULT_STOP, 0, 0), 0, { 0, 0, 0, 0 } };
    (void)hv_send(reply_obj, &m);
}

static void cpuid_answer(struct hv_vcpu_state *s)
{
    uint32_t a = (uint32_t)s->rax, b, c = (uint32_t)s->rcx, d;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    s->rax = a;
    s->rbx = b;
    s->rcx = c;
    s->rdx = d;
}

/*
 * What the guest's exits became (VCPU_READ_COUNTERS): the messages agree with what this
 * handler received; shadow mode finishes the guest's page faults and CR accesses in the
 * core, nested mode nothing. The share of exits needing service that the core resolved
 * itself is printed as a BENCH figure (counts, not time: the same under -icount or not).
 */
static void exit_counters(uint64_t vcpu, uint64_t mode, const uint64_t *seen)
{
    struct hv_vcpu_counters c;
    uint64_t totals[4];
    uint64_t err = hvu_vcpu_counters(vcpu, &c, totals);
    bool same = err == HV_OK;
    for (unsigned r = 0; same && r < HV_EXIT_REASON_COUNT; r++)
        same = c.messages[r] == seen[r];
    hvu_check(same, "vmm.paging_counters_match_messages", "err %lu messages %lu", err, totals[2]);
    hvu_printf("pagingtest: %s exits %lu (host %lu), resolved in core %lu, messages %lu\n",
               mode == HV_VCPU_MODE_SHADOW ? "shadow" : "nested", totals[0], totals[3], totals[1], totals[2]);
    for (unsigned r = 1; err == HV_OK && r < HV_EXIT_REASON_COUNT; r++) {
        if (c.exits[r] != 0 || c.messages[r] != 0)
            hvu_printf("pagingtest:   reason %2u: exits %lu resolved %lu messages %lu\n", r, c.exits[r],
                       c.resolved[r], c.messages[r]);
    }
    if (mode == HV_VCPU_MODE_SHADOW) {
        hvu_check(err == HV_OK && c.resolved[HV_EXIT_EXCEPTION] > 0 && c.resolved[HV_EXIT_CR_ACCESS] > 0 &&
                      c.messages[HV_EXIT_EXCEPTION] == 0,
                  "vmm.paging_shadow_resolved_in_core", "#PF %lu CR %lu, #PF messages %lu",
                  c.resolved[HV_EXIT_EXCEPTION], c.resolved[HV_EXIT_CR_ACCESS], c.messages[HV_EXIT_EXCEPTION]);
        uint64_t served = totals[1] + totals[2];
        if (err == HV_OK && served != 0)
            hvu_printf("BENCH exits_resolved_in_core_pct %lu pct\n", (totals[1] * 100u + served / 2u) / served);
    } else {
        hvu_check(err == HV_OK && totals[1] == 0, "vmm.paging_nested_resolves_nothing", "resolved %lu", totals[1]);
    }
}

static void run(uint64_t mode)
{
    uint64_t vcpu = 0, tcb = 0, gm = 0;
    uint64_t err = make_vm(mode, &vcpu, &tcb, &gm);
    hvu_check(err == HV_OK, "vmm.paging_vm_created", "err %lu", err);
    if (err != HV_OK)
        return;
    uint64_t sc = hvu_retype(HV_OBJ_SCHED_CONTEXT, 0, &err);
    (void)inv(sc, HV_INV_SC_CONFIGURE, 3, (uint64_t[]){ guest->budget_us, guest->period_us, 0 });
    (void)inv(sc, HV_INV_SC_BIND, 1, (uint64_t[]){ tcb });
    err = inv(tcb, HV_INV_TCB_RESUME, 0, NULL);
    hvu_check(err == HV_OK, "vmm.paging_vm_started", "err %lu", err);

    char line[LINE_MAX];
    unsigned len = 0, exits = 0;
    bool finished = false, hostile_gpa = false;
    struct hv_msg m;
    uint64_t seen[HV_EXIT_REASON_COUNT];
    memset(seen, 0, sizeof(seen));
    while (!finished) {
        m = (struct hv_msg){ 0, 0, { 0, 0, 0, 0 } };
        if (hv_recv(fault_ep, reply_obj, &m) != HV_OK || hv_tag_label(m.tag) != HV_FAULT_VM_EXIT) {
            hvu_check(false, "vmm.paging_exit_message", "label %lu", hv_tag_label(m.tag));
            return;
        }
        exits++;
        struct hv_vcpu_state *s = hvu_exit_state();
        uint64_t reason = m.w[0], q = m.w[1];
        if (reason < HV_EXIT_REASON_COUNT)
            seen[reason]++;
        uint64_t mtd = HV_MTD_GPR | HV_MTD_RSP_RIP_RFLAGS;
        switch (reason) {
        case HV_EXIT_IO: {
            uint64_t port = q & HV_IO_PORT_MASK;
            if (port == GUEST_PORT_COM1 && !(q & HV_IO_IN)) {
                if (hvu_guest_byte(line, &len, LINE_MAX, (char)(s->rax & 0xff)))
                    guest_line(line);
            } else if (port == GUEST_PORT_COM1_LCR && !(q & HV_IO_IN)) {
                /* 8N1 for a bare UART: nothing to do here */
            } else if (port == GUEST_PORT_COM1_LSR && (q & HV_IO_IN)) {
                s->rax = (s->rax & ~0xffull) | GUEST_COM1_LSR_THRE | GUEST_COM1_LSR_TEMT;  /* always ready */
            } else if (port == GUEST_PORT_EXIT && !(q & HV_IO_IN)) {
                if (guest->hostile_end)
                    hvu_check(false, "vmm.paging_hostile_table_exit", "the guest finished without a GPA exit");
                else
                    hvu_check((s->rax & 0xff) == GUEST_EXIT_VALUE, "vmm.paging_guest_exit", "value 0x%lx",
                              s->rax & 0xff);
                finished = true;
            } else {
                hvu_check(false, "vmm.paging_io_port", "qual 0x%lx", q);
                finished = true;
            }
            s->rip += m.w[3];
            break;
        }
        case HV_EXIT_CPUID:
            cpuid_answer(s);
            s->rip += 2;
            break;
        case HV_EXIT_MSR_READ:
        case HV_EXIT_MSR_WRITE:
            /* Shadow mode: the core owns EFER, so no EFER exit may arrive. */
            if ((s->rcx & 0xffffffffu) != MSR_EFER || mode == HV_VCPU_MODE_SHADOW) {
                hvu_check(false, "vmm.paging_msr_exit", "msr 0x%lx mode %lu", s->rcx, mode);
                finished = true;
                break;
            }
            if (reason == HV_EXIT_MSR_READ) {
                s->rax = s->efer & 0xffffffffu;
                s->rdx = s->efer >> 32;
            } else {
                s->efer = ((s->rdx << 32) | (s->rax & 0xffffffffu)) | (s->efer & (1u << 10));
                mtd |= HV_MTD_CR;
            }
            s->rip += 2;
            break;
        case HV_EXIT_GPA:
            /* The hostile table: only this VM stops. */
            hostile_gpa = guest->hostile_end && (m.w[2] & ~(PAGE - 1)) == GUEST_PAGING_HOSTILE_GPA;
            hvu_check(hostile_gpa, "vmm.paging_hostile_table_gpa_exit", "gpa 0x%lx access 0x%lx", m.w[2], q);
            finished = true;
            break;
        default:
            hvu_check(false, "vmm.paging_expected_exit", "reason %lu qual 0x%lx addr 0x%lx", reason, q, m.w[2]);
            finished = true;
            break;
        }
        reply(finished ? HV_FAULT_STOP : HV_VCPU_REPLY_RESUME, mtd);
    }
    hvu_check(report.summary_seen && report.fails == 0 && report.passes >= (guest->hostile_end ? 10u : 2u),
              "vmm.paging_guest_ran",
              "summary %d passes %u fails %u exits %u", report.summary_seen, report.passes, report.fails, exits);
    /* The stopped VM can be inspected; the core goes on. */
    struct hv_vcpu_state st;
    err = hvu_vcpu_read(vcpu, HV_MTD_CR | HV_MTD_RSP_RIP_RFLAGS, &st);
    hvu_check(err == HV_OK && (st.efer & (1u << 10)) && (st.cr0 & 0x80000000u), "vmm.paging_vm_stopped_state",
              "err %lu efer 0x%lx cr0 0x%lx", err, st.efer, st.cr0);
    if (mode == HV_VCPU_MODE_SHADOW)
        hvu_check(st.cr3 != 0 && st.cr3 < guest->end, "vmm.paging_shadow_guest_cr3",
                  "cr3 0x%lx (the guest's, not the shadow root)", st.cr3);
    exit_counters(vcpu, mode, seen);
}

void user_main(const struct hv_bootinfo *bi);

void user_main(const struct hv_bootinfo *bi)
{
    boot = bi;
    hvu_init_ep_reply(bi, &fault_ep, &reply_obj);
    const uint8_t *bytes;
    uint64_t size;
    uint64_t mode = HV_VCPU_MODE_NESTED;
    if (hvu_map_module(bi, "vmmode", &bytes, &size) == HV_OK && size >= 6 && memcmp(bytes, "shadow", 6) == 0)
        mode = HV_VCPU_MODE_SHADOW;
    if (hvu_map_module(bi, pfbench_guest.module, &bytes, &size) == HV_OK)
        guest = &pfbench_guest;
    hvu_printf("pagingtest: %s in %s mode\n", guest->module, mode == HV_VCPU_MODE_SHADOW ? "shadow" : "nested");
    run(mode);
    hvu_finish();
}
