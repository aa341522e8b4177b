/* SPDX-License-Identifier: MIT */
/* vbus: a fixed table of port-I/O or MMIO ranges and the dispatch of an access to the device owning it. */
#include "vbus.h"

#include "vdev.h"

void vbus_init(struct vbus *bus)
{
    bus->count = 0;
}

enum vbus_error vbus_add(struct vbus *bus, uint64_t base, uint64_t len,
                         vbus_read_fn read, vbus_write_fn write, void *dev)
{
    if (len == 0 || base + len < base)
        return VBUS_ERR_EMPTY;
    if (bus->count >= VBUS_MAX_RANGES)
        return VBUS_ERR_FULL;
    for (unsigned i = 0; i < bus->count; i++) {
        const struct vbus_range *r = &bus->range[i];
        if (base < r->base + r->len && r->base < base + len)
            return VBUS_ERR_OVERLAP;
    }
    bus->range[bus->count++] = (struct vbus_range){ base, len, read, write, dev };
    return VBUS_OK;
}

const struct vbus_range *vbus_find(const struct vbus *bus, uint64_t addr, unsigned size)
{
    for (unsigned i = 0; i < bus->count; i++) {
        const struct vbus_range *r = &bus->range[i];
        if (addr >= r->base && addr - r->base < r->len && size <= r->len - (addr - r->base))
            return r;
    }
    return 0;
}

bool vbus_read(const struct vbus *bus, unsigned cpu, uint64_t addr, unsigned size, uint64_t *val)
{
    const struct vbus_range *r = vbus_find(bus, addr, size);
    if (r == 0 || r->read == 0) {
        *val = vdev_size_mask(size);
        return false;
    }
    *val = r->read(r->dev, cpu, addr, size) & vdev_size_mask(size);
    return true;
}

bool vbus_write(const struct vbus *bus, unsigned cpu, uint64_t addr, unsigned size, uint64_t val)
{
    const struct vbus_range *r = vbus_find(bus, addr, size);
    if (r == 0 || r->write == 0)
        return false;
    r->write(r->dev, cpu, addr, size, val & vdev_size_mask(size));
    return true;
}
