/* SPDX-License-Identifier: MIT */
/* address: effective addresses, segmentation and canonical checks, and guest-memory access through the vmm's translations. */
#include <string.h>

#include "emu_internal.h"

#define PAGE_SIZE 0x1000ull
#define MAX_PIECES 2          /* an access of at most 32 bytes touches at most two pages */

int emu_raise(struct emu_ctx *ctx, unsigned vector, bool has_ec, uint32_t ec)
{
    ctx->exc.vector = (uint8_t)vector;
    ctx->exc.has_error_code = has_ec;
    ctx->exc.error_code = has_ec ? ec : 0;
    ctx->exc.cr2 = 0;
    return EMU_EXCEPTION;
}

uint64_t emu_addr_mask(unsigned addrsize)
{
    return addrsize >= 8 ? ~0ull : (1ull << (addrsize * 8)) - 1;
}

struct emu_addr emu_ea(const struct emu_ctx *ctx, const struct emu_insn *insn,
                       const struct emu_opnd *o)
{
    uint64_t ea = (uint64_t)o->disp;
    if (o->base == EMU_BASE_RIP)
        ea += ctx->regs.rip + insn->len;
    else if (o->base >= 0)
        ea += ctx->regs.gpr[o->base];
    if (o->index >= 0)
        ea += ctx->regs.gpr[o->index] * o->scale;
    return (struct emu_addr){ .seg = o->seg, .ea = ea & emu_addr_mask(insn->addrsize) };
}

static bool canonical(uint64_t la)
{
    return (uint64_t)((int64_t)(la << 16) >> 16) == la;
}

/* Segment (and in 64-bit mode canonical) checks of [ea, ea+size) for acc; the linear address. */
int emu_linear(struct emu_ctx *ctx, struct emu_addr a, unsigned size, enum emu_access acc,
               uint64_t *la)
{
    const struct emu_regs *r = &ctx->regs;
    const struct emu_seg *s = &r->seg[a.seg];
    unsigned vec = a.seg == EMU_SS ? EMU_VEC_SS : EMU_VEC_GP;
    enum emu_mode mode = emu_mode(r);
    uint64_t last = a.ea + size - 1;

    if (mode == EMU_MODE_LONG64) {
        *la = a.ea + ((a.seg == EMU_FS || a.seg == EMU_GS) ? s->base : 0);
        if (!canonical(*la) || !canonical(*la + size - 1))
            return emu_raise(ctx, vec, true, 0);
        return EMU_OK;
    }
    if (mode != EMU_MODE_REAL && mode != EMU_MODE_VM86) {
        if ((s->attr & EMU_SEG_UNUSABLE) || !(s->attr & EMU_SEG_P) || !(s->attr & EMU_SEG_S))
            return emu_raise(ctx, vec, true, 0);
        bool code = (s->attr & EMU_SEG_TYPE_CODE) != 0;
        if (acc == EMU_ACC_WRITE && (code || !(s->attr & EMU_SEG_TYPE_WR)))
            return emu_raise(ctx, vec, true, 0);
        if (acc == EMU_ACC_READ && code && !(s->attr & EMU_SEG_TYPE_WR))
            return emu_raise(ctx, vec, true, 0);
    }
    if (!(s->attr & EMU_SEG_TYPE_CODE) && (s->attr & EMU_SEG_TYPE_EXPDN) &&
        mode != EMU_MODE_REAL && mode != EMU_MODE_VM86) {
        uint64_t upper = (s->attr & EMU_SEG_DB) ? 0xffffffffull : 0xffffull;
        if (a.ea <= s->limit || last > upper)
            return emu_raise(ctx, vec, true, 0);
    } else if (last > s->limit) {
        return emu_raise(ctx, vec, true, 0);
    }
    *la = (s->base + a.ea) & 0xffffffffull;
    return EMU_OK;
}

struct piece {
    uint64_t la;
    unsigned off, len;
    struct emu_xlate x;
};

/* Translate every page piece of [la, la+size) before touching any (a fault leaves no change). */
static int translate_all(struct emu_ctx *ctx, uint64_t la, unsigned size, enum emu_access acc,
                         bool user, struct piece *p, unsigned *np)
{
    unsigned n = 0, off = 0;
    while (off < size) {
        uint64_t cur = la + off;
        unsigned len = (unsigned)(PAGE_SIZE - (cur & (PAGE_SIZE - 1)));
        if (len > size - off)
            len = size - off;
        if (n == MAX_PIECES)
            return emu_raise(ctx, EMU_VEC_GP, true, 0);   /* not reached: callers pass <= 32 bytes */
        p[n] = (struct piece){ .la = cur, .off = off, .len = len };
        memset(&p[n].x, 0, sizeof(p[n].x));
        int rc = ctx->ops->translate(ctx, cur, acc, user, &p[n].x, &ctx->exc);
        if (rc != EMU_OK)
            return rc == EMU_EXCEPTION ? EMU_EXCEPTION : EMU_ABORT;
        n++;
        off += len;
    }
    *np = n;
    return EMU_OK;
}

/* The largest MMIO width (8, 4, 2, 1) that fits len. */
static unsigned mmio_width(unsigned len)
{
    return len >= 8 ? 8 : len >= 4 ? 4 : len >= 2 ? 2 : 1;
}

static int mmio_read(struct emu_ctx *ctx, uint64_t gpa, uint8_t *buf, unsigned len)
{
    while (len) {
        unsigned w = mmio_width(len);
        uint64_t v = 0;
        int rc = ctx->ops->mmio_read(ctx, gpa, w, &v);
        if (rc != EMU_OK)
            return rc == EMU_EXCEPTION ? EMU_EXCEPTION : EMU_ABORT;
        for (unsigned i = 0; i < w; i++)
            buf[i] = (uint8_t)(v >> (8 * i));
        buf += w;
        gpa += w;
        len -= w;
    }
    return EMU_OK;
}

static int mmio_write(struct emu_ctx *ctx, uint64_t gpa, const uint8_t *buf, unsigned len)
{
    while (len) {
        unsigned w = mmio_width(len);
        uint64_t v = 0;
        for (unsigned i = 0; i < w; i++)
            v |= (uint64_t)buf[i] << (8 * i);
        int rc = ctx->ops->mmio_write(ctx, gpa, w, v);
        if (rc != EMU_OK)
            return rc == EMU_EXCEPTION ? EMU_EXCEPTION : EMU_ABORT;
        buf += w;
        gpa += w;
        len -= w;
    }
    return EMU_OK;
}

static int read_pieces(struct emu_ctx *ctx, const struct piece *p, unsigned n, uint8_t *buf)
{
    for (unsigned i = 0; i < n; i++) {
        if (p[i].x.hva) {
            memcpy(buf + p[i].off, p[i].x.hva, p[i].len);
        } else {
            int rc = mmio_read(ctx, p[i].x.gpa, buf + p[i].off, p[i].len);
            if (rc != EMU_OK)
                return rc;
        }
    }
    return EMU_OK;
}

static int write_pieces(struct emu_ctx *ctx, const struct piece *p, unsigned n,
                        const uint8_t *buf)
{
    for (unsigned i = 0; i < n; i++) {
        if (p[i].x.hva) {
            memcpy(p[i].x.hva, buf + p[i].off, p[i].len);
        } else {
            int rc = mmio_write(ctx, p[i].x.gpa, buf + p[i].off, p[i].len);
            if (rc != EMU_OK)
                return rc;
        }
    }
    return EMU_OK;
}

int emu_read_la(struct emu_ctx *ctx, uint64_t la, void *buf, unsigned size, enum emu_access acc,
                bool user)
{
    struct piece p[MAX_PIECES];
    unsigned n;
    int rc = translate_all(ctx, la, size, acc, user, p, &n);
    return rc != EMU_OK ? rc : read_pieces(ctx, p, n, buf);
}

int emu_write_la(struct emu_ctx *ctx, uint64_t la, const void *buf, unsigned size, bool user)
{
    struct piece p[MAX_PIECES];
    unsigned n;
    int rc = translate_all(ctx, la, size, EMU_ACC_WRITE, user, p, &n);
    return rc != EMU_OK ? rc : write_pieces(ctx, p, n, buf);
}

static uint64_t load_le(const uint8_t *b, unsigned size)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static void store_le(uint8_t *b, unsigned size, uint64_t v)
{
    for (unsigned i = 0; i < size; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

int emu_read(struct emu_ctx *ctx, struct emu_addr a, unsigned size, uint64_t *val)
{
    uint8_t b[8] = { 0 };
    uint64_t la;
    int rc = emu_linear(ctx, a, size, EMU_ACC_READ, &la);
    if (rc == EMU_OK)
        rc = emu_read_la(ctx, la, b, size, EMU_ACC_READ, ctx->regs.cpl == 3);
    if (rc == EMU_OK)
        *val = load_le(b, size);
    return rc;
}

int emu_write(struct emu_ctx *ctx, struct emu_addr a, unsigned size, uint64_t val)
{
    uint8_t b[8] = { 0 };
    uint64_t la;
    int rc = emu_linear(ctx, a, size, EMU_ACC_WRITE, &la);
    if (rc != EMU_OK)
        return rc;
    store_le(b, size, val);
    return emu_write_la(ctx, la, b, size, ctx->regs.cpl == 3);
}

/* A locked update of naturally aligned RAM is a compare-and-swap loop, so other vCPUs running
 * meanwhile see it atomic; unaligned or MMIO ones are read, compute, write. */
/* p is written by the compare-and-swap. */
static bool cas(uint8_t *p, unsigned size, uint64_t *expected, uint64_t desired) // NOLINT(readability-non-const-parameter)
{
    switch (size) {
    case 1: { uint8_t e = (uint8_t)*expected;
        bool ok = __atomic_compare_exchange_n(p, &e, (uint8_t)desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
        *expected = e; return ok; }
    case 2: { uint16_t e = (uint16_t)*expected;
        bool ok = __atomic_compare_exchange_n((uint16_t *)(void *)p, &e, (uint16_t)desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
        *expected = e; return ok; }
    case 4: { uint32_t e = (uint32_t)*expected;
        bool ok = __atomic_compare_exchange_n((uint32_t *)(void *)p, &e, (uint32_t)desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
        *expected = e; return ok; }
    default: {
        return __atomic_compare_exchange_n((uint64_t *)(void *)p, expected, desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); }
    }
}

int emu_rmw(struct emu_ctx *ctx, struct emu_addr a, unsigned size, bool locked,
            emu_rmw_fn fn, void *arg, uint64_t *old)
{
    struct piece p[MAX_PIECES];
    unsigned n;
    uint64_t la, nv = 0;
    uint8_t b[8] = { 0 };
    int rc = emu_linear(ctx, a, size, EMU_ACC_WRITE, &la);
    if (rc == EMU_OK)
        rc = translate_all(ctx, la, size, EMU_ACC_WRITE, ctx->regs.cpl == 3, p, &n);
    if (rc != EMU_OK)
        return rc;
    if (locked && n == 1 && p[0].x.hva && ((uintptr_t)p[0].x.hva & (size - 1)) == 0) {
        uint64_t cur = load_le(p[0].x.hva, size);   /* a stale value only costs one retry */
        for (;;) {
            uint64_t cand = cur;
            if (!fn(arg, cur, &nv))
                break;    /* nothing to write (a failed cmpxchg); cur is what was compared */
            if (cas(p[0].x.hva, size, &cand, nv))
                break;
            cur = cand;
        }
        *old = cur;
        return EMU_OK;
    }
    if ((rc = read_pieces(ctx, p, n, b)) != EMU_OK)
        return rc;
    *old = load_le(b, size);
    if (!fn(arg, *old, &nv))
        return EMU_OK;
    store_le(b, size, nv);
    return write_pieces(ctx, p, n, b);
}

/* Checks [a, a+size) for acc — segmentation and the vmm's translation — without touching it. */
int emu_probe(struct emu_ctx *ctx, struct emu_addr a, unsigned size, enum emu_access acc)
{
    struct piece p[MAX_PIECES];
    unsigned n;
    uint64_t la;
    int rc = emu_linear(ctx, a, size, acc, &la);
    return rc != EMU_OK ? rc : translate_all(ctx, la, size, acc, ctx->regs.cpl == 3, p, &n);
}
