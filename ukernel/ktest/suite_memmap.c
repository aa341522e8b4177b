/* SPDX-License-Identifier: MIT */
/* suite memmap: the physical memory map and boot modules match what the emulator was given. */
#include "../arch/x86_64/extable.h"
#include "../arch/x86_64/kernel_paging.h"
#include "../arch/x86_64/layout.h"
#include "../lib/kstring.h"
#include "ktest.h"

#define MIB (1024ull * 1024ull)
/* Holes a PC firmware legitimately takes out of RAM: the 640K-1M legacy area and
 * ACPI/firmware data at the top. Anything more means the map is wrong. */
#define FIRMWARE_SLACK (2 * MIB)

/* The harness adds this module; its content is fixed (test/data/testmod.txt). */
#define TESTMOD_NAME "testmod"
#define TESTMOD_TEXT "hv boot module test payload v1\n"

extern char __image_phys_start[], __image_phys_end[];

static bool range_in_usable(const struct boot_info *bi, uint64_t start, uint64_t end)
{
    for (size_t i = 0; i < bi->region_count; i++) {
        const struct mem_region *r = &bi->regions[i];
        if (r->type == MEM_USABLE && start >= r->base && end <= r->base + r->length)
            return true;
    }
    return false;
}

KTEST_SUITE(memmap)
{
    unsigned long expected_mib = 0;
    bool have = ktest_cmdline_u64(bi, "expect_mem_mib", &expected_mib);
    ktest_check(have, "harness_gave_expected_size", "expect_mem_mib missing from command line");
    uint64_t expected = (uint64_t)expected_mib * MIB;

    uint64_t usable = bootinfo_usable_bytes(bi);
    uint64_t top = bootinfo_usable_top(bi);
    ktest_check(usable <= expected && usable + FIRMWARE_SLACK >= expected, "usable_total_matches",
                "usable %lu KiB, machine has %lu KiB", usable >> 10, expected >> 10);
    ktest_check(top <= expected && top + FIRMWARE_SLACK >= expected, "usable_top_matches",
                "top 0x%lx, machine has 0x%lx", top, expected);
    ktest_check(!bi->regions_truncated && bi->region_count >= 3, "map_complete",
                "%lu regions, truncated=%d", bi->region_count, bi->regions_truncated);
    ktest_check(range_in_usable(bi, 0x1000, 0x9f000), "low_memory_usable",
                "[4K, 636K) not in one usable region");
    ktest_check(!range_in_usable(bi, 0xa0000, 0x100000), "legacy_hole_not_usable",
                "VGA/BIOS area reported usable");
    /* basic meminfo's upper memory is the usable RAM contiguous from 1 MiB. */
    uint64_t upper_end = MIB + (uint64_t)bi->mem_upper_kib * 1024u;
    ktest_check(upper_end <= expected && range_in_usable(bi, MIB, upper_end),
                "basic_meminfo_consistent", "mem_upper %u KiB", bi->mem_upper_kib);

    uint64_t img_start = (uint64_t)(uintptr_t)__image_phys_start;
    uint64_t img_end = (uint64_t)(uintptr_t)__image_phys_end;
    ktest_check(img_start == KERNEL_PHYS_LOAD && range_in_usable(bi, img_start, img_end),
                "image_in_usable_ram", "image [0x%lx-0x%lx)", img_start, img_end);

    const struct boot_module *m = bootinfo_find_module(bi, TESTMOD_NAME);
    ktest_check(m != NULL, "module_present", "no module named %s (%lu modules)", TESTMOD_NAME,
                bi->module_count);
    if (m == NULL)
        return;
    size_t len = strlen(TESTMOD_TEXT);
    ktest_check(m->end - m->start == len, "module_size", "%lu bytes, expected %lu",
                m->end - m->start, len);
    ktest_check(range_in_usable(bi, m->start, m->end) &&
                    (m->end <= img_start || m->start >= img_end),
                "module_in_ram_outside_image", "module [0x%lx-0x%lx)", m->start, m->end);
    ktest_check(m->end - m->start == len &&
                    memcmp(phys_to_virt(m->start), TESTMOD_TEXT, len) == 0,
                "module_content", "content differs from test/data/testmod.txt");
}
