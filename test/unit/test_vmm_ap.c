/* SPDX-License-Identifier: MIT */
/* test_vmm_ap.c: an AP's start state after INIT/SIPI (servers/vmm/boot/ap.c) and the CPUID topology (boot/topology.c) against the Intel SDM and AMD APM. */
#include "vmm_test.h"

#include "ap.h"
#include "topology.h"

/* SDM Vol. 3A Table 9-1 and §9.4.4: SIPI vector V -> CS = V << 8, base V << 12, IP 0, real mode. */
static void test_sipi_state(void **state)
{
    (void)state;
    struct hv_vcpu_state s;
    memset(&s, 0xa5, sizeof(s));
    ap_sipi_state(&s, 0x9a, 0x00a20f12u);
    assert_int_equal(s.cs.selector, 0x9a00);
    assert_int_equal(s.cs.base, 0x9a000);
    assert_int_equal(s.cs.limit, 0xffff);
    assert_int_equal(s.cs.attr, 0x9b);
    assert_int_equal(s.rip, 0);
    assert_int_equal(s.rflags, 2);
    assert_int_equal(s.cr0, 0x60000010);
    assert_int_equal(s.cr3, 0);
    assert_int_equal(s.cr4, 0);
    assert_int_equal(s.efer, 0);
    assert_int_equal(s.rdx, 0x00a20f12u);
    assert_int_equal(s.rax, 0);
    assert_int_equal(s.rsp, 0);
    const struct hv_segment *data[] = { &s.ds, &s.es, &s.fs, &s.gs, &s.ss };
    for (unsigned i = 0; i < 5; i++) {
        assert_int_equal(data[i]->selector, 0);
        assert_int_equal(data[i]->base, 0);
        assert_int_equal(data[i]->limit, 0xffff);
        assert_int_equal(data[i]->attr, 0x93);
    }
    assert_int_equal(s.tr.attr, 0x8b);
    assert_int_equal(s.ldtr.attr, 0x82);
    assert_int_equal(s.gdtr.base, 0);
    assert_int_equal(s.gdtr.limit, 0xffff);
    assert_int_equal(s.idtr.limit, 0xffff);
    assert_int_equal(s.pat, 0x0007040600070406ull);
    assert_int_equal(s.inject_event, 0);
    assert_int_equal(s.intr_state, 0);
    /* Every group but the TSC is written: INIT leaves the TSC alone. */
    assert_int_equal(s.mtd, HV_MTD_ALL & ~(uint64_t)HV_MTD_TSC);
    ap_sipi_state(&s, 0, 0);
    assert_int_equal(s.cs.selector, 0);
    assert_int_equal(s.cs.base, 0);
    ap_sipi_state(&s, 0xff, 0);
    assert_int_equal(s.cs.selector, 0xff00);
    assert_int_equal(s.cs.base, 0xff000);
}

static void test_order(void **state)
{
    (void)state;
    assert_int_equal(topology_order(1), 0);
    assert_int_equal(topology_order(2), 1);
    assert_int_equal(topology_order(3), 2);
    assert_int_equal(topology_order(4), 2);
    assert_int_equal(topology_order(5), 3);
    assert_int_equal(topology_order(8), 3);
}

/* Leaf 1: the initial APIC ID per vCPU, the addressable IDs, HTT. */
static void test_leaf1(void **state)
{
    (void)state;
    for (unsigned cpu = 0; cpu < 3; cpu++) {
        uint32_t r[4] = { 0x00a20f12u, 0x07080000u | 0x1234u, 0, 0x178bfbffu };
        topology_cpuid(TOPO_LEAF_BASIC, 0, cpu, 3, r);
        assert_int_equal(r[1] >> 24, cpu);
        assert_int_equal((r[1] >> 16) & 0xff, 4);      /* 2^order(3) */
        assert_int_equal(r[1] & 0xffff, 0x1234);         /* brand index, CLFLUSH size kept */
        assert_true(r[3] & TOPO_L1D_HTT);
        assert_int_equal(r[0], 0x00a20f12u);
    }
    uint32_t one[4] = { 0, 0x05000000u, 0, TOPO_L1D_HTT };
    topology_cpuid(TOPO_LEAF_BASIC, 0, 0, 1, one);
    assert_int_equal(one[1] >> 24, 0);
    assert_int_equal((one[1] >> 16) & 0xff, 1);
    assert_false(one[3] & TOPO_L1D_HTT);
}

/* Leaf 0xB: SMT level of one thread, the core level spanning ncpus, x2APIC ID in EDX. */
static void test_leaf_b(void **state)
{
    (void)state;
    uint32_t r[4] = { 0xdead, 0xdead, 0xdead, 0xdead };
    topology_cpuid(TOPO_LEAF_EXT_TOPOLOGY, 0, 1, 2, r);
    assert_int_equal(r[0], 0);
    assert_int_equal(r[1], 1);
    assert_int_equal(r[2], TOPO_LEVEL_SMT << 8);
    assert_int_equal(r[3], 1);
    topology_cpuid(TOPO_LEAF_EXT_TOPOLOGY, 1, 1, 2, r);
    assert_int_equal(r[0], 1);
    assert_int_equal(r[1], 2);
    assert_int_equal(r[2], 1 | (TOPO_LEVEL_CORE << 8));
    assert_int_equal(r[3], 1);
    topology_cpuid(TOPO_LEAF_EXT_TOPOLOGY, 2, 1, 2, r);
    assert_int_equal(r[0], 0);
    assert_int_equal(r[1], 0);
    assert_int_equal(r[2], 2);                          /* level type 0: the end */
    assert_int_equal(r[3], 1);
    /* The package: the APIC ID shifted by the core level's width is the same for every vCPU. */
    for (unsigned cpu = 0; cpu < 5; cpu++) {
        topology_cpuid(TOPO_LEAF_EXT_TOPOLOGY, 1, cpu, 5, r);
        assert_int_equal(r[3] >> r[0], 0);
    }
}

/* Leaf 4: cores per package and the cache sharing; an empty index stays empty. */
static void test_leaf4(void **state)
{
    (void)state;
    uint32_t l1[4] = { 0x1c004121u | (3u << 14) | (7u << 26), 1, 2, 3 };   /* L1 data, level 1 */
    topology_cpuid(TOPO_LEAF_CACHE, 0, 0, 2, l1);
    assert_int_equal(l1[0] >> 26, 1);
    assert_int_equal((l1[0] >> 14) & 0xfff, 0);
    assert_int_equal(l1[0] & 0x3fff, 0x0121);
    assert_int_equal(l1[1], 1);
    uint32_t l3[4] = { 0x00004163u, 0, 0, 0 };          /* unified, level 3 */
    topology_cpuid(TOPO_LEAF_CACHE, 3, 0, 4, l3);
    assert_int_equal(l3[0] >> 26, 3);
    assert_int_equal((l3[0] >> 14) & 0xfff, 3);
    uint32_t none[4] = { 0, 0, 0, 0 };
    topology_cpuid(TOPO_LEAF_CACHE, 4, 0, 4, none);
    assert_int_equal(none[0], 0);
}

/* AMD: CmpLegacy with more than one core, no TOPOEXT, NC and ApicIdCoreIdSize. */
static void test_amd_leaves(void **state)
{
    (void)state;
    uint32_t e1[4] = { 0, 0, TOPO_E1C_TOPOEXT | 0x1u | (1u << 5), 0 };
    topology_cpuid(TOPO_LEAF_EXT_FEATURES, 0, 0, 2, e1);
    assert_true(e1[2] & TOPO_E1C_CMP_LEGACY);
    assert_false(e1[2] & TOPO_E1C_TOPOEXT);
    assert_true(e1[2] & 0x1u);
    assert_true(e1[2] & (1u << 5));
    topology_cpuid(TOPO_LEAF_EXT_FEATURES, 0, 0, 1, e1);
    assert_false(e1[2] & TOPO_E1C_CMP_LEGACY);
    uint32_t e8[4] = { 0x3028, 0, 0x0000f0ffu | 0x10000u, 0 };
    topology_cpuid(TOPO_LEAF_EXT_SIZES, 0, 0, 3, e8);
    assert_int_equal(e8[2] & 0xff, 2);
    assert_int_equal((e8[2] >> 12) & 0xf, 2);
    assert_int_equal(e8[2] & 0x10000u, 0x10000u);       /* other fields kept */
    assert_int_equal(e8[0], 0x3028);
}

/* Other leaves pass untouched. */
static void test_other_leaves(void **state)
{
    (void)state;
    uint32_t r[4] = { 1, 2, 3, 4 };
    topology_cpuid(7, 0, 1, 2, r);
    topology_cpuid(0x80000002u, 0, 1, 2, r);
    assert_int_equal(r[0], 1);
    assert_int_equal(r[1], 2);
    assert_int_equal(r[2], 3);
    assert_int_equal(r[3], 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sipi_state),  cmocka_unit_test(test_order),     cmocka_unit_test(test_leaf1),
        cmocka_unit_test(test_leaf_b),      cmocka_unit_test(test_leaf4),     cmocka_unit_test(test_amd_leaves),
        cmocka_unit_test(test_other_leaves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
