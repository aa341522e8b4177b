/* SPDX-License-Identifier: MIT */
/* test_vmm_cpuid.c: which CPUID leaves the guest gets from the host and what is taken out of them (servers/vmm/boot/cpuid_filter.c). */
#include "vmm_test.h"

#include "cpuid_filter.h"

static void all_ones(uint32_t r[4])
{
    r[0] = r[1] = r[2] = r[3] = 0xffffffffu;
}

/* AMD APM Vol. 3 E.4.17: leaf 0x8000001F EAX bit 0 SME, bit 1 SEV, EBX[5:0] the C-bit.
 * Linux's decompressor reads MSR_AMD64_SEV (0xc0010131) when bit 1 is set, before it
 * has an IDT: the vmm's #GP for that MSR triple-faulted the guest (Bochs's ryzen model
 * answers 7 / 0x2f here). The VM offers no memory encryption: the whole leaf is zero. */
static void test_memory_encryption_hidden(void **state)
{
    (void)state;
    assert_true(cpuid_leaf_from_host(0x8000001fu));
    uint32_t r[4] = { 7, 0x2f, 0, 0 };
    cpuid_filter(0x8000001fu, 0, r);
    assert_int_equal(r[0], 0);
    assert_int_equal(r[1], 0);
    all_ones(r);
    cpuid_filter(0x8000001fu, 0, r);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(r[i], 0);
}

static void test_virtualization_hidden(void **state)
{
    (void)state;
    uint32_t r[4];
    all_ones(r);
    cpuid_filter(1, 0, r);
    assert_int_equal(r[2] & (1u << 5), 0);          /* VMX */
    assert_int_equal(r[2] & (1u << 31), 1u << 31);  /* hypervisor present */
    all_ones(r);
    cpuid_filter(0x80000001u, 0, r);
    assert_int_equal(r[2] & (1u << 2), 0);          /* SVM */
    all_ones(r);
    cpuid_filter(0x8000000au, 0, r);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(r[i], 0);
}

static void test_leaves_from_host(void **state)
{
    (void)state;
    assert_true(cpuid_leaf_from_host(0));
    assert_true(cpuid_leaf_from_host(7));
    assert_true(cpuid_leaf_from_host(0xb));
    assert_false(cpuid_leaf_from_host(8));
    assert_false(cpuid_leaf_from_host(0xd));
    assert_false(cpuid_leaf_from_host(0x40000000u));
    assert_false(cpuid_leaf_from_host(0x4fffffffu));
    assert_true(cpuid_leaf_from_host(0x80000000u));
    uint32_t r[4] = { 0x1f, 0, 0, 0 };
    cpuid_filter(0, 0, r);
    assert_int_equal(r[0], 0xb);                    /* the basic maximum is the topology leaf */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_encryption_hidden),
        cmocka_unit_test(test_virtualization_hidden),
        cmocka_unit_test(test_leaves_from_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
