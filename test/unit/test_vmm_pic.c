/* SPDX-License-Identifier: MIT */
/* test_vmm_pic.c: the 8259A pair (servers/vmm/devices/pic.c) against the Intel 8259A datasheet. */
#include "vmm_test.h"

#include "pic.h"

static struct vpic P;

/* The BIOS/Linux initialisation: ICW1 (edge, cascade, ICW4), ICW2 vector, ICW3 wiring, ICW4 8086. */
static void init_pair(uint8_t master_base, uint8_t slave_base, uint8_t icw4)
{
    vpic_init(&P);
    vpic_write(&P, 0x20, 0x11);
    vpic_write(&P, 0x21, master_base);
    vpic_write(&P, 0x21, 0x04);     /* slave on IR2 */
    vpic_write(&P, 0x21, icw4);
    vpic_write(&P, 0xa0, 0x11);
    vpic_write(&P, 0xa1, slave_base);
    vpic_write(&P, 0xa1, 0x02);     /* slave ID 2 */
    vpic_write(&P, 0xa1, icw4);
    vpic_write(&P, 0x21, 0x00);     /* OCW1: unmask all */
    vpic_write(&P, 0xa1, 0x00);
}

static uint8_t read_irr(unsigned chip)
{
    uint16_t port = chip ? 0xa0 : 0x20;
    vpic_write(&P, port, 0x0a);     /* OCW3: read IRR */
    return vpic_read(&P, port);
}

static uint8_t read_isr(unsigned chip)
{
    uint16_t port = chip ? 0xa0 : 0x20;
    vpic_write(&P, port, 0x0b);     /* OCW3: read ISR */
    return vpic_read(&P, port);
}

static void pulse(unsigned irq)
{
    vpic_set_irq(&P, irq, true);
    vpic_set_irq(&P, irq, false);
}

static void test_init_vectors(void **state)
{
    (void)state;
    init_pair(0x20, 0x28, 0x01);
    assert_false(vpic_has_intr(&P));
    pulse(1);
    assert_true(vpic_has_intr(&P));
    assert_int_equal(vpic_intack(&P), 0x21);       /* ICW2 base + IR */
    /* ICW2's low 3 bits are ignored in 8086 mode (T7-T3 only). */
    init_pair(0x37, 0x7f, 0x01);
    pulse(3);
    assert_int_equal(vpic_intack(&P), 0x33);
}

static void test_icw1_clears_mask_and_requests(void **state)
{
    (void)state;
    init_pair(0x20, 0x28, 0x01);
    vpic_write(&P, 0x21, 0xff);
    pulse(4);
    assert_int_equal(vpic_read(&P, 0x21), 0xff);
    assert_int_equal(read_irr(0) & 0x10, 0x10);    /* requested even though masked */
    assert_false(vpic_has_intr(&P));
    vpic_write(&P, 0x20, 0x11);                     /* ICW1: IMR cleared, edge sense reset */
    vpic_write(&P, 0x21, 0x20);
    vpic_write(&P, 0x21, 0x04);
    vpic_write(&P, 0x21, 0x01);
    assert_int_equal(vpic_read(&P, 0x21), 0x00);
    assert_false(vpic_has_intr(&P));
}

static void test_mask(void **state)
{
    (void)state;
    init_pair(0x20, 0x28, 0x01);
    vpic_write(&P, 0x21, 0x01);                     /* mask IR0 */
    pulse(0);
    assert_false(vpic_has_intr(&P));
    vpic_write(&P, 0x21, 0x00);                     /* the latched request shows when unmasked */
    assert_true(vpic_has_intr(&P));
    assert_int_equal(vpic_intack(&P), 0x20);
}

static void test_ack_moves_irr_to_isr_and_eoi(void **state)
{
    (void)state;
    init_pair(0x20, 0x28, 0x01);
    pulse(5);
    assert_int_equal(read_irr(0), 0x20);
    assert_int_equal(vpic_intack(&P), 0x25);
    assert_int_equal(read_irr(0), 0x00);
    assert_int_equal(read_isr(0), 0x20);
    vpic_write(&P, 0x20, 0x20);                     /* non-specific EOI */
    assert_int_equal(read_isr(0), 0x00);
}

static void test_priority_and_nesting(void **state)
{
    (void)state;
    init_pair(0x20, 0x28, 0x01);
    pulse(3);
    assert_int_equal(vpic_intack(&P), 0x23);
    pulse(5);                                       /* lower priority than IR3 in service */
    assert_false(vpic_has_intr(&P));
    pulse(1);                                       /* higher: nests */
    assert_true(vpic_has_intr(&P));
    assert_int_equal(vpic_intack(&P), 0x21);
    assert_int_equal(read_isr(0), 0x0a);
    vpic_write(&P, 0x20, 0x20);                     /* EOI ends the highest in service: IR1 */
    assert_int_equal(read_isr(0), 0x08);
    assert_false(vpic_has_intr(&P));
    vpic_write(&P, 0x20, 0x20);
    assert_true(vpic_has_intr(&P));
    assert_int_equal(vpic_intack(&P), 0x25);
}

static void test_simultaneous_requests_lowest_ir_first(void **state)
{
    (void)state;
    init_pair(0x20, 0x28, 0x01);
    pulse(6);
    pulse(4);
    assert_int_equal(vpic_intack(&P), 0x24);
}

/* Fully nested mode after initialisation: IR0 highest, IR7 lowest; ICW1 undoes rotation. */
static void test_default_priority_ir0_highest(void **state)
{
    (void)state;
    init_pair(0x20, 0x28, 0x01);
    vpic_write(&P, 0x20, 0xc0 | 2);                 /* rotate: IR3 highest ... */
    init_pair(0x20, 0x28, 0x01);                    /* ... until ICW1 */
    pulse(7);
    pulse(0);
    assert_int_equal(vpic_intack(&P), 0x20);
    assert_false(vpic_has_intr(&P));                /* IR7 waits behind IR0 in service */
    vpic_write(&P, 0x20, 0x20);
    assert_int_equal(vpic_intack(&P), 0x27);
    pulse(0);                                       /* IR0 nests over IR7 in service */
    assert_true(vpic_has_intr(&P));
    assert_int_equal(vpic_intack(&P), 0x20);
}

static void test_specific_eoi(void **state)
{
    (void)state;
    init_pair(0x20, 0x28, 0x01);
    pulse(4);
    assert_int_equal(vpic_intack(&P), 0x24);
    pulse(1);
    assert_int_equal(vpic_intack(&P), 0x21);
    vpic_write(&P, 0x20, 0x60 | 4);                 /* specific EOI for IR4, not the highest */
    assert_int_equal(read_isr(0), 0x02);
}

static void test_rotation(void **state)
{
    (void)state;
    init_pair(0x20, 0x28, 0x01);
    vpic_write(&P, 0x20, 0xc0 | 4);                 /* set priority: IR4 lowest, IR5 highest */
    pulse(1);
    pulse(6);
    assert_int_equal(vpic_intack(&P), 0x26);
    /* Rotate on non-specific EOI: IR6 becomes the lowest, IR7 the highest. */
    vpic_write(&P, 0x20, 0xa0);
    pulse(7);
    assert_int_equal(vpic_intack(&P), 0x27);
    vpic_write(&P, 0x20, 0x20);
    assert_int_equal(vpic_intack(&P), 0x21);
}

static void test_cascade(void **state)
{
    (void)state;
    init_pair(0x20, 0x28, 0x01);
    pulse(10);
    assert_true(vpic_has_intr(&P));
    assert_int_equal(read_irr(1), 0x04);
    assert_int_equal(vpic_intack(&P), 0x2a);       /* slave base + 2 */
    assert_int_equal(read_isr(0), 0x04);           /* master: IR2 in service */
    assert_int_equal(read_isr(1), 0x04);           /* slave: IR2 (IRQ10) in service */
    /* Masking IR2 on the master hides all slave requests. */
    vpic_write(&P, 0xa0, 0x20);
    vpic_write(&P, 0x20, 0x20);
    vpic_write(&P, 0x21, 0x04);
    pulse(12);
    assert_false(vpic_has_intr(&P));
    vpic_write(&P, 0x21, 0x00);
    assert_int_equal(vpic_intack(&P), 0x2c);
    /* Slave requests rank at IR2 on the master: ahead of IRQ3. */
    vpic_write(&P, 0xa0, 0x20);
    vpic_write(&P, 0x20, 0x20);
    pulse(3);
    pulse(14);
    assert_int_equal(vpic_intack(&P), 0x2e);
}

static void test_slave_masked_on_slave(void **state)
{
    (void)state;
    init_pair(0x20, 0x28, 0x01);
    vpic_write(&P, 0xa1, 0x01);                     /* mask IRQ8 on the slave */
    pulse(8);
    assert_false(vpic_has_intr(&P));
    assert_int_equal(vpic_read(&P, 0xa1), 0x01);
}

static void test_edge_needs_new_rising_edge(void **state)
{
    (void)state;
    init_pair(0x20, 0x28, 0x01);
    vpic_set_irq(&P, 3, true);
    assert_int_equal(vpic_intack(&P), 0x23);
    vpic_write(&P, 0x20, 0x20);
    assert_false(vpic_has_intr(&P));                /* still high, but no new edge */
    vpic_set_irq(&P, 3, false);
    vpic_set_irq(&P, 3, true);
    assert_true(vpic_has_intr(&P));
}

static void test_level_via_elcr(void **state)
{
    (void)state;
    init_pair(0x20, 0x28, 0x01);
    /* ELCR: IRQ 0-2 and 8, 13 cannot be level (PIIX); others can. */
    vpic_write(&P, 0x4d0, 0xff);
    assert_int_equal(vpic_read(&P, 0x4d0), 0xf8);
    vpic_write(&P, 0x4d1, 0xff);
    assert_int_equal(vpic_read(&P, 0x4d1), 0xde);
    vpic_write(&P, 0x4d0, 0x20);                    /* IRQ5 level */
    vpic_write(&P, 0x4d1, 0x02);                    /* IRQ9 level */
    vpic_set_irq(&P, 5, true);
    assert_int_equal(vpic_intack(&P), 0x25);
    vpic_write(&P, 0x20, 0x20);
    assert_true(vpic_has_intr(&P));                 /* level still asserted: requests again */
    assert_int_equal(vpic_intack(&P), 0x25);
    vpic_set_irq(&P, 5, false);
    vpic_write(&P, 0x20, 0x20);
    assert_false(vpic_has_intr(&P));
    vpic_set_irq(&P, 9, true);
    assert_int_equal(vpic_intack(&P), 0x29);
}

static void test_spurious_irq7(void **state)
{
    (void)state;
    init_pair(0x20, 0x28, 0x01);
    vpic_write(&P, 0x4d0, 0x10);                    /* IRQ4 level */
    vpic_set_irq(&P, 4, true);
    assert_true(vpic_has_intr(&P));
    vpic_set_irq(&P, 4, false);                     /* request gone before INTA */
    assert_int_equal(vpic_intack(&P), 0x27);       /* IR7 vector ... */
    assert_int_equal(read_isr(0), 0x00);           /* ... with no ISR bit set */
}

static void test_spurious_irq15(void **state)
{
    (void)state;
    init_pair(0x20, 0x28, 0x01);
    vpic_write(&P, 0x4d1, 0x08);                    /* IRQ11 level */
    vpic_set_irq(&P, 11, true);
    assert_true(vpic_has_intr(&P));
    vpic_set_irq(&P, 11, false);
    /* The master latched the cascade edge; the slave has nothing: IR7 of the slave. */
    assert_true(vpic_has_intr(&P));
    assert_int_equal(vpic_intack(&P), 0x2f);
    assert_int_equal(read_isr(1), 0x00);
    assert_int_equal(read_isr(0), 0x04);           /* Linux EOIs the master for a spurious IRQ15 */
}

static void test_auto_eoi(void **state)
{
    (void)state;
    init_pair(0x20, 0x28, 0x03);                    /* ICW4: 8086 + AEOI */
    pulse(6);
    assert_int_equal(vpic_intack(&P), 0x26);
    assert_int_equal(read_isr(0), 0x00);
    pulse(7);
    assert_true(vpic_has_intr(&P));
}

static void test_poll(void **state)
{
    (void)state;
    init_pair(0x20, 0x28, 0x01);
    vpic_write(&P, 0x20, 0x0c);                     /* OCW3: poll */
    assert_int_equal(vpic_read(&P, 0x20), 0x00);   /* nothing pending */
    pulse(6);
    vpic_write(&P, 0x20, 0x0c);
    assert_int_equal(vpic_read(&P, 0x20), 0x86);   /* I bit + level */
    assert_int_equal(read_isr(0), 0x40);           /* poll acknowledges */
}

static void test_special_mask(void **state)
{
    (void)state;
    init_pair(0x20, 0x28, 0x01);
    pulse(3);
    assert_int_equal(vpic_intack(&P), 0x23);
    vpic_write(&P, 0x21, 0x08);                     /* mask the level in service */
    vpic_write(&P, 0x20, 0x68);                     /* OCW3: ESMM + SMM */
    pulse(6);                                       /* lower priority now allowed */
    assert_true(vpic_has_intr(&P));
    assert_int_equal(vpic_intack(&P), 0x26);
}

static void test_ports_through_bus_handlers(void **state)
{
    (void)state;
    init_pair(0x20, 0x28, 0x01);
    vpic_bus_write(&P, 0, 0x21, 1, 0x5a);
    assert_int_equal(vpic_bus_read(&P, 0, 0x21, 1), 0x5a);
    assert_int_equal(vpic_bus_read(&P, 0, 0xa1, 1), 0x00);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_vectors),
        cmocka_unit_test(test_icw1_clears_mask_and_requests),
        cmocka_unit_test(test_mask),
        cmocka_unit_test(test_ack_moves_irr_to_isr_and_eoi),
        cmocka_unit_test(test_priority_and_nesting),
        cmocka_unit_test(test_simultaneous_requests_lowest_ir_first),
        cmocka_unit_test(test_default_priority_ir0_highest),
        cmocka_unit_test(test_specific_eoi),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_cascade),
        cmocka_unit_test(test_slave_masked_on_slave),
        cmocka_unit_test(test_edge_needs_new_rising_edge),
        cmocka_unit_test(test_level_via_elcr),
        cmocka_unit_test(test_spurious_irq7),
        cmocka_unit_test(test_spurious_irq15),
        cmocka_unit_test(test_auto_eoi),
        cmocka_unit_test(test_poll),
        cmocka_unit_test(test_special_mask),
        cmocka_unit_test(test_ports_through_bus_handlers),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
