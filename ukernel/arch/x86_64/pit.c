/* SPDX-License-Identifier: MIT */
/* pit: 8254 channel 2 one-shot countdowns, gated and read through port 0x61. */
#include "pit.h"

#include "cpu.h"

#define PIT_CHANNEL2 0x42
#define PIT_COMMAND 0x43
#define PIT_CMD_CH2_LOHI_MODE0 0xb0     /* channel 2, lobyte/hibyte, interrupt on terminal count */
#define PORT_SYSCTRL_B 0x61
#define SYSCTRL_B_GATE2 0x01
#define SYSCTRL_B_SPEAKER 0x02
#define SYSCTRL_B_OUT2 0x20

void pit_oneshot_start(uint32_t us)
{
    if (us > PIT_MAX_WAIT_US)
        us = PIT_MAX_WAIT_US;
    uint32_t count = (uint32_t)(((uint64_t)PIT_FREQUENCY_HZ * us) / 1000000u);
    if (count == 0)
        count = 1;

    uint8_t ctrl = inb(PORT_SYSCTRL_B);
    ctrl = (uint8_t)((ctrl & ~(SYSCTRL_B_SPEAKER | SYSCTRL_B_GATE2)));
    outb(PORT_SYSCTRL_B, ctrl);                     /* gate low: hold the counter */
    outb(PIT_COMMAND, PIT_CMD_CH2_LOHI_MODE0);
    outb(PIT_CHANNEL2, (uint8_t)count);
    outb(PIT_CHANNEL2, (uint8_t)(count >> 8));
    outb(PORT_SYSCTRL_B, ctrl | SYSCTRL_B_GATE2);  /* rising gate starts the countdown */
}

int pit_oneshot_done(void)
{
    return (inb(PORT_SYSCTRL_B) & SYSCTRL_B_OUT2) != 0;
}

void pit_delay_us(uint64_t us)
{
    while (us > 0) {
        uint32_t chunk = us > PIT_MAX_WAIT_US ? PIT_MAX_WAIT_US : (uint32_t)us;
        pit_oneshot_start(chunk);
        while (!pit_oneshot_done())
            cpu_relax();
        us -= chunk;
    }
}
