/* SPDX-License-Identifier: MIT */
/* muldiv: mul/imul (one, two and three operands) and div/idiv with #DE on a zero divisor or a quotient that does not fit. */
#include "emu_internal.h"

typedef unsigned __int128 u128;

/* Sign-extends the low `bits` of v to 64 bits. */
static int64_t sext(uint64_t v, unsigned bits)
{
    return bits >= 64 ? (int64_t)v : (int64_t)(v << (64 - bits)) >> (64 - bits);
}

/* CF and OF together (mul/imul define only these two; SF ZF AF PF are undefined and left
 * unchanged). */
static void set_cf_of(struct emu_ctx *ctx, bool v)
{
    ctx->regs.rflags &= ~(EMU_FL_CF | EMU_FL_OF);
    if (v)
        ctx->regs.rflags |= EMU_FL_CF | EMU_FL_OF;
}

/* The accumulator pair for `size`: AX (size 1: AL and AH of it) or DX:AX / EDX:EAX / RDX:RAX. */
static void write_pair(struct emu_ctx *ctx, unsigned size, uint64_t lo, uint64_t hi)
{
    if (size == 1) {
        emu_set_reg(ctx, EMU_RAX, false, 2, (lo & 0xff) | ((hi & 0xff) << 8));
        return;
    }
    emu_set_reg(ctx, EMU_RAX, false, size, lo);
    emu_set_reg(ctx, EMU_RDX, false, size, hi);
}

static uint64_t read_dividend_hi(const struct emu_ctx *ctx, unsigned size)
{
    return size == 1 ? emu_get_reg(ctx, EMU_RAX, true, 1) : emu_get_reg(ctx, EMU_RDX, false, size);
}

/* One-operand mul/imul: the accumulator times r/m into the pair. */
static void mul1(struct emu_ctx *ctx, bool sign, unsigned size, uint64_t src)
{
    unsigned bits = size * 8;
    uint64_t m = emu_size_mask(size), a = emu_get_reg(ctx, EMU_RAX, false, size);
    uint64_t lo, hi;
    bool wide;
    if (sign) {
        __int128 p = (__int128)sext(a, bits) * sext(src, bits);
        lo = (uint64_t)p & m;
        hi = (uint64_t)(p >> bits) & m;
        wide = p != (__int128)sext(lo, bits);
    } else {
        u128 p = (u128)a * src;
        lo = (uint64_t)p & m;
        hi = (uint64_t)(p >> bits) & m;
        wide = hi != 0;
    }
    write_pair(ctx, size, lo, hi);
    set_cf_of(ctx, wide);
}

/* div/idiv: the pair over r/m, quotient to the accumulator, remainder to DX (AH). */
static int div1(struct emu_ctx *ctx, bool sign, unsigned size, uint64_t src)
{
    unsigned bits = size * 8;
    uint64_t m = emu_size_mask(size);
    uint64_t lo = size == 1 ? emu_get_reg(ctx, EMU_RAX, false, 1) : emu_get_reg(ctx, EMU_RAX, false, size);
    uint64_t hi = read_dividend_hi(ctx, size);
    u128 n = ((u128)hi << bits) | lo;          /* the 2*bits-bit dividend */
    uint64_t q, r;
    if (src == 0)
        return emu_raise(ctx, EMU_VEC_DE, false, 0);
    if (!sign) {
        u128 qq = n / src;
        if (qq > m)
            return emu_raise(ctx, EMU_VEC_DE, false, 0);
        q = (uint64_t)qq;
        r = (uint64_t)(n % src);
    } else {
        /* Magnitudes in unsigned 128-bit arithmetic: no overflow for -2^127 / -1. */
        bool nneg = bits == 64 ? (hi >> 63) != 0 : ((n >> (2 * bits - 1)) & 1) != 0;
        bool dneg = sext(src, bits) < 0;
        u128 nmag = n, dmag = (u128)(uint64_t)(dneg ? -(uint64_t)sext(src, bits) : (uint64_t)sext(src, bits));
        if (nneg)
            nmag = bits == 64 ? (u128)0 - n : ((u128)1 << (2 * bits)) - n;
        u128 qm = nmag / dmag, rm = nmag % dmag;
        u128 limit = (u128)1 << (bits - 1);    /* |q| <= 2^(bits-1) - 1, or 2^(bits-1) if negative */
        bool qneg = nneg != dneg;
        if (qneg ? qm > limit : qm >= limit)
            return emu_raise(ctx, EMU_VEC_DE, false, 0);
        q = (uint64_t)(qneg ? (u128)0 - qm : qm) & m;
        r = (uint64_t)(nneg ? (u128)0 - rm : rm) & m;
    }
    /* All six arithmetic flags are undefined after div/idiv: left unchanged. */
    write_pair(ctx, size, q, r);
    return EMU_OK;
}

int emu_exec_muldiv(struct emu_ctx *ctx, const struct emu_insn *insn)
{
    unsigned size = insn->opsize, bits = size * 8;
    uint64_t src = 0;
    int rc;

    if (insn->op == OP_IMUL && insn->nopnd >= 2) {
        /* imul r, r/m (dest *= src) or imul r, r/m, imm (dest = src * imm) */
        const struct emu_opnd *d = &insn->o[0];
        uint64_t a = 0, b = 0;
        if (d->kind != OPND_REG)
            return emu_raise(ctx, EMU_VEC_UD, false, 0);
        if ((rc = emu_read_opnd(ctx, insn, &insn->o[1], size, &a)) != EMU_OK)
            return rc;
        if (insn->nopnd == 3)
            b = insn->o[2].imm & emu_size_mask(size);   /* imm8/imm32, sign-extended by the decoder */
        else
            b = emu_get_reg(ctx, d->reg, d->high8, size);
        __int128 p = (__int128)sext(a, bits) * sext(b, bits);
        uint64_t res = (uint64_t)p & emu_size_mask(size);
        emu_set_reg(ctx, d->reg, d->high8, size, res);
        set_cf_of(ctx, p != (__int128)sext(res, bits));
        return EMU_OK;
    }
    if ((rc = emu_read_opnd(ctx, insn, &insn->o[0], size, &src)) != EMU_OK)
        return rc;
    switch (insn->op) {
    case OP_MUL: mul1(ctx, false, size, src); return EMU_OK;
    case OP_IMUL: mul1(ctx, true, size, src); return EMU_OK;
    case OP_DIV: return div1(ctx, false, size, src);
    default: return div1(ctx, true, size, src);
    }
}
