/* SPDX-License-Identifier: MIT */
/* test_emulate_modes.c: the emulator's error paths and non-64-bit modes, by hand — faults mid-rep, canonical and segment-limit checks, #UD cases, port I/O, MMIO splitting, and the real→protected→long transitions. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/emulate.h"

/* Guest memory: linear = guest-physical below RAM_SIZE (paging is the vmm's business); a
 * "hole" page range faults with #PF; MMIO at [MMIO_BASE, MMIO_BASE + 2 pages). */
#define RAM_SIZE   0x200000u
#define MMIO_BASE  0xfee00000ull
#define MMIO_SIZE  0x2000u

static uint8_t ram[RAM_SIZE];
static uint8_t mmio[MMIO_SIZE];
static uint64_t hole_lo, hole_hi;
static struct { uint64_t gpa; uint64_t val; unsigned width; bool write; } mlog[64];
static unsigned nmlog;
static bool mmio_abort;
static struct { unsigned width; uint32_t val; uint16_t port; bool out; } plog[64];
static unsigned nplog;

static int t_translate(struct emu_ctx *ctx, uint64_t la, enum emu_access acc, bool user,
                       struct emu_xlate *out, struct emu_exception *exc)
{
    (void)ctx;
    if (la >= hole_lo && la < hole_hi)
        goto fault;
    if (la < RAM_SIZE) {
        out->gpa = la;
        out->hva = ram + la;
        return EMU_OK;
    }
    if (la >= MMIO_BASE && la < MMIO_BASE + MMIO_SIZE && acc != EMU_ACC_FETCH) {
        out->gpa = la;
        out->hva = NULL;
        return EMU_OK;
    }
fault:
    exc->vector = EMU_VEC_PF;
    exc->has_error_code = true;
    exc->error_code = (acc == EMU_ACC_WRITE ? 2u : 0u) | (user ? 4u : 0u) | (acc == EMU_ACC_FETCH ? 16u : 0u);
    exc->cr2 = la;
    return EMU_EXCEPTION;
}

static int t_mmio_read(struct emu_ctx *ctx, uint64_t gpa, unsigned width, uint64_t *val)
{
    (void)ctx;
    if (mmio_abort)
        return EMU_ABORT;
    *val = 0;
    memcpy(val, mmio + (gpa - MMIO_BASE), width);
    if (nmlog < 64)
        mlog[nmlog++] = (typeof(mlog[0])){ gpa, *val, width, false };
    return EMU_OK;
}

static int t_mmio_write(struct emu_ctx *ctx, uint64_t gpa, unsigned width, uint64_t val)
{
    (void)ctx;
    if (mmio_abort)
        return EMU_ABORT;
    memcpy(mmio + (gpa - MMIO_BASE), &val, width);
    if (nmlog < 64)
        mlog[nmlog++] = (typeof(mlog[0])){ gpa, val, width, true };
    return EMU_OK;
}

static int t_pio_in(struct emu_ctx *ctx, uint16_t port, unsigned width, uint32_t *val)
{
    (void)ctx;
    *val = (0xa0b0c0d0u + nplog) & (width == 4 ? ~0u : (1u << (8 * width)) - 1);
    if (nplog < 64)
        plog[nplog++] = (typeof(plog[0])){ width, *val, port, false };
    return EMU_OK;
}

static int t_pio_out(struct emu_ctx *ctx, uint16_t port, unsigned width, uint32_t val)
{
    (void)ctx;
    if (nplog < 64)
        plog[nplog++] = (typeof(plog[0])){ width, val, port, true };
    return EMU_OK;
}

static const struct emu_ops ops = { t_translate, t_mmio_read, t_mmio_write, t_pio_in, t_pio_out };

#define CODE 0x1000u   /* instructions go here (linear) */

static const uint32_t DATA32 = EMU_SEG_P | EMU_SEG_S | EMU_SEG_TYPE_WR | 1 | EMU_SEG_DB | EMU_SEG_G;
static const uint32_t CODE32 = EMU_SEG_P | EMU_SEG_S | EMU_SEG_TYPE_CODE | EMU_SEG_TYPE_WR | 1 | EMU_SEG_DB | EMU_SEG_G;
static const uint32_t CODE64 = EMU_SEG_P | EMU_SEG_S | EMU_SEG_TYPE_CODE | EMU_SEG_TYPE_WR | 1 | EMU_SEG_L | EMU_SEG_G;

static void reset(struct emu_ctx *c)
{
    memset(c, 0, sizeof(*c));
    memset(ram, 0, sizeof(ram));
    memset(mmio, 0, sizeof(mmio));
    hole_lo = hole_hi = 0;
    nmlog = nplog = 0;
    mmio_abort = false;
    c->ops = &ops;
    c->regs.rflags = EMU_FL_FIXED1;
}

/* Flat 64-bit kernel mode. */
static void mode64(struct emu_ctx *c)
{
    reset(c);
    struct emu_regs *r = &c->regs;
    r->cr0 = EMU_CR0_PE | EMU_CR0_PG;
    r->cr4 = EMU_CR4_PAE;
    r->efer = EMU_EFER_LME | EMU_EFER_LMA;
    for (unsigned s = 0; s < EMU_NSREG; s++)
        r->seg[s] = (struct emu_seg){ .sel = 0x10, .attr = DATA32, .limit = 0xffffffff };
    r->seg[EMU_CS] = (struct emu_seg){ .sel = 0x08, .attr = CODE64, .limit = 0xffffffff };
    r->rip = CODE;
}

/* Flat 32-bit protected mode, CPL 0, paging off. */
static void mode32(struct emu_ctx *c)
{
    reset(c);
    struct emu_regs *r = &c->regs;
    r->cr0 = EMU_CR0_PE;
    for (unsigned s = 0; s < EMU_NSREG; s++)
        r->seg[s] = (struct emu_seg){ .sel = 0x10, .attr = DATA32, .limit = 0xffffffff };
    r->seg[EMU_CS] = (struct emu_seg){ .sel = 0x08, .attr = CODE32, .limit = 0xffffffff };
    r->rip = CODE;
}

static void mode_real(struct emu_ctx *c)
{
    reset(c);
    struct emu_regs *r = &c->regs;
    uint32_t a = EMU_SEG_P | EMU_SEG_S | EMU_SEG_TYPE_WR | 1;
    for (unsigned s = 0; s < EMU_NSREG; s++)
        r->seg[s] = (struct emu_seg){ .attr = a, .limit = 0xffff };
    r->seg[EMU_CS].attr |= EMU_SEG_TYPE_CODE;
    r->rip = CODE;
}

static void code(const char *hex_bytes, unsigned n)
{
    memcpy(ram + CODE, hex_bytes, n);
}
#define CODE_BYTES(...) code((const char[]){ __VA_ARGS__ }, sizeof((const char[]){ __VA_ARGS__ }))

#define expect_exc(c, v, e) expect_exc_at(c, v, e, __LINE__)
static void expect_exc_at(struct emu_ctx *c, unsigned vector, uint32_t ec, int line)
{
    struct emu_regs before = c->regs;
    int rc = emulate_one(c);
    if (rc != EMU_EXCEPTION)
        printf("FAIL: line %d: expected exception %u, got status %d\n", line, vector, rc);
    assert_int_equal(rc, EMU_EXCEPTION);
    assert_int_equal(c->exc.vector, vector);
    assert_int_equal(c->exc.error_code, ec);
    assert_int_equal(c->regs.rip, before.rip);
}

static uint64_t rd64(uint64_t a)
{
    uint64_t v;
    memcpy(&v, ram + a, 8);
    return v;
}

/* --- 64-bit faults --- */

static void test_rep_movs_page_fault(void **state)
{
    (void)state;
    struct emu_ctx c;
    mode64(&c);
    CODE_BYTES(0xf3, 0x48, 0xa5);                 /* rep movsq */
    for (unsigned i = 0; i < 0x100; i++)
        ram[0x10000 + i] = (uint8_t)i;
    c.regs.gpr[EMU_RSI] = 0x10000;
    c.regs.gpr[EMU_RDI] = 0x20ff0;                /* 2 qwords fit before the hole at 0x21000 */
    c.regs.gpr[EMU_RCX] = 10;
    hole_lo = 0x21000;
    hole_hi = 0x22000;
    expect_exc(&c, EMU_VEC_PF, 2);
    assert_int_equal(c.exc.cr2, 0x21000);
    assert_int_equal(c.regs.gpr[EMU_RCX], 8);     /* the CPU's partial progress */
    assert_int_equal(c.regs.gpr[EMU_RSI], 0x10010);
    assert_int_equal(c.regs.gpr[EMU_RDI], 0x21000);
    assert_int_equal(rd64(0x20ff8), rd64(0x10008));
    /* the guest maps the page and re-executes: it finishes */
    hole_lo = hole_hi = 0;
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(c.regs.gpr[EMU_RCX], 0);
    assert_int_equal(c.regs.rip, CODE + 3);
    assert_memory_equal(ram + 0x20ff0, ram + 0x10000, 80);
    /* a qword straddling into the hole: nothing of it is written */
    mode64(&c);
    CODE_BYTES(0x48, 0x89, 0x07);                 /* mov [rdi], rax */
    c.regs.gpr[EMU_RDI] = 0x20ffc;
    c.regs.gpr[EMU_RAX] = ~0ull;
    hole_lo = 0x21000;
    hole_hi = 0x22000;
    expect_exc(&c, EMU_VEC_PF, 2);
    assert_int_equal(rd64(0x20ff8), 0);
    printf("PASS: rep movs page fault keeps partial progress\n");
}

static void test_rep_budget_and_df(void **state)
{
    (void)state;
    struct emu_ctx c;
    mode64(&c);
    CODE_BYTES(0xf3, 0xaa);                       /* rep stosb */
    c.rep_budget = 100;
    c.regs.gpr[EMU_RDI] = 0x30000;
    c.regs.gpr[EMU_RCX] = 250;
    c.regs.gpr[EMU_RAX] = 0x5a;
    c.regs.rflags |= EMU_FL_DF;
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(c.regs.rip, CODE);           /* not finished: re-executed */
    assert_int_equal(c.regs.gpr[EMU_RCX], 150);
    assert_int_equal(c.regs.gpr[EMU_RDI], 0x30000 - 100);
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(c.regs.rip, CODE + 2);
    assert_int_equal(c.regs.gpr[EMU_RCX], 0);
    assert_int_equal(ram[0x30000 - 249], 0x5a);
    assert_int_equal(ram[0x30000 - 250], 0);
    assert_int_equal(ram[0x30001], 0);
    printf("PASS: rep budget re-executes and DF=1 walks down\n");
}

static void test_noncanonical(void **state)
{
    (void)state;
    struct emu_ctx c;
    mode64(&c);
    CODE_BYTES(0x8b, 0x00);                       /* mov eax, [rax] */
    c.regs.gpr[EMU_RAX] = 0x0000800000000000ull;
    expect_exc(&c, EMU_VEC_GP, 0);
    mode64(&c);
    CODE_BYTES(0x8b, 0x45, 0x00);                 /* mov eax, [rbp]: SS-relative, #SS(0) */
    c.regs.gpr[EMU_RBP] = 0xffff7fffffffffffull;
    expect_exc(&c, EMU_VEC_SS, 0);
    mode64(&c);
    CODE_BYTES(0x64, 0x89, 0x08);                 /* mov fs:[rax], ecx with a base that crosses */
    c.regs.seg[EMU_FS].base = 0x00007ffffffffffeull;
    c.regs.gpr[EMU_RAX] = 0;
    expect_exc(&c, EMU_VEC_GP, 0);                /* the last byte is non-canonical */
    mode64(&c);
    c.regs.rip = 0x0000800000000000ull;           /* fetch from a non-canonical RIP */
    expect_exc(&c, EMU_VEC_GP, 0);
    printf("PASS: non-canonical addresses fault #GP(0) / #SS(0)\n");
}

static void test_fetch_across_pages(void **state)
{
    (void)state;
    struct emu_ctx c;
    mode64(&c);
    c.regs.rip = 0x1ffe;
    ram[0x1ffe] = 0x89;                           /* mov [rax], eax: 2 bytes, fits */
    ram[0x1fff] = 0x00;
    hole_lo = 0x2000;
    hole_hi = 0x3000;
    c.regs.gpr[EMU_RAX] = 0x4000;
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(c.regs.rip, 0x2000);
    c.regs.rip = 0x1ffe;
    ram[0x1fff] = 0x80;                           /* mov [rax+disp32], eax: needs the next page */
    expect_exc(&c, EMU_VEC_PF, 16);
    assert_int_equal(c.exc.cr2, 0x2000);
    printf("PASS: instruction fetch faults only on the bytes it needs\n");
}

static void test_ud_cases(void **state)
{
    (void)state;
    static const struct { const char *name; uint8_t b[8]; unsigned n; } cases[] = {
        { "ud2", { 0x0f, 0x0b }, 2 },
        { "cpuid (not emulated)", { 0x0f, 0xa2 }, 2 },
        { "lock mov", { 0xf0, 0x89, 0x00 }, 3 },
        { "lock add reg,reg", { 0xf0, 0x01, 0xc0 }, 3 },
        { "lock cmp", { 0xf0, 0x39, 0x00 }, 3 },
        { "lock bt", { 0xf0, 0x0f, 0xa3, 0x00 }, 4 },
        { "mov cs, ax", { 0x8e, 0xc8 }, 2 },
        { "lea reg form", { 0x8d, 0xc0 }, 2 },
        { "cmpxchg16b reg", { 0x48, 0x0f, 0xc7, 0xc8 }, 4 },
        { "lgdt reg (0f 01 /2 mod=3)", { 0x0f, 0x01, 0xd7 }, 3 },
        { "push cs (invalid in 64-bit)", { 0x0e }, 1 },
        { "sse movdqa to mmio", { 0x66, 0x0f, 0x6f, 0x00 }, 4 },
        { "vex", { 0xc5, 0xf9, 0x6f, 0x00 }, 4 },
        { "mov to cr1", { 0x0f, 0x22, 0xc8 }, 3 },
        { "jmp near (not an exit)", { 0xeb, 0xfe }, 2 },
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct emu_ctx c;
        mode64(&c);
        memcpy(ram + CODE, cases[i].b, cases[i].n);
        c.regs.gpr[EMU_RAX] = 0x4000;
        struct emu_regs before = c.regs;
        int rc = emulate_one(&c);
        if (rc != EMU_EXCEPTION || c.exc.vector != EMU_VEC_UD) {
            printf("FAIL: %s: rc %d vector %u\n", cases[i].name, rc, c.exc.vector);
            fail();
        }
        assert_memory_equal(&before, &c.regs, sizeof(before));
        printf("PASS: #UD: %s\n", cases[i].name);
    }
}

/* --- 32-bit protected mode: segmentation --- */

static void test_segment_limits(void **state)
{
    (void)state;
    struct emu_ctx c;
    mode32(&c);
    CODE_BYTES(0x89, 0x03);                       /* mov [ebx], eax */
    c.regs.seg[EMU_DS].limit = 0xfff;
    c.regs.seg[EMU_DS].base = 0x40000;
    c.regs.gpr[EMU_RBX] = 0xffc;
    c.regs.gpr[EMU_RAX] = 0x11223344;
    assert_int_equal(emulate_one(&c), EMU_OK);    /* the last dword inside the limit */
    assert_int_equal(ram[0x40ffc], 0x44);
    c.regs.rip = CODE;
    c.regs.gpr[EMU_RBX] = 0xffd;
    expect_exc(&c, EMU_VEC_GP, 0);                /* one byte past the limit */
    CODE_BYTES(0x89, 0x04, 0x24);                 /* mov [esp], eax */
    c.regs.seg[EMU_SS].limit = 0xfff;
    c.regs.gpr[EMU_RSP] = 0x1000;
    expect_exc(&c, EMU_VEC_SS, 0);                /* stack segment: #SS(0) */
    /* expand-down stack: valid above the limit, up to 0xffffffff with B=1 */
    c.regs.seg[EMU_SS].attr |= EMU_SEG_TYPE_EXPDN;
    c.regs.seg[EMU_SS].base = 0;
    c.regs.gpr[EMU_RSP] = 0x3000;
    assert_int_equal(emulate_one(&c), EMU_OK);
    c.regs.rip = CODE;
    c.regs.gpr[EMU_RSP] = 0xffe;
    expect_exc(&c, EMU_VEC_SS, 0);
    /* read-only data segment: writes #GP(0), reads fine */
    mode32(&c);
    CODE_BYTES(0x89, 0x03);
    c.regs.seg[EMU_DS].attr &= ~EMU_SEG_TYPE_WR;
    c.regs.gpr[EMU_RBX] = 0x5000;
    expect_exc(&c, EMU_VEC_GP, 0);
    CODE_BYTES(0x8b, 0x03);
    assert_int_equal(emulate_one(&c), EMU_OK);
    /* a null (unusable) ES: #GP(0) for the string store */
    mode32(&c);
    CODE_BYTES(0xaa);
    c.regs.seg[EMU_ES].attr = EMU_SEG_UNUSABLE;
    expect_exc(&c, EMU_VEC_GP, 0);
    /* CS limit: an instruction running past it */
    mode32(&c);
    c.regs.seg[EMU_CS].limit = CODE + 2;
    CODE_BYTES(0x89, 0x83, 0, 0, 0, 0);           /* mov [ebx+0], eax: 6 bytes */
    expect_exc(&c, EMU_VEC_GP, 0);
    printf("PASS: 32-bit segment limits, expand-down, read-only, null segment, CS limit\n");
}

static void test_addr16_in_32bit(void **state)
{
    (void)state;
    struct emu_ctx c;
    mode32(&c);
    CODE_BYTES(0x67, 0x89, 0x40, 0x10);           /* mov [bx+si+0x10], eax */
    c.regs.gpr[EMU_RBX] = 0xffff8000;
    c.regs.gpr[EMU_RSI] = 0x9000;                 /* bx+si wraps at 64 KiB: 0x1000 */
    c.regs.gpr[EMU_RAX] = 0xdeadbeef;
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(ram[0x1010], 0xef);
    assert_int_equal(c.regs.rip, CODE + 4);
    printf("PASS: 16-bit addressing wraps at 64 KiB\n");
}

/* 32-bit mode forms: one-byte inc, a 16-bit stack (SS.B = 0), 16-bit string registers. */
static void test_32bit_forms(void **state)
{
    (void)state;
    struct emu_ctx c;
    mode32(&c);
    struct emu_regs *r = &c.regs;
    CODE_BYTES(0x40);                             /* inc eax (a REX prefix in 64-bit mode) */
    r->gpr[EMU_RAX] = 0x7fffffff;
    r->rflags |= EMU_FL_CF;
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(r->gpr[EMU_RAX], 0x80000000u);
    assert_int_equal(r->rflags & EMU_FL_ARITH, EMU_FL_OF | EMU_FL_SF | EMU_FL_AF | EMU_FL_PF | EMU_FL_CF);
    assert_int_equal(r->rip, CODE + 1);
    /* push dword [ebx] on a 16-bit stack: SP wraps, ESP's upper half stays */
    mode32(&c);
    CODE_BYTES(0xff, 0x33);
    r->seg[EMU_SS].attr &= ~EMU_SEG_DB;
    r->seg[EMU_SS].base = 0x60000;
    r->gpr[EMU_RSP] = 0x12340100;
    r->gpr[EMU_RBX] = 0x5000;
    memcpy(ram + 0x5000, (const uint8_t[]){ 1, 2, 3, 4 }, 4);
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(r->gpr[EMU_RSP], 0x123400fc);
    assert_memory_equal(ram + 0x600fc, ram + 0x5000, 4);
    /* pop word [ebx] (66 8f 03) back */
    r->rip = CODE;
    CODE_BYTES(0x66, 0x8f, 0x03);
    r->gpr[EMU_RBX] = 0x5100;
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(r->gpr[EMU_RSP], 0x123400fe);
    assert_int_equal(ram[0x5100], 1);
    assert_int_equal(ram[0x5101], 2);
    /* rep stosw with a 67 prefix: CX and DI, upper halves kept */
    mode32(&c);
    CODE_BYTES(0x67, 0x66, 0xf3, 0xab);
    r->gpr[EMU_RCX] = 0xabcd0003;
    r->gpr[EMU_RDI] = 0x7777fffe;                 /* DI wraps from 0xfffe to 0x0004 */
    r->gpr[EMU_RAX] = 0x4142;
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(r->gpr[EMU_RCX], 0xabcd0000);
    assert_int_equal(r->gpr[EMU_RDI], 0x77770004);
    assert_int_equal(ram[0xfffe], 0x42);
    assert_int_equal(ram[0x0000], 0x42);
    assert_int_equal(ram[0x0002], 0x42);
    assert_int_equal(r->rip, CODE + 4);
    /* mov ax, ds / mov [ebx], es: selectors out */
    mode32(&c);
    CODE_BYTES(0x8c, 0xd8);                       /* mov eax, ds: zero-extended */
    r->gpr[EMU_RAX] = ~0ull;
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(r->gpr[EMU_RAX], 0x10);
    printf("PASS: 32-bit forms: inc eax, 16-bit stack, 67-prefixed rep stosw, mov from sreg\n");
}

/* --- port I/O --- */

static void test_port_io(void **state)
{
    (void)state;
    struct emu_ctx c;
    mode64(&c);
    CODE_BYTES(0xe6, 0x80);                       /* out 0x80, al */
    c.regs.gpr[EMU_RAX] = 0x1234;
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(nplog, 1);
    assert_true(plog[0].out && plog[0].port == 0x80 && plog[0].width == 1 && plog[0].val == 0x34);
    c.regs.rip = CODE;
    CODE_BYTES(0xed);                             /* in eax, dx */
    c.regs.gpr[EMU_RDX] = 0x3f8;
    c.regs.gpr[EMU_RAX] = ~0ull;
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(c.regs.gpr[EMU_RAX], 0xa0b0c0d1u);   /* zero-extended */
    /* rep outsw: 3 words from memory to the port */
    c.regs.rip = CODE;
    nplog = 0;
    CODE_BYTES(0xf3, 0x66, 0x6f);
    memcpy(ram + 0x6000, "\x01\x02\x03\x04\x05\x06", 6);
    c.regs.gpr[EMU_RSI] = 0x6000;
    c.regs.gpr[EMU_RCX] = 3;
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(nplog, 3);
    assert_int_equal(plog[2].val, 0x0605);
    assert_int_equal(c.regs.gpr[EMU_RSI], 0x6006);
    /* rep insb with a fault on the destination: the port is not read for the faulting byte */
    c.regs.rip = CODE;
    nplog = 0;
    CODE_BYTES(0xf3, 0x6c);
    c.regs.gpr[EMU_RDI] = 0x21ffe;
    c.regs.gpr[EMU_RCX] = 5;
    hole_lo = 0x22000;
    hole_hi = 0x23000;
    expect_exc(&c, EMU_VEC_PF, 2);
    assert_int_equal(nplog, 2);
    assert_int_equal(c.regs.gpr[EMU_RCX], 3);
    /* CPL 3 with IOPL 0: the TSS bitmap decides */
    mode32(&c);
    c.regs.cpl = 3;
    c.regs.tr = (struct emu_seg){ .sel = 0x28, .attr = 11 | EMU_SEG_P, .limit = 0x2000 + 104 + 0x2000, .base = 0x50000 };
    ram[0x50000 + 102] = 0x00;
    ram[0x50000 + 103] = 0x01;                    /* bitmap at +0x100 */
    memset(ram + 0x50100, 0xff, 0x2000);
    ram[0x50100 + 0x80 / 8] = 0x00;               /* ports 0x80..0x87 allowed */
    CODE_BYTES(0xe6, 0x80);
    assert_int_equal(emulate_one(&c), EMU_OK);
    c.regs.rip = CODE;
    CODE_BYTES(0xe6, 0x88);
    expect_exc(&c, EMU_VEC_GP, 0);
    CODE_BYTES(0xe7, 0x86);                       /* out 0x86, eax: 0x86..0x89, 0x88 denied */
    expect_exc(&c, EMU_VEC_GP, 0);
    printf("PASS: in/out/ins/outs, rep, fault before the port read, TSS I/O bitmap\n");
}

/* --- MMIO --- */

static void test_mmio(void **state)
{
    (void)state;
    struct emu_ctx c;
    mode64(&c);
    CODE_BYTES(0x48, 0x89, 0x07);                 /* mov [rdi], rax */
    c.regs.gpr[EMU_RDI] = MMIO_BASE + 0x300;
    c.regs.gpr[EMU_RAX] = 0x1122334455667788ull;
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(nmlog, 1);
    assert_true(mlog[0].write && mlog[0].width == 8 && mlog[0].val == 0x1122334455667788ull);
    /* a qword across the page boundary of the device: split 4 + 4 */
    c.regs.rip = CODE;
    nmlog = 0;
    c.regs.gpr[EMU_RDI] = MMIO_BASE + 0xffc;
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(nmlog, 2);
    assert_true(mlog[0].gpa == MMIO_BASE + 0xffc && mlog[0].width == 4 && mlog[0].val == 0x55667788);
    assert_true(mlog[1].gpa == MMIO_BASE + 0x1000 && mlog[1].width == 4 && mlog[1].val == 0x11223344);
    /* 3 bytes before the boundary, 5 after: 2+1 and 4+1 */
    c.regs.rip = CODE;
    nmlog = 0;
    c.regs.gpr[EMU_RDI] = MMIO_BASE + 0xffd;
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(nmlog, 4);
    assert_true(mlog[0].width == 2 && mlog[1].width == 1 && mlog[2].width == 4 && mlog[3].width == 1);
    /* a read-modify-write to MMIO: one read and one write of the same width */
    c.regs.rip = CODE;
    nmlog = 0;
    CODE_BYTES(0xf0, 0x81, 0x0f, 0x00, 0x01, 0x00, 0x00);   /* lock or dword [rdi], 0x100 */
    c.regs.gpr[EMU_RDI] = MMIO_BASE + 0x10;
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(nmlog, 2);
    assert_true(!mlog[0].write && mlog[1].write && mlog[1].width == 4 && mlog[1].val == 0x100);
    /* a failing device callback: EMU_ABORT, nothing changed, RIP stays */
    c.regs.rip = CODE;
    CODE_BYTES(0x8b, 0x07);                       /* mov eax, [rdi] */
    mmio_abort = true;
    struct emu_regs before = c.regs;
    assert_int_equal(emulate_one(&c), EMU_ABORT);
    assert_memory_equal(&before, &c.regs, sizeof(before));
    printf("PASS: MMIO widths, page splits, locked RMW, aborting device\n");
}

/* --- real mode → protected mode → long mode, all emulated --- */

static void put_desc(unsigned idx, uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
    uint64_t d = (limit & 0xffff) | ((uint64_t)(base & 0xffffff) << 16) | ((uint64_t)access << 40) |
                 ((uint64_t)((limit >> 16) & 0xf) << 48) | ((uint64_t)(flags & 0xf) << 52) |
                 ((uint64_t)(base >> 24) << 56);
    memcpy(ram + 0x8000 + (size_t)idx * 8, &d, 8);
}

static void test_mode_transitions(void **state)
{
    (void)state;
    struct emu_ctx c;
    mode_real(&c);
    struct emu_regs *r = &c.regs;
    put_desc(1, 0, 0xfffff, 0x9a, 0xc);           /* 0x08: 32-bit code */
    put_desc(2, 0, 0xfffff, 0x92, 0xc);           /* 0x10: data */
    put_desc(3, 0, 0xfffff, 0x9a, 0xa);           /* 0x18: 64-bit code */
    ram[0x7000] = 0x1f;                           /* GDT pseudo-descriptor: limit 0x1f, base 0x8000 */
    ram[0x7002] = 0x00;
    ram[0x7003] = 0x80;
    /* real mode: mov ax, 0x0700; mov ds, ax — DS base 0x7000 */
    CODE_BYTES(0x8e, 0xd8);                       /* mov ds, ax */
    r->gpr[EMU_RAX] = 0x0700;
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(r->seg[EMU_DS].base, 0x7000);
    /* lgdt [0] (16-bit: 24-bit base) */
    r->rip = CODE;
    CODE_BYTES(0x0f, 0x01, 0x16, 0x00, 0x00);
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(r->gdtr.base, 0x8000);
    assert_int_equal(r->gdtr.limit, 0x1f);
    /* mov eax, cr0; or al, 1; mov cr0, eax */
    r->rip = CODE;
    CODE_BYTES(0x0f, 0x20, 0xc0);
    r->cr0 = 0x60000010;
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(r->gpr[EMU_RAX], 0x60000010);
    r->rip = CODE;
    CODE_BYTES(0x0f, 0x22, 0xc0);
    r->gpr[EMU_RAX] = 0x60000011;
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(emu_mode(r), EMU_MODE_PROT16);
    /* jmp 0x08:0x2000 (66 ea: ptr16:32) */
    r->rip = CODE;
    CODE_BYTES(0x66, 0xea, 0x00, 0x20, 0x00, 0x00, 0x08, 0x00);
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(emu_mode(r), EMU_MODE_PROT32);
    assert_int_equal(r->rip, 0x2000);
    assert_int_equal(r->seg[EMU_CS].sel, 0x08);
    assert_int_equal(r->seg[EMU_CS].limit, 0xffffffff);
    assert_true(ram[0x8000 + 8 + 5] & 1);         /* the descriptor's accessed bit */
    /* protected mode: mov ss, ax with 0x10 loads the descriptor; a bad selector #GP(sel) */
    memcpy(ram + 0x2000, (const uint8_t[]){ 0x8e, 0xd0 }, 2);
    r->gpr[EMU_RAX] = 0x10;
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(r->seg[EMU_SS].attr & (EMU_SEG_DB | EMU_SEG_P), EMU_SEG_DB | EMU_SEG_P);
    r->rip = 0x2000;
    r->gpr[EMU_RAX] = 0x28;                       /* beyond the GDT limit */
    expect_exc(&c, EMU_VEC_GP, 0x28);
    r->gpr[EMU_RAX] = 0x08;                       /* code into SS */
    expect_exc(&c, EMU_VEC_GP, 0x08);
    /* CR4.PAE, EFER.LME (wrmsr is the vmm's), then CR0.PG: long mode activates (compat) */
    memcpy(ram + 0x2000, (const uint8_t[]){ 0x0f, 0x22, 0xe0 }, 3);   /* mov cr4, eax */
    r->gpr[EMU_RAX] = EMU_CR4_PAE;
    assert_int_equal(emulate_one(&c), EMU_OK);
    r->efer = EMU_EFER_LME;
    r->rip = 0x2000;
    memcpy(ram + 0x2000, (const uint8_t[]){ 0x0f, 0x22, 0xc0 }, 3);   /* mov cr0, eax */
    r->gpr[EMU_RAX] = 0x80000011;
    r->cr4 = 0;
    expect_exc(&c, EMU_VEC_GP, 0);                /* PG with LME but without PAE */
    r->cr4 = EMU_CR4_PAE;
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_true(r->efer & EMU_EFER_LMA);
    assert_int_equal(emu_mode(r), EMU_MODE_PROT32);   /* compatibility mode */
    /* jmp far [mem] to the 64-bit code segment: m16:32 at 0x7100 */
    r->rip = 0x2000;
    memcpy(ram + 0x2000, (const uint8_t[]){ 0xff, 0x2d, 0x00, 0x01, 0x00, 0x00 }, 6);   /* DS base 0x7000 */
    memcpy(ram + 0x7100, (const uint8_t[]){ 0x00, 0x30, 0x00, 0x00, 0x18, 0x00 }, 6);
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(emu_mode(r), EMU_MODE_LONG64);
    assert_int_equal(r->rip, 0x3000);
    /* clearing PG in 64-bit mode is refused */
    memcpy(ram + 0x3000, (const uint8_t[]){ 0x0f, 0x22, 0xc0 }, 3);
    r->gpr[EMU_RAX] = 0x11;
    expect_exc(&c, EMU_VEC_GP, 0);
    /* CPL 3 may not touch CR0 */
    r->cpl = 3;
    expect_exc(&c, EMU_VEC_GP, 0);
    printf("PASS: real -> protected -> long mode through emulated lgdt, mov cr, far jmp, mov sreg\n");
}

static void test_real_mode_memory(void **state)
{
    (void)state;
    struct emu_ctx c;
    mode_real(&c);
    struct emu_regs *r = &c.regs;
    r->seg[EMU_ES].base = 0xb8000;
    r->seg[EMU_ES].sel = 0xb800;
    CODE_BYTES(0x26, 0x89, 0x47, 0x02);           /* mov es:[bx+2], ax */
    r->gpr[EMU_RBX] = 0x10;
    r->gpr[EMU_RAX] = 0x0741;
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(ram[0xb8012], 0x41);
    assert_int_equal(ram[0xb8013], 0x07);
    assert_int_equal(r->rip, CODE + 4);
    /* a word at offset 0xffff crosses the 64 KiB limit: #GP(0) */
    r->rip = CODE;
    r->gpr[EMU_RBX] = 0xfffd;
    expect_exc(&c, EMU_VEC_GP, 0);
    /* rep movsw with 16-bit CX/SI/DI */
    r->rip = CODE;
    CODE_BYTES(0xf3, 0xa5);
    r->seg[EMU_DS].base = 0x10000;
    r->seg[EMU_ES].base = 0x20000;
    r->gpr[EMU_RSI] = 0xabcd0000;                 /* upper bits ignored, kept */
    r->gpr[EMU_RDI] = 0x100;
    r->gpr[EMU_RCX] = 0xffff0004;
    memcpy(ram + 0x10000, (const uint8_t[]){ 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h' }, 8);
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_memory_equal(ram + 0x20100, "abcdefgh", 8);
    assert_int_equal(r->gpr[EMU_RCX], 0xffff0000);
    assert_int_equal(r->gpr[EMU_RSI], 0xabcd0008);
    printf("PASS: real-mode segments, 64 KiB limit, 16-bit string registers\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rep_movs_page_fault),
        cmocka_unit_test(test_rep_budget_and_df),
        cmocka_unit_test(test_noncanonical),
        cmocka_unit_test(test_fetch_across_pages),
        cmocka_unit_test(test_ud_cases),
        cmocka_unit_test(test_segment_limits),
        cmocka_unit_test(test_addr16_in_32bit),
        cmocka_unit_test(test_32bit_forms),
        cmocka_unit_test(test_port_io),
        cmocka_unit_test(test_mmio),
        cmocka_unit_test(test_mode_transitions),
        cmocka_unit_test(test_real_mode_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
