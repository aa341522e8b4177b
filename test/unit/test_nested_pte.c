/* SPDX-License-Identifier: MIT */
/* test_nested_pte: the NPT and EPT entry encodings against the bit layouts of the AMD APM and Intel SDM. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "arch/x86_64/nested_pte.h"

#define HPA 0x0000123456789000ull

/* Restated from the manuals, not from nested_pte.h. */
#define X86_P 0x1ull
#define X86_RW 0x2ull
#define X86_US 0x4ull
#define X86_NX 0x8000000000000000ull
#define EPT_READ 0x1ull
#define EPT_WRITE 0x2ull
#define EPT_EXEC 0x4ull
#define EPT_WB_TYPE (6ull << 3)
#define PDE_LARGE 0x80ull               /* bit 7: NPT PDE.PS (APM 5.3.4), EPT PDE page size (SDM 29.3.2) */
#define LARGE_HPA 0x0000123456600000ull /* 2 MiB-aligned */

static void npt_table_entry(void **state)
{
    (void)state;
    assert_int_equal(nested_table_entry(NESTED_NPT, HPA), HPA | X86_P | X86_RW | X86_US);
    /* Stray low bits of the table address never become flags. */
    assert_int_equal(nested_table_entry(NESTED_NPT, HPA | 0xfff), HPA | X86_P | X86_RW | X86_US);
}

static void npt_leaf_rights(void **state)
{
    (void)state;
    assert_int_equal(nested_leaf_entry(NESTED_NPT, HPA, NESTED_READ), HPA | X86_P | X86_US | X86_NX);
    assert_int_equal(nested_leaf_entry(NESTED_NPT, HPA, NESTED_READ | NESTED_WRITE),
                     HPA | X86_P | X86_US | X86_RW | X86_NX);
    assert_int_equal(nested_leaf_entry(NESTED_NPT, HPA, NESTED_READ | NESTED_EXECUTE), HPA | X86_P | X86_US);
    assert_int_equal(nested_leaf_entry(NESTED_NPT, HPA, 7), HPA | X86_P | X86_US | X86_RW);
    for (unsigned r = 1; r < 8; r += 2)
        assert_int_equal(nested_leaf_rights(NESTED_NPT, nested_leaf_entry(NESTED_NPT, HPA, r)), r);
}

static void ept_entries(void **state)
{
    (void)state;
    assert_int_equal(nested_table_entry(NESTED_EPT, HPA), HPA | EPT_READ | EPT_WRITE | EPT_EXEC);
    assert_int_equal(nested_leaf_entry(NESTED_EPT, HPA, NESTED_READ), HPA | EPT_READ | EPT_WB_TYPE);
    assert_int_equal(nested_leaf_entry(NESTED_EPT, HPA, 7), HPA | EPT_READ | EPT_WRITE | EPT_EXEC | EPT_WB_TYPE);
    for (unsigned r = 1; r < 8; r += 2)
        assert_int_equal(nested_leaf_rights(NESTED_EPT, nested_leaf_entry(NESTED_EPT, HPA, r)), r);
}

static void presence_and_address(void **state)
{
    (void)state;
    assert_false(nested_present(NESTED_NPT, 0));
    assert_false(nested_present(NESTED_EPT, 0));
    /* An EPT entry is present with any of R/W/X; an NPT entry only with P. */
    assert_true(nested_present(NESTED_EPT, EPT_EXEC));
    assert_false(nested_present(NESTED_NPT, X86_RW | X86_US));
    assert_int_equal(nested_entry_pa(nested_leaf_entry(NESTED_NPT, HPA, 7)), HPA);
    assert_int_equal(nested_entry_pa(nested_leaf_entry(NESTED_EPT, HPA, 7)), HPA);
}

/* 2 MiB leaves: the 4 KiB leaf's flags plus bit 7, address bits 20:12 clear. */
static void large_leaves(void **state)
{
    (void)state;
    assert_int_equal(nested_large_leaf_entry(NESTED_NPT, LARGE_HPA, NESTED_READ | NESTED_WRITE),
                     LARGE_HPA | X86_P | X86_US | X86_RW | X86_NX | PDE_LARGE);
    assert_int_equal(nested_large_leaf_entry(NESTED_EPT, LARGE_HPA, 7),
                     LARGE_HPA | EPT_READ | EPT_WRITE | EPT_EXEC | EPT_WB_TYPE | PDE_LARGE);
    /* A base that is not 2 MiB-aligned loses bits 20:12 (PAT on NPT, reserved on EPT). */
    assert_int_equal(nested_large_leaf_entry(NESTED_NPT, LARGE_HPA | 0x1ff000, NESTED_READ | NESTED_EXECUTE),
                     LARGE_HPA | X86_P | X86_US | PDE_LARGE);
    for (unsigned f = 0; f < 2; f++) {
        enum nested_format fmt = f ? NESTED_EPT : NESTED_NPT;
        for (unsigned r = 1; r < 8; r += 2) {
            uint64_t e = nested_large_leaf_entry(fmt, LARGE_HPA, r);
            assert_true(nested_present(fmt, e) && nested_is_large(e));
            assert_int_equal(nested_large_pa(e), LARGE_HPA);
            assert_int_equal(nested_leaf_rights(fmt, e), r);
        }
        assert_false(nested_is_large(nested_table_entry(fmt, HPA)));
        assert_false(nested_is_large(nested_leaf_entry(fmt, HPA, 7)));
    }
}

static void indices(void **state)
{
    (void)state;
    uint64_t gpa = (5ull << 39) | (6ull << 30) | (7ull << 21) | (8ull << 12) | 0x123;
    assert_int_equal(nested_index(gpa, 4), 5);
    assert_int_equal(nested_index(gpa, 3), 6);
    assert_int_equal(nested_index(gpa, 2), 7);
    assert_int_equal(nested_index(gpa, 1), 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(npt_table_entry),
        cmocka_unit_test(npt_leaf_rights),
        cmocka_unit_test(ept_entries),
        cmocka_unit_test(presence_and_address),
        cmocka_unit_test(large_leaves),
        cmocka_unit_test(indices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
