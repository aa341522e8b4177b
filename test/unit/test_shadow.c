/* SPDX-License-Identifier: MIT */
/* test_shadow.c: the shadow MMU (vtlb/shadow.c) driven by a simulated CPU that runs on its tables. */
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

#include "vtlb/shadow.h"

/* Architectural bits, restated (not taken from the headers): x86_restated.h. */
#include "x86_restated.h"

#define R_ SHADOW_MEM_R
#define W_ SHADOW_MEM_W
#define X_ SHADOW_MEM_X

/* ---- host memory: the shadow pool ---- */

#define POOL_HPA 0x10000000ull
#define POOL_MAX 64
static uint64_t pool[POOL_MAX][512];
static unsigned pool_pages;

static uint64_t *pool_ptr(void *ctx, uint64_t hpa)
{
    (void)ctx;
    if (hpa % 4096 != 0 || hpa < POOL_HPA || hpa >= POOL_HPA + pool_pages * 4096ull) {
        fail_msg("shadow touched hpa 0x%" PRIx64 " outside its pool", hpa);
        return NULL;
    }
    return pool[(hpa - POOL_HPA) / 4096];
}

/* ---- guest memory (GuestMemory: gfn -> hpa with rights; table frames have contents) ---- */

#define GFRAMES 256
struct gframe {
    uint64_t gfn;
    uint64_t *data;     /* 512 words for frames that hold guest tables, else NULL */
    unsigned rights;
    bool used;
};
static struct gframe GM[GFRAMES];
static uint64_t next_table_gfn;

/* Host address of a guest frame: a fixed function, so the test knows what to expect. */
static uint64_t hpa_of(uint64_t gpa)
{
    return 0x200000000ull + (gpa & ~0xfffull);
}

static struct gframe *gm_find(uint64_t gfn)
{
    for (unsigned i = 0; i < GFRAMES; i++)
        if (GM[i].used && GM[i].gfn == gfn)
            return &GM[i];
    return NULL;
}

static struct gframe *gm_add(uint64_t gpa, unsigned rights)
{
    struct gframe *f = gm_find(gpa >> 12);
    if (f == NULL) {
        for (unsigned i = 0; i < GFRAMES && f == NULL; i++)
            if (!GM[i].used)
                f = &GM[i];
        if (f == NULL) {
            fail_msg("test bug: out of guest frames");
            return NULL;
        }
        *f = (struct gframe){.used = true, .gfn = gpa >> 12};
    }
    f->rights = rights;
    return f;
}

static void gm_remove(uint64_t gpa)
{
    struct gframe *f = gm_find(gpa >> 12);
    if (f != NULL) {
        free(f->data);
        *f = (struct gframe){0};
    }
}

static uint64_t *gword(uint64_t gpa, unsigned size)
{
    struct gframe *f = gm_find(gpa >> 12);
    if (f == NULL || f->data == NULL) {
        fail_msg("test bug: no table frame at 0x%" PRIx64, gpa);
        return NULL;
    }
    (void)size;
    return (uint64_t *)((uint8_t *)f->data + (gpa & 0xfff));
}

static uint64_t gget(uint64_t gpa, unsigned size)
{
    uint64_t v = 0;
    memcpy(&v, gword(gpa, size), size);
    return v;
}

static void gput(uint64_t gpa, unsigned size, uint64_t v)
{
    memcpy(gword(gpa, size), &v, size);
}

static enum gw_mem g_read(void *ctx, uint64_t gpa, unsigned size, uint64_t *val)
{
    (void)ctx;
    const struct gframe *f = gm_find(gpa >> 12);
    if (f == NULL || f->data == NULL || !(f->rights & R_))
        return GW_MEM_MISSING;
    *val = gget(gpa, size);
    return GW_MEM_OK;
}

static enum gw_mem g_cmpxchg(void *ctx, uint64_t gpa, unsigned size, uint64_t old, uint64_t nv)
{
    (void)ctx;
    const struct gframe *f = gm_find(gpa >> 12);
    if (f == NULL || f->data == NULL || !(f->rights & W_))
        return GW_MEM_MISSING;
    if (gget(gpa, size) != old)
        return GW_MEM_CHANGED;
    gput(gpa, size, nv);
    return GW_MEM_OK;
}

static bool g_gfn_to_hpa(void *ctx, uint64_t gfn, uint64_t *hpa, unsigned *rights)
{
    (void)ctx;
    const struct gframe *f = gm_find(gfn);
    if (f == NULL)
        return false;
    *hpa = hpa_of(gfn << 12);
    *rights = f->rights;
    return true;
}

static struct shadow_env ENV;
static struct shadow *S;

/* A zeroed guest table frame (below 4 GiB so legacy CR3s can name it). */
static uint64_t gtable(void)
{
    uint64_t gpa = (next_table_gfn++) << 12;
    struct gframe *f = gm_add(gpa, R_ | W_ | X_);
    f->data = calloc(512, sizeof(uint64_t));
    assert_non_null(f->data);
    return gpa;
}

static void reset(unsigned pages)
{
    for (unsigned i = 0; i < GFRAMES; i++)
        free(GM[i].data);
    memset(GM, 0, sizeof(GM));
    memset(pool, 0x5a, sizeof(pool));
    next_table_gfn = 0x100;
    pool_pages = pages;
    ENV = (struct shadow_env){
        .guest = {.read = g_read, .cmpxchg = g_cmpxchg, .maxphyaddr = 46, .gbpages = true},
        .gfn_to_hpa = g_gfn_to_hpa, .page_ptr = pool_ptr};
    if (S == NULL)
        S = calloc(1, sizeof(*S));
    assert_non_null(S);
}

static int teardown(void **state)
{
    (void)state;
    for (unsigned i = 0; i < GFRAMES; i++)
        free(GM[i].data);
    memset(GM, 0, sizeof(GM));
    free(S);
    S = NULL;
    return 0;
}

/* ---- guest page tables ---- */

/* 4-level: map gva to gpa with a leaf at `level` (1: 4K, 2: 2M, 3: 1G); tables P|RW|US. */
static void gmap4(uint64_t cr3, uint64_t gva, uint64_t gpa, unsigned level, uint64_t flags)
{
    uint64_t t = cr3 & ADDR_;
    for (unsigned l = 4; l > level; l--) {
        uint64_t e_gpa = t + ((gva >> (12 + 9 * (l - 1))) & 511) * 8ull;
        uint64_t e = gget(e_gpa, 8);
        if (!(e & P_)) {
            e = gtable() | P_ | RW_ | US_;
            gput(e_gpa, 8, e);
        }
        t = e & ADDR_;
    }
    gput(t + ((gva >> (12 + 9 * (level - 1))) & 511) * 8ull, 8,
         gpa | flags | P_ | (level > 1 ? PS_ : 0));
}

/* The gpa of the 4-level guest entry at `level` for gva (tables must exist). */
static uint64_t gpte4(uint64_t cr3, uint64_t gva, unsigned level)
{
    uint64_t t = cr3 & ADDR_;
    for (unsigned l = 4; l > level; l--)
        t = gget(t + ((gva >> (12 + 9 * (l - 1))) & 511) * 8ull, 8) & ADDR_;
    return t + ((gva >> (12 + 9 * (level - 1))) & 511) * 8ull;
}

static const uint64_t CR0_ON = CR0_PG | CR0_WP | CR0_PE;
static const uint64_t CR4_LONG = CR4_PAE | CR4_PGE;
static const uint64_t EFER_LONG = EFER_LME | EFER_LMA | EFER_NXE;

/* ---- the simulated CPU: walks the shadow tables as hardware does ---- */

enum hw_kind { HW_READ, HW_WRITE, HW_FETCH };

struct hw {
    enum shadow_action action;  /* RESUME: the access completed */
    uint64_t hpa;
    uint64_t spte;
    unsigned faults;            /* #PFs the shadow resolved on the way */
    uint32_t ec;
    uint64_t cr2, gpa;
    unsigned gpa_access;
};

/* One hardware translation attempt: true and the leaf, or false and the #PF error code. */
static bool hw_translate(uint64_t gva, enum hw_kind k, bool user, bool ac, uint64_t *leaf,
                         uint32_t *ec)
{
    bool pae = shadow_root_pae(S);
    uint64_t t = shadow_root_hpa(S);
    uint32_t code = (k == HW_WRITE ? EC_W : 0) | (user ? EC_U : 0) | (k == HW_FETCH ? EC_ID : 0);
    if (pae) {
        if (t >= 0x100000000ull)
            fail_msg("PAE root above 4 GiB: 0x%" PRIx64, t);
        gva &= 0xffffffffull;
    }
    uint64_t e = 0;
    for (int l = pae ? 3 : 4; l >= 1; l--) {
        unsigned i = (pae && l == 3) ? (unsigned)(gva >> 30) & 3
                                     : (unsigned)(gva >> (12 + 9 * (l - 1))) & 511;
        e = pool_ptr(NULL, t)[i];
        if (!(e & P_)) {
            *ec = code;
            return false;
        }
        if (pae && l == 3 && (e & ~(ADDR_ | P_)) != 0)
            fail_msg("PAE PDPTE with reserved bits: 0x%" PRIx64, e);
        if (l > 1) {
            if ((e & (PS_ | XD_)) || (!(pae && l == 3) && (e & (RW_ | US_)) != (RW_ | US_)))
                fail_msg("shadow non-leaf entry 0x%" PRIx64 " restricts or is large", e);
            t = e & ADDR_;
        }
    }
    /* Leaf checks with the hardware's CR0.WP = 1, EFER.NXE = 1, the guest's SMEP/SMAP. */
    bool ok = true;
    if (user && !(e & US_))
        ok = false;
    if (k == HW_WRITE && !(e & RW_))
        ok = false;
    if (k == HW_FETCH && (e & XD_))
        ok = false;
    if (!user && k == HW_FETCH && (e & US_) && (S->regs.cr4 & CR4_SMEP))
        ok = false;
    if (!user && k != HW_FETCH && (e & US_) && (S->regs.cr4 & (1ull << 21)) && !ac)
        ok = false;
    if (!ok) {
        *ec = code | EC_P;
        return false;
    }
    *leaf = e;
    return true;
}

/* The pool's bookkeeping agrees with the tables (shadow.h's invariants). */
static void check_invariants(void)
{
    unsigned used = 0, l1_pages = 0, l1_listed = 0;
    for (unsigned i = 0; i < S->pool_pages; i++) {
        const struct shadow_page *p = &S->pages[i];
        if (!p->used)
            continue;
        used++;
        const uint64_t *t = pool[i];
        unsigned present = 0, nonglobal = 0, large = 0;
        for (unsigned e = 0; e < 512; e++) {
            if (!(t[e] & P_))
                continue;
            present++;
            nonglobal += !(t[e] & SPTE_SW_GLOBAL);
            large += (t[e] & SPTE_SW_LARGE) != 0;
        }
        if (present != p->present)
            fail_msg("page %u: %u present entries, counted %u", i, present, p->present);
        if (p->level == 1) {
            l1_pages++;
            if (nonglobal != p->nonglobal || large != p->large)
                fail_msg("page %u: nonglobal %u/%u large %u/%u", i, nonglobal, p->nonglobal,
                         large, p->large);
        }
        assert_true(S->roots[p->root].valid);
        if (p->parent == SHADOW_NONE) {
            assert_int_equal(S->roots[p->root].page, i);
        } else {
            if (present == 0)
                fail_msg("empty level-%u table %u left allocated", p->level, i);
            assert_true(S->pages[p->parent].used);
            assert_int_equal(pool[p->parent][p->slot] & ADDR_, POOL_HPA + i * 4096ull);
            assert_int_equal(S->pages[p->parent].level, p->level + 1);
        }
    }
    for (unsigned r = 0; r < SHADOW_ROOTS; r++) {
        if (!S->roots[r].valid)
            continue;
        for (unsigned i = S->roots[r].l1_head; i != SHADOW_NONE; i = S->pages[i].next) {
            assert_true(S->pages[i].used && S->pages[i].level == 1 && S->pages[i].root == r);
            l1_listed++;
        }
    }
    assert_int_equal(l1_listed, l1_pages);
    assert_int_equal(used + S->free_count, S->pool_pages);
    assert_true(S->roots[S->current].valid);
}

/* A guest access: hardware translation, the shadow resolving #PFs, until done. */
static struct hw hw_access_full(uint64_t gva, enum hw_kind k, bool user, bool ac,
                                bool implicit);

static struct hw hw_access_ac(uint64_t gva, enum hw_kind k, bool user, bool ac)
{
    return hw_access_full(gva, k, user, ac, false);
}

/* An implicit supervisor access (GDT, IDT, TSS) while the guest's EFLAGS.AC is 1:
 * SMAP ignores AC for it, and the error code cannot say so. */
static struct hw hw_access_implicit(uint64_t gva, enum hw_kind k)
{
    return hw_access_full(gva, k, false, true, true);
}

static struct hw hw_access_full(uint64_t gva, enum hw_kind k, bool user, bool ac,
                                bool implicit)
{
    struct hw r = {0};
    check_invariants();
    for (unsigned tries = 0; tries < 8; tries++) {
        uint64_t leaf = 0;
        uint32_t ec = 0;
        if (hw_translate(gva, k, user, ac && !implicit, &leaf, &ec)) {
            r.action = SHADOW_RESUME;
            r.spte = leaf;
            r.hpa = (leaf & ADDR_) | (gva & 0xfff);
            return r;
        }
        struct shadow_outcome o;
        shadow_page_fault(S, gva, shadow_access(ec, ac), &o);
        check_invariants();
        if (o.action != SHADOW_RESUME) {
            r.action = o.action;
            r.ec = o.error_code;
            r.cr2 = o.cr2;
            r.gpa = o.gpa;
            r.gpa_access = o.gpa_access;
            return r;
        }
        r.faults++;
    }
    fail_msg("access to 0x%" PRIx64 " never completes", gva);
    return r;
}

static struct hw hw_access(uint64_t gva, enum hw_kind k, bool user)
{
    return hw_access_ac(gva, k, user, false);
}

static struct hw hw_access_smap_ac(uint64_t gva, enum hw_kind k)
{
    return hw_access_ac(gva, k, false, true);
}

#define expect_hit(res, want_hpa, want_faults)                                                  \
    do {                                                                                        \
        struct hw r_ = (res);                                                                   \
        if (r_.action != SHADOW_RESUME)                                                         \
            fail_msg("access ended with action %d (ec %#x gpa %#" PRIx64 ")", r_.action, r_.ec, \
                     r_.gpa);                                                                   \
        assert_int_equal(r_.hpa, (want_hpa));                                                   \
        assert_int_equal(r_.faults, (want_faults));                                             \
    } while (0)

static unsigned used_pages(void)
{
    unsigned n = 0;
    for (unsigned i = 0; i < S->pool_pages; i++)
        n += S->pages[i].used;
    assert_int_equal(n + S->free_count, S->pool_pages);
    return n;
}

/* ---- tests ---- */

#define UGVA 0x00007f0000123000ull
#define UGPA 0x5000000ull

static void test_pool_ok(void **s)
{
    (void)s;
    assert_true(shadow_pool_ok(0x100000, 16));
    assert_false(shadow_pool_ok(0x100800, 16));     /* unaligned */
    assert_false(shadow_pool_ok(0x100000, SHADOW_POOL_MIN - 1));
    assert_false(shadow_pool_ok(0x100000, SHADOW_POOL_MAX + 1));
    assert_false(shadow_pool_ok(0x100000000ull, 16));   /* legacy CR3 cannot reach it */
    assert_false(shadow_pool_ok(0xffffe000ull, 4));
    assert_true(shadow_pool_ok(0xffffc000ull, 4));
}

/* First access faults once and installs; the D bit costs exactly one more fault. */
static void test_install_and_dirty(void **s)
{
    (void)s;
    uint64_t cr3 = 0;
    reset(16);
    cr3 = gtable();
    struct shadow_outcome o;
    shadow_init(S, &ENV, POOL_HPA, 16, CR0_ON, cr3, CR4_LONG, EFER_LONG, &o);
    gmap4(cr3, UGVA, UGPA, 1, RW_ | US_);
    gm_add(UGPA, R_ | W_ | X_);
    uint64_t pte = gpte4(cr3, UGVA, 1);

    expect_hit(hw_access(UGVA + 0x10, HW_READ, true), hpa_of(UGPA) + 0x10, 1);
    assert_int_equal(gget(pte, 8), UGPA | P_ | RW_ | US_ | A_);     /* A, no D */
    struct hw r = hw_access(UGVA, HW_READ, true);
    expect_hit(r, hpa_of(UGPA), 0);
    assert_int_equal(r.spte & (RW_ | US_ | XD_), US_);  /* read-only until dirty */
    /* The first write faults, the walk sets D, the spte becomes writable. */
    r = hw_access(UGVA + 8, HW_WRITE, true);
    expect_hit(r, hpa_of(UGPA) + 8, 1);
    assert_int_equal(gget(pte, 8), UGPA | P_ | RW_ | US_ | A_ | D_);
    assert_int_equal(r.spte & (RW_ | US_ | XD_), RW_ | US_);
    expect_hit(hw_access(UGVA, HW_WRITE, true), hpa_of(UGPA), 0);
    /* Every level got A. */
    for (unsigned l = 2; l <= 4; l++)
        assert_true(gget(gpte4(cr3, UGVA, l), 8) & A_);
    assert_int_equal(S->stats.installs, 2);
    /* A page already dirty is writable on first install. */
    gmap4(cr3, UGVA + 0x1000, UGPA + 0x1000, 1, RW_ | US_ | D_);
    gm_add(UGPA + 0x1000, R_ | W_);
    r = hw_access(UGVA + 0x1000, HW_READ, true);
    expect_hit(r, hpa_of(UGPA + 0x1000), 1);
    assert_true(r.spte & RW_);
    assert_true(r.spte & XD_);      /* GuestMemory gives no execute right */
}

/*
 * Rights combining, as a table: the spte = guest rights AND GuestMemory rights, R/W
 * only once dirty; a guest violation is the guest's #PF, a GuestMemory one an exit.
 */
static void test_rights_matrix(void **s)
{
    (void)s;
    unsigned checked = 0;
    for (unsigned g = 0; g < 8; g++) {          /* guest leaf: RW, US, XD */
        for (unsigned m = 0; m < 4; m++) {      /* GuestMemory: R, RW, RX, RWX */
            static const unsigned mem[4] = {R_, R_ | W_, R_ | X_, R_ | W_ | X_};
            for (unsigned k = HW_READ; k <= HW_FETCH; k++) {
                for (unsigned user = 0; user < 2; user++) {
                    bool g_rw = g & 1, g_us = g & 2, g_xd = g & 4;
                    bool m_w = mem[m] & W_, m_x = mem[m] & X_;
                    uint64_t cr3;
                    reset(16);
                    cr3 = gtable();
                    struct shadow_outcome o;
                    shadow_init(S, &ENV, POOL_HPA, 16, CR0_ON, cr3, CR4_LONG, EFER_LONG, &o);
                    gmap4(cr3, UGVA, UGPA, 1,
                          (g_rw ? RW_ : 0) | (g_us ? US_ : 0) | (g_xd ? XD_ : 0));
                    gm_add(UGPA, mem[m]);
                    struct hw r = hw_access(UGVA, (enum hw_kind)k, user);

                    /* The guest decides first (WP = 1, NXE = 1, no SMEP/SMAP here). */
                    bool guest_ok = (!user || g_us) && (k != HW_WRITE || g_rw) &&
                                    (k != HW_FETCH || !g_xd);
                    bool mem_ok = (k != HW_WRITE || m_w) && (k != HW_FETCH || m_x);
                    if (!guest_ok) {
                        uint32_t ec = EC_P | (k == HW_WRITE ? EC_W : 0) | (user ? EC_U : 0) |
                                      (k == HW_FETCH ? EC_ID : 0);
                        if (r.action != SHADOW_INJECT_PF || r.ec != ec || r.cr2 != UGVA)
                            fail_msg("g%u m%u k%u u%u: action %d ec %#x, want #PF %#x", g, m,
                                     k, user, r.action, r.ec, ec);
                    } else if (!mem_ok) {
                        unsigned want = k == HW_WRITE ? W_ : X_;
                        if (r.action != SHADOW_GPA_EXIT || r.gpa != UGPA ||
                            r.gpa_access != want)
                            fail_msg("g%u m%u k%u u%u: action %d, want GPA exit", g, m, k,
                                     user, r.action);
                    } else {
                        uint64_t want = (g_rw && m_w && k == HW_WRITE ? RW_ : 0) |
                                        (g_us ? US_ : 0) | (g_xd || !m_x ? XD_ : 0);
                        if (r.action != SHADOW_RESUME || (r.spte & (RW_ | US_ | XD_)) != want)
                            fail_msg("g%u m%u k%u u%u: action %d spte %#" PRIx64
                                     ", want bits %#" PRIx64, g, m, k, user, r.action, r.spte,
                                     want);
                        assert_int_equal(r.hpa, hpa_of(UGPA));
                    }
                    checked++;
                }
            }
        }
    }
    assert_int_equal(checked, 8 * 4 * 3 * 2);
}

/* A guest #PF is passed through untouched, and it drops the stale spte. */
static void test_guest_fault_passthrough(void **s)
{
    (void)s;
    reset(16);
    uint64_t cr3 = gtable();
    struct shadow_outcome o;
    shadow_init(S, &ENV, POOL_HPA, 16, CR0_ON, cr3, CR4_LONG, EFER_LONG, &o);
    /* Nothing mapped at all: not-present, with W and U. */
    struct hw r = hw_access(UGVA, HW_WRITE, true);
    assert_int_equal(r.action, SHADOW_INJECT_PF);
    assert_int_equal(r.ec, EC_W | EC_U);
    assert_int_equal(r.cr2, UGVA);
    /* Supervisor page, user read. */
    gmap4(cr3, UGVA, UGPA, 1, RW_);
    gm_add(UGPA, R_ | W_ | X_);
    r = hw_access(UGVA, HW_READ, true);
    assert_int_equal(r.action, SHADOW_INJECT_PF);
    assert_int_equal(r.ec, EC_P | EC_U);
    /* Installed read-only (D clear), then the guest clears P without INVLPG. */
    expect_hit(hw_access(UGVA, HW_READ, false), hpa_of(UGPA), 1);
    uint64_t pte = gpte4(cr3, UGVA, 1);
    gput(pte, 8, gget(pte, 8) & ~P_);
    expect_hit(hw_access(UGVA, HW_READ, false), hpa_of(UGPA), 0);   /* stale, as a TLB may */
    r = hw_access(UGVA, HW_WRITE, false);   /* faults on the read-only spte: now the guest's */
    assert_int_equal(r.action, SHADOW_INJECT_PF);
    assert_int_equal(r.ec, EC_W);
    /* The #PF invalidated the translation: a read now faults too. */
    r = hw_access(UGVA, HW_READ, false);
    assert_int_equal(r.action, SHADOW_INJECT_PF);
    assert_int_equal(r.ec, 0);
}

/* gpa missing: a guest table or the data frame; resolved once the frame appears. */
static void test_gpa_missing(void **s)
{
    (void)s;
    reset(16);
    uint64_t cr3 = gtable();
    struct shadow_outcome o;
    shadow_init(S, &ENV, POOL_HPA, 16, CR0_ON, cr3, CR4_LONG, EFER_LONG, &o);
    gmap4(cr3, UGVA, UGPA, 1, RW_ | US_);
    struct hw r = hw_access(UGVA, HW_READ, true);
    assert_int_equal(r.action, SHADOW_GPA_EXIT);
    assert_int_equal(r.gpa, UGPA);
    assert_int_equal(r.gpa_access, R_);
    r = hw_access(UGVA + 0x44, HW_FETCH, true);
    assert_int_equal(r.action, SHADOW_GPA_EXIT);
    assert_int_equal(r.gpa, UGPA + 0x44);
    assert_int_equal(r.gpa_access, X_);
    /* The memory handler maps a read-only frame: reads go, writes exit. */
    gm_add(UGPA, R_);
    expect_hit(hw_access(UGVA, HW_READ, true), hpa_of(UGPA), 1);
    r = hw_access(UGVA + 8, HW_WRITE, true);
    assert_int_equal(r.action, SHADOW_GPA_EXIT);
    assert_int_equal(r.gpa, UGPA + 8);
    assert_int_equal(r.gpa_access, W_);
    gm_add(UGPA, R_ | W_);
    expect_hit(hw_access(UGVA + 8, HW_WRITE, true), hpa_of(UGPA) + 8, 1);
    /* A page table whose frame is gone (swapped out): the exit names the entry's gpa. */
    uint64_t pt_entry = gpte4(cr3, UGVA + 0x1000, 1);
    gm_remove(pt_entry);
    r = hw_access(UGVA + 0x1000, HW_READ, true);
    assert_int_equal(r.action, SHADOW_GPA_EXIT);
    assert_int_equal(r.gpa, pt_entry);
    assert_int_equal(S->stats.gpa_exits, 4);
}

/* A PTE changed without INVLPG stays stale (as hardware may); INVLPG makes it current. */
static void test_invlpg(void **s)
{
    (void)s;
    reset(16);
    uint64_t cr3 = gtable();
    struct shadow_outcome o;
    shadow_init(S, &ENV, POOL_HPA, 16, CR0_ON, cr3, CR4_LONG, EFER_LONG, &o);
    gmap4(cr3, UGVA, UGPA, 1, RW_ | US_ | D_);
    gmap4(cr3, UGVA + 0x1000, UGPA + 0x1000, 1, RW_ | US_ | D_);
    gm_add(UGPA, R_ | W_);
    gm_add(UGPA + 0x1000, R_ | W_);
    gm_add(UGPA + 0x2000, R_ | W_);
    expect_hit(hw_access(UGVA, HW_WRITE, true), hpa_of(UGPA), 1);
    expect_hit(hw_access(UGVA + 0x1000, HW_WRITE, true), hpa_of(UGPA + 0x1000), 1);
    uint64_t gva_tlb;
    (void)shadow_tlb_take(S, &gva_tlb);

    gput(gpte4(cr3, UGVA, 1), 8, (UGPA + 0x2000) | P_ | RW_ | US_ | D_);
    expect_hit(hw_access(UGVA, HW_WRITE, true), hpa_of(UGPA), 0);   /* stale */
    shadow_invlpg(S, UGVA + 0x123);
    assert_int_equal(shadow_tlb_take(S, &gva_tlb), SHADOW_TLB_GVA);
    assert_int_equal(gva_tlb, UGVA + 0x123);
    expect_hit(hw_access(UGVA, HW_WRITE, true), hpa_of(UGPA + 0x2000), 1);
    /* The neighbour was not invalidated. */
    expect_hit(hw_access(UGVA + 0x1000, HW_WRITE, true), hpa_of(UGPA + 0x1000), 0);
    /* Removing rights is honoured after INVLPG too. */
    gput(gpte4(cr3, UGVA + 0x1000, 1), 8, (UGPA + 0x1000) | P_ | US_ | D_);
    expect_hit(hw_access(UGVA + 0x1000, HW_WRITE, true), hpa_of(UGPA + 0x1000), 0);
    shadow_invlpg(S, UGVA + 0x1000);
    struct hw r = hw_access(UGVA + 0x1000, HW_WRITE, true);
    assert_int_equal(r.action, SHADOW_INJECT_PF);
    assert_int_equal(r.ec, EC_P | EC_W | EC_U);
    /* INVLPG of an address with nothing cached is harmless. */
    shadow_invlpg(S, 0x1234000);
    assert_int_equal(used_pages(), 4);  /* root, PDPT, PD, PT: emptied tables are freed */
}

/* Guest large pages: 4 KiB sptes; INVLPG anywhere in the large page drops them all. */
static void test_large_pages_4level(void **s)
{
    (void)s;
    reset(32);
    uint64_t cr3 = gtable();
    struct shadow_outcome o;
    shadow_init(S, &ENV, POOL_HPA, 32, CR0_ON, cr3, CR4_LONG, EFER_LONG, &o);
    uint64_t gva2m = 0x40000000ull, gpa2m = 0x8000000ull;
    uint64_t gva1g = 0x8000000000ull, gpa1g = 0x40000000ull;
    gmap4(cr3, gva2m, gpa2m, 2, RW_ | D_);
    gmap4(cr3, gva1g, gpa1g, 3, RW_ | D_);
    for (uint64_t off = 0; off < 0x200000; off += 0x80000)
        gm_add(gpa2m + off, R_ | W_);
    gm_add(gpa1g + 0x12345000, R_ | W_);
    gm_add(gpa1g + 0x3ffff000, R_ | W_);
    for (uint64_t off = 0; off < 0x200000; off += 0x80000) {
        struct hw r = hw_access(gva2m + off + 8, HW_READ, false);
        expect_hit(r, hpa_of(gpa2m + off) + 8, 1);
        assert_true(r.spte & SPTE_SW_LARGE);
    }
    expect_hit(hw_access(gva1g + 0x12345678, HW_WRITE, false), hpa_of(gpa1g + 0x12345000) + 0x678, 1);
    expect_hit(hw_access(gva1g + 0x3ffff000, HW_WRITE, false), hpa_of(gpa1g + 0x3ffff000), 1);
    /* Remap both large pages; INVLPG one address of each. */
    gput(gpte4(cr3, gva2m, 2), 8, (gpa2m + 0x200000) | P_ | RW_ | D_ | PS_);
    gput(gpte4(cr3, gva1g, 3), 8, (gpa1g + 0x40000000) | P_ | RW_ | D_ | PS_);
    for (uint64_t off = 0; off < 0x200000; off += 0x80000)
        gm_add(gpa2m + 0x200000 + off, R_ | W_);
    gm_add(gpa1g + 0x40000000 + 0x3ffff000, R_ | W_);
    expect_hit(hw_access(gva2m + 0x180000, HW_READ, false), hpa_of(gpa2m + 0x180000), 0);
    shadow_invlpg(S, gva2m + 0x1ff000);
    uint64_t g;
    assert_int_equal(shadow_tlb_take(S, &g), SHADOW_TLB_ALL);
    for (uint64_t off = 0; off < 0x200000; off += 0x80000)
        expect_hit(hw_access(gva2m + off, HW_READ, false), hpa_of(gpa2m + 0x200000 + off), 1);
    shadow_invlpg(S, gva1g);
    expect_hit(hw_access(gva1g + 0x3ffff000, HW_WRITE, false),
               hpa_of(gpa1g + 0x40000000 + 0x3ffff000), 1);
}

/* Address spaces A and B share a global kernel page; each has a private user page. */
struct two_as {
    uint64_t cr3a, cr3b;
};
#define KGVA 0xffffffff80000000ull
#define KGPA 0x1000000ull

static struct two_as setup_two_as(unsigned pages, bool pge)
{
    struct two_as t;
    reset(pages);
    t.cr3a = gtable();
    t.cr3b = gtable();
    struct shadow_outcome o;
    shadow_init(S, &ENV, POOL_HPA, pages, CR0_ON, t.cr3a, pge ? CR4_LONG : CR4_PAE,
                EFER_LONG, &o);
    gmap4(t.cr3a, KGVA, KGPA, 1, RW_ | G_ | D_);
    gmap4(t.cr3b, KGVA, KGPA, 1, RW_ | G_ | D_);
    gmap4(t.cr3a, UGVA, UGPA, 1, RW_ | US_ | D_);
    gmap4(t.cr3b, UGVA, UGPA + 0x1000, 1, RW_ | US_ | D_);
    gm_add(KGPA, R_ | W_ | X_);
    gm_add(KGPA + 0x1000, R_ | W_ | X_);
    gm_add(UGPA, R_ | W_);
    gm_add(UGPA + 0x1000, R_ | W_);
    gm_add(UGPA + 0x2000, R_ | W_);
    return t;
}

static void write_cr3(uint64_t v)
{
    struct shadow_outcome o;
    shadow_write_cr3(S, v, &o);
    assert_int_equal(o.action, SHADOW_RESUME);
}

/* Switching back to a recent CR3 keeps its root and its global sptes, not the others. */
static void test_cr3_cached_roots(void **s)
{
    (void)s;
    struct two_as t = setup_two_as(32, true);
    uint64_t root_a = shadow_root_hpa(S);
    expect_hit(hw_access(KGVA, HW_FETCH, false), hpa_of(KGPA), 1);
    expect_hit(hw_access(UGVA, HW_WRITE, true), hpa_of(UGPA), 1);
    write_cr3(t.cr3b);
    uint64_t root_b = shadow_root_hpa(S);
    assert_int_not_equal(root_a, root_b);
    expect_hit(hw_access(UGVA, HW_WRITE, true), hpa_of(UGPA + 0x1000), 1);
    expect_hit(hw_access(KGVA, HW_READ, false), hpa_of(KGPA), 1);
    uint64_t g;
    (void)shadow_tlb_take(S, &g);
    write_cr3(t.cr3a | 0x8);   /* PWT: same address space */
    assert_int_equal(shadow_tlb_take(S, &g), SHADOW_TLB_ALL);
    assert_int_equal(shadow_root_hpa(S), root_a);     /* not rebuilt */
    assert_int_equal(S->stats.root_hits, 1);
    expect_hit(hw_access(KGVA, HW_FETCH, false), hpa_of(KGPA), 0);  /* global kept */
    expect_hit(hw_access(UGVA, HW_WRITE, true), hpa_of(UGPA), 1);   /* non-global refilled */
    write_cr3(t.cr3b);
    assert_int_equal(shadow_root_hpa(S), root_b);
    expect_hit(hw_access(UGVA, HW_WRITE, true), hpa_of(UGPA + 0x1000), 1);
    /* Without CR4.PGE nothing is global: everything refills after a switch. */
    t = setup_two_as(32, false);
    expect_hit(hw_access(KGVA, HW_READ, false), hpa_of(KGPA), 1);
    write_cr3(t.cr3b);
    write_cr3(t.cr3a);
    expect_hit(hw_access(KGVA, HW_READ, false), hpa_of(KGPA), 1);
}

/* A change without INVLPG: stale until a CR3 reload (non-global) or INVLPG (global). */
static void test_stale_until_flush(void **s)
{
    (void)s;
    struct two_as t = setup_two_as(32, true);
    expect_hit(hw_access(KGVA, HW_READ, false), hpa_of(KGPA), 1);
    expect_hit(hw_access(UGVA, HW_READ, true), hpa_of(UGPA), 1);
    gput(gpte4(t.cr3a, KGVA, 1), 8, (KGPA + 0x1000) | P_ | RW_ | G_ | D_);
    gput(gpte4(t.cr3a, UGVA, 1), 8, (UGPA + 0x2000) | P_ | RW_ | US_ | D_);
    /* No invalidation yet: both stale, as a hardware TLB may keep them. */
    expect_hit(hw_access(KGVA, HW_READ, false), hpa_of(KGPA), 0);
    expect_hit(hw_access(UGVA, HW_READ, true), hpa_of(UGPA), 0);
    /* Reloading CR3 (same value) flushes non-global translations only. */
    write_cr3(t.cr3a);
    expect_hit(hw_access(UGVA, HW_READ, true), hpa_of(UGPA + 0x2000), 1);
    expect_hit(hw_access(KGVA, HW_READ, false), hpa_of(KGPA), 0);
    /* Switching to B and back does not flush a global translation either. */
    write_cr3(t.cr3b);
    write_cr3(t.cr3a);
    expect_hit(hw_access(KGVA, HW_READ, false), hpa_of(KGPA), 0);
    /* INVLPG in another address space drops it from every root (hardware's global entry
     * would be gone from the one TLB). */
    write_cr3(t.cr3b);
    expect_hit(hw_access(KGVA, HW_READ, false), hpa_of(KGPA), 1);
    shadow_invlpg(S, KGVA);
    write_cr3(t.cr3a);
    expect_hit(hw_access(KGVA, HW_READ, false), hpa_of(KGPA + 0x1000), 1);
    /* Toggling CR4.PGE flushes global translations too. */
    gput(gpte4(t.cr3a, KGVA, 1), 8, KGPA | P_ | RW_ | G_ | D_);
    expect_hit(hw_access(KGVA, HW_READ, false), hpa_of(KGPA + 0x1000), 0);
    struct shadow_outcome o;
    shadow_write_ctrl(S, CR0_ON, CR4_PAE, EFER_LONG, &o);
    assert_int_equal(o.action, SHADOW_RESUME);
    expect_hit(hw_access(KGVA, HW_READ, false), hpa_of(KGPA), 1);
}

/* A tiny pool: the current root's tables are recycled; the guest always progresses. */
static void test_pool_exhaustion_self(void **s)
{
    (void)s;
    reset(SHADOW_POOL_MIN);
    uint64_t cr3v = gtable();
    struct shadow_outcome o;
    shadow_init(S, &ENV, POOL_HPA, SHADOW_POOL_MIN, CR0_ON, cr3v, CR4_LONG, EFER_LONG, &o);
    /* Eight pages in eight different 1 GiB regions: each needs its own PDPT/PD/PT path. */
    for (unsigned i = 0; i < 8; i++) {
        uint64_t gva = 0x1000000000ull * (i + 1) + 0x5000;
        gmap4(cr3v, gva, UGPA + i * 0x1000ull, 1, RW_ | US_ | D_);
        gm_add(UGPA + i * 0x1000ull, R_ | W_);
    }
    for (unsigned round = 0; round < 3; round++) {
        for (unsigned i = 0; i < 8; i++) {
            uint64_t gva = 0x1000000000ull * (i + 1) + 0x5000;
            struct hw r = hw_access(gva, HW_WRITE, true);
            assert_int_equal(r.action, SHADOW_RESUME);
            assert_int_equal(r.hpa, hpa_of(UGPA + i * 0x1000ull));
            assert_true(used_pages() <= SHADOW_POOL_MIN);
        }
    }
    assert_true(S->stats.self_evictions >= 8);
    uint64_t g;
    assert_int_equal(shadow_tlb_take(S, &g), SHADOW_TLB_ALL);
}

/* More CR3s than the pool holds: least recently used roots are evicted. */
static void test_pool_exhaustion_roots(void **s)
{
    (void)s;
    reset(12);
    uint64_t cr3s[6];
    for (unsigned i = 0; i < 6; i++) {
        cr3s[i] = gtable();
        gmap4(cr3s[i], UGVA, UGPA + i * 0x1000ull, 1, RW_ | US_ | D_);
        gm_add(UGPA + i * 0x1000ull, R_ | W_);
    }
    struct shadow_outcome o;
    shadow_init(S, &ENV, POOL_HPA, 12, CR0_ON, cr3s[0], CR4_LONG, EFER_LONG, &o);
    for (unsigned round = 0; round < 3; round++) {
        for (unsigned i = 0; i < 6; i++) {
            write_cr3(cr3s[i]);
            expect_hit(hw_access(UGVA, HW_WRITE, true), hpa_of(UGPA + i * 0x1000ull), 1);
            assert_true(used_pages() <= 12);
        }
    }
    /* Six address spaces x 4 pages > 12 pages and > SHADOW_ROOTS: evictions happened. */
    assert_true(S->stats.root_evictions > 0);
    unsigned valid = 0;
    for (unsigned r = 0; r < SHADOW_ROOTS; r++)
        valid += S->roots[r].valid;
    assert_true(valid >= 1 && valid <= SHADOW_ROOTS);
    /* The most recent CR3 is cached: switching back hits. */
    uint64_t hits = S->stats.root_hits;
    write_cr3(cr3s[4]);
    assert_int_equal(S->stats.root_hits, hits + 1);
}

/* CR0.WP = 0: supervisor writes through read-only pages; user rights unchanged. */
static void test_wp0(void **s)
{
    (void)s;
    reset(16);
    uint64_t cr3v = gtable();
    struct shadow_outcome o;
    shadow_init(S, &ENV, POOL_HPA, 16, CR0_PG | CR0_PE, cr3v, CR4_LONG | CR4_SMEP, EFER_LONG,
                &o);
    gmap4(cr3v, UGVA, UGPA, 1, US_);     /* user page, read-only */
    gm_add(UGPA, R_ | W_ | X_);
    struct hw r = hw_access(UGVA, HW_WRITE, false);
    expect_hit(r, hpa_of(UGPA), 1);
    assert_int_equal(r.spte & (RW_ | US_ | XD_), RW_ | XD_);   /* supervisor-only, NX for SMEP */
    assert_true(gget(gpte4(cr3v, UGVA, 1), 8) & D_);
    r = hw_access(UGVA, HW_READ, true);     /* the user access refills a user spte */
    expect_hit(r, hpa_of(UGPA), 1);
    assert_int_equal(r.spte & (RW_ | US_), US_);
    r = hw_access(UGVA, HW_WRITE, true);
    assert_int_equal(r.action, SHADOW_INJECT_PF);
    assert_int_equal(r.ec, EC_P | EC_W | EC_U);
    /* Setting CR0.WP flushes; the supervisor write is then the guest's #PF. */
    shadow_write_ctrl(S, CR0_ON, CR4_LONG | CR4_SMEP, EFER_LONG, &o);
    assert_int_equal(S->stats.flush_all, 1);
    r = hw_access(UGVA, HW_WRITE, false);
    assert_int_equal(r.action, SHADOW_INJECT_PF);
    assert_int_equal(r.ec, EC_P | EC_W);
}

/* Changes of paging controls flush everything; other bits do not. */
static void test_ctrl_flush(void **s)
{
    (void)s;
    (void)setup_two_as(32, true);
    struct shadow_outcome o;
    struct { uint64_t cr0, cr4, efer; bool flush; } cases[] = {
        {CR0_ON | (1ull << 5), CR4_LONG, EFER_LONG, false},      /* CR0.NE */
        {CR0_ON, CR4_LONG | (1ull << 9), EFER_LONG, false},      /* CR4.OSFXSR */
        {CR0_ON, CR4_LONG, EFER_LONG | 1, false},                /* EFER.SCE */
        {CR0_ON & ~CR0_WP, CR4_LONG, EFER_LONG, true},
        {CR0_ON, CR4_LONG & ~CR4_PGE, EFER_LONG, true},
        {CR0_ON, CR4_LONG | CR4_PSE, EFER_LONG, true},
        {CR0_ON, CR4_LONG | CR4_SMEP, EFER_LONG, true},
        {CR0_ON, CR4_LONG | (1ull << 21), EFER_LONG, true},      /* SMAP */
        {CR0_ON, CR4_LONG, EFER_LONG & ~EFER_NXE, true},
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        shadow_write_ctrl(S, CR0_ON, CR4_LONG, EFER_LONG, &o);
        (void)hw_access(KGVA, HW_READ, false);     /* cached, whatever came before */
        uint64_t before = S->stats.flush_all;
        shadow_write_ctrl(S, cases[i].cr0, cases[i].cr4, cases[i].efer, &o);
        assert_int_equal(o.action, SHADOW_RESUME);
        if ((S->stats.flush_all != before) != cases[i].flush)
            fail_msg("case %u: flush %d", i, (int)(S->stats.flush_all != before));
        if (cases[i].flush)
            assert_int_equal(used_pages(), 1);  /* just the new root */
        expect_hit(hw_access(KGVA, HW_READ, false), hpa_of(KGPA), cases[i].flush ? 1 : 0);
    }
}

/* Legacy guests: PAE shadow format; PDPTEs loaded at CR3 load, #GP on reserved bits. */
static void test_pae_guest(void **s)
{
    (void)s;
    reset(16);
    uint64_t pdpt = gtable(), pd = gtable(), pt = gtable();
    uint64_t cr3v = pdpt + 0x20;
    gput(cr3v + 1 * 8ull, 8, pd | P_);                      /* 1 GiB..2 GiB */
    gput(pd + 3 * 8ull, 8, pt | P_ | RW_ | US_);
    gput(pt + 5 * 8ull, 8, 0x7000000ull | P_ | RW_ | US_ | XD_);
    gm_add(0x7000000ull, R_ | W_ | X_);
    uint64_t gva = 0x40000000ull | (3ull << 21) | (5ull << 12) | 0x10;
    struct shadow_outcome o;
    shadow_init(S, &ENV, POOL_HPA, 16, CR0_ON, cr3v, CR4_PAE, EFER_NXE, &o);
    assert_int_equal(o.action, SHADOW_RESUME);
    assert_true(shadow_root_pae(S));
    struct hw r = hw_access(gva, HW_WRITE, true);
    expect_hit(r, hpa_of(0x7000000ull) + 0x10, 1);
    assert_true(r.spte & XD_);
    r = hw_access(gva, HW_FETCH, true);
    assert_int_equal(r.action, SHADOW_INJECT_PF);
    assert_int_equal(r.ec, EC_P | EC_U | EC_ID);
    /* A bad PDPTE refuses the CR3 load: #GP, CR3 and the shadow unchanged. */
    uint64_t pdpt2 = gtable();
    gput(pdpt2, 8, pd | P_ | RW_);     /* bit 1 is reserved in a PAE PDPTE */
    shadow_write_cr3(S, pdpt2, &o);
    assert_int_equal(o.action, SHADOW_INJECT_GP);
    assert_int_equal(S->regs.cr3, cr3v);
    /* (1 fault: the injected fetch #PF above invalidated the translation.) */
    expect_hit(hw_access(gva, HW_WRITE, true), hpa_of(0x7000000ull) + 0x10, 1);
    expect_hit(hw_access(gva, HW_WRITE, true), hpa_of(0x7000000ull) + 0x10, 0);
    /* PDPTEs changed in memory are used only after the next CR3 load. */
    gput(cr3v + 1 * 8ull, 8, 0);
    shadow_invlpg(S, gva);
    expect_hit(hw_access(gva, HW_WRITE, true), hpa_of(0x7000000ull) + 0x10, 1);
    write_cr3(cr3v);
    r = hw_access(gva, HW_READ, false);
    assert_int_equal(r.action, SHADOW_INJECT_PF);
    assert_int_equal(r.ec, 0);
    /* The PDPT's frame missing at CR3 load: an exit for the memory handler. */
    shadow_write_cr3(S, 0x9000000ull, &o);
    assert_int_equal(o.action, SHADOW_GPA_EXIT);
    assert_int_equal(o.gpa, 0x9000000ull);
}

/* 32-bit guest with a 4 MiB page, on PAE shadow tables. */
static void test_32bit_guest_4m(void **s)
{
    (void)s;
    reset(16);
    uint64_t pd = gtable();
    uint64_t gva = 0x80400000ull;      /* PDE 0x201 */
    gput(pd + 0x201 * 4ull, 4, 0x0c000000ull | P_ | RW_ | PS_ | D_);
    struct shadow_outcome o;
    shadow_init(S, &ENV, POOL_HPA, 16, CR0_ON, pd, CR4_PSE, 0, &o);
    assert_true(shadow_root_pae(S));
    gm_add(0x0c000000ull, R_ | W_);
    gm_add(0x0c3ff000ull, R_ | W_);
    gm_add(0x10000000ull, R_ | W_);
    gm_add(0x103ff000ull, R_ | W_);
    expect_hit(hw_access(gva + 0x10, HW_WRITE, false), hpa_of(0x0c000000ull) + 0x10, 1);
    struct hw r = hw_access(gva + 0x3ff010, HW_WRITE, false);
    expect_hit(r, hpa_of(0x0c3ff000ull) + 0x10, 1);
    assert_true(r.spte & SPTE_SW_LARGE);
    assert_true(r.spte & XD_);      /* GuestMemory gives no execute right */
    /* Remap the 4 MiB page, INVLPG its first 4 KiB: both sptes go (2 MiB apart). */
    gput(pd + 0x201 * 4ull, 4, 0x10000000ull | P_ | RW_ | PS_ | D_);
    expect_hit(hw_access(gva + 0x3ff010, HW_WRITE, false), hpa_of(0x0c3ff000ull) + 0x10, 0);
    shadow_invlpg(S, gva);
    expect_hit(hw_access(gva + 0x3ff010, HW_WRITE, false), hpa_of(0x103ff000ull) + 0x10, 1);
    expect_hit(hw_access(gva + 0x10, HW_WRITE, false), hpa_of(0x10000000ull) + 0x10, 1);
    /* The guest's 32-bit page-directory entry got A (4-byte update). */
    assert_int_equal(gget(pd + 0x201 * 4ull, 4), 0x10000000ull | P_ | RW_ | PS_ | D_ | A_);
    assert_int_equal(gget(pd + 0x202 * 4ull, 4), 0);
}

/* Paging off: identity, through PAE shadow tables; enabling paging flushes. */
static void test_paging_off(void **s)
{
    (void)s;
    reset(16);
    struct shadow_outcome o;
    shadow_init(S, &ENV, POOL_HPA, 16, CR0_PE, 0, 0, 0, &o);
    assert_true(shadow_root_pae(S));
    gm_add(0xb8000, R_ | W_);
    expect_hit(hw_access(0xb8010, HW_WRITE, false), hpa_of(0xb8000) + 0x10, 1);
    struct hw r = hw_access(0x100000, HW_FETCH, false);
    assert_int_equal(r.action, SHADOW_GPA_EXIT);
    assert_int_equal(r.gpa_access, X_);
    shadow_write_cr3(S, 0x5000, &o);    /* no paging: nothing to flush */
    expect_hit(hw_access(0xb8010, HW_WRITE, false), hpa_of(0xb8000) + 0x10, 0);
    /* Enter long mode (PAE, then PG with LME -> LMA). */
    uint64_t pml4 = gtable();
    gmap4(pml4, 0xb8000, 0xb8000, 1, RW_ | D_);
    write_cr3(pml4);
    shadow_write_ctrl(S, CR0_ON, CR4_PAE, EFER_LME | EFER_LMA, &o);
    assert_int_equal(o.action, SHADOW_RESUME);
    assert_false(shadow_root_pae(S));
    expect_hit(hw_access(0xb8010, HW_WRITE, false), hpa_of(0xb8000) + 0x10, 1);
    r = hw_access(0xb9000, HW_READ, false);
    assert_int_equal(r.action, SHADOW_INJECT_PF);
}

/* Flush-all drops every root; the pool is whole again but for the new root. */
static void test_flush_all(void **s)
{
    (void)s;
    struct two_as t = setup_two_as(32, true);
    expect_hit(hw_access(UGVA, HW_READ, true), hpa_of(UGPA), 1);
    write_cr3(t.cr3b);
    expect_hit(hw_access(UGVA, HW_READ, true), hpa_of(UGPA + 0x1000), 1);
    assert_true(used_pages() >= 8);
    shadow_flush_all(S);
    assert_int_equal(used_pages(), 1);
    expect_hit(hw_access(UGVA, HW_READ, true), hpa_of(UGPA + 0x1000), 1);
}

/* SMAP: explicit supervisor access with AC reaches a user page; an implicit one faults. */
static void test_smap_implicit(void **s)
{
    (void)s;
    reset(16);
    uint64_t cr3v = gtable();
    struct shadow_outcome o;
    shadow_init(S, &ENV, POOL_HPA, 16, CR0_ON, cr3v, CR4_LONG | (1ull << 21), EFER_LONG, &o);
    gmap4(cr3v, UGVA, UGPA, 1, RW_ | US_ | D_);
    gm_add(UGPA, R_ | W_);
    struct hw r = hw_access(UGVA, HW_READ, false);      /* AC = 0: SMAP says no */
    assert_int_equal(r.action, SHADOW_INJECT_PF);
    assert_int_equal(r.ec, EC_P);
    expect_hit(hw_access_smap_ac(UGVA, HW_WRITE), hpa_of(UGPA), 1);
    expect_hit(hw_access_smap_ac(UGVA, HW_READ), hpa_of(UGPA), 0);
    r = hw_access_implicit(UGVA, HW_READ);
    assert_int_equal(r.action, SHADOW_INJECT_PF);
    assert_int_equal(r.ec, EC_P);
    r = hw_access_implicit(UGVA, HW_WRITE);
    assert_int_equal(r.action, SHADOW_INJECT_PF);
    assert_int_equal(r.ec, EC_P | EC_W);
    expect_hit(hw_access(UGVA, HW_READ, true), hpa_of(UGPA), 1);    /* user: fine */
}

/* INVLPG of a large page at the very top of the address space (base + span wraps). */
static void test_large_page_top(void **s)
{
    (void)s;
    reset(16);
    uint64_t cr3v = gtable();
    struct shadow_outcome o;
    shadow_init(S, &ENV, POOL_HPA, 16, CR0_ON, cr3v, CR4_LONG, EFER_LONG, &o);
    uint64_t gva = 0xffffffffffe00000ull, gpa = 0x3e00000ull;
    gmap4(cr3v, gva, gpa, 2, RW_ | D_);
    gm_add(gpa + 0x1ff000, R_ | W_);
    gm_add(gpa + 0x3ff000, R_ | W_);
    expect_hit(hw_access(gva + 0x1ff008, HW_READ, false), hpa_of(gpa + 0x1ff000) + 8, 1);
    gput(gpte4(cr3v, gva, 2), 8, (gpa + 0x200000) | P_ | RW_ | D_ | PS_);
    shadow_invlpg(S, gva);
    expect_hit(hw_access(gva + 0x1ff008, HW_READ, false), hpa_of(gpa + 0x3ff000) + 8, 1);
    ENV.guest.gbpages = false;      /* 2 MiB span, same wrap */
    gput(gpte4(cr3v, gva, 2), 8, gpa | P_ | RW_ | D_ | PS_);
    shadow_invlpg(S, gva + 0x5000);
    expect_hit(hw_access(gva + 0x1ff008, HW_READ, false), hpa_of(gpa + 0x1ff000) + 8, 1);
}

static void test_access_from_error_code(void **s)
{
    (void)s;
    assert_int_equal(shadow_access(EC_P | EC_W | EC_U, false), GW_ACC_WRITE | GW_ACC_USER);
    assert_int_equal(shadow_access(EC_ID, true), GW_ACC_FETCH | GW_ACC_AC);
    assert_int_equal(shadow_access(0, false), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_ok),
        cmocka_unit_test(test_access_from_error_code),
        cmocka_unit_test(test_install_and_dirty),
        cmocka_unit_test(test_rights_matrix),
        cmocka_unit_test(test_guest_fault_passthrough),
        cmocka_unit_test(test_gpa_missing),
        cmocka_unit_test(test_invlpg),
        cmocka_unit_test(test_large_pages_4level),
        cmocka_unit_test(test_cr3_cached_roots),
        cmocka_unit_test(test_stale_until_flush),
        cmocka_unit_test(test_pool_exhaustion_self),
        cmocka_unit_test(test_pool_exhaustion_roots),
        cmocka_unit_test(test_wp0),
        cmocka_unit_test(test_ctrl_flush),
        cmocka_unit_test(test_pae_guest),
        cmocka_unit_test(test_32bit_guest_4m),
        cmocka_unit_test(test_paging_off),
        cmocka_unit_test(test_flush_all),
        cmocka_unit_test(test_smap_implicit),
        cmocka_unit_test(test_large_page_top),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
