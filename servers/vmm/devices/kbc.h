/* SPDX-License-Identifier: MIT */
/* kbc: the i8042 keyboard controller (0x60/0x64) with a keyboard that answers probes, AUX loopback and the 0xfe reset pulse. */
#ifndef VMM_KBC_H
#define VMM_KBC_H

#include <stdbool.h>
#include <stdint.h>

#include "vdev.h"

#define VKBC_DATA 0x60u
#define VKBC_STATUS 0x64u           /* read: status; write: command */

#define VKBC_STS_OBF 0x01u
#define VKBC_STS_IBF 0x02u
#define VKBC_STS_SYS 0x04u
#define VKBC_STS_CMD 0x08u          /* last write was to 0x64 */
#define VKBC_STS_UNLOCKED 0x10u
#define VKBC_STS_AUX 0x20u          /* output buffer holds AUX data */

/* Controller command byte (CTR). */
#define VKBC_CTR_KBDINT 0x01u
#define VKBC_CTR_AUXINT 0x02u
#define VKBC_CTR_SYS 0x04u
#define VKBC_CTR_KBDDIS 0x10u
#define VKBC_CTR_AUXDIS 0x20u
#define VKBC_CTR_XLATE 0x40u

/* Controller commands (port 0x64). */
#define VKBC_CMD_READ_CTR 0x20u
#define VKBC_CMD_WRITE_CTR 0x60u
#define VKBC_CMD_AUX_DISABLE 0xa7u
#define VKBC_CMD_AUX_ENABLE 0xa8u
#define VKBC_CMD_AUX_TEST 0xa9u
#define VKBC_CMD_SELF_TEST 0xaau
#define VKBC_CMD_KBD_TEST 0xabu
#define VKBC_CMD_KBD_DISABLE 0xadu
#define VKBC_CMD_KBD_ENABLE 0xaeu
#define VKBC_CMD_READ_INPUT 0xc0u
#define VKBC_CMD_READ_OUTPUT 0xd0u
#define VKBC_CMD_WRITE_OUTPUT 0xd1u
#define VKBC_CMD_KBD_LOOP 0xd2u
#define VKBC_CMD_AUX_LOOP 0xd3u
#define VKBC_CMD_AUX_SEND 0xd4u
#define VKBC_CMD_PULSE_RESET 0xfeu  /* pulse output line 0: CPU reset */

#define VKBC_QUEUE 16u

struct vkbc {
    uint8_t ctr;
    uint8_t status_cmd;             /* VKBC_STS_CMD as last set */
    uint8_t pending_cmd;            /* controller command awaiting its data byte, or 0 */
    uint8_t kbd_pending;            /* keyboard command awaiting its parameter, or 0 */
    uint8_t outport;
    uint8_t q[VKBC_QUEUE];          /* output bytes, oldest at q_head */
    bool q_aux[VKBC_QUEUE];         /* the byte came from the AUX side */
    unsigned q_head, q_count;
    bool kbd_scanning;
    uint8_t scancode_set;
    struct vdev_irq irq1, irq12;
    struct vdev_events events;
};

void vkbc_init(struct vkbc *k, struct vdev_irq irq1, struct vdev_irq irq12, struct vdev_events events);
uint8_t vkbc_read(struct vkbc *k, uint16_t port);
void vkbc_write(struct vkbc *k, uint16_t port, uint8_t val);

uint64_t vkbc_bus_read(void *dev, unsigned cpu, uint64_t port, unsigned size);
void vkbc_bus_write(void *dev, unsigned cpu, uint64_t port, unsigned size, uint64_t val);

#endif
