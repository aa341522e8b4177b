/* SPDX-License-Identifier: MIT */
/* fuzz_emulate: random instruction bytes and register files through decode + emulate in every CPU mode; must never crash, hang or break the API's promises. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmm/emulate.h"
#include "../common/xorshift.h"

/*
 * Guest memory: 16 pages of RAM at random linear addresses' low bits (la mod 64 KiB), some
 * pages MMIO, some faulting, chosen per instruction; callbacks occasionally fail. What is
 * checked after every instruction:
 *   - the status is EMU_OK, EMU_EXCEPTION or EMU_ABORT;
 *   - an exception is one the emulator may raise, with an error code exactly when the vector has one;
 *   - EMU_EXCEPTION and EMU_ABORT leave RIP where it was;
 *   - every MMIO and port access has a legal width and no MMIO access crosses a page;
 *   - vector registers are never marked written without the vector state present.
 * ASan/UBSan (the host build) catch everything else.
 */

#define RAM_PAGES 16
static uint8_t ram[RAM_PAGES * 4096];
static uint8_t page_kind[RAM_PAGES];   /* 0 RAM, 1 MMIO, 2 fault */
static unsigned abort_one_in;
static uint64_t rng_state;
static unsigned long violations;

static uint64_t rnd(void)
{
    return xorshift64s(&rng_state);
}

static void violation(const char *what, const uint8_t *bytes)
{
    violations++;
    if (violations <= 20) {
        printf("FAIL: %s; bytes", what);
        for (unsigned i = 0; i < 15; i++)
            printf(" %02x", bytes[i]);
        printf("\n");
    }
}

static const uint8_t *cur_bytes;

static int f_translate(struct emu_ctx *ctx, uint64_t la, enum emu_access acc, bool user,
                       struct emu_xlate *out, struct emu_exception *exc)
{
    (void)ctx;
    unsigned pg = (unsigned)((la >> 12) % RAM_PAGES);
    if (abort_one_in && rnd() % abort_one_in == 0)
        return EMU_ABORT;
    if (page_kind[pg] == 2 && acc != EMU_ACC_FETCH) {
        exc->vector = EMU_VEC_PF;
        exc->has_error_code = true;
        exc->error_code = (acc == EMU_ACC_WRITE ? 2u : 0u) | (user ? 4u : 0u);
        exc->cr2 = la;
        return EMU_EXCEPTION;
    }
    out->gpa = la;
    out->hva = (page_kind[pg] == 1 && acc != EMU_ACC_FETCH) ? NULL : ram + (size_t)pg * 4096 + (la & 0xfff);
    return EMU_OK;
}

static int f_mmio_read(struct emu_ctx *ctx, uint64_t gpa, unsigned width, uint64_t *val)
{
    (void)ctx;
    if ((width != 1 && width != 2 && width != 4 && width != 8) || ((gpa & 0xfff) + width > 4096))
        violation("mmio read width or page crossing", cur_bytes);
    *val = rnd();
    return (abort_one_in && rnd() % abort_one_in == 0) ? EMU_ABORT : EMU_OK;
}

static int f_mmio_write(struct emu_ctx *ctx, uint64_t gpa, unsigned width, uint64_t val)
{
    (void)ctx;
    (void)val;
    if ((width != 1 && width != 2 && width != 4 && width != 8) || ((gpa & 0xfff) + width > 4096))
        violation("mmio write width or page crossing", cur_bytes);
    return EMU_OK;
}

static int f_pio_in(struct emu_ctx *ctx, uint16_t port, unsigned width, uint32_t *val)
{
    (void)ctx;
    (void)port;
    if (width != 1 && width != 2 && width != 4)
        violation("port width", cur_bytes);
    *val = (uint32_t)rnd();
    return EMU_OK;
}

static int f_pio_out(struct emu_ctx *ctx, uint16_t port, unsigned width, uint32_t val)
{
    (void)ctx;
    (void)port;
    (void)val;
    if (width != 1 && width != 2 && width != 4)
        violation("port width", cur_bytes);
    return EMU_OK;
}

static const struct emu_ops ops = { f_translate, f_mmio_read, f_mmio_write, f_pio_in, f_pio_out };

/* Small values make addresses land near each other; large ones exercise canonical checks. */
static uint64_t rnd_value(void)
{
    switch (rnd() % 4) {
    case 0: return rnd() % 64;
    case 1: return rnd() & 0xffff;
    case 2: return (uint64_t)(int64_t)(int32_t)rnd();
    default: return rnd();
    }
}

static uint32_t rnd_attr(bool code)
{
    uint32_t a = (uint32_t)(rnd() & 0xfff);
    if (rnd() % 4) {
        a |= EMU_SEG_P | EMU_SEG_S;
        a = code ? (a | EMU_SEG_TYPE_CODE) : (a & ~EMU_SEG_TYPE_CODE);
    }
    if (rnd() % 16 == 0)
        a |= EMU_SEG_UNUSABLE;
    return a;
}

/* The vmm's lazy vector-state load: XCR0 with SSE and AVX (mostly), or a failure. */
static int f_load_vec(struct emu_ctx *c)
{
    if (abort_one_in && rnd() % abort_one_in == 0)
        return EMU_ABORT;
    c->regs.xcr0 = rnd() % 4 ? 7 : rnd() & 7;
    c->regs.vec_valid = true;
    return EMU_OK;
}

static void random_ctx(struct emu_ctx *c, uint8_t *bytes)
{
    static const unsigned modes = 6;
    memset(c, 0, sizeof(*c));
    c->ops = &ops;
    c->rep_budget = (uint32_t)(rnd() % 3 == 0 ? 0 : 1 + rnd() % 64);
    struct emu_regs *r = &c->regs;
    for (unsigned i = 0; i < EMU_NGPR; i++)
        r->gpr[i] = rnd_value();
    r->rflags = (rnd() & (EMU_FL_ARITH | EMU_FL_DF | EMU_FL_IOPL | EMU_FL_VM)) | EMU_FL_FIXED1;
    for (unsigned s = 0; s < EMU_NSREG; s++)
        r->seg[s] = (struct emu_seg){ .sel = (uint16_t)rnd(), .attr = rnd_attr(s == EMU_CS),
                                      .limit = rnd() % 2 ? 0xffffffffu : (uint32_t)rnd_value(),
                                      .base = rnd() % 2 ? 0 : rnd_value() };
    r->tr = (struct emu_seg){ .attr = (uint32_t)(rnd() % 16) | EMU_SEG_P, .limit = (uint32_t)rnd_value(), .base = rnd_value() };
    r->ldtr = (struct emu_seg){ .attr = rnd_attr(false), .limit = (uint32_t)rnd_value(), .base = rnd_value() };
    r->gdtr = (struct emu_dtr){ rnd_value(), (uint16_t)rnd() };
    r->idtr = (struct emu_dtr){ rnd_value(), (uint16_t)rnd() };
    r->cpl = (uint8_t)(rnd() % 4);
    r->cr0 = rnd() % 8 ? 0x80000011ull : rnd();
    r->cr4 = rnd() % 2 ? EMU_CR4_PAE : rnd() & 0xffffff;
    /* Vector state: present, loaded lazily by a callback (that sometimes gives up), or absent. */
    if (rnd() % 2)
        r->cr4 |= EMU_CR4_OSFXSR | EMU_CR4_OSXSAVE;
    switch (rnd() % 3) {
    case 0:
        r->vec_valid = true;
        r->xcr0 = rnd() % 4 ? 7 : rnd() & 7;
        for (unsigned v = 0; v < 16; v++)
            for (unsigned i = 0; i < 32; i++)
                r->vec[v].b[i] = (uint8_t)rnd();
        break;
    case 1:
        c->load_vec = f_load_vec;
        break;
    default:
        break;
    }
    r->efer = rnd() % 2 ? (EMU_EFER_LME | EMU_EFER_LMA) : rnd() & 0xfff;
    switch (rnd() % modes) {
    case 0: r->cr0 &= ~EMU_CR0_PE; break;                                  /* real */
    case 1: r->efer &= ~EMU_EFER_LMA; r->seg[EMU_CS].attr &= ~EMU_SEG_L; break;  /* legacy prot */
    case 2: r->efer |= EMU_EFER_LMA; r->cr0 |= EMU_CR0_PE | EMU_CR0_PG;
            r->seg[EMU_CS].attr |= EMU_SEG_L; r->seg[EMU_CS].attr &= ~EMU_SEG_DB; break; /* 64-bit */
    case 3: r->efer |= EMU_EFER_LMA; r->cr0 |= EMU_CR0_PE | EMU_CR0_PG;
            r->seg[EMU_CS].attr &= ~EMU_SEG_L; break;                       /* compat */
    case 4: r->efer &= ~EMU_EFER_LMA; r->cr0 |= EMU_CR0_PE; r->rflags |= EMU_FL_VM; break; /* vm86 */
    default: break;                                                         /* anything */
    }
    r->rip = rnd() % 2 ? rnd() % 0x10000 : rnd_value();
    /* The instruction bytes at CS:RIP (wherever that lands in the 16 pages), sometimes
     * prefixed with typical prefixes to reach deeper forms. */
    for (unsigned i = 0; i < 16; i++)
        bytes[i] = (uint8_t)rnd();
    if (rnd() % 2) {
        static const uint8_t pfx[] = { 0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x48, 0x41, 0x0f,
                                       0xc5, 0xc4, 0xcf, 0xf7, 0xd3 };
        unsigned n = (unsigned)(rnd() % 4);
        for (unsigned i = 0; i < n; i++)
            bytes[i] = pfx[rnd() % sizeof(pfx)];
    }
    for (unsigned p = 0; p < RAM_PAGES; p++) {
        unsigned k = (unsigned)(rnd() % 8);
        page_kind[p] = k == 0 ? 1 : k == 1 ? 2 : 0;
    }
    abort_one_in = rnd() % 8 == 0 ? 16 : 0;
}

static bool vector_has_ec(unsigned v)
{
    return v == 8 || (v >= 10 && v <= 14) || v == 17;
}

int main(int argc, char **argv)
{
    uint64_t seed = 0xf022e1a7e5eedull;
    unsigned long count = 200000, seconds = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--seed"))
            seed = strtoull(argv[i + 1], NULL, 0);
        else if (!strcmp(argv[i], "--count"))
            count = strtoul(argv[i + 1], NULL, 0);
        else if (!strcmp(argv[i], "--seconds"))
            seconds = strtoul(argv[i + 1], NULL, 0);
    }
    rng_state = seed ? seed : 1;
    printf("fuzz_emulate: seed 0x%" PRIx64 ", %lu instructions%s\n", seed, count,
           seconds ? " (or the time limit)" : "");
    time_t start = time(NULL);
    unsigned long n, st[3] = { 0, 0, 0 }, ud = 0;
    for (n = 0; n < count; n++) {
        struct emu_ctx c;
        uint8_t bytes[16];
        if (seconds && (n & 0xfff) == 0 && (unsigned long)(time(NULL) - start) >= seconds)
            break;
        random_ctx(&c, bytes);
        cur_bytes = bytes;
        /* place the bytes at the instruction's linear address (mod the 16 pages) */
        uint64_t la = c.regs.rip + ((c.regs.efer & EMU_EFER_LMA) && (c.regs.seg[EMU_CS].attr & EMU_SEG_L) ? 0 : c.regs.seg[EMU_CS].base);
        for (unsigned i = 0; i < 16; i++) {
            uint64_t a = la + i;
            ram[((a >> 12) % RAM_PAGES) * 4096 + (a & 0xfff)] = bytes[i];
        }
        uint64_t rip = c.regs.rip;
        int rc = emulate_one(&c);
        if (rc < EMU_OK || rc > EMU_ABORT) {
            violation("status out of range", bytes);
            continue;
        }
        st[rc]++;
        if (rc == EMU_EXCEPTION) {
            unsigned v = c.exc.vector;
            if (v != EMU_VEC_UD && v != EMU_VEC_GP && v != EMU_VEC_SS && v != EMU_VEC_NP &&
                v != EMU_VEC_PF && v != EMU_VEC_DE && v != EMU_VEC_NM)
                violation("unexpected vector", bytes);
            if (c.exc.has_error_code != vector_has_ec(v))
                violation("error code presence", bytes);
            ud += v == EMU_VEC_UD;
        }
        if (rc != EMU_OK && c.regs.rip != rip)
            violation("RIP moved on a fault or abort", bytes);
        if (c.regs.vec_dirty && !c.regs.vec_valid)
            violation("vector registers written without vector state", bytes);
    }
    printf("fuzz_emulate: %lu instructions: %lu emulated, %lu exceptions (%lu #UD), %lu aborted\n",
           n, st[0], st[1], ud, st[2]);
    printf("%s: fuzz_emulate (%lu violations)\n", violations ? "FAIL" : "PASS", violations);
    printf("SUMMARY: 1 tests, %d failures\n", violations ? 1 : 0);
    return violations ? 1 : 0;
}
