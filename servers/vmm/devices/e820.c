/* SPDX-License-Identifier: MIT */
/* e820: the guest's BIOS memory map (the layout the vmm gives a VM) as Linux reads it from boot_params. */
#include "e820.h"

#include <stdbool.h>

void e820_init(struct e820_map *m)
{
    m->count = 0;
}

enum e820_error e820_add(struct e820_map *m, uint64_t addr, uint64_t size, uint32_t type)
{
    if (size == 0 || addr + size < addr)
        return E820_ERR_EMPTY;
    unsigned pos = 0;
    while (pos < m->count && m->e[pos].addr < addr)
        pos++;
    if (pos > 0 && m->e[pos - 1].addr + m->e[pos - 1].size > addr)
        return E820_ERR_OVERLAP;
    if (pos < m->count && addr + size > m->e[pos].addr)
        return E820_ERR_OVERLAP;
    /* Merge with the neighbours when contiguous and of the same type. */
    struct e820_entry *prev = pos > 0 ? &m->e[pos - 1] : 0;
    struct e820_entry *next = pos < m->count ? &m->e[pos] : 0;
    bool join_prev = prev && prev->type == type && prev->addr + prev->size == addr;
    bool join_next = next && next->type == type && addr + size == next->addr;
    if (join_prev && join_next) {
        prev->size += size + next->size;
        for (unsigned i = pos; i + 1 < m->count; i++)
            m->e[i] = m->e[i + 1];
        m->count--;
    } else if (join_prev) {
        prev->size += size;
    } else if (join_next) {
        next->addr = addr;
        next->size += size;
    } else {
        if (m->count >= E820_MAX)
            return E820_ERR_FULL;
        for (unsigned i = m->count; i > pos; i--)
            m->e[i] = m->e[i - 1];
        m->e[pos] = (struct e820_entry){ addr, size, type };
        m->count++;
    }
    return E820_OK;
}

uint64_t e820_ram_below_4g(uint64_t ram)
{
    return ram < E820_PCI_HOLE ? ram : E820_PCI_HOLE;
}

uint64_t e820_ram_above_4g(uint64_t ram)
{
    return ram > E820_PCI_HOLE ? ram - E820_PCI_HOLE : 0;
}

enum e820_error e820_build(struct e820_map *m, uint64_t ram)
{
    enum e820_error err;
    e820_init(m);
    if (ram < 2u * E820_HIGH_MEM)
        return E820_ERR_SMALL;
    uint64_t low = e820_ram_below_4g(ram);
    uint64_t high = e820_ram_above_4g(ram);
    if ((err = e820_add(m, 0, E820_EBDA, E820_RAM)) != E820_OK ||
        (err = e820_add(m, E820_EBDA, 0xa0000ull - E820_EBDA, E820_RESERVED)) != E820_OK ||
        (err = e820_add(m, E820_BIOS_AREA, E820_HIGH_MEM - E820_BIOS_AREA, E820_RESERVED)) != E820_OK ||
        (err = e820_add(m, E820_HIGH_MEM, low - E820_HIGH_MEM, E820_RAM)) != E820_OK)
        return err;
    if (high != 0)
        return e820_add(m, E820_4G, high, E820_RAM);
    return E820_OK;
}
