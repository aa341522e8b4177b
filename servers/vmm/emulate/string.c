/* SPDX-License-Identifier: MIT */
/* string: movs/stos/lods/cmps/scas/ins/outs with rep/repe/repne, DF, and 16/32/64-bit address sizes. */
#include "emu_internal.h"

/* Writes an address-sized register as the CPU does (a 32-bit write zero-extends). */
static void set_areg(struct emu_ctx *ctx, unsigned reg, unsigned addrsize, uint64_t v)
{
    emu_set_reg(ctx, reg, false, addrsize, v);
}

/* One iteration; *zf_stop is set for cmps/scas when the repe/repne condition ends the loop. */
static int step(struct emu_ctx *ctx, const struct emu_insn *insn, enum emu_mode mode)
{
    unsigned size = insn->opsize, as = insn->addrsize;
    uint64_t am = emu_addr_mask(as);
    uint64_t si = ctx->regs.gpr[EMU_RSI] & am, di = ctx->regs.gpr[EMU_RDI] & am;
    struct emu_addr src = { insn->seg, si }, dst = { EMU_ES, di };
    uint64_t a = 0, b = 0, fl = ctx->regs.rflags;
    bool use_si = false, use_di = false;
    uint16_t port = (uint16_t)ctx->regs.gpr[EMU_RDX];
    int rc;

    switch (insn->op) {
    case OP_MOVS:
        if ((rc = emu_read(ctx, src, size, &a)) != EMU_OK ||
            (rc = emu_write(ctx, dst, size, a)) != EMU_OK)
            return rc;
        use_si = use_di = true;
        break;
    case OP_STOS:
        if ((rc = emu_write(ctx, dst, size, emu_get_reg(ctx, EMU_RAX, false, size))) != EMU_OK)
            return rc;
        use_di = true;
        break;
    case OP_LODS:
        if ((rc = emu_read(ctx, src, size, &a)) != EMU_OK)
            return rc;
        emu_set_reg(ctx, EMU_RAX, false, size, a);
        use_si = true;
        break;
    case OP_CMPS:
        if ((rc = emu_read(ctx, src, size, &a)) != EMU_OK ||
            (rc = emu_read(ctx, dst, size, &b)) != EMU_OK)
            return rc;
        emu_alu(OP_CMP, size, a, b, &fl);
        use_si = use_di = true;
        break;
    case OP_SCAS:
        if ((rc = emu_read(ctx, dst, size, &b)) != EMU_OK)
            return rc;
        emu_alu(OP_CMP, size, emu_get_reg(ctx, EMU_RAX, false, size), b, &fl);
        use_di = true;
        break;
    case OP_INS: {
        uint32_t v = 0;
        /* The destination is checked before the port is read: a fault must not lose data. */
        if ((rc = emu_port_allowed(ctx, mode, port, size)) != EMU_OK ||
            (rc = emu_probe(ctx, dst, size, EMU_ACC_WRITE)) != EMU_OK)
            return rc;
        if ((rc = ctx->ops->pio_in(ctx, port, size, &v)) != EMU_OK)
            return rc == EMU_EXCEPTION ? rc : EMU_ABORT;
        if ((rc = emu_write(ctx, dst, size, v)) != EMU_OK)
            return rc;
        use_di = true;
        break;
    }
    case OP_OUTS:
        if ((rc = emu_port_allowed(ctx, mode, port, size)) != EMU_OK ||
            (rc = emu_read(ctx, src, size, &a)) != EMU_OK)
            return rc;
        if ((rc = ctx->ops->pio_out(ctx, port, size, (uint32_t)a)) != EMU_OK)
            return rc == EMU_EXCEPTION ? rc : EMU_ABORT;
        use_si = true;
        break;
    default:
        return emu_raise(ctx, EMU_VEC_UD, false, 0);
    }
    uint64_t delta = (ctx->regs.rflags & EMU_FL_DF) ? (uint64_t)-(int64_t)size : size;
    if (use_si)
        set_areg(ctx, EMU_RSI, as, si + delta);
    if (use_di)
        set_areg(ctx, EMU_RDI, as, di + delta);
    ctx->regs.rflags = fl;
    return EMU_OK;
}

int emu_string(struct emu_ctx *ctx, const struct emu_insn *insn, enum emu_mode mode, bool *finished)
{
    bool cond = insn->op == OP_CMPS || insn->op == OP_SCAS;
    bool rep = insn->rep || insn->repne;
    unsigned as = insn->addrsize;
    uint32_t budget = ctx->rep_budget ? ctx->rep_budget : EMU_REP_BUDGET;

    *finished = true;
    if (!rep)
        return step(ctx, insn, mode);
    for (uint32_t done = 0;; done++) {
        uint64_t count = ctx->regs.gpr[EMU_RCX] & emu_addr_mask(as);
        if (count == 0)
            return EMU_OK;
        if (done == budget) {
            *finished = false;   /* RIP stays: the guest re-executes the rest */
            return EMU_OK;
        }
        int rc = step(ctx, insn, mode);
        if (rc != EMU_OK)
            return rc;
        set_areg(ctx, EMU_RCX, as, count - 1);
        if (cond) {
            bool zf = (ctx->regs.rflags & EMU_FL_ZF) != 0;
            if ((insn->repne && zf) || (insn->rep && !zf))
                return EMU_OK;
        }
    }
}
