/* SPDX-License-Identifier: MIT */
/* exec: emulate_one() — fetch and decode, dispatch, and the moves, stack and port instructions. */
#include <string.h>

#include "emu_internal.h"

static int exec_movx(struct emu_ctx *ctx, const struct emu_insn *insn)
{
    unsigned ssize = insn->o[1].size;
    uint64_t v = 0;
    int rc = emu_read_opnd(ctx, insn, &insn->o[1], ssize, &v);
    if (rc != EMU_OK)
        return rc;
    if (insn->op != OP_MOVZX && ssize < 8) {
        unsigned sh = 64 - ssize * 8;
        v = (uint64_t)((int64_t)(v << sh) >> sh);
    }
    emu_set_reg(ctx, insn->o[0].reg, insn->o[0].high8, insn->opsize, v & emu_size_mask(insn->opsize));
    return EMU_OK;
}

/* movbe: a load or a store with the bytes reversed (memory operand only). */
static int exec_movbe(struct emu_ctx *ctx, const struct emu_insn *insn)
{
    unsigned size = insn->opsize;
    uint64_t v = 0;
    int rc;
    if ((insn->o[0].kind == OPND_MEM) == (insn->o[1].kind == OPND_MEM) || size < 2)
        return emu_raise(ctx, EMU_VEC_UD, false, 0);
    if ((rc = emu_read_opnd(ctx, insn, &insn->o[1], size, &v)) != EMU_OK)
        return rc;
    v = __builtin_bswap64(v) >> (64 - size * 8);
    return emu_write_opnd(ctx, insn, &insn->o[0], size, v);
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
    if ((rc = emu_read_opnd(ctx, insn, &insn->o[0], size, &v)) != EMU_OK)
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
    return !insn->lock || (emu_lockable(insn->op) && insn->nopnd > 0 && insn->o[0].kind == OPND_MEM);
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
        int rc = emu_read_opnd(ctx, insn, &insn->o[1], insn->opsize, &v);
        return rc != EMU_OK ? rc : emu_write_opnd(ctx, insn, &insn->o[0], insn->opsize, v);
    }
    case OP_MOVZX: case OP_MOVSX: case OP_MOVSXD:
        return exec_movx(ctx, insn);
    case OP_ADD: case OP_OR: case OP_ADC: case OP_SBB: case OP_AND: case OP_SUB: case OP_XOR:
    case OP_CMP: case OP_TEST: case OP_INC: case OP_DEC: case OP_NEG: case OP_NOT:
        return emu_exec_alu(ctx, insn);
    case OP_BT: case OP_BTS: case OP_BTR: case OP_BTC:
        return emu_exec_bt(ctx, insn);
    case OP_XCHG:
        return emu_exec_xchg(ctx, insn);
    case OP_CMPXCHG:
        return emu_exec_cmpxchg(ctx, insn);
    case OP_XADD:
        return emu_exec_xadd(ctx, insn);
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
    case OP_MUL: case OP_IMUL: case OP_DIV: case OP_IDIV:
        return emu_exec_muldiv(ctx, insn);
    case OP_ROL: case OP_ROR: case OP_RCL: case OP_RCR: case OP_SHL: case OP_SHR: case OP_SAR:
    case OP_SHLD: case OP_SHRD:
        return emu_exec_shift(ctx, insn);
    case OP_SETCC:
        return emu_exec_setcc(ctx, insn);
    case OP_CMOVCC:
        return emu_exec_cmovcc(ctx, insn);
    case OP_MOVBE:
        return exec_movbe(ctx, insn);
    case OP_CALL:
        *advance = false;
        return emu_exec_call(ctx, insn, mode);
    case OP_RET:
        *advance = false;
        return emu_exec_ret(ctx, insn, mode);
    case OP_IRET:
        *advance = false;
        return emu_exec_iret(ctx, insn, mode);
    case OP_VMOV:
        return emu_exec_vmov(ctx, insn, mode);
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
        if (insn.op < OP_MOVS || insn.op > OP_OUTS) {
            /* vector state the vmm loaded meanwhile stays (unchanged: a vector register is
             * only written as an instruction's last step) */
            if (ctx->regs.vec_valid && !saved.vec_valid) {
                saved.vec_valid = true;
                saved.xcr0 = ctx->regs.xcr0;
                memcpy(saved.vec, ctx->regs.vec, sizeof(saved.vec));
            }
            ctx->regs = saved;
        }
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
