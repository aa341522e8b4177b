/* SPDX-License-Identifier: MIT */
/* pit: the 8254 programmable interval timer (ports 0x40-0x43, IRQ0) and port 0x61's channel-2 gate and OUT2. */
#ifndef VMM_PIT_H
#define VMM_PIT_H

#include <stdbool.h>
#include <stdint.h>

#include "vdev.h"

#define VPIT_PORT 0x40u             /* counters 0x40-0x42, control word 0x43 */
#define VPIT_PORT_B 0x61u           /* NMI status and control (gate 2, speaker, OUT2) */
#define VPIT_HZ 1193182ull          /* input clock, 14.31818 MHz / 12 */

/* Port 0x61 bits. */
#define VPIT_B_GATE2 0x01u
#define VPIT_B_SPEAKER 0x02u
#define VPIT_B_REFRESH 0x10u        /* toggles every 15.085 us */
#define VPIT_B_OUT2 0x20u

/* Control word: SC1 SC0 RW1 RW0 M2 M1 M0 BCD. */
#define VPIT_RW_LATCH 0u
#define VPIT_RW_LSB 1u
#define VPIT_RW_MSB 2u
#define VPIT_RW_WORD 3u
#define VPIT_READBACK 3u            /* SC = 11 */

struct vpit_channel {
    uint8_t mode;           /* 0-5 (6, 7 alias 2, 3) */
    uint8_t rw;             /* VPIT_RW_* */
    bool bcd;
    bool gate;
    bool loaded;            /* a count was written since the control word (else NULL count) */
    bool armed;             /* modes 1, 5: triggered by a gate rising edge */
    uint32_t count;         /* reload value, 1..0x10000 */
    uint64_t load_ns;       /* when counting (re)started from `count` */
    uint64_t paused_ticks;  /* modes 0, 4 with gate low: ticks counted before the pause */
    bool paused;
    bool write_msb_next;    /* RW_WORD: lsb written, msb next */
    uint8_t write_lsb;
    bool read_msb_next;     /* RW_WORD reads: lsb read, msb next */
    bool count_latched;
    uint16_t latch;
    bool latch_msb_next;
    bool status_latched;
    uint8_t status;
    uint64_t irq_next_ns;   /* channel 0: next OUT rising edge to raise IRQ0 for */
};

struct vpit {
    struct vpit_channel ch[3];
    uint8_t port_b;         /* writable bits of port 0x61 */
    const struct vclock *clock;
    struct vdev_irq irq0;
};

void vpit_init(struct vpit *pit, const struct vclock *clock, struct vdev_irq irq0);
uint8_t vpit_read(struct vpit *pit, uint16_t port);
void vpit_write(struct vpit *pit, uint16_t port, uint8_t val);
/* Channel `c`'s counter and OUT pin now (as a read-back would see them, without latching). */
uint16_t vpit_counter(const struct vpit *pit, unsigned c);
bool vpit_out(const struct vpit *pit, unsigned c);
/* Channel 0's OUT edges up to now become IRQ0 pulses. */
void vpit_tick(struct vpit *pit);
uint64_t vpit_next_deadline(const struct vpit *pit);

uint64_t vpit_bus_read(void *dev, unsigned cpu, uint64_t port, unsigned size);
void vpit_bus_write(void *dev, unsigned cpu, uint64_t port, unsigned size, uint64_t val);

#endif
