/* SPDX-License-Identifier: MIT */
/* hvu_vm: building a small VM from user space: GuestMemory with frames, a VCPU, its thread, a guest image. */
#ifndef HV_TEST_USER_HVU_VM_H
#define HV_TEST_USER_HVU_VM_H

#include <stdint.h>

#include "hv/vcpu.h"

#define HVU_VM_LOW_GFNS 32u             /* guest-physical [0, 128 KiB) is backed at creation */
#define HVU_VM_GM_BITS 16u              /* GuestMemory object: 64 KiB (14 pool tables) */
#define HVU_VM_VCPU_BITS 15u

struct hvu_vm {
    uint64_t gm;                        /* GuestMemory cap */
    uint64_t vcpu;                      /* VCPU cap */
    uint64_t tcb, sc;                   /* the thread that runs the guest */
    uint64_t va;                        /* where the vmm sees guest-physical 0 */
    uint64_t frames[HVU_VM_LOW_GFNS];   /* the caps mapped in the guest */
};

/*
 * Makes GuestMemory backed at gfns [0, HVU_VM_LOW_GFNS) (also mapped in the vmm at a
 * fresh region, vm->va), copies boot module `module` to guest-physical `load_gpa`,
 * makes a VCPU in nested mode, and a TCB (fault endpoint `fault_ep`, `priority`) bound
 * to it, with real-mode state CS = 0, IP = load_gpa. The thread is not resumed yet.
 * Returns HV_OK or the first error.
 */
uint64_t hvu_vm_create(struct hvu_vm *vm, const struct hv_bootinfo *bi, const char *module,
                       uint64_t load_gpa, uint64_t fault_ep, unsigned priority);
/*
 * A VCPU (2^vcpu_bits bytes) on GuestMemory `gm` in `mode` (HV_VCPU_MODE_*), and a TCB
 * (fault endpoint `fault_ep`, `priority`) bound to it; the thread is not resumed yet.
 * Returns HV_OK or the first error.
 */
uint64_t hvu_vcpu_create(uint64_t gm, uint64_t mode, unsigned vcpu_bits, uint64_t fault_ep,
                         unsigned priority, uint64_t *vcpu_out, uint64_t *tcb_out);
/*
 * Puts the VCPU in flat 32-bit protected mode with paging off, as a multiboot loader hands
 * over: CR0 = PE ET, CR3 = CR4 = EFER = 0, CS 0x08 and SS/DS/ES/FS/GS 0x10 with base 0 and
 * a 4 GiB limit, a busy TSS and an LDT; RIP, RSP and RAX as given, RFLAGS 2.
 */
uint64_t hvu_vcpu_set_flat32(uint64_t vcpu, uint64_t rip, uint64_t rsp, uint64_t rax);
/* Gives the VM's thread a SchedContext and resumes it. */
uint64_t hvu_vm_start(struct hvu_vm *vm, uint64_t budget_us, uint64_t period_us);

/* READ_STATE / WRITE_STATE through the caller's IPC buffer. */
uint64_t hvu_vcpu_read(uint64_t vcpu, uint64_t mtd, struct hv_vcpu_state *s);
/* VCPU_READ_COUNTERS: the table into *c, the four totals (w0-w3) into totals[4] (may be NULL). */
uint64_t hvu_vcpu_counters(uint64_t vcpu, struct hv_vcpu_counters *c, uint64_t *totals);
uint64_t hvu_vcpu_write(uint64_t vcpu, const struct hv_vcpu_state *s);
/* READ_VEC / WRITE_VEC (both use the IPC buffer: they overwrite a held exit's state there). */
uint64_t hvu_vcpu_vec_read(uint64_t vcpu, struct hv_vcpu_vec *s);
uint64_t hvu_vcpu_vec_write(uint64_t vcpu, const struct hv_vcpu_vec *s);

/* The exit state in the IPC buffer after a VM-exit message, to edit in place for the reply. */
struct hv_vcpu_state *hvu_exit_state(void);
/* The reply message that resumes with the groups in hvu_exit_state()->mtd. */
struct hv_msg hvu_resume_msg(void);

#endif
