/* SPDX-License-Identifier: MIT */
/* gpt: walking the guest's page tables (no paging, 32-bit, PAE, 4-level) from the vmm. */
#ifndef VMM_GPT_H
#define VMM_GPT_H

#include <stdbool.h>
#include <stdint.h>

#include "gmem.h"
#include "vmm/emulate.h"

/*
 * Translates linear address `la` for an access of kind `acc` (user: CPL-3 rules) under the
 * guest's CR0/CR3/CR4/EFER in `r`, reading its tables from guest RAM `gm` and setting their
 * accessed/dirty bits as the CPU does. EMU_OK with *gpa, or EMU_EXCEPTION with the #PF
 * (error code, CR2) in *exc. A table outside guest RAM faults as not present.
 */
int gpt_translate(const struct gmem *gm, const struct emu_regs *r, uint64_t la, enum emu_access acc, bool user,
                  uint64_t *gpa, struct emu_exception *exc);

#endif
