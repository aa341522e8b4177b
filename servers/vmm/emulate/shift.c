/* SPDX-License-Identifier: MIT */
/* shift: shl/shr/sar, rol/ror/rcl/rcr and shld/shrd — by 1, by an immediate, by CL — with the flags the SDM defines. */
#include "emu_internal.h"

/*
 * The count is masked to 5 bits (6 with a 64-bit operand); a masked count of 0 changes
 * neither the operand nor a flag. Defined flags, as the SDM gives them:
 *   shl/shr/sar: CF = the last bit shifted out (undefined for shl/shr when the count is >= the
 *     operand size; sar then gives the sign), SF ZF PF from the result, OF only for count 1
 *     (shl: MSB(result) ^ CF; shr: MSB(operand); sar: 0); AF undefined.
 *   rol/ror/rcl/rcr: only CF and OF change; OF only for count 1. rcl/rcr rotate through CF
 *     (size + 1 bits: 8-bit counts are taken mod 9, 16-bit mod 17).
 *   shld/shrd: like shl/shr of the operand with the source's bits shifted in; a 16-bit
 *     count above 16 leaves result and flags undefined.
 * Undefined flags: OF is computed with the count-1 formula whatever the count, AF is cleared
 * (the tests compare only defined flags; see docs/architecture.md).
 */

struct shift_arg {
    enum emu_op op;
    unsigned size;
    unsigned count;    /* masked */
    uint64_t src;      /* shld/shrd: the bits shifted in */
    uint64_t flags_in, flags_out;
};

static uint64_t msb(uint64_t v, unsigned bits)
{
    return (v >> (bits - 1)) & 1;
}

static uint64_t szp(uint64_t res, unsigned bits)
{
    uint64_t f = 0;
    if (res == 0)
        f |= EMU_FL_ZF;
    if (msb(res, bits))
        f |= EMU_FL_SF;
    if (!__builtin_parity((unsigned)(res & 0xff)))
        f |= EMU_FL_PF;
    return f;
}

static uint64_t rotate(const struct shift_arg *a, uint64_t v, uint64_t *fl)
{
    unsigned bits = a->size * 8, c = a->count;
    uint64_t m = emu_size_mask(a->size), cf = (*fl & EMU_FL_CF) ? 1 : 0, of = 0, res = v;
    switch (a->op) {
    case OP_ROL: {
        unsigned r = c % bits;
        res = r ? ((v << r) | (v >> (bits - r))) & m : v;
        cf = res & 1;
        of = msb(res, bits) ^ cf;
        break;
    }
    case OP_ROR: {
        unsigned r = c % bits;
        res = r ? ((v >> r) | (v << (bits - r))) & m : v;
        cf = msb(res, bits);
        of = msb(res, bits) ^ ((res >> (bits - 2)) & 1);
        break;
    }
    case OP_RCL: {
        unsigned r = bits == 8 ? c % 9 : bits == 16 ? c % 17 : c;
        for (unsigned i = 0; i < r; i++) {
            uint64_t out = msb(res, bits);
            res = ((res << 1) | cf) & m;
            cf = out;
        }
        of = msb(res, bits) ^ cf;
        break;
    }
    default: {   /* OP_RCR: OF from the operand and CF before rotating */
        unsigned r = bits == 8 ? c % 9 : bits == 16 ? c % 17 : c;
        of = msb(v, bits) ^ cf;
        for (unsigned i = 0; i < r; i++) {
            uint64_t out = res & 1;
            res = (res >> 1) | (cf << (bits - 1));
            cf = out;
        }
        break;
    }
    }
    *fl = (*fl & ~(EMU_FL_CF | EMU_FL_OF)) | (cf ? EMU_FL_CF : 0) | (of ? EMU_FL_OF : 0);
    return res;
}

static uint64_t shift(const struct shift_arg *a, uint64_t v, uint64_t *fl)
{
    unsigned bits = a->size * 8, c = a->count;
    uint64_t m = emu_size_mask(a->size), res, cf, of;
    switch (a->op) {
    case OP_SHL:
        res = c >= bits ? 0 : (v << c) & m;
        cf = c > bits ? 0 : (v >> (bits - c)) & 1;
        of = msb(res, bits) ^ cf;
        break;
    case OP_SHR:
        res = c >= bits ? 0 : v >> c;
        cf = c > bits ? 0 : (v >> (c - 1)) & 1;
        of = msb(v, bits);
        break;
    case OP_SAR: {
        int64_t sv = (int64_t)(v << (64 - bits)) >> (64 - bits);
        res = (uint64_t)(sv >> (c >= bits ? bits - 1 : c)) & m;
        cf = (uint64_t)(sv >> (c - 1 >= bits ? bits - 1 : c - 1)) & 1;
        of = 0;
        break;
    }
    case OP_SHLD: {
        /* dest:src shifted left. Beyond 16 bits (16-bit operands only) the result is
         * undefined: this shifts the 48-bit dest:src:dest pattern (any fixed choice will do). */
        if (c > bits) {
            uint64_t w = (v << 32) | (a->src << 16) | v;
            res = (w >> (48 - c)) & m;
            cf = (w >> (48 - c + bits)) & 1;
        } else {
            res = ((v << c) | (c == bits ? a->src : a->src >> (bits - c))) & m;
            cf = (v >> (bits - c)) & 1;
        }
        of = msb(res, bits) ^ msb(v, bits);
        break;
    }
    default: {   /* OP_SHRD */
        if (c > bits) {
            uint64_t w = (v << 32) | (a->src << 16) | v;
            res = (w >> (c - 16)) & m;
            cf = (w >> (c - 17)) & 1;
        } else {
            res = ((v >> c) | (c == bits ? a->src : a->src << (bits - c))) & m;
            cf = (v >> (c - 1)) & 1;
        }
        of = msb(res, bits) ^ msb(v, bits);
        break;
    }
    }
    *fl = (*fl & ~EMU_FL_ARITH) | szp(res, bits) | (cf ? EMU_FL_CF : 0) | (of ? EMU_FL_OF : 0);
    return res;
}

static bool shift_fn(void *p, uint64_t old, uint64_t *nv)
{
    struct shift_arg *a = p;
    a->flags_out = a->flags_in;
    if (a->count == 0)
        return false;   /* nothing changes; the operand was still checked for writing */
    if (a->op == OP_ROL || a->op == OP_ROR || a->op == OP_RCL || a->op == OP_RCR)
        *nv = rotate(a, old, &a->flags_out);
    else
        *nv = shift(a, old, &a->flags_out);
    return true;
}

int emu_exec_shift(struct emu_ctx *ctx, const struct emu_insn *insn)
{
    const struct emu_opnd *d = &insn->o[0];
    const struct emu_opnd *co = insn->op == OP_SHLD || insn->op == OP_SHRD ? &insn->o[2] : &insn->o[1];
    unsigned size = insn->opsize;
    struct shift_arg a = { .op = insn->op, .size = size, .flags_in = ctx->regs.rflags };
    uint64_t cnt = co->kind == OPND_IMM ? co->imm : emu_get_reg(ctx, EMU_RCX, false, 1);
    uint64_t old = 0, nv = 0;

    if (insn->nopnd < 2 || (co->kind != OPND_IMM && co->kind != OPND_REG))
        return emu_raise(ctx, EMU_VEC_UD, false, 0);
    a.count = (unsigned)(cnt & (size == 8 ? 0x3f : 0x1f));
    if (insn->op == OP_SHLD || insn->op == OP_SHRD)
        a.src = emu_get_reg(ctx, insn->o[1].reg, insn->o[1].high8, size);
    if (d->kind == OPND_MEM) {
        int rc = emu_rmw(ctx, emu_ea(ctx, insn, d), size, false, shift_fn, &a, &old);
        if (rc != EMU_OK)
            return rc;
    } else if (d->kind == OPND_REG) {
        old = emu_get_reg(ctx, d->reg, d->high8, size);
        if (shift_fn(&a, old, &nv))
            emu_set_reg(ctx, d->reg, d->high8, size, nv);
        else if (size == 4)
            emu_set_reg(ctx, d->reg, false, 4, old);   /* a 32-bit destination is written (zero-extended) even so */
    } else {
        return emu_raise(ctx, EMU_VEC_UD, false, 0);
    }
    ctx->regs.rflags = a.flags_out;
    return EMU_OK;
}
