/* SPDX-License-Identifier: MIT */
/* test_vmm_lapic.c: the local APIC (servers/vmm/devices/lapic.c) against the Intel SDM Vol. 3A chapter 11 (xAPIC). */
#include "vmm_test.h"

#include "lapic.h"

static struct vlapic L;
static struct apic_msg sent[8];
static unsigned nsent;
static uint8_t eoi_vectors[8];
static unsigned neoi;

static void record(void *ctx, const struct apic_msg *m)
{
    (void)ctx;
    if (nsent < 8)
        sent[nsent] = *m;
    nsent++;
}

static void record_eoi(void *ctx, uint8_t v)
{
    (void)ctx;
    if (neoi < 8)
        eoi_vectors[neoi] = v;
    neoi++;
}

static uint32_t rd(unsigned off)
{
    return (uint32_t)vlapic_bus_read(&L, 0, VLAPIC_BASE + off, 4);
}

static void wr(unsigned off, uint32_t v)
{
    vlapic_bus_write(&L, 0, VLAPIC_BASE + off, 4, v);
}

static void fixed(uint8_t vector, bool level)
{
    struct apic_msg m = { .vector = vector, .delivery = APIC_DM_FIXED, .level = level, .assert = true };
    vlapic_accept(&L, &m);
}

static int setup(void **state)
{
    (void)state;
    test_reset_common();
    nsent = neoi = 0;
    vlapic_init(&L, 0, 3, true, &test_clock, (struct apic_bus){ record, 0 }, record_eoi, 0);
    return 0;
}

static void enable(void)
{
    wr(0xf0, 0x1ff);                                /* SVR: enabled, spurious 0xff */
}

static void test_reset_values(void **state)
{
    (void)state;
    assert_int_equal(rd(0x20), 3u << 24);           /* ID in 31:24 */
    uint32_t ver = rd(0x30);
    assert_int_equal(ver & 0xff, 0x14);             /* integrated APIC */
    assert_int_equal((ver >> 16) & 0xff, 5);        /* max LVT entry: 6 LVTs */
    assert_int_equal(rd(0xe0), 0xffffffffu);        /* DFR flat */
    assert_int_equal(rd(0xf0), 0xff);               /* SVR: disabled, vector 0xff */
    for (unsigned off = 0x320; off <= 0x370; off += 0x10)
        assert_int_equal(rd(off), 1u << 16);        /* every LVT masked */
    assert_int_equal(vlapic_read_base(&L), 0xfee00000u | (1u << 11) | (1u << 8));
}

static void test_sw_disabled_drops_fixed_and_forces_mask(void **state)
{
    (void)state;
    fixed(0x40, false);
    assert_int_equal(vlapic_pending(&L), -1);
    wr(0x320, 0x30);                                /* unmask attempt while disabled */
    assert_true(rd(0x320) & (1u << 16));
    enable();
    wr(0x320, 0x30);
    assert_false(rd(0x320) & (1u << 16));
    wr(0xf0, 0x0ff);                                /* disabling masks the LVTs again */
    assert_true(rd(0x320) & (1u << 16));
}

static void test_irr_isr_eoi(void **state)
{
    (void)state;
    enable();
    fixed(0x45, false);
    assert_int_equal(rd(0x200 + 0x20), 1u << 5);    /* IRR word 2 bit 5 = vector 0x45 */
    assert_int_equal(vlapic_pending(&L), 0x45);
    vlapic_ack(&L, 0x45);
    assert_int_equal(rd(0x200 + 0x20), 0);
    assert_int_equal(rd(0x100 + 0x20), 1u << 5);    /* ISR */
    assert_int_equal(rd(0xa0), 0x40);               /* PPR = ISRV class */
    wr(0xb0, 0);                                    /* EOI */
    assert_int_equal(rd(0x100 + 0x20), 0);
    assert_int_equal(neoi, 0);                      /* edge: no EOI broadcast */
}

static void test_level_sets_tmr_and_broadcasts_eoi(void **state)
{
    (void)state;
    enable();
    fixed(0x61, true);
    assert_int_equal(rd(0x180 + 0x30), 1u << 1);    /* TMR */
    vlapic_ack(&L, 0x61);
    wr(0xb0, 0);
    assert_int_equal(neoi, 1);
    assert_int_equal(eoi_vectors[0], 0x61);
    fixed(0x61, false);                             /* edge again: TMR cleared */
    assert_int_equal(rd(0x180 + 0x30), 0);
}

static void test_priority_classes_and_tpr(void **state)
{
    (void)state;
    enable();
    fixed(0x55, false);
    wr(0x80, 0x50);                                 /* TPR class 5 blocks class 5 */
    assert_int_equal(rd(0xa0), 0x50);
    assert_int_equal(vlapic_pending(&L), -1);
    wr(0x80, 0x4f);                                 /* class 4: 0x55 passes */
    assert_int_equal(vlapic_pending(&L), 0x55);
    vlapic_ack(&L, 0x55);
    fixed(0x52, false);                             /* same class as in service: waits */
    assert_int_equal(vlapic_pending(&L), -1);
    fixed(0x71, false);                             /* higher class: nests */
    assert_int_equal(vlapic_pending(&L), 0x71);
    vlapic_ack(&L, 0x71);
    assert_int_equal(rd(0xa0), 0x70);
    wr(0xb0, 0);                                    /* EOI: highest ISR (0x71) */
    assert_int_equal(rd(0xa0), 0x50);
    wr(0xb0, 0);
    assert_int_equal(vlapic_pending(&L), 0x52);
    /* PPR = TPR when TPR's class is at least the in-service class. */
    wr(0x80, 0x6a);
    assert_int_equal(rd(0xa0), 0x6a);
}

static void test_highest_vector_first(void **state)
{
    (void)state;
    enable();
    fixed(0x30, false);
    fixed(0xe0, false);
    fixed(0x90, false);
    assert_int_equal(vlapic_pending(&L), 0xe0);
}

static void test_illegal_vectors_and_esr(void **state)
{
    (void)state;
    enable();
    fixed(0x05, false);                             /* receive illegal vector */
    assert_int_equal(vlapic_pending(&L), -1);
    assert_int_equal(rd(0x280), 0);                 /* ESR shows errors only after a write */
    wr(0x280, 0);
    assert_int_equal(rd(0x280), 1u << 6);
    wr(0x280, 0);
    assert_int_equal(rd(0x280), 0);
    wr(0x310, 0);
    wr(0x300, 0x0000000a);                          /* send illegal vector */
    assert_int_equal(nsent, 0);
    wr(0x280, 0);
    assert_int_equal(rd(0x280), 1u << 5);
}

static void test_error_lvt(void **state)
{
    (void)state;
    enable();
    wr(0x370, 0xfe);
    fixed(0x01, false);
    assert_int_equal(vlapic_pending(&L), 0xfe);
}

static void test_ldr_dfr_matching(void **state)
{
    (void)state;
    enable();
    wr(0xd0, 0x04000000u);                          /* logical ID 0x04 */
    assert_int_equal(rd(0xd0), 0x04000000u);
    struct apic_msg m = { .delivery = APIC_DM_FIXED, .logical = true, .dest = 0x06 };
    assert_true(vlapic_match(&L, &m));              /* flat: mask intersects */
    m.dest = 0x09;
    assert_false(vlapic_match(&L, &m));
    wr(0xe0, 0x0fffffffu);                          /* cluster model */
    assert_int_equal(rd(0xe0), 0x0fffffffu);
    wr(0xd0, 0x21000000u);                          /* cluster 2, member 1 */
    m.dest = 0x23;
    assert_true(vlapic_match(&L, &m));
    m.dest = 0x13;
    assert_false(vlapic_match(&L, &m));
    m.logical = false;
    m.dest = 3;
    assert_true(vlapic_match(&L, &m));              /* physical: the APIC ID */
    m.dest = 0xff;
    assert_true(vlapic_match(&L, &m));              /* physical broadcast */
    m.dest = 4;
    assert_false(vlapic_match(&L, &m));
}

static void test_icr_ipi_fields(void **state)
{
    (void)state;
    enable();
    wr(0x310, 0x01000000u);                         /* destination APIC 1 */
    wr(0x300, 0x000040f3u);                         /* fixed, assert, vector 0xf3 */
    assert_int_equal(nsent, 1);
    assert_int_equal(sent[0].vector, 0xf3);
    assert_int_equal(sent[0].dest, 1);
    assert_int_equal(sent[0].delivery, APIC_DM_FIXED);
    assert_int_equal(sent[0].src, 0);
    assert_false(rd(0x300) & (1u << 12));           /* delivery status idle */
    wr(0x300, 0x000c4500u);                         /* INIT to all excluding self */
    assert_int_equal(sent[1].delivery, APIC_DM_INIT);
    assert_int_equal(sent[1].shorthand, APIC_SH_OTHERS);
    wr(0x300, 0x000c4698u);                         /* SIPI vector 0x98 */
    assert_int_equal(sent[2].delivery, APIC_DM_STARTUP);
    assert_int_equal(sent[2].vector, 0x98);
}

static void test_init_sipi_nmi_accept(void **state)
{
    (void)state;
    enable();
    wr(0x80, 0x20);
    struct apic_msg init = { .delivery = APIC_DM_INIT, .assert = true, .level = true };
    vlapic_accept(&L, &init);                       /* L is the BSP: INIT ignored */
    assert_false(L.init_pending);
    assert_int_equal(rd(0x80), 0x20);
    vlapic_init(&L, 1, 3, false, &test_clock, (struct apic_bus){ record, 0 }, record_eoi, 0);
    enable();
    wr(0x80, 0x20);
    vlapic_accept(&L, &init);                       /* an AP: reset, INIT pending */
    assert_true(L.init_pending);
    assert_int_equal(rd(0x80), 0);                  /* INIT resets the APIC ... */
    assert_int_equal(rd(0x20), 3u << 24);           /* ... but keeps the ID */
    L.init_pending = false;
    struct apic_msg deassert = { .delivery = APIC_DM_INIT, .assert = false, .level = true };
    vlapic_accept(&L, &deassert);
    assert_false(L.init_pending);
    struct apic_msg sipi = { .delivery = APIC_DM_STARTUP, .vector = 0x9a };
    vlapic_accept(&L, &sipi);
    assert_true(L.sipi_pending);
    assert_int_equal(L.sipi_vector, 0x9a);
    struct apic_msg nmi = { .delivery = APIC_DM_NMI };
    vlapic_accept(&L, &nmi);
    assert_int_equal(L.nmi_pending, 1);
}

static void test_timer_oneshot(void **state)
{
    (void)state;
    enable();
    wr(0x3e0, 0x3);                                 /* divide by 16 */
    wr(0x320, 0x40);                                /* one-shot, vector 0x40 */
    test_now = 1000;
    wr(0x380, 1000);                                /* 1000 counts x 16 ns */
    assert_int_equal(rd(0x390), 1000);
    assert_int_equal(vlapic_next_deadline(&L), 1000 + 16000);
    test_now = 1000 + 8000;
    assert_int_equal(rd(0x390), 500);
    vlapic_tick(&L);
    assert_int_equal(vlapic_pending(&L), -1);
    test_now = 1000 + 16000;
    assert_int_equal(rd(0x390), 0);
    vlapic_tick(&L);
    assert_int_equal(vlapic_pending(&L), 0x40);
    assert_int_equal(vlapic_next_deadline(&L), VDEV_NO_DEADLINE);
    test_now += 100000;
    assert_int_equal(rd(0x390), 0);                 /* stays 0 */
}

static void test_timer_periodic(void **state)
{
    (void)state;
    enable();
    wr(0x3e0, 0xb);                                 /* divide by 1 */
    wr(0x320, 0x20041);                             /* periodic, vector 0x41 */
    wr(0x380, 500);
    test_now = 499;
    assert_int_equal(rd(0x390), 1);
    test_now = 500;
    vlapic_tick(&L);
    assert_int_equal(vlapic_pending(&L), 0x41);
    vlapic_ack(&L, 0x41);
    wr(0xb0, 0);
    assert_int_equal(rd(0x390), 500);               /* reloaded */
    assert_int_equal(vlapic_next_deadline(&L), 1000);
    test_now = 1250;
    assert_int_equal(rd(0x390), 250);
    vlapic_tick(&L);
    assert_int_equal(vlapic_pending(&L), 0x41);
    assert_int_equal(vlapic_next_deadline(&L), 1500);
    wr(0x380, 0);                                   /* writing 0 stops it */
    assert_int_equal(vlapic_next_deadline(&L), VDEV_NO_DEADLINE);
    assert_int_equal(rd(0x390), 0);
}

static void test_timer_divide_values(void **state)
{
    (void)state;
    /* DCR bits 3,1,0: 000=2 001=4 010=8 011=16 100=32 101=64 110=128 111=1 */
    static const uint32_t dcr[8] = { 0x0, 0x1, 0x2, 0x3, 0x8, 0x9, 0xa, 0xb };
    static const uint64_t div[8] = { 2, 4, 8, 16, 32, 64, 128, 1 };
    enable();
    for (unsigned i = 0; i < 8; i++) {
        test_now = 0;
        wr(0x320, 0x10040);
        wr(0x3e0, dcr[i]);
        wr(0x380, 100);
        test_now = div[i] * 10;
        assert_int_equal(rd(0x390), 90);
    }
}

static void test_timer_masked_no_interrupt(void **state)
{
    (void)state;
    enable();
    wr(0x3e0, 0xb);
    wr(0x320, 0x10042);                             /* masked one-shot */
    wr(0x380, 100);
    assert_int_equal(vlapic_next_deadline(&L), VDEV_NO_DEADLINE);
    test_now = 200;
    vlapic_tick(&L);
    wr(0x320, 0x00042);                             /* unmasking later: the expiry is gone */
    vlapic_tick(&L);
    assert_int_equal(vlapic_pending(&L), -1);
}

static void test_lint0_extint(void **state)
{
    (void)state;
    assert_false(vlapic_lint0_extint(&L));          /* masked at reset */
    enable();
    wr(0x350, 0x700);                               /* ExtINT, unmasked */
    assert_true(vlapic_lint0_extint(&L));
    wr(0x350, 0x10700);
    assert_false(vlapic_lint0_extint(&L));
    vlapic_write_base(&L, 0xfee00000u);             /* globally disabled: INTR goes straight through */
    assert_true(vlapic_lint0_extint(&L));
}

static void test_narrow_reads(void **state)
{
    (void)state;
    assert_int_equal(vlapic_bus_read(&L, 0, VLAPIC_BASE + 0x23, 1), 3);   /* ID byte 3 */
    assert_int_equal(vlapic_bus_read(&L, 0, VLAPIC_BASE + 0x400, 4), 0);  /* reserved */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_reset_values, setup),
        cmocka_unit_test_setup(test_sw_disabled_drops_fixed_and_forces_mask, setup),
        cmocka_unit_test_setup(test_irr_isr_eoi, setup),
        cmocka_unit_test_setup(test_level_sets_tmr_and_broadcasts_eoi, setup),
        cmocka_unit_test_setup(test_priority_classes_and_tpr, setup),
        cmocka_unit_test_setup(test_highest_vector_first, setup),
        cmocka_unit_test_setup(test_illegal_vectors_and_esr, setup),
        cmocka_unit_test_setup(test_error_lvt, setup),
        cmocka_unit_test_setup(test_ldr_dfr_matching, setup),
        cmocka_unit_test_setup(test_icr_ipi_fields, setup),
        cmocka_unit_test_setup(test_init_sipi_nmi_accept, setup),
        cmocka_unit_test_setup(test_timer_oneshot, setup),
        cmocka_unit_test_setup(test_timer_periodic, setup),
        cmocka_unit_test_setup(test_timer_divide_values, setup),
        cmocka_unit_test_setup(test_timer_masked_no_interrupt, setup),
        cmocka_unit_test_setup(test_lint0_extint, setup),
        cmocka_unit_test_setup(test_narrow_reads, setup),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
