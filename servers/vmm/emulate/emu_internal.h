/* SPDX-License-Identifier: MIT */
/* emu_internal.h: the decoded-instruction descriptor and the helpers the emulator's files share. */
#ifndef VMM_EMU_INTERNAL_H
#define VMM_EMU_INTERNAL_H

#include "vmm/emulate.h"

/* The operations the emulator knows (decode.c maps Zydis mnemonics onto these). */
enum emu_op {
    OP_INVALID = 0,
    OP_MOV, OP_MOVZX, OP_MOVSX, OP_MOVSXD,
    OP_ADD, OP_OR, OP_ADC, OP_SBB, OP_AND, OP_SUB, OP_XOR, OP_CMP, OP_TEST,
    OP_INC, OP_DEC, OP_NEG, OP_NOT,
    OP_BT, OP_BTS, OP_BTR, OP_BTC,
    OP_XCHG, OP_CMPXCHG, OP_XADD,
    OP_MOVS, OP_STOS, OP_LODS, OP_CMPS, OP_SCAS, OP_INS, OP_OUTS,
    OP_IN, OP_OUT,
    OP_PUSH, OP_POP,
    OP_MOV_CR, OP_LGDT, OP_LIDT, OP_JMP_FAR, OP_MOV_SREG,
    OP_CLTS, OP_LMSW, OP_SMSW,
    OP_NOP,
    /* appended: keep OP_MOVS..OP_OUTS contiguous (exec.c's rollback rule) */
    OP_MUL, OP_IMUL, OP_DIV, OP_IDIV,
    OP_ROL, OP_ROR, OP_RCL, OP_RCR, OP_SHL, OP_SHR, OP_SAR, OP_SHLD, OP_SHRD,
    OP_SETCC, OP_CMOVCC, OP_MOVBE,
    OP_CALL, OP_RET, OP_IRET,
    OP_VMOV,
};

/* What a vector move does (OP_VMOV): its data size comes from the operands. */
enum emu_vmov {
    VMOV_PLAIN,      /* movd/movq/movdqu/movups/movupd and their VEX forms */
    VMOV_ALIGNED,    /* movdqa/movaps/movapd/movntdq/movntps/movntpd: #GP(0) unless aligned */
};

enum emu_opnd_kind { OPND_NONE, OPND_REG, OPND_MEM, OPND_IMM, OPND_SREG, OPND_CR, OPND_PTR, OPND_VEC };

struct emu_opnd {
    enum emu_opnd_kind kind;
    unsigned size;            /* bytes */
    /* OPND_REG: gpr number; high8 for AH/CH/DH/BH. OPND_SREG/OPND_CR/OPND_VEC: register number. */
    unsigned reg;
    bool high8;
    /* OPND_MEM */
    enum emu_sreg seg;
    int base, index;          /* enum emu_gpr, -1 none; base -2: RIP-relative */
    unsigned scale;
    int64_t disp;
    /* OPND_IMM (sign- or zero-extended to 64 bits as the instruction defines), OPND_PTR */
    uint64_t imm;
    uint16_t ptr_sel;
};

#define EMU_BASE_NONE (-1)
#define EMU_BASE_RIP  (-2)

struct emu_insn {
    enum emu_op op;
    unsigned len;
    unsigned opsize;          /* bytes: 1, 2, 4, 8 */
    unsigned addrsize;        /* bytes: 2, 4, 8 */
    unsigned stacksize;       /* bytes: 2, 4, 8 */
    bool lock, rep, repne;    /* rep: F3 (rep/repe), repne: F2 */
    bool seg_override;
    enum emu_sreg seg;        /* the string source's segment (DS or an override) */
    unsigned nopnd;
    struct emu_opnd o[3];
    unsigned cc;              /* setcc/cmovcc: the condition (opcode's low nibble) */
    bool vex;                 /* VEX-encoded (the vector moves only) */
    enum emu_vmov vmov;
};

/* One memory operand resolved to its segment and effective address. */
struct emu_addr {
    enum emu_sreg seg;
    uint64_t ea;              /* truncated to the address size */
};

/* --- decode.c --- */
int emu_fetch_decode(struct emu_ctx *ctx, enum emu_mode mode, struct emu_insn *insn);

/* --- address.c: effective addresses, segmentation, canonical checks, guest memory --- */
struct emu_addr emu_ea(const struct emu_ctx *ctx, const struct emu_insn *insn,
                       const struct emu_opnd *o);
int emu_linear(struct emu_ctx *ctx, struct emu_addr a, unsigned size, enum emu_access acc,
               uint64_t *la);
int emu_read_la(struct emu_ctx *ctx, uint64_t la, void *buf, unsigned size, enum emu_access acc,
                bool user);
int emu_write_la(struct emu_ctx *ctx, uint64_t la, const void *buf, unsigned size, bool user);
int emu_read(struct emu_ctx *ctx, struct emu_addr a, unsigned size, uint64_t *val);
int emu_write(struct emu_ctx *ctx, struct emu_addr a, unsigned size, uint64_t val);
/* A locked read-modify-write: fn computes the new value from the old; it runs again if RAM
 * changed under it. *old returns the value the update was based on. */
typedef bool (*emu_rmw_fn)(void *arg, uint64_t old, uint64_t *new_val);
int emu_rmw(struct emu_ctx *ctx, struct emu_addr a, unsigned size, bool locked,
            emu_rmw_fn fn, void *arg, uint64_t *old);
int emu_probe(struct emu_ctx *ctx, struct emu_addr a, unsigned size, enum emu_access acc);
int emu_raise(struct emu_ctx *ctx, unsigned vector, bool has_ec, uint32_t ec);
uint64_t emu_addr_mask(unsigned addrsize);

/* --- regs.c: register file and operands --- */
uint64_t emu_get_reg(const struct emu_ctx *ctx, unsigned reg, bool high8, unsigned size);
void emu_set_reg(struct emu_ctx *ctx, unsigned reg, bool high8, unsigned size, uint64_t val);
int emu_read_opnd(struct emu_ctx *ctx, const struct emu_insn *insn, const struct emu_opnd *o,
                  unsigned size, uint64_t *val);
int emu_write_opnd(struct emu_ctx *ctx, const struct emu_insn *insn, const struct emu_opnd *o,
                   unsigned size, uint64_t val);

/* --- rmw.c: ALU operations, bt*, xchg, cmpxchg, xadd --- */
bool emu_lockable(enum emu_op op);
int emu_exec_alu(struct emu_ctx *ctx, const struct emu_insn *insn);
int emu_exec_bt(struct emu_ctx *ctx, const struct emu_insn *insn);
int emu_exec_xchg(struct emu_ctx *ctx, const struct emu_insn *insn);
int emu_exec_cmpxchg(struct emu_ctx *ctx, const struct emu_insn *insn);
int emu_exec_xadd(struct emu_ctx *ctx, const struct emu_insn *insn);

/* --- alu.c: results and the flags the CPU computes --- */
uint64_t emu_size_mask(unsigned size);
/* Computes op (OP_ADD .. OP_TEST, OP_INC, OP_DEC, OP_NEG, OP_NOT) on size-byte a and b; updates
 * the arithmetic flags in *rflags as the CPU does (undefined ones: see alu.c). */
uint64_t emu_alu(enum emu_op op, unsigned size, uint64_t a, uint64_t b, uint64_t *rflags);

/* --- muldiv.c: mul/imul/div/idiv --- */
int emu_exec_muldiv(struct emu_ctx *ctx, const struct emu_insn *insn);

/* --- shift.c: shifts and rotates --- */
int emu_exec_shift(struct emu_ctx *ctx, const struct emu_insn *insn);

/* --- cond.c: condition codes, setcc, cmovcc --- */
bool emu_cond(uint64_t rflags, unsigned cc);
int emu_exec_setcc(struct emu_ctx *ctx, const struct emu_insn *insn);
int emu_exec_cmovcc(struct emu_ctx *ctx, const struct emu_insn *insn);

/* --- branch.c: near call/ret (RIP set by them) --- */
int emu_exec_call(struct emu_ctx *ctx, const struct emu_insn *insn, enum emu_mode mode);
int emu_exec_ret(struct emu_ctx *ctx, const struct emu_insn *insn, enum emu_mode mode);
int emu_check_target(struct emu_ctx *ctx, enum emu_mode mode, uint64_t rip);

/* --- iret.c --- */
int emu_exec_iret(struct emu_ctx *ctx, const struct emu_insn *insn, enum emu_mode mode);

/* --- vector.c: the SSE/AVX moves --- */
int emu_exec_vmov(struct emu_ctx *ctx, const struct emu_insn *insn, enum emu_mode mode);

/* --- string.c --- */
int emu_string(struct emu_ctx *ctx, const struct emu_insn *insn, enum emu_mode mode, bool *finished);

/* --- system.c: control registers, descriptor tables, segment loads, far jumps --- */
int emu_system(struct emu_ctx *ctx, const struct emu_insn *insn, enum emu_mode mode);
int emu_port_allowed(struct emu_ctx *ctx, enum emu_mode mode, uint16_t port, unsigned width);
/* Descriptors (for iret.c): read the one a non-null selector names, the segment it
 * describes, and setting its accessed bit. */
int emu_read_desc(struct emu_ctx *ctx, uint16_t sel, uint64_t *desc, uint64_t *at);
struct emu_seg emu_seg_from_desc(uint16_t sel, uint64_t d);
int emu_mark_accessed(struct emu_ctx *ctx, uint64_t *desc, uint64_t at);

#endif
