/* SPDX-License-Identifier: MIT */
/* exec: emulate_one() — the mode, the register file, and dispatch of each decoded instruction. */
#include "emu_internal.h"

enum emu_mode emu_mode(const struct emu_regs *r)
{
    if (!(r->cr0 & EMU_CR0_PE))
        return EMU_MODE_REAL;
    if ((r->efer & EMU_EFER_LMA) && (r->seg[EMU_CS].attr & EMU_SEG_L))
        return EMU_MODE_LONG64;
    if (!(r->efer & EMU_EFER_LMA) && (r->rflags & EMU_FL_VM))
        return EMU_MODE_VM86;
    return (r->seg[EMU_CS].attr & EMU_SEG_DB) ? EMU_MODE_PROT32 : EMU_MODE_PROT16;
}

uint64_t emu_get_reg(const struct emu_ctx *ctx, unsigned reg, bool high8, unsigned size)
{
    uint64_t v = ctx->regs.gpr[reg & 15];
    if (high8)
        return (v >> 8) & 0xff;
    return v & emu_size_mask(size);
}

/* Writes as the CPU does: 8/16-bit writes merge, 32-bit writes zero-extend. */
void emu_set_reg(struct emu_ctx *ctx, unsigned reg, bool high8, unsigned size, uint64_t val)
{
    uint64_t *p = &ctx->regs.gpr[reg & 15];
    if (high8)
        *p = (*p & ~0xff00ull) | ((val & 0xff) << 8);
    else if (size == 1)
        *p = (*p & ~0xffull) | (val & 0xff);
    else if (size == 2)
        *p = (*p & ~0xffffull) | (val & 0xffff);
    else if (size == 4)
        *p = val & 0xffffffffull;
    else
        *p = val;
}

static int read_opnd(struct emu_ctx *ctx, const struct emu_insn *insn, const struct emu_opnd *o,
                     unsigned size, uint64_t *val)
{
    switch (o->kind) {
    case OPND_REG:
        *val = emu_get_reg(ctx, o->reg, o->high8, size);
        return EMU_OK;
    case OPND_IMM:
        *val = o->imm & emu_size_mask(size);
        return EMU_OK;
    case OPND_MEM:
        return emu_read(ctx, emu_ea(ctx, insn, o), size, val);
    default:
        return emu_raise(ctx, EMU_VEC_UD, false, 0);
    }
}

static int write_opnd(struct emu_ctx *ctx, const struct emu_insn *insn, const struct emu_opnd *o,
                      unsigned size, uint64_t val)
{
    switch (o->kind) {
    case OPND_REG:
        emu_set_reg(ctx, o->reg, o->high8, size, val);
        return EMU_OK;
    case OPND_MEM:
        return emu_write(ctx, emu_ea(ctx, insn, o), size, val);
    default:
        return emu_raise(ctx, EMU_VEC_UD, false, 0);
    }
}

/* --- read-modify-write through emu_rmw (atomic when locked) --- */

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

static bool lockable(enum emu_op op)
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

static int exec_alu(struct emu_ctx *ctx, const struct emu_insn *insn)
{
    const struct emu_opnd *d = &insn->o[0];
    unsigned size = insn->opsize;
    struct alu_arg a = { .op = insn->op, .size = size, .flags_in = ctx->regs.rflags };
    uint64_t old = 0;
    int rc;

    if (insn->nopnd > 1 && (rc = read_opnd(ctx, insn, &insn->o[1], size, &a.src)) != EMU_OK)
        return rc;
    if (insn->op == OP_CMP || insn->op == OP_TEST || d->kind != OPND_MEM) {
        if ((rc = read_opnd(ctx, insn, d, size, &old)) != EMU_OK)
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

static int exec_bt(struct emu_ctx *ctx, const struct emu_insn *insn)
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

static int exec_xchg(struct emu_ctx *ctx, const struct emu_insn *insn)
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

static int exec_cmpxchg(struct emu_ctx *ctx, const struct emu_insn *insn)
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

static int exec_xadd(struct emu_ctx *ctx, const struct emu_insn *insn)
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

static int exec_movx(struct emu_ctx *ctx, const struct emu_insn *insn)
{
    unsigned ssize = insn->o[1].size;
    uint64_t v = 0;
    int rc = read_opnd(ctx, insn, &insn->o[1], ssize, &v);
    if (rc != EMU_OK)
        return rc;
    if (insn->op != OP_MOVZX && ssize < 8) {
        unsigned sh = 64 - ssize * 8;
        v = (uint64_t)((int64_t)(v << sh) >> sh);
    }
    emu_set_reg(ctx, insn->o[0].reg, insn->o[0].high8, insn->opsize, v & emu_size_mask(insn->opsize));
    return EMU_OK;
}

static uint64_t sp_mask(unsigned stacksize)
{
    return emu_size_mask(stacksize);
}

/* The operand size of push/pop is the stack operand size (an imm8 is sign-extended to it). */
static int exec_push(struct emu_ctx *ctx, const struct emu_insn *insn)
{
    unsigned size = insn->opsize;
    uint64_t v = 0, m = sp_mask(insn->stacksize), rsp = ctx->regs.gpr[EMU_RSP];
    int rc;
    if (insn->o[0].kind == OPND_SREG || (size != 2 && size != 4 && size != 8))
        return emu_raise(ctx, EMU_VEC_UD, false, 0);
    if ((rc = read_opnd(ctx, insn, &insn->o[0], size, &v)) != EMU_OK)
        return rc;
    uint64_t nsp = (rsp & ~m) | ((rsp - size) & m);
    if ((rc = emu_write(ctx, (struct emu_addr){ EMU_SS, nsp & m }, size, v)) != EMU_OK)
        return rc;
    ctx->regs.gpr[EMU_RSP] = nsp;
    return EMU_OK;
}

static int exec_pop(struct emu_ctx *ctx, const struct emu_insn *insn)
{
    unsigned size = insn->opsize;
    uint64_t v = 0, m = sp_mask(insn->stacksize), rsp = ctx->regs.gpr[EMU_RSP];
    int rc;
    if (insn->o[0].kind == OPND_SREG || (size != 2 && size != 4 && size != 8))
        return emu_raise(ctx, EMU_VEC_UD, false, 0);
    if ((rc = emu_read(ctx, (struct emu_addr){ EMU_SS, rsp & m }, size, &v)) != EMU_OK)
        return rc;
    uint64_t nsp = (rsp & ~m) | ((rsp + size) & m);
    if (insn->o[0].kind == OPND_MEM) {
        /* The destination's address uses the incremented stack pointer; a fault leaves RSP. */
        ctx->regs.gpr[EMU_RSP] = nsp;
        struct emu_addr ad = emu_ea(ctx, insn, &insn->o[0]);
        ctx->regs.gpr[EMU_RSP] = rsp;
        if ((rc = emu_write(ctx, ad, size, v)) != EMU_OK)
            return rc;
        ctx->regs.gpr[EMU_RSP] = nsp;
    } else {
        ctx->regs.gpr[EMU_RSP] = nsp;
        emu_set_reg(ctx, insn->o[0].reg, insn->o[0].high8, size, v);
    }
    return EMU_OK;
}

static int exec_inout(struct emu_ctx *ctx, const struct emu_insn *insn, enum emu_mode mode)
{
    bool in = insn->op == OP_IN;
    const struct emu_opnd *port_o = in ? &insn->o[1] : &insn->o[0];
    const struct emu_opnd *data = in ? &insn->o[0] : &insn->o[1];
    unsigned size = data->size;
    uint16_t port = port_o->kind == OPND_IMM ? (uint16_t)(port_o->imm & 0xff)
                                             : (uint16_t)ctx->regs.gpr[EMU_RDX];
    int rc;
    if (data->kind != OPND_REG || size > 4)
        return emu_raise(ctx, EMU_VEC_UD, false, 0);
    if ((rc = emu_port_allowed(ctx, mode, port, size)) != EMU_OK)
        return rc;
    if (in) {
        uint32_t v = 0;
        if ((rc = ctx->ops->pio_in(ctx, port, size, &v)) != EMU_OK)
            return rc == EMU_EXCEPTION ? rc : EMU_ABORT;
        emu_set_reg(ctx, EMU_RAX, false, size, v);
    } else {
        rc = ctx->ops->pio_out(ctx, port, size, (uint32_t)emu_get_reg(ctx, EMU_RAX, false, size));
        if (rc != EMU_OK)
            return rc == EMU_EXCEPTION ? rc : EMU_ABORT;
    }
    return EMU_OK;
}

/* LOCK only on the lockable instructions with a memory destination (else #UD, as the CPU). */
static bool lock_ok(const struct emu_insn *insn)
{
    return !insn->lock || (lockable(insn->op) && insn->nopnd > 0 && insn->o[0].kind == OPND_MEM);
}

static int execute(struct emu_ctx *ctx, const struct emu_insn *insn, enum emu_mode mode,
                   bool *advance)
{
    *advance = true;
    if (!lock_ok(insn))
        return emu_raise(ctx, EMU_VEC_UD, false, 0);
    switch (insn->op) {
    case OP_MOV: {
        uint64_t v = 0;
        int rc = read_opnd(ctx, insn, &insn->o[1], insn->opsize, &v);
        return rc != EMU_OK ? rc : write_opnd(ctx, insn, &insn->o[0], insn->opsize, v);
    }
    case OP_MOVZX: case OP_MOVSX: case OP_MOVSXD:
        return exec_movx(ctx, insn);
    case OP_ADD: case OP_OR: case OP_ADC: case OP_SBB: case OP_AND: case OP_SUB: case OP_XOR:
    case OP_CMP: case OP_TEST: case OP_INC: case OP_DEC: case OP_NEG: case OP_NOT:
        return exec_alu(ctx, insn);
    case OP_BT: case OP_BTS: case OP_BTR: case OP_BTC:
        return exec_bt(ctx, insn);
    case OP_XCHG:
        return exec_xchg(ctx, insn);
    case OP_CMPXCHG:
        return exec_cmpxchg(ctx, insn);
    case OP_XADD:
        return exec_xadd(ctx, insn);
    case OP_PUSH:
        return exec_push(ctx, insn);
    case OP_POP:
        return exec_pop(ctx, insn);
    case OP_IN: case OP_OUT:
        return exec_inout(ctx, insn, mode);
    case OP_MOVS: case OP_STOS: case OP_LODS: case OP_CMPS: case OP_SCAS: case OP_INS: case OP_OUTS: {
        bool finished = true;
        int rc = emu_string(ctx, insn, mode, &finished);
        *advance = finished;
        return rc;
    }
    case OP_NOP:
        return EMU_OK;
    case OP_MOV_CR: case OP_LGDT: case OP_LIDT: case OP_JMP_FAR: case OP_MOV_SREG:
    case OP_CLTS: case OP_LMSW: case OP_SMSW:
        return emu_system(ctx, insn, mode);
    default:
        return emu_raise(ctx, EMU_VEC_UD, false, 0);
    }
}

int emulate_one(struct emu_ctx *ctx)
{
    struct emu_insn insn;
    enum emu_mode mode = emu_mode(&ctx->regs);
    struct emu_regs saved = ctx->regs;
    bool advance;
    int rc;

    ctx->insn_len = 0;
    if (!ctx->ops || !ctx->ops->translate || !ctx->ops->mmio_read || !ctx->ops->mmio_write ||
        !ctx->ops->pio_in || !ctx->ops->pio_out)
        return emu_raise(ctx, EMU_VEC_UD, false, 0);
    if ((rc = emu_fetch_decode(ctx, mode, &insn)) != EMU_OK)
        return rc;
    rc = execute(ctx, &insn, mode, &advance);
    if (rc != EMU_OK) {
        /* Faulting instructions change nothing, except the completed iterations of a string
         * instruction, which the CPU keeps too. */
        if (insn.op < OP_MOVS || insn.op > OP_OUTS)
            ctx->regs = saved;
        return rc;
    }
    if (advance && insn.op != OP_JMP_FAR) {
        uint64_t ip = ctx->regs.rip + insn.len;
        if (mode != EMU_MODE_LONG64)
            ip &= (mode == EMU_MODE_PROT32) ? 0xffffffffull : 0xffffull;
        ctx->regs.rip = ip;
    }
    return EMU_OK;
}
