/* SPDX-License-Identifier: MIT */
/* vspace: user address spaces: PML4/PDPT/PD/PT objects and frames, mapped by invocation. */
#ifndef HV_OBJECT_VSPACE_H
#define HV_OBJECT_VSPACE_H

#include <stdbool.h>
#include <stdint.h>

#include "../include/hv/errors.h"
#include "cap.h"
#include "tcb.h"

/* User virtual addresses: the lower canonical half, minus page 0 (null stays a fault). */
#define USER_VA_MIN 0x1000ull
#define USER_VA_END 0x0000800000000000ull
#define VSPACE_MAX 1024u            /* live PML4s at once (ids 1..VSPACE_MAX-1) */

/* Creates the PML4 object in zeroed memory: copies the core's half, assigns a vspace id. */
struct cap vspace_create_pml4(void *mem);
/* Whether a PML4 can be created now (a vspace id is free). */
bool vspace_id_available(unsigned count);

void vspace_ref(const struct cap *pml4);
bool vspace_unref(const struct cap *pml4);
void vspace_finalize_pml4(const struct cap *pml4);
/* A frame or paging-structure cap is being deleted: remove its mapping. */
void vspace_cap_deleting(struct cap *c);

enum hv_error vspace_invoke(const struct cap *root, struct cte *slot, uint64_t label,
                            const uint64_t *args, unsigned nargs, struct hv_msg *reply_out);

/* Loads the thread's address space on this CPU (no-op if already loaded). */
/*
 * Switches this CPU to the core's own tables: a CPU that stops running a thread (idle,
 * evicted) must not keep a user PML4 in CR3 — that PML4 may be freed and its memory
 * zeroed by a retype while the CPU still takes interrupts through it.
 */
void vspace_activate_kernel(void);
uint64_t vspace_activate(const struct tcb *t);     /* returns the PML4's physical address */

/* Whether the paging structure of `type` covering va is present in the PML4's space. */
bool vspace_has_table(const struct cap *pml4, uint64_t va, uint8_t type);

/* Kernel-internal mapping for boot (root task): same checks, no cap lookup. */
enum hv_error vspace_map_table(struct cte *table_slot, const struct cap *pml4, uint64_t va);
enum hv_error vspace_map_frame(struct cte *frame_slot, const struct cap *pml4, uint64_t va,
                               uint64_t attributes);

#endif
