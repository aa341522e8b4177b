/* SPDX-License-Identifier: MIT */
/* test_guest_walk.c: the guest page-table walker (vtlb/guest_walk.c) against rules restated from the SDM. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "vtlb/guest_walk.h"

/* The architecture, restated (not taken from guest_walk.h): x86_restated.h. */
#include "x86_restated.h"

/* ---- simulated guest-physical memory: only table frames exist ---- */

#define SIM_FRAMES 64
struct frame {
    bool used;
    bool readonly;      /* cmpxchg reports MISSING (no write right) */
    uint64_t gfn;
    uint8_t data[4096];
};

static struct frame F[SIM_FRAMES];
static uint64_t next_gfn;
static unsigned n_reads, n_cmpxchg;
/* Concurrent-writer simulation: cmpxchg number `race_at` (1-based) first stores
 * race_value at its gpa and reports CHANGED; race_forever does so every time. */
static unsigned race_at;
static bool race_forever;
static uint64_t race_value;

static struct frame *frame_of(uint64_t gpa)
{
    for (unsigned i = 0; i < SIM_FRAMES; i++)
        if (F[i].used && F[i].gfn == gpa >> 12)
            return &F[i];
    return NULL;
}

static uint64_t sim_get(uint64_t gpa, unsigned size)
{
    struct frame *f = frame_of(gpa);
    if (f == NULL) {
        fail_msg("test bug: no frame at 0x%" PRIx64, gpa);
        return 0;
    }
    uint64_t v = 0;
    memcpy(&v, &f->data[gpa & 0xfff], size);
    return v;
}

static void sim_put(uint64_t gpa, unsigned size, uint64_t v)
{
    struct frame *f = frame_of(gpa);
    if (f == NULL) {
        fail_msg("test bug: no frame at 0x%" PRIx64, gpa);
        return;
    }
    memcpy(&f->data[gpa & 0xfff], &v, size);
}

static void check_access(uint64_t gpa, unsigned size)
{
    if ((size != 4 && size != 8) || gpa % size != 0)
        fail_msg("walker accessed %u bytes at 0x%" PRIx64, size, gpa);
}

static enum gw_mem sim_read(void *ctx, uint64_t gpa, unsigned size, uint64_t *val)
{
    (void)ctx;
    check_access(gpa, size);
    n_reads++;
    if (frame_of(gpa) == NULL)
        return GW_MEM_MISSING;
    *val = sim_get(gpa, size);
    return GW_MEM_OK;
}

static enum gw_mem sim_cmpxchg(void *ctx, uint64_t gpa, unsigned size, uint64_t old,
                               uint64_t new_val)
{
    (void)ctx;
    check_access(gpa, size);
    n_cmpxchg++;
    struct frame *f = frame_of(gpa);
    if (f == NULL || f->readonly)
        return GW_MEM_MISSING;
    if (race_forever || n_cmpxchg == race_at) {
        sim_put(gpa, size, race_forever ? sim_get(gpa, size) ^ (1ull << 9) : race_value);
        return GW_MEM_CHANGED;
    }
    if (sim_get(gpa, size) != old)
        return GW_MEM_CHANGED;
    sim_put(gpa, size, new_val);
    return GW_MEM_OK;
}

static struct gw_env ENV;

static void sim_reset(unsigned maxphyaddr, bool gbpages)
{
    memset(F, 0, sizeof(F));
    next_gfn = 0x1000;      /* tables from gpa 16 MiB up (below 4 GiB for CR3 in legacy modes) */
    n_reads = n_cmpxchg = 0;
    race_at = 0;
    race_forever = false;
    ENV = (struct gw_env){.read = sim_read, .cmpxchg = sim_cmpxchg, .ctx = NULL,
                          .maxphyaddr = maxphyaddr, .gbpages = gbpages};
}

static uint64_t new_table(void)
{
    for (unsigned i = 0; i < SIM_FRAMES; i++) {
        if (!F[i].used) {
            F[i].used = true;
            F[i].gfn = next_gfn++;
            return F[i].gfn << 12;
        }
    }
    fail_msg("test bug: out of frames");
    return 0;
}

static void drop_frame(uint64_t gpa)
{
    frame_of(gpa)->used = false;
}

static struct gw_result walk(const struct gw_regs *r, uint64_t gva, unsigned acc)
{
    struct gw_result res;
    memset(&res, 0xa5, sizeof(res));
    gw_walk(&ENV, r, gva, acc, &res);
    return res;
}

#define expect_ok(res, want_gpa, want_size)                                                     \
    do {                                                                                        \
        if ((res).status != GW_OK)                                                              \
            fail_msg("status %d (ec 0x%x), expected OK", (res).status, (res).error_code);       \
        assert_int_equal((res).gpa, (want_gpa));                                                \
        assert_int_equal((res).page_size, (want_size));                                         \
    } while (0)

#define expect_pf(res, want_gva, want_ec)                                                       \
    do {                                                                                        \
        if ((res).status != GW_FAULT)                                                           \
            fail_msg("status %d, expected #PF ec 0x%x", (res).status, (unsigned)(want_ec));     \
        assert_int_equal((res).error_code, (want_ec));                                          \
        assert_int_equal((res).cr2, (want_gva));                                                \
    } while (0)

/* ---- the independent reference: SDM 4.6.1 "Determination of Access Rights" ---- */

enum acc_kind { K_READ, K_WRITE, K_FETCH };
enum acc_mode { M_USER, M_SUP, M_SUP_IMPLICIT };

struct ref_cfg {
    bool wp, nxe, smep, smap, ac, pae_or_long;
};

/*
 * Decided clause by clause as the manual lists them. user_addr: U/S = 1 in every
 * paging-structure entry controlling the translation; rw_all: R/W = 1 in every one;
 * xd_any: XD = 1 in some one (only meaningful with PAE/4-level and NXE = 1).
 */
static bool sdm_allows(const struct ref_cfg *c, enum acc_kind k, enum acc_mode m,
                       bool user_addr, bool rw_all, bool xd_any)
{
    bool nx_paging = c->pae_or_long && c->nxe; /* "PAE paging or 4-level paging with NXE = 1" */
    if (m == M_USER) {
        /* "User-mode accesses": only user-mode addresses, ever. */
        if (!user_addr)
            return false;
        switch (k) {
        case K_READ: return true;
        case K_WRITE: return rw_all;           /* CR0.WP does not matter for CPL 3 */
        case K_FETCH: return !(nx_paging && xd_any);
        }
    }
    bool explicit_ac = m == M_SUP && c->ac;     /* "EFLAGS.AC = 1 and the access is explicit" */
    switch (k) {
    case K_READ:
        if (!user_addr)
            return true;                        /* any supervisor-mode address */
        return !c->smap || explicit_ac;
    case K_WRITE:
        if (!user_addr)
            return !c->wp || rw_all;
        if (c->smap && !explicit_ac)
            return false;
        return !c->wp || rw_all;
    case K_FETCH:
        if (user_addr && c->smep)
            return false;                       /* SMEP: never from user-mode addresses */
        return !(nx_paging && xd_any);
    }
    return false;
}

/* SDM 4.7: the error code a #PF of this access carries, given P and RSVD. */
static uint32_t sdm_error_code(const struct ref_cfg *c, enum acc_kind k, enum acc_mode m,
                               uint32_t p_rsvd)
{
    uint32_t ec = p_rsvd;
    if (k == K_WRITE)
        ec |= EC_W;
    if (m == M_USER)
        ec |= EC_U;     /* implicit supervisor accesses are supervisor accesses */
    if (k == K_FETCH && (c->smep || (c->pae_or_long && c->nxe)))
        ec |= EC_ID;
    return ec;
}

static unsigned to_access(enum acc_kind k, enum acc_mode m, bool ac)
{
    unsigned a = k == K_WRITE ? GW_ACC_WRITE : k == K_FETCH ? GW_ACC_FETCH : 0;
    if (m == M_USER)
        a |= GW_ACC_USER;
    if (m == M_SUP_IMPLICIT)
        a |= GW_ACC_IMPLICIT;
    if (ac)
        a |= GW_ACC_AC;
    return a;
}

/* ---- the rights matrix ---- */

struct mx {
    enum gw_paging_mode mode;
    struct gw_regs regs;        /* cr0/cr4/efer filled per configuration */
    uint64_t pdptes[4];
    unsigned nlev;              /* entries carrying U/S, R/W, XD, root first */
    unsigned esize;
    uint64_t ent_gpa[4];
    uint64_t ent_base[4];       /* frame | P | PS as the level needs */
    uint64_t gva, want_gpa, want_size;
};

#define GVA4 ((0x0feull << 39) | (0x1a3ull << 30) | (0x0c5ull << 21) | (0x111ull << 12) | 0x123)

/* 4-level paging, leaf at `leaf` (1 = 4 KiB, 2 = 2 MiB, 3 = 1 GiB). */
static struct mx mx_4level(unsigned leaf)
{
    struct mx m = {.mode = GW_PAGING_4LEVEL, .esize = 8, .gva = GVA4};
    uint64_t t[4] = {0};
    const unsigned idx[4] = {0x111, 0x0c5, 0x1a3, 0x0fe};     /* PT, PD, PDPT, PML4 */
    for (int l = 4; l >= (int)leaf; l--)
        t[l - 1] = new_table();
    m.regs.cr3 = t[3] | 0x18;   /* PWT|PCD are not address bits */
    m.nlev = 5 - leaf;
    for (unsigned i = 0; i < m.nlev; i++) {
        unsigned l = 4 - i;
        m.ent_gpa[i] = t[l - 1] + idx[l - 1] * 8ull;
        m.ent_base[i] = l > leaf ? t[l - 2] | P_ : P_;
    }
    uint64_t size = leaf == 1 ? 0x1000 : leaf == 2 ? 0x200000 : 0x40000000;
    uint64_t frame = 0x123456789000ull & ~(size - 1);
    m.ent_base[m.nlev - 1] |= frame | (leaf > 1 ? PS_ : 0);
    m.want_gpa = frame | (GVA4 & (size - 1));
    m.want_size = size;
    return m;
}

/* PAE paging (PDPTEs loaded at CR3 load); leaf 1 = 4 KiB, 2 = 2 MiB. */
static struct mx mx_pae(unsigned leaf)
{
    struct mx m = {.mode = GW_PAGING_PAE, .esize = 8};
    m.gva = (2ull << 30) | (0x0c5ull << 21) | (0x111ull << 12) | 0x123;
    uint64_t pdpt = new_table(), pd = new_table();
    m.regs.cr3 = pdpt | 0x60;   /* 32-byte aligned PDPT inside the page */
    sim_put(pdpt + 0x60 + 2 * 8ull, 8, pd | P_);
    uint64_t missing;
    assert_int_equal(gw_load_pdptes(&ENV, m.regs.cr3, m.pdptes, &missing), GW_OK);
    m.ent_gpa[0] = pd + 0x0c5 * 8ull;
    if (leaf == 1) {
        uint64_t pt = new_table();
        m.nlev = 2;
        m.ent_base[0] = pt | P_;
        m.ent_gpa[1] = pt + 0x111 * 8ull;
        m.ent_base[1] = 0xabcdef000ull | P_;
        m.want_gpa = 0xabcdef123ull;
        m.want_size = 0x1000;
    } else {
        m.nlev = 1;
        m.ent_base[0] = 0xabce00000ull | P_ | PS_;
        m.want_gpa = 0xabce00000ull | (m.gva & 0x1fffff);
        m.want_size = 0x200000;
    }
    return m;
}

/* 32-bit paging; leaf 1 = 4 KiB, 2 = 4 MiB (CR4.PSE). */
static struct mx mx_32(unsigned leaf)
{
    struct mx m = {.mode = GW_PAGING_32, .esize = 4, .gva = 0xc5a11123ull};
    uint64_t pd = new_table();
    m.regs.cr3 = pd;
    m.ent_gpa[0] = pd + (0xc5a11123ull >> 22) * 4ull;
    if (leaf == 1) {
        uint64_t pt = new_table();
        m.nlev = 2;
        m.ent_base[0] = pt | P_;
        m.ent_gpa[1] = pt + ((0xc5a11123ull >> 12) & 0x3ff) * 4ull;
        m.ent_base[1] = 0x7654f000ull | P_;
        m.want_gpa = 0x7654f123ull;
        m.want_size = 0x1000;
    } else {
        m.nlev = 1;
        m.ent_base[0] = 0x76400000ull | P_ | PS_;
        m.want_gpa = 0x76400000ull | (0xc5a11123ull & 0x3fffff);
        m.want_size = 0x400000;
    }
    return m;
}

struct mx_stats {
    unsigned long walks, allowed, faults, rsvd, failures;
};

static void mx_fail(struct mx_stats *st, const char *fmt, ...)
{
    if (st->failures++ < 10) {
        va_list ap;
        va_start(ap, fmt);
        printf("FAIL: ");
        vprintf(fmt, ap);
        printf("\n");
        va_end(ap);
    }
}

/* Every U/S, R/W (and XD) combination at every level x access x WP, NXE, SMEP, SMAP, AC. */
static void run_matrix(struct mx *m, const char *name)
{
    struct mx_stats st = {0};
    bool has_xd = m->mode != GW_PAGING_32;
    unsigned bits_per = has_xd ? 3 : 2;
    unsigned combos = 1u << (bits_per * m->nlev);
    m->regs.pdptes = m->mode == GW_PAGING_PAE ? m->pdptes : NULL;

    for (unsigned combo = 0; combo < combos; combo++) {
        uint64_t ent[4] = {0};
        bool user_addr = true, rw_all = true, xd_any = false;
        for (unsigned i = 0; i < m->nlev; i++) {
            unsigned b = combo >> (bits_per * i);
            ent[i] = m->ent_base[i] | ((b & 1) ? US_ : 0) | ((b & 2) ? RW_ : 0) |
                     (has_xd && (b & 4) ? XD_ : 0);
            user_addr = user_addr && (b & 1);
            rw_all = rw_all && (b & 2);
            xd_any = xd_any || (has_xd && (b & 4));
        }
        for (unsigned cfgbits = 0; cfgbits < 32; cfgbits++) {
            struct ref_cfg c = {.wp = cfgbits & 1, .nxe = cfgbits & 2, .smep = cfgbits & 4,
                                .smap = cfgbits & 8, .ac = cfgbits & 16,
                                .pae_or_long = m->mode != GW_PAGING_32};
            m->regs.cr0 = CR0_PG | 1 | (c.wp ? CR0_WP : 0);
            m->regs.cr4 = (m->mode == GW_PAGING_32 ? CR4_PSE : CR4_PAE) |
                          (c.smep ? CR4_SMEP : 0) | (c.smap ? CR4_SMAP : 0);
            m->regs.efer = (m->mode == GW_PAGING_4LEVEL ? EFER_LME | EFER_LMA : 0) |
                           (c.nxe ? EFER_NXE : 0);
            for (unsigned k = K_READ; k <= K_FETCH; k++) {
                for (unsigned md = M_USER; md <= M_SUP_IMPLICIT; md++) {
                    if (k == K_FETCH && md == M_SUP_IMPLICIT)
                        continue;
                    for (unsigned i = 0; i < m->nlev; i++)
                        sim_put(m->ent_gpa[i], m->esize, ent[i]);
                    struct gw_result r;
                    gw_walk(&ENV, &m->regs, m->gva, to_access(k, md, c.ac), &r);
                    st.walks++;

                    /* With NXE = 0 a present entry's bit 63 is reserved (SDM 4.4.2, 4.5.4). */
                    bool rsvd = has_xd && !c.nxe && xd_any;
                    bool ok = !rsvd && sdm_allows(&c, k, md, user_addr, rw_all, xd_any);
                    const char *what = rsvd ? "rsvd" : ok ? "allowed" : "denied";
#define CTX "%s combo %#x wp%d nxe%d smep%d smap%d ac%d kind %u mode %u (%s)", name, combo, \
            c.wp, c.nxe, c.smep, c.smap, c.ac, k, md, what
                    if (ok) {
                        st.allowed++;
                        if (r.status != GW_OK || r.gpa != m->want_gpa ||
                            r.page_size != m->want_size) {
                            mx_fail(&st, CTX);
                            continue;
                        }
                        if (r.user != user_addr || r.writable != rw_all ||
                            r.executable != !(c.nxe && xd_any))
                            mx_fail(&st, "rights u%d w%d x%d: " CTX, r.user, r.writable,
                                    r.executable);
                        /* A on every level, D on the leaf for a write, nothing else. */
                        for (unsigned i = 0; i < m->nlev; i++) {
                            uint64_t want = ent[i] | A_;
                            if (i == m->nlev - 1 && k == K_WRITE)
                                want |= D_;
                            if (sim_get(m->ent_gpa[i], m->esize) != want)
                                mx_fail(&st, "entry %u is %#" PRIx64 " want %#" PRIx64 ": " CTX,
                                        i, sim_get(m->ent_gpa[i], m->esize), want);
                        }
                    } else {
                        st.faults++;
                        st.rsvd += rsvd;
                        uint32_t ec = sdm_error_code(&c, k, md, EC_P | (rsvd ? EC_RSVD : 0));
                        if (r.status != GW_FAULT || r.error_code != ec || r.cr2 != m->gva)
                            mx_fail(&st, "got status %d ec %#x, want ec %#x: " CTX, r.status,
                                    r.error_code, ec);
                        for (unsigned i = 0; i < m->nlev; i++)
                            if (sim_get(m->ent_gpa[i], m->esize) != ent[i])
                                mx_fail(&st, "faulting access changed entry %u: " CTX, i);
                    }
#undef CTX
                }
            }
        }
    }
    printf("%s: %lu walks, %lu allowed, %lu #PF (%lu RSVD), %lu mismatches\n", name, st.walks,
           st.allowed, st.faults, st.rsvd, st.failures);
    if (st.failures != 0)
        fail_msg("%s: %lu of %lu walks disagree with the SDM rules", name, st.failures,
                 st.walks);
    /* The matrix must exercise both outcomes, or it proves nothing. */
    assert_true(st.allowed > 0 && st.faults > 0);
}

static void test_matrix_4level_4k(void **s) { (void)s; sim_reset(46, true); struct mx m = mx_4level(1); run_matrix(&m, "4level-4K"); }
static void test_matrix_4level_2m(void **s) { (void)s; sim_reset(46, true); struct mx m = mx_4level(2); run_matrix(&m, "4level-2M"); }
static void test_matrix_4level_1g(void **s) { (void)s; sim_reset(46, true); struct mx m = mx_4level(3); run_matrix(&m, "4level-1G"); }
static void test_matrix_pae_4k(void **s) { (void)s; sim_reset(36, false); struct mx m = mx_pae(1); run_matrix(&m, "pae-4K"); }
static void test_matrix_pae_2m(void **s) { (void)s; sim_reset(36, false); struct mx m = mx_pae(2); run_matrix(&m, "pae-2M"); }
static void test_matrix_32_4k(void **s) { (void)s; sim_reset(36, false); struct mx m = mx_32(1); run_matrix(&m, "32bit-4K"); }
static void test_matrix_32_4m(void **s) { (void)s; sim_reset(36, false); struct mx m = mx_32(2); run_matrix(&m, "32bit-4M"); }

/* ---- fixed configurations ---- */

static struct gw_regs regs_4level(uint64_t cr3)
{
    return (struct gw_regs){.cr0 = CR0_PG | CR0_WP | 1, .cr3 = cr3, .cr4 = CR4_PAE | CR4_PGE,
                            .efer = EFER_LME | EFER_LMA | EFER_NXE};
}

static struct gw_regs regs_32(uint64_t cr3, bool pse)
{
    return (struct gw_regs){.cr0 = CR0_PG | CR0_WP | 1, .cr3 = cr3, .cr4 = pse ? CR4_PSE : 0};
}

static void set_all(const struct mx *m, uint64_t extra)
{
    for (unsigned i = 0; i < m->nlev; i++)
        sim_put(m->ent_gpa[i], m->esize, m->ent_base[i] | extra);
}

static void test_paging_off(void **s)
{
    (void)s;
    sim_reset(46, true);
    struct gw_regs r = {.cr0 = 1, .cr4 = CR4_PAE, .efer = EFER_NXE};
    struct gw_result res = walk(&r, 0xffffffff12345678ull, GW_ACC_WRITE | GW_ACC_USER);
    expect_ok(res, 0x12345678ull, 0x1000);
    assert_true(res.writable && res.user && res.executable);
    assert_int_equal(res.nr_entries, 0);
    assert_int_equal(n_reads + n_cmpxchg, 0);
    assert_int_equal(gw_paging_mode(&r), GW_PAGING_OFF);
}

static void test_modes_selected(void **s)
{
    (void)s;
    struct gw_regs r = regs_4level(0);
    assert_int_equal(gw_paging_mode(&r), GW_PAGING_4LEVEL);
    r.efer = EFER_LME;  /* LME without LMA: not yet active, PAE paging */
    assert_int_equal(gw_paging_mode(&r), GW_PAGING_PAE);
    r.cr4 = CR4_PSE;
    assert_int_equal(gw_paging_mode(&r), GW_PAGING_32);
}

/* The walk reports every entry it read, with the values it left there. */
static void test_entries_reported_4level(void **s)
{
    (void)s;
    sim_reset(46, true);
    struct mx m = mx_4level(1);
    set_all(&m, RW_ | US_);
    struct gw_regs r = regs_4level(m.regs.cr3);
    struct gw_result res = walk(&r, GVA4, GW_ACC_WRITE);
    expect_ok(res, m.want_gpa, 0x1000);
    assert_int_equal(res.nr_entries, 4);
    assert_int_equal(res.entry_size, 8);
    assert_int_equal(res.leaf_level, 1);
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(res.entry_gpa[i], m.ent_gpa[i]);
        assert_int_equal(res.entry[i], sim_get(m.ent_gpa[i], 8));
    }
    assert_true(res.dirty);
    assert_false(res.global);
}

static void test_upper_half_and_noncanonical(void **s)
{
    (void)s;
    sim_reset(46, true);
    uint64_t pml4 = new_table(), pdpt = new_table(), pd = new_table(), pt = new_table();
    uint64_t gva = 0xffffffff80201abcull;   /* PML4 511, PDPT 510, PD 1, PT 1 */
    sim_put(pml4 + 511 * 8ull, 8, pdpt | P_ | RW_);
    sim_put(pdpt + 510 * 8ull, 8, pd | P_ | RW_);
    sim_put(pd + 1 * 8ull, 8, pt | P_ | RW_);
    sim_put(pt + 1 * 8ull, 8, 0x5000 | P_ | RW_ | G_);
    struct gw_regs r = regs_4level(pml4);
    struct gw_result res = walk(&r, gva, 0);
    expect_ok(res, 0x5abcull, 0x1000);
    assert_true(res.global);            /* G with CR4.PGE */
    r.cr4 &= ~CR4_PGE;
    res = walk(&r, gva, 0);
    assert_false(res.global);
    res = walk(&r, 0x0000800000000000ull, 0);
    assert_int_equal(res.status, GW_NONCANONICAL);
    res = walk(&r, 0xffff7fffffffffffull, 0);
    assert_int_equal(res.status, GW_NONCANONICAL);
}

/* Not present at each level: P = 0 in the error code, the walk stops there. */
static void test_not_present_each_level(void **s)
{
    (void)s;
    for (unsigned lvl = 0; lvl < 4; lvl++) {
        sim_reset(46, true);
        struct mx m = mx_4level(1);
        set_all(&m, RW_ | US_);
        uint64_t e = sim_get(m.ent_gpa[lvl], 8);
        /* Reserved bits of a not-present entry are ignored (the entry is "available"). */
        sim_put(m.ent_gpa[lvl], 8, (e & ~P_) | (0x3ffull << 52) | XD_ | PS_);
        struct gw_regs r = regs_4level(m.regs.cr3);
        r.efer &= ~EFER_NXE;
        struct gw_result res = walk(&r, GVA4, GW_ACC_WRITE | GW_ACC_USER);
        expect_pf(res, GVA4, EC_W | EC_U);
        assert_int_equal(res.nr_entries, lvl + 1);
        for (unsigned i = 0; i < lvl; i++)
            assert_int_equal(sim_get(m.ent_gpa[i], 8) & A_, 0);     /* no A on a fault */
        res = walk(&r, GVA4, GW_ACC_FETCH);
        expect_pf(res, GVA4, 0);            /* I/D needs NXE or SMEP */
        r.cr4 |= CR4_SMEP;
        res = walk(&r, GVA4, GW_ACC_FETCH);
        expect_pf(res, GVA4, EC_ID);
    }
}

/* Reserved bits per 4-level entry: 51:M, PS in a PML4E, alignment in large pages. */
static void test_reserved_4level(void **s)
{
    (void)s;
    struct { unsigned leaf, lvl; uint64_t bits; bool fault; const char *what; } cases[] = {
        {1, 0, 1ull << 40, true, "PML4E bit 40 with MAXPHYADDR 40"},
        {1, 0, PS_, true, "PML4E PS"},
        {1, 1, 1ull << 51, true, "PDPTE bit 51"},
        {1, 2, 1ull << 45, true, "PDE bit 45"},
        {1, 3, 1ull << 40, true, "PTE bit 40"},
        {1, 3, 0x7ffull << 52, false, "PTE bits 62:52 are ignored"},
        {1, 3, 0xe00ull, false, "PTE bits 11:9 are ignored"},
        {2, 2, 1ull << 13, true, "2 MiB PDE bit 13 (alignment)"},
        {2, 2, 1ull << 20, true, "2 MiB PDE bit 20 (alignment)"},
        {2, 2, 1ull << 12, false, "2 MiB PDE bit 12 is PAT"},
        {3, 1, 1ull << 13, true, "1 GiB PDPTE bit 13 (alignment)"},
        {3, 1, 1ull << 29, true, "1 GiB PDPTE bit 29 (alignment)"},
        {3, 1, 1ull << 12, false, "1 GiB PDPTE bit 12 is PAT"},
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sim_reset(40, true);
        struct mx m = mx_4level(cases[i].leaf);
        /* the leaf frame must fit MAXPHYADDR 40 here */
        uint64_t size = m.want_size;
        uint64_t frame = 0x56789ab000ull & ~(size - 1);
        m.ent_base[m.nlev - 1] = (m.ent_base[m.nlev - 1] & 0xfff) | frame;
        set_all(&m, RW_);
        uint64_t e = sim_get(m.ent_gpa[cases[i].lvl], 8);
        sim_put(m.ent_gpa[cases[i].lvl], 8, e | cases[i].bits);
        struct gw_regs r = regs_4level(m.regs.cr3);
        struct gw_result res = walk(&r, GVA4, GW_ACC_WRITE);
        if (cases[i].fault) {
            if (res.status != GW_FAULT || res.error_code != (EC_P | EC_RSVD | EC_W))
                fail_msg("%s: status %d ec %#x", cases[i].what, res.status, res.error_code);
            assert_int_equal(res.nr_entries, cases[i].lvl + 1);
        } else if (res.status != GW_OK || res.gpa != (frame | (GVA4 & (size - 1)))) {
            fail_msg("%s: status %d gpa %#" PRIx64, cases[i].what, res.status, res.gpa);
        }
    }
}

/* Bit 8 of a PML4E: reserved on AMD, ignored on Intel; of a PDPTE: ignored on both. */
static void test_pml4e_bit8_vendor(void **s)
{
    (void)s;
    sim_reset(46, true);
    struct mx m = mx_4level(1);
    set_all(&m, RW_ | US_);
    sim_put(m.ent_gpa[0], 8, m.ent_base[0] | RW_ | US_ | G_);
    sim_put(m.ent_gpa[1], 8, m.ent_base[1] | RW_ | US_ | G_);
    struct gw_regs r = regs_4level(m.regs.cr3);
    expect_ok(walk(&r, GVA4, GW_ACC_USER), m.want_gpa, 0x1000);
    ENV.amd = true;
    expect_pf(walk(&r, GVA4, GW_ACC_USER), GVA4, EC_P | EC_RSVD | EC_U);
    sim_put(m.ent_gpa[0], 8, m.ent_base[0] | RW_ | US_);
    expect_ok(walk(&r, GVA4, GW_ACC_USER), m.want_gpa, 0x1000);
}

/* 1 GiB pages on a CPU without them: PS in a PDPTE is reserved. */
static void test_1g_unsupported(void **s)
{
    (void)s;
    sim_reset(46, false);
    struct mx m = mx_4level(3);
    set_all(&m, RW_ | US_);
    struct gw_regs r = regs_4level(m.regs.cr3);
    struct gw_result res = walk(&r, GVA4, GW_ACC_USER);
    expect_pf(res, GVA4, EC_P | EC_RSVD | EC_U);
    ENV.gbpages = true;
    res = walk(&r, GVA4, GW_ACC_USER);
    expect_ok(res, m.want_gpa, 0x40000000);
}

/* PAE: PDPTE reserved bits, load-at-CR3 versus read-on-walk, 2 MiB alignment, 62:M. */
static void test_pae_pdptes(void **s)
{
    (void)s;
    sim_reset(36, false);
    struct mx m = mx_pae(1);
    set_all(&m, RW_ | US_);
    struct gw_regs r = {.cr0 = CR0_PG | 1, .cr3 = m.regs.cr3, .cr4 = CR4_PAE, .pdptes = m.pdptes};
    expect_ok(walk(&r, m.gva, 0), m.want_gpa, 0x1000);
    /* Upper gva bits do not exist outside long mode. */
    expect_ok(walk(&r, m.gva | 0xabcd00000000ull, 0), m.want_gpa, 0x1000);
    uint64_t pdpte_gpa = (m.regs.cr3 & ~0x1full) + 2 * 8ull;
    uint64_t pdpte = sim_get(pdpte_gpa, 8);
    assert_int_equal(m.pdptes[2], pdpte);

    /* Loaded PDPTEs stay in use until the next CR3 load, even if memory changes. */
    sim_put(pdpte_gpa, 8, 0);
    expect_ok(walk(&r, m.gva, 0), m.want_gpa, 0x1000);
    r.pdptes = NULL;    /* a walker that re-reads them sees the change */
    struct gw_result res = walk(&r, m.gva, 0);
    expect_pf(res, m.gva, 0);
    assert_int_equal(res.nr_entries, 1);
    assert_int_equal(res.entry_gpa[0], pdpte_gpa);

    /* Reserved PDPTE bits: 2:1, 8:5, 63:M. */
    uint64_t bad[] = {1ull << 1, 1ull << 2, 1ull << 5, 1ull << 8, 1ull << 36, XD_};
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sim_put(pdpte_gpa, 8, pdpte | bad[i]);
        uint64_t loaded[4] = {0}, missing = 0;
        if (gw_load_pdptes(&ENV, m.regs.cr3, loaded, &missing) != GW_FAULT)
            fail_msg("PDPTE bit %#" PRIx64 " not refused at CR3 load", bad[i]);
        res = walk(&r, m.gva, 0);
        if (res.status != GW_FAULT || res.error_code != (EC_P | EC_RSVD))
            fail_msg("PDPTE bit %#" PRIx64 ": status %d ec %#x", bad[i], res.status,
                     res.error_code);
    }
    /* Ignored PDPTE bits 11:9, and a not-present PDPTE's reserved bits. */
    sim_put(pdpte_gpa, 8, pdpte | 0xe00);
    expect_ok(walk(&r, m.gva, 0), m.want_gpa, 0x1000);
    sim_put(pdpte_gpa, 8, pdpte);
    sim_put((m.regs.cr3 & ~0x1full), 8, 0x1e6);     /* PDPTE 0: not present, junk */
    uint64_t loaded[4], missing = 0;
    assert_int_equal(gw_load_pdptes(&ENV, m.regs.cr3, loaded, &missing), GW_OK);
    assert_int_equal(loaded[0], 0x1e6);
    /* The PDPT with no frame behind it. */
    assert_int_equal(gw_load_pdptes(&ENV, 0x7000020, loaded, &missing), GW_GPA_MISSING);
    assert_int_equal(missing, 0x7000020);

    /* PDE/PTE: bits 62:M reserved in PAE (not just 51:M), 63 with NXE = 0. */
    r.pdptes = m.pdptes;
    sim_put(m.ent_gpa[1], 8, m.ent_base[1] | (1ull << 55));
    expect_pf(walk(&r, m.gva, GW_ACC_WRITE), m.gva, EC_P | EC_RSVD | EC_W);
    sim_put(m.ent_gpa[1], 8, m.ent_base[1] | (1ull << 36));
    expect_pf(walk(&r, m.gva, 0), m.gva, EC_P | EC_RSVD);
    sim_put(m.ent_gpa[1], 8, m.ent_base[1] | (1ull << 35) | XD_);
    expect_pf(walk(&r, m.gva, 0), m.gva, EC_P | EC_RSVD);
    r.efer = EFER_NXE;
    expect_ok(walk(&r, m.gva, 0), m.want_gpa | (1ull << 35), 0x1000);
    expect_pf(walk(&r, m.gva, GW_ACC_FETCH), m.gva, EC_P | EC_ID);
}

static void test_pae_2m_reserved(void **s)
{
    (void)s;
    sim_reset(36, false);
    struct mx m = mx_pae(2);
    struct gw_regs r = {.cr0 = CR0_PG | 1, .cr3 = m.regs.cr3, .cr4 = CR4_PAE, .pdptes = m.pdptes};
    set_all(&m, RW_);
    expect_ok(walk(&r, m.gva, 0), m.want_gpa, 0x200000);
    sim_put(m.ent_gpa[0], 8, m.ent_base[0] | RW_ | (1ull << 16));
    expect_pf(walk(&r, m.gva, 0), m.gva, EC_P | EC_RSVD);
    sim_put(m.ent_gpa[0], 8, m.ent_base[0] | RW_ | (1ull << 12));      /* PAT */
    expect_ok(walk(&r, m.gva, 0), m.want_gpa, 0x200000);
    /* CR4.PSE does not matter with PAE. */
    r.cr4 |= CR4_PSE;
    expect_ok(walk(&r, m.gva, 0), m.want_gpa, 0x200000);
}

/* 32-bit paging: 4-byte entries, PS honoured only with CR4.PSE, PSE-36 high bits. */
static void test_32bit_pse(void **s)
{
    (void)s;
    sim_reset(32, false);
    uint64_t pd = new_table(), pt = new_table();
    uint64_t gva = 0x80412345ull;   /* PDE 0x201, PTE 0x012 */
    struct gw_regs r = regs_32(pd, true);
    /* PDE that is both a 4 MiB page (PSE) and, without PSE, a page-table pointer. */
    sim_put(pd + 0x201 * 4ull, 4, pt | P_ | RW_ | PS_);
    sim_put(pt + 0x12 * 4ull, 4, 0x3000 | P_);
    struct gw_result res = walk(&r, gva, 0);
    expect_ok(res, (pt & 0xffc00000) | (gva & 0x3fffff), 0x400000);
    assert_int_equal(res.entry_size, 4);
    assert_int_equal(res.nr_entries, 1);
    r.cr4 = 0;
    res = walk(&r, gva, 0);
    expect_ok(res, 0x3345, 0x1000);
    assert_int_equal(res.nr_entries, 2);

    /* Neighbouring 4-byte entries are untouched by the A/D update. */
    sim_put(pt + 0x13 * 4ull, 4, 0xffffffff);
    res = walk(&r, gva, GW_ACC_WRITE);
    assert_int_equal(res.status, GW_FAULT);     /* PTE read-only, CR0.WP = 1 */
    sim_put(pt + 0x12 * 4ull, 4, 0x3000 | P_ | RW_);
    res = walk(&r, gva, GW_ACC_WRITE);
    expect_ok(res, 0x3345, 0x1000);
    assert_int_equal(sim_get(pt + 0x12 * 4ull, 4), 0x3000 | P_ | RW_ | A_ | D_);
    assert_int_equal(sim_get(pt + 0x13 * 4ull, 4), 0xffffffff);
    assert_int_equal(sim_get(pt + 0x11 * 4ull, 4), 0);
    /* 32-bit entries have no reserved bits outside 4 MiB PDEs, and no XD. */
    sim_put(pt + 0x12 * 4ull, 4, 0xfffff000 | P_ | RW_ | 0xe00);
    expect_ok(walk(&r, gva, 0), 0xfffff345, 0x1000);
}

/* PSE-36: 4 MiB PDE bits 20:13 are gpa bits 39:32 up to M = min(MAXPHYADDR, 40). */
static void test_32bit_pse36(void **s)
{
    (void)s;
    struct { unsigned maxphy; bool fault; uint64_t pde_hi, gpa_hi; } cases[] = {
        {36, false, 0xfull << 13, 0xfull << 32},     /* bits 16:13 = gpa 35:32 */
        {36, true, 1ull << 17, 0},                   /* bit 17 = gpa 36 > M-1 */
        {36, true, 1ull << 21, 0},
        {40, false, 0xffull << 13, 0xffull << 32},   /* all of 20:13 */
        {40, true, 1ull << 21, 0},                   /* bit 21 always reserved */
        {46, false, 0xffull << 13, 0xffull << 32},   /* M is capped at 40 */
        {46, true, 1ull << 21, 0},
        {32, true, 1ull << 13, 0},                   /* no PSE-36: 21:13 reserved */
        {32, false, 1ull << 12, 0},                  /* PAT, not an address bit */
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sim_reset(cases[i].maxphy, false);
        uint64_t pd = new_table();
        uint64_t gva = 0x80412345ull;
        sim_put(pd + 0x201 * 4ull, 4, 0xb1c00000ull | cases[i].pde_hi | P_ | PS_);
        struct gw_regs r = regs_32(pd, true);
        struct gw_result res = walk(&r, gva, GW_ACC_USER);
        if (cases[i].fault) {
            if (res.status != GW_FAULT || res.error_code != (EC_P | EC_RSVD | EC_U))
                fail_msg("case %u: status %d ec %#x, expected RSVD", i, res.status,
                         res.error_code);
            assert_int_equal(sim_get(pd + 0x201 * 4ull, 4) & A_, 0);
        } else {
            /* U/S clear: a user access faults for rights, after reserved bits passed. */
            expect_pf(res, gva, EC_P | EC_U);
            res = walk(&r, gva, 0);
            expect_ok(res, cases[i].gpa_hi | 0xb1c00000ull | 0x12345, 0x400000);
        }
    }
}

/* A is set on every level, D only on the leaf and only for a write; existing bits kept. */
static void test_accessed_dirty(void **s)
{
    (void)s;
    sim_reset(46, true);
    struct mx m = mx_4level(2);     /* PML4E, PDPTE, 2 MiB PDE */
    set_all(&m, RW_ | US_);
    struct gw_regs r = regs_4level(m.regs.cr3);
    struct gw_result res = walk(&r, GVA4, 0);
    expect_ok(res, m.want_gpa, 0x200000);
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(sim_get(m.ent_gpa[i], 8), m.ent_base[i] | RW_ | US_ | A_);
    assert_false(res.dirty);
    assert_int_equal(n_cmpxchg, 3);
    /* A already set everywhere: a read changes nothing and needs no cmpxchg. */
    n_cmpxchg = 0;
    expect_ok(walk(&r, GVA4, 0), m.want_gpa, 0x200000);
    assert_int_equal(n_cmpxchg, 0);
    res = walk(&r, GVA4, GW_ACC_WRITE);
    assert_true(res.dirty);
    assert_int_equal(n_cmpxchg, 1);
    for (unsigned i = 0; i < 2; i++)
        assert_int_equal(sim_get(m.ent_gpa[i], 8) & D_, 0);
    assert_int_equal(sim_get(m.ent_gpa[2], 8), m.ent_base[2] | RW_ | US_ | A_ | D_);
    assert_int_equal(res.entry[2], m.ent_base[2] | RW_ | US_ | A_ | D_);
    /* A fetch and a read never set D. */
    sim_put(m.ent_gpa[2], 8, m.ent_base[2] | RW_ | US_);
    res = walk(&r, GVA4, GW_ACC_FETCH | GW_ACC_USER);
    expect_ok(res, m.want_gpa, 0x200000);
    assert_int_equal(sim_get(m.ent_gpa[2], 8), m.ent_base[2] | RW_ | US_ | A_);
}

/* A table or PDPT with no frame: reported with its gpa; the A/D write to a read-only frame too. */
static void test_gpa_missing(void **s)
{
    (void)s;
    sim_reset(46, true);
    struct mx m = mx_4level(1);
    set_all(&m, RW_ | US_);
    struct gw_regs r = regs_4level(m.regs.cr3);
    for (unsigned lvl = 0; lvl < 4; lvl++) {
        sim_reset(46, true);
        m = mx_4level(1);
        set_all(&m, RW_ | US_);
        drop_frame(m.ent_gpa[lvl]);
        r.cr3 = m.regs.cr3;
        struct gw_result res = walk(&r, GVA4, 0);
        assert_int_equal(res.status, GW_GPA_MISSING);
        assert_int_equal(res.missing_gpa, m.ent_gpa[lvl]);
        assert_false(res.missing_write);
    }
    /* The A/D update hits a frame the guest may only read. */
    sim_reset(46, true);
    m = mx_4level(1);
    set_all(&m, RW_ | US_ | A_);
    frame_of(m.ent_gpa[3])->readonly = true;
    r.cr3 = m.regs.cr3;
    expect_ok(walk(&r, GVA4, 0), m.want_gpa, 0x1000);
    struct gw_result res = walk(&r, GVA4, GW_ACC_WRITE);
    assert_int_equal(res.status, GW_GPA_MISSING);
    assert_int_equal(res.missing_gpa, m.ent_gpa[3]);
    assert_true(res.missing_write);

    /* 32-bit paging: the page table's frame is missing. */
    sim_reset(36, false);
    uint64_t pd = new_table();
    sim_put(pd + 4 * 4ull, 4, 0x9000000 | P_ | RW_);
    struct gw_regs r32 = regs_32(pd, false);
    res = walk(&r32, (4u << 22) | (7u << 12), 0);
    assert_int_equal(res.status, GW_GPA_MISSING);
    assert_int_equal(res.missing_gpa, 0x9000000 + 7 * 4ull);
}

/* Another CPU changes an entry between our read and our A/D update: walk again. */
static void test_concurrent_change(void **s)
{
    (void)s;
    sim_reset(46, true);
    struct mx m = mx_4level(1);
    set_all(&m, RW_ | US_);
    struct gw_regs r = regs_4level(m.regs.cr3);
    /* At the first cmpxchg (the PML4E's A bit) the racer clears the PML4E: the
     * restarted walk must see it and fault. */
    race_at = 1;
    race_value = 0;
    struct gw_result res = walk(&r, GVA4, GW_ACC_WRITE);
    expect_pf(res, GVA4, EC_W);
    /* The racer changes the leaf to another frame: the walk returns the new one. */
    sim_reset(46, true);
    m = mx_4level(1);
    set_all(&m, RW_ | US_);
    r.cr3 = m.regs.cr3;
    race_at = 4;        /* the PTE's cmpxchg */
    race_value = 0x4242000ull | P_ | RW_;
    res = walk(&r, GVA4, GW_ACC_WRITE);
    expect_ok(res, 0x4242000ull | 0x123, 0x1000);
    assert_int_equal(sim_get(m.ent_gpa[3], 8), 0x4242000ull | P_ | RW_ | A_ | D_);
    /* Forever changing: give up with RETRY rather than loop. */
    race_at = 0;
    race_forever = true;
    set_all(&m, RW_ | US_);
    res = walk(&r, GVA4, 0);
    assert_int_equal(res.status, GW_RETRY);
    assert_true(n_cmpxchg > GW_MAX_RESTARTS);
}

/* CR0.WP = 0 lets supervisor writes through read-only pages; user writes never. */
static void test_wp_and_smap_examples(void **s)
{
    (void)s;
    sim_reset(46, true);
    struct mx m = mx_4level(1);
    set_all(&m, US_);   /* user page, read-only everywhere */
    struct gw_regs r = regs_4level(m.regs.cr3);
    expect_pf(walk(&r, GVA4, GW_ACC_WRITE), GVA4, EC_P | EC_W);
    expect_pf(walk(&r, GVA4, GW_ACC_WRITE | GW_ACC_USER), GVA4, EC_P | EC_W | EC_U);
    r.cr0 &= ~CR0_WP;
    struct gw_result res = walk(&r, GVA4, GW_ACC_WRITE);
    expect_ok(res, m.want_gpa, 0x1000);
    assert_false(res.writable);         /* the page is still read-only for the shadow */
    assert_true(res.dirty);
    expect_pf(walk(&r, GVA4, GW_ACC_WRITE | GW_ACC_USER), GVA4, EC_P | EC_W | EC_U);
    /* SMAP: supervisor data access to a user page needs AC and an explicit access. */
    r.cr4 |= CR4_SMAP;
    expect_pf(walk(&r, GVA4, 0), GVA4, EC_P);
    expect_ok(walk(&r, GVA4, GW_ACC_AC), m.want_gpa, 0x1000);
    expect_pf(walk(&r, GVA4, GW_ACC_AC | GW_ACC_IMPLICIT), GVA4, EC_P);
    /* SMAP does not restrict fetches; SMEP does. */
    expect_ok(walk(&r, GVA4, GW_ACC_FETCH), m.want_gpa, 0x1000);
    r.cr4 |= CR4_SMEP;
    expect_pf(walk(&r, GVA4, GW_ACC_FETCH), GVA4, EC_P | EC_ID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_modes_selected),
        cmocka_unit_test(test_paging_off),
        cmocka_unit_test(test_entries_reported_4level),
        cmocka_unit_test(test_upper_half_and_noncanonical),
        cmocka_unit_test(test_not_present_each_level),
        cmocka_unit_test(test_reserved_4level),
        cmocka_unit_test(test_1g_unsupported),
        cmocka_unit_test(test_pml4e_bit8_vendor),
        cmocka_unit_test(test_pae_pdptes),
        cmocka_unit_test(test_pae_2m_reserved),
        cmocka_unit_test(test_32bit_pse),
        cmocka_unit_test(test_32bit_pse36),
        cmocka_unit_test(test_accessed_dirty),
        cmocka_unit_test(test_gpa_missing),
        cmocka_unit_test(test_concurrent_change),
        cmocka_unit_test(test_wp_and_smap_examples),
        cmocka_unit_test(test_matrix_32_4k),
        cmocka_unit_test(test_matrix_32_4m),
        cmocka_unit_test(test_matrix_pae_4k),
        cmocka_unit_test(test_matrix_pae_2m),
        cmocka_unit_test(test_matrix_4level_4k),
        cmocka_unit_test(test_matrix_4level_2m),
        cmocka_unit_test(test_matrix_4level_1g),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
