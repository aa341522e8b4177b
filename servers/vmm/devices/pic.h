/* SPDX-License-Identifier: MIT */
/* pic: the 8259A programmable interrupt controller pair (master 0x20, slave 0xa0 on IRQ2, ELCR 0x4d0/0x4d1). */
#ifndef VMM_PIC_H
#define VMM_PIC_H

#include <stdbool.h>
#include <stdint.h>

#define VPIC_MASTER_PORT 0x20u      /* command (ICW1, OCW2, OCW3) / data (ICW2-4, OCW1) = +1 */
#define VPIC_SLAVE_PORT 0xa0u
#define VPIC_ELCR_PORT 0x4d0u       /* 0x4d0 master, 0x4d1 slave: 1 = level-triggered */
#define VPIC_CASCADE_IRQ 2u

/* Command-port bits that tell the words apart (8259A datasheet, "Programming the 8259A"). */
#define VPIC_ICW1 0x10u             /* D4 = 1 */
#define VPIC_ICW1_IC4 0x01u
#define VPIC_ICW1_SNGL 0x02u
#define VPIC_OCW3 0x08u             /* D4 = 0, D3 = 1 */
#define VPIC_OCW3_RIS 0x01u
#define VPIC_OCW3_RR 0x02u
#define VPIC_OCW3_P 0x04u
#define VPIC_OCW3_SMM 0x20u
#define VPIC_OCW3_ESMM 0x40u
#define VPIC_ICW4_AEOI 0x02u
#define VPIC_ICW4_SFNM 0x10u

enum vpic_init_step { VPIC_READY, VPIC_ICW2, VPIC_ICW3, VPIC_ICW4 };

struct vpic_chip {
    uint8_t irr;            /* requests latched (edge) or sampled (level) */
    uint8_t isr;            /* in service */
    uint8_t imr;            /* masked */
    uint8_t lines;          /* current input levels (edge detection) */
    uint8_t elcr;           /* level-triggered inputs */
    uint8_t elcr_mask;      /* inputs that may be level-triggered */
    uint8_t vector_base;    /* ICW2 & 0xf8 */
    uint8_t icw3;
    uint8_t lowest;         /* the IR with the lowest priority (rotation), 7 after init */
    enum vpic_init_step step;
    bool icw4_needed;
    bool single;
    bool auto_eoi;
    bool rotate_aeoi;
    bool sfnm;              /* special fully nested (master: slave requests nest) */
    bool read_isr;          /* OCW3 RR/RIS: command-port reads return ISR */
    bool poll;              /* OCW3 P: the next command-port read is a poll */
    bool special_mask;
};

struct vpic {
    struct vpic_chip chip[2];   /* [0] master (IRQ 0-7), [1] slave (IRQ 8-15) */
};

void vpic_init(struct vpic *pic);
/* Drive ISA IRQ line `irq` (0-15) to `level`. */
void vpic_set_irq(struct vpic *pic, unsigned irq, bool level);
/* The master's INT output: an unmasked request beats everything in service. */
bool vpic_has_intr(const struct vpic *pic);
/* INTA cycle: the vector the CPU reads (IRQ7/IRQ15 spurious vector when nothing pends). */
uint8_t vpic_intack(struct vpic *pic);

uint8_t vpic_read(struct vpic *pic, uint16_t port);
void vpic_write(struct vpic *pic, uint16_t port, uint8_t val);

/* vbus handlers for the three port ranges. */
uint64_t vpic_bus_read(void *dev, unsigned cpu, uint64_t port, unsigned size);
void vpic_bus_write(void *dev, unsigned cpu, uint64_t port, unsigned size, uint64_t val);

#endif
