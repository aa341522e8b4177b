/* SPDX-License-Identifier: MIT */
/* irqsrv: init's irq test server: takes the PIT's interrupts through the irq cap from its manifest, then crashes on purpose. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "hv/errors.h"
#include "hv/objects.h"
#include "hv/syscall.h"
#include "init_test.h"

#define PIT_CH0 0x40u
#define PIT_CMD 0x43u
#define PIT_RELOAD (1193182u / 100u)    /* 100 Hz */
#define PIT_CMD_CH0_RATE 0x34u          /* channel 0, lobyte/hibyte, mode 2 (rate generator) */
#define DEADLINE_S 10

static uint64_t invoke(uint64_t cptr, uint64_t label, unsigned n, uint64_t a0, uint64_t a1, uint64_t a2)
{
    struct hv_msg m = { hv_tag(label, n, 0), 0, { a0, a1, a2, 0 } };
    return hv_call(cptr, &m);
}

static uint64_t out8(uint64_t port, uint64_t v)
{
    return invoke(IRQ_SLOT_PIT_PORTS, HV_INV_IOPORT_OUT, 3, port, 1, v);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
    if (invoke(IRQ_SLOT_HANDLER, HV_INV_IRQ_HANDLER_SET_NOTIFICATION, 1, IRQ_SLOT_NTFN, 0, 0) != HV_OK) {
        printf("irqsrv: cannot bind the notification to the handler\n");
        exit(1);
    }
    uint64_t e = out8(PIT_CMD, PIT_CMD_CH0_RATE) | out8(PIT_CH0, PIT_RELOAD & 0xffu) | out8(PIT_CH0, PIT_RELOAD >> 8);
    if (e != HV_OK || invoke(IRQ_SLOT_HANDLER, HV_INV_IRQ_HANDLER_ACK, 0, 0, 0, 0) != HV_OK) {
        printf("irqsrv: cannot program the PIT or ACK the line\n");
        exit(2);
    }
    unsigned got = 0;
    double end = now() + DEADLINE_S;
    while (got < IRQ_WANT_SIGNALS && now() < end) {
        uint64_t bits = 0;
        if (hv_poll(IRQ_SLOT_NTFN, &bits) == HV_OK && bits != 0) {
            got++;
            (void)invoke(IRQ_SLOT_HANDLER, HV_INV_IRQ_HANDLER_ACK, 0, 0, 0, 0);
        } else {
            hv_yield();
        }
    }
    printf("irqsrv: %u of %u PIT interrupts\n", got, IRQ_WANT_SIGNALS);
    fflush(stdout);
    if (got < IRQ_WANT_SIGNALS)
        exit(3);
    /* Crash: init restarts it once, and the new incarnation can only take the line if the old one's cap is gone. */
    volatile uint64_t *volatile bad = (volatile uint64_t *)(uintptr_t)0x10;
    *bad = 1;
    return 0;
}
