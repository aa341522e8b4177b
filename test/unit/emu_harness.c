/* SPDX-License-Identifier: MIT */
/* emu_harness: the native runner (a generated code page loading registers and RFLAGS, running one instruction, storing them back) and the emulator side with memory callbacks over a copy of the same buffer. */
#define _GNU_SOURCE
#include "emu_harness.h"

#include <asm/prctl.h>
#include <assert.h>
#include <cpuid.h>
#include <setjmp.h>
#include <signal.h>
#include <ucontext.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "../common/xorshift.h"

struct harness H;
uint64_t h_last_target;
unsigned h_last_addr_regs;

#define DATA_OFF 0x1000u   /* a page of its own: this host's hypervisor traps (and cannot emulate AVX) stores into a code page */
#define SLOT_LEN 16u
/* The data area: in[16], in_flags, out[16], out_flags, saved_rsp, YMM0..15 in and out. */
#define D_IN 0u
#define D_INFL 128u
#define D_OUT 136u
#define D_OUTFL 264u
#define D_SAVED 272u
#define D_VIN 320u
#define D_VOUT 832u
_Static_assert(D_VOUT + 512 <= 0x1000, "the data area fits its page");

static uint64_t rng_state;

uint64_t h_rand(void)
{
    return xorshift64s(&rng_state);
}

unsigned h_below(unsigned n)
{
    return xorshift64s_below(&rng_state, n);
}

uint64_t h_rand_flags(void)
{
    return (h_rand() & (EMU_FL_ARITH | EMU_FL_DF)) | EMU_FL_FIXED1;
}

void h_rand_vec(struct tc *t)
{
    for (unsigned r = 0; r < 16; r++)
        for (unsigned i = 0; i < 32; i += 8) {
            uint64_t v = h_rand();
            memcpy(&t->vec[r][i], &v, 8);
        }
}

/* --- the code page --- */

static uint8_t *emit_p;

static void e8(uint8_t b)
{
    *emit_p++ = b;
}

static void e32(uint32_t v)
{
    memcpy(emit_p, &v, 4);
    emit_p += 4;
}

/* An instruction whose last field is a RIP-relative disp32 to target. */
static void eriprel(const uint8_t *pre, unsigned n, const uint8_t *target)
{
    for (unsigned i = 0; i < n; i++)
        e8(pre[i]);
    e32((uint32_t)(int32_t)(target - (emit_p + 4)));
}

/* vmovdqu ymmR, [rip+target] */
static void evec_load(unsigned r, const uint8_t *target)
{
    uint8_t modrm = (uint8_t)(((r & 7) << 3) | 5);
    if (r < 8)
        eriprel((const uint8_t[]){ 0xc5, 0xfe, 0x6f, modrm }, 4, target);
    else
        eriprel((const uint8_t[]){ 0xc4, 0x61, 0x7e, 0x6f, modrm }, 5, target);
}

/* movdqu [rip+target], xmmR — a legacy SSE store: this host's hypervisor now and then
 * emulates a store (dirty tracking, presumably) and turns VEX ones into #UD. */
static void exmm_store(unsigned r, const uint8_t *target)
{
    uint8_t modrm = (uint8_t)(((r & 7) << 3) | 5);
    if (r < 8)
        eriprel((const uint8_t[]){ 0xf3, 0x0f, 0x7f, modrm }, 4, target);
    else
        eriprel((const uint8_t[]){ 0xf3, 0x44, 0x0f, 0x7f, modrm }, 5, target);
}

/* YMM0..15 to target: the low halves, then each upper half through vextractf128 xmmR, ymmR, 1. */
static void evec_store_all(uint8_t *target)
{
    for (unsigned r = 0; r < 16; r++)
        exmm_store(r, target + (size_t)r * 32);
    for (unsigned r = 0; r < 16; r++) {
        uint8_t rb = r < 8 ? 0xe3 : 0x43;   /* R, X, B inverted (X unused), map 0F3A */
        e8(0xc4); e8(rb); e8(0x7d); e8(0x19); e8((uint8_t)(0xc0 | ((r & 7) << 3) | (r & 7))); e8(1);
        exmm_store(r, target + (size_t)r * 32 + 16);
    }
}

static void build_runner(void)
{
    uint8_t *d = H.code + DATA_OFF;
    emit_p = H.code;
    e8(0x53); e8(0x55); e8(0x41); e8(0x54); e8(0x41); e8(0x55); e8(0x41); e8(0x56); e8(0x41); e8(0x57);
    eriprel((const uint8_t[]){ 0x48, 0x89, 0x25 }, 3, d + D_SAVED);          /* mov [saved], rsp */
    eriprel((const uint8_t[]){ 0xff, 0x35 }, 2, d + D_INFL);                 /* push [in_flags] */
    e8(0x9d);                                                                /* popfq */
    for (unsigned r = 0; r < 16; r++)
        evec_load(r, d + D_VIN + (size_t)r * 32);
    for (unsigned r = 0; r < 16; r++) {                                      /* mov r, [in+r] */
        eriprel((const uint8_t[]){ (uint8_t)(0x48 | (r >= 8 ? 4 : 0)), 0x8b,
                                   (uint8_t)(((r & 7) << 3) | 5) }, 3, d + D_IN + (size_t)r * 8);
    }
    H.slot = emit_p;
    memset(emit_p, 0x90, SLOT_LEN);
    emit_p += SLOT_LEN;
    for (unsigned r = 0; r < 16; r++) {                                      /* mov [out+r], r */
        eriprel((const uint8_t[]){ (uint8_t)(0x48 | (r >= 8 ? 4 : 0)), 0x89,
                                   (uint8_t)(((r & 7) << 3) | 5) }, 3, d + D_OUT + (size_t)r * 8);
    }
    evec_store_all(d + D_VOUT);
    e8(0xc5); e8(0xf8); e8(0x77);                                            /* vzeroupper */
    eriprel((const uint8_t[]){ 0x48, 0x8b, 0x25 }, 3, d + D_SAVED);          /* mov rsp, [saved] */
    e8(0x9c);                                                                /* pushfq */
    eriprel((const uint8_t[]){ 0x8f, 0x05 }, 2, d + D_OUTFL);                /* pop [out_flags] */
    e8(0xfc);                                                                /* cld: the C ABI wants DF = 0 */
    e8(0x41); e8(0x5f); e8(0x41); e8(0x5e); e8(0x41); e8(0x5d); e8(0x41); e8(0x5c); e8(0x5d); e8(0x5b);
    e8(0xc3);
    if (emit_p > H.code + DATA_OFF) {
        printf("emu_harness: the runner overlaps its data (%zu bytes)\n", (size_t)(emit_p - H.code));
        exit(1);
    }
}

void h_init(uint64_t seed)
{
    H.seed = seed;
    rng_state = seed ? seed : 1;
    printf("emulate tests: seed 0x%016" PRIx64 " (set EMU_SEED to reproduce)\n", seed);
    if (!H.code) {
        H.code = mmap(NULL, 0x2000, PROT_READ | PROT_WRITE | PROT_EXEC,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
        H.nat = mmap(NULL, H_BUF_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
        H.emu = malloc(H_BUF_SIZE);
        if (H.code == MAP_FAILED || H.nat == MAP_FAILED || !H.emu ||
            mprotect(H.code + DATA_OFF, 0x1000, PROT_READ | PROT_WRITE) != 0) {
            perror("emu_harness: mmap");
            exit(1);
        }
        unsigned a = 0, b = 0, cx = 0, dx = 0;
        __get_cpuid(1, &a, &b, &cx, &dx);
        if (!__builtin_cpu_supports("avx") || !(cx & (1u << 22))) {   /* CPUID.1:ECX.MOVBE */
            printf("emu_harness: this host has no AVX or MOVBE: the native comparisons need both\n");
            exit(1);
        }
        build_runner();
        H.gs_base = 0x200000;
        if (syscall(SYS_arch_prctl, ARCH_SET_GS, H.gs_base) != 0 ||
            syscall(SYS_arch_prctl, ARCH_GET_FS, &H.fs_base) != 0) {
            perror("emu_harness: arch_prctl");
            exit(1);
        }
    }
    for (unsigned i = 0; i < H_BUF_SIZE; i++)
        H.nat[i] = (uint8_t)h_rand();
    static const uint64_t gdt[8] = { [5] = 0x00cff3000000ffffull, [6] = 0x00affb000000ffffull };
    memcpy(H.nat + H_GDT_OFF, gdt, sizeof(gdt));
    memcpy(H.emu, H.nat, H_BUF_SIZE);
}

/* --- the emulator side --- */

static int h_translate(struct emu_ctx *ctx, uint64_t la, enum emu_access acc, bool user,
                       struct emu_xlate *out, struct emu_exception *exc)
{
    const struct tc *t = ctx->opaque;
    uint64_t nat = (uint64_t)(uintptr_t)H.nat, code = (uint64_t)(uintptr_t)H.code;
    (void)user;
    if (la >= H.hole_lo && la < H.hole_hi)
        goto fault;
    if (acc == EMU_ACC_FETCH && la >= code && la < code + 0x1000) {
        out->gpa = la;
        out->hva = H.code + (la - code);
        return EMU_OK;
    }
    if (acc != EMU_ACC_FETCH && la >= nat && la < nat + H_BUF_SIZE) {
        out->gpa = la - nat;
        out->hva = (t && t->mmio) ? NULL : H.emu + (la - nat);
        return EMU_OK;
    }
fault:
    exc->vector = EMU_VEC_PF;
    exc->has_error_code = true;
    exc->error_code = (acc == EMU_ACC_WRITE ? 2u : 0u) | (user ? 4u : 0u) | (acc == EMU_ACC_FETCH ? 16u : 0u);
    exc->cr2 = la;
    return EMU_EXCEPTION;
}

static bool mmio_ok(uint64_t gpa, unsigned width)
{
    if ((width != 1 && width != 2 && width != 4 && width != 8) || gpa + width > H_BUF_SIZE ||
        (gpa & ~0xfffull) != ((gpa + width - 1) & ~0xfffull)) {
        H.mmio_bad = true;
        return false;
    }
    H.mmio_calls++;
    return true;
}

static int h_mmio_read(struct emu_ctx *ctx, uint64_t gpa, unsigned width, uint64_t *val)
{
    (void)ctx;
    *val = 0;
    if (!mmio_ok(gpa, width))
        return EMU_ABORT;
    memcpy(val, H.emu + gpa, width);
    return EMU_OK;
}

static int h_mmio_write(struct emu_ctx *ctx, uint64_t gpa, unsigned width, uint64_t val)
{
    (void)ctx;
    if (!mmio_ok(gpa, width))
        return EMU_ABORT;
    memcpy(H.emu + gpa, &val, width);
    return EMU_OK;
}

static int h_pio_in(struct emu_ctx *ctx, uint16_t port, unsigned width, uint32_t *val)
{
    (void)ctx;
    (void)width;
    *val = 0x11223344u ^ port;
    return EMU_OK;
}

static int h_pio_out(struct emu_ctx *ctx, uint16_t port, unsigned width, uint32_t val)
{
    (void)ctx;
    (void)port;
    (void)width;
    (void)val;
    return EMU_OK;
}

const struct emu_ops h_ops = {
    .translate = h_translate, .mmio_read = h_mmio_read, .mmio_write = h_mmio_write,
    .pio_in = h_pio_in, .pio_out = h_pio_out,
};

void h_ctx64(struct emu_ctx *ctx, const struct tc *t)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->ops = &h_ops;
    ctx->opaque = (void *)(uintptr_t)t;
    struct emu_regs *r = &ctx->regs;
    if (t)
        memcpy(r->gpr, t->gpr, sizeof(r->gpr));
    r->rip = (uint64_t)(uintptr_t)H.slot;
    r->rflags = t ? t->flags : EMU_FL_FIXED1;
    r->cr0 = EMU_CR0_PE | EMU_CR0_PG | (1ull << 16);
    r->cr4 = EMU_CR4_PAE | EMU_CR4_OSFXSR | EMU_CR4_OSXSAVE;
    r->efer = EMU_EFER_LME | EMU_EFER_LMA;
    r->cpl = 3;
    r->gdtr = (struct emu_dtr){ .base = (uint64_t)(uintptr_t)H.nat + H_GDT_OFF, .limit = 0x3f };
    r->xcr0 = 7;   /* x87, SSE, AVX */
    r->vec_valid = true;
    if (t)
        memcpy(r->vec, t->vec, sizeof(r->vec));
    uint32_t data = EMU_SEG_P | EMU_SEG_S | EMU_SEG_TYPE_WR | 1 | (3u << EMU_SEG_DPL_SHIFT) | EMU_SEG_DB | EMU_SEG_G;
    for (unsigned s = 0; s < EMU_NSREG; s++)
        r->seg[s] = (struct emu_seg){ .sel = 0x2b, .attr = data, .limit = 0xffffffff };
    r->seg[EMU_CS] = (struct emu_seg){ .sel = 0x33, .limit = 0xffffffff,
        .attr = EMU_SEG_P | EMU_SEG_S | EMU_SEG_TYPE_CODE | EMU_SEG_TYPE_WR | 1 | (3u << EMU_SEG_DPL_SHIFT) | EMU_SEG_L | EMU_SEG_G };
    r->seg[EMU_FS].base = H.fs_base;
    r->seg[EMU_GS].base = H.gs_base;
}

static void dump(const struct tc *t, const char *why)
{
    printf("FAIL: %s: %s; seed 0x%016" PRIx64 " bytes", t->form, why, H.seed);
    for (unsigned i = 0; i < t->n; i++)
        printf(" %02x", t->b[i]);
    printf("%s\n", t->mmio ? " (mmio)" : "");
}

/* --- the native run; traps (#PF on the hole, #GP, #DE) come back from the signal context --- */

static sigjmp_buf fault_env;
static volatile uint64_t fault_regs[16], fault_rip, fault_addr, fault_err;
static volatile int fault_sig;

static void on_trap(int sig, siginfo_t *si, void *uc_)
{
    const ucontext_t *uc = uc_;
    const greg_t *g = uc->uc_mcontext.gregs;
    static const int map[16] = { REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                                 REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15 };
    uint64_t rip = (uint64_t)g[REG_RIP], code = (uint64_t)(uintptr_t)H.code;
    if (rip < code || rip >= code + 0x1000) {
        signal(sig, SIG_DFL);   /* not the runner: a real crash, let it happen */
        return;
    }
    for (unsigned r = 0; r < 16; r++)
        fault_regs[r] = (uint64_t)g[map[r]];
    fault_rip = rip;
    fault_err = (uint64_t)g[REG_ERR];
    fault_addr = (uint64_t)(uintptr_t)si->si_addr;
    fault_sig = sig;
    siglongjmp(fault_env, 1);
}

/* The runner's signal handlers (on an alternate stack: the instruction runs with the test's
 * RSP), installed again whenever something else (cmocka, between tests) replaced them. */
static void ensure_handlers(void)
{
    static uint8_t altstack[64 * 1024];
    static const int sigs[3] = { SIGSEGV, SIGFPE, SIGILL };
    struct sigaction cur, sa;
    if (sigaction(SIGILL, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_trap)
        return;
    stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
    sigaltstack(&ss, NULL);
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_trap;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (unsigned i = 0; i < 3; i++)
        sigaction(sigs[i], &sa, NULL);
}

unsigned h_spurious_ud, h_traps;

/*
 * Runs t natively; returns true if it trapped (SIGSEGV/SIGFPE), with the CPU's state in
 * fault_*; hole (or NULL) is made inaccessible for the run. This host (a VM) now and then
 * raises #UD on a valid VEX instruction in the runner, and (about once in 10^6 runs) a #GP or
 * #PF where none can be — never reproducibly — so a trap that the instance does not expect
 * (any #UD, any trap outside the instruction, a trap of an instance that cannot trap)
 * restores the buffer (the emulator's copy still holds the state before the run) and runs
 * the instance again, up to 20 times; h_spurious_ud counts those.
 */
static bool run_native(const struct tc *t, uint8_t *hole)
{
    uint64_t *d = (uint64_t *)(void *)(H.code + DATA_OFF);
    assert(H.nat != NULL && H.emu != NULL);   /* h_init() ran */
    for (volatile unsigned attempt = 0;; attempt++) {
        memset(H.slot, 0x90, SLOT_LEN);
        memcpy(H.slot, t->b, t->n);
        memcpy(&d[D_IN / 8], t->gpr, sizeof(t->gpr));
        d[D_INFL / 8] = t->flags;
        memcpy(H.code + DATA_OFF + D_VIN, t->vec, sizeof(t->vec));
        ensure_handlers();
        if (hole)
            mprotect(hole, 0x1000, PROT_NONE);
        volatile bool trapped = false;
        fault_sig = 0;
        if (sigsetjmp(fault_env, 0) == 0)
            ((void (*)(void))(void *)H.code)();
        else
            trapped = true;
        if (hole)
            mprotect(hole, 0x1000, PROT_READ | PROT_WRITE);
        bool expected = fault_sig != SIGILL && fault_rip == (uint64_t)(uintptr_t)H.slot && (t->may_trap || hole);
        if (!trapped || expected || attempt == 20)
            return trapped;
        h_spurious_ud++;
        memcpy(H.nat, H.emu, H_BUF_SIZE);
    }
}

static bool same_memory(const struct tc *t)
{
    char why[120];
    if (memcmp(H.nat, H.emu, H_BUF_SIZE) == 0)
        return true;
    unsigned i = 0;
    while (H.nat[i] == H.emu[i])
        i++;
    snprintf(why, sizeof(why), "memory differs at +0x%x: emulated %02x, cpu %02x", i, H.emu[i], H.nat[i]);
    dump(t, why);
    memcpy(H.emu, H.nat, H_BUF_SIZE);
    return false;
}

/* The native run trapped (not on a hole): the emulator must raise the same vector, and
 * neither may have changed anything. */
static bool check_trap(const struct tc *t)
{
    struct emu_ctx ctx;
    char why[200];
    unsigned want = fault_sig == SIGFPE ? EMU_VEC_DE : EMU_VEC_GP;
    bool ok = true;
    h_traps++;
    h_ctx64(&ctx, t);
    int rc = emulate_one(&ctx);
    if (rc != EMU_EXCEPTION || ctx.exc.vector != want) {
        snprintf(why, sizeof(why), "the CPU trapped (signal %d): expected vector %u, emulator status %d vector %u",
                 fault_sig, want, rc, ctx.exc.vector);
        dump(t, why);
        ok = false;
    }
    if (fault_rip != (uint64_t)(uintptr_t)H.slot) {
        dump(t, "the CPU's trap RIP is not the instruction");
        ok = false;
    }
    for (unsigned r = 0; r < 16; r++) {
        if (r != 4 && (fault_regs[r] != t->gpr[r] || ctx.regs.gpr[r] != t->gpr[r])) {
            snprintf(why, sizeof(why), "r%u after the trap: emulated 0x%" PRIx64 ", cpu 0x%" PRIx64 " (in 0x%" PRIx64 ")",
                     r, ctx.regs.gpr[r], fault_regs[r], t->gpr[r]);
            dump(t, why);
            ok = false;
        }
    }
    return same_memory(t) && ok;
}

bool h_check(const struct tc *t)
{
    uint64_t *d = (uint64_t *)(void *)(H.code + DATA_OFF);
    struct emu_ctx ctx;
    char why[200];

    if (run_native(t, NULL)) {
        if (t->may_trap && fault_sig != SIGILL)
            return check_trap(t);
        char w[160];
        snprintf(w, sizeof(w), "the native run trapped unexpectedly (signal %d at slot%+" PRId64 ", address 0x%" PRIx64 ")",
                 fault_sig, (int64_t)(fault_rip - (uint64_t)(uintptr_t)H.slot), fault_addr);
        dump(t, w);
        memcpy(H.emu, H.nat, H_BUF_SIZE);
        return false;
    }

    h_ctx64(&ctx, t);
    H.mmio_bad = false;
    int rc = emulate_one(&ctx);
    if (rc != EMU_OK) {
        snprintf(why, sizeof(why), "emulate_one returned %d (vector %u)", rc, ctx.exc.vector);
        dump(t, why);
        return false;
    }
    bool ok = true;
    uint64_t want_rip = t->rip_to ? t->rip_to : (uint64_t)(uintptr_t)H.slot + t->n;
    if (ctx.regs.rip != want_rip) {
        snprintf(why, sizeof(why), "rip +%" PRId64 ", expected +%" PRId64,
                 (int64_t)(ctx.regs.rip - (uint64_t)(uintptr_t)H.slot), (int64_t)(want_rip - (uint64_t)(uintptr_t)H.slot));
        dump(t, why);
        ok = false;
    }
    for (unsigned r = 0; r < 16; r++) {
        if (ctx.regs.gpr[r] != d[D_OUT / 8 + r]) {
            snprintf(why, sizeof(why), "r%u: emulated 0x%" PRIx64 ", cpu 0x%" PRIx64 " (in 0x%" PRIx64 ")",
                     r, ctx.regs.gpr[r], d[D_OUT / 8 + r], t->gpr[r]);
            dump(t, why);
            ok = false;
        }
    }
    const uint8_t *vout = H.code + DATA_OFF + D_VOUT;
    for (unsigned r = 0; r < 16; r++) {
        if (memcmp(ctx.regs.vec[r].b, vout + (size_t)r * 32, 32) != 0) {
            uint64_t e[4], c[4];
            memcpy(e, ctx.regs.vec[r].b, 32);
            memcpy(c, vout + (size_t)r * 32, 32);
            snprintf(why, sizeof(why), "ymm%u: emulated %016" PRIx64 "_%016" PRIx64 "_%016" PRIx64 "_%016" PRIx64
                     ", cpu %016" PRIx64 "_%016" PRIx64 "_%016" PRIx64 "_%016" PRIx64,
                     r, e[3], e[2], e[1], e[0], c[3], c[2], c[1], c[0]);
            dump(t, why);
            ok = false;
        }
    }
    uint64_t m = t->fmask | EMU_FL_DF;
    if ((ctx.regs.rflags ^ d[D_OUTFL / 8]) & m) {
        snprintf(why, sizeof(why), "rflags: emulated 0x%" PRIx64 ", cpu 0x%" PRIx64 " (in 0x%" PRIx64 ", compared 0x%" PRIx64 ")",
                 ctx.regs.rflags, d[D_OUTFL / 8], t->flags, m);
        dump(t, why);
        ok = false;
    }
    if (!same_memory(t))
        ok = false;
    if (H.mmio_bad) {
        dump(t, "an MMIO callback got a bad width or a page-crossing access");
        ok = false;
    }
    return ok;
}

bool h_check_fault(const struct tc *t, unsigned hole_off)
{
    uint8_t *hole = H.nat + hole_off;
    struct emu_ctx ctx;
    char why[200];

    if (!run_native(t, hole) || fault_sig != SIGSEGV) {
        dump(t, "the native run did not fault: bad test case");
        memcpy(H.emu, H.nat, H_BUF_SIZE);
        return false;
    }
    bool ok = true;

    h_ctx64(&ctx, t);
    H.hole_lo = (uint64_t)(uintptr_t)hole;
    H.hole_hi = H.hole_lo + 0x1000;
    int rc = emulate_one(&ctx);
    H.hole_lo = H.hole_hi = 0;
    if (rc != EMU_EXCEPTION || ctx.exc.vector != EMU_VEC_PF) {
        snprintf(why, sizeof(why), "expected #PF, got status %d vector %u", rc, ctx.exc.vector);
        dump(t, why);
        return false;
    }
    if (ctx.exc.cr2 != fault_addr || (ctx.exc.error_code & 2) != (fault_err & 2)) {
        snprintf(why, sizeof(why), "#PF cr2 0x%" PRIx64 " ec %u, cpu cr2 0x%" PRIx64 " ec %" PRIu64,
                 ctx.exc.cr2, ctx.exc.error_code, fault_addr, fault_err);
        dump(t, why);
        ok = false;
    }
    if (fault_rip != (uint64_t)(uintptr_t)H.slot || ctx.regs.rip != fault_rip) {
        dump(t, "RIP at the fault is not the instruction");
        ok = false;
    }
    for (unsigned r = 0; r < 16; r++) {
        if (r != 4 && ctx.regs.gpr[r] != fault_regs[r]) {
            snprintf(why, sizeof(why), "r%u at the fault: emulated 0x%" PRIx64 ", cpu 0x%" PRIx64 " (in 0x%" PRIx64 ")",
                     r, ctx.regs.gpr[r], fault_regs[r], t->gpr[r]);
            dump(t, why);
            ok = false;
        }
    }
    return same_memory(t) && ok;
}

/* --- the ModRM encoder --- */

static int pick_reg(void)
{
    return (int)h_below(16);
}

bool h_gen_rm(struct tc *t, const struct rm_form *f)
{
    uint8_t pre[8], body[16];
    unsigned np = 0, nb = 0;
    unsigned rex = 0;
    bool want_rex = h_below(2);
    bool addr32 = h_below(4) == 0;
    bool use_mem = f->mem_only || !f->reg_allowed || h_below(4) != 0;
    int reg = f->digit >= 0 ? f->digit : pick_reg();
    uint64_t segbase = 0;
    int seg = -1;

    memset(t, 0, sizeof(*t));
    h_last_addr_regs = 0;
    t->form = f->name;
    t->fmask = f->fmask;
    t->may_trap = f->may_trap;
    t->flags = h_rand_flags();
    for (unsigned r = 0; r < 16; r++)
        t->gpr[r] = h_rand();
    h_rand_vec(t);
    if (!f->no_seg && use_mem) {
        static const uint8_t segp[] = { 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65 };
        unsigned k = h_below(12);
        if (k < 6) {
            seg = segp[k];
            if (seg == 0x64) {
                segbase = H.fs_base;
                addr32 = false;
            } else if (seg == 0x65) {
                segbase = H.gs_base;
            }
        }
    }
    if (f->lock)
        pre[np++] = 0xf0;
    if (seg >= 0)
        pre[np++] = (uint8_t)seg;
    if (f->opsize == 2 && !f->vex)
        pre[np++] = 0x66;
    if (f->mprefix)
        pre[np++] = f->mprefix;
    if (addr32 && use_mem)
        pre[np++] = 0x67;
    /* shuffle legacy prefixes: their order does not matter */
    for (unsigned i = np; i > 1; i--) {
        unsigned j = h_below(i);
        uint8_t x = pre[i - 1];
        pre[i - 1] = pre[j];
        pre[j] = x;
    }
    if (f->opsize == 8 && !f->rex_w_ignored)
        rex |= 8;
    if (f->digit < 0 && (reg & 8))
        rex |= 4;

    uint64_t lo = (uint64_t)(uintptr_t)H.nat + H_TARGET_LO + f->slack;
    uint64_t hi = (uint64_t)(uintptr_t)H.nat + H_TARGET_HI - f->slack - f->access;
    uint64_t target = lo + h_below((unsigned)(hi - lo));
    if (f->align && h_below(8) && ((target + f->align - 1) & ~(uint64_t)(f->align - 1)) <= hi)
        target = (target + f->align - 1) & ~(uint64_t)(f->align - 1);
    bool riprel = false;
    int32_t disp = 0;
    unsigned disp_off = 0, disp_size = 0;

    if (!use_mem) {
        int rm = pick_reg();
        if (rm & 8)
            rex |= 1;
        body[nb++] = (uint8_t)(0xc0 | ((reg & 7) << 3) | (rm & 7));
    } else {
        unsigned mode = h_below(6);   /* 0 [b] 1 [b+d8] 2 [b+d32] 3 [b+i*s+d] 4 [d32] 5 [rip+d32] */
        if (seg == 0x64 && (mode == 4 || mode == 5))
            mode = 2;
        int base = pick_reg(), index = -1;
        unsigned scale = 1;
        uint64_t amask = addr32 ? 0xffffffffull : ~0ull;
        if (mode == 0 && (base & 7) == 5)
            mode = 1;
        if (mode == 3) {
            do index = pick_reg(); while (index == 4);
            scale = 1u << h_below(4);
        }
        if (mode == 1)
            disp = (int32_t)(int8_t)(uint8_t)h_rand();
        else if (mode == 2 || mode == 3)
            disp = (int32_t)(h_rand() % 4096) - 2048;
        if (mode == 4)
            disp = (int32_t)(target - segbase);
        if (mode <= 3) {
            uint64_t iv = 0;
            if (index >= 0) {
                iv = (uint64_t)((int64_t)h_below(129) - 64);
                if (addr32)
                    iv = (iv & 0xffffffffull) | (h_rand() << 32);
                t->gpr[index] = iv;
            }
            uint64_t bv;
            if (index == base) {
                bv = (target - segbase - (uint64_t)(int64_t)disp) & amask;
                bv /= (1 + scale);
                t->gpr[base] = bv;
            } else {
                bv = target - segbase - (uint64_t)(int64_t)disp - iv * scale;
                if (addr32)
                    bv = (bv & 0xffffffffull) | (h_rand() << 32);
                t->gpr[base] = bv;
            }
            h_last_addr_regs = (1u << base) | (index >= 0 ? 1u << index : 0);
            uint64_t ea = (t->gpr[base] + (index >= 0 ? t->gpr[index] * scale : 0) + (uint64_t)(int64_t)disp) & amask;
            target = ea + segbase;
            if (target < lo - f->slack || target > hi + f->slack)
                return false;
            unsigned mod = mode == 0 ? 0 : mode == 1 ? 1 : 2;
            if (mode == 3 && disp == 0 && (base & 7) != 5 && h_below(2))
                mod = 0;
            if (mode == 3 && mod == 2 && disp >= -128 && disp <= 127 && h_below(2))
                mod = 1;
            if (base & 8)
                rex |= 1;
            if (mode == 3 || (base & 7) == 4) {
                int ix = mode == 3 ? index : 4;
                if (ix & 8)
                    rex |= 2;
                body[nb++] = (uint8_t)((mod << 6) | ((reg & 7) << 3) | 4);
                body[nb++] = (uint8_t)((__builtin_ctz(scale) << 6) | ((ix & 7) << 3) | (base & 7));
            } else {
                body[nb++] = (uint8_t)((mod << 6) | ((reg & 7) << 3) | (base & 7));
            }
            if (mod == 1) {
                body[nb++] = (uint8_t)disp;
            } else if (mod == 2) {
                disp_off = nb;
                disp_size = 4;
                nb += 4;
            }
        } else if (mode == 4) {
            body[nb++] = (uint8_t)(((reg & 7) << 3) | 4);
            body[nb++] = 0x25;
            disp_off = nb;
            disp_size = 4;
            nb += 4;
        } else {
            body[nb++] = (uint8_t)(((reg & 7) << 3) | 5);
            riprel = true;
            disp_off = nb;
            disp_size = 4;
            nb += 4;
        }
    }
    for (unsigned i = 0; i < f->immsize; i++)
        body[nb++] = (uint8_t)h_rand();
    if (f->vex) {
        /* VEX in place of REX and the mandatory prefix (map 0F): the 2-byte form when it
         * can say it all, else (or at random) the 3-byte one. R, X, B are inverted. */
        uint8_t l_pp = (uint8_t)((f->vex_l ? 4 : 0) | f->vex_pp);
        if (!(rex & (8 | 2 | 1)) && h_below(2)) {
            pre[np++] = 0xc5;
            pre[np++] = (uint8_t)(((rex & 4) ? 0 : 0x80) | 0x78 | l_pp);
        } else {
            pre[np++] = 0xc4;
            pre[np++] = (uint8_t)(((rex & 4) ? 0 : 0x80) | ((rex & 2) ? 0 : 0x40) | ((rex & 1) ? 0 : 0x20) | 1);
            pre[np++] = (uint8_t)(((rex & 8) ? 0x80 : 0) | 0x78 | l_pp);
        }
    } else if (rex || want_rex) {
        pre[np++] = (uint8_t)(0x40 | rex);
    }
    unsigned n = 0;
    if (np + f->oplen + nb > 15)
        return false;
    memcpy(t->b, pre, np);
    n = np;
    memcpy(t->b + n, f->op, f->oplen);
    n += f->oplen;
    unsigned body_at = n;
    memcpy(t->b + n, body, nb);
    n += nb;
    t->n = n;
    if (riprel) {
        uint64_t next = (uint64_t)(uintptr_t)H.slot + n;
        disp = (int32_t)(target - segbase - next);
    }
    if (disp_size)
        memcpy(t->b + body_at + disp_off, &disp, 4);
    h_last_target = target;
    return true;
}
