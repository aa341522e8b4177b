/* SPDX-License-Identifier: MIT */
/* test_paging.c: pt_map_range/pt_translate (arch/x86_64/paging.c) over simulated memory, checked by an SDM walker. */
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

#include "arch/x86_64/paging.h"
#include "../common/xorshift.h"

/*
 * ---- the architecture, restated from the Intel SDM Vol. 3A, 4.5 (4-level paging) ----
 * Deliberately not taken from paging.h, so the expectations do not share its mistakes.
 */
#define SDM_P (1ull << 0)
#define SDM_RW (1ull << 1)
#define SDM_US (1ull << 2)
#define SDM_PWT (1ull << 3)
#define SDM_PCD (1ull << 4)
#define SDM_A (1ull << 5)
#define SDM_D (1ull << 6)
#define SDM_PS (1ull << 7)
#define SDM_G (1ull << 8)
#define SDM_XD (1ull << 63)
#define SDM_MAXPHYADDR 52
#define SDM_PHYS_MASK ((1ull << SDM_MAXPHYADDR) - 1)
#define KIB4 0x1000ull
#define MIB2 0x200000ull
#define GIB1 0x40000000ull

/* Bits M-1:shift of an entry hold the frame address (Tables 4-15..4-20). */
static uint64_t sdm_frame(uint64_t e, unsigned shift)
{
    return e & SDM_PHYS_MASK & ~((1ull << shift) - 1);
}

/* ---- simulated physical memory ---- */

#define SIM_PAGES 2048
#define SIM_BASE 0x7f000000ull     /* physical address of simulated page 0 */
#define POISON 0xccccccccccccccccull

struct sim {
    uint64_t (*mem)[PT_ENTRIES];
    size_t used;        /* pages handed out (the root included) */
    size_t limit;       /* alloc_table fails once used reaches this */
};

static struct sim S;
static struct pt_env E;
static uint64_t ROOT;

static uint64_t sim_alloc(void *ctx)
{
    struct sim *s = ctx;
    if (s->used >= s->limit || s->used >= SIM_PAGES)
        return 0;
    memset(s->mem[s->used], 0, PAGE_SIZE);
    return SIM_BASE + (uint64_t)(s->used++) * PAGE_SIZE;
}

/* Only tables that were handed out may be reached; anything else is a wild pointer. */
static uint64_t *sim_page(struct sim *s, uint64_t pa)
{
    if (pa % PAGE_SIZE != 0 || pa < SIM_BASE || pa >= SIM_BASE + (uint64_t)s->used * PAGE_SIZE)
        fail_msg("table access at physical 0x%" PRIx64 " outside the allocated tables", pa);
    return s->mem[(pa - SIM_BASE) / PAGE_SIZE];
}

static uint64_t *sim_table_ptr(void *ctx, uint64_t pa)
{
    return sim_page(ctx, pa);
}

/* Fresh memory; `extra_tables` tables may be allocated after the root. */
static void sim_reset(size_t extra_tables, bool allow_1g)
{
    if (S.mem == NULL) {
        S.mem = aligned_alloc(PAGE_SIZE, (size_t)SIM_PAGES * PAGE_SIZE);
        assert_non_null(S.mem);
    }
    memset(S.mem, 0xcc, (size_t)SIM_PAGES * PAGE_SIZE);
    S.used = 0;
    S.limit = SIM_PAGES;
    E.alloc_table = sim_alloc;
    E.table_ptr = sim_table_ptr;
    E.ctx = &S;
    E.allow_1g = allow_1g;
    ROOT = sim_alloc(&S);
    assert_int_not_equal(ROOT, 0);
    S.limit = 1 + extra_tables;
}

static int teardown_sim(void **state)
{
    (void)state;
    free(S.mem);
    S.mem = NULL;
    return 0;
}

/* ---- an independent 4-level walker (SDM 4.5.4, Figure 4-8..4-10) ---- */

struct walk {
    bool present;
    uint64_t pa;
    unsigned level;     /* of the leaf: 1 = 4 KiB, 2 = 2 MiB, 3 = 1 GiB */
    uint64_t leaf;
    uint64_t inter[3];  /* the non-leaf entries on the way, PML4E first */
    unsigned n_inter;
    bool writable;      /* R/W set at every level */
    bool user;          /* U/S set at every level */
    bool nx;            /* XD set at any level */
};

static bool sdm_canonical(uint64_t va)
{
    /* Bits 63:47 all equal (4-level paging, 48-bit linear addresses). */
    uint64_t hi = va >> 47;
    return hi == 0 || hi == (1ull << 17) - 1;
}

static struct walk walk(uint64_t root, uint64_t va)
{
    struct walk w;
    memset(&w, 0, sizeof(w));
    if (!sdm_canonical(va))
        return w;
    w.writable = true;
    w.user = true;
    uint64_t table = sdm_frame(root, 12);
    for (unsigned level = 4; level >= 1; level--) {
        unsigned shift = 12 + 9 * (level - 1);
        uint64_t e = sim_page(&S, table)[(va >> shift) & 0x1ff];
        if (!(e & SDM_P))
            return w;
        w.writable = w.writable && (e & SDM_RW);
        w.user = w.user && (e & SDM_US);
        w.nx = w.nx || (e & SDM_XD);
        bool page = level == 1 || ((level == 2 || level == 3) && (e & SDM_PS));
        if (level == 4 && (e & SDM_PS))
            fail_msg("PML4E for 0x%" PRIx64 " has PS (reserved) set: 0x%" PRIx64, va, e);
        if (page) {
            /* In a large-page entry bit 12 is PAT; bits shift-1:13 are reserved (must be 0). */
            if (level > 1 && (e & ((1ull << shift) - 1) & ~((1ull << 13) - 1)) != 0)
                fail_msg("reserved bits set in a level-%u page entry: 0x%" PRIx64, level, e);
            w.present = true;
            w.level = level;
            w.leaf = e;
            w.pa = sdm_frame(e, shift) | (va & ((1ull << shift) - 1));
            return w;
        }
        w.inter[w.n_inter++] = e;
        table = sdm_frame(e, 12);
    }
    return w;
}

static uint64_t level_bytes(unsigned level)
{
    return level == 3 ? GIB1 : level == 2 ? MIB2 : KIB4;
}

/* Leaf bits other than the frame address. */
static uint64_t leaf_flag_bits(const struct walk *w)
{
    unsigned shift = 12 + 9 * (w->level - 1);
    return w->leaf & ~(SDM_PHYS_MASK & ~((1ull << shift) - 1));
}

/*
 * Checks va is mapped to pa by a page of `level` with exactly `flags` (plus P, and PS
 * for large pages); intermediates are P|W, plus U when `inter_u` (if >= 0), never more.
 */
static void expect_mapped(uint64_t va, uint64_t pa, unsigned level, uint64_t flags, int inter_u)
{
    struct walk w = walk(ROOT, va);
    if (!w.present)
        fail_msg("va 0x%" PRIx64 " is not mapped", va);
    if (w.pa != pa || w.level != level)
        fail_msg("va 0x%" PRIx64 ": pa 0x%" PRIx64 " level %u, expected pa 0x%" PRIx64 " level %u",
                 va, w.pa, w.level, pa, level);
    uint64_t want = flags | SDM_P | (level > 1 ? SDM_PS : 0);
    if (leaf_flag_bits(&w) != want)
        fail_msg("va 0x%" PRIx64 ": leaf flags 0x%" PRIx64 ", expected 0x%" PRIx64, va,
                 leaf_flag_bits(&w), want);
    for (unsigned i = 0; i < w.n_inter; i++) {
        uint64_t f = w.inter[i] & ~(SDM_PHYS_MASK & ~0xfffull);
        bool ok = (f & ~SDM_US) == (SDM_P | SDM_RW);
        if (inter_u >= 0)
            ok = ok && ((f & SDM_US) != 0) == (inter_u != 0);
        if (!ok)
            fail_msg("va 0x%" PRIx64 ": level-%u entry 0x%" PRIx64 " has flags 0x%" PRIx64
                     ", expected P|W%s", va, 4 - i, w.inter[i], f,
                     inter_u < 0 ? "[|U]" : inter_u ? "|U" : "");
    }
    /* Rights come from the leaf alone. */
    assert_int_equal(w.writable, (flags & SDM_RW) != 0);
    assert_int_equal(w.user, (flags & SDM_US) != 0);
    assert_int_equal(w.nx, (flags & SDM_XD) != 0);
}

static void expect_unmapped(uint64_t va)
{
    struct walk w = walk(ROOT, va);
    if (w.present)
        fail_msg("va 0x%" PRIx64 " unexpectedly mapped to 0x%" PRIx64, va, w.pa);
}

/* The page size rule of pt_map_range's contract: the largest page alignment and length allow. */
static unsigned greedy_level(uint64_t va, uint64_t pa, uint64_t left, bool allow_1g)
{
    if (allow_1g && va % GIB1 == 0 && pa % GIB1 == 0 && left >= GIB1)
        return 3;
    if (va % MIB2 == 0 && pa % MIB2 == 0 && left >= MIB2)
        return 2;
    return 1;
}

/* Walks a whole mapped range leaf by leaf; returns the number of leaves of each size. */
static void expect_range(uint64_t va, uint64_t pa, uint64_t size, uint64_t flags, int inter_u,
                         size_t counts[4])
{
    if (counts != NULL)
        memset(counts, 0, 4 * sizeof(counts[0]));
    uint64_t done = 0;
    while (done < size) {
        unsigned level = greedy_level(va + done, pa + done, size - done, E.allow_1g);
        expect_mapped(va + done, pa + done, level, flags, inter_u);
        uint64_t last = level_bytes(level) - 1;
        expect_mapped(va + done + last, pa + done + last, level, flags, inter_u);
        if (counts != NULL)
            counts[level]++;
        done += level_bytes(level);
    }
}

static enum pt_error map(uint64_t va, uint64_t pa, uint64_t size, uint64_t flags)
{
    return pt_map_range(&E, ROOT, va, pa, size, flags);
}

#define MAP_OK(va, pa, size, flags)                                                         \
    do {                                                                                    \
        enum pt_error e_ = map((va), (pa), (size), (flags));                                \
        if (e_ != PT_OK)                                                                    \
            fail_msg("pt_map_range(0x%" PRIx64 ", 0x%" PRIx64 ", 0x%" PRIx64 ") = %d (%s)", \
                     (uint64_t)(va), (uint64_t)(pa), (uint64_t)(size), e_, pt_strerror(e_)); \
    } while (0)

/* ---- header constants and pure helpers ---- */

static void test_header_matches_sdm(void **state)
{
    (void)state;
    assert_int_equal(PTE_P, SDM_P);
    assert_int_equal(PTE_W, SDM_RW);
    assert_int_equal(PTE_U, SDM_US);
    assert_int_equal(PTE_PWT, SDM_PWT);
    assert_int_equal(PTE_PCD, SDM_PCD);
    assert_int_equal(PTE_A, SDM_A);
    assert_int_equal(PTE_D, SDM_D);
    assert_int_equal(PTE_PS, SDM_PS);
    assert_int_equal(PTE_G, SDM_G);
    assert_int_equal(PTE_NX, SDM_XD);
    assert_int_equal(PTE_ADDR_MASK, sdm_frame(UINT64_MAX, 12));
    assert_int_equal(PTE_LARGE_ADDR_MASK_2M, sdm_frame(UINT64_MAX, 21));
    assert_int_equal(PTE_LARGE_ADDR_MASK_1G, sdm_frame(UINT64_MAX, 30));
    assert_int_equal(LARGE_PAGE_SIZE_2M, MIB2);
    assert_int_equal(LARGE_PAGE_SIZE_1G, GIB1);
    assert_int_equal(PTE_LEAF_FLAGS, SDM_RW | SDM_US | SDM_PWT | SDM_PCD | SDM_G | SDM_XD);
}

/* Index fields: PML4 = bits 47:39, PDPT = 38:30, PD = 29:21, PT = 20:12. */
static unsigned sdm_index(uint64_t va, unsigned level)
{
    static const unsigned lo[5] = { 0, 12, 21, 30, 39 };
    return (unsigned)((va >> lo[level]) & 0x1ff);
}

static void test_pt_index(void **state)
{
    (void)state;
    static const uint64_t vas[] = {
        0, 0xfff, 0x1000, 0x1ff000, 0x200000, 0x3fffffff, 0x40000000, 0x7fffffffffull,
        0x8000000000ull, 0x00007fffffffffffull, 0xffff800000000000ull, 0xffffffff80000000ull,
        0xffffffffffffffffull, 0x0000123456789abcull, 0xdeadbeefcafef00dull,
    };
    for (size_t i = 0; i < sizeof(vas) / sizeof(vas[0]); i++) {
        for (unsigned level = 1; level <= 4; level++)
            assert_int_equal(pt_index(vas[i], level), sdm_index(vas[i], level));
    }
    for (unsigned level = 1; level <= 4; level++) {
        assert_int_equal(pt_index(0, level), 0);
        assert_int_equal(pt_index(UINT64_MAX, level), 511);
    }
    uint64_t va = (5ull << 39) | (7ull << 30) | (9ull << 21) | (11ull << 12) | 0x123;
    assert_int_equal(pt_index(va, 4), 5);
    assert_int_equal(pt_index(va, 3), 7);
    assert_int_equal(pt_index(va, 2), 9);
    assert_int_equal(pt_index(va, 1), 11);
    assert_int_equal(pt_index(0xffff800000000000ull, 4), 256);
    assert_int_equal(pt_index(0xffffffff80000000ull, 4), 511);
    assert_int_equal(pt_index(0xffffffff80000000ull, 3), 510);
    assert_int_equal(pt_index(0x00007fffffffffffull, 4), 255);
    /* Bits above 47 do not leak into the PML4 index. */
    assert_int_equal(pt_index(1ull << 48, 4), 0);
    assert_int_equal(pt_index((1ull << 48) - 1, 4), 511);
}

static void test_va_is_canonical(void **state)
{
    (void)state;
    assert_true(va_is_canonical(0));
    assert_true(va_is_canonical(0x1000));
    assert_true(va_is_canonical(0x00007fffffffffffull));
    assert_false(va_is_canonical(0x0000800000000000ull));
    assert_false(va_is_canonical(0x0000ffffffffffffull));
    assert_false(va_is_canonical(0x0001000000000000ull));
    assert_false(va_is_canonical(0x7fffffffffffffffull));
    assert_false(va_is_canonical(0x8000000000000000ull));
    assert_false(va_is_canonical(0xfffe800000000000ull));
    assert_false(va_is_canonical(0xffff7fffffffffffull));
    assert_true(va_is_canonical(0xffff800000000000ull));
    assert_true(va_is_canonical(0xffffffff80000000ull));
    assert_true(va_is_canonical(0xffffffffffffffffull));
    for (unsigned bit = 47; bit < 64; bit++)
        assert_false(va_is_canonical(1ull << bit));
}

static void test_strerror(void **state)
{
    (void)state;
    const char *seen[PT_ERR_BAD_PHYS + 1];
    for (int e = PT_OK; e <= PT_ERR_BAD_PHYS; e++) {
        const char *s = pt_strerror((enum pt_error)e);
        assert_non_null(s);
        assert_true(s[0] != '\0');
        for (int j = PT_OK; j < e; j++)
            assert_string_not_equal(s, seen[j]);
        seen[e] = s;
    }
    assert_non_null(pt_strerror((enum pt_error)77));
}

/* ---- mapping ---- */

static void test_map_single_4k(void **state)
{
    (void)state;
    sim_reset(SIM_PAGES, false);
    MAP_OK(0x1234000, 0x5678000, KIB4, PTE_W);
    expect_mapped(0x1234000, 0x5678000, 1, SDM_RW, 0);
    expect_mapped(0x1234abc, 0x5678abc, 1, SDM_RW, 0);
    expect_mapped(0x1234fff, 0x5678fff, 1, SDM_RW, 0);
    expect_unmapped(0x1233fff);
    expect_unmapped(0x1235000);
    expect_unmapped(0);
    assert_int_equal(S.used, 4);   /* root + PDPT + PD + PT */

    /* A neighbour in the same PT reuses every table. */
    MAP_OK(0x1235000, 0x9000, KIB4, 0);
    expect_mapped(0x1235000, 0x9000, 1, 0, 0);
    assert_int_equal(S.used, 4);
}

static void test_upper_half(void **state)
{
    (void)state;
    sim_reset(SIM_PAGES, false);
    /* A kernel image linked in the top 2 GiB, 4 KiB-granular. */
    MAP_OK(0xffffffff80100000ull, 0x100000, 0x5000, PTE_G);
    MAP_OK(0xffffffff80105000ull, 0x105000, 0x3000, PTE_W | PTE_G | PTE_NX);
    expect_range(0xffffffff80100000ull, 0x100000, 0x5000, SDM_G, 0, NULL);
    expect_range(0xffffffff80105000ull, 0x105000, 0x3000, SDM_RW | SDM_G | SDM_XD, 0, NULL);
    expect_unmapped(0xffffffff80108000ull);
    expect_unmapped(0xffffffff800ff000ull);
    /* The very last page of the address space. */
    MAP_OK(0xfffffffffffff000ull, 0x3000, KIB4, PTE_W);
    expect_mapped(0xffffffffffffffffull, 0x3fff, 1, SDM_RW, 0);
}

static void test_leaf_flags(void **state)
{
    (void)state;
    static const uint64_t bits[] = { PTE_W, PTE_U, PTE_NX, PTE_PCD, PTE_PWT, PTE_G };
    static const uint64_t sdm[] = { SDM_RW, SDM_US, SDM_XD, SDM_PCD, SDM_PWT, SDM_G };
    sim_reset(SIM_PAGES, true);
    for (unsigned combo = 0; combo < 64; combo++) {
        uint64_t flags = 0;
        uint64_t want = 0;
        for (unsigned b = 0; b < 6; b++) {
            if (combo & (1u << b)) {
                flags |= bits[b];
                want |= sdm[b];
            }
        }
        /* Each combination in its own PML4 slot, so intermediates are fresh; once per page size. */
        uint64_t va = (uint64_t)(combo + 1) << 39;
        MAP_OK(va, 0x40000000ull * (combo + 1), KIB4, flags);
        MAP_OK(va + MIB2, 0x40000000ull * (combo + 1) + MIB2, MIB2, flags);
        MAP_OK(va + GIB1, 0x40000000ull * (combo + 65), GIB1, flags);
        int u = (combo & 2u) ? 1 : 0;
        expect_mapped(va, 0x40000000ull * (combo + 1), 1, want, u);
        expect_mapped(va + MIB2 + 0x1234, 0x40000000ull * (combo + 1) + MIB2 + 0x1234, 2, want, u);
        expect_mapped(va + GIB1 + 0x12345678, 0x40000000ull * (combo + 65) + 0x12345678, 3, want, u);
    }
}

static void test_2m_pages(void **state)
{
    (void)state;
    size_t counts[4];
    sim_reset(SIM_PAGES, true);
    MAP_OK(0x40000000ull + 0x600000, 0x200000, 0x400000, PTE_W);
    expect_range(0x40000000ull + 0x600000, 0x200000, 0x400000, SDM_RW, 0, counts);
    assert_int_equal(counts[2], 2);
    assert_int_equal(counts[1], 0);
    expect_mapped(0x40600000ull + 0x123456, 0x200000 + 0x123456, 2, SDM_RW, 0);
    expect_unmapped(0x40a00000ull);
    expect_unmapped(0x405fffffull);
    assert_int_equal(S.used, 3);   /* root + PDPT + PD, no PT */
}

/* va and size 2 MiB-aligned but pa only 4 KiB-aligned: no large page possible. */
static void test_2m_needs_pa_alignment(void **state)
{
    (void)state;
    size_t counts[4];
    sim_reset(SIM_PAGES, true);
    MAP_OK(0x200000, 0x201000, 0x400000, 0);
    expect_range(0x200000, 0x201000, 0x400000, 0, 0, counts);
    assert_int_equal(counts[1], 1024);
    assert_int_equal(counts[2], 0);

    /* pa 2 MiB-aligned, va not. */
    MAP_OK(0x80001000ull, 0x400000, 0x200000, 0);
    expect_range(0x80001000ull, 0x400000, 0x200000, 0, 0, counts);
    assert_int_equal(counts[1], 512);

    /* Both aligned but only 2 MiB - 4 KiB long. */
    MAP_OK(0xc0000000ull, 0xc0000000ull, MIB2 - KIB4, 0);
    expect_range(0xc0000000ull, 0xc0000000ull, MIB2 - KIB4, 0, 0, counts);
    assert_int_equal(counts[1], 511);
    assert_int_equal(counts[2], 0);
}

static void test_1g_only_when_allowed(void **state)
{
    (void)state;
    size_t counts[4];

    sim_reset(SIM_PAGES, false);
    MAP_OK(0x80000000ull, 0x40000000ull, 2 * GIB1, PTE_W);
    expect_range(0x80000000ull, 0x40000000ull, 2 * GIB1, SDM_RW, 0, counts);
    assert_int_equal(counts[3], 0);
    assert_int_equal(counts[2], 1024);
    expect_mapped(0x80000000ull + 0x3fffffff, 0x40000000ull + 0x3fffffff, 2, SDM_RW, 0);

    sim_reset(SIM_PAGES, true);
    MAP_OK(0x80000000ull, 0x40000000ull, 2 * GIB1, PTE_W);
    expect_range(0x80000000ull, 0x40000000ull, 2 * GIB1, SDM_RW, 0, counts);
    assert_int_equal(counts[3], 2);
    assert_int_equal(counts[2], 0);
    expect_mapped(0x80000000ull + 0x3fffffff, 0x40000000ull + 0x3fffffff, 3, SDM_RW, 0);
    assert_int_equal(S.used, 2);   /* root + PDPT */
}

static void test_1g_needs_alignment(void **state)
{
    (void)state;
    size_t counts[4];
    sim_reset(SIM_PAGES, true);

    /* va 1 GiB-aligned, pa only 2 MiB-aligned. */
    MAP_OK(0x40000000ull, 0x200000, GIB1, 0);
    expect_range(0x40000000ull, 0x200000, GIB1, 0, 0, counts);
    assert_int_equal(counts[3], 0);
    assert_int_equal(counts[2], 512);

    /* pa 1 GiB-aligned, va only 2 MiB-aligned. */
    MAP_OK(0x8000200000ull, 0x80000000ull, GIB1, 0);
    expect_range(0x8000200000ull, 0x80000000ull, GIB1, 0, 0, counts);
    assert_int_equal(counts[3], 0);
    assert_int_equal(counts[2], 512);

    /* Both aligned, one 2 MiB page short of 1 GiB. */
    MAP_OK(0x10000000000ull, 0xc0000000ull, GIB1 - MIB2, 0);
    expect_range(0x10000000000ull, 0xc0000000ull, GIB1 - MIB2, 0, 0, counts);
    assert_int_equal(counts[3], 0);
    assert_int_equal(counts[2], 511);
}

/* Unaligned head, large middle, 4 KiB tail. */
static void test_mixed_range_2m(void **state)
{
    (void)state;
    size_t counts[4];
    sim_reset(SIM_PAGES, false);
    uint64_t va = 0x40000000ull - 3 * KIB4;
    uint64_t pa = 0x10000000ull - 3 * KIB4;
    uint64_t size = 3 * KIB4 + 2 * MIB2 + 5 * KIB4;
    MAP_OK(va, pa, size, PTE_W | PTE_NX);
    expect_range(va, pa, size, SDM_RW | SDM_XD, 0, counts);
    assert_int_equal(counts[1], 8);
    assert_int_equal(counts[2], 2);
    /* The exact layout. */
    expect_mapped(va, pa, 1, SDM_RW | SDM_XD, 0);
    expect_mapped(va + 2 * KIB4, pa + 2 * KIB4, 1, SDM_RW | SDM_XD, 0);
    expect_mapped(0x40000000ull, 0x10000000ull, 2, SDM_RW | SDM_XD, 0);
    expect_mapped(0x40200000ull, 0x10200000ull, 2, SDM_RW | SDM_XD, 0);
    expect_mapped(0x40400000ull, 0x10400000ull, 1, SDM_RW | SDM_XD, 0);
    expect_mapped(0x40404fffull, 0x10404fffull, 1, SDM_RW | SDM_XD, 0);
    expect_unmapped(va - 1);
    expect_unmapped(0x40405000ull);
}

static void test_mixed_range_1g(void **state)
{
    (void)state;
    size_t counts[4];
    sim_reset(SIM_PAGES, true);
    uint64_t va = 2 * GIB1 - MIB2 - KIB4;
    uint64_t pa = 5 * GIB1 - MIB2 - KIB4;
    uint64_t size = KIB4 + MIB2 + GIB1 + 2 * MIB2 + 3 * KIB4;
    MAP_OK(va, pa, size, PTE_G);
    expect_range(va, pa, size, SDM_G, 0, counts);
    assert_int_equal(counts[1], 4);
    assert_int_equal(counts[2], 3);
    assert_int_equal(counts[3], 1);
    expect_mapped(va, pa, 1, SDM_G, 0);
    expect_mapped(2 * GIB1 - MIB2, 5 * GIB1 - MIB2, 2, SDM_G, 0);
    expect_mapped(2 * GIB1, 5 * GIB1, 3, SDM_G, 0);
    expect_mapped(3 * GIB1 - 1, 6 * GIB1 - 1, 3, SDM_G, 0);
    expect_mapped(3 * GIB1, 6 * GIB1, 2, SDM_G, 0);
    expect_mapped(3 * GIB1 + MIB2, 6 * GIB1 + MIB2, 2, SDM_G, 0);
    expect_mapped(3 * GIB1 + 2 * MIB2, 6 * GIB1 + 2 * MIB2, 1, SDM_G, 0);
    expect_unmapped(3 * GIB1 + 2 * MIB2 + 3 * KIB4);
}

/* Intermediates: P|W, U only under user leaves, never NX or cache/global bits. */
static void test_intermediate_entries(void **state)
{
    (void)state;
    sim_reset(SIM_PAGES, true);

    /* Kernel-only leaves with every other flag: intermediates stay exactly P|W. */
    MAP_OK(0x1000, 0x1000, KIB4, PTE_NX | PTE_PCD | PTE_PWT | PTE_G);
    expect_mapped(0x1000, 0x1000, 1, SDM_XD | SDM_PCD | SDM_PWT | SDM_G, 0);
    /* Read-only leaf: intermediates still W (the leaf alone decides). */
    MAP_OK(0x8000000000ull, 0x2000, KIB4, 0);
    expect_mapped(0x8000000000ull, 0x2000, 1, 0, 0);

    /* A user leaf in a fresh subtree: intermediates P|W|U. */
    MAP_OK(0x10000000000ull, 0x3000, KIB4, PTE_U | PTE_NX);
    expect_mapped(0x10000000000ull, 0x3000, 1, SDM_US | SDM_XD, 1);

    /* A user leaf beside a kernel leaf: the shared intermediates gain U... */
    MAP_OK(0x2000, 0x4000, KIB4, PTE_U | PTE_W);
    expect_mapped(0x2000, 0x4000, 1, SDM_US | SDM_RW, 1);
    /* ...and the kernel leaf stays kernel-only, because its own U bit is clear. */
    expect_mapped(0x1000, 0x1000, 1, SDM_XD | SDM_PCD | SDM_PWT | SDM_G, 1);

    /* A kernel leaf added under user intermediates is still not user-accessible. */
    MAP_OK(0x10000001000ull, 0x5000, KIB4, PTE_W);
    expect_mapped(0x10000001000ull, 0x5000, 1, SDM_RW, 1);

    /* Large user pages: their intermediates are U too. */
    MAP_OK(0x18000000000ull, 0x40000000ull, GIB1, PTE_U);
    expect_mapped(0x18000000000ull, 0x40000000ull, 3, SDM_US, 1);
    MAP_OK(0x20000000000ull, 0x200000, MIB2, PTE_U);
    expect_mapped(0x20000000000ull, 0x200000, 2, SDM_US, 1);
}

/* ---- errors ---- */

static void expect_error(uint64_t va, uint64_t pa, uint64_t size, uint64_t flags, enum pt_error want)
{
    enum pt_error got = map(va, pa, size, flags);
    if (got != want)
        fail_msg("pt_map_range(va 0x%" PRIx64 ", pa 0x%" PRIx64 ", size 0x%" PRIx64
                 ", flags 0x%" PRIx64 ") = %d (%s), expected %d (%s)",
                 va, pa, size, flags, got, pt_strerror(got), want, pt_strerror(want));
}

static void test_err_align(void **state)
{
    (void)state;
    sim_reset(SIM_PAGES, true);
    expect_error(0x1001, 0x2000, KIB4, 0, PT_ERR_ALIGN);
    expect_error(0x1800, 0x2000, KIB4, 0, PT_ERR_ALIGN);
    expect_error(0x1000, 0x2010, KIB4, 0, PT_ERR_ALIGN);
    expect_error(0x1000, 0x2000, 0x1001, 0, PT_ERR_ALIGN);
    expect_error(0x1000, 0x2000, 0x800, 0, PT_ERR_ALIGN);
    expect_error(0x1000, 0x2000, 1, 0, PT_ERR_ALIGN);
    expect_error(0x200fff, 0x200000, MIB2, 0, PT_ERR_ALIGN);
    expect_error(0xffffffff80000001ull, 0, KIB4, 0, PT_ERR_ALIGN);
    expect_unmapped(0x1000);
    expect_unmapped(0x200000);
}

static void test_err_flags(void **state)
{
    (void)state;
    static const uint64_t bad[] = {
        PTE_PS, PTE_P, PTE_A, PTE_D, 1ull << 9, 1ull << 10, 1ull << 11, 1ull << 12,
        1ull << 52, 1ull << 58, 1ull << 62, 0x000ffffffffff000ull,
        PTE_W | PTE_PS, PTE_U | PTE_NX | (1ull << 52),
    };
    sim_reset(SIM_PAGES, true);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_error(0x1000, 0x1000, KIB4, bad[i], PT_ERR_FLAGS);
        expect_error(0x200000, 0x200000, MIB2, bad[i], PT_ERR_FLAGS);
    }
    expect_unmapped(0x1000);
    expect_unmapped(0x200000);
}

/* Physical addresses are at most 52 bits (SDM 4.1.4): bits above must never reach a leaf. */
static void test_err_bad_phys(void **state)
{
    (void)state;
    sim_reset(SIM_PAGES, true);
    expect_error(0x1000, 1ull << 52, KIB4, 0, PT_ERR_BAD_PHYS);
    expect_error(0x1000, 0x8000000000001000ull, KIB4, 0, PT_ERR_BAD_PHYS);      /* would set NX */
    expect_error(0x1000, (1ull << 52) - KIB4, 2 * KIB4, 0, PT_ERR_BAD_PHYS);   /* runs past the limit */
    expect_unmapped(0x1000);
    expect_unmapped(0x2000);
    /* The last page below the limit is fine. */
    assert_int_equal(map(0x1000, (1ull << 52) - KIB4, KIB4, 0), PT_OK);
}

static void test_err_noncanonical(void **state)
{
    (void)state;
    sim_reset(SIM_PAGES, true);
    expect_error(0x0000800000000000ull, 0, KIB4, 0, PT_ERR_NONCANONICAL);
    expect_error(0xffff7ffffffff000ull, 0, KIB4, 0, PT_ERR_NONCANONICAL);
    expect_error(0x8000000000000000ull, 0, KIB4, 0, PT_ERR_NONCANONICAL);
    expect_error(0x0000fffffffff000ull, 0, KIB4, 0, PT_ERR_NONCANONICAL);
    /* Starting canonical, running into the hole. */
    expect_error(0x00007ffffffff000ull, 0, 2 * KIB4, 0, PT_ERR_NONCANONICAL);
    expect_error(0x00007fffffe00000ull, 0, 2 * MIB2, 0, PT_ERR_NONCANONICAL);
    expect_error(0x00007fffc0000000ull, 0, 2 * GIB1, 0, PT_ERR_NONCANONICAL);
    /* Across the whole hole, from the lower half into the upper half. */
    expect_error(0x00007ffffffff000ull, 0, 0xffff000000002000ull, 0, PT_ERR_NONCANONICAL);
    expect_error(0, 0, 0xffff800000001000ull, 0, PT_ERR_NONCANONICAL);
    /* Past the top of the address space, wrapping to 0. */
    expect_error(0xfffffffffffff000ull, 0, 2 * KIB4, 0, PT_ERR_NONCANONICAL);

    /* The edges themselves are fine. */
    MAP_OK(0x00007ffffffff000ull, 0x1000, KIB4, 0);
    MAP_OK(0xffff800000000000ull, 0x2000, KIB4, 0);
    MAP_OK(0xfffffffffffff000ull, 0x3000, KIB4, 0);
    expect_mapped(0x00007fffffffffffull, 0x1fff, 1, 0, 0);
    expect_mapped(0xffff800000000000ull, 0x2000, 1, 0, 0);
    expect_mapped(0xffffffffffffffffull, 0x3fff, 1, 0, 0);
}

/*
 * A range whose end wraps past 2^64 back into the half it started in: the last
 * byte looks canonical and in the same half, but the range covers the hole.
 */
static void test_err_noncanonical_wrapping_range(void **state)
{
    (void)state;
    sim_reset(16, false);
    expect_error(0x2000, 0, 0xfffffffffffff000ull, 0, PT_ERR_NONCANONICAL);
    sim_reset(16, false);
    expect_error(0xfffffffffffff000ull, 0, 0xffff800000002000ull, 0, PT_ERR_NONCANONICAL);
}

static void test_err_exists_4k_over_4k(void **state)
{
    (void)state;
    sim_reset(SIM_PAGES, true);
    MAP_OK(0x5000, 0x9000, KIB4, PTE_W);
    expect_error(0x5000, 0xa000, KIB4, PTE_W, PT_ERR_EXISTS);
    expect_error(0x5000, 0x9000, KIB4, PTE_W, PT_ERR_EXISTS);   /* even identical */
    expect_mapped(0x5000, 0x9000, 1, SDM_RW, 0);                /* untouched */

    /* A range whose tail overlaps the existing page. */
    expect_error(0x3000, 0x20000, 3 * KIB4, 0, PT_ERR_EXISTS);
    expect_mapped(0x5000, 0x9000, 1, SDM_RW, 0);
}

static void test_err_exists_inside_large(void **state)
{
    (void)state;
    sim_reset(SIM_PAGES, true);
    MAP_OK(0x400000, 0x800000, MIB2, PTE_W);
    expect_error(0x400000, 0x1000, KIB4, 0, PT_ERR_EXISTS);
    expect_error(0x5ff000, 0x1000, KIB4, 0, PT_ERR_EXISTS);
    expect_error(0x4a3000, 0x1000, KIB4, 0, PT_ERR_EXISTS);
    expect_error(0x400000, 0x800000, MIB2, PTE_W, PT_ERR_EXISTS);
    expect_mapped(0x4a3123, 0x8a3123, 2, SDM_RW, 0);

    MAP_OK(0x80000000ull, 0x40000000ull, GIB1, 0);
    expect_error(0x80000000ull, 0x1000, KIB4, 0, PT_ERR_EXISTS);
    expect_error(0x9fe00000ull, 0x200000, MIB2, 0, PT_ERR_EXISTS);
    expect_error(0xbffff000ull, 0x1000, KIB4, 0, PT_ERR_EXISTS);
    expect_mapped(0x9fe00000ull, 0x5fe00000ull, 3, 0, 0);
}

static void test_err_exists_large_over_small(void **state)
{
    (void)state;
    sim_reset(SIM_PAGES, true);
    MAP_OK(0x600000 + 0x5000, 0x1000, KIB4, 0);
    expect_error(0x600000, 0x600000, MIB2, 0, PT_ERR_EXISTS);
    expect_mapped(0x605000, 0x1000, 1, 0, 0);

    MAP_OK(0x40000000ull + 0x200000, 0x200000, MIB2, 0);
    expect_error(0x40000000ull, 0x40000000ull, GIB1, 0, PT_ERR_EXISTS);
    expect_mapped(0x40200000ull, 0x200000, 2, 0, 0);
}

static void test_err_nomem(void **state)
{
    (void)state;
    /* A 4 KiB page in an empty tree needs PDPT, PD and PT. */
    for (size_t extra = 0; extra < 3; extra++) {
        sim_reset(extra, true);
        expect_error(0x1000, 0x1000, KIB4, 0, PT_ERR_NOMEM);
    }
    sim_reset(3, true);
    MAP_OK(0x1000, 0x1000, KIB4, 0);
    expect_mapped(0x1000, 0x1000, 1, 0, 0);
    /* Budget spent: a page needing a new PT fails, one in the existing PT does not. */
    expect_error(0x200000 + 0x1000, 0x1000, KIB4, 0, PT_ERR_NOMEM);
    MAP_OK(0x2000, 0x2000, KIB4, 0);

    /* A 2 MiB page needs PDPT and PD; a 1 GiB page only the PDPT. */
    sim_reset(1, true);
    expect_error(0x200000, 0x200000, MIB2, 0, PT_ERR_NOMEM);
    sim_reset(2, true);
    MAP_OK(0x200000, 0x200000, MIB2, 0);
    sim_reset(0, true);
    expect_error(0x40000000ull, 0, GIB1, 0, PT_ERR_NOMEM);
    sim_reset(1, true);
    MAP_OK(0x40000000ull, 0, GIB1, 0);
    sim_reset(1, false);                    /* without 1 GiB pages the PD is needed too */
    expect_error(0x40000000ull, 0, GIB1, 0, PT_ERR_NOMEM);

    /* Running out in the middle of a range that needs a second PT. */
    sim_reset(3, false);
    expect_error(0x1ff000, 0x1000, 2 * KIB4, 0, PT_ERR_NOMEM);
    sim_reset(4, false);
    MAP_OK(0x1ff000, 0x1000, 2 * KIB4, 0);
    expect_range(0x1ff000, 0x1000, 2 * KIB4, 0, 0, NULL);
}

static void test_size_zero(void **state)
{
    (void)state;
    sim_reset(0, true);                     /* no table may be allocated */
    uint64_t before[PT_ENTRIES];
    memcpy(before, sim_page(&S, ROOT), sizeof(before));
    assert_int_equal(map(0x1000, 0x2000, 0, PTE_W), PT_OK);
    assert_int_equal(map(0, 0, 0, 0), PT_OK);
    assert_int_equal(map(0xffffffff80000000ull, 0x200000, 0, PTE_W | PTE_NX | PTE_G), PT_OK);
    assert_int_equal(S.used, 1);
    assert_memory_equal(before, sim_page(&S, ROOT), sizeof(before));

    /* Zero bytes at an already mapped address: nothing overlaps. */
    sim_reset(SIM_PAGES, true);
    MAP_OK(0x1000, 0x1000, KIB4, 0);
    size_t used = S.used;
    uint64_t *snapshot = malloc(used * PAGE_SIZE);
    assert_non_null(snapshot);
    memcpy(snapshot, S.mem, used * PAGE_SIZE);
    assert_int_equal(map(0x1000, 0x5000, 0, PTE_W), PT_OK);
    assert_int_equal(S.used, used);
    assert_memory_equal(snapshot, S.mem, used * PAGE_SIZE);
    free(snapshot);
    expect_mapped(0x1000, 0x1000, 1, 0, 0);
}

/* ---- pt_translate against the walker ---- */

static uint64_t rng_state = 0x853c49e6748fea9bull;

static uint64_t rng_next(void)
{
    return xorshift64s(&rng_state);
}

static void expect_translate_agrees(uint64_t va)
{
    struct walk w = walk(ROOT, va);
    uint64_t pa = 0x5a5a5a5a;
    uint64_t leaf = 0x5a5a5a5a;
    bool ok = pt_translate(&E, ROOT, va, &pa, &leaf);
    if (ok != w.present)
        fail_msg("pt_translate(0x%" PRIx64 ") = %d, walker says %s", va, ok,
                 w.present ? "mapped" : "unmapped");
    if (ok && (pa != w.pa || leaf != w.leaf))
        fail_msg("pt_translate(0x%" PRIx64 "): pa 0x%" PRIx64 " leaf 0x%" PRIx64
                 ", walker: pa 0x%" PRIx64 " leaf 0x%" PRIx64, va, pa, leaf, w.pa, w.leaf);
}

static void test_translate_fixed(void **state)
{
    (void)state;
    sim_reset(SIM_PAGES, true);
    MAP_OK(0x1000, 0x7000, KIB4, PTE_W);
    MAP_OK(0x400000, 0x1e00000, MIB2, PTE_U);
    MAP_OK(0x40000000ull, 0x1c0000000ull, GIB1, PTE_NX);
    MAP_OK(0xffffffff80000000ull, 0x200000, 0x201000, PTE_G);

    uint64_t pa;
    uint64_t leaf;
    assert_true(pt_translate(&E, ROOT, 0x1abc, &pa, &leaf));
    assert_int_equal(pa, 0x7abc);
    assert_int_equal(leaf & ~SDM_PHYS_MASK, 0);
    assert_int_equal(leaf & 0xfff, SDM_P | SDM_RW);
    assert_true(pt_translate(&E, ROOT, 0x5fffff, &pa, &leaf));
    assert_int_equal(pa, 0x1ffffff);
    assert_int_equal(leaf & 0xfff, SDM_P | SDM_US | SDM_PS);
    assert_true(pt_translate(&E, ROOT, 0x7edcba98ull, &pa, &leaf));
    assert_int_equal(pa, 0x1c0000000ull + 0x3edcba98ull);
    assert_int_equal(leaf, 0x1c0000000ull | SDM_P | SDM_PS | SDM_XD);
    assert_true(pt_translate(&E, ROOT, 0xffffffff80200fffull, &pa, &leaf));
    assert_int_equal(pa, 0x400fff);

    assert_false(pt_translate(&E, ROOT, 0, &pa, &leaf));
    assert_false(pt_translate(&E, ROOT, 0x2000, &pa, &leaf));
    assert_false(pt_translate(&E, ROOT, 0x600000, &pa, &leaf));
    assert_false(pt_translate(&E, ROOT, 0x80000000ull, &pa, &leaf));
    assert_false(pt_translate(&E, ROOT, 0xffffffff80201000ull, &pa, &leaf));
    /* Non-canonical aliases of mapped addresses are not translated. */
    assert_false(pt_translate(&E, ROOT, 0x0001000000001000ull, &pa, &leaf));
    assert_false(pt_translate(&E, ROOT, 0x00007fff80000000ull | (1ull << 47), &pa, &leaf));
    assert_false(pt_translate(&E, ROOT, 0x7fffffff80000000ull, &pa, &leaf));

    static const uint64_t probes[] = {
        0, 0x1000, 0x1fff, 0x2000, 0x3ff000, 0x400000, 0x5fffff, 0x600000, 0x3fffffff,
        0x40000000ull, 0x7fffffffull, 0x80000000ull, 0xffffffff7ffff000ull,
        0xffffffff80000000ull, 0xffffffff801fffffull, 0xffffffff80200000ull,
        0xffffffff80200fffull, 0xffffffff80201000ull, 0xffffffffffffffffull,
    };
    for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
        expect_translate_agrees(probes[i]);
}

/* Random non-overlapping ranges: page sizes, addresses and flags as the contract says; translate agrees. */
static void test_random_ranges(void **state)
{
    (void)state;
    static const uint64_t leaf_bits[] = { PTE_W, PTE_U, PTE_NX, PTE_PCD, PTE_PWT, PTE_G };

    for (int iter = 0; iter < 60; iter++) {
        sim_reset(SIM_PAGES, rng_next() % 2 == 0);
        unsigned n = 1 + (unsigned)(rng_next() % 4);
        uint64_t vas[4];
        uint64_t pas[4];
        uint64_t sizes[4];
        uint64_t flags[4];

        for (unsigned r = 0; r < n; r++) {
            /* Each range in its own PML4 slot (lower or upper half): no overlaps, fresh intermediates. */
            unsigned slot = (unsigned)((uint64_t)r * 128u + rng_next() % 128u);
            uint64_t base = (uint64_t)slot << 39;
            if (slot >= 256)
                base |= 0xffff000000000000ull;
            uint64_t kind = rng_next() % 3;
            uint64_t va;
            uint64_t pa;
            uint64_t size;
            if (kind == 0) {            /* small, arbitrary 4 KiB alignment */
                va = base + (rng_next() % 0x40000) * KIB4;
                pa = (rng_next() % 0x1000000) * KIB4;
                size = (1 + rng_next() % 1500) * KIB4;
            } else if (kind == 1) {     /* 2 MiB-compatible, up to a few large pages */
                va = base + (rng_next() % 1024) * MIB2 + (rng_next() % 4) * KIB4;
                pa = (rng_next() % 4096) * MIB2 + (va % MIB2);
                size = (rng_next() % 8) * MIB2 + (rng_next() % 600) * KIB4 + KIB4;
            } else {                    /* 1 GiB-compatible */
                va = base + (rng_next() % 64) * GIB1 + (rng_next() % 3) * MIB2;
                pa = (rng_next() % 64) * GIB1 + (va % GIB1);
                size = (rng_next() % 3) * GIB1 + (rng_next() % 4) * MIB2 + (rng_next() % 3) * KIB4 + KIB4;
            }
            uint64_t f = 0;
            for (unsigned b = 0; b < 6; b++) {
                if (rng_next() % 2)
                    f |= leaf_bits[b];
            }
            vas[r] = va;
            pas[r] = pa;
            sizes[r] = size;
            flags[r] = f;
            MAP_OK(va, pa, size, f);
        }
        for (unsigned r = 0; r < n; r++) {
            /* PTE_* bit positions were checked against the SDM in test_header_matches_sdm. */
            expect_range(vas[r], pas[r], sizes[r], flags[r], (flags[r] & PTE_U) ? 1 : 0, NULL);
            expect_unmapped(vas[r] - KIB4);
            expect_unmapped(vas[r] + sizes[r]);
            expect_translate_agrees(vas[r]);
            expect_translate_agrees(vas[r] + sizes[r] - 1);
            expect_translate_agrees(vas[r] + sizes[r]);
            expect_translate_agrees(vas[r] - 1);
            for (int k = 0; k < 20; k++)
                expect_translate_agrees(vas[r] + rng_next() % sizes[r]);
        }
        for (int k = 0; k < 50; k++) {
            uint64_t va = rng_next();
            if (k % 2)
                va = (int64_t)(va << 16) >> 16;     /* make it canonical */
            expect_translate_agrees(va);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_matches_sdm),
        cmocka_unit_test(test_pt_index),
        cmocka_unit_test(test_va_is_canonical),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_map_single_4k),
        cmocka_unit_test(test_upper_half),
        cmocka_unit_test(test_leaf_flags),
        cmocka_unit_test(test_2m_pages),
        cmocka_unit_test(test_2m_needs_pa_alignment),
        cmocka_unit_test(test_1g_only_when_allowed),
        cmocka_unit_test(test_1g_needs_alignment),
        cmocka_unit_test(test_mixed_range_2m),
        cmocka_unit_test(test_mixed_range_1g),
        cmocka_unit_test(test_intermediate_entries),
        cmocka_unit_test(test_err_align),
        cmocka_unit_test(test_err_flags),
        cmocka_unit_test(test_err_bad_phys),
        cmocka_unit_test(test_err_noncanonical),
        cmocka_unit_test(test_err_noncanonical_wrapping_range),
        cmocka_unit_test(test_err_exists_4k_over_4k),
        cmocka_unit_test(test_err_exists_inside_large),
        cmocka_unit_test(test_err_exists_large_over_small),
        cmocka_unit_test(test_err_nomem),
        cmocka_unit_test(test_size_zero),
        cmocka_unit_test(test_translate_fixed),
        cmocka_unit_test(test_random_ranges),
    };
    return cmocka_run_group_tests(tests, NULL, teardown_sim);
}
