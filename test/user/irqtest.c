/* SPDX-License-Identifier: MIT */
/* irqtest: the root task of the IRQ handler tests: the PIT's ISA IRQ 0 through the I/O APIC as notification signals. */
#include "hvu.h"

#define PIT_FIRST_PORT 0x40u
#define PIT_CH0 0x40u
#define PIT_CMD 0x43u
#define PIT_HZ 1193182u
#define PIT_RATE_HZ 100u
#define PIT_RELOAD (PIT_HZ / PIT_RATE_HZ)
#define PIT_CMD_CH0_RATE 0x34u      /* channel 0, lobyte/hibyte, mode 2 (rate generator), binary */
#define PIT_CMD_LATCH_CH0 0x00u
#define PIT_IRQ 0u
#define PIT_GSI_EXPECTED 2u         /* QEMU's and Bochs's MADT move ISA IRQ 0 to GSI 2 */
#define UNBADGED_BITS (1ull << PIT_IRQ)
#define TEST_BADGE 0x80ull
#define QUIET_PERIODS 5u            /* PIT periods watched for a signal that must not come */
#define COUNTED_WAITS 20u
#define PREEMPT_WAITS 5u
#define POLLS_PER_PERIOD_LIMIT 200000u
#define BAD_IRQ_GSI_LIMIT 64u       /* first number the core does not accept */
#define SPINNER_PRIORITY 50u

static uint64_t pit_cap;
static uint64_t ntfn;

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static uint64_t port_in8(uint64_t port)
{
    uint64_t args[2] = { port, 1 };
    struct hv_msg out;
    if (hvu_invoke(pit_cap, HV_INV_IOPORT_IN, 2, args, &out) != HV_OK)
        return 0;
    return out.w[0] & 0xffu;
}

static void port_out8(uint64_t port, uint64_t v)
{
    uint64_t args[3] = { port, 1, v };
    (void)hvu_invoke(pit_cap, HV_INV_IOPORT_OUT, 3, args, NULL);
}

static void pit_start(void)
{
    port_out8(PIT_CMD, PIT_CMD_CH0_RATE);
    port_out8(PIT_CH0, PIT_RELOAD & 0xffu);
    port_out8(PIT_CH0, PIT_RELOAD >> 8);
}

static uint64_t pit_count(void)
{
    port_out8(PIT_CMD, PIT_CMD_LATCH_CH0);
    uint64_t lo = port_in8(PIT_CH0);
    return lo | (port_in8(PIT_CH0) << 8);
}

/*
 * Watches channel 0's counter (it counts down and reloads once per period) until it
 * has reloaded `n` times after the first reload: n whole periods. Returns the TSC
 * cycles they took, or 0 if the counter stopped moving (the PIT is not running).
 */
static uint64_t pit_periods(unsigned n)
{
    uint64_t prev = pit_count(), start = 0;
    unsigned wraps = 0;
    for (uint64_t polls = 0; polls < (uint64_t)(n + 1) * POLLS_PER_PERIOD_LIMIT; polls++) {
        uint64_t cur = pit_count();
        if (cur > prev) {
            if (wraps == 0)
                start = rdtsc();
            if (wraps++ == n)
                return rdtsc() - start;
        }
        prev = cur;
    }
    return 0;
}

static uint64_t irq_get(uint64_t irq, uint64_t slot, uint64_t *gsi)
{
    uint64_t args[4] = { irq, HV_ROOT_CNODE, slot, 64 };
    struct hv_msg out;
    uint64_t err = hvu_invoke(HV_ROOT_IRQ_CONTROL, HV_INV_IRQ_CONTROL_GET, 4, args, &out);
    if (gsi != NULL)
        *gsi = err == HV_OK ? out.w[0] : ~0ull;
    return err;
}

static uint64_t set_ntfn(uint64_t handler, uint64_t n)
{
    uint64_t args[1] = { n };
    return hvu_invoke(handler, HV_INV_IRQ_HANDLER_SET_NOTIFICATION, 1, args, NULL);
}

static uint64_t ack(uint64_t handler)
{
    return hvu_invoke(handler, HV_INV_IRQ_HANDLER_ACK, 0, NULL, NULL);
}

static uint64_t clear(uint64_t handler)
{
    return hvu_invoke(handler, HV_INV_IRQ_HANDLER_CLEAR, 0, NULL, NULL);
}

static uint64_t drain(uint64_t n)
{
    uint64_t bits = 0;
    (void)hv_poll(n, &bits);
    return bits;
}

/* Drains `n`, lets QUIET_PERIODS PIT periods pass, and returns what arrived meanwhile. */
static uint64_t bits_over_quiet_periods(uint64_t n, uint64_t *pit_cycles)
{
    (void)drain(n);
    *pit_cycles = pit_periods(QUIET_PERIODS);
    return drain(n);
}

static void test_setup(void)
{
    pit_cap = hvu_alloc_slot();
    uint64_t args[5] = { PIT_FIRST_PORT, PIT_CMD, HV_ROOT_CNODE, pit_cap, 64 };
    uint64_t err = hvu_invoke(HV_ROOT_IOPORT_CONTROL, HV_INV_IOPORT_CONTROL_ISSUE, 5, args, NULL);
    hvu_check(err == HV_OK, "irq.pit_ports_issued", "error %lu", err);
    pit_start();
    uint64_t cycles = pit_periods(3);
    hvu_check(cycles != 0, "irq.pit_runs", "channel 0 counter does not move");
    ntfn = hvu_retype(HV_OBJ_NOTIFICATION, 0, &err);
    hvu_check(ntfn != 0, "irq.notification", "error %lu", err);
}

static void test_get_errors(uint64_t handler, uint64_t gsi)
{
    uint64_t err, other = hvu_alloc_slot();
    err = irq_get(PIT_IRQ, other, NULL);
    hvu_check(err == HV_ERR_ILLEGAL_OPERATION, "irq.second_get_refused", "error %lu", err);
    err = hvu_invoke(other, HV_INV_IRQ_HANDLER_ACK, 0, NULL, NULL);
    hvu_check(err == HV_ERR_EMPTY_SLOT, "irq.second_get_left_slot_empty", "error %lu", err);

    static const uint64_t bad[] = { BAD_IRQ_GSI_LIMIT, 1000, ~0ull };
    bool range_ok = true;
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = irq_get(bad[i], other, NULL);
        if (err != HV_ERR_RANGE) {
            range_ok = false;
            hvu_printf("irqtest: GET(%lu) returned %lu\n", bad[i], err);
        }
    }
    hvu_check(range_ok, "irq.bad_irq_number", "see above");
    if (gsi == PIT_GSI_EXPECTED) {
        /* ISA IRQ 2's input now carries IRQ 0: it has no line of its own. */
        err = irq_get(2, other, NULL);
        hvu_check(err == HV_ERR_RANGE, "irq.overridden_isa_pin_has_no_line", "error %lu", err);
    }

    uint64_t args[4] = { 1, HV_ROOT_CNODE, other, 64 };
    err = hvu_invoke(HV_ROOT_IRQ_CONTROL, HV_INV_IRQ_CONTROL_GET, 3, args, NULL);
    hvu_check(err == HV_ERR_TRUNCATED, "irq.get_truncated", "error %lu", err);
    args[1] = ntfn;
    err = hvu_invoke(HV_ROOT_IRQ_CONTROL, HV_INV_IRQ_CONTROL_GET, 4, args, NULL);
    hvu_check(err == HV_ERR_WRONG_TYPE, "irq.get_dest_not_a_cnode", "error %lu", err);
    args[1] = HV_ROOT_CNODE;
    args[3] = 0;
    err = hvu_invoke(HV_ROOT_IRQ_CONTROL, HV_INV_IRQ_CONTROL_GET, 4, args, NULL);
    hvu_check(err == HV_ERR_RANGE, "irq.get_bad_depth", "error %lu", err);
    /* Into an occupied slot: IRQ 1 stays free. */
    err = irq_get(1, ntfn, NULL);
    hvu_check(err == HV_ERR_SLOT_OCCUPIED, "irq.get_into_occupied_slot", "error %lu", err);
    uint64_t kbd_gsi;
    err = irq_get(1, other, &kbd_gsi);
    hvu_check(err == HV_OK && kbd_gsi != gsi, "irq.failed_get_changed_nothing", "error %lu gsi %lu", err, kbd_gsi);
    (void)hvu_delete(other);

    /* Labels on the wrong kind of cap. */
    err = hvu_invoke(handler, HV_INV_IRQ_CONTROL_GET, 4, args, NULL);
    hvu_check(err == HV_ERR_UNKNOWN_INVOCATION, "irq.get_on_handler_cap", "error %lu", err);
    err = hvu_invoke(HV_ROOT_IRQ_CONTROL, HV_INV_IRQ_HANDLER_ACK, 0, NULL, NULL);
    hvu_check(err == HV_ERR_UNKNOWN_INVOCATION, "irq.ack_on_control_cap", "error %lu", err);
    err = hvu_invoke(pit_cap, HV_INV_IRQ_HANDLER_ACK, 0, NULL, NULL);
    hvu_check(err == HV_ERR_UNKNOWN_INVOCATION, "irq.ack_on_ioport_cap", "error %lu", err);
    err = hvu_invoke(handler, HV_INV_IOPORT_IN, 0, NULL, NULL);
    hvu_check(err == HV_ERR_UNKNOWN_INVOCATION, "irq.unknown_label_on_handler", "error %lu", err);
}

static void test_handler_errors(uint64_t handler)
{
    uint64_t err = ack(handler);
    hvu_check(err == HV_ERR_ILLEGAL_OPERATION, "irq.ack_without_binding", "error %lu", err);
    err = hvu_invoke(handler, HV_INV_IRQ_HANDLER_SET_NOTIFICATION, 0, NULL, NULL);
    hvu_check(err == HV_ERR_TRUNCATED, "irq.set_notification_truncated", "error %lu", err);
    uint64_t ep = hvu_retype(HV_OBJ_ENDPOINT, 0, NULL);
    err = set_ntfn(handler, ep);
    hvu_check(err == HV_ERR_WRONG_TYPE, "irq.set_notification_with_endpoint", "error %lu", err);
    err = set_ntfn(handler, HV_ROOT_TCB);
    hvu_check(err == HV_ERR_WRONG_TYPE, "irq.set_notification_with_tcb", "error %lu", err);
    err = set_ntfn(handler, hvu_alloc_slot());
    hvu_check(err == HV_ERR_EMPTY_SLOT, "irq.set_notification_empty_slot", "error %lu", err);
    uint64_t ro_ntfn;
    (void)hvu_copy(ntfn, HV_RIGHT_READ, &ro_ntfn);
    err = set_ntfn(handler, ro_ntfn);
    hvu_check(err == HV_ERR_INSUFFICIENT_RIGHTS, "irq.set_notification_needs_write", "error %lu", err);
    uint64_t ro_handler;
    err = hvu_copy(handler, HV_RIGHT_READ, &ro_handler);
    uint64_t e1 = set_ntfn(ro_handler, ntfn), e2 = ack(ro_handler), e3 = clear(ro_handler);
    hvu_check(err == HV_OK && e1 == HV_ERR_INSUFFICIENT_RIGHTS && e2 == HV_ERR_INSUFFICIENT_RIGHTS &&
                  e3 == HV_ERR_INSUFFICIENT_RIGHTS,
              "irq.read_only_handler_cannot_configure", "copy %lu set %lu ack %lu clear %lu", err, e1, e2, e3);
    (void)hvu_delete(ro_handler);
    err = ack(handler);
    hvu_check(err == HV_ERR_ILLEGAL_OPERATION, "irq.failed_binds_bound_nothing", "error %lu", err);
    (void)hvu_delete(ep);
    (void)hvu_delete(ro_ntfn);
}

static void test_delivery(uint64_t handler)
{
    uint64_t cycles, bits;
    uint64_t err = set_ntfn(handler, ntfn);
    hvu_check(err == HV_OK, "irq.set_notification", "error %lu", err);
    bits = bits_over_quiet_periods(ntfn, &cycles);
    hvu_check(cycles != 0 && bits == 0, "irq.masked_until_first_ack", "pit %lu bits 0x%lx", cycles, bits);

    err = ack(handler);
    uint64_t werr = hv_wait(ntfn, &bits);
    hvu_check(err == HV_OK && werr == HV_OK && bits == UNBADGED_BITS, "irq.signal_after_ack",
              "ack %lu wait %lu bits 0x%lx", err, werr, bits);

    /* COUNTED_WAITS interrupts, each acknowledged; the CPU idles in between. */
    unsigned got = 0, wrong = 0, ack_errors = 0;
    (void)ack(handler);
    (void)hv_wait(ntfn, &bits);    /* in step with the PIT from here */
    uint64_t t0 = rdtsc();
    for (unsigned i = 0; i < COUNTED_WAITS; i++) {
        if (ack(handler) != HV_OK)
            ack_errors++;
        werr = hv_wait(ntfn, &bits);
        if (werr == HV_OK && bits == UNBADGED_BITS)
            got++;
        else
            wrong++;
    }
    uint64_t irq_cycles = rdtsc() - t0;
    hvu_check(got == COUNTED_WAITS && wrong == 0 && ack_errors == 0, "irq.counted_signals",
              "%u of %u signals, %u wrong, %u ack errors", got, COUNTED_WAITS, wrong, ack_errors);
    uint64_t pit_cycles = pit_periods(COUNTED_WAITS);
    hvu_printf("irqtest: %u interrupts took %lu TSC cycles, %u polled PIT periods %lu\n", COUNTED_WAITS,
               irq_cycles, COUNTED_WAITS, pit_cycles);
    hvu_check(pit_cycles != 0 && irq_cycles * 2 >= pit_cycles && irq_cycles <= pit_cycles * 2,
              "irq.rate_matches_pit", "irq %lu cycles, pit %lu cycles", irq_cycles, pit_cycles);

    /* A badged notification cap: its badge is what arrives. */
    uint64_t badged;
    (void)hvu_mint(ntfn, HV_RIGHT_WRITE, TEST_BADGE, &badged);
    err = set_ntfn(handler, badged);
    (void)drain(ntfn);
    werr = hv_wait(ntfn, &bits);
    hvu_check(err == HV_OK && werr == HV_OK && bits == TEST_BADGE, "irq.badge_of_bound_cap",
              "set %lu wait %lu bits 0x%lx", err, werr, bits);

    err = clear(handler);
    bits = bits_over_quiet_periods(ntfn, &cycles);
    uint64_t aerr = ack(handler);
    hvu_check(err == HV_OK && cycles != 0 && bits == 0 && aerr == HV_ERR_ILLEGAL_OPERATION,
              "irq.clear_stops_delivery", "clear %lu pit %lu bits 0x%lx ack %lu", err, cycles, bits, aerr);
    err = set_ntfn(handler, ntfn);
    bits = bits_over_quiet_periods(ntfn, &cycles);
    hvu_check(err == HV_OK && bits == 0, "irq.rebound_line_stays_masked_until_ack", "set %lu bits 0x%lx", err, bits);
    err = ack(handler);
    werr = hv_wait(ntfn, &bits);
    hvu_check(err == HV_OK && werr == HV_OK && bits == UNBADGED_BITS, "irq.rebind_after_clear",
              "ack %lu wait %lu bits 0x%lx", err, werr, bits);
    (void)hvu_delete(badged);
}

static volatile uint64_t spin_count;

static void spinner(uint64_t arg)
{
    (void)arg;
    for (;;)
        spin_count++;
}

/* The interrupt arrives while a lower-priority thread runs: the woken root preempts it. */
static void test_preemption(uint64_t handler)
{
    struct hvu_thread s;
    uint64_t err = hvu_thread_start(&s, spinner, 0, SPINNER_PRIORITY, 0, 10000, 10000);
    unsigned got = 0;
    uint64_t bits;
    (void)drain(ntfn);
    for (unsigned i = 0; i < PREEMPT_WAITS; i++) {
        (void)ack(handler);
        if (hv_wait(ntfn, &bits) == HV_OK && bits == UNBADGED_BITS)
            got++;
    }
    uint64_t spun = spin_count;
    (void)hvu_invoke(s.tcb, HV_INV_TCB_SUSPEND, 0, NULL, NULL);
    hvu_check(err == HV_OK && got == PREEMPT_WAITS && spun > 0, "irq.wakes_over_running_thread",
              "start %lu, %u of %u signals, spinner ran %lu", err, got, PREEMPT_WAITS, spun);
}

/* The bound notification's own caps go away: the line stays safe. */
static void test_notification_lifetime(uint64_t handler)
{
    uint64_t err, bits, cycles;
    /* Revoking the cap the binding was derived from removes the binding. */
    uint64_t n2 = hvu_retype(HV_OBJ_NOTIFICATION, 0, &err), n2_copy;
    (void)hvu_copy(n2, HV_RIGHTS_ALL, &n2_copy);
    err = set_ntfn(handler, n2_copy);
    uint64_t rerr = hvu_revoke(n2);
    uint64_t aerr = ack(handler);
    hvu_check(err == HV_OK && rerr == HV_OK && aerr == HV_ERR_ILLEGAL_OPERATION,
              "irq.revoked_notification_unbinds", "set %lu revoke %lu ack %lu", err, rerr, aerr);
    (void)hvu_delete(n2);

    /* Deleting the only user cap of a bound notification: the core's copy keeps it alive. */
    uint64_t n3 = hvu_retype(HV_OBJ_NOTIFICATION, 0, &err);
    err = set_ntfn(handler, n3);
    uint64_t derr = hvu_delete(n3);
    aerr = ack(handler);
    cycles = pit_periods(QUIET_PERIODS);   /* interrupts keep signalling the orphan */
    uint64_t serr = set_ntfn(handler, ntfn);   /* drops the core's copy: the orphan is finalized */
    (void)drain(ntfn);
    uint64_t werr = hv_wait(ntfn, &bits);
    hvu_check(err == HV_OK && derr == HV_OK && aerr == HV_OK && cycles != 0 && serr == HV_OK &&
                  werr == HV_OK && bits == UNBADGED_BITS,
              "irq.deleted_bound_notification_is_safe", "set %lu delete %lu ack %lu rebind %lu wait %lu bits 0x%lx",
              err, derr, aerr, serr, werr, bits);
}

/* Copies of the handler cap keep the line; deleting the last one stops it and frees it. */
static void test_handler_lifetime(uint64_t handler)
{
    uint64_t bits, cycles, copy;
    uint64_t err = hvu_copy(handler, HV_RIGHTS_ALL, &copy);
    uint64_t derr = hvu_delete(handler);
    (void)drain(ntfn);
    (void)ack(copy);
    uint64_t werr = hv_wait(ntfn, &bits);
    hvu_check(err == HV_OK && derr == HV_OK && werr == HV_OK && bits == UNBADGED_BITS, "irq.copy_keeps_line",
              "copy %lu delete %lu wait %lu bits 0x%lx", err, derr, werr, bits);
    uint64_t other = hvu_alloc_slot();
    err = irq_get(PIT_IRQ, other, NULL);
    hvu_check(err == HV_ERR_ILLEGAL_OPERATION, "irq.get_refused_while_a_copy_lives", "error %lu", err);

    derr = hvu_delete(copy);
    bits = bits_over_quiet_periods(ntfn, &cycles);
    hvu_check(derr == HV_OK && cycles != 0 && bits == 0, "irq.delete_stops_delivery",
              "delete %lu pit %lu (PIT still running) bits 0x%lx", derr, cycles, bits);

    /* The line is free again, masked and unbound. */
    uint64_t gsi;
    err = irq_get(PIT_IRQ, other, &gsi);
    uint64_t aerr = ack(other);
    hvu_check(err == HV_OK && aerr == HV_ERR_ILLEGAL_OPERATION, "irq.line_free_after_delete",
              "get %lu ack %lu", err, aerr);
    /* A revoke of the IRQControl cap removes every handler cap derived from it. */
    uint64_t copy2;
    (void)hvu_copy(other, HV_RIGHTS_ALL, &copy2);
    uint64_t rerr = hvu_revoke(HV_ROOT_IRQ_CONTROL);
    uint64_t e1 = ack(other), e2 = ack(copy2);
    err = irq_get(PIT_IRQ, other, NULL);
    hvu_check(rerr == HV_OK && e1 == HV_ERR_EMPTY_SLOT && e2 == HV_ERR_EMPTY_SLOT && err == HV_OK,
              "irq.revoke_control_removes_handlers", "revoke %lu ack %lu/%lu get again %lu", rerr, e1, e2, err);
    (void)hvu_delete(other);
}

void user_main(const struct hv_bootinfo *bi);

void user_main(const struct hv_bootinfo *bi)
{
    hvu_init(bi);
    hvu_printf("irqtest: root task running\n");
    test_setup();
    uint64_t handler = hvu_alloc_slot(), gsi;
    uint64_t err = irq_get(PIT_IRQ, handler, &gsi);
    hvu_printf("irqtest: ISA IRQ %u is GSI %lu\n", PIT_IRQ, gsi);
    hvu_check(err == HV_OK, "irq.get_handler", "error %lu", err);
    hvu_check(gsi == PIT_GSI_EXPECTED, "irq.isa_irq0_overridden_to_gsi2", "GSI %lu", gsi);
    if (err != HV_OK)
        hvu_finish();
    test_get_errors(handler, gsi);
    test_handler_errors(handler);
    test_delivery(handler);
    test_preemption(handler);
    test_notification_lifetime(handler);
    test_handler_lifetime(handler);
    hvu_finish();
}
