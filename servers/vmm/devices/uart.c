/* SPDX-License-Identifier: MIT */
/* uart: a 16550A UART (COM1 at 0x3f8, IRQ4) whose transmitter feeds the appliance console and whose receiver the vmm fills. */
#include "uart.h"

#include <string.h>

/*
 * Transmission is instantaneous: a THR write goes to the output callback (or, in
 * loopback, into the RX FIFO) and THR/TSR are empty again at once. Reception moves
 * bytes from the vmm's input queue into the RX FIFO whenever there is room, so console
 * input never overruns; only loopback can overrun the FIFO.
 */

static bool fifo_on(const struct vuart *u)
{
    return (u->fcr & VUART_FCR_ENABLE) != 0;
}

static unsigned rx_capacity(const struct vuart *u)
{
    return fifo_on(u) ? VUART_FIFO_SIZE : 1u;
}

static unsigned rx_trigger(const struct vuart *u)
{
    static const unsigned level[4] = { 1, 4, 8, 14 };
    return fifo_on(u) ? level[u->fcr >> 6] : 1u;
}

/* Modem inputs: loopback wires MCR to them; otherwise a terminal is attached (CTS DSR DCD). */
static uint8_t modem_lines(const struct vuart *u)
{
    if (!(u->mcr & VUART_MCR_LOOP))
        return VUART_MSR_CTS | VUART_MSR_DSR | VUART_MSR_DCD;
    uint8_t m = 0;
    if (u->mcr & VUART_MCR_RTS) m |= VUART_MSR_CTS;
    if (u->mcr & VUART_MCR_DTR) m |= VUART_MSR_DSR;
    if (u->mcr & VUART_MCR_OUT1) m |= VUART_MSR_RI;
    if (u->mcr & VUART_MCR_OUT2) m |= VUART_MSR_DCD;
    return m;
}

static void update_msr(struct vuart *u)
{
    uint8_t now = modem_lines(u);
    uint8_t changed = now ^ u->msr_lines;
    if (changed & VUART_MSR_CTS) u->msr_delta |= VUART_MSR_DCTS;
    if (changed & VUART_MSR_DSR) u->msr_delta |= VUART_MSR_DDSR;
    if (changed & VUART_MSR_DCD) u->msr_delta |= VUART_MSR_DDCD;
    if ((u->msr_lines & VUART_MSR_RI) && !(now & VUART_MSR_RI))
        u->msr_delta |= VUART_MSR_TERI;             /* trailing edge of RI */
    u->msr_lines = now;
}

/* IIR by priority: line status > received data / timeout > THR empty > modem status. */
static uint8_t iir_source(const struct vuart *u)
{
    if ((u->ier & VUART_IER_RLSI) && u->lsr_errors)
        return VUART_IIR_RLSI;
    if ((u->ier & VUART_IER_RDI) && u->rx_count >= rx_trigger(u))
        return VUART_IIR_RDI;
    if ((u->ier & VUART_IER_RDI) && u->timeout_pending && u->rx_count > 0)
        return VUART_IIR_TIMEOUT;
    if ((u->ier & VUART_IER_THRI) && u->thr_ipending)
        return VUART_IIR_THRI;
    if ((u->ier & VUART_IER_MSI) && (u->msr_delta & 0x0fu))
        return VUART_IIR_MSI;
    return VUART_IIR_NO_INT;
}

static void update_irq(struct vuart *u)
{
    /* On a PC the IRQ line is driven through OUT2; loopback disconnects it. */
    bool line = iir_source(u) != VUART_IIR_NO_INT && (u->mcr & VUART_MCR_OUT2) &&
                !(u->mcr & VUART_MCR_LOOP);
    vdev_irq_set(&u->irq, line);
}

static void rx_push(struct vuart *u, uint8_t b)
{
    if (u->rx_count >= rx_capacity(u)) {
        u->lsr_errors |= VUART_LSR_OE;              /* the shift register's byte is lost */
        return;
    }
    u->rx[(u->rx_head + u->rx_count) % VUART_FIFO_SIZE] = b;
    u->rx_count++;
    u->rx_last_ns = vclock_now(u->clock);
    u->timeout_pending = false;
}

static void drain_input(struct vuart *u)
{
    if (u->mcr & VUART_MCR_LOOP)
        return;                                     /* the receiver is wired to the transmitter */
    while (u->in_count > 0 && u->rx_count < rx_capacity(u)) {
        rx_push(u, u->in[u->in_head]);
        u->in_head = (u->in_head + 1u) % VUART_INPUT_SIZE;
        u->in_count--;
    }
}

size_t vuart_input(struct vuart *u, const uint8_t *buf, size_t len)
{
    size_t n = 0;
    while (n < len && u->in_count < VUART_INPUT_SIZE) {
        u->in[(u->in_head + u->in_count) % VUART_INPUT_SIZE] = buf[n++];
        u->in_count++;
    }
    drain_input(u);
    update_irq(u);
    return n;
}

static void clear_rx(struct vuart *u)
{
    u->rx_head = u->rx_count = 0;
    u->timeout_pending = false;
}

void vuart_init(struct vuart *u, const struct vclock *clock, struct vdev_irq irq,
                void (*output)(void *ctx, uint8_t byte), void *output_ctx)
{
    memset(u, 0, sizeof(*u));
    u->clock = clock;
    u->irq = irq;
    u->output = output;
    u->output_ctx = output_ctx;
    u->divisor = 12;                                /* 9600 baud */
    u->lcr = 0x03;                                  /* 8N1 */
    u->msr_lines = modem_lines(u);
}

/* 4 character times at the programmed format and rate (16550A datasheet, FIFO timeout). */
static uint64_t timeout_ns(const struct vuart *u)
{
    unsigned bits = 1u + 5u + (u->lcr & 3u) + ((u->lcr & 0x08u) ? 1u : 0u) + ((u->lcr & 0x04u) ? 2u : 1u);
    uint64_t div = u->divisor ? u->divisor : 1u;
    return vdev_muldiv(4ull * bits * 16u * div, VDEV_NS_PER_SEC, VUART_CLOCK_HZ);
}

void vuart_tick(struct vuart *u)
{
    uint64_t d = vuart_next_deadline(u);
    if (d != VDEV_NO_DEADLINE && vclock_now(u->clock) >= d) {
        u->timeout_pending = true;
        update_irq(u);
    }
}

uint64_t vuart_next_deadline(const struct vuart *u)
{
    if (!fifo_on(u) || u->rx_count == 0 || u->rx_count >= rx_trigger(u) || u->timeout_pending)
        return VDEV_NO_DEADLINE;
    return u->rx_last_ns + timeout_ns(u);
}

uint8_t vuart_read(struct vuart *u, unsigned off)
{
    uint8_t v;
    vuart_tick(u);
    switch (off & 7u) {
    case VUART_RBR:
        if (u->lcr & VUART_LCR_DLAB)
            return (uint8_t)u->divisor;
        v = 0;
        if (u->rx_count > 0) {
            v = u->rx[u->rx_head];
            u->rx_head = (u->rx_head + 1u) % VUART_FIFO_SIZE;
            u->rx_count--;
            u->rx_last_ns = vclock_now(u->clock);
        }
        u->timeout_pending = false;
        drain_input(u);
        break;
    case VUART_IER:
        if (u->lcr & VUART_LCR_DLAB)
            return (uint8_t)(u->divisor >> 8);
        return u->ier;
    case VUART_IIR:
        v = iir_source(u);
        if (v == VUART_IIR_THRI)
            u->thr_ipending = false;                /* reading IIR with THRE as the source clears it */
        if (fifo_on(u))
            v |= VUART_IIR_FIFO;
        break;
    case VUART_LCR:
        return u->lcr;
    case VUART_MCR:
        return u->mcr;
    case VUART_LSR:
        v = (uint8_t)(VUART_LSR_THRE | VUART_LSR_TEMT | u->lsr_errors | (u->rx_count ? VUART_LSR_DR : 0u));
        if (fifo_on(u) && (u->lsr_errors & (VUART_LSR_PE | VUART_LSR_FE | VUART_LSR_BI)))
            v |= VUART_LSR_FIFOE;
        u->lsr_errors = 0;
        break;
    case VUART_MSR:
        update_msr(u);
        v = (uint8_t)(u->msr_lines | u->msr_delta);
        u->msr_delta = 0;
        break;
    default:
        return u->scr;
    }
    update_irq(u);
    return v;
}

void vuart_write(struct vuart *u, unsigned off, uint8_t val)
{
    vuart_tick(u);
    switch (off & 7u) {
    case VUART_RBR:
        if (u->lcr & VUART_LCR_DLAB) {
            u->divisor = (uint16_t)((u->divisor & 0xff00u) | val);
            return;
        }
        if (u->mcr & VUART_MCR_LOOP)
            rx_push(u, val);
        else if (u->output != 0)
            u->output(u->output_ctx, val);
        u->thr_ipending = true;                     /* sent at once: THR empty again */
        break;
    case VUART_IER:
        if (u->lcr & VUART_LCR_DLAB) {
            u->divisor = (uint16_t)((u->divisor & 0x00ffu) | (unsigned)(val << 8));
            return;
        }
        /* Enabling ETBEI with THR empty raises THRE (Linux's 8250 probes this). */
        if ((val & VUART_IER_THRI) && !(u->ier & VUART_IER_THRI))
            u->thr_ipending = true;
        u->ier = val & 0x0fu;
        break;
    case VUART_IIR: {                               /* FCR */
        bool was = fifo_on(u);
        u->fcr = val & 0xc9u;
        if (was != fifo_on(u) || (val & VUART_FCR_CLEAR_RX))
            clear_rx(u);                            /* toggling the enable resets both FIFOs */
        drain_input(u);
        break;
    }
    case VUART_LCR:
        u->lcr = val;
        break;
    case VUART_MCR:
        u->mcr = val & 0x1fu;
        update_msr(u);
        drain_input(u);
        break;
    case VUART_LSR:
    case VUART_MSR:
        break;                                      /* factory test registers: no effect */
    default:
        u->scr = val;
        break;
    }
    update_irq(u);
}

uint64_t vuart_bus_read(void *dev, unsigned cpu, uint64_t port, unsigned size)
{
    (void)cpu;
    struct vuart *u = dev;
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)vuart_read(u, (unsigned)((port + i) & 7u)) << (8 * i);
    return v;
}

void vuart_bus_write(void *dev, unsigned cpu, uint64_t port, unsigned size, uint64_t val)
{
    (void)cpu;
    struct vuart *u = dev;
    for (unsigned i = 0; i < size; i++)
        vuart_write(u, (unsigned)((port + i) & 7u), (uint8_t)(val >> (8 * i)));
}
