/* SPDX-License-Identifier: MIT */
/* ap: an application processor's start — the architectural state after INIT and the real-mode entry a startup IPI gives it. */
#ifndef VMM_AP_H
#define VMM_AP_H

#include <stdint.h>

#include "hv/vcpu.h"

/*
 * Intel SDM Vol. 3A §9.1.1 (Table 9-1, "IA-32 and Intel 64 Processor States Following
 * Power-up, Reset, or INIT") and §9.4.4 (MP initialization): after INIT an AP waits for a
 * startup IPI; SIPI vector V starts it in real mode at CS.selector = V << 8,
 * CS.base = V << 12, IP = 0. Segments in the hv_segment (VMCB attribute) form.
 */
#define AP_CR0_INIT 0x60000010ull       /* CD, NW, ET */
#define AP_RFLAGS_INIT 0x2ull
#define AP_SEG_LIMIT 0xffffu
#define AP_ATTR_CODE 0x9bu              /* present, S, code execute/read, accessed */
#define AP_ATTR_DATA 0x93u              /* present, S, data read/write, accessed */
#define AP_ATTR_TR 0x8bu                /* present, busy 32-bit TSS */
#define AP_ATTR_LDTR 0x82u              /* present, LDT */
#define AP_PAT_INIT 0x0007040600070406ull
#define AP_SIPI_SELECTOR_SHIFT 8
#define AP_SIPI_BASE_SHIFT 12

/*
 * The state of a CPU that took startup IPI `vector` after INIT: every group of `s` set
 * (s->mtd = HV_MTD_ALL minus HV_MTD_TSC: INIT leaves the TSC alone). `signature` is what
 * EDX holds after INIT (CPUID leaf 1 EAX: family, model, stepping).
 */
void ap_sipi_state(struct hv_vcpu_state *s, uint8_t vector, uint32_t signature);

#endif
