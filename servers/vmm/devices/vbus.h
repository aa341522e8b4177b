/* SPDX-License-Identifier: MIT */
/* vbus: a fixed table of port-I/O or MMIO ranges and the dispatch of an access to the device owning it. */
#ifndef VMM_VBUS_H
#define VMM_VBUS_H

#include <stdbool.h>
#include <stdint.h>

/*
 * A handler sees the absolute address (port or gpa) and the access width in bytes
 * (1, 2, 4 for ports; 1, 2, 4, 8 for MMIO). `cpu` is the accessing vCPU (the local
 * APIC is per-vCPU at one address). Reads return the value in the low `size` bytes.
 * Ranges never overlap; an access must lie wholly inside one range.
 */
typedef uint64_t (*vbus_read_fn)(void *dev, unsigned cpu, uint64_t addr, unsigned size);
typedef void (*vbus_write_fn)(void *dev, unsigned cpu, uint64_t addr, unsigned size, uint64_t val);

#define VBUS_MAX_RANGES 32

struct vbus_range {
    uint64_t base;
    uint64_t len;
    vbus_read_fn read;
    vbus_write_fn write;
    void *dev;
};

struct vbus {
    unsigned count;
    struct vbus_range range[VBUS_MAX_RANGES];
};

enum vbus_error {
    VBUS_OK = 0,
    VBUS_ERR_FULL,      /* VBUS_MAX_RANGES already registered */
    VBUS_ERR_OVERLAP,   /* intersects a registered range */
    VBUS_ERR_EMPTY,     /* zero length or wraps around */
};

void vbus_init(struct vbus *bus);
enum vbus_error vbus_add(struct vbus *bus, uint64_t base, uint64_t len,
                         vbus_read_fn read, vbus_write_fn write, void *dev);
/* The range holding [addr, addr + size), or 0. */
const struct vbus_range *vbus_find(const struct vbus *bus, uint64_t addr, unsigned size);
/* false: no device there (reads then see all-ones, writes are dropped; the vmm may log). */
bool vbus_read(const struct vbus *bus, unsigned cpu, uint64_t addr, unsigned size, uint64_t *val);
bool vbus_write(const struct vbus *bus, unsigned cpu, uint64_t addr, unsigned size, uint64_t val);

#endif
