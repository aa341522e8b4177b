/* SPDX-License-Identifier: MIT */
/* emu_harness.h: runs one instruction natively (generated code page) and under the emulator, and compares. */
#ifndef EMU_HARNESS_H
#define EMU_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/emulate.h"

#define H_BUF_SIZE 0x10000u          /* the scratch buffer both runs address */
#define H_TARGET_LO 0x4000u          /* memory operands land in [LO, HI) */
#define H_TARGET_HI 0xc000u

/* One test case: instruction bytes, input registers and flags, the flags compared. */
struct tc {
    const char *form;
    uint8_t b[16];
    unsigned n;
    uint64_t gpr[16];
    uint64_t flags;
    uint64_t fmask;        /* arithmetic flags the SDM defines for this form */
    bool mmio;             /* the emulator sees the scratch buffer as MMIO */
    bool may_trap;         /* natively a #DE/#GP may come: then the emulator must raise it too */
    uint64_t rip_to;       /* a branch: where RIP ends (0: after the instruction) */
    uint8_t vec[16][32];   /* YMM0..15 in */
};

struct harness {
    uint8_t *code;         /* RWX page: runner + instruction slot; its data in the next (RW) page */
    uint8_t *slot;         /* where the instruction goes */
    uint8_t *nat;          /* the native run's scratch buffer (below 2 GiB: 67-prefixed forms) */
    uint8_t *emu;          /* the emulator's copy, at the same guest linear addresses as nat */
    uint64_t fs_base, gs_base;
    uint64_t seed;
    /* errors and MMIO statistics for the callbacks */
    unsigned mmio_calls;
    bool mmio_bad;         /* a callback saw a width or page crossing it must not */
    /* an optional hole: linear addresses in [hole_lo, hole_hi) fault with #PF */
    uint64_t hole_lo, hole_hi;
};

extern struct harness H;

/* The emulator's GDT for iret (at this offset in the buffer, outside the targets): Linux's
 * user selectors 0x2b (data) and 0x33 (64-bit code), DPL 3, accessed. */
#define H_GDT_OFF 0x100u

void h_init(uint64_t seed);
uint64_t h_rand(void);
unsigned h_below(unsigned n);
/* Arithmetic flags plus DF at random (never TF/AC: they would trap natively). */
uint64_t h_rand_flags(void);
/* Random YMM0..15 inputs. */
void h_rand_vec(struct tc *t);

/* A 64-bit user-mode context matching the native run (CS.L, CPL 3, FS/GS bases). */
void h_ctx64(struct emu_ctx *ctx, const struct tc *t);
extern const struct emu_ops h_ops;

/* Native runs repeated after a spurious #UD from this host (see emu_harness.c). */
extern unsigned h_spurious_ud;
/* Instances compared as a trap (#DE, #GP) rather than a result. */
extern unsigned h_traps;

/* Runs t natively and under the emulator; returns true if both agree (prints why not). */
bool h_check(const struct tc *t);

/* Runs t natively with the buffer page at hole_off made inaccessible (the CPU's #PF state comes
 * from the signal context) and under the emulator with the same page faulting; compares
 * the registers at the fault (partial progress of rep instructions), CR2 and memory. */
bool h_check_fault(const struct tc *t, unsigned hole_off);

/* --- encoder for ModRM forms --- */
struct rm_form {
    const char *name;
    const uint8_t *op;     /* opcode bytes (after prefixes/REX) */
    unsigned oplen;
    unsigned opsize;       /* operand size: 1 (byte opcode), 2 (66), 4, 8 (REX.W) */
    int digit;             /* >= 0: ModRM.reg is this opcode extension; -1: a random register */
    bool mem_only, reg_allowed;
    unsigned immsize;      /* 0, 1, 2, 4, 8 bytes of immediate after the ModRM operand */
    unsigned access;       /* bytes the memory operand spans */
    unsigned slack;        /* extra bytes around the target (bt offsets, pushes) */
    uint64_t fmask;
    bool lock;             /* emit F0 */
    bool no_seg;           /* no segment override prefix */
    bool rex_w_ignored;    /* REX.W does not select the operand size (push/pop) */
    uint8_t mprefix;       /* a mandatory prefix (66/F2/F3) of an SSE form, or 0 */
    bool vex;              /* VEX-encoded: op is the opcode byte of map 0F */
    unsigned vex_pp;       /* VEX.pp: 0 none, 1 66, 2 F3, 3 F2 */
    bool vex_l;            /* VEX.L: 256-bit */
    unsigned align;        /* 7 in 8 instances put the memory operand on this alignment (0: any) */
    bool may_trap;         /* the instance may raise #DE/#GP natively (then compared as a trap) */
};

/* Builds a random instance of f into t (registers, addressing, prefixes); false if it could not. */
bool h_gen_rm(struct tc *t, const struct rm_form *f);
/* Address of the memory operand the native run will use (for forms that need to set memory). */
extern uint64_t h_last_target;
/* Registers the last generated memory operand uses (bit per register). */
extern unsigned h_last_addr_regs;

#endif
