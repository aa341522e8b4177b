/* SPDX-License-Identifier: MIT */
/* vector: the SSE/AVX moves a guest's MMIO paths use — movd/movq, movdqa/movdqu, movaps/movups/movapd/movupd, movnt*, and their VEX forms. */
#include <string.h>

#include "emu_internal.h"

/*
 * The data size is the smaller operand's (movd 4, movq 8, the 128-bit moves 16, VEX.256 32).
 * A vector register destination gets the data in its low bytes; the rest up to bit 127
 * is zeroed (movd/movq), bits 255..128 are kept by the legacy SSE forms and zeroed by the
 * VEX forms, as on the CPU. A memory operand of a movdqa-like form must be aligned to its
 * size (#GP(0)). Exceptions, in the CPU's order: #UD for SSE with CR0.EM set or CR4.OSFXSR
 * clear, for VEX with CR4.OSXSAVE clear or XCR0 without SSE+AVX state; then #NM if CR0.TS.
 * An MMIO operand is accessed in 8-byte pieces (see address.c).
 */

static int need_vec(struct emu_ctx *ctx)
{
    if (ctx->regs.vec_valid)
        return EMU_OK;
    if (!ctx->load_vec)
        return emu_raise(ctx, EMU_VEC_UD, false, 0);
    int rc = ctx->load_vec(ctx);
    if (rc != EMU_OK)
        return rc == EMU_EXCEPTION ? rc : EMU_ABORT;
    return ctx->regs.vec_valid ? EMU_OK : emu_raise(ctx, EMU_VEC_UD, false, 0);
}

static int vm_checks(struct emu_ctx *ctx, const struct emu_insn *insn, enum emu_mode mode)
{
    const struct emu_regs *r = &ctx->regs;
    int rc;
    if (insn->vex) {
        if (mode == EMU_MODE_REAL || mode == EMU_MODE_VM86 || !(r->cr4 & EMU_CR4_OSXSAVE))
            return emu_raise(ctx, EMU_VEC_UD, false, 0);
    } else if ((r->cr0 & EMU_CR0_EM) || !(r->cr4 & EMU_CR4_OSFXSR)) {
        return emu_raise(ctx, EMU_VEC_UD, false, 0);
    }
    if ((rc = need_vec(ctx)) != EMU_OK)
        return rc;
    if (insn->vex && (r->xcr0 & (EMU_XCR0_SSE | EMU_XCR0_AVX)) != (EMU_XCR0_SSE | EMU_XCR0_AVX))
        return emu_raise(ctx, EMU_VEC_UD, false, 0);
    if (r->cr0 & EMU_CR0_TS)
        return emu_raise(ctx, EMU_VEC_NM, false, 0);
    return EMU_OK;
}

/* The memory operand's linear address, with the alignment check of the aligned forms. */
static int vm_linear(struct emu_ctx *ctx, const struct emu_insn *insn, const struct emu_opnd *o,
                     unsigned size, enum emu_access acc, uint64_t *la)
{
    int rc = emu_linear(ctx, emu_ea(ctx, insn, o), size, acc, la);
    if (rc != EMU_OK)
        return rc;
    if (insn->vmov == VMOV_ALIGNED && (*la & (size - 1)) != 0)
        return emu_raise(ctx, EMU_VEC_GP, true, 0);
    return EMU_OK;
}

int emu_exec_vmov(struct emu_ctx *ctx, const struct emu_insn *insn, enum emu_mode mode)
{
    const struct emu_opnd *d = &insn->o[0], *s = &insn->o[1];
    struct emu_regs *r = &ctx->regs;
    uint8_t buf[32] = { 0 };
    uint64_t la = 0;
    int rc;

    if (insn->nopnd != 2 || (d->kind != OPND_VEC && s->kind != OPND_VEC))
        return emu_raise(ctx, EMU_VEC_UD, false, 0);
    unsigned size = d->size < s->size ? d->size : s->size;
    if (size != 4 && size != 8 && size != 16 && size != 32)
        return emu_raise(ctx, EMU_VEC_UD, false, 0);
    if ((rc = vm_checks(ctx, insn, mode)) != EMU_OK)
        return rc;

    switch (s->kind) {
    case OPND_VEC:
        memcpy(buf, r->vec[s->reg & 15].b, size);
        break;
    case OPND_REG: {
        uint64_t v = emu_get_reg(ctx, s->reg, false, size);
        memcpy(buf, &v, size);
        break;
    }
    case OPND_MEM:
        if ((rc = vm_linear(ctx, insn, s, size, EMU_ACC_READ, &la)) != EMU_OK ||
            (rc = emu_read_la(ctx, la, buf, size, EMU_ACC_READ, r->cpl == 3)) != EMU_OK)
            return rc;
        break;
    default:
        return emu_raise(ctx, EMU_VEC_UD, false, 0);
    }

    switch (d->kind) {
    case OPND_VEC: {
        uint8_t *v = r->vec[d->reg & 15].b;
        memcpy(v, buf, size);
        memset(v + size, 0, (insn->vex ? 32u : 16u) > size ? (insn->vex ? 32u : 16u) - size : 0);
        r->vec_dirty = true;
        return EMU_OK;
    }
    case OPND_REG: {
        uint64_t v = 0;
        memcpy(&v, buf, size > 8 ? 8 : size);
        emu_set_reg(ctx, d->reg, false, size, v);
        return EMU_OK;
    }
    case OPND_MEM:
        if ((rc = vm_linear(ctx, insn, d, size, EMU_ACC_WRITE, &la)) != EMU_OK)
            return rc;
        return emu_write_la(ctx, la, buf, size, r->cpl == 3);
    default:
        return emu_raise(ctx, EMU_VEC_UD, false, 0);
    }
}
