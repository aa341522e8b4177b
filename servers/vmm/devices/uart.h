/* SPDX-License-Identifier: MIT */
/* uart: a 16550A UART (COM1 at 0x3f8, IRQ4) whose transmitter feeds the appliance console and whose receiver the vmm fills. */
#ifndef VMM_UART_H
#define VMM_UART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vdev.h"

#define VUART_COM1 0x3f8u
#define VUART_COM1_IRQ 4u

/* Register offsets (DLAB = LCR bit 7 selects DLL/DLM at 0/1). */
#define VUART_RBR 0u    /* read: receive buffer; write: THR */
#define VUART_IER 1u
#define VUART_IIR 2u    /* read: interrupt identification; write: FCR */
#define VUART_LCR 3u
#define VUART_MCR 4u
#define VUART_LSR 5u
#define VUART_MSR 6u
#define VUART_SCR 7u

#define VUART_IER_RDI 0x01u
#define VUART_IER_THRI 0x02u
#define VUART_IER_RLSI 0x04u
#define VUART_IER_MSI 0x08u

#define VUART_IIR_NO_INT 0x01u
#define VUART_IIR_MSI 0x00u
#define VUART_IIR_THRI 0x02u
#define VUART_IIR_RDI 0x04u
#define VUART_IIR_RLSI 0x06u
#define VUART_IIR_TIMEOUT 0x0cu
#define VUART_IIR_FIFO 0xc0u

#define VUART_FCR_ENABLE 0x01u
#define VUART_FCR_CLEAR_RX 0x02u
#define VUART_FCR_CLEAR_TX 0x04u

#define VUART_LCR_DLAB 0x80u

#define VUART_MCR_DTR 0x01u
#define VUART_MCR_RTS 0x02u
#define VUART_MCR_OUT1 0x04u
#define VUART_MCR_OUT2 0x08u
#define VUART_MCR_LOOP 0x10u

#define VUART_LSR_DR 0x01u
#define VUART_LSR_OE 0x02u
#define VUART_LSR_PE 0x04u
#define VUART_LSR_FE 0x08u
#define VUART_LSR_BI 0x10u
#define VUART_LSR_THRE 0x20u
#define VUART_LSR_TEMT 0x40u
#define VUART_LSR_FIFOE 0x80u

#define VUART_MSR_DCTS 0x01u
#define VUART_MSR_DDSR 0x02u
#define VUART_MSR_TERI 0x04u
#define VUART_MSR_DDCD 0x08u
#define VUART_MSR_CTS 0x10u
#define VUART_MSR_DSR 0x20u
#define VUART_MSR_RI 0x40u
#define VUART_MSR_DCD 0x80u

#define VUART_FIFO_SIZE 16u
#define VUART_INPUT_SIZE 1024u      /* the vmm's pending console input */
#define VUART_CLOCK_HZ 1843200u     /* divisor 1 = 115200 baud */

struct vuart {
    uint8_t ier, lcr, mcr, scr, fcr;
    uint8_t lsr_errors;             /* OE PE FE BI, cleared by reading LSR */
    uint8_t msr_delta;              /* DCTS DDSR TERI DDCD, cleared by reading MSR */
    uint8_t msr_lines;              /* current CTS DSR RI DCD */
    uint16_t divisor;
    bool thr_ipending;              /* THRE interrupt armed (cleared by IIR read or THR write) */
    bool timeout_pending;           /* character timeout (FIFO mode) */
    uint8_t rx[VUART_FIFO_SIZE];
    unsigned rx_head, rx_count;
    uint8_t in[VUART_INPUT_SIZE];   /* input queue the vmm fills; drains into the RX FIFO */
    unsigned in_head, in_count;
    uint64_t rx_last_ns;            /* last RX FIFO activity (character timeout) */
    const struct vclock *clock;
    struct vdev_irq irq;
    void (*output)(void *ctx, uint8_t byte);
    void *output_ctx;
};

void vuart_init(struct vuart *u, const struct vclock *clock, struct vdev_irq irq,
                void (*output)(void *ctx, uint8_t byte), void *output_ctx);
/* Console input: queue up to `len` bytes; returns how many fit. */
size_t vuart_input(struct vuart *u, const uint8_t *buf, size_t len);
/* Register access at offset 0-7 from the base. */
uint8_t vuart_read(struct vuart *u, unsigned offset);
void vuart_write(struct vuart *u, unsigned offset, uint8_t val);
/* Character timeout: 4 character times after the last RX activity with data below the trigger. */
void vuart_tick(struct vuart *u);
uint64_t vuart_next_deadline(const struct vuart *u);

uint64_t vuart_bus_read(void *dev, unsigned cpu, uint64_t port, unsigned size);
void vuart_bus_write(void *dev, unsigned cpu, uint64_t port, unsigned size, uint64_t val);

#endif
