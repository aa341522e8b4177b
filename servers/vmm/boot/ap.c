/* SPDX-License-Identifier: MIT */
/* ap: an application processor's start — the architectural state after INIT and the real-mode entry a startup IPI gives it. */
#include "ap.h"

#include <string.h>

void ap_sipi_state(struct hv_vcpu_state *s, uint8_t vector, uint32_t signature)
{
    memset(s, 0, sizeof(*s));
    const struct hv_segment data = { 0, AP_ATTR_DATA, AP_SEG_LIMIT, 0 };
    s->cs = (struct hv_segment){ (uint16_t)((unsigned)vector << AP_SIPI_SELECTOR_SHIFT), AP_ATTR_CODE, AP_SEG_LIMIT,
                                 (uint64_t)vector << AP_SIPI_BASE_SHIFT };
    s->ss = s->ds = s->es = s->fs = s->gs = data;
    s->tr = (struct hv_segment){ 0, AP_ATTR_TR, AP_SEG_LIMIT, 0 };
    s->ldtr = (struct hv_segment){ 0, AP_ATTR_LDTR, AP_SEG_LIMIT, 0 };
    s->gdtr = (struct hv_dtable){ 0, AP_SEG_LIMIT };
    s->idtr = (struct hv_dtable){ 0, AP_SEG_LIMIT };
    s->cr0 = AP_CR0_INIT;
    s->rip = 0;
    s->rflags = AP_RFLAGS_INIT;
    s->rdx = signature;
    s->pat = AP_PAT_INIT;
    /* No event pending, no interrupt shadow, no window: INIT discards them. */
    s->mtd = HV_MTD_ALL & ~(uint64_t)HV_MTD_TSC;
}
