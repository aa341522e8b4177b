/* SPDX-License-Identifier: MIT */
/* cond: the condition codes (Jcc/SETcc/CMOVcc encoding), setcc and cmovcc. */
#include "emu_internal.h"

/* cc is the opcode's low nibble: 0 O, 2 B, 4 Z, 6 BE, 8 S, A P, C L, E LE; odd = negated. */
bool emu_cond(uint64_t f, unsigned cc)
{
    bool cf = f & EMU_FL_CF, zf = f & EMU_FL_ZF, sf = f & EMU_FL_SF, of = f & EMU_FL_OF;
    bool pf = f & EMU_FL_PF, r;
    switch ((cc >> 1) & 7) {
    case 0: r = of; break;
    case 1: r = cf; break;
    case 2: r = zf; break;
    case 3: r = cf || zf; break;
    case 4: r = sf; break;
    case 5: r = pf; break;
    case 6: r = sf != of; break;
    default: r = zf || sf != of; break;
    }
    return (cc & 1) ? !r : r;
}

int emu_exec_setcc(struct emu_ctx *ctx, const struct emu_insn *insn)
{
    return emu_write_opnd(ctx, insn, &insn->o[0], 1, emu_cond(ctx->regs.rflags, insn->cc) ? 1 : 0);
}

/* The source is read whatever the condition (a memory source can fault even when nothing is
 * moved); a 32-bit destination is written — zero-extended — either way. */
int emu_exec_cmovcc(struct emu_ctx *ctx, const struct emu_insn *insn)
{
    const struct emu_opnd *d = &insn->o[0];
    unsigned size = insn->opsize;
    uint64_t v = 0;
    int rc;
    if (d->kind != OPND_REG)
        return emu_raise(ctx, EMU_VEC_UD, false, 0);
    if ((rc = emu_read_opnd(ctx, insn, &insn->o[1], size, &v)) != EMU_OK)
        return rc;
    if (!emu_cond(ctx->regs.rflags, insn->cc))
        v = emu_get_reg(ctx, d->reg, false, size);
    emu_set_reg(ctx, d->reg, false, size, v);
    return EMU_OK;
}
