/* SPDX-License-Identifier: MIT */
/* apic_msg: an interrupt message on the (virtual) APIC bus, as the I/O APIC and a local APIC's ICR send it. */
#ifndef VMM_APIC_MSG_H
#define VMM_APIC_MSG_H

#include <stdbool.h>
#include <stdint.h>

/* Delivery modes (the same encoding in I/O APIC redirection entries and the ICR). */
#define APIC_DM_FIXED 0u
#define APIC_DM_LOWEST 1u
#define APIC_DM_SMI 2u
#define APIC_DM_NMI 4u
#define APIC_DM_INIT 5u
#define APIC_DM_STARTUP 6u
#define APIC_DM_EXTINT 7u

/* ICR destination shorthands. */
#define APIC_SH_NONE 0u
#define APIC_SH_SELF 1u
#define APIC_SH_ALL 2u
#define APIC_SH_OTHERS 3u

struct apic_msg {
    uint8_t vector;
    uint8_t delivery;       /* APIC_DM_* */
    uint8_t dest;           /* APIC ID (physical) or logical mask */
    uint8_t shorthand;      /* APIC_SH_* (ICR only) */
    bool logical;           /* destination mode */
    bool level;             /* trigger mode: level (the receiving TMR bit) */
    bool assert;            /* ICR level bit: INIT with assert = 0 is the "INIT de-assert" no-op */
    unsigned src;           /* sending vCPU (shorthands), unused for the I/O APIC */
};

/* Where messages go: the platform delivers to the matching local APICs. */
struct apic_bus {
    void (*deliver)(void *ctx, const struct apic_msg *msg);
    void *ctx;
};

#endif
