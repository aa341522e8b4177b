/* SPDX-License-Identifier: MIT */
/* rmw: the read-modify-write instructions — ALU ops, bt*, xchg, cmpxchg, xadd — and LOCK. */
#include "emu_internal.h"

/* What an update function needs (emu_rmw may call it again when a locked CAS loses a race,
 * so it recomputes from the old value and leaves its flags in flags_out). */
struct alu_arg {
    enum emu_op op;
    unsigned size;
    uint64_t src;
    uint64_t flags_in, flags_out;
    uint64_t acc;      /* cmpxchg: the accumulator */
    unsigned bit;      /* bts/btr/btc */
};

static bool alu_fn(void *p, uint64_t old, uint64_t *nv)
{
    struct alu_arg *a = p;
    a->flags_out = a->flags_in;
    *nv = emu_alu(a->op, a->size, old, a->src, &a->flags_out);
    return true;
}

static bool bit_fn(void *p, uint64_t old, uint64_t *nv)
{
    struct alu_arg *a = p;
    uint64_t m = 1ull << a->bit;
    *nv = a->op == OP_BTS ? old | m : a->op == OP_BTR ? old & ~m : old ^ m;
    return true;
}

static bool xchg_fn(void *p, uint64_t old, uint64_t *nv)
{
    (void)old;
    *nv = ((struct alu_arg *)p)->src;
    return true;
}

static bool cmpxchg_fn(void *p, uint64_t old, uint64_t *nv)
{
    struct alu_arg *a = p;
    if (old != a->acc)
        return false;
    *nv = a->src;
    return true;
}

static bool xadd_fn(void *p, uint64_t old, uint64_t *nv)
{
    struct alu_arg *a = p;
    a->flags_out = a->flags_in;
    *nv = emu_alu(OP_ADD, a->size, old, a->src, &a->flags_out);
    return true;
}

bool emu_lockable(enum emu_op op)
{
    switch (op) {
    case OP_ADD: case OP_OR: case OP_ADC: case OP_SBB: case OP_AND: case OP_SUB: case OP_XOR:
    case OP_INC: case OP_DEC: case OP_NEG: case OP_NOT:
    case OP_BTS: case OP_BTR: case OP_BTC: case OP_XCHG: case OP_CMPXCHG: case OP_XADD:
        return true;
    default:
        return false;
    }
}

int emu_exec_alu(struct emu_ctx *ctx, const struct emu_insn *insn)
{
    const struct emu_opnd *d = &insn->o[0];
    unsigned size = insn->opsize;
    struct alu_arg a = { .op = insn->op, .size = size, .flags_in = ctx->regs.rflags };
    uint64_t old = 0;
    int rc;

    if (insn->nopnd > 1 && (rc = emu_read_opnd(ctx, insn, &insn->o[1], size, &a.src)) != EMU_OK)
        return rc;
    if (insn->op == OP_CMP || insn->op == OP_TEST || d->kind != OPND_MEM) {
        if ((rc = emu_read_opnd(ctx, insn, d, size, &old)) != EMU_OK)
            return rc;
        alu_fn(&a, old, &old);
        if (insn->op != OP_CMP && insn->op != OP_TEST)
            emu_set_reg(ctx, d->reg, d->high8, size, old);
    } else if ((rc = emu_rmw(ctx, emu_ea(ctx, insn, d), size, insn->lock, alu_fn, &a, &old)) != EMU_OK) {
        return rc;
    }
    ctx->regs.rflags = a.flags_out;
    return EMU_OK;
}

int emu_exec_bt(struct emu_ctx *ctx, const struct emu_insn *insn)
{
    const struct emu_opnd *d = &insn->o[0];
    unsigned size = insn->opsize, bits = size * 8;
    struct alu_arg a = { .op = insn->op, .size = size };
    uint64_t v = 0;
    int rc;

    if (insn->o[1].kind == OPND_IMM) {
        a.bit = (unsigned)(insn->o[1].imm & (bits - 1));
    } else {
        uint64_t off = emu_get_reg(ctx, insn->o[1].reg, insn->o[1].high8, size);
        a.bit = (unsigned)(off & (bits - 1));
        if (d->kind == OPND_MEM) {
            /* A register bit offset is signed and reaches outside the operand: the access is
             * the operand-sized unit holding the bit. */
            int64_t soff = (int64_t)(off << (64 - bits)) >> (64 - bits);
            struct emu_addr ad = emu_ea(ctx, insn, d);
            ad.ea = (ad.ea + (uint64_t)((soff >> __builtin_ctz(bits)) * (int64_t)size)) &
                    emu_addr_mask(insn->addrsize);
            if (insn->op == OP_BT)
                rc = emu_read(ctx, ad, size, &v);
            else
                rc = emu_rmw(ctx, ad, size, insn->lock, bit_fn, &a, &v);
            goto done;
        }
    }
    if (d->kind == OPND_MEM) {
        if (insn->op == OP_BT)
            rc = emu_read(ctx, emu_ea(ctx, insn, d), size, &v);
        else
            rc = emu_rmw(ctx, emu_ea(ctx, insn, d), size, insn->lock, bit_fn, &a, &v);
    } else {
        uint64_t nv;
        v = emu_get_reg(ctx, d->reg, d->high8, size);
        bit_fn(&a, v, &nv);
        if (insn->op != OP_BT)
            emu_set_reg(ctx, d->reg, d->high8, size, nv);
        rc = EMU_OK;
    }
done:
    if (rc != EMU_OK)
        return rc;
    /* Only CF is defined (ZF unchanged; OF SF AF PF undefined: left unchanged). */
    ctx->regs.rflags = (ctx->regs.rflags & ~EMU_FL_CF) | ((v >> a.bit) & 1);
    return EMU_OK;
}

int emu_exec_xchg(struct emu_ctx *ctx, const struct emu_insn *insn)
{
    const struct emu_opnd *m = &insn->o[0], *r = &insn->o[1];
    unsigned size = insn->opsize;
    struct alu_arg a = { .size = size };
    uint64_t old = 0;
    int rc;
    if (m->kind != OPND_MEM) {
        const struct emu_opnd *t = m;
        m = r;
        r = t;
    }
    if (r->kind != OPND_REG)
        return emu_raise(ctx, EMU_VEC_UD, false, 0);
    a.src = emu_get_reg(ctx, r->reg, r->high8, size);
    if (m->kind == OPND_REG) {
        old = emu_get_reg(ctx, m->reg, m->high8, size);
        emu_set_reg(ctx, m->reg, m->high8, size, a.src);
    } else if ((rc = emu_rmw(ctx, emu_ea(ctx, insn, m), size, true, xchg_fn, &a, &old)) != EMU_OK) {
        return rc;   /* xchg with memory is always locked */
    }
    emu_set_reg(ctx, r->reg, r->high8, size, old);
    return EMU_OK;
}

int emu_exec_cmpxchg(struct emu_ctx *ctx, const struct emu_insn *insn)
{
    const struct emu_opnd *d = &insn->o[0], *s = &insn->o[1];
    unsigned size = insn->opsize;
    struct alu_arg a = { .size = size };
    uint64_t old = 0, fl = ctx->regs.rflags;
    a.acc = emu_get_reg(ctx, EMU_RAX, false, size);
    a.src = emu_get_reg(ctx, s->reg, s->high8, size);
    if (d->kind == OPND_MEM) {
        int rc = emu_rmw(ctx, emu_ea(ctx, insn, d), size, insn->lock, cmpxchg_fn, &a, &old);
        if (rc != EMU_OK)
            return rc;
    } else {
        old = emu_get_reg(ctx, d->reg, d->high8, size);
        if (old == a.acc)
            emu_set_reg(ctx, d->reg, d->high8, size, a.src);
    }
    emu_alu(OP_CMP, size, a.acc, old, &fl);
    if (old != a.acc)
        emu_set_reg(ctx, EMU_RAX, false, size, old);
    ctx->regs.rflags = fl;
    return EMU_OK;
}

int emu_exec_xadd(struct emu_ctx *ctx, const struct emu_insn *insn)
{
    const struct emu_opnd *d = &insn->o[0], *s = &insn->o[1];
    unsigned size = insn->opsize;
    struct alu_arg a = { .size = size, .flags_in = ctx->regs.rflags };
    uint64_t old = 0, nv = 0;
    a.src = emu_get_reg(ctx, s->reg, s->high8, size);
    if (d->kind == OPND_MEM) {
        int rc = emu_rmw(ctx, emu_ea(ctx, insn, d), size, insn->lock, xadd_fn, &a, &old);
        if (rc != EMU_OK)
            return rc;
        emu_set_reg(ctx, s->reg, s->high8, size, old);
    } else {
        old = emu_get_reg(ctx, d->reg, d->high8, size);
        xadd_fn(&a, old, &nv);
        emu_set_reg(ctx, s->reg, s->high8, size, old);
        emu_set_reg(ctx, d->reg, d->high8, size, nv);
    }
    ctx->regs.rflags = a.flags_out;
    return EMU_OK;
}
