/* SPDX-License-Identifier: MIT */
/* uart16550: polled 16550 driver for COM1, 115200 8N1. */
#include "uart16550.h"

#include <stdint.h>

#include "../arch/x86_64/cpu.h"

#define COM1_BASE 0x3f8
#define UART_THR 0      /* transmit holding (DLAB=0) */
#define UART_DLL 0      /* divisor low (DLAB=1) */
#define UART_IER 1
#define UART_DLM 1      /* divisor high (DLAB=1) */
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_SCR 7

#define LCR_8N1 0x03
#define LCR_DLAB 0x80
#define FCR_ENABLE_CLEAR 0x07
#define MCR_DTR_RTS_OUT2 0x0b
#define LSR_THR_EMPTY 0x20
#define LSR_TRANSMITTER_EMPTY 0x40
#define UART_CLOCK_DIVISOR_115200 1

/* A wedged or absent UART must not hang the core: give up on a byte after this many polls. */
#define UART_TX_SPIN_LIMIT 100000

static bool present;

void uart_init(void)
{
    outb(COM1_BASE + UART_SCR, 0x5a);
    present = inb(COM1_BASE + UART_SCR) == 0x5a;

    outb(COM1_BASE + UART_IER, 0x00);
    outb(COM1_BASE + UART_LCR, LCR_DLAB);
    outb(COM1_BASE + UART_DLL, UART_CLOCK_DIVISOR_115200);
    outb(COM1_BASE + UART_DLM, 0x00);
    outb(COM1_BASE + UART_LCR, LCR_8N1);
    outb(COM1_BASE + UART_FCR, FCR_ENABLE_CLEAR);
    outb(COM1_BASE + UART_MCR, MCR_DTR_RTS_OUT2);
}

bool uart_present(void)
{
    return present;
}

static void uart_tx(uint8_t byte)
{
    for (unsigned i = 0; i < UART_TX_SPIN_LIMIT; i++) {
        if (inb(COM1_BASE + UART_LSR) & LSR_THR_EMPTY)
            break;
        cpu_relax();
    }
    outb(COM1_BASE + UART_THR, byte);
}

void uart_flush(void)
{
    for (unsigned i = 0; i < UART_TX_SPIN_LIMIT; i++) {
        if (inb(COM1_BASE + UART_LSR) & LSR_TRANSMITTER_EMPTY)
            return;
        cpu_relax();
    }
}

void uart_putc(char c)
{
    if (c == '\n')
        uart_tx('\r');
    uart_tx((uint8_t)c);
}
