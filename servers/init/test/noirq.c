/* SPDX-License-Identifier: MIT */
/* noirq: init's irq test server without an irq cap: no slot it holds acts as an IRQ cap, and no interrupt reaches it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "hv/errors.h"
#include "hv/init_abi.h"
#include "hv/objects.h"
#include "hv/syscall.h"
#include "init_test.h"

#define CNODE_SLOTS 4096u
#define LISTEN_S 2

static uint64_t invoke(uint64_t cptr, uint64_t label, unsigned n, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
    struct hv_msg m = { hv_tag(label, n, 0), 0, { a0, a1, a2, a3 } };
    return hv_call(cptr, &m);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
    unsigned accepted = 0;
    for (uint64_t slot = 1; slot < CNODE_SLOTS; slot++) {
        /* A call on a notification signals it and on a Reply answers: those are not IRQ caps anyway. */
        if (slot == INIT_SLOT_EXIT_NTFN || slot == INIT_SLOT_REPLY || slot == NOIRQ_SLOT_NTFN)
            continue;
        if (invoke(slot, HV_INV_IRQ_CONTROL_GET, 4, 0, 1, 100, 64) == HV_OK)
            accepted++;
        if (invoke(slot, HV_INV_IRQ_HANDLER_SET_NOTIFICATION, 1, NOIRQ_SLOT_NTFN, 0, 0, 0) == HV_OK)
            accepted++;
        if (invoke(slot, HV_INV_IRQ_HANDLER_ACK, 0, 0, 0, 0, 0) == HV_OK)
            accepted++;
    }
    unsigned signals = 0;
    double end = now() + LISTEN_S;
    while (now() < end) {
        uint64_t bits = 0;
        if (hv_poll(NOIRQ_SLOT_NTFN, &bits) == HV_OK && bits != 0)
            signals++;
        hv_yield();
    }
    printf("noirq: %u IRQ invocations accepted, %u signals in %d s\n", accepted, signals, LISTEN_S);
    fflush(stdout);
    exit(accepted == 0 && signals == 0 ? 0 : 10);
}
