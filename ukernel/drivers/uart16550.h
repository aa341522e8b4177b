/* SPDX-License-Identifier: MIT */
/* uart16550: the core's serial console on COM1 (polled, transmit only). */
#ifndef HV_DRIVERS_UART16550_H
#define HV_DRIVERS_UART16550_H

#include <stdbool.h>

void uart_init(void);
void uart_putc(char c);
/* Waits until the transmitter is empty (the last byte has left the shift register). */
void uart_flush(void);
/* True once uart_init() found a UART that loops back its scratch register. */
bool uart_present(void);

#endif
