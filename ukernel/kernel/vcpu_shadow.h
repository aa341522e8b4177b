/* SPDX-License-Identifier: MIT */
/* vcpu_shadow: shadow paging on a VCPU — the vTLB (vtlb/) wired to the exit path, backend-neutral. */
#ifndef HV_KERNEL_VCPU_SHADOW_H
#define HV_KERNEL_VCPU_SHADOW_H

#include <stdbool.h>
#include <stdint.h>

#include "../arch/x86_64/vcpu_arch.h"
#include "../include/hv/errors.h"
#include "../include/hv/vcpu.h"

struct vcpu;
struct guest_memory;

/* Exits the core resolved without a message, per kind (for the benchmark). */
enum vcpu_shadow_count {
    VSH_PF_RESOLVED = 0,    /* #PF: spte installed */
    VSH_PF_INJECTED,        /* #PF: reflected into the guest */
    VSH_CR_READ,            /* MOV from CR0/CR3/CR4 */
    VSH_CR_WRITE,           /* MOV to CR0/CR3/CR4, CLTS */
    VSH_INVLPG,
    VSH_EFER,               /* RDMSR/WRMSR of EFER */
    VSH_GP_INJECTED,        /* a CR/EFER write the architecture refuses */
    VSH_COUNT
};

/*
 * Decode check for SET_GUEST_MEMORY(mode shadow): HV_ERR_NOT_SUPPORTED if the
 * backend has no shadow mode; HV_ERR_NOT_ENOUGH_MEMORY if the VCPU object's pool
 * (its pages after the backend's) is too small for the state and SHADOW_POOL_MIN
 * tables; HV_ERR_RANGE if it does not lie below 4 GiB (PAE shadow roots).
 */
enum hv_error vcpu_shadow_check(const struct vcpu *v);

/* Invoke: the vCPU (stopped, quiesced) starts running on shadow tables over gm, from
 * its current guest-visible control registers. */
void vcpu_shadow_start(struct vcpu *v, struct guest_memory *gm);
/* Leaves shadow mode: the hardware state gets the guest-visible CRs back. */
void vcpu_shadow_stop(struct vcpu *v);

/* State transfer (shadow mode only): guest-visible CRs out; CRs in (after the backend
 * wrote s's groups). */
void vcpu_shadow_state_read(const struct vcpu *v, struct hv_vcpu_state *s);
void vcpu_shadow_state_written(struct vcpu *v, const struct hv_vcpu_state *s);
/* The exception intercepts the handler asked for, as the hardware must have them. */
uint32_t vcpu_shadow_exception_intercepts(const struct vcpu *v, uint32_t asked);

/* GuestMemory lost or narrowed a frame: every spte goes before the next entry. */
void vcpu_shadow_mapping_changed(struct vcpu *v);

/* Before each entry on this CPU (bit me_bit): pending flushes, hardware TLB. */
void vcpu_shadow_before_entry(struct vcpu *v, uint32_t me_bit);

/* An exit in shadow mode: true if resolved in the core (re-enter); false to report *e
 * (possibly rewritten, e.g. into HV_EXIT_GPA). */
bool vcpu_shadow_exit(struct vcpu *v, struct vcpu_exit *e);

#endif
