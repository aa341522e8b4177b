/* SPDX-License-Identifier: MIT */
/* test_vmm_pci.c: PCI configuration mechanism #1 and the i440FX host bridge (servers/vmm/devices/pci.c) per the PCI Local Bus spec 3.0. */
#include "vmm_test.h"

#include "pci.h"

static struct vpci B;
static struct vpci_dev D;
static unsigned written;

static uint32_t addr(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
    return 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (reg & 0xfc);
}

static uint32_t cfg_read(unsigned dev, unsigned reg, unsigned size)
{
    vpci_bus_write(&B, 0, 0xcf8, 4, addr(0, dev, 0, reg));
    return (uint32_t)vpci_bus_read(&B, 0, 0xcfc + (reg & 3), size);
}

static void cfg_write(unsigned dev, unsigned reg, unsigned size, uint32_t v)
{
    vpci_bus_write(&B, 0, 0xcf8, 4, addr(0, dev, 0, reg));
    vpci_bus_write(&B, 0, 0xcfc + (reg & 3), size, v);
}

static void on_write(struct vpci_dev *dev, unsigned off, unsigned size)
{
    (void)dev; (void)off; (void)size;
    written++;
}

static int setup(void **state)
{
    (void)state;
    test_reset_common();
    written = 0;
    vpci_init(&B, test_event_sink);
    return 0;
}

static void test_conf1_detection(void **state)
{
    (void)state;
    /* Linux's pci_check_type1(): a byte to 0xcfb, then 0x80000000 must read back from 0xcf8. */
    vpci_bus_write(&B, 0, 0xcfb, 1, 0x01);
    vpci_bus_write(&B, 0, 0xcf8, 4, 0x80000000u);
    assert_int_equal(vpci_bus_read(&B, 0, 0xcf8, 4), 0x80000000u);
    vpci_bus_write(&B, 0, 0xcf8, 4, 0xffffffffu);   /* reserved bits read 0 */
    assert_int_equal(vpci_bus_read(&B, 0, 0xcf8, 4), 0x80fffffcu);
}

static void test_host_bridge_identity(void **state)
{
    (void)state;
    assert_int_equal(cfg_read(0, 0x00, 4), 0x12378086u);     /* Intel 82441FX */
    assert_int_equal(cfg_read(0, 0x08, 4) >> 8, 0x060000u);  /* host bridge class */
    assert_int_equal(cfg_read(0, 0x08, 1), 0x02);            /* revision */
    assert_int_equal(cfg_read(0, 0x0e, 1) & 0x7f, 0x00);     /* header type 0 */
    assert_int_equal(cfg_read(0, 0x02, 2), 0x1237);          /* word at offset 2 */
    assert_int_equal(cfg_read(0, 0x01, 1), 0x80);            /* byte at offset 1 */
    assert_int_equal(cfg_read(0, 0x10, 4), 0);               /* no BARs */
}

static void test_absent_reads_all_ones(void **state)
{
    (void)state;
    assert_int_equal(cfg_read(5, 0x00, 4), 0xffffffffu);
    assert_int_equal(cfg_read(5, 0x02, 2), 0xffffu);
    assert_int_equal(cfg_read(5, 0x03, 1), 0xffu);
    vpci_bus_write(&B, 0, 0xcf8, 4, addr(1, 0, 0, 0));        /* bus 1 does not exist */
    assert_int_equal(vpci_bus_read(&B, 0, 0xcfc, 4), 0xffffffffu);
    vpci_bus_write(&B, 0, 0xcf8, 4, addr(0, 0, 3, 0));        /* function 3 of the bridge */
    assert_int_equal(vpci_bus_read(&B, 0, 0xcfc, 4), 0xffffffffu);
    vpci_bus_write(&B, 0, 0xcf8, 4, 0x00000000u);            /* enable bit clear */
    assert_int_equal(vpci_bus_read(&B, 0, 0xcfc, 4), 0xffffffffu);
}

static void test_registered_device_and_bar_sizing(void **state)
{
    (void)state;
    vpci_dev_init(&D, 0x1af4, 0x1041, 1, 0x020000u, 1);       /* a virtio-net-like function */
    assert_int_equal(vpci_dev_set_bar(&D, 0, 0x1000, 0), VPCI_OK);
    assert_int_equal(vpci_dev_set_bar(&D, 1, 0x40, VPCI_BAR_IO), VPCI_OK);
    assert_int_equal(vpci_dev_set_bar(&D, 2, 0x4000, VPCI_BAR_MEM64 | VPCI_BAR_PREFETCH), VPCI_OK);
    D.config_written = on_write;
    assert_int_equal(vpci_register(&B, 3, &D), VPCI_OK);
    assert_int_equal(vpci_register(&B, 3, &D), VPCI_ERR_BUSY);
    assert_int_equal(vpci_register(&B, 32, &D), VPCI_ERR_SLOT);
    assert_int_equal(cfg_read(3, 0x00, 4), 0x10411af4u);
    assert_int_equal(cfg_read(3, 0x3d, 1), 1);               /* INTA# */
    /* Sizing: write all-ones, read back the size mask with the type bits. */
    cfg_write(3, 0x10, 4, 0xffffffffu);
    assert_int_equal(cfg_read(3, 0x10, 4), 0xfffff000u);
    cfg_write(3, 0x14, 4, 0xffffffffu);
    assert_int_equal(cfg_read(3, 0x14, 4), 0xffffffc1u);
    cfg_write(3, 0x18, 4, 0xffffffffu);
    cfg_write(3, 0x1c, 4, 0xffffffffu);
    assert_int_equal(cfg_read(3, 0x18, 4), 0xffffc00cu);     /* 64-bit, prefetchable */
    assert_int_equal(cfg_read(3, 0x1c, 4), 0xffffffffu);
    assert_int_equal(cfg_read(3, 0x20, 4), 0);               /* unused BAR: hardwired 0 */
    /* Assign addresses, enable decoding. */
    cfg_write(3, 0x10, 4, 0xfebf1000u);
    cfg_write(3, 0x14, 4, 0xc040u);
    cfg_write(3, 0x18, 4, 0x00004000u);
    cfg_write(3, 0x1c, 4, 0x00000008u);
    assert_false(vpci_dev_decodes(&D, 0));
    cfg_write(3, 0x04, 2, VPCI_CMD_MEM | VPCI_CMD_IO);
    assert_true(vpci_dev_decodes(&D, 0));
    assert_true(vpci_dev_decodes(&D, 1));
    assert_int_equal(vpci_dev_bar_address(&D, 0), 0xfebf1000u);
    assert_int_equal(vpci_dev_bar_address(&D, 1), 0xc040u);
    assert_int_equal(vpci_dev_bar_address(&D, 2), 0x800004000ull);
    assert_true(written > 0);
    /* Read-only fields stay. */
    cfg_write(3, 0x00, 4, 0);
    assert_int_equal(cfg_read(3, 0x00, 4), 0x10411af4u);
    cfg_write(3, 0x3c, 1, 11);                                /* interrupt line is scratch */
    assert_int_equal(cfg_read(3, 0x3c, 1), 11);
}

static void test_bar_argument_checks(void **state)
{
    (void)state;
    vpci_dev_init(&D, 1, 2, 0, 0, 0);
    assert_int_equal(vpci_dev_set_bar(&D, 6, 0x1000, 0), VPCI_ERR_BAR);
    assert_int_equal(vpci_dev_set_bar(&D, 0, 0x1800, 0), VPCI_ERR_BAR);    /* not a power of two */
    assert_int_equal(vpci_dev_set_bar(&D, 0, 8, 0), VPCI_ERR_BAR);         /* memory BARs >= 16 */
    assert_int_equal(vpci_dev_set_bar(&D, 5, 0x1000, VPCI_BAR_MEM64), VPCI_ERR_BAR);
}

static void test_status_write_one_to_clear(void **state)
{
    (void)state;
    vpci_dev_init(&D, 1, 2, 0, 0, 0);
    D.cfg[0x07] = 0x20;                                      /* received master abort (bit 13) */
    vpci_register(&B, 4, &D);
    cfg_write(4, 0x06, 2, 0x0000);
    assert_int_equal(cfg_read(4, 0x06, 2), 0x2000);
    cfg_write(4, 0x06, 2, 0x2000);
    assert_int_equal(cfg_read(4, 0x06, 2), 0x0000);
}

static void test_reset_control_register(void **state)
{
    (void)state;
    vpci_bus_write(&B, 0, 0xcf9, 1, 0x02);                   /* Linux: SYS_RST, then | RST_CPU */
    assert_int_equal(test_events, 0);
    vpci_bus_write(&B, 0, 0xcf9, 1, 0x06);
    assert_int_equal(test_events, VDEV_EVENT_RESET_RCR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_conf1_detection, setup),
        cmocka_unit_test_setup(test_host_bridge_identity, setup),
        cmocka_unit_test_setup(test_absent_reads_all_ones, setup),
        cmocka_unit_test_setup(test_registered_device_and_bar_sizing, setup),
        cmocka_unit_test_setup(test_bar_argument_checks, setup),
        cmocka_unit_test_setup(test_status_write_one_to_clear, setup),
        cmocka_unit_test_setup(test_reset_control_register, setup),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
