/* SPDX-License-Identifier: MIT */
/* test_vmm_acpi.c: the ACPI tables (servers/vmm/devices/acpi.c) found and walked the way Linux does, field by field against ACPI 6.x. */
#include "vmm_test.h"

#include "acpi.h"
#include "pm.h"

#define MEM_SIZE 0x100000u
static uint8_t *mem;
static struct gmem GM;
static struct acpi_config C;
static struct acpi_layout LY;

static uint16_t g16(uint64_t gpa) { return (uint16_t)(mem[gpa] | mem[gpa + 1] << 8); }
static uint32_t g32(uint64_t gpa) { return (uint32_t)g16(gpa) | (uint32_t)g16(gpa + 2) << 16; }
static uint64_t g64(uint64_t gpa) { return g32(gpa) | (uint64_t)g32(gpa + 4) << 32; }

static uint8_t sum(uint64_t gpa, uint64_t len)
{
    uint8_t s = 0;
    for (uint64_t i = 0; i < len; i++)
        s = (uint8_t)(s + mem[gpa + i]);
    return s;
}

static int setup(void **state)
{
    (void)state;
    test_reset_common();
    mem = calloc(1, MEM_SIZE);
    GM = (struct gmem){ 1, { { 0, MEM_SIZE, mem } } };
    acpi_default_config(&C, 4);
    assert_int_equal(acpi_build(&GM, 0xe0000, 0x20000, &C, &LY), ACPI_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(mem);
    return 0;
}

/* Linux without acpi_rsdp_addr: scan 0xe0000-0xfffff on 16-byte boundaries. */
static uint64_t find_rsdp(void)
{
    for (uint64_t a = 0xe0000; a < 0x100000; a += 16)
        if (memcmp(mem + a, "RSD PTR ", 8) == 0 && sum(a, 20) == 0)
            return a;
    return 0;
}

static void check_header(uint64_t gpa, const char *sig, uint8_t rev)
{
    assert_memory_equal(mem + gpa, sig, 4);
    uint32_t len = g32(gpa + 4);
    assert_true(len >= 36);
    assert_int_equal(mem[gpa + 8], rev);
    assert_int_equal(sum(gpa, len), 0);             /* whole-table checksum */
    assert_memory_equal(mem + gpa + 10, "HVHV  ", 6);
}

/* The table named `sig` in the XSDT. */
static uint64_t xsdt_find(const char *sig)
{
    uint64_t xsdt = g64(find_rsdp() + 24);
    uint32_t n = (g32(xsdt + 4) - 36) / 8;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t t = g64(xsdt + 36 + 8ull * i);
        if (memcmp(mem + t, sig, 4) == 0)
            return t;
    }
    return 0;
}

static void test_rsdp(void **state)
{
    (void)state;
    uint64_t r = find_rsdp();
    assert_int_equal(r, 0xe0000);
    assert_int_equal(r, LY.rsdp);
    assert_int_equal(mem[r + 15], 2);               /* revision 2: XSDT valid */
    assert_int_equal(g32(r + 20), 36);              /* length */
    assert_int_equal(sum(r, 36), 0);                /* extended checksum */
    assert_int_not_equal(g64(r + 24), 0);
    assert_int_not_equal(g32(r + 16), 0);
}

static void test_rsdt_xsdt_agree(void **state)
{
    (void)state;
    uint64_t r = find_rsdp();
    uint64_t rsdt = g32(r + 16), xsdt = g64(r + 24);
    check_header(rsdt, "RSDT", 1);
    check_header(xsdt, "XSDT", 1);
    uint32_t n = (g32(xsdt + 4) - 36) / 8;
    assert_int_equal(n, 2);
    assert_int_equal((g32(rsdt + 4) - 36) / 4, n);
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(g32(rsdt + 36 + 4ull * i), g64(xsdt + 36 + 8ull * i));
    assert_int_not_equal(xsdt_find("FACP"), 0);
    assert_int_not_equal(xsdt_find("APIC"), 0);
}

static void check_gas_io(uint64_t gpa, uint16_t port, uint8_t bits)
{
    assert_int_equal(mem[gpa], 1);                  /* system I/O */
    assert_int_equal(mem[gpa + 1], bits);
    assert_int_equal(mem[gpa + 2], 0);
    assert_int_equal(g64(gpa + 4), port);
}

static void test_fadt_fields(void **state)
{
    (void)state;
    uint64_t f = xsdt_find("FACP");
    check_header(f, "FACP", 6);
    assert_int_equal(g32(f + 4), 276);
    uint64_t facs = g32(f + 36), dsdt = g32(f + 40);
    assert_int_equal(g64(f + 132), 0);              /* X_FIRMWARE_CTRL: 0 when FIRMWARE_CTRL is used */
    assert_int_equal(g64(f + 140), dsdt);           /* X_DSDT agrees */
    assert_int_equal(g16(f + 46), 9);               /* SCI_INT */
    assert_int_equal(g32(f + 48), 0);               /* SMI_CMD: none */
    assert_int_equal(g32(f + 56), 0x600);           /* PM1a_EVT_BLK */
    assert_int_equal(g32(f + 64), 0x604);           /* PM1a_CNT_BLK */
    assert_int_equal(g32(f + 60), 0);               /* no PM1b */
    assert_int_equal(g32(f + 68), 0);
    assert_int_equal(g32(f + 76), 0x608);           /* PM_TMR_BLK */
    assert_int_equal(mem[f + 88], 4);               /* PM1_EVT_LEN */
    assert_int_equal(mem[f + 89], 2);               /* PM1_CNT_LEN */
    assert_int_equal(mem[f + 91], 4);               /* PM_TMR_LEN */
    assert_int_equal(mem[f + 108], 0x32);           /* CENTURY */
    uint16_t boot = g16(f + 109);
    assert_true(boot & 1);                          /* LEGACY_DEVICES */
    assert_true(boot & 2);                          /* 8042 present: Linux probes i8042 */
    uint32_t flags = g32(f + 112);
    assert_false(flags & (1u << 20));               /* not hardware-reduced */
    assert_true(flags & (1u << 8));                 /* TMR_VAL_EXT: 32-bit PM timer */
    assert_true(flags & (1u << 10));                /* RESET_REG_SUP */
    check_gas_io(f + 116, 0xcf9, 8);                /* RESET_REG */
    assert_int_equal(mem[f + 128], 0x06);           /* RESET_VALUE */
    check_gas_io(f + 148, 0x600, 32);               /* X_PM1a_EVT_BLK */
    check_gas_io(f + 172, 0x604, 16);               /* X_PM1a_CNT_BLK */
    check_gas_io(f + 208, 0x608, 32);               /* X_PM_TMR_BLK */
    /* FACS: 64-byte aligned, signature, length. */
    assert_int_equal(facs % 64, 0);
    assert_memory_equal(mem + facs, "FACS", 4);
    assert_int_equal(g32(facs + 4), 64);
    check_header(dsdt, "DSDT", 2);
}

/* Minimal AML reader for `Name(_S5_, Package(){...})`: returns SLP_TYPa or -1. */
static int dsdt_s5_slp_typ(uint64_t dsdt)
{
    uint32_t len = g32(dsdt + 4);
    for (uint64_t p = dsdt + 36; p + 8 < dsdt + len; p++) {
        if (mem[p] == 0x08 && memcmp(mem + p + 1, "_S5_", 4) == 0 && mem[p + 5] == 0x12) {
            uint64_t q = p + 6;
            unsigned pkglen_bytes = (mem[q] >> 6) + 1u;
            q += pkglen_bytes;
            assert_true(mem[q] >= 2);               /* NumElements */
            q++;
            if (mem[q] == 0x0a)                     /* BytePrefix */
                return mem[q + 1];
            if (mem[q] == 0x00 || mem[q] == 0x01)   /* ZeroOp / OneOp */
                return mem[q];
            return -1;
        }
    }
    return -1;
}

static void test_dsdt_s5_drives_pm_device(void **state)
{
    (void)state;
    uint64_t f = xsdt_find("FACP");
    uint64_t dsdt = g32(f + 40);
    int typ = dsdt_s5_slp_typ(dsdt);
    assert_true(typ >= 0);
    /* What Linux then does: SLP_TYP | SLP_EN to PM1a_CNT_BLK. The device must power off. */
    struct vpm pm;
    vpm_init(&pm, &test_clock, (struct vdev_irq){ 0 }, test_event_sink);
    vpm_bus_write(&pm, 0, g32(f + 64), 2, ((unsigned)typ << 10) | 0x2000u);
    assert_int_equal(test_events, VDEV_EVENT_POWEROFF);
}

static void test_madt(void **state)
{
    (void)state;
    uint64_t m = xsdt_find("APIC");
    check_header(m, "APIC", 5);
    assert_int_equal(g32(m + 36), 0xfee00000u);     /* local APIC address */
    assert_int_equal(g32(m + 40) & 1, 1);           /* PCAT_COMPAT */
    unsigned lapics = 0, ioapics = 0, isos = 0, nmis = 0;
    bool irq0 = false, sci = false;
    uint32_t len = g32(m + 4);
    for (uint64_t p = m + 44; p < m + len; p += mem[p + 1]) {
        assert_true(mem[p + 1] >= 2);
        switch (mem[p]) {
        case 0:
            assert_int_equal(mem[p + 1], 8);
            assert_int_equal(mem[p + 3], lapics);   /* APIC IDs 0..n-1 */
            assert_int_equal(g32(p + 4) & 1, 1);    /* enabled */
            lapics++;
            break;
        case 1:
            assert_int_equal(mem[p + 1], 12);
            assert_int_equal(mem[p + 2], 4);        /* ID after the CPUs' */
            assert_int_equal(g32(p + 4), 0xfec00000u);
            assert_int_equal(g32(p + 8), 0);        /* GSI base */
            ioapics++;
            break;
        case 2:
            assert_int_equal(mem[p + 1], 10);
            assert_int_equal(mem[p + 2], 0);        /* ISA */
            if (mem[p + 3] == 0) {
                assert_int_equal(g32(p + 4), 2);
                assert_int_equal(g16(p + 8), 0);    /* conforming */
                irq0 = true;
            } else if (mem[p + 3] == 9) {
                assert_int_equal(g32(p + 4), 9);
                assert_int_equal(g16(p + 8) & 3, 1);         /* active high */
                assert_int_equal((g16(p + 8) >> 2) & 3, 3);  /* level */
                sci = true;
            }
            isos++;
            break;
        case 4:
            assert_int_equal(mem[p + 1], 6);
            assert_int_equal(mem[p + 2], 0xff);
            assert_int_equal(mem[p + 5], 1);        /* LINT1 */
            nmis++;
            break;
        default:
            fail_msg("unexpected MADT entry type %u", mem[p]);
        }
    }
    assert_int_equal(lapics, 4);
    assert_int_equal(ioapics, 1);
    assert_int_equal(isos, 2);
    assert_int_equal(nmis, 1);
    assert_true(irq0);
    assert_true(sci);
}

static void test_errors(void **state)
{
    (void)state;
    struct acpi_layout l;
    C.cpus = 0;
    assert_int_equal(acpi_build(&GM, 0xe0000, 0x20000, &C, &l), ACPI_ERR_CPUS);
    C.cpus = 17;
    assert_int_equal(acpi_build(&GM, 0xe0000, 0x20000, &C, &l), ACPI_ERR_CPUS);
    C.cpus = 2;
    assert_int_equal(acpi_build(&GM, 0xe0000, 0x100, &C, &l), ACPI_ERR_SPACE);
    assert_int_equal(acpi_build(&GM, 0xe0008, 0x20000, &C, &l), ACPI_ERR_SPACE);
    assert_int_equal(acpi_build(&GM, 0x200000, 0x20000, &C, &l), ACPI_ERR_MEMORY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rsdp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rsdt_xsdt_agree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fadt_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dsdt_s5_drives_pm_device, setup, teardown),
        cmocka_unit_test_setup_teardown(test_madt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
