/* SPDX-License-Identifier: MIT */
/* test_vmm_ioapic.c: the I/O APIC (servers/vmm/devices/ioapic.c) against the 82093AA datasheet, through its MMIO window. */
#include "vmm_test.h"

#include "ioapic.h"

static struct vioapic IO;
static struct apic_msg sent[16];
static unsigned nsent;

static void record(void *ctx, const struct apic_msg *m)
{
    (void)ctx;
    if (nsent < 16)
        sent[nsent] = *m;
    nsent++;
}

static uint32_t mmio_read(uint64_t off)
{
    return (uint32_t)vioapic_bus_read(&IO, 0, VIOAPIC_BASE + off, 4);
}

static void mmio_write(uint64_t off, uint32_t v)
{
    vioapic_bus_write(&IO, 0, VIOAPIC_BASE + off, 4, v);
}

static uint32_t reg_read(uint8_t reg)
{
    mmio_write(0x00, reg);          /* IOREGSEL */
    return mmio_read(0x10);         /* IOWIN */
}

static void reg_write(uint8_t reg, uint32_t v)
{
    mmio_write(0x00, reg);
    mmio_write(0x10, v);
}

static void rte_write(unsigned pin, uint32_t lo, uint32_t hi)
{
    reg_write((uint8_t)(0x11 + 2 * pin), hi);
    reg_write((uint8_t)(0x10 + 2 * pin), lo);
}

static int setup(void **state)
{
    (void)state;
    nsent = 0;
    vioapic_init(&IO, 2, (struct apic_bus){ record, 0 });
    return 0;
}

static void test_id_version_arbitration(void **state)
{
    (void)state;
    assert_int_equal(reg_read(0x00), 2u << 24);
    uint32_t ver = reg_read(0x01);
    assert_int_equal(ver & 0xff, 0x11);             /* 82093AA version */
    assert_int_equal((ver >> 16) & 0xff, 23);       /* max redirection entry: 24 pins */
    reg_write(0x00, 5u << 24);
    assert_int_equal(reg_read(0x00), 5u << 24);
    assert_int_equal(reg_read(0x02), 5u << 24);     /* arbitration ID follows the ID */
    reg_write(0x01, 0);                             /* version is read-only */
    assert_int_equal(reg_read(0x01), ver);
    assert_int_equal(mmio_read(0x00), 0x01);        /* IOREGSEL reads back */
}

static void test_reset_masked(void **state)
{
    (void)state;
    for (unsigned pin = 0; pin < 24; pin++)
        assert_true(reg_read((uint8_t)(0x10 + 2 * pin)) & (1u << 16));
    vioapic_set_irq(&IO, 4, true);
    assert_int_equal(nsent, 0);
}

static void test_edge_fixed_physical(void **state)
{
    (void)state;
    rte_write(4, 0x0031, 1u << 24);                 /* vector 0x31, fixed, physical, edge, high */
    vioapic_set_irq(&IO, 4, true);
    assert_int_equal(nsent, 1);
    assert_int_equal(sent[0].vector, 0x31);
    assert_int_equal(sent[0].delivery, APIC_DM_FIXED);
    assert_int_equal(sent[0].dest, 1);
    assert_false(sent[0].logical);
    assert_false(sent[0].level);
    vioapic_set_irq(&IO, 4, true);                  /* no new edge */
    assert_int_equal(nsent, 1);
    vioapic_set_irq(&IO, 4, false);
    vioapic_set_irq(&IO, 4, true);
    assert_int_equal(nsent, 2);
    /* Edge entries never have remote IRR. */
    assert_false(reg_read(0x10 + 8) & (1u << 14));
}

static void test_lowest_logical_fields(void **state)
{
    (void)state;
    rte_write(9, 0x0941 | (1u << 11) | (1u << 13), 0x03u << 24); /* lowest, logical, active low */
    uint32_t lo = reg_read(0x10 + 18);
    assert_int_equal(lo & 0xff, 0x41);
    assert_int_equal((lo >> 8) & 7, 1);
    assert_true(lo & (1u << 13));
    vioapic_set_irq(&IO, 9, true);
    assert_int_equal(nsent, 1);
    assert_int_equal(sent[0].delivery, APIC_DM_LOWEST);
    assert_true(sent[0].logical);
    assert_int_equal(sent[0].dest, 0x03);
}

static void test_masked_edge_is_lost(void **state)
{
    (void)state;
    rte_write(3, 0x10033, 0);
    vioapic_set_irq(&IO, 3, true);
    vioapic_set_irq(&IO, 3, false);
    rte_write(3, 0x00033, 0);
    assert_int_equal(nsent, 0);
}

static void test_level_remote_irr_and_eoi(void **state)
{
    (void)state;
    rte_write(10, 0x8050, 0);                       /* level, vector 0x50 */
    vioapic_set_irq(&IO, 10, true);
    assert_int_equal(nsent, 1);
    assert_true(sent[0].level);
    assert_true(reg_read(0x10 + 20) & (1u << 14));  /* remote IRR set */
    vioapic_set_irq(&IO, 10, true);                 /* still asserted: nothing until EOI */
    assert_int_equal(nsent, 1);
    vioapic_eoi(&IO, 0x51);                         /* another vector: no effect */
    assert_true(reg_read(0x10 + 20) & (1u << 14));
    vioapic_eoi(&IO, 0x50);                         /* line still asserted: sent again */
    assert_int_equal(nsent, 2);
    assert_true(reg_read(0x10 + 20) & (1u << 14));
    vioapic_set_irq(&IO, 10, false);
    vioapic_eoi(&IO, 0x50);
    assert_int_equal(nsent, 2);
    assert_false(reg_read(0x10 + 20) & (1u << 14));
}

static void test_remote_irr_read_only(void **state)
{
    (void)state;
    rte_write(11, 0x8060, 0);
    reg_write(0x10 + 22, 0x8060 | (1u << 14) | (1u << 12));
    assert_int_equal(reg_read(0x10 + 22) & ((1u << 14) | (1u << 12)), 0);
}

static void test_unmask_asserted_level_sends(void **state)
{
    (void)state;
    rte_write(12, 0x18070, 0);                      /* level, masked */
    vioapic_set_irq(&IO, 12, true);
    assert_int_equal(nsent, 0);
    rte_write(12, 0x08070, 0);
    assert_int_equal(nsent, 1);
    assert_int_equal(sent[0].vector, 0x70);
}

static void test_edge_toggle_clears_remote_irr(void **state)
{
    (void)state;
    /* Linux's EOI for I/O APICs without an EOI register: mask, edge, then level again. */
    rte_write(13, 0x8071, 0);
    vioapic_set_irq(&IO, 13, true);
    assert_true(reg_read(0x10 + 26) & (1u << 14));
    vioapic_set_irq(&IO, 13, false);
    reg_write(0x10 + 26, 0x10071);
    reg_write(0x10 + 26, 0x18071);
    assert_false(reg_read(0x10 + 26) & (1u << 14));
}

static void test_extint_and_nmi_modes(void **state)
{
    (void)state;
    rte_write(0, 0x0700, 0);                        /* ExtINT: vector from the 8259A */
    vioapic_set_irq(&IO, 0, true);
    assert_int_equal(nsent, 1);
    assert_int_equal(sent[0].delivery, APIC_DM_EXTINT);
    rte_write(1, 0x0400, 0);
    vioapic_set_irq(&IO, 1, true);
    assert_int_equal(sent[1].delivery, APIC_DM_NMI);
}

static void test_high_dword_and_regsel_bounds(void **state)
{
    (void)state;
    rte_write(23, 0x10000, 0xab000000u);
    assert_int_equal(reg_read(0x11 + 46), 0xab000000u);
    assert_int_equal(reg_read(0x10 + 48), 0);       /* beyond the table */
    reg_write(0x10 + 48, 0xffffffffu);               /* ignored, no crash */
    assert_int_equal(reg_read(0x10 + 48), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_id_version_arbitration, setup),
        cmocka_unit_test_setup(test_reset_masked, setup),
        cmocka_unit_test_setup(test_edge_fixed_physical, setup),
        cmocka_unit_test_setup(test_lowest_logical_fields, setup),
        cmocka_unit_test_setup(test_masked_edge_is_lost, setup),
        cmocka_unit_test_setup(test_level_remote_irr_and_eoi, setup),
        cmocka_unit_test_setup(test_remote_irr_read_only, setup),
        cmocka_unit_test_setup(test_unmask_asserted_level_sends, setup),
        cmocka_unit_test_setup(test_edge_toggle_clears_remote_irr, setup),
        cmocka_unit_test_setup(test_extint_and_nmi_modes, setup),
        cmocka_unit_test_setup(test_high_dword_and_regsel_bounds, setup),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
