/* SPDX-License-Identifier: MIT */
/* test_bootinfo.c: multiboot2 information parsing (mb2_parse) and the boot_info queries (kernel/bootinfo.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "run_isolated.h"

#include "kernel/bootinfo.h"
#include "../common/xorshift.h"

/*
 * ---- multiboot2 information builder (multiboot2 specification, 3.6) ----
 * Header: u32 total_size, u32 reserved. Tags: u32 type, u32 size (header
 * included, padding excluded), payload, padded to the next 8-byte boundary.
 */
#define BUILD_CAP (64u * 1024u)

struct mb2b {
    _Alignas(8) uint8_t data[BUILD_CAP];
    size_t len;
};

struct mmap_ent {
    uint64_t base;
    uint64_t length;
    uint32_t type;
};

static void b_init(struct mb2b *b)
{
    memset(b->data, 0, sizeof(b->data));
    b->len = 8;
}

static void b_bytes(struct mb2b *b, const void *p, size_t n)
{
    assert_true(b->len + n <= sizeof(b->data));
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void b_u32(struct mb2b *b, uint32_t v)
{
    b_bytes(b, &v, sizeof(v));
}

static void b_u64(struct mb2b *b, uint64_t v)
{
    b_bytes(b, &v, sizeof(v));
}

static void set_u32(struct mb2b *b, size_t off, uint32_t v)
{
    memcpy(b->data + off, &v, sizeof(v));
}

/* Starts a tag; returns its offset for b_close. */
static size_t b_open(struct mb2b *b, uint32_t type)
{
    assert_int_equal(b->len % 8, 0);
    size_t off = b->len;
    b_u32(b, type);
    b_u32(b, 0);
    return off;
}

/* Ends a tag: size = bytes written since b_open, then pads with `pad` to 8 bytes. */
static void b_close_pad(struct mb2b *b, size_t off, uint8_t pad)
{
    set_u32(b, off + 4, (uint32_t)(b->len - off));
    while (b->len % 8 != 0)
        b_bytes(b, &pad, 1);
}

static void b_close(struct mb2b *b, size_t off)
{
    b_close_pad(b, off, 0);
}

/* A string tag (cmdline, bootloader name); `nul` false leaves out the terminator. */
static void b_string_tag(struct mb2b *b, uint32_t type, const char *s, bool nul)
{
    size_t off = b_open(b, type);
    b_bytes(b, s, strlen(s) + (nul ? 1 : 0));
    b_close(b, off);
}

static void b_cmdline(struct mb2b *b, const char *s)
{
    b_string_tag(b, MB2_TAG_CMDLINE, s, true);
}

static void b_loader(struct mb2b *b, const char *s)
{
    b_string_tag(b, MB2_TAG_BOOTLOADER_NAME, s, true);
}

static void b_module(struct mb2b *b, uint32_t start, uint32_t end, const char *name)
{
    size_t off = b_open(b, MB2_TAG_MODULE);
    b_u32(b, start);
    b_u32(b, end);
    b_bytes(b, name, strlen(name) + 1);
    b_close(b, off);
}

static void b_meminfo(struct mb2b *b, uint32_t lower, uint32_t upper)
{
    size_t off = b_open(b, MB2_TAG_BASIC_MEMINFO);
    b_u32(b, lower);
    b_u32(b, upper);
    b_close(b, off);
}

static void b_mmap_sized(struct mb2b *b, uint32_t entry_size, const struct mmap_ent *e, size_t n)
{
    size_t off = b_open(b, MB2_TAG_MMAP);
    b_u32(b, entry_size);
    b_u32(b, 0);    /* entry_version */
    for (size_t i = 0; i < n; i++) {
        size_t start = b->len;
        b_u64(b, e[i].base);
        b_u64(b, e[i].length);
        b_u32(b, e[i].type);
        b_u32(b, 0);
        while (b->len - start < entry_size)     /* future fields: zero */
            b_bytes(b, "", 1);
    }
    b_close(b, off);
}

static void b_mmap(struct mb2b *b, const struct mmap_ent *e, size_t n)
{
    b_mmap_sized(b, 24, e, n);
}

/* A tag of any type with `payload` bytes of filler. */
static void b_unknown(struct mb2b *b, uint32_t type, size_t payload, uint8_t fill)
{
    size_t off = b_open(b, type);
    for (size_t i = 0; i < payload; i++)
        b_bytes(b, &fill, 1);
    b_close(b, off);
}

static void b_end(struct mb2b *b)
{
    b_u32(b, MB2_TAG_END);
    b_u32(b, 8);
}

/* Writes total_size = everything built so far. */
static void b_finish(struct mb2b *b)
{
    set_u32(b, 0, (uint32_t)b->len);
}

/* One usable region so structures without a point to make about the map parse. */
static const struct mmap_ent one_region[] = { { 0x100000, 0x1000000, MEM_USABLE } };

/*
 * Parses a copy of the first `avail` bytes in a heap block of exactly that size,
 * so AddressSanitizer reports any read past what the parser was told it may read.
 * `out` is pre-filled with garbage to prove the parser writes every byte it owns.
 */
static enum mb2_error parse_avail_magic(uint32_t magic, const struct mb2b *b, size_t avail,
                                        struct boot_info *out)
{
    uint8_t *copy = malloc(avail ? avail : 1);
    assert_non_null(copy);
    memcpy(copy, b->data, avail);
    memset(out, 0xa5, sizeof(*out));
    enum mb2_error err = mb2_parse(magic, copy, avail, out);
    free(copy);
    return err;
}

static enum mb2_error parse_avail(const struct mb2b *b, size_t avail, struct boot_info *out)
{
    return parse_avail_magic(MB2_BOOTLOADER_MAGIC, b, avail, out);
}

static enum mb2_error parse(const struct mb2b *b, struct boot_info *out)
{
    return parse_avail(b, b->len, out);
}

static bool all_zero(const struct boot_info *bi)
{
    const uint8_t *p = (const uint8_t *)bi;
    for (size_t i = 0; i < sizeof(*bi); i++) {
        if (p[i] != 0)
            return false;
    }
    return true;
}

static void expect_error(const struct mb2b *b, enum mb2_error want)
{
    struct boot_info bi;
    enum mb2_error got = parse(b, &bi);
    if (got != want)
        fail_msg("mb2_parse returned %d (%s), expected %d (%s)", got, mb2_strerror(got), want,
                 mb2_strerror(want));
    assert_true(all_zero(&bi));
}

static void expect_ok(const struct mb2b *b, struct boot_info *bi)
{
    enum mb2_error got = parse(b, bi);
    if (got != MB2_OK)
        fail_msg("mb2_parse returned %d (%s), expected success", got, mb2_strerror(got));
}

static struct mb2b B;   /* the structure under construction (64 KiB: off the stack) */

/* ---- a realistic structure, as GRUB on QEMU (128 MiB + 1 GiB above 4 GiB) hands it over ---- */

static const struct mmap_ent qemu_map[] = {
    { 0x0, 0x9fc00, MEM_USABLE },
    { 0x9fc00, 0x400, MEM_RESERVED },
    { 0xf0000, 0x10000, MEM_RESERVED },
    { 0x100000, 0x7ee0000, MEM_USABLE },
    { 0x7fe0000, 0x20000, MEM_RESERVED },
    { 0xfeffc000, 0x4000, MEM_RESERVED },
    { 0xfffc0000, 0x40000, MEM_RESERVED },
    { 0x100000000ull, 0x40000000, MEM_USABLE },
    { 0xfd00000000ull, 0x300000000ull, MEM_RESERVED },
};
#define QEMU_MAP_N (sizeof(qemu_map) / sizeof(qemu_map[0]))

static void build_qemu(struct mb2b *b)
{
    b_init(b);
    b_cmdline(b, "console=com1 test=boot loglevel=3");
    b_loader(b, "GRUB 2.06-13+deb12u1");
    b_module(b, 0x10b000, 0x10b01f, "testmod");
    b_module(b, 0x10c000, 0x20c000, "initrd");
    b_meminfo(b, 639, 130048);
    b_unknown(b, 5, 12, 0xff);          /* BIOS boot device: 20 bytes, padded to 24 */
    b_mmap(b, qemu_map, QEMU_MAP_N);
    b_unknown(b, 8, 30, 0x11);          /* framebuffer info */
    b_unknown(b, 9, 100, 0x22);         /* ELF sections */
    b_unknown(b, 14, 20, 0x33);         /* ACPI old RSDP: 28 bytes */
    b_unknown(b, 21, 4, 0x44);          /* image load base: 12 bytes */
    b_end(b);
    b_finish(b);
}

static void test_realistic(void **state)
{
    (void)state;
    struct boot_info bi;
    build_qemu(&B);
    expect_ok(&B, &bi);

    assert_string_equal(bi.cmdline, "console=com1 test=boot loglevel=3");
    assert_string_equal(bi.loader_name, "GRUB 2.06-13+deb12u1");
    assert_int_equal(bi.mem_lower_kib, 639);
    assert_int_equal(bi.mem_upper_kib, 130048);
    assert_int_equal(bi.region_count, QEMU_MAP_N);
    assert_false(bi.regions_truncated);
    for (size_t i = 0; i < QEMU_MAP_N; i++) {
        assert_int_equal(bi.regions[i].base, qemu_map[i].base);
        assert_int_equal(bi.regions[i].length, qemu_map[i].length);
        assert_int_equal(bi.regions[i].type, qemu_map[i].type);
    }
    assert_int_equal(bi.module_count, 2);
    assert_int_equal(bi.modules[0].start, 0x10b000);
    assert_int_equal(bi.modules[0].end, 0x10b01f);
    assert_string_equal(bi.modules[0].cmdline, "testmod");
    assert_int_equal(bi.modules[1].start, 0x10c000);
    assert_int_equal(bi.modules[1].end, 0x20c000);
    assert_string_equal(bi.modules[1].cmdline, "initrd");

    assert_int_equal(bootinfo_usable_bytes(&bi), 0x9fc00ull + 0x7ee0000ull + 0x40000000ull);
    assert_int_equal(bootinfo_usable_top(&bi), 0x140000000ull);

    char v[32];
    assert_true(bootinfo_cmdline_get(&bi, "test", v, sizeof(v)));
    assert_string_equal(v, "boot");
    assert_ptr_equal(bootinfo_find_module(&bi, "initrd"), &bi.modules[1]);
}

/* The minimum: an mmap tag and the end tag. Optional tags leave their fields zero. */
static void test_minimal(void **state)
{
    (void)state;
    struct boot_info bi;
    b_init(&B);
    b_mmap(&B, one_region, 1);
    b_end(&B);
    b_finish(&B);
    expect_ok(&B, &bi);
    assert_string_equal(bi.cmdline, "");
    assert_string_equal(bi.loader_name, "");
    assert_int_equal(bi.mem_lower_kib, 0);
    assert_int_equal(bi.mem_upper_kib, 0);
    assert_int_equal(bi.module_count, 0);
    assert_int_equal(bi.region_count, 1);
    assert_false(bi.regions_truncated);
}

/* Tags the core does not consume, of any size, are skipped; tags after the end tag are not read. */
static void test_unknown_tags_skipped(void **state)
{
    (void)state;
    struct boot_info bi;
    b_init(&B);
    b_unknown(&B, 0x7fffffff, 0, 0xee);     /* header only */
    b_unknown(&B, 10, 1, 0xee);
    b_unknown(&B, 11, 7, 0xee);
    b_cmdline(&B, "a=1");
    b_unknown(&B, 0xffffffff, 13, 0xee);
    b_mmap(&B, one_region, 1);
    b_unknown(&B, 7, 200, 0xee);
    b_end(&B);
    b_cmdline(&B, "after=end");            /* past the end tag: ignored */
    b_finish(&B);
    expect_ok(&B, &bi);
    assert_string_equal(bi.cmdline, "a=1");
    assert_int_equal(bi.region_count, 1);
    assert_int_equal(bi.regions[0].base, 0x100000);
}

/* entry_size above 24 (a future entry_version) is honoured as the stride. */
static void test_mmap_larger_entry_size(void **state)
{
    (void)state;
    static const struct mmap_ent map[] = {
        { 0x0, 0x9f000, MEM_USABLE },
        { 0x100000, 0x100000, MEM_ACPI_NVS },
        { 0x200000, 0x300000, MEM_USABLE },
    };
    struct boot_info bi;
    b_init(&B);
    b_mmap_sized(&B, 40, map, 3);
    b_end(&B);
    b_finish(&B);
    expect_ok(&B, &bi);
    assert_int_equal(bi.region_count, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(bi.regions[i].base, map[i].base);
        assert_int_equal(bi.regions[i].length, map[i].length);
        assert_int_equal(bi.regions[i].type, map[i].type);
    }
}

/* Unknown memory types are kept as reported. An empty region does not wrap. */
static void test_mmap_unknown_type_and_empty_region(void **state)
{
    (void)state;
    static const struct mmap_ent map[] = {
        { 0x1000, 0x1000, 0x1234 },
        { UINT64_MAX, 0, MEM_USABLE },
        { 0xfffffffffffff000ull, 0xfff, MEM_RESERVED },
    };
    struct boot_info bi;
    b_init(&B);
    b_mmap(&B, map, 3);
    b_end(&B);
    b_finish(&B);
    expect_ok(&B, &bi);
    assert_int_equal(bi.region_count, 3);
    assert_int_equal(bi.regions[0].type, 0x1234);
    assert_int_equal(bi.regions[1].base, UINT64_MAX);
    assert_int_equal(bi.regions[1].length, 0);
    assert_int_equal(bootinfo_usable_bytes(&bi), 0);
    assert_int_equal(bootinfo_usable_top(&bi), 0);
}

/* ---- every error code ---- */

static void test_err_bad_magic(void **state)
{
    (void)state;
    struct boot_info bi;
    build_qemu(&B);
    static const uint32_t bad[] = { 0, 0x2badb002u /* multiboot1 */, MB2_BOOTLOADER_MAGIC ^ 1u,
                                    0xe85250d6u /* header magic, not the loader's */ };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse_avail_magic(bad[i], &B, B.len, &bi), MB2_ERR_BAD_MAGIC);
        assert_true(all_zero(&bi));
    }
}

static void test_err_misaligned(void **state)
{
    (void)state;
    struct boot_info bi;
    build_qemu(&B);
    uint8_t *block = aligned_alloc(8, B.len + 8);
    assert_non_null(block);
    for (size_t shift = 1; shift < 8; shift++) {
        memcpy(block + shift, B.data, B.len);
        memset(&bi, 0xa5, sizeof(bi));
        assert_int_equal(mb2_parse(MB2_BOOTLOADER_MAGIC, block + shift, B.len, &bi),
                         MB2_ERR_MISALIGNED);
        assert_true(all_zero(&bi));
    }
    free(block);
    memset(&bi, 0xa5, sizeof(bi));
    assert_int_equal(mb2_parse(MB2_BOOTLOADER_MAGIC, NULL, 4096, &bi), MB2_ERR_MISALIGNED);
    assert_true(all_zero(&bi));
}

static void test_err_total_size_too_small(void **state)
{
    (void)state;
    for (uint32_t total = 0; total < 16; total++) {
        b_init(&B);
        b_mmap(&B, one_region, 1);
        b_end(&B);
        set_u32(&B, 0, total);
        expect_error(&B, MB2_ERR_BAD_TOTAL_SIZE);
    }
    /* Fewer than header + one tag header readable at all. */
    struct boot_info bi;
    build_qemu(&B);
    for (size_t avail = 0; avail < 16; avail++) {
        assert_int_equal(parse_avail(&B, avail, &bi), MB2_ERR_BAD_TOTAL_SIZE);
        assert_true(all_zero(&bi));
    }
}

static void test_err_total_size_beyond_avail(void **state)
{
    (void)state;
    struct boot_info bi;
    build_qemu(&B);
    assert_int_equal(parse_avail(&B, B.len - 1, &bi), MB2_ERR_BAD_TOTAL_SIZE);
    assert_true(all_zero(&bi));
    assert_int_equal(parse_avail(&B, B.len - 8, &bi), MB2_ERR_BAD_TOTAL_SIZE);
    assert_true(all_zero(&bi));
    assert_int_equal(parse_avail(&B, 16, &bi), MB2_ERR_BAD_TOTAL_SIZE);
    assert_true(all_zero(&bi));
    /* More readable than total_size is fine. */
    assert_int_equal(parse_avail(&B, B.len + 64, &bi), MB2_OK);
}

/* total_size above 1 MiB is rejected even when that much is readable; 1 MiB itself is accepted. */
static void test_err_total_size_over_1mib(void **state)
{
    (void)state;
    const size_t mib = 1u << 20;
    uint8_t *big = calloc(1, mib + 8);
    assert_non_null(big);
    b_init(&B);
    b_mmap(&B, one_region, 1);
    b_end(&B);
    memcpy(big, B.data, B.len);

    struct boot_info bi;
    uint32_t total = (uint32_t)(mib + 8);
    memcpy(big, &total, 4);
    memset(&bi, 0xa5, sizeof(bi));
    assert_int_equal(mb2_parse(MB2_BOOTLOADER_MAGIC, big, mib + 8, &bi), MB2_ERR_BAD_TOTAL_SIZE);
    assert_true(all_zero(&bi));

    total = UINT32_MAX;
    memcpy(big, &total, 4);
    assert_int_equal(mb2_parse(MB2_BOOTLOADER_MAGIC, big, SIZE_MAX, &bi), MB2_ERR_BAD_TOTAL_SIZE);
    assert_true(all_zero(&bi));

    total = (uint32_t)mib;
    memcpy(big, &total, 4);
    assert_int_equal(mb2_parse(MB2_BOOTLOADER_MAGIC, big, mib, &bi), MB2_OK);
    assert_int_equal(bi.region_count, 1);
    free(big);
}

static void test_err_tag_size_below_header(void **state)
{
    (void)state;
    for (uint32_t size = 0; size < 8; size++) {
        b_init(&B);
        b_mmap(&B, one_region, 1);
        size_t off = b_open(&B, 10);
        b_u64(&B, 0);
        b_close(&B, off);
        set_u32(&B, off + 4, size);
        b_end(&B);
        b_finish(&B);
        expect_error(&B, MB2_ERR_BAD_TAG_SIZE);
    }
}

static void test_err_tag_size_past_end(void **state)
{
    (void)state;
    b_init(&B);
    b_mmap(&B, one_region, 1);
    size_t off = b_open(&B, 10);
    b_u64(&B, 0);
    b_close(&B, off);
    b_end(&B);
    b_finish(&B);
    /* The tag claims one byte more than remains inside total_size. */
    set_u32(&B, off + 4, (uint32_t)(B.len - off + 1));
    expect_error(&B, MB2_ERR_BAD_TAG_SIZE);
    set_u32(&B, off + 4, UINT32_MAX);
    expect_error(&B, MB2_ERR_BAD_TAG_SIZE);
    set_u32(&B, off + 4, 0x80000000u);
    expect_error(&B, MB2_ERR_BAD_TAG_SIZE);
    /* The mmap tag itself too large. */
    set_u32(&B, off + 4, 16);
    set_u32(&B, 8 + 4, (uint32_t)(B.len));
    expect_error(&B, MB2_ERR_BAD_TAG_SIZE);
}

static void test_err_basic_meminfo_too_short(void **state)
{
    (void)state;
    b_init(&B);
    b_mmap(&B, one_region, 1);
    size_t off = b_open(&B, MB2_TAG_BASIC_MEMINFO);
    b_u32(&B, 639);
    b_close(&B, off);                       /* size 12: upper missing */
    b_end(&B);
    b_finish(&B);
    expect_error(&B, MB2_ERR_BAD_TAG_SIZE);
}

static void test_err_no_end_tag(void **state)
{
    (void)state;
    /* Tags run exactly to total_size with no end tag. */
    b_init(&B);
    b_cmdline(&B, "x=y");
    b_mmap(&B, one_region, 1);
    b_finish(&B);
    expect_error(&B, MB2_ERR_NO_END_TAG);

    /* A few bytes left that cannot hold a tag header. */
    b_init(&B);
    b_mmap(&B, one_region, 1);
    B.len += 4;
    b_finish(&B);
    expect_error(&B, MB2_ERR_NO_END_TAG);

    /* The last tag ends inside total_size but its padding would not. */
    b_init(&B);
    b_mmap(&B, one_region, 1);
    size_t off = b_open(&B, 10);
    b_u32(&B, 0);
    b_close(&B, off);                       /* size 12, padded to 16 */
    B.len -= 4;                             /* total_size ends right after the 12 bytes */
    b_finish(&B);
    expect_error(&B, MB2_ERR_NO_END_TAG);

    /* total_size cuts the structure before its end tag. */
    build_qemu(&B);
    set_u32(&B, 0, (uint32_t)(B.len - 8));
    expect_error(&B, MB2_ERR_NO_END_TAG);
}

static void test_err_end_tag_wrong_size(void **state)
{
    (void)state;
    static const uint32_t sizes[] = { 12, 16, 24 };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        b_init(&B);
        b_mmap(&B, one_region, 1);
        size_t off = b_open(&B, MB2_TAG_END);
        B.len += 16;
        set_u32(&B, off + 4, sizes[i]);
        b_finish(&B);
        expect_error(&B, MB2_ERR_BAD_TAG_SIZE);
    }
}

static void test_err_mmap_entry_size(void **state)
{
    (void)state;
    static const uint32_t bad[] = { 0, 8, 16, 20, 23, 25, 28, 30, 36, 44 };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        b_init(&B);
        size_t off = B.len;
        b_mmap(&B, one_region, 1);
        set_u32(&B, off + 8, bad[i]);
        b_end(&B);
        b_finish(&B);
        expect_error(&B, MB2_ERR_BAD_MMAP);
    }
}

static void test_err_mmap_tag_too_short(void **state)
{
    (void)state;
    b_init(&B);
    size_t off = b_open(&B, MB2_TAG_MMAP);
    b_u32(&B, 24);
    b_close(&B, off);                       /* size 12: entry_version missing */
    b_end(&B);
    b_finish(&B);
    expect_error(&B, MB2_ERR_BAD_MMAP);
}

static void test_err_mmap_region_wraps(void **state)
{
    (void)state;
    static const struct mmap_ent wraps[][2] = {
        { { 0x0, 0x1000, MEM_USABLE }, { 0xfffffffffffff000ull, 0x2000, MEM_USABLE } },
        { { 0x0, 0x1000, MEM_USABLE }, { 0x8000000000000000ull, 0x8000000000000001ull, MEM_RESERVED } },
        { { 0x0, 0x1000, MEM_USABLE }, { 1, UINT64_MAX, MEM_BAD } },
        { { UINT64_MAX, UINT64_MAX, MEM_USABLE }, { 0, 0x1000, MEM_USABLE } },
    };
    for (size_t i = 0; i < sizeof(wraps) / sizeof(wraps[0]); i++) {
        b_init(&B);
        b_mmap(&B, wraps[i], 2);
        b_end(&B);
        b_finish(&B);
        expect_error(&B, MB2_ERR_BAD_MMAP);
    }
}

/*
 * An entry_size so large that offset + entry_size wraps 32 bits. No entry fits in
 * the tag, so either the tag is rejected or it yields no region; nothing outside
 * the mmap tag may be read as an entry. Here the mmap tag (header only, size 16)
 * is followed by an unknown tag whose payload looks like a usable region.
 */
static void test_mmap_huge_entry_size_stays_in_tag(void **state)
{
    (void)state;
    static const uint32_t huge[] = { 0xfffffff0u, 0xfffffff8u, 0xffffffe8u };
    for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
        b_init(&B);
        size_t off = b_open(&B, MB2_TAG_MMAP);
        b_u32(&B, huge[i]);
        b_u32(&B, 0);
        b_close(&B, off);
        size_t decoy = b_open(&B, 10);     /* looks like {0x5000, 0x7000, usable} */
        b_u64(&B, 0x5000);
        b_u64(&B, 0x7000);
        b_u32(&B, MEM_USABLE);
        b_u32(&B, 0);
        b_close(&B, decoy);
        b_mmap(&B, NULL, 0);
        b_end(&B);
        b_finish(&B);

        struct boot_info bi;
        enum mb2_error err = parse(&B, &bi);
        if (err == MB2_OK) {
            if (bi.region_count != 0)
                fail_msg("entry_size 0x%x: %zu region(s) read from outside the mmap tag "
                         "(first {0x%" PRIx64 ", 0x%" PRIx64 ", type 0x%x})",
                         huge[i], bi.region_count, bi.regions[0].base, bi.regions[0].length,
                         bi.regions[0].type);
        } else {
            assert_int_equal(err, MB2_ERR_BAD_MMAP);
            assert_true(all_zero(&bi));
        }
    }
}

/* Same, with the mmap tag last before the end tag: reading an "entry" would run past total_size. */
static int huge_entry_size_at_end_child(void)
{
    b_init(&B);
    size_t off = b_open(&B, MB2_TAG_MMAP);
    b_u32(&B, 0xfffffff0u);
    b_u32(&B, 0);
    b_close(&B, off);
    b_end(&B);
    b_finish(&B);
    uint8_t *copy = malloc(B.len);
    if (copy == NULL)
        return 2;
    memcpy(copy, B.data, B.len);
    struct boot_info bi;
    enum mb2_error err = mb2_parse(MB2_BOOTLOADER_MAGIC, copy, B.len, &bi);
    free(copy);
    if (err == MB2_OK)
        return bi.region_count == 0 ? 0 : 3;
    return err == MB2_ERR_BAD_MMAP ? 0 : 4;
}

static void test_mmap_huge_entry_size_no_overread(void **state)
{
    (void)state;
    assert_int_equal(run_isolated(huge_entry_size_at_end_child), 0);
}

static void test_err_module_end_before_start(void **state)
{
    (void)state;
    b_init(&B);
    b_module(&B, 0x200000, 0x1fffff, "bad");
    b_mmap(&B, one_region, 1);
    b_end(&B);
    b_finish(&B);
    expect_error(&B, MB2_ERR_BAD_MODULE);

    /* An empty module (end == start) is fine. */
    struct boot_info bi;
    b_init(&B);
    b_module(&B, 0x200000, 0x200000, "empty");
    b_mmap(&B, one_region, 1);
    b_end(&B);
    b_finish(&B);
    expect_ok(&B, &bi);
    assert_int_equal(bi.module_count, 1);
    assert_int_equal(bi.modules[0].start, bi.modules[0].end);
}

static void test_err_module_tag_too_short(void **state)
{
    (void)state;
    b_init(&B);
    size_t off = b_open(&B, MB2_TAG_MODULE);
    b_u32(&B, 0x1000);
    b_close(&B, off);                       /* size 12: no end field */
    b_mmap(&B, one_region, 1);
    b_end(&B);
    b_finish(&B);
    expect_error(&B, MB2_ERR_BAD_MODULE);
}

static void test_err_too_many_modules(void **state)
{
    (void)state;
    struct boot_info bi;
    char name[16];

    b_init(&B);
    for (int i = 0; i < BOOTINFO_MAX_MODULES; i++) {
        snprintf(name, sizeof(name), "mod%d", i);
        b_module(&B, 0x100000u * (uint32_t)(i + 1), 0x100000u * (uint32_t)(i + 1) + 0x1000u, name);
    }
    b_mmap(&B, one_region, 1);
    size_t end_at = B.len;
    b_end(&B);
    b_finish(&B);
    expect_ok(&B, &bi);                     /* exactly the maximum */
    assert_int_equal(bi.module_count, BOOTINFO_MAX_MODULES);
    for (int i = 0; i < BOOTINFO_MAX_MODULES; i++) {
        snprintf(name, sizeof(name), "mod%d", i);
        assert_string_equal(bi.modules[i].cmdline, name);
        assert_int_equal(bi.modules[i].start, 0x100000u * (uint32_t)(i + 1));
    }

    B.len = end_at;                         /* one more */
    b_module(&B, 0x5000000, 0x5001000, "one-too-many");
    b_end(&B);
    b_finish(&B);
    expect_error(&B, MB2_ERR_TOO_MANY_MODULES);
}

static void test_err_no_mmap(void **state)
{
    (void)state;
    b_init(&B);
    b_cmdline(&B, "a=b");
    b_meminfo(&B, 639, 1000);
    b_end(&B);
    b_finish(&B);
    expect_error(&B, MB2_ERR_NO_MMAP);

    /* An mmap tag after the end tag does not count. */
    b_init(&B);
    b_end(&B);
    b_mmap(&B, one_region, 1);
    b_finish(&B);
    expect_error(&B, MB2_ERR_NO_MMAP);
}

static void test_strerror(void **state)
{
    (void)state;
    const char *seen[MB2_ERR_NO_MMAP + 1];
    for (int e = MB2_OK; e <= MB2_ERR_NO_MMAP; e++) {
        const char *s = mb2_strerror((enum mb2_error)e);
        assert_non_null(s);
        assert_true(s[0] != '\0');
        for (int j = MB2_OK; j < e; j++)
            assert_string_not_equal(s, seen[j]);
        seen[e] = s;
    }
    const char *other = mb2_strerror((enum mb2_error)1000);
    assert_non_null(other);
    assert_true(other[0] != '\0');
}

static void test_mem_type_name(void **state)
{
    (void)state;
    const char *names[6];
    for (uint32_t t = MEM_USABLE; t <= MEM_BAD; t++) {
        names[t] = mem_type_name(t);
        assert_non_null(names[t]);
        assert_true(names[t][0] != '\0');
        for (uint32_t j = MEM_USABLE; j < t; j++)
            assert_string_not_equal(names[t], names[j]);
    }
    assert_non_null(mem_type_name(0));
    assert_non_null(mem_type_name(0xffffffffu));
}

/* ---- strings: bounded by their tag, truncated to their buffer ---- */

/* A tag whose bytes are all 'A': anything copied from it shows up. */
static void b_decoy(struct mb2b *b)
{
    b_u32(b, 0x41414141u);
    b_u32(b, 16);
    b_bytes(b, "AAAAAAAA", 8);
}

static void test_unterminated_cmdline_stops_at_tag_end(void **state)
{
    (void)state;
    struct boot_info bi;
    b_init(&B);
    b_string_tag(&B, MB2_TAG_CMDLINE, "0123456789abcdef", false);   /* size 24, no NUL */
    b_decoy(&B);
    b_mmap(&B, one_region, 1);
    b_end(&B);
    b_finish(&B);
    expect_ok(&B, &bi);
    assert_string_equal(bi.cmdline, "0123456789abcdef");

    /* Odd length without NUL: the padding after the tag's size is not part of the string. */
    b_init(&B);
    size_t off = b_open(&B, MB2_TAG_CMDLINE);
    b_bytes(&B, "k=v-13-chars!", 13);
    b_close_pad(&B, off, 'Z');
    b_mmap(&B, one_region, 1);
    b_end(&B);
    b_finish(&B);
    expect_ok(&B, &bi);
    assert_string_equal(bi.cmdline, "k=v-13-chars!");

    /* Empty payload. */
    b_init(&B);
    b_unknown(&B, MB2_TAG_CMDLINE, 0, 0);
    b_decoy(&B);
    b_mmap(&B, one_region, 1);
    b_end(&B);
    b_finish(&B);
    expect_ok(&B, &bi);
    assert_string_equal(bi.cmdline, "");
}

static void test_unterminated_loader_name_stops_at_tag_end(void **state)
{
    (void)state;
    struct boot_info bi;
    b_init(&B);
    b_string_tag(&B, MB2_TAG_BOOTLOADER_NAME, "GRUBGRUB", false);    /* size 16, no NUL */
    b_decoy(&B);
    b_mmap(&B, one_region, 1);
    b_end(&B);
    b_finish(&B);
    expect_ok(&B, &bi);
    assert_string_equal(bi.loader_name, "GRUBGRUB");
}

static void test_unterminated_module_name_stops_at_tag_end(void **state)
{
    (void)state;
    struct boot_info bi;
    b_init(&B);
    size_t off = b_open(&B, MB2_TAG_MODULE);
    b_u32(&B, 0x300000);
    b_u32(&B, 0x301000);
    b_bytes(&B, "modname!", 8);            /* size 24, no NUL */
    b_close(&B, off);
    b_decoy(&B);
    /* A module with no string at all (size 16). */
    off = b_open(&B, MB2_TAG_MODULE);
    b_u32(&B, 0x400000);
    b_u32(&B, 0x401000);
    b_close(&B, off);
    b_decoy(&B);
    b_mmap(&B, one_region, 1);
    b_end(&B);
    b_finish(&B);
    expect_ok(&B, &bi);
    assert_int_equal(bi.module_count, 2);
    assert_string_equal(bi.modules[0].cmdline, "modname!");
    assert_string_equal(bi.modules[1].cmdline, "");
}

/* An unterminated string in the very last bytes of the structure: no read past total_size. */
static void test_unterminated_string_at_structure_end(void **state)
{
    (void)state;
    b_init(&B);
    b_mmap(&B, one_region, 1);
    b_string_tag(&B, MB2_TAG_CMDLINE, "trailingtrailing", false);
    b_finish(&B);
    expect_error(&B, MB2_ERR_NO_END_TAG);    /* parse() gives it exactly total_size bytes */
}

static void test_long_strings_truncated(void **state)
{
    (void)state;
    char longcmd[BOOTINFO_CMDLINE_MAX + 100];
    char longname[BOOTINFO_NAME_MAX + 50];
    for (size_t i = 0; i < sizeof(longcmd) - 1; i++)
        longcmd[i] = (char)('a' + i % 26);
    longcmd[sizeof(longcmd) - 1] = '\0';
    for (size_t i = 0; i < sizeof(longname) - 1; i++)
        longname[i] = (char)('A' + i % 26);
    longname[sizeof(longname) - 1] = '\0';

    struct boot_info bi;
    b_init(&B);
    b_cmdline(&B, longcmd);
    b_loader(&B, longname);
    b_module(&B, 0x100000, 0x200000, longname);
    b_mmap(&B, one_region, 1);
    b_end(&B);
    b_finish(&B);
    expect_ok(&B, &bi);

    assert_int_equal(strlen(bi.cmdline), BOOTINFO_CMDLINE_MAX - 1);
    assert_memory_equal(bi.cmdline, longcmd, BOOTINFO_CMDLINE_MAX - 1);
    assert_int_equal(strlen(bi.loader_name), BOOTINFO_NAME_MAX - 1);
    assert_memory_equal(bi.loader_name, longname, BOOTINFO_NAME_MAX - 1);
    assert_int_equal(strlen(bi.modules[0].cmdline), BOOTINFO_NAME_MAX - 1);
    assert_memory_equal(bi.modules[0].cmdline, longname, BOOTINFO_NAME_MAX - 1);

    /* Exactly fitting strings are kept whole. */
    longcmd[BOOTINFO_CMDLINE_MAX - 1] = '\0';
    longname[BOOTINFO_NAME_MAX - 1] = '\0';
    b_init(&B);
    b_cmdline(&B, longcmd);
    b_loader(&B, longname);
    b_mmap(&B, one_region, 1);
    b_end(&B);
    b_finish(&B);
    expect_ok(&B, &bi);
    assert_string_equal(bi.cmdline, longcmd);
    assert_string_equal(bi.loader_name, longname);
}

/* ---- region limit ---- */

static void build_n_regions(size_t n)
{
    static struct mmap_ent map[BOOTINFO_MAX_REGIONS + 8];
    assert_true(n <= sizeof(map) / sizeof(map[0]));
    for (size_t i = 0; i < n; i++) {
        map[i].base = 0x100000ull * i;
        map[i].length = 0x80000;
        map[i].type = i % 2 ? MEM_RESERVED : MEM_USABLE;
    }
    b_init(&B);
    b_mmap(&B, map, n);
    b_end(&B);
    b_finish(&B);
}

static void test_regions_limit(void **state)
{
    (void)state;
    struct boot_info bi;

    build_n_regions(BOOTINFO_MAX_REGIONS);
    expect_ok(&B, &bi);
    assert_int_equal(bi.region_count, BOOTINFO_MAX_REGIONS);
    assert_false(bi.regions_truncated);

    build_n_regions(BOOTINFO_MAX_REGIONS + 1);
    expect_ok(&B, &bi);
    assert_int_equal(bi.region_count, BOOTINFO_MAX_REGIONS);
    assert_true(bi.regions_truncated);
    for (size_t i = 0; i < BOOTINFO_MAX_REGIONS; i++)
        assert_int_equal(bi.regions[i].base, 0x100000ull * i);

    build_n_regions(BOOTINFO_MAX_REGIONS + 8);
    expect_ok(&B, &bi);
    assert_int_equal(bi.region_count, BOOTINFO_MAX_REGIONS);
    assert_true(bi.regions_truncated);
}

/* ---- queries ---- */

static void parse_map(const struct mmap_ent *map, size_t n, struct boot_info *bi)
{
    b_init(&B);
    b_mmap(&B, map, n);
    b_end(&B);
    b_finish(&B);
    expect_ok(&B, bi);
}

static void test_usable_bytes_overlaps(void **state)
{
    (void)state;
    struct boot_info bi;

    /* Unsorted, overlapping, contained and duplicate usable regions: union counted once. */
    static const struct mmap_ent overlap[] = {
        { 0x3000, 0x5000, MEM_USABLE },         /* [0x3000, 0x8000) */
        { 0x10000, 0x1000, MEM_USABLE },        /* [0x10000, 0x11000) */
        { 0x1000, 0x4000, MEM_USABLE },         /* [0x1000, 0x5000) */
        { 0x2000, 0x2000, MEM_USABLE },         /* inside */
        { 0x3000, 0x5000, MEM_USABLE },         /* duplicate */
        { 0x10000, 0x1000, MEM_USABLE },        /* duplicate */
        { 0x0, 0x200000, MEM_RESERVED },        /* non-usable over all of it */
        { 0x7000, 0x20000, MEM_ACPI_RECLAIMABLE },
        { 0x20000, 0x1000, MEM_ACPI_NVS },
        { 0x30000, 0x1000, MEM_BAD },
        { 0x40000, 0x1000, 0x99 },
        { 0x50000, 0, MEM_USABLE },             /* empty */
    };
    parse_map(overlap, sizeof(overlap) / sizeof(overlap[0]), &bi);
    assert_int_equal(bootinfo_usable_bytes(&bi), 0x7000 + 0x1000);
    assert_int_equal(bootinfo_usable_top(&bi), 0x11000);

    /* Adjacent regions add up; a region spanning several others absorbs them. */
    static const struct mmap_ent adjacent[] = {
        { 0x200000, 0x100000, MEM_USABLE },
        { 0x100000, 0x100000, MEM_USABLE },
        { 0x300000, 0x100000, MEM_USABLE },
    };
    parse_map(adjacent, 3, &bi);
    assert_int_equal(bootinfo_usable_bytes(&bi), 0x300000);
    assert_int_equal(bootinfo_usable_top(&bi), 0x400000);

    static const struct mmap_ent spanning[] = {
        { 0x1000, 0x1000, MEM_USABLE },
        { 0x5000, 0x1000, MEM_USABLE },
        { 0x0, 0x10000, MEM_USABLE },
        { 0x8000, 0x10000, MEM_USABLE },        /* sticks out to 0x18000 */
    };
    parse_map(spanning, 4, &bi);
    assert_int_equal(bootinfo_usable_bytes(&bi), 0x18000);
    assert_int_equal(bootinfo_usable_top(&bi), 0x18000);

    /* Large values near the top of the address space. */
    static const struct mmap_ent high[] = {
        { 0xffffffff00000000ull, 0xfffff000ull, MEM_USABLE },
        { 0xffffffff80000000ull, 0x7ffff000ull, MEM_USABLE },
        { 0x0, 0x1000, MEM_USABLE },
    };
    parse_map(high, 3, &bi);
    assert_int_equal(bootinfo_usable_bytes(&bi), 0xfffff000ull + 0x1000);
    assert_int_equal(bootinfo_usable_top(&bi), 0xfffffffffffff000ull);
}

static void test_usable_none(void **state)
{
    (void)state;
    struct boot_info bi;
    static const struct mmap_ent reserved_only[] = {
        { 0x0, 0x100000, MEM_RESERVED },
        { 0x100000, 0x100000, MEM_ACPI_RECLAIMABLE },
        { 0x200000, 0x0, MEM_USABLE },
    };
    parse_map(reserved_only, 3, &bi);
    assert_int_equal(bootinfo_usable_bytes(&bi), 0);
    assert_int_equal(bootinfo_usable_top(&bi), 0);

    parse_map(NULL, 0, &bi);                /* an empty mmap tag */
    assert_int_equal(bi.region_count, 0);
    assert_int_equal(bootinfo_usable_bytes(&bi), 0);
    assert_int_equal(bootinfo_usable_top(&bi), 0);
}

/* The top is the end of the highest usable region, whatever the order; higher reserved ones don't count. */
static void test_usable_top(void **state)
{
    (void)state;
    struct boot_info bi;
    static const struct mmap_ent map[] = {
        { 0x100000, 0x7ee0000, MEM_USABLE },        /* ends 0x7fe0000 */
        { 0xfffc0000, 0x40000, MEM_RESERVED },
        { 0x0, 0x9fc00, MEM_USABLE },
        { 0x7000000, 0x100000, MEM_USABLE },        /* inside the big one */
    };
    parse_map(map, 4, &bi);
    assert_int_equal(bootinfo_usable_top(&bi), 0x7fe0000);
    assert_int_equal(bootinfo_usable_bytes(&bi), 0x9fc00 + 0x7ee0000);
}

static void with_cmdline(const char *cmdline, struct boot_info *bi)
{
    b_init(&B);
    b_cmdline(&B, cmdline);
    b_mmap(&B, one_region, 1);
    b_end(&B);
    b_finish(&B);
    expect_ok(&B, bi);
}

#define EXPECT_KEY(bi, key, value)                                      \
    do {                                                                \
        char v_[64];                                                    \
        memset(v_, 0x5a, sizeof(v_));                                   \
        assert_true(bootinfo_cmdline_get((bi), (key), v_, sizeof(v_))); \
        assert_string_equal(v_, (value));                               \
    } while (0)

#define EXPECT_NO_KEY(bi, key)                                           \
    do {                                                                 \
        char v_[64] = "untouched";                                       \
        assert_false(bootinfo_cmdline_get((bi), (key), v_, sizeof(v_))); \
    } while (0)

static void test_cmdline_get(void **state)
{
    (void)state;
    struct boot_info bi;
    with_cmdline("test=boot testing=1 console=com1 empty= flag last=end", &bi);

    EXPECT_KEY(&bi, "test", "boot");          /* first word */
    EXPECT_KEY(&bi, "testing", "1");          /* "test" is its prefix */
    EXPECT_KEY(&bi, "console", "com1");       /* middle */
    EXPECT_KEY(&bi, "last", "end");           /* last word */
    EXPECT_KEY(&bi, "empty", "");             /* empty value */
    EXPECT_NO_KEY(&bi, "flag");               /* present without '=' */
    EXPECT_NO_KEY(&bi, "missing");
    EXPECT_NO_KEY(&bi, "tes");                /* prefix of a key */
    EXPECT_NO_KEY(&bi, "testi");
    EXPECT_NO_KEY(&bi, "con");
    EXPECT_NO_KEY(&bi, "boot");               /* a value, not a key */
    EXPECT_NO_KEY(&bi, "com1");
    EXPECT_NO_KEY(&bi, "test=boot");

    /* A key that is a prefix of the only key present. */
    with_cmdline("testing=1", &bi);
    EXPECT_NO_KEY(&bi, "test");
    EXPECT_KEY(&bi, "testing", "1");

    /* Longer key that has a present key as its prefix. */
    with_cmdline("test=1", &bi);
    EXPECT_NO_KEY(&bi, "testing");
    EXPECT_KEY(&bi, "test", "1");

    /* Extra spaces anywhere. */
    with_cmdline("   a=1    b=two   ", &bi);
    EXPECT_KEY(&bi, "a", "1");
    EXPECT_KEY(&bi, "b", "two");
    EXPECT_NO_KEY(&bi, "c");

    /* Values may contain '='. */
    with_cmdline("opt=x=y", &bi);
    EXPECT_KEY(&bi, "opt", "x=y");

    /* No command line at all. */
    with_cmdline("", &bi);
    EXPECT_NO_KEY(&bi, "test");
}

static void test_cmdline_get_truncates(void **state)
{
    (void)state;
    struct boot_info bi;
    with_cmdline("x=1 console=com1,115200 y=2", &bi);

    char small[6];
    memset(small, 0x5a, sizeof(small));
    assert_true(bootinfo_cmdline_get(&bi, "console", small, sizeof(small)));
    assert_string_equal(small, "com1,");

    char one[1] = { 'z' };
    assert_true(bootinfo_cmdline_get(&bi, "console", one, 1));
    assert_int_equal(one[0], '\0');

    char none[2] = { 'z', 'z' };
    assert_true(bootinfo_cmdline_get(&bi, "console", none, 0));
    assert_int_equal(none[0], 'z');
    assert_int_equal(none[1], 'z');

    char exact[12];     /* "com1,115200" is 11 characters */
    assert_true(bootinfo_cmdline_get(&bi, "console", exact, sizeof(exact)));
    assert_string_equal(exact, "com1,115200");
    assert_true(bootinfo_cmdline_get(&bi, "y", exact, sizeof(exact)));
    assert_string_equal(exact, "2");
}

static void test_find_module(void **state)
{
    (void)state;
    struct boot_info bi;
    build_qemu(&B);
    expect_ok(&B, &bi);

    const struct boot_module *m = bootinfo_find_module(&bi, "testmod");
    assert_ptr_equal(m, &bi.modules[0]);
    assert_int_equal(m->start, 0x10b000);
    assert_int_equal(m->end, 0x10b01f);
    assert_ptr_equal(bootinfo_find_module(&bi, "initrd"), &bi.modules[1]);
    assert_null(bootinfo_find_module(&bi, "test"));        /* prefix */
    assert_null(bootinfo_find_module(&bi, "testmod2"));    /* longer */
    assert_null(bootinfo_find_module(&bi, "TESTMOD"));
    assert_null(bootinfo_find_module(&bi, ""));
    assert_null(bootinfo_find_module(&bi, "missing"));

    /* No modules at all. */
    b_init(&B);
    b_mmap(&B, one_region, 1);
    b_end(&B);
    b_finish(&B);
    expect_ok(&B, &bi);
    assert_null(bootinfo_find_module(&bi, "testmod"));
}

/* ---- fuzz: random mutations of valid structures never crash or overread ---- */

static uint64_t rng_state = 0x243f6a8885a308d3ull;

static uint64_t rng_next(void)
{
    return xorshift64s(&rng_state);
}

static bool nul_within(const char *s, size_t n)
{
    return memchr(s, '\0', n) != NULL;
}

/* Returns 0 when every invariant holds; a distinct code otherwise. */
static int check_result(enum mb2_error err, const struct boot_info *bi)
{
    if ((int)err < MB2_OK || err > MB2_ERR_NO_MMAP)
        return 10;
    if (err != MB2_OK)
        return all_zero(bi) ? 0 : 11;
    if (bi->region_count > BOOTINFO_MAX_REGIONS || bi->module_count > BOOTINFO_MAX_MODULES)
        return 12;
    if (bi->regions_truncated && bi->region_count != BOOTINFO_MAX_REGIONS)
        return 13;
    if (!nul_within(bi->cmdline, sizeof(bi->cmdline)) ||
        !nul_within(bi->loader_name, sizeof(bi->loader_name)))
        return 14;
    for (size_t i = 0; i < bi->region_count; i++) {
        const struct mem_region *r = &bi->regions[i];
        if (r->length != 0 && r->base + r->length < r->base)
            return 15;
    }
    for (size_t i = 0; i < bi->module_count; i++) {
        if (bi->modules[i].end < bi->modules[i].start ||
            !nul_within(bi->modules[i].cmdline, sizeof(bi->modules[i].cmdline)))
            return 16;
    }
    uint64_t usable = bootinfo_usable_bytes(bi);
    uint64_t top = bootinfo_usable_top(bi);
    if (usable > top)
        return 17;
    char v[16];
    (void)bootinfo_cmdline_get(bi, "test", v, sizeof(v));
    (void)bootinfo_cmdline_get(bi, "", v, sizeof(v));
    if (bi->module_count > 0 &&
        bootinfo_find_module(bi, bi->modules[0].cmdline) != &bi->modules[0])
        return 18;
    return 0;
}

static void mutate(uint8_t *buf, size_t len, size_t *avail, size_t cap)
{
    static const uint32_t interesting[] = {
        0, 1, 2, 4, 7, 8, 9, 12, 15, 16, 17, 20, 23, 24, 25, 28, 32, 40, 0x7f, 0x80, 0xff,
        0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000u, 0xfffffff0u, 0xfffffff8u, 0xffffffffu,
        1u << 20, (1u << 20) + 8, MB2_TAG_MMAP, MB2_TAG_MODULE, MB2_TAG_END,
    };
    const size_t n_interesting = sizeof(interesting) / sizeof(interesting[0]);
    uint32_t v;

    switch (rng_next() % 7) {
    case 0:     /* random byte */
        buf[rng_next() % len] = (uint8_t)rng_next();
        break;
    case 1:     /* bit flip */
        buf[rng_next() % len] ^= (uint8_t)(1u << (rng_next() % 8));
        break;
    case 2:     /* interesting value at an aligned field */
    case 3:
        v = interesting[rng_next() % n_interesting];
        memcpy(buf + (rng_next() % (len / 4)) * 4, &v, 4);
        break;
    case 4:     /* value relative to the structure size */
        v = (uint32_t)(len + (rng_next() % 33) - 16);
        memcpy(buf + (rng_next() % (len / 4)) * 4, &v, 4);
        break;
    case 5:     /* total_size */
        v = rng_next() % 2 ? (uint32_t)(rng_next() % cap) : interesting[rng_next() % n_interesting];
        memcpy(buf, &v, 4);
        break;
    default:    /* how much the caller says is readable */
        *avail = (size_t)(rng_next() % cap);
        break;
    }
}

#define FUZZ_ITERATIONS 20000

static int fuzz_child(void)
{
    static struct mb2b seeds[3];
    static const struct mmap_ent small_map[] = {
        { 0x0, 0x9fc00, MEM_USABLE },
        { 0x100000, 0x1000000, MEM_USABLE },
    };

    build_qemu(&seeds[0]);
    /* mmap last, right before the end tag. */
    b_init(&seeds[1]);
    b_cmdline(&seeds[1], "test=fuzz");
    b_module(&seeds[1], 0x200000, 0x201000, "m");
    b_mmap(&seeds[1], small_map, 2);
    b_end(&seeds[1]);
    b_finish(&seeds[1]);
    /* Strings last, right before the end tag. */
    b_init(&seeds[2]);
    b_mmap(&seeds[2], small_map, 2);
    b_loader(&seeds[2], "loader");
    b_cmdline(&seeds[2], "a=b c=d");
    b_end(&seeds[2]);
    b_finish(&seeds[2]);

    uint8_t work[4096];
    for (int iter = 0; iter < FUZZ_ITERATIONS; iter++) {
        const struct mb2b *seed = &seeds[iter % 3];
        size_t len = seed->len;
        size_t cap = len + 64;
        memset(work, 0, cap);
        memcpy(work, seed->data, len);
        size_t avail = len;
        unsigned n = 1 + (unsigned)(rng_next() % 4);
        for (unsigned k = 0; k < n; k++)
            mutate(work, len, &avail, cap);

        uint8_t *copy = malloc(avail ? avail : 1);     /* exactly what is readable */
        if (copy == NULL)
            return 2;
        memcpy(copy, work, avail);
        static struct boot_info bi;
        memset(&bi, 0xa5, sizeof(bi));
        enum mb2_error err = mb2_parse(MB2_BOOTLOADER_MAGIC, copy, avail, &bi);
        free(copy);
        int rc = check_result(err, &bi);
        if (rc != 0) {
            fprintf(stderr, "fuzz iteration %d: invariant %d broken (err %d)\n", iter, rc, err);
            return rc;
        }
    }
    return 0;
}

static void test_fuzz_mutations(void **state)
{
    (void)state;
    assert_int_equal(run_isolated(fuzz_child), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_realistic),
        cmocka_unit_test(test_minimal),
        cmocka_unit_test(test_unknown_tags_skipped),
        cmocka_unit_test(test_mmap_larger_entry_size),
        cmocka_unit_test(test_mmap_unknown_type_and_empty_region),
        cmocka_unit_test(test_err_bad_magic),
        cmocka_unit_test(test_err_misaligned),
        cmocka_unit_test(test_err_total_size_too_small),
        cmocka_unit_test(test_err_total_size_beyond_avail),
        cmocka_unit_test(test_err_total_size_over_1mib),
        cmocka_unit_test(test_err_tag_size_below_header),
        cmocka_unit_test(test_err_tag_size_past_end),
        cmocka_unit_test(test_err_basic_meminfo_too_short),
        cmocka_unit_test(test_err_no_end_tag),
        cmocka_unit_test(test_err_end_tag_wrong_size),
        cmocka_unit_test(test_err_mmap_entry_size),
        cmocka_unit_test(test_err_mmap_tag_too_short),
        cmocka_unit_test(test_err_mmap_region_wraps),
        cmocka_unit_test(test_mmap_huge_entry_size_stays_in_tag),
        cmocka_unit_test(test_mmap_huge_entry_size_no_overread),
        cmocka_unit_test(test_err_module_end_before_start),
        cmocka_unit_test(test_err_module_tag_too_short),
        cmocka_unit_test(test_err_too_many_modules),
        cmocka_unit_test(test_err_no_mmap),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_mem_type_name),
        cmocka_unit_test(test_unterminated_cmdline_stops_at_tag_end),
        cmocka_unit_test(test_unterminated_loader_name_stops_at_tag_end),
        cmocka_unit_test(test_unterminated_module_name_stops_at_tag_end),
        cmocka_unit_test(test_unterminated_string_at_structure_end),
        cmocka_unit_test(test_long_strings_truncated),
        cmocka_unit_test(test_regions_limit),
        cmocka_unit_test(test_usable_bytes_overlaps),
        cmocka_unit_test(test_usable_none),
        cmocka_unit_test(test_usable_top),
        cmocka_unit_test(test_cmdline_get),
        cmocka_unit_test(test_cmdline_get_truncates),
        cmocka_unit_test(test_find_module),
        cmocka_unit_test(test_fuzz_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
