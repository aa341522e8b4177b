/* SPDX-License-Identifier: MIT */
/* console: the guest's COM1 on a real UART — the appliance console (COM1) or the VM's own port — output through the vmm's console port cap, input from that UART's IRQ. */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "hv/errors.h"
#include "hv/hvrt.h"
#include "hv/objects.h"
#include "vmm.h"

/*
 * The real UART the console cap covers (hvrt_console_port(): the manifest's Server.console,
 * COM1 by default): 16550 registers at offsets from its base.
 */
#define UART_DATA 0u                    /* with LCR.DLAB: divisor latch, low byte */
#define UART_IER 1u                     /* with LCR.DLAB: divisor latch, high byte */
#define UART_FCR 2u
#define UART_LCR 3u
#define UART_MCR 4u
#define UART_LSR 5u
#define LCR_DLAB 0x80u
#define LCR_8N1 0x03u
#define FCR_ENABLE_CLEAR 0x07u          /* FIFOs on, both cleared */
#define DIVISOR_115200 1u
#define IER_RX_AVAILABLE 0x01u
#define MCR_DTR_RTS_OUT2 0x0bu          /* OUT2 gates the UART's interrupt to the PIC */
#define LSR_DATA_READY 0x01u
#define INPUT_MAX_PER_IRQ 64u

static char out_buf[256];
static unsigned out_len;
static bool mid_line;                   /* the guest's last byte was not a newline */

void vmm_console_flush(void)
{
    unsigned off = 0;
    while (off < out_len) {
        ssize_t n = write(1, out_buf + off, out_len - off);
        if (n <= 0)
            break;
        off += (unsigned)n;
    }
    out_len = 0;
}

void vmm_console_out(void *ctx, uint8_t byte)
{
    (void)ctx;
    if (out_len == sizeof(out_buf))
        vmm_console_flush();
    out_buf[out_len++] = (char)byte;
    mid_line = byte != '\n';
    if (byte == '\n')
        vmm_console_flush();
}

void vmm_log(const struct vmm *v, const char *fmt, ...)
{
    if (mid_line) {
        vmm_console_out(0, '\n');
    }
    vmm_console_flush();
    char line[256];
    int n = snprintf(line, sizeof(line), "vmm: vm %s: ", v->name);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (unsigned)n < sizeof(line))
        n += vsnprintf(line + n, sizeof(line) - (unsigned)n, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((unsigned)n >= sizeof(line) - 1)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    (void)write(1, line, (size_t)n);
}

static uint64_t port_in(uint64_t port)
{
    uint64_t args[2] = { port, 1 }, out[4] = { 0 };
    if (vmm_invoke(HVRT_SLOT_CONSOLE, HV_INV_IOPORT_IN, 2, args, out) != HV_OK)
        return 0;
    return out[0];
}

static void port_out(uint64_t port, uint64_t val)
{
    uint64_t args[3] = { port, 1, val };
    (void)vmm_invoke(HVRT_SLOT_CONSOLE, HV_INV_IOPORT_OUT, 3, args, NULL);
}

/*
 * Sets up a UART of the VM's own (the core set COM1 up and shares it: left as it is) and
 * takes its receive interrupt if the manifest gave the IRQ (else output only).
 */
void vmm_console_init(struct vmm *v)
{
    uint64_t base = hvrt_console_port();
    if (base != HVRT_COM1) {
        port_out(base + UART_IER, 0);
        port_out(base + UART_LCR, LCR_DLAB);
        port_out(base + UART_DATA, DIVISOR_115200);
        port_out(base + UART_IER, 0);
        port_out(base + UART_LCR, LCR_8N1);
        port_out(base + UART_FCR, FCR_ENABLE_CLEAR);
    }
    uint64_t args[1] = { VMM_SLOT_NTFN };
    v->have_console_irq =
        vmm_invoke(VMM_SLOT_CONSOLE_IRQ, HV_INV_IRQ_HANDLER_SET_NOTIFICATION, 1, args, NULL) == HV_OK;
    if (!v->have_console_irq)
        return;
    port_out(base + UART_MCR, MCR_DTR_RTS_OUT2);
    port_out(base + UART_IER, IER_RX_AVAILABLE);
    vmm_console_input(v);   /* drain what is there and acknowledge the line */
}

/* The console IRQ fired: move what the real UART received into the guest's UART. */
void vmm_console_input(struct vmm *v)
{
    uint64_t base = hvrt_console_port();
    for (unsigned i = 0; i < INPUT_MAX_PER_IRQ && (port_in(base + UART_LSR) & LSR_DATA_READY) != 0; i++) {
        uint8_t b = (uint8_t)port_in(base + UART_DATA);
        if (vuart_input(&v->plat.com1, &b, 1) == 0)
            break;  /* the guest's input queue is full: drop (it reads slower than a human types) */
    }
    (void)vmm_invoke(VMM_SLOT_CONSOLE_IRQ, HV_INV_IRQ_HANDLER_ACK, 0, NULL, NULL);
}
