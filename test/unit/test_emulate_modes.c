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
        { "sse movdqa with CR4.OSFXSR clear", { 0x66, 0x0f, 0x6f, 0x00 }, 4 },
        { "vex vmovdqa with CR4.OSXSAVE clear", { 0xc5, 0xf9, 0x6f, 0x00 }, 4 },
        { "mmx movd mm0, eax", { 0x0f, 0x6e, 0xc0 }, 3 },
        { "evex vmovdqu32", { 0x62, 0xf1, 0x7e, 0x48, 0x6f, 0x00 }, 6 },
        { "vex vaddps (not a move)", { 0xc5, 0xf8, 0x58, 0x00 }, 4 },
        { "far call m16:64", { 0x48, 0xff, 0x18 }, 3 },
        { "far ret", { 0xcb }, 1 },
        { "int3", { 0xcc }, 1 },
        { "movbe reg form", { 0x0f, 0x38, 0xf0, 0xc0 }, 4 },
        { "lock shl", { 0xf0, 0xd1, 0x20 }, 3 },
        { "lock imul", { 0xf0, 0x0f, 0xaf, 0x00 }, 4 },
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

/* --- near call/ret outside 64-bit mode, and the target checks --- */

static void wr(uint64_t a, uint64_t v, unsigned n)
{
    memcpy(ram + a, &v, n);
}

static uint64_t rd(uint64_t a, unsigned n)
{
    uint64_t v = 0;
    memcpy(&v, ram + a, n);
    return v;
}

static void test_call_ret_modes(void **state)
{
    (void)state;
    struct emu_ctx c;
    /* 32-bit: call rel32 pushes EIP+5; ret imm16 pops it and drops 8 more bytes */
    mode32(&c);
    c.regs.gpr[EMU_RSP] = 0x9000;
    CODE_BYTES(0xe8, 0x00, 0x01, 0x00, 0x00);
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(c.regs.rip, CODE + 5 + 0x100);
    assert_int_equal(c.regs.gpr[EMU_RSP], 0x8ffc);
    assert_int_equal(rd(0x8ffc, 4), CODE + 5);
    memcpy(ram + CODE + 0x105, (const uint8_t[]){ 0xc2, 0x08, 0x00 }, 3);
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(c.regs.rip, CODE + 5);
    assert_int_equal(c.regs.gpr[EMU_RSP], 0x9008);
    /* a target beyond the CS limit: #GP(0), nothing pushed */
    mode32(&c);
    c.regs.seg[EMU_CS].limit = 0x1fff;
    c.regs.gpr[EMU_RSP] = 0x9000;
    wr(0x8ffc, 0, 4);
    CODE_BYTES(0xe8, 0x00, 0x10, 0x00, 0x00);
    expect_exc(&c, EMU_VEC_GP, 0);
    assert_int_equal(c.regs.gpr[EMU_RSP], 0x9000);
    assert_int_equal(rd(0x8ffc, 4), 0);
    /* ret to beyond the limit: #GP(0), RSP kept */
    CODE_BYTES(0xc3);
    wr(0x9000, 0x5000, 4);
    expect_exc(&c, EMU_VEC_GP, 0);
    assert_int_equal(c.regs.gpr[EMU_RSP], 0x9000);
    /* a 16-bit stack (SS.B = 0): SP wraps, ESP's upper half stays */
    mode32(&c);
    c.regs.seg[EMU_SS].attr &= ~EMU_SEG_DB;
    c.regs.gpr[EMU_RSP] = 0x12340000;
    c.regs.gpr[EMU_RAX] = 0x3000;
    CODE_BYTES(0xff, 0xd0);                           /* call eax */
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(c.regs.gpr[EMU_RSP], 0x1234fffc);
    assert_int_equal(rd(0xfffc, 4), CODE + 2);
    assert_int_equal(c.regs.rip, 0x3000);
    /* real mode: call rel16 wraps IP within the segment; ret pops 2 bytes */
    mode_real(&c);
    c.regs.seg[EMU_CS].base = 0;
    c.regs.gpr[EMU_RSP] = 0x8000;
    CODE_BYTES(0xe8, 0x00, 0xf0);                     /* call +0xf000: 0x1003 + 0xf000 = 0x10003 -> 0x0003 */
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(c.regs.rip, 0x0003);
    assert_int_equal(c.regs.gpr[EMU_RSP], 0x7ffe);
    assert_int_equal(rd(0x7ffe, 2), CODE + 3);
    memcpy(ram + 3, (const uint8_t[]){ 0xc3 }, 1);
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(c.regs.rip, CODE + 3);
    /* 64-bit: a non-canonical target is #GP(0) before anything is pushed */
    mode64(&c);
    c.regs.gpr[EMU_RSP] = 0x9000;
    c.regs.gpr[EMU_RAX] = 0x0000800000000000ull;
    CODE_BYTES(0xff, 0xd0);
    expect_exc(&c, EMU_VEC_GP, 0);
    assert_int_equal(c.regs.gpr[EMU_RSP], 0x9000);
    printf("PASS: near call/ret: 32-bit, CS limit, 16-bit stack, real mode, non-canonical target\n");
}

/* --- iret --- */

static void test_iret_modes(void **state)
{
    (void)state;
    struct emu_ctx c;
    struct emu_regs *r = &c.regs;
    /* real mode, 16-bit: IP, CS (base = CS * 16), FLAGS */
    mode_real(&c);
    r->gpr[EMU_RSP] = 0x6000;
    wr(0x6000, 0x0123, 2);
    wr(0x6002, 0x0200, 2);
    wr(0x6004, 0x0ad7 | EMU_FL_IF, 2);
    CODE_BYTES(0xcf);
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(r->rip, 0x0123);
    assert_int_equal(r->seg[EMU_CS].base, 0x2000);
    assert_int_equal(r->rflags, (0x0ad7 | EMU_FL_IF | EMU_FL_FIXED1) & ~0x28ull);
    assert_int_equal(r->gpr[EMU_RSP], 0x6006);
    /* real mode, iretd: an EIP above 0xffff is #GP(0) */
    mode_real(&c);
    r->gpr[EMU_RSP] = 0x6000;
    wr(0x6000, 0x10000, 4);
    CODE_BYTES(0x66, 0xcf);
    expect_exc(&c, EMU_VEC_GP, 0);
    /* virtual-8086 mode with IOPL < 3: #GP(0) */
    mode_real(&c);
    r->cr0 = EMU_CR0_PE;
    r->rflags |= EMU_FL_VM;
    r->cpl = 3;
    CODE_BYTES(0xcf);
    expect_exc(&c, EMU_VEC_GP, 0);
    r->rflags |= EMU_FL_IOPL;                           /* IOPL 3: like real mode, IOPL kept */
    r->gpr[EMU_RSP] = 0x6000;
    wr(0x6000, 0x0100, 2);
    wr(0x6002, 0x0000, 2);
    wr(0x6004, 0x0001, 2);
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(r->rip, 0x0100);
    assert_true((r->rflags & EMU_FL_IOPL) == EMU_FL_IOPL && (r->rflags & EMU_FL_VM) && (r->rflags & EMU_FL_CF));

    /* protected mode, CPL 0 -> 3: EIP CS EFLAGS ESP SS, DS (DPL 0) nulled, IOPL and IF loaded */
    mode32(&c);
    memset(ram + 0x8000, 0, 0x40);
    put_desc(1, 0, 0xfffff, 0x9a, 0xc);                 /* 0x08: code DPL 0 */
    put_desc(2, 0, 0xfffff, 0x92, 0xc);                 /* 0x10: data DPL 0 */
    put_desc(3, 0, 0xfffff, 0xfa, 0xc);                 /* 0x1b: code DPL 3 */
    put_desc(4, 0, 0xfffff, 0xf2, 0xc);                 /* 0x23: data DPL 3 */
    put_desc(5, 0, 0xfffff, 0xfa, 0xa);                 /* 0x2b: 64-bit code DPL 3 */
    r->gdtr = (struct emu_dtr){ 0x8000, 0x3f };
    r->seg[EMU_DS].attr = DATA32;                        /* DPL 0 */
    r->seg[EMU_ES].attr = DATA32 | (3u << EMU_SEG_DPL_SHIFT);
    r->gpr[EMU_RSP] = 0x6000;
    const uint32_t frame[5] = { 0x4000, 0x1b, 0x3000 | 0x200 | 0x1, 0x7000, 0x23 };
    memcpy(ram + 0x6000, frame, sizeof(frame));
    CODE_BYTES(0xcf);
    /* RPL < CPL is #GP(sel) first: from CPL 3 to a CPL-0 selector */
    r->cpl = 3;
    wr(0x6004, 0x08, 4);
    expect_exc(&c, EMU_VEC_GP, 0x08);
    wr(0x6004, 0x1b, 4);
    r->cpl = 0;
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(r->cpl, 3);
    assert_int_equal(r->rip, 0x4000);
    assert_int_equal(r->gpr[EMU_RSP] & 0xffffffff, 0x7000);
    assert_int_equal(r->seg[EMU_CS].sel, 0x1b);
    assert_int_equal(r->seg[EMU_SS].sel, 0x23);
    assert_true(r->seg[EMU_DS].attr & EMU_SEG_UNUSABLE);
    assert_false(r->seg[EMU_ES].attr & EMU_SEG_UNUSABLE);
    assert_int_equal(r->rflags & (EMU_FL_IOPL | EMU_FL_IF | EMU_FL_CF), EMU_FL_IOPL | EMU_FL_IF | EMU_FL_CF);
    assert_int_equal(emu_mode(r), EMU_MODE_PROT32);
    /* same level: three pops; at CPL 3 with IOPL 0, IOPL and IF stay */
    r->rflags = EMU_FL_FIXED1;
    r->rip = CODE;
    r->gpr[EMU_RSP] = 0x6000;
    const uint32_t frame3[3] = { 0x4100, 0x1b, 0x3000 | 0x200 | 0x40 };
    memcpy(ram + 0x6000, frame3, sizeof(frame3));
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(r->rip, 0x4100);
    assert_int_equal(r->gpr[EMU_RSP], 0x600c);
    assert_int_equal(r->rflags & (EMU_FL_IOPL | EMU_FL_IF | EMU_FL_ZF), EMU_FL_ZF);
    /* NT set: a task return, not emulated (#UD); in long mode #GP(0) */
    r->rip = CODE;
    r->rflags |= EMU_FL_NT;
    expect_exc(&c, EMU_VEC_UD, 0);

    /* long mode: iretq from 64-bit CPL 0 to compatibility mode CPL 3 */
    mode64(&c);
    memset(ram + 0x8000, 0, 0x40);
    put_desc(3, 0, 0xfffff, 0xfa, 0xc);
    put_desc(4, 0, 0xfffff, 0xf2, 0xc);
    put_desc(5, 0, 0xfffff, 0xfa, 0xa);
    r->gdtr = (struct emu_dtr){ 0x8000, 0x3f };
    r->gpr[EMU_RSP] = 0x6000;
    const uint64_t q[5] = { 0x4000, 0x1b, 0x202, 0x7000, 0x23 };
    memcpy(ram + 0x6000, q, sizeof(q));
    CODE_BYTES(0x48, 0xcf);
    r->rflags |= EMU_FL_NT;
    expect_exc(&c, EMU_VEC_GP, 0);
    r->rflags &= ~EMU_FL_NT;
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(emu_mode(r), EMU_MODE_PROT32);
    assert_int_equal(r->cpl, 3);
    assert_int_equal(r->gpr[EMU_RSP], 0x7000);
    assert_int_equal(r->rip, 0x4000);
    /* to 64-bit CPL 3: a non-canonical RIP is #GP(0); a null SS is refused for CPL 3 */
    mode64(&c);
    put_desc(4, 0, 0xfffff, 0xf2, 0xc);
    put_desc(5, 0, 0xfffff, 0xfa, 0xa);
    r->gdtr = (struct emu_dtr){ 0x8000, 0x3f };
    r->gpr[EMU_RSP] = 0x6000;
    const uint64_t q2[5] = { 0x0000800000000000ull, 0x2b, 0x2, 0x7000, 0x23 };
    memcpy(ram + 0x6000, q2, sizeof(q2));
    CODE_BYTES(0x48, 0xcf);
    expect_exc(&c, EMU_VEC_GP, 0);
    wr(0x6000, 0x5000, 8);
    wr(0x6020, 0, 8);
    expect_exc(&c, EMU_VEC_GP, 0);
    wr(0x6020, 0x23, 8);
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(emu_mode(r), EMU_MODE_LONG64);
    assert_int_equal(r->rip, 0x5000);
    printf("PASS: iret: real mode, vm86 IOPL check, protected outer and same level, NT, long mode to compat and 64-bit\n");
}

/* --- mul/div edges --- */

static void test_muldiv_edges(void **state)
{
    (void)state;
    struct emu_ctx c;
    mode64(&c);
    CODE_BYTES(0x48, 0xf7, 0xf9);                       /* idiv rcx */
    c.regs.gpr[EMU_RAX] = 0x8000000000000000ull;
    c.regs.gpr[EMU_RDX] = ~0ull;
    c.regs.gpr[EMU_RCX] = ~0ull;                         /* -2^63 / -1 */
    expect_exc(&c, EMU_VEC_DE, 0);
    assert_false(c.exc.has_error_code);
    c.regs.gpr[EMU_RCX] = 0;
    expect_exc(&c, EMU_VEC_DE, 0);
    c.regs.gpr[EMU_RCX] = 1;                             /* -2^63 / 1 fits */
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(c.regs.gpr[EMU_RAX], 0x8000000000000000ull);
    /* idiv cl: -256 / 2 = -128 fits, 256 / 2 = 128 does not */
    mode64(&c);
    CODE_BYTES(0xf6, 0xf9);
    c.regs.gpr[EMU_RAX] = 0xff00;
    c.regs.gpr[EMU_RCX] = 2;
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(c.regs.gpr[EMU_RAX], 0x0080);
    c.regs.rip = CODE;
    c.regs.gpr[EMU_RAX] = 0x0100;
    expect_exc(&c, EMU_VEC_DE, 0);
    /* div with a divisor in MMIO: read once, then #DE for zero */
    mode64(&c);
    CODE_BYTES(0xf7, 0x37);                              /* div dword [rdi] */
    c.regs.gpr[EMU_RDI] = MMIO_BASE + 0x10;
    expect_exc(&c, EMU_VEC_DE, 0);
    assert_int_equal(nmlog, 1);
    printf("PASS: idiv -2^63/-1 and x/0 raise #DE without an error code; quotient limits; MMIO divisor\n");
}

/* --- vector moves: state, exceptions, MMIO --- */

static unsigned loads;
static int load_result;

static int t_load_vec(struct emu_ctx *c)
{
    loads++;
    if (load_result != EMU_OK)
        return load_result;
    for (unsigned r = 0; r < 16; r++)
        memset(c->regs.vec[r].b, (int)(0x10 + r), 32);
    c->regs.xcr0 = 7;
    c->regs.vec_valid = true;
    return EMU_OK;
}

static void sse_mode(struct emu_ctx *c)
{
    mode64(c);
    c->regs.cr4 |= EMU_CR4_OSFXSR | EMU_CR4_OSXSAVE;
    c->load_vec = t_load_vec;
    loads = 0;
    load_result = EMU_OK;
}

static void test_vector_state(void **state)
{
    (void)state;
    struct emu_ctx c;
    /* lazily loaded: the vmm's callback runs once; a load sets vec_dirty */
    sse_mode(&c);
    CODE_BYTES(0xf3, 0x0f, 0x6f, 0x0f);                  /* movdqu xmm1, [rdi] */
    c.regs.gpr[EMU_RDI] = 0x5000;
    for (unsigned i = 0; i < 16; i++)
        ram[0x5000 + i] = (uint8_t)(0xa0 + i);
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(loads, 1);
    assert_true(c.regs.vec_valid && c.regs.vec_dirty);
    assert_memory_equal(c.regs.vec[1].b, ram + 0x5000, 16);
    assert_int_equal(c.regs.vec[1].b[16], 0x11);          /* the upper YMM half kept (legacy SSE) */
    c.regs.rip = CODE;
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(loads, 1);                           /* already valid */
    /* a store leaves the registers clean */
    sse_mode(&c);
    CODE_BYTES(0x66, 0x0f, 0x7f, 0x17);                  /* movdqa [rdi], xmm2 */
    c.regs.gpr[EMU_RDI] = 0x5000;
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_false(c.regs.vec_dirty);
    assert_int_equal(ram[0x5000], 0x12);
    /* misaligned movdqa: #GP(0); the loaded state survives the rollback */
    sse_mode(&c);
    CODE_BYTES(0x66, 0x0f, 0x7f, 0x17);
    c.regs.gpr[EMU_RDI] = 0x5008;
    expect_exc(&c, EMU_VEC_GP, 0);
    assert_true(c.regs.vec_valid);
    /* no state and no callback: #UD; a callback that gives up: EMU_ABORT */
    sse_mode(&c);
    CODE_BYTES(0x66, 0x0f, 0x7f, 0x17);
    c.load_vec = NULL;
    c.regs.gpr[EMU_RDI] = 0x5000;
    expect_exc(&c, EMU_VEC_UD, 0);
    sse_mode(&c);
    CODE_BYTES(0x66, 0x0f, 0x7f, 0x17);
    load_result = EMU_ABORT;
    assert_int_equal(emulate_one(&c), EMU_ABORT);
    assert_int_equal(c.regs.rip, CODE);
    /* CR0.EM or CR4.OSFXSR clear: #UD; CR0.TS: #NM */
    sse_mode(&c);
    CODE_BYTES(0x66, 0x0f, 0x7f, 0x17);
    c.regs.cr0 |= EMU_CR0_EM;
    expect_exc(&c, EMU_VEC_UD, 0);
    c.regs.cr0 &= ~EMU_CR0_EM;
    c.regs.cr4 &= ~EMU_CR4_OSFXSR;
    expect_exc(&c, EMU_VEC_UD, 0);
    c.regs.cr4 |= EMU_CR4_OSFXSR;
    c.regs.cr0 |= EMU_CR0_TS;
    expect_exc(&c, EMU_VEC_NM, 0);
    /* VEX: CR4.OSXSAVE and XCR0 SSE+AVX needed; VEX.128 zeroes the upper half */
    sse_mode(&c);
    CODE_BYTES(0xc5, 0xfa, 0x6f, 0x1f);                  /* vmovdqu xmm3, [rdi] */
    c.regs.gpr[EMU_RDI] = 0x5000;
    c.regs.cr4 &= ~EMU_CR4_OSXSAVE;
    expect_exc(&c, EMU_VEC_UD, 0);
    c.regs.cr4 |= EMU_CR4_OSXSAVE;
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_memory_equal(c.regs.vec[3].b, ram + 0x5000, 16);
    for (unsigned i = 16; i < 32; i++)
        assert_int_equal(c.regs.vec[3].b[i], 0);
    c.regs.rip = CODE;
    c.regs.xcr0 = 3;
    expect_exc(&c, EMU_VEC_UD, 0);
    printf("PASS: vector state: lazy load once, dirty only on register writes, #GP alignment, #UD/#NM rules, VEX upper zeroing\n");
}

static void test_vector_mmio(void **state)
{
    (void)state;
    struct emu_ctx c;
    /* movdqu xmm0, [mmio + 0xff8]: two pages, 8 + 8 */
    sse_mode(&c);
    CODE_BYTES(0xf3, 0x0f, 0x6f, 0x07);
    c.regs.gpr[EMU_RDI] = MMIO_BASE + 0xff8;
    for (unsigned i = 0; i < 16; i++)
        mmio[0xff8 + i] = (uint8_t)i;
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(nmlog, 2);
    assert_true(mlog[0].gpa == MMIO_BASE + 0xff8 && mlog[0].width == 8 && !mlog[0].write);
    assert_true(mlog[1].gpa == MMIO_BASE + 0x1000 && mlog[1].width == 8);
    assert_memory_equal(c.regs.vec[0].b, mmio + 0xff8, 16);
    /* vmovdqu [mmio + 0xffc], ymm1: 4 on the first page, 8+8+8+4 on the second */
    sse_mode(&c);
    CODE_BYTES(0xc5, 0xfe, 0x7f, 0x0f);
    c.regs.gpr[EMU_RDI] = MMIO_BASE + 0xffc;
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_int_equal(nmlog, 5);
    static const unsigned w[5] = { 4, 8, 8, 8, 4 };
    for (unsigned i = 0; i < 5; i++)
        assert_true(mlog[i].write && mlog[i].width == w[i]);
    for (unsigned i = 0; i < 32; i++)
        assert_int_equal(mmio[0xffc + i], 0x11);
    /* movq [mmio], xmm2 (66 0f d6): one 8-byte write; movd eax, xmm2 needs no memory */
    sse_mode(&c);
    CODE_BYTES(0x66, 0x0f, 0xd6, 0x17);
    c.regs.gpr[EMU_RDI] = MMIO_BASE + 0x40;
    assert_int_equal(emulate_one(&c), EMU_OK);
    assert_true(nmlog == 1 && mlog[0].width == 8 && mlog[0].val == 0x1212121212121212ull);
    printf("PASS: vector moves on MMIO: 16 and 32 bytes split into 8-byte accesses at page boundaries\n");
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
        cmocka_unit_test(test_call_ret_modes),
        cmocka_unit_test(test_iret_modes),
        cmocka_unit_test(test_muldiv_edges),
        cmocka_unit_test(test_vector_state),
        cmocka_unit_test(test_vector_mmio),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
