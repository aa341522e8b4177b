/* SPDX-License-Identifier: MIT */
/* alu: integer results and the arithmetic flags (CF PF AF ZF SF OF) exactly as the CPU computes them. */
#include "emu_internal.h"

uint64_t emu_size_mask(unsigned size)
{
    return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

static bool parity_even(uint64_t v)
{
    return !__builtin_parity((unsigned)(v & 0xff));
}

/* ZF, SF and PF of a result, with CF, AF and OF given. */
static uint64_t szp(uint64_t res, unsigned size)
{
    uint64_t f = 0;
    uint64_t sign = 1ull << (size * 8 - 1);
    if ((res & emu_size_mask(size)) == 0)
        f |= EMU_FL_ZF;
    if (res & sign)
        f |= EMU_FL_SF;
    if (parity_even(res))
        f |= EMU_FL_PF;
    return f;
}

/*
 * Undefined flags: the SDM leaves AF undefined after AND/OR/XOR/TEST; the emulator clears it
 * (what a given AMD or Intel part does is not promised, and the tests do not compare it).
 * INC/DEC keep CF; NOT changes no flag.
 */
uint64_t emu_alu(enum emu_op op, unsigned size, uint64_t a, uint64_t b, uint64_t *rflags)
{
    uint64_t m = emu_size_mask(size), sign = 1ull << (size * 8 - 1);
    uint64_t res, f = 0, cin = (*rflags & EMU_FL_CF) ? 1 : 0;
    a &= m;
    b &= m;
    switch (op) {
    case OP_ADD: case OP_ADC: case OP_INC:
        if (op == OP_INC) {
            b = 1;
            cin = 0;
        } else if (op == OP_ADD) {
            cin = 0;
        }
        res = (a + b + cin) & m;
        if (op != OP_INC && (res < a || (cin && res == a)))
            f |= EMU_FL_CF;
        if ((a ^ res) & (b ^ res) & sign)
            f |= EMU_FL_OF;
        if ((a ^ b ^ res) & 0x10)
            f |= EMU_FL_AF;
        break;
    case OP_SUB: case OP_SBB: case OP_CMP: case OP_DEC: case OP_NEG:
        if (op == OP_DEC) {
            b = 1;
            cin = 0;
        } else if (op == OP_NEG) {
            b = a;
            a = 0;
            cin = 0;
        } else if (op != OP_SBB) {
            cin = 0;
        }
        res = (a - b - cin) & m;
        if (op != OP_DEC && (a < b || (cin && a == b)))
            f |= EMU_FL_CF;
        if ((a ^ b) & (a ^ res) & sign)
            f |= EMU_FL_OF;
        if ((a ^ b ^ res) & 0x10)
            f |= EMU_FL_AF;
        break;
    case OP_AND: case OP_TEST:
        res = a & b;
        break;
    case OP_OR:
        res = a | b;
        break;
    case OP_XOR:
        res = a ^ b;
        break;
    case OP_NOT:
        return ~a & m;
    default:
        return 0;
    }
    f |= szp(res, size);
    uint64_t keep = (op == OP_INC || op == OP_DEC) ? EMU_FL_CF : 0;
    *rflags = (*rflags & ~(EMU_FL_ARITH & ~keep)) | (f & ~keep);
    return res;
}
