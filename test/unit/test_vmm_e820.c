/* SPDX-License-Identifier: MIT */
/* test_vmm_e820.c: the e820 map builder (servers/vmm/devices/e820.c): sorted, merged, the VM layout around the legacy and PCI holes. */
#include "vmm_test.h"

#include "e820.h"

static struct e820_map M;

static void expect(unsigned i, uint64_t addr, uint64_t size, uint32_t type)
{
    assert_true(i < M.count);
    assert_int_equal(M.e[i].addr, addr);
    assert_int_equal(M.e[i].size, size);
    assert_int_equal(M.e[i].type, type);
}

static void test_add_sorts_merges_refuses_overlap(void **state)
{
    (void)state;
    e820_init(&M);
    assert_int_equal(e820_add(&M, 0x200000, 0x100000, E820_RAM), E820_OK);
    assert_int_equal(e820_add(&M, 0x0, 0x1000, E820_RESERVED), E820_OK);
    assert_int_equal(e820_add(&M, 0x100000, 0x100000, E820_RAM), E820_OK);  /* merges forward */
    assert_int_equal(M.count, 2);
    expect(0, 0, 0x1000, E820_RESERVED);
    expect(1, 0x100000, 0x200000, E820_RAM);
    assert_int_equal(e820_add(&M, 0x2ff000, 0x2000, E820_RAM), E820_ERR_OVERLAP);
    assert_int_equal(e820_add(&M, 0x0fff, 2, E820_RAM), E820_ERR_OVERLAP);
    assert_int_equal(e820_add(&M, 0x5000, 0, E820_RAM), E820_ERR_EMPTY);
    assert_int_equal(e820_add(&M, 0x300000, 0x1000, E820_RAM), E820_OK);    /* merges backward */
    expect(1, 0x100000, 0x201000, E820_RAM);
    assert_int_equal(e820_add(&M, 0x1000, 0xff000, E820_RAM), E820_OK);     /* bridges: joins next */
    assert_int_equal(M.count, 2);
    expect(1, 0x1000, 0x300000, E820_RAM);
}

static void test_layout_small_vm(void **state)
{
    (void)state;
    assert_int_equal(e820_build(&M, 256ull << 20), E820_OK);
    assert_int_equal(M.count, 4);
    expect(0, 0, 0x9fc00, E820_RAM);
    expect(1, 0x9fc00, 0x400, E820_RESERVED);
    expect(2, 0xe0000, 0x20000, E820_RESERVED);
    expect(3, 0x100000, (256ull << 20) - 0x100000, E820_RAM);
}

static void test_layout_above_hole(void **state)
{
    (void)state;
    assert_int_equal(e820_build(&M, 4ull << 30), E820_OK);
    assert_int_equal(M.count, 5);
    expect(3, 0x100000, 0xc0000000ull - 0x100000, E820_RAM);
    expect(4, 0x100000000ull, 1ull << 30, E820_RAM);
    assert_int_equal(e820_ram_below_4g(4ull << 30), 0xc0000000ull);
    assert_int_equal(e820_ram_above_4g(4ull << 30), 1ull << 30);
    /* Nothing but reserved ranges overlaps the I/O APIC or local APIC windows. */
    for (unsigned i = 0; i < M.count; i++)
        assert_true(M.e[i].addr + M.e[i].size <= 0xfec00000ull || M.e[i].addr >= 0x100000000ull);
}

static void test_too_small(void **state)
{
    (void)state;
    assert_int_equal(e820_build(&M, 1ull << 20), E820_ERR_SMALL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_sorts_merges_refuses_overlap),
        cmocka_unit_test(test_layout_small_vm),
        cmocka_unit_test(test_layout_above_hole),
        cmocka_unit_test(test_too_small),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
