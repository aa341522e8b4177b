/* SPDX-License-Identifier: MIT */
/* branch: near call and ret (ret imm16) — the return address on the stack, the target checked against CS or for canonical form. */
#include "emu_internal.h"

/* A new RIP: canonical in 64-bit mode, else within the CS limit (#GP(0) otherwise). */
int emu_check_target(struct emu_ctx *ctx, enum emu_mode mode, uint64_t rip)
{
    if (mode == EMU_MODE_LONG64) {
        if ((uint64_t)((int64_t)(rip << 16) >> 16) != rip)
            return emu_raise(ctx, EMU_VEC_GP, true, 0);
    } else if (rip > ctx->regs.seg[EMU_CS].limit) {
        return emu_raise(ctx, EMU_VEC_GP, true, 0);
    }
    return EMU_OK;
}

/*
 * The operand size is the instruction's (Zydis: 64 in 64-bit mode; a 66 prefix there is
 * ignored as on Intel CPUs — AMD CPUs would truncate RIP to 16 bits). The target is masked
 * to it, checked before anything is pushed, and the return address is the next instruction.
 */
int emu_exec_call(struct emu_ctx *ctx, const struct emu_insn *insn, enum emu_mode mode)
{
    unsigned osz = insn->opsize;
    uint64_t om = emu_size_mask(osz), sm = emu_size_mask(insn->stacksize);
    uint64_t next = (ctx->regs.rip + insn->len) & om, target = 0;
    uint64_t rsp = ctx->regs.gpr[EMU_RSP], nsp = (rsp & ~sm) | ((rsp - osz) & sm);
    int rc;
    if (osz != 2 && osz != 4 && osz != 8)
        return emu_raise(ctx, EMU_VEC_UD, false, 0);
    if (insn->o[0].kind == OPND_IMM)
        target = (next + insn->o[0].imm) & om;
    else if ((rc = emu_read_opnd(ctx, insn, &insn->o[0], osz, &target)) != EMU_OK)
        return rc;
    if ((rc = emu_check_target(ctx, mode, target)) != EMU_OK)
        return rc;
    if ((rc = emu_write(ctx, (struct emu_addr){ EMU_SS, nsp & sm }, osz, next)) != EMU_OK)
        return rc;
    ctx->regs.gpr[EMU_RSP] = nsp;
    ctx->regs.rip = target;
    return EMU_OK;
}

int emu_exec_ret(struct emu_ctx *ctx, const struct emu_insn *insn, enum emu_mode mode)
{
    unsigned osz = insn->opsize;
    uint64_t sm = emu_size_mask(insn->stacksize), rsp = ctx->regs.gpr[EMU_RSP], target = 0;
    uint64_t extra = insn->nopnd > 0 && insn->o[0].kind == OPND_IMM ? insn->o[0].imm & 0xffff : 0;
    int rc;
    if (osz != 2 && osz != 4 && osz != 8)
        return emu_raise(ctx, EMU_VEC_UD, false, 0);
    if ((rc = emu_read(ctx, (struct emu_addr){ EMU_SS, rsp & sm }, osz, &target)) != EMU_OK)
        return rc;
    if ((rc = emu_check_target(ctx, mode, target)) != EMU_OK)
        return rc;
    ctx->regs.gpr[EMU_RSP] = (rsp & ~sm) | ((rsp + osz + extra) & sm);
    ctx->regs.rip = target;
    return EMU_OK;
}
