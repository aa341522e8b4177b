/* SPDX-License-Identifier: MIT */
/* vcpu: a virtual CPU object: backend pages, its GuestMemory, transfer masks, the thread that runs it. */
#ifndef HV_OBJECT_VCPU_H
#define HV_OBJECT_VCPU_H

#include <stdbool.h>
#include <stdint.h>

#include "../arch/x86_64/vcpu_arch.h"
#include "../include/hv/errors.h"
#include "../include/hv/syscall.h"
#include "../include/hv/vcpu.h"
#include "cap.h"
#include "kobj.h"

#define VCPU_MAX 64u                /* live vCPUs (tags 1..), fewer if the CPU has fewer ASIDs */
#define VCPU_MODE_NONE 0xffu        /* no GuestMemory bound: the vCPU cannot run */

struct tcb;
struct guest_memory;

/*
 * Page 0 of the object; the backend's pages follow, then the shadow-paging pool.
 * Invariants:
 *  - tcb != NULL iff tcb->vcpu == this (a binding is symmetric);
 *  - mode != VCPU_MODE_NONE iff `gmem` holds a GuestMemory cap (a child of the
 *    cap given, its `data` naming this vCPU) and this vCPU is on that object's list;
 *  - backend state is touched only while the bound thread is not in the guest:
 *    by the CPU that runs it, or when it is stopped (exit, suspend, unbound).
 */
struct vcpu {
    struct kobj hdr;
    uint32_t tag;                       /* ASID / VPID, unique among live vCPUs */
    uint8_t mode;                       /* HV_VCPU_MODE_* or VCPU_MODE_NONE */
    volatile uint8_t recall;            /* RECALL asked: exit with HV_EXIT_RECALL */
    uint32_t tlb_clean_cpus;            /* CPUs where this vCPU's cached translations are current */
    struct tcb *tcb;                    /* the bound thread */
    struct vcpu *gm_next;               /* on guest_memory.vcpus */
    struct cte gmem;                    /* kernel-held GuestMemory cap */
    uint64_t shadow_pool_pa;            /* shadow mode: struct vcpu_shadow, then the table pool */
    uint64_t shadow_pool_pages;
    uint32_t exception_intercepts;
    uint32_t transfer[HV_EXIT_REASON_COUNT];   /* HV_MTD_* per exit reason */
    struct vcpu_exit exit;              /* the exit being reported */
    struct hv_vcpu_state exit_state;    /* its state, as the transfer mask chose */
    struct hv_vcpu_counters counters;   /* VCPU_READ_COUNTERS; written under the kernel lock */
    struct vcpu_arch arch;
};

static inline struct vcpu *vcpu_of(const struct cap *c)
{
    return (struct vcpu *)(uintptr_t)c->object;
}

enum hv_error vcpu_check_retype(unsigned size_bits);
struct cap vcpu_create(void *mem, uint64_t pa, unsigned size_bits);
void vcpu_finalize(struct vcpu *v);
/* The kernel-held GuestMemory cap of a vCPU is being deleted (revoke reached it). */
void vcpu_guest_memory_cap_deleting(struct cap *gm_cap);
/* Its GuestMemory lost or narrowed a mapping: flush before the next entry, now if running. */
void vcpu_guest_mapping_changed(struct vcpu *v);
/* The guest state in the groups of `mtd` as the guest sees it (shadow mode: its own CRs). */
void vcpu_state_read(struct vcpu *v, uint64_t mtd, struct hv_vcpu_state *s);
/* The bound TCB is being destroyed. */
void vcpu_unbind_tcb(struct tcb *t);

enum hv_error vcpu_invoke(const struct cap *root, struct cte *slot, uint64_t label,
                          const uint64_t *args, unsigned nargs, struct hv_msg *reply_out);

/* Exit message support (kernel/ipc.c): copies the reported state into `words`; returns their count. */
unsigned vcpu_exit_state_words(const struct tcb *t, uint64_t *words);
/* Reply to an exit (kernel/ipc.c): writes the state groups in `words` (a struct hv_vcpu_state). */
void vcpu_exit_reply_state(struct tcb *t, const uint64_t *words);

#endif
