/* SPDX-License-Identifier: MIT */
/* decode: fetch the instruction at CS:RIP and turn Zydis's decoding into an emu_insn descriptor. */
#include <string.h>

#include <Zydis/Zydis.h>

#include "emu_internal.h"

#define EMU_MAX_INSN 15

static enum emu_op map_mnemonic(ZydisMnemonic m)
{
    switch (m) {
    case ZYDIS_MNEMONIC_MOV: return OP_MOV;
    case ZYDIS_MNEMONIC_MOVZX: return OP_MOVZX;
    case ZYDIS_MNEMONIC_MOVSX: return OP_MOVSX;
    case ZYDIS_MNEMONIC_MOVSXD: return OP_MOVSXD;
    case ZYDIS_MNEMONIC_ADD: return OP_ADD;
    case ZYDIS_MNEMONIC_OR: return OP_OR;
    case ZYDIS_MNEMONIC_ADC: return OP_ADC;
    case ZYDIS_MNEMONIC_SBB: return OP_SBB;
    case ZYDIS_MNEMONIC_AND: return OP_AND;
    case ZYDIS_MNEMONIC_SUB: return OP_SUB;
    case ZYDIS_MNEMONIC_XOR: return OP_XOR;
    case ZYDIS_MNEMONIC_CMP: return OP_CMP;
    case ZYDIS_MNEMONIC_TEST: return OP_TEST;
    case ZYDIS_MNEMONIC_INC: return OP_INC;
    case ZYDIS_MNEMONIC_DEC: return OP_DEC;
    case ZYDIS_MNEMONIC_NEG: return OP_NEG;
    case ZYDIS_MNEMONIC_NOT: return OP_NOT;
    case ZYDIS_MNEMONIC_BT: return OP_BT;
    case ZYDIS_MNEMONIC_BTS: return OP_BTS;
    case ZYDIS_MNEMONIC_BTR: return OP_BTR;
    case ZYDIS_MNEMONIC_BTC: return OP_BTC;
    case ZYDIS_MNEMONIC_XCHG: return OP_XCHG;
    case ZYDIS_MNEMONIC_CMPXCHG: return OP_CMPXCHG;
    case ZYDIS_MNEMONIC_XADD: return OP_XADD;
    case ZYDIS_MNEMONIC_MOVSB: case ZYDIS_MNEMONIC_MOVSW:
    case ZYDIS_MNEMONIC_MOVSD: case ZYDIS_MNEMONIC_MOVSQ: return OP_MOVS;
    case ZYDIS_MNEMONIC_STOSB: case ZYDIS_MNEMONIC_STOSW:
    case ZYDIS_MNEMONIC_STOSD: case ZYDIS_MNEMONIC_STOSQ: return OP_STOS;
    case ZYDIS_MNEMONIC_LODSB: case ZYDIS_MNEMONIC_LODSW:
    case ZYDIS_MNEMONIC_LODSD: case ZYDIS_MNEMONIC_LODSQ: return OP_LODS;
    case ZYDIS_MNEMONIC_CMPSB: case ZYDIS_MNEMONIC_CMPSW:
    case ZYDIS_MNEMONIC_CMPSD: case ZYDIS_MNEMONIC_CMPSQ: return OP_CMPS;
    case ZYDIS_MNEMONIC_SCASB: case ZYDIS_MNEMONIC_SCASW:
    case ZYDIS_MNEMONIC_SCASD: case ZYDIS_MNEMONIC_SCASQ: return OP_SCAS;
    case ZYDIS_MNEMONIC_INSB: case ZYDIS_MNEMONIC_INSW: case ZYDIS_MNEMONIC_INSD: return OP_INS;
    case ZYDIS_MNEMONIC_OUTSB: case ZYDIS_MNEMONIC_OUTSW:
    case ZYDIS_MNEMONIC_OUTSD: return OP_OUTS;
    case ZYDIS_MNEMONIC_IN: return OP_IN;
    case ZYDIS_MNEMONIC_OUT: return OP_OUT;
    case ZYDIS_MNEMONIC_PUSH: return OP_PUSH;
    case ZYDIS_MNEMONIC_POP: return OP_POP;
    case ZYDIS_MNEMONIC_LGDT: return OP_LGDT;
    case ZYDIS_MNEMONIC_LIDT: return OP_LIDT;
    case ZYDIS_MNEMONIC_JMP: return OP_JMP_FAR;   /* near jumps are refused below */
    case ZYDIS_MNEMONIC_CLTS: return OP_CLTS;
    case ZYDIS_MNEMONIC_LMSW: return OP_LMSW;
    case ZYDIS_MNEMONIC_SMSW: return OP_SMSW;
    case ZYDIS_MNEMONIC_NOP: return OP_NOP;
    case ZYDIS_MNEMONIC_MUL: return OP_MUL;
    case ZYDIS_MNEMONIC_IMUL: return OP_IMUL;
    case ZYDIS_MNEMONIC_DIV: return OP_DIV;
    case ZYDIS_MNEMONIC_IDIV: return OP_IDIV;
    case ZYDIS_MNEMONIC_ROL: return OP_ROL;
    case ZYDIS_MNEMONIC_ROR: return OP_ROR;
    case ZYDIS_MNEMONIC_RCL: return OP_RCL;
    case ZYDIS_MNEMONIC_RCR: return OP_RCR;
    case ZYDIS_MNEMONIC_SHL: return OP_SHL;   /* /6 (the SAL alias) decodes as SHL too */
    case ZYDIS_MNEMONIC_SHR: return OP_SHR;
    case ZYDIS_MNEMONIC_SAR: return OP_SAR;
    case ZYDIS_MNEMONIC_SHLD: return OP_SHLD;
    case ZYDIS_MNEMONIC_SHRD: return OP_SHRD;
    case ZYDIS_MNEMONIC_SETO: case ZYDIS_MNEMONIC_SETNO: case ZYDIS_MNEMONIC_SETB:
    case ZYDIS_MNEMONIC_SETNB: case ZYDIS_MNEMONIC_SETZ: case ZYDIS_MNEMONIC_SETNZ:
    case ZYDIS_MNEMONIC_SETBE: case ZYDIS_MNEMONIC_SETNBE: case ZYDIS_MNEMONIC_SETS:
    case ZYDIS_MNEMONIC_SETNS: case ZYDIS_MNEMONIC_SETP: case ZYDIS_MNEMONIC_SETNP:
    case ZYDIS_MNEMONIC_SETL: case ZYDIS_MNEMONIC_SETNL: case ZYDIS_MNEMONIC_SETLE:
    case ZYDIS_MNEMONIC_SETNLE: return OP_SETCC;
    case ZYDIS_MNEMONIC_CMOVO: case ZYDIS_MNEMONIC_CMOVNO: case ZYDIS_MNEMONIC_CMOVB:
    case ZYDIS_MNEMONIC_CMOVNB: case ZYDIS_MNEMONIC_CMOVZ: case ZYDIS_MNEMONIC_CMOVNZ:
    case ZYDIS_MNEMONIC_CMOVBE: case ZYDIS_MNEMONIC_CMOVNBE: case ZYDIS_MNEMONIC_CMOVS:
    case ZYDIS_MNEMONIC_CMOVNS: case ZYDIS_MNEMONIC_CMOVP: case ZYDIS_MNEMONIC_CMOVNP:
    case ZYDIS_MNEMONIC_CMOVL: case ZYDIS_MNEMONIC_CMOVNL: case ZYDIS_MNEMONIC_CMOVLE:
    case ZYDIS_MNEMONIC_CMOVNLE: return OP_CMOVCC;
    case ZYDIS_MNEMONIC_MOVBE: return OP_MOVBE;
    case ZYDIS_MNEMONIC_MOVNTI: return OP_MOV;   /* a store; the hint changes nothing here */
    case ZYDIS_MNEMONIC_CALL: return OP_CALL;
    case ZYDIS_MNEMONIC_RET: return OP_RET;
    case ZYDIS_MNEMONIC_IRET: case ZYDIS_MNEMONIC_IRETD: case ZYDIS_MNEMONIC_IRETQ: return OP_IRET;
    case ZYDIS_MNEMONIC_MOVD: case ZYDIS_MNEMONIC_MOVQ: case ZYDIS_MNEMONIC_MOVDQU:
    case ZYDIS_MNEMONIC_MOVUPS: case ZYDIS_MNEMONIC_MOVUPD: case ZYDIS_MNEMONIC_MOVDQA:
    case ZYDIS_MNEMONIC_MOVAPS: case ZYDIS_MNEMONIC_MOVAPD: case ZYDIS_MNEMONIC_MOVNTDQ:
    case ZYDIS_MNEMONIC_MOVNTPS: case ZYDIS_MNEMONIC_MOVNTPD:
    case ZYDIS_MNEMONIC_VMOVD: case ZYDIS_MNEMONIC_VMOVQ: case ZYDIS_MNEMONIC_VMOVDQU:
    case ZYDIS_MNEMONIC_VMOVUPS: case ZYDIS_MNEMONIC_VMOVUPD: case ZYDIS_MNEMONIC_VMOVDQA:
    case ZYDIS_MNEMONIC_VMOVAPS: case ZYDIS_MNEMONIC_VMOVAPD: case ZYDIS_MNEMONIC_VMOVNTDQ:
    case ZYDIS_MNEMONIC_VMOVNTPS: case ZYDIS_MNEMONIC_VMOVNTPD: return OP_VMOV;
    default: return OP_INVALID;
    }
}

/* The vector moves that fault on a misaligned memory operand. */
static bool vmov_aligned(ZydisMnemonic m)
{
    switch (m) {
    case ZYDIS_MNEMONIC_MOVDQA: case ZYDIS_MNEMONIC_MOVAPS: case ZYDIS_MNEMONIC_MOVAPD:
    case ZYDIS_MNEMONIC_MOVNTDQ: case ZYDIS_MNEMONIC_MOVNTPS: case ZYDIS_MNEMONIC_MOVNTPD:
    case ZYDIS_MNEMONIC_VMOVDQA: case ZYDIS_MNEMONIC_VMOVAPS: case ZYDIS_MNEMONIC_VMOVAPD:
    case ZYDIS_MNEMONIC_VMOVNTDQ: case ZYDIS_MNEMONIC_VMOVNTPS: case ZYDIS_MNEMONIC_VMOVNTPD:
        return true;
    default:
        return false;
    }
}

/* A Zydis general-purpose register as (number, high8). Returns false for anything else. */
static bool map_gpr(ZydisRegister r, unsigned *num, bool *high8)
{
    *high8 = false;
    if (r >= ZYDIS_REGISTER_AL && r <= ZYDIS_REGISTER_BL) {
        *num = (unsigned)(r - ZYDIS_REGISTER_AL);
    } else if (r >= ZYDIS_REGISTER_AH && r <= ZYDIS_REGISTER_BH) {
        *num = (unsigned)(r - ZYDIS_REGISTER_AH);
        *high8 = true;
    } else if (r >= ZYDIS_REGISTER_SPL && r <= ZYDIS_REGISTER_R15B) {
        *num = (unsigned)(r - ZYDIS_REGISTER_SPL) + 4;
    } else if (r >= ZYDIS_REGISTER_AX && r <= ZYDIS_REGISTER_R15W) {
        *num = (unsigned)(r - ZYDIS_REGISTER_AX);
    } else if (r >= ZYDIS_REGISTER_EAX && r <= ZYDIS_REGISTER_R15D) {
        *num = (unsigned)(r - ZYDIS_REGISTER_EAX);
    } else if (r >= ZYDIS_REGISTER_RAX && r <= ZYDIS_REGISTER_R15) {
        *num = (unsigned)(r - ZYDIS_REGISTER_RAX);
    } else {
        return false;
    }
    return true;
}

static bool map_sreg(ZydisRegister r, enum emu_sreg *s)
{
    if (r < ZYDIS_REGISTER_ES || r > ZYDIS_REGISTER_GS)
        return false;
    *s = (enum emu_sreg)(r - ZYDIS_REGISTER_ES);
    return true;
}

static bool map_operand(const ZydisDecodedOperand *z, struct emu_opnd *o)
{
    memset(o, 0, sizeof(*o));
    o->size = z->size / 8;
    o->base = EMU_BASE_NONE;
    o->index = EMU_BASE_NONE;
    switch (z->type) {
    case ZYDIS_OPERAND_TYPE_REGISTER: {
        enum emu_sreg s;
        if (map_gpr(z->reg.value, &o->reg, &o->high8)) {
            o->kind = OPND_REG;
        } else if (map_sreg(z->reg.value, &s)) {
            o->kind = OPND_SREG;
            o->reg = (unsigned)s;
        } else if (z->reg.value >= ZYDIS_REGISTER_XMM0 && z->reg.value <= ZYDIS_REGISTER_XMM15) {
            o->kind = OPND_VEC;
            o->reg = (unsigned)(z->reg.value - ZYDIS_REGISTER_XMM0);
        } else if (z->reg.value >= ZYDIS_REGISTER_YMM0 && z->reg.value <= ZYDIS_REGISTER_YMM15) {
            o->kind = OPND_VEC;
            o->reg = (unsigned)(z->reg.value - ZYDIS_REGISTER_YMM0);
        } else if (z->reg.value >= ZYDIS_REGISTER_CR0 && z->reg.value <= ZYDIS_REGISTER_CR15) {
            o->kind = OPND_CR;
            o->reg = (unsigned)(z->reg.value - ZYDIS_REGISTER_CR0);
        } else {
            return false;
        }
        return true;
    }
    case ZYDIS_OPERAND_TYPE_MEMORY: {
        bool h;
        unsigned n;
        if (z->mem.type != ZYDIS_MEMOP_TYPE_MEM)
            return false;
        o->kind = OPND_MEM;
        if (!map_sreg(z->mem.segment, &o->seg))
            return false;
        if (z->mem.base == ZYDIS_REGISTER_RIP || z->mem.base == ZYDIS_REGISTER_EIP)
            o->base = EMU_BASE_RIP;
        else if (z->mem.base != ZYDIS_REGISTER_NONE) {
            if (!map_gpr(z->mem.base, &n, &h) || h)
                return false;
            o->base = (int)n;
        }
        if (z->mem.index != ZYDIS_REGISTER_NONE) {
            if (!map_gpr(z->mem.index, &n, &h) || h)
                return false;
            o->index = (int)n;
        }
        o->scale = z->mem.scale ? z->mem.scale : 1;
        o->disp = z->mem.disp.has_displacement ? z->mem.disp.value : 0;
        return true;
    }
    case ZYDIS_OPERAND_TYPE_IMMEDIATE:
        o->kind = OPND_IMM;
        o->imm = z->imm.value.u;
        return true;
    case ZYDIS_OPERAND_TYPE_POINTER:
        o->kind = OPND_PTR;
        o->imm = z->ptr.offset;
        o->ptr_sel = z->ptr.segment;
        return true;
    default:
        return false;
    }
}

static enum emu_sreg override_of(ZydisInstructionAttributes a, bool *has)
{
    *has = true;
    if (a & ZYDIS_ATTRIB_HAS_SEGMENT_FS) return EMU_FS;
    if (a & ZYDIS_ATTRIB_HAS_SEGMENT_GS) return EMU_GS;
    if (a & ZYDIS_ATTRIB_HAS_SEGMENT_ES) return EMU_ES;
    if (a & ZYDIS_ATTRIB_HAS_SEGMENT_CS) return EMU_CS;
    if (a & ZYDIS_ATTRIB_HAS_SEGMENT_SS) return EMU_SS;
    if (a & ZYDIS_ATTRIB_HAS_SEGMENT_DS) return EMU_DS;
    *has = false;
    return EMU_DS;
}

static int decode_bytes(enum emu_mode mode, const struct emu_regs *r, const uint8_t *bytes,
                        size_t n, ZydisDecodedInstruction *zi, ZydisDecodedOperand *zo)
{
    ZydisMachineMode mm;
    ZydisStackWidth sw = (r->seg[EMU_SS].attr & EMU_SEG_DB) ? ZYDIS_STACK_WIDTH_32
                                                            : ZYDIS_STACK_WIDTH_16;
    bool lma = (r->efer & EMU_EFER_LMA) != 0;
    ZydisDecoder dec;

    switch (mode) {
    case EMU_MODE_REAL: case EMU_MODE_VM86: mm = ZYDIS_MACHINE_MODE_REAL_16; sw = ZYDIS_STACK_WIDTH_16; break;
    case EMU_MODE_PROT16: mm = lma ? ZYDIS_MACHINE_MODE_LONG_COMPAT_16 : ZYDIS_MACHINE_MODE_LEGACY_16; break;
    case EMU_MODE_PROT32: mm = lma ? ZYDIS_MACHINE_MODE_LONG_COMPAT_32 : ZYDIS_MACHINE_MODE_LEGACY_32; break;
    default: mm = ZYDIS_MACHINE_MODE_LONG_64; sw = ZYDIS_STACK_WIDTH_64; break;
    }
    if (ZYAN_FAILED(ZydisDecoderInit(&dec, mm, sw)))
        return -1;
    ZyanStatus st = ZydisDecoderDecodeFull(&dec, bytes, n, zi, zo);
    if (st == ZYDIS_STATUS_NO_MORE_DATA)
        return 1;
    return ZYAN_SUCCESS(st) ? 0 : -1;
}

/* Instruction bytes: those on RIP's page first, the next page only if the decoder needs it
 * (a fetch fault there is only raised if the instruction really extends onto it). */
int emu_fetch_decode(struct emu_ctx *ctx, enum emu_mode mode, struct emu_insn *insn)
{
    const struct emu_regs *r = &ctx->regs;
    const struct emu_seg *cs = &r->seg[EMU_CS];
    bool user = r->cpl == 3;
    uint8_t bytes[EMU_MAX_INSN];
    size_t have, avail = EMU_MAX_INSN;
    uint64_t la, ip = r->rip;
    ZydisDecodedInstruction zi;
    ZydisDecodedOperand zo[ZYDIS_MAX_OPERAND_COUNT];
    int rc;

    memset(insn, 0, sizeof(*insn));
    if (mode == EMU_MODE_LONG64) {
        la = ip;
        if ((uint64_t)((int64_t)(la << 16) >> 16) != la)
            return emu_raise(ctx, EMU_VEC_GP, true, 0);
    } else {
        ip &= (mode == EMU_MODE_PROT32) ? 0xffffffffull : 0xffffull;
        /* CS limit: bytes beyond it cannot be fetched (#GP(0) if the instruction needs them). */
        if (ip > cs->limit)
            return emu_raise(ctx, EMU_VEC_GP, true, 0);
        if ((uint64_t)cs->limit - ip + 1 < avail)
            avail = (size_t)(cs->limit - ip + 1);
        la = (cs->base + ip) & 0xffffffffull;
    }
    have = 0x1000 - (la & 0xfff);
    if (have > avail)
        have = avail;
    if ((rc = emu_read_la(ctx, la, bytes, (unsigned)have, EMU_ACC_FETCH, user)) != EMU_OK)
        return rc;
    rc = decode_bytes(mode, r, bytes, have, &zi, zo);
    if (rc == 1 && have < avail) {
        if ((rc = emu_read_la(ctx, la + have, bytes + have, (unsigned)(avail - have),
                              EMU_ACC_FETCH, user)) != EMU_OK)
            return rc;
        have = avail;
        rc = decode_bytes(mode, r, bytes, have, &zi, zo);
    }
    if (rc == 1 && avail < EMU_MAX_INSN)
        return emu_raise(ctx, EMU_VEC_GP, true, 0);   /* runs past the CS limit */
    if (rc != 0)
        return emu_raise(ctx, EMU_VEC_UD, false, 0);

    insn->len = zi.length;
    ctx->insn_len = zi.length;
    insn->op = map_mnemonic(zi.mnemonic);
    insn->opsize = zi.operand_width / 8;
    insn->addrsize = zi.address_width / 8;
    insn->stacksize = zi.stack_width / 8;
    insn->lock = (zi.attributes & ZYDIS_ATTRIB_HAS_LOCK) != 0;
    insn->rep = (zi.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE)) != 0;
    insn->repne = (zi.attributes & ZYDIS_ATTRIB_HAS_REPNE) != 0;
    insn->seg = override_of(zi.attributes, &insn->seg_override);
    /* VEX only for the vector moves; EVEX, XOP, 3DNow!, MVEX never. */
    insn->vex = zi.encoding == ZYDIS_INSTRUCTION_ENCODING_VEX;
    if (zi.encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY && !(insn->vex && insn->op == OP_VMOV))
        insn->op = OP_INVALID;
    if (insn->op == OP_INVALID)
        return emu_raise(ctx, EMU_VEC_UD, false, 0);

    /* Byte-sized string and port forms: Zydis reports the mode's operand width; the opcode's
     * low bit says byte (0) or full size (1). */
    switch (insn->op) {
    case OP_MOVS: case OP_STOS: case OP_LODS: case OP_CMPS: case OP_SCAS:
    case OP_INS: case OP_OUTS:
        if (!(zi.opcode & 1))
            insn->opsize = 1;
        if (insn->op == OP_INS || insn->op == OP_OUTS)
            insn->opsize = insn->opsize > 4 ? 4 : insn->opsize;
        return EMU_OK;   /* implicit operands: string.c knows them */
    default:
        break;
    }

    for (unsigned i = 0; i < zi.operand_count_visible && i < 3; i++) {
        if (!map_operand(&zo[i], &insn->o[i]))
            return emu_raise(ctx, EMU_VEC_UD, false, 0);
        insn->nopnd = i + 1;
    }
    if (insn->nopnd > 0 && insn->o[0].size && insn->op != OP_PUSH && insn->op != OP_POP &&
        insn->op != OP_JMP_FAR && insn->op != OP_LGDT && insn->op != OP_LIDT &&
        insn->op != OP_CALL && insn->op != OP_RET && insn->op != OP_IRET)
        insn->opsize = insn->o[0].size;
    insn->cc = zi.opcode & 0xf;
    insn->vmov = vmov_aligned(zi.mnemonic) ? VMOV_ALIGNED : VMOV_PLAIN;
    /* Far calls and returns (call gates, privilege changes): not emulated. */
    if ((insn->op == OP_CALL || insn->op == OP_RET) && zi.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR)
        return emu_raise(ctx, EMU_VEC_UD, false, 0);
    /* Classify the mov forms the system code handles. */
    if (insn->op == OP_MOV) {
        if (insn->o[0].kind == OPND_CR || insn->o[1].kind == OPND_CR)
            insn->op = OP_MOV_CR;
        else if (insn->o[0].kind == OPND_SREG || insn->o[1].kind == OPND_SREG)
            insn->op = OP_MOV_SREG;
    }
    if (insn->op == OP_JMP_FAR && insn->o[0].kind != OPND_PTR &&
        !(insn->o[0].kind == OPND_MEM && zi.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR))
        return emu_raise(ctx, EMU_VEC_UD, false, 0);
    return EMU_OK;
}
