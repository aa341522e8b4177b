/* SPDX-License-Identifier: MIT */
/* rtc: the MC146818 CMOS real-time clock and NVRAM (ports 0x70/0x71, IRQ8) with the memory-size bytes firmware leaves. */
#ifndef VMM_RTC_H
#define VMM_RTC_H

#include <stdbool.h>
#include <stdint.h>

#include "vdev.h"

#define VRTC_PORT 0x70u             /* index (bit 7: NMI disable) */
#define VRTC_DATA 0x71u
#define VRTC_NMI_DISABLE 0x80u

/* Registers. */
#define VRTC_SEC 0x00u
#define VRTC_SEC_ALARM 0x01u
#define VRTC_MIN 0x02u
#define VRTC_MIN_ALARM 0x03u
#define VRTC_HOUR 0x04u
#define VRTC_HOUR_ALARM 0x05u
#define VRTC_WDAY 0x06u             /* 1 = Sunday */
#define VRTC_MDAY 0x07u
#define VRTC_MONTH 0x08u
#define VRTC_YEAR 0x09u
#define VRTC_REG_A 0x0au
#define VRTC_REG_B 0x0bu
#define VRTC_REG_C 0x0cu
#define VRTC_REG_D 0x0du
#define VRTC_CENTURY 0x32u          /* the FADT CENTURY field names it */

#define VRTC_A_UIP 0x80u
#define VRTC_A_DV_NORMAL 0x20u      /* 32.768 kHz time base */
#define VRTC_A_RS_MASK 0x0fu
#define VRTC_B_SET 0x80u
#define VRTC_B_PIE 0x40u
#define VRTC_B_AIE 0x20u
#define VRTC_B_UIE 0x10u
#define VRTC_B_SQWE 0x08u
#define VRTC_B_DM_BINARY 0x04u
#define VRTC_B_24H 0x02u
#define VRTC_B_DSE 0x01u
#define VRTC_C_IRQF 0x80u
#define VRTC_C_PF 0x40u
#define VRTC_C_AF 0x20u
#define VRTC_C_UF 0x10u
#define VRTC_D_VRT 0x80u
#define VRTC_ALARM_DONTCARE 0xc0u   /* alarm bytes 0xc0-0xff match any value */

/* UIP is high from 244 us before each update to the end of the update cycle (1984 us). */
#define VRTC_UIP_BEFORE_NS 244000ull
#define VRTC_UIP_AFTER_NS 1984000ull

/* Memory size bytes (as QEMU's PC machine sets them for SeaBIOS). */
#define VRTC_BASE_MEM_LO 0x15u      /* 0x15/0x16: KiB below 640 KiB */
#define VRTC_EXT_MEM_LO 0x17u       /* 0x17/0x18 and 0x30/0x31: KiB above 1 MiB, max 0xffff */
#define VRTC_EXT_MEM2_LO 0x30u
#define VRTC_MEM_ABOVE_16M_LO 0x34u /* 0x34/0x35: 64 KiB units from 16 MiB to the 4 GiB hole */
#define VRTC_MEM_ABOVE_4G 0x5bu     /* 0x5b-0x5d: 64 KiB units above 4 GiB */
#define VRTC_NR_CPUS 0x5fu          /* CPUs - 1 */

struct vrtc {
    uint8_t index;
    uint8_t cmos[128];              /* NVRAM and the control registers A, B, D; time is computed */
    uint8_t reg_c;
    int64_t wall_base;              /* wall time (s since 1970) at VM time base_ns */
    uint64_t base_ns;
    uint64_t processed_ns;          /* flags accounted up to here */
    const struct vclock *clock;
    struct vdev_irq irq8;
};

void vrtc_init(struct vrtc *rtc, const struct vclock *clock, int64_t wall_now, struct vdev_irq irq8);
/* Fill the memory-size and CPU-count bytes (ram split at the PCI hole). */
void vrtc_set_memory(struct vrtc *rtc, uint64_t ram_below_4g, uint64_t ram_above_4g, unsigned cpus);
bool vrtc_nmi_masked(const struct vrtc *rtc);
/*
 * The chip's RESET pin (a PC's reset): the clock, the NVRAM and register A are kept (they
 * are battery-backed); PIE, AIE, UIE and SQWE in register B and every flag in register C
 * are cleared, so IRQ8 drops (MC146818A datasheet, "RESET").
 */
void vrtc_reset(struct vrtc *rtc);
/* The guest-visible wall clock now, in seconds since 1970 (after any guest setting). */
int64_t vrtc_wall_time(const struct vrtc *rtc);

uint8_t vrtc_read(struct vrtc *rtc, uint16_t port);
void vrtc_write(struct vrtc *rtc, uint16_t port, uint8_t val);
void vrtc_tick(struct vrtc *rtc);
uint64_t vrtc_next_deadline(const struct vrtc *rtc);

uint64_t vrtc_bus_read(void *dev, unsigned cpu, uint64_t port, unsigned size);
void vrtc_bus_write(void *dev, unsigned cpu, uint64_t port, unsigned size, uint64_t val);

/* Civil calendar helpers (proleptic Gregorian), exposed for the tests. */
int64_t vrtc_days_from_civil(int64_t y, unsigned m, unsigned d);
void vrtc_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

#endif
