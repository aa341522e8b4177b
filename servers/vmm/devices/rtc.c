/* SPDX-License-Identifier: MIT */
/* rtc: the MC146818 CMOS real-time clock and NVRAM (ports 0x70/0x71, IRQ8) with the memory-size bytes firmware leaves. */
#include "rtc.h"

#include <string.h>

#define SECS_PER_DAY 86400

/* Howard Hinnant's days_from_civil / civil_from_days (public-domain algorithms). */
int64_t vrtc_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (int64_t)(m > 2 ? m - 3 : m + 9) + 2) / 5 + (int64_t)d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void vrtc_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static bool frozen(const struct vrtc *rtc)
{
    return (rtc->cmos[VRTC_REG_B] & VRTC_B_SET) != 0;
}

static int64_t wall_at(const struct vrtc *rtc, uint64_t now)
{
    if (frozen(rtc))
        return rtc->wall_base;
    return rtc->wall_base + (int64_t)((now - rtc->base_ns) / VDEV_NS_PER_SEC);
}

int64_t vrtc_wall_time(const struct vrtc *rtc)
{
    return wall_at(rtc, vclock_now(rtc->clock));
}

struct tm_fields {
    int64_t year;
    unsigned mon, mday, wday, hour, min, sec;
};

static struct tm_fields split(int64_t t)
{
    struct tm_fields f;
    int64_t days = (t >= 0 ? t : t - (SECS_PER_DAY - 1)) / SECS_PER_DAY;
    int64_t s = t - days * SECS_PER_DAY;
    vrtc_civil_from_days(days, &f.year, &f.mon, &f.mday);
    f.wday = (unsigned)((days % 7 + 11) % 7);       /* 1970-01-01 was a Thursday; 0 = Sunday */
    f.hour = (unsigned)(s / 3600);
    f.min = (unsigned)(s / 60 % 60);
    f.sec = (unsigned)(s % 60);
    return f;
}

static int64_t join(const struct tm_fields *f)
{
    return vrtc_days_from_civil(f->year, f->mon, f->mday) * SECS_PER_DAY +
           (int64_t)(f->hour * 3600u + f->min * 60u + f->sec);
}

static uint8_t enc(const struct vrtc *rtc, unsigned v)
{
    if (rtc->cmos[VRTC_REG_B] & VRTC_B_DM_BINARY)
        return (uint8_t)v;
    return (uint8_t)(((v / 10u) << 4) | (v % 10u));
}

static unsigned dec(const struct vrtc *rtc, uint8_t v)
{
    if (rtc->cmos[VRTC_REG_B] & VRTC_B_DM_BINARY)
        return v;
    return (unsigned)(v >> 4) * 10u + (v & 0xfu);
}

static uint8_t enc_hour(const struct vrtc *rtc, unsigned h)
{
    if (rtc->cmos[VRTC_REG_B] & VRTC_B_24H)
        return enc(rtc, h);
    unsigned h12 = h % 12u == 0 ? 12u : h % 12u;
    return (uint8_t)(enc(rtc, h12) | (h >= 12 ? 0x80u : 0u));
}

static unsigned dec_hour(const struct vrtc *rtc, uint8_t v)
{
    if (rtc->cmos[VRTC_REG_B] & VRTC_B_24H)
        return dec(rtc, v);
    return dec(rtc, v & 0x7fu) % 12u + ((v & 0x80u) ? 12u : 0u);
}

static uint8_t time_reg(const struct vrtc *rtc, unsigned reg, uint64_t now)
{
    struct tm_fields f = split(wall_at(rtc, now));
    switch (reg) {
    case VRTC_SEC: return enc(rtc, f.sec);
    case VRTC_MIN: return enc(rtc, f.min);
    case VRTC_HOUR: return enc_hour(rtc, f.hour);
    case VRTC_WDAY: return enc(rtc, f.wday + 1u);
    case VRTC_MDAY: return enc(rtc, f.mday);
    case VRTC_MONTH: return enc(rtc, f.mon);
    case VRTC_YEAR: return enc(rtc, (unsigned)(f.year % 100));
    default: return enc(rtc, (unsigned)(f.year / 100));     /* VRTC_CENTURY */
    }
}

/* A guest write to a time field: the clock continues from the new value, same phase. */
static void set_time_reg(struct vrtc *rtc, unsigned reg, uint8_t val, uint64_t now)
{
    int64_t t = wall_at(rtc, now);
    struct tm_fields f = split(t);
    switch (reg) {
    case VRTC_SEC: f.sec = dec(rtc, val) % 60u; break;
    case VRTC_MIN: f.min = dec(rtc, val) % 60u; break;
    case VRTC_HOUR: f.hour = dec_hour(rtc, val) % 24u; break;
    case VRTC_MDAY: f.mday = dec(rtc, val); break;
    case VRTC_MONTH: f.mon = dec(rtc, val); break;
    case VRTC_YEAR: f.year = f.year / 100 * 100 + dec(rtc, val) % 100u; break;
    case VRTC_CENTURY: f.year = (int64_t)dec(rtc, val) * 100 + f.year % 100; break;
    default: return;                                /* day of week follows the date */
    }
    if (f.mon < 1 || f.mon > 12)
        f.mon = 1;
    if (f.mday < 1 || f.mday > 31)
        f.mday = 1;
    rtc->wall_base = join(&f);
    if (!frozen(rtc))
        rtc->base_ns = now - (now - rtc->base_ns) % VDEV_NS_PER_SEC;
}

/* ---- interrupts ---- */

static uint64_t periodic_ns(const struct vrtc *rtc)
{
    unsigned rs = rtc->cmos[VRTC_REG_A] & VRTC_A_RS_MASK;
    if (rs == 0)
        return 0;
    if (rs <= 2)
        rs += 7;                                    /* 1, 2 select 256 Hz, 128 Hz */
    return (VDEV_NS_PER_SEC << (rs - 1u)) / 32768u;
}

static bool alarm_match(const struct vrtc *rtc, int64_t t)
{
    struct tm_fields f = split(t);
    const uint8_t *c = rtc->cmos;
    return (c[VRTC_SEC_ALARM] >= VRTC_ALARM_DONTCARE || dec(rtc, c[VRTC_SEC_ALARM]) == f.sec) &&
           (c[VRTC_MIN_ALARM] >= VRTC_ALARM_DONTCARE || dec(rtc, c[VRTC_MIN_ALARM]) == f.min) &&
           (c[VRTC_HOUR_ALARM] >= VRTC_ALARM_DONTCARE || dec_hour(rtc, c[VRTC_HOUR_ALARM]) == f.hour);
}

static void update_irq(struct vrtc *rtc)
{
    uint8_t b = rtc->cmos[VRTC_REG_B];
    bool irqf = ((rtc->reg_c & VRTC_C_PF) && (b & VRTC_B_PIE)) ||
                ((rtc->reg_c & VRTC_C_AF) && (b & VRTC_B_AIE)) ||
                ((rtc->reg_c & VRTC_C_UF) && (b & VRTC_B_UIE));
    if (irqf && !(rtc->reg_c & VRTC_C_IRQF)) {
        rtc->reg_c |= VRTC_C_IRQF;
        vdev_irq_set(&rtc->irq8, true);             /* held until register C is read */
    }
}

/* Account the update cycles and periodic ticks between processed_ns and now. */
static void update_flags(struct vrtc *rtc, uint64_t now)
{
    uint64_t from = rtc->processed_ns < rtc->base_ns ? rtc->base_ns : rtc->processed_ns;
    rtc->processed_ns = now;
    if (frozen(rtc) || now <= from)
        return;
    uint64_t p = periodic_ns(rtc);
    if (p != 0 && now / p > from / p)
        rtc->reg_c |= VRTC_C_PF;
    uint64_t s0 = (from - rtc->base_ns) / VDEV_NS_PER_SEC;
    uint64_t s1 = (now - rtc->base_ns) / VDEV_NS_PER_SEC;
    if (s1 > s0) {
        rtc->reg_c |= VRTC_C_UF;
        /* Alarm patterns repeat within a day: look at no more than the last day's updates. */
        uint64_t first = s1 - s0 > SECS_PER_DAY ? s1 - SECS_PER_DAY : s0 + 1u;
        for (uint64_t s = first; s <= s1; s++) {
            if (alarm_match(rtc, rtc->wall_base + (int64_t)s)) {
                rtc->reg_c |= VRTC_C_AF;
                break;
            }
        }
    }
    update_irq(rtc);
}

void vrtc_tick(struct vrtc *rtc)
{
    update_flags(rtc, vclock_now(rtc->clock));
}

uint64_t vrtc_next_deadline(const struct vrtc *rtc)
{
    uint8_t b = rtc->cmos[VRTC_REG_B];
    if (frozen(rtc) || (rtc->reg_c & VRTC_C_IRQF))
        return VDEV_NO_DEADLINE;                    /* IRQ8 stays asserted until C is read */
    uint64_t now = rtc->processed_ns;
    uint64_t next = VDEV_NO_DEADLINE;
    uint64_t p = periodic_ns(rtc);
    if ((b & VRTC_B_PIE) && p != 0)
        next = (now / p + 1u) * p;
    if (b & (VRTC_B_UIE | VRTC_B_AIE)) {
        uint64_t from = now < rtc->base_ns ? rtc->base_ns : now;
        uint64_t s = rtc->base_ns + ((from - rtc->base_ns) / VDEV_NS_PER_SEC + 1u) * VDEV_NS_PER_SEC;
        if (s < next)
            next = s;
    }
    return next;
}

/* ---- ports ---- */

static bool uip(const struct vrtc *rtc, uint64_t now)
{
    if (frozen(rtc) || (rtc->cmos[VRTC_REG_A] & 0x70u) != VRTC_A_DV_NORMAL)
        return false;
    uint64_t phase = (now - rtc->base_ns) % VDEV_NS_PER_SEC;
    return phase >= VDEV_NS_PER_SEC - VRTC_UIP_BEFORE_NS || (phase < VRTC_UIP_AFTER_NS && now - rtc->base_ns >= VDEV_NS_PER_SEC);
}

static bool is_time_reg(unsigned r)
{
    return r == VRTC_SEC || r == VRTC_MIN || r == VRTC_HOUR || r == VRTC_WDAY || r == VRTC_MDAY ||
           r == VRTC_MONTH || r == VRTC_YEAR || r == VRTC_CENTURY;
}

uint8_t vrtc_read(struct vrtc *rtc, uint16_t port)
{
    if (port == VRTC_PORT)
        return rtc->index;                  /* write-only on real chipsets; echo is harmless */
    uint64_t now = vclock_now(rtc->clock);
    unsigned r = rtc->index & 0x7fu;
    if (is_time_reg(r))
        return time_reg(rtc, r, now);
    switch (r) {
    case VRTC_REG_A:
        return (uint8_t)((rtc->cmos[VRTC_REG_A] & 0x7fu) | (uip(rtc, now) ? VRTC_A_UIP : 0u));
    case VRTC_REG_C: {
        update_flags(rtc, now);
        uint8_t v = rtc->reg_c;
        rtc->reg_c = 0;                     /* read clears every flag and releases IRQ8 */
        vdev_irq_set(&rtc->irq8, false);
        return v;
    }
    case VRTC_REG_D:
        return VRTC_D_VRT;
    default:
        return rtc->cmos[r];
    }
}

void vrtc_write(struct vrtc *rtc, uint16_t port, uint8_t val)
{
    if (port == VRTC_PORT) {
        rtc->index = val;
        return;
    }
    uint64_t now = vclock_now(rtc->clock);
    unsigned r = rtc->index & 0x7fu;
    if (is_time_reg(r)) {
        set_time_reg(rtc, r, val, now);
        return;
    }
    switch (r) {
    case VRTC_REG_A:
        update_flags(rtc, now);
        rtc->cmos[VRTC_REG_A] = val & 0x7fu;
        break;
    case VRTC_REG_B: {
        update_flags(rtc, now);
        bool was = frozen(rtc);
        if (val & VRTC_B_SET) {
            val &= (uint8_t)~VRTC_B_UIE;   /* SET clears UIE */
            if (!was)
                rtc->wall_base = wall_at(rtc, now);
        } else if (was) {
            rtc->base_ns = now;             /* the divider restarts: first update 1 s later */
        }
        rtc->cmos[VRTC_REG_B] = val;
        rtc->processed_ns = now;
        update_irq(rtc);
        break;
    }
    case VRTC_REG_C:
    case VRTC_REG_D:
        break;                              /* read-only */
    default:
        rtc->cmos[r] = val;
        break;
    }
}

void vrtc_init(struct vrtc *rtc, const struct vclock *clock, int64_t wall_now, struct vdev_irq irq8)
{
    memset(rtc, 0, sizeof(*rtc));
    rtc->clock = clock;
    rtc->irq8 = irq8;
    rtc->base_ns = vclock_now(clock);
    rtc->processed_ns = rtc->base_ns;
    rtc->wall_base = wall_now;
    rtc->cmos[VRTC_REG_A] = VRTC_A_DV_NORMAL | 0x06u;  /* 32.768 kHz, 1024 Hz periodic rate */
    rtc->cmos[VRTC_REG_B] = VRTC_B_24H;                /* 24-hour, BCD (as PC firmware leaves it) */
}

static void put16(uint8_t *c, unsigned reg, uint64_t v)
{
    c[reg] = (uint8_t)v;
    c[reg + 1u] = (uint8_t)(v >> 8);
}

void vrtc_set_memory(struct vrtc *rtc, uint64_t below_4g, uint64_t above_4g, unsigned cpus)
{
    uint64_t kib = 1024u;
    uint64_t base = below_4g / kib < 640u ? below_4g / kib : 640u;
    put16(rtc->cmos, VRTC_BASE_MEM_LO, base);
    uint64_t ext = below_4g > kib * kib ? (below_4g - kib * kib) / kib : 0;
    if (ext > 0xffffu)
        ext = 0xffffu;
    put16(rtc->cmos, VRTC_EXT_MEM_LO, ext);
    put16(rtc->cmos, VRTC_EXT_MEM2_LO, ext);
    uint64_t above16 = below_4g > 16u * kib * kib ? (below_4g - 16u * kib * kib) / (64u * kib) : 0;
    if (above16 > 0xffffu)
        above16 = 0xffffu;
    put16(rtc->cmos, VRTC_MEM_ABOVE_16M_LO, above16);
    uint64_t high = above_4g / (64u * kib);
    rtc->cmos[VRTC_MEM_ABOVE_4G] = (uint8_t)high;
    rtc->cmos[VRTC_MEM_ABOVE_4G + 1u] = (uint8_t)(high >> 8);
    rtc->cmos[VRTC_MEM_ABOVE_4G + 2u] = (uint8_t)(high >> 16);
    rtc->cmos[VRTC_NR_CPUS] = (uint8_t)(cpus - 1u);
}

void vrtc_reset(struct vrtc *rtc)
{
    rtc->cmos[VRTC_REG_B] &= (uint8_t)~(VRTC_B_PIE | VRTC_B_AIE | VRTC_B_UIE | VRTC_B_SQWE);
    rtc->reg_c = 0;
    vdev_irq_set(&rtc->irq8, false);
}

bool vrtc_nmi_masked(const struct vrtc *rtc)
{
    return (rtc->index & VRTC_NMI_DISABLE) != 0;
}

uint64_t vrtc_bus_read(void *dev, unsigned cpu, uint64_t port, unsigned size)
{
    (void)cpu;
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)vrtc_read(dev, (uint16_t)(port + i)) << (8 * i);
    return v;
}

void vrtc_bus_write(void *dev, unsigned cpu, uint64_t port, unsigned size, uint64_t val)
{
    (void)cpu;
    for (unsigned i = 0; i < size; i++)
        vrtc_write(dev, (uint16_t)(port + i), (uint8_t)(val >> (8 * i)));
}
