/* SPDX-License-Identifier: MIT */
/* emulate.h: the vmm's x86 instruction emulator — guest register file, callbacks, emulate_one(). */
#ifndef VMM_EMULATE_H
#define VMM_EMULATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * emulate_one() decodes the instruction at the guest's CS:RIP (Zydis) and executes it against
 * the register file in struct emu_ctx, reaching guest memory, MMIO and I/O ports through the
 * callbacks in struct emu_ops. It is pure logic: no allocation, no globals, re-entrant; any
 * instruction bytes and any register file are accepted (never a crash: what it cannot
 * emulate becomes #UD for the vmm to inject).
 *
 * The callbacks are synchronous: the vmm runs one thread per vCPU and a device model call
 * (an IPC to a driver server or a device model in the vmm) simply blocks that vCPU, which is
 * what the guest observes from real hardware too. A callback that cannot complete (the
 * device's server is gone and being restarted) returns EMU_ABORT: emulate_one() stops with
 * the guest state as of the last completed iteration and RIP not advanced, so the vmm can
 * re-run the instruction later.
 */

/* Segment registers, in the hardware's encoding order (Sreg field of ModRM). */
enum emu_sreg { EMU_ES, EMU_CS, EMU_SS, EMU_DS, EMU_FS, EMU_GS, EMU_NSREG };

/* General-purpose register numbers (ModRM/REX encoding). */
enum emu_gpr {
    EMU_RAX, EMU_RCX, EMU_RDX, EMU_RBX, EMU_RSP, EMU_RBP, EMU_RSI, EMU_RDI,
    EMU_R8, EMU_R9, EMU_R10, EMU_R11, EMU_R12, EMU_R13, EMU_R14, EMU_R15, EMU_NGPR
};

/* Segment attributes: the descriptor's bits 40..47 and 52..55 packed as in AMD's VMCB
 * (bits 0..11) plus an "unusable" bit as in Intel's VMCS (a null selector was loaded). */
#define EMU_SEG_TYPE_MASK   0x00fu   /* type: bit 0 accessed, 1 W (data) / R (code), 2 E/C, 3 code */
#define EMU_SEG_TYPE_WR     0x002u   /* data: writable; code: readable */
#define EMU_SEG_TYPE_EXPDN  0x004u   /* data: expand-down */
#define EMU_SEG_TYPE_CODE   0x008u
#define EMU_SEG_S           0x010u   /* code/data (not system) */
#define EMU_SEG_DPL_SHIFT   5
#define EMU_SEG_DPL_MASK    0x060u
#define EMU_SEG_P           0x080u
#define EMU_SEG_L           0x200u   /* 64-bit code segment */
#define EMU_SEG_DB          0x400u   /* default operand size / big */
#define EMU_SEG_G           0x800u
#define EMU_SEG_UNUSABLE    0x10000u
_Static_assert(EMU_SEG_P == 1u << 7 && EMU_SEG_G == 1u << 11, "VMCB attribute layout");

struct emu_seg {
    uint16_t sel;
    uint32_t attr;   /* EMU_SEG_* */
    uint32_t limit;  /* byte granular (G already applied), as VMCB/VMCS hold it */
    uint64_t base;
};

struct emu_dtr {
    uint64_t base;
    uint16_t limit;
};

/* RFLAGS bits the emulator reads or writes. */
#define EMU_FL_CF   (1ull << 0)
#define EMU_FL_FIXED1 (1ull << 1)
#define EMU_FL_PF   (1ull << 2)
#define EMU_FL_AF   (1ull << 4)
#define EMU_FL_ZF   (1ull << 6)
#define EMU_FL_SF   (1ull << 7)
#define EMU_FL_TF   (1ull << 8)
#define EMU_FL_IF   (1ull << 9)
#define EMU_FL_DF   (1ull << 10)
#define EMU_FL_OF   (1ull << 11)
#define EMU_FL_IOPL_SHIFT 12
#define EMU_FL_IOPL (3ull << 12)
#define EMU_FL_NT   (1ull << 14)
#define EMU_FL_RF   (1ull << 16)
#define EMU_FL_VM   (1ull << 17)
#define EMU_FL_AC   (1ull << 18)
#define EMU_FL_VIF  (1ull << 19)
#define EMU_FL_VIP  (1ull << 20)
#define EMU_FL_ID   (1ull << 21)
#define EMU_FL_ARITH (EMU_FL_CF | EMU_FL_PF | EMU_FL_AF | EMU_FL_ZF | EMU_FL_SF | EMU_FL_OF)

/* Control-register bits that select the mode. */
#define EMU_CR0_PE  (1ull << 0)
#define EMU_CR0_EM  (1ull << 2)
#define EMU_CR0_TS  (1ull << 3)
#define EMU_CR0_PG  (1ull << 31)
#define EMU_CR4_PAE (1ull << 5)
#define EMU_CR4_OSFXSR  (1ull << 9)
#define EMU_CR4_OSXSAVE (1ull << 18)
#define EMU_XCR0_SSE (1ull << 1)
#define EMU_XCR0_AVX (1ull << 2)
#define EMU_EFER_LME (1ull << 8)
#define EMU_EFER_LMA (1ull << 10)

/* One vector register: XMMn is b[0..15], the upper half of YMMn b[16..31] (little-endian). */
struct emu_vec {
    uint8_t b[32];
};

/* The guest's architectural state the emulator reads and changes. */
struct emu_regs {
    uint64_t gpr[EMU_NGPR];          /* enum emu_gpr */
    uint64_t rip;
    uint64_t rflags;
    struct emu_seg seg[EMU_NSREG];   /* enum emu_sreg */
    struct emu_seg tr, ldtr;
    struct emu_dtr gdtr, idtr;
    uint64_t cr0, cr2, cr3, cr4, cr8, efer;
    uint8_t cpl;                     /* current privilege level (SS.DPL on VMX, VMCB.CPL on SVM) */
    /*
     * Vector state, only for the SSE/AVX moves (appended; everything above is unchanged).
     * vec[] and xcr0 mean something only while vec_valid is set. The vmm either fills them
     * and sets vec_valid before emulate_one(), or leaves vec_valid clear and provides
     * ctx->load_vec, which the emulator calls once, the first time an instruction needs
     * them (most exits never do, so the vmm need not fetch the guest's FPU state for every
     * MMIO access). An instruction that changes a vector register sets vec_dirty: the vmm
     * then writes vec[] back into the guest's XSAVE state. Without vec_valid and without
     * load_vec the vector forms are #UD.
     */
    bool vec_valid, vec_dirty;
    uint64_t xcr0;                   /* XCR0: VEX forms need SSE and AVX state enabled */
    struct emu_vec vec[16];          /* XMM0..15 / YMM0..15 */
};

/* Exception vectors the emulator raises. */
enum emu_vector {
    EMU_VEC_DE = 0, EMU_VEC_UD = 6, EMU_VEC_NM = 7, EMU_VEC_TS = 10, EMU_VEC_NP = 11, EMU_VEC_SS = 12,
    EMU_VEC_GP = 13, EMU_VEC_PF = 14,
    EMU_VEC_AC = 17
};

/* An exception for the vmm to inject: vector, error code if the vector has one, CR2 for #PF. */
struct emu_exception {
    uint8_t vector;
    bool has_error_code;
    uint32_t error_code;
    uint64_t cr2;
};

/* What a linear address is accessed for (the vmm's page walk checks the guest's permissions:
 * user = the access is at CPL 3 and not an implicit supervisor access such as a GDT read). */
enum emu_access { EMU_ACC_READ, EMU_ACC_WRITE, EMU_ACC_FETCH };

/* Where one linear address lands: in guest RAM the vmm has mapped (hva, the emulator copies
 * directly, atomically for locked instructions), or MMIO (hva == NULL: mmio_read/mmio_write
 * with gpa). A translation is valid for the bytes up to the end of the address's 4 KiB page. */
struct emu_xlate {
    uint64_t gpa;
    uint8_t *hva;
};

/* Results of emulate_one() and of every callback. */
enum emu_status {
    EMU_OK = 0,        /* done: registers, memory and RIP updated (see EMU_REP_BUDGET) */
    EMU_EXCEPTION = 1, /* ctx->exc holds the exception to inject; RIP not advanced */
    EMU_ABORT = 2,     /* a callback gave up: state as of the last completed step, RIP not advanced */
};

struct emu_ctx;

struct emu_ops {
    /* Translate a linear address for an access of kind acc (user: CPL-3 data access rules).
     * Returns EMU_OK and fills *out, EMU_EXCEPTION and fills *exc (a #PF with error code and
     * cr2, or anything else the vmm wants injected), or EMU_ABORT. */
    int (*translate)(struct emu_ctx *ctx, uint64_t la, enum emu_access acc, bool user,
                     struct emu_xlate *out, struct emu_exception *exc);
    /* MMIO by guest-physical address; width 1, 2, 4 or 8, any alignment, never crossing a
     * 4 KiB page (an access that crosses one is split at the page boundary). */
    int (*mmio_read)(struct emu_ctx *ctx, uint64_t gpa, unsigned width, uint64_t *val);
    int (*mmio_write)(struct emu_ctx *ctx, uint64_t gpa, unsigned width, uint64_t val);
    /* Port I/O; width 1, 2 or 4. */
    int (*pio_in)(struct emu_ctx *ctx, uint16_t port, unsigned width, uint32_t *val);
    int (*pio_out)(struct emu_ctx *ctx, uint16_t port, unsigned width, uint32_t val);
};

/* A rep string instruction runs at most this many iterations per emulate_one() call; if it
 * is not finished, emulate_one() returns EMU_OK with RCX/RSI/RDI advanced and RIP unchanged,
 * so the guest re-executes it (as the CPU does when it takes an interrupt between iterations)
 * and the vmm can deliver interrupts meanwhile. 0 in ctx->rep_budget means this default. */
#define EMU_REP_BUDGET 4096u

struct emu_ctx {
    struct emu_regs regs;
    const struct emu_ops *ops;
    void *opaque;                 /* the vmm's, for its callbacks */
    uint32_t rep_budget;          /* 0: EMU_REP_BUDGET */
    struct emu_exception exc;     /* set when emulate_one() returns EMU_EXCEPTION */
    /* Informational, set by emulate_one(): the instruction's length (0 if fetch failed). */
    uint8_t insn_len;
    /* Optional (NULL: none), appended here rather than to struct emu_ops so that existing
     * positional emu_ops initializers stay complete: fill ctx->regs.vec[] and xcr0 with the
     * guest's XMM/YMM registers and XCR0 and set vec_valid. Returns EMU_OK or EMU_ABORT. */
    int (*load_vec)(struct emu_ctx *ctx);
};

/* Execution modes, from CR0.PE, EFER.LMA, RFLAGS.VM and CS.L/CS.D. */
enum emu_mode {
    EMU_MODE_REAL,      /* CR0.PE = 0 */
    EMU_MODE_VM86,      /* protected, RFLAGS.VM = 1 */
    EMU_MODE_PROT16,    /* protected (or compatibility) with a 16-bit code segment */
    EMU_MODE_PROT32,    /* protected (or compatibility) with a 32-bit code segment */
    EMU_MODE_LONG64,    /* long mode, CS.L = 1 */
};

enum emu_mode emu_mode(const struct emu_regs *r);

/* Emulate the one instruction at CS:RIP. Returns enum emu_status. */
int emulate_one(struct emu_ctx *ctx);

#endif
