/* SPDX-License-Identifier: MIT */
/* kbc: the i8042 keyboard controller (0x60/0x64) with a keyboard that answers probes, AUX loopback and the 0xfe reset pulse. */
#include "kbc.h"

#include <string.h>

/*
 * Commands take effect at once, so the input buffer is never full (IBF 0: Linux's
 * kb_wait() before the reset pulse returns immediately). There is no mouse: bytes sent
 * to the AUX device (0xd4) are answered with nothing, which is what an empty PS/2 port
 * does; the AUX *loopback* (0xd3) works, so Linux's i8042 AUX probe completes.
 */

static void update_irq(struct vkbc *k)
{
    bool have = k->q_count > 0;
    bool aux = have && k->q_aux[k->q_head];
    vdev_irq_set(&k->irq1, have && !aux && (k->ctr & VKBC_CTR_KBDINT));
    vdev_irq_set(&k->irq12, have && aux && (k->ctr & VKBC_CTR_AUXINT));
}

static void push(struct vkbc *k, uint8_t b, bool aux)
{
    if (k->q_count >= VKBC_QUEUE)
        return;
    unsigned i = (k->q_head + k->q_count) % VKBC_QUEUE;
    k->q[i] = b;
    k->q_aux[i] = aux;
    k->q_count++;
    update_irq(k);
}

void vkbc_init(struct vkbc *k, struct vdev_irq irq1, struct vdev_irq irq12, struct vdev_events events)
{
    memset(k, 0, sizeof(*k));
    k->irq1 = irq1;
    k->irq12 = irq12;
    k->events = events;
    /* As firmware leaves it: both interrupts on, system flag (POST passed), translation on. */
    k->ctr = VKBC_CTR_KBDINT | VKBC_CTR_AUXINT | VKBC_CTR_SYS | VKBC_CTR_XLATE;
    k->outport = 0x01;              /* bit 0: reset line not asserted */
    k->kbd_scanning = true;
    k->scancode_set = 2;
}

#define KBD_ACK 0xfau
#define KBD_RESEND 0xfeu

/* A byte written to port 0x60 with no controller command pending goes to the keyboard. */
static void kbd_command(struct vkbc *k, uint8_t b)
{
    if (k->kbd_pending != 0) {
        uint8_t cmd = k->kbd_pending;
        k->kbd_pending = 0;
        push(k, KBD_ACK, false);
        if (cmd == 0xf0) {                  /* scan code set: 0 asks for the current one */
            if (b == 0)
                push(k, k->scancode_set, false);
            else if (b <= 3)
                k->scancode_set = b;
        }
        return;
    }
    switch (b) {
    case 0xed:                              /* set LEDs */
    case 0xf0:                              /* scan code set */
    case 0xf3:                              /* typematic rate */
        k->kbd_pending = b;
        push(k, KBD_ACK, false);
        break;
    case 0xee:                              /* echo */
        push(k, 0xee, false);
        break;
    case 0xf2:                              /* identify: MF2 keyboard */
        push(k, KBD_ACK, false);
        push(k, 0xab, false);
        push(k, 0x83, false);
        break;
    case 0xf4:
        k->kbd_scanning = true;
        push(k, KBD_ACK, false);
        break;
    case 0xf5:
        k->kbd_scanning = false;
        push(k, KBD_ACK, false);
        break;
    case 0xf6:                              /* set defaults */
        k->scancode_set = 2;
        push(k, KBD_ACK, false);
        break;
    case 0xff:                              /* reset: ACK, then self-test passed */
        k->scancode_set = 2;
        k->kbd_scanning = true;
        push(k, KBD_ACK, false);
        push(k, 0xaa, false);
        break;
    default:
        push(k, KBD_RESEND, false);
        break;
    }
}

static void controller_command(struct vkbc *k, uint8_t cmd)
{
    switch (cmd) {
    case VKBC_CMD_READ_CTR:
        push(k, k->ctr, false);
        break;
    case VKBC_CMD_WRITE_CTR:
    case VKBC_CMD_WRITE_OUTPUT:
    case VKBC_CMD_KBD_LOOP:
    case VKBC_CMD_AUX_LOOP:
    case VKBC_CMD_AUX_SEND:
        k->pending_cmd = cmd;               /* the data byte follows on port 0x60 */
        break;
    case VKBC_CMD_AUX_DISABLE:
        k->ctr |= VKBC_CTR_AUXDIS;
        break;
    case VKBC_CMD_AUX_ENABLE:
        k->ctr &= (uint8_t)~VKBC_CTR_AUXDIS;
        break;
    case VKBC_CMD_AUX_TEST:
    case VKBC_CMD_KBD_TEST:
        push(k, 0x00, false);               /* interface OK */
        break;
    case VKBC_CMD_SELF_TEST:
        k->ctr |= VKBC_CTR_SYS;
        push(k, 0x55, false);
        break;
    case VKBC_CMD_KBD_DISABLE:
        k->ctr |= VKBC_CTR_KBDDIS;
        break;
    case VKBC_CMD_KBD_ENABLE:
        k->ctr &= (uint8_t)~VKBC_CTR_KBDDIS;
        break;
    case VKBC_CMD_READ_INPUT:
        push(k, 0x80, false);               /* keyboard not inhibited */
        break;
    case VKBC_CMD_READ_OUTPUT:
        push(k, k->outport, false);
        break;
    default:
        /* 0xf0-0xff pulse output bits whose command bit is 0 for 6 us; bit 0 is CPU reset. */
        if ((cmd & 0xf0u) == 0xf0u && !(cmd & 1u))
            vdev_event_raise(&k->events, VDEV_EVENT_RESET_KBC);
        break;
    }
    update_irq(k);
}

static void controller_data(struct vkbc *k, uint8_t cmd, uint8_t b)
{
    switch (cmd) {
    case VKBC_CMD_WRITE_CTR:
        k->ctr = b;
        update_irq(k);
        break;
    case VKBC_CMD_WRITE_OUTPUT:
        k->outport = b;
        if (!(b & 1u))
            vdev_event_raise(&k->events, VDEV_EVENT_RESET_KBC);    /* reset line driven low */
        break;
    case VKBC_CMD_KBD_LOOP:
        push(k, b, false);
        break;
    case VKBC_CMD_AUX_LOOP:
        push(k, b, true);
        break;
    default:                                /* VKBC_CMD_AUX_SEND: no device answers */
        break;
    }
}

uint8_t vkbc_read(struct vkbc *k, uint16_t port)
{
    if (port == VKBC_STATUS) {
        uint8_t s = (uint8_t)(k->status_cmd | VKBC_STS_UNLOCKED | (k->ctr & VKBC_CTR_SYS));
        if (k->q_count > 0)
            s |= (uint8_t)(VKBC_STS_OBF | (k->q_aux[k->q_head] ? VKBC_STS_AUX : 0u));
        return s;
    }
    if (k->q_count == 0)
        return k->q[(k->q_head + VKBC_QUEUE - 1u) % VKBC_QUEUE];   /* last byte again */
    uint8_t b = k->q[k->q_head];
    k->q_head = (k->q_head + 1u) % VKBC_QUEUE;
    k->q_count--;
    update_irq(k);
    return b;
}

void vkbc_write(struct vkbc *k, uint16_t port, uint8_t val)
{
    if (port == VKBC_STATUS) {
        k->status_cmd = VKBC_STS_CMD;
        k->pending_cmd = 0;
        controller_command(k, val);
        return;
    }
    k->status_cmd = 0;
    if (k->pending_cmd != 0) {
        uint8_t cmd = k->pending_cmd;
        k->pending_cmd = 0;
        controller_data(k, cmd, val);
    } else {
        kbd_command(k, val);
    }
}

uint64_t vkbc_bus_read(void *dev, unsigned cpu, uint64_t port, unsigned size)
{
    (void)cpu;
    (void)size;
    return vkbc_read(dev, (uint16_t)port);
}

void vkbc_bus_write(void *dev, unsigned cpu, uint64_t port, unsigned size, uint64_t val)
{
    (void)cpu;
    (void)size;
    vkbc_write(dev, (uint16_t)port, (uint8_t)val);
}
