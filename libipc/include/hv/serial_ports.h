/* SPDX-License-Identifier: MIT */
/* serial_ports: the PC's COM1..COM4 UARTs, as the manifest's SerialPort names them. */
#ifndef HV_SERIAL_PORTS_H
#define HV_SERIAL_PORTS_H

#include <stdint.h>

/*
 * One table for init (which issues a server its console UART), manifest_check (which
 * keeps consoles apart) and libhvrt (which finds the UART its console cap covers).
 * Index = hv.manifest.SerialPort (SERIAL_COM1 = 0 .. SERIAL_COM4 = 3).
 */
#define HV_SERIAL_PORTS 4u              /* COM1..COM4 */
#define HV_SERIAL_PORT_COUNT 8u         /* a 16550's eight registers from its base */

/* The I/O base of COM<port+1> (the PC's fixed assignment), or 0 for no such port. */
static inline uint16_t hv_serial_base(unsigned port)
{
    static const uint16_t bases[HV_SERIAL_PORTS] = { 0x3f8, 0x2f8, 0x3e8, 0x2e8 };
    return port < HV_SERIAL_PORTS ? bases[port] : 0;
}

#endif
