/* SPDX-License-Identifier: MIT */
/* boot_mem: free-range bookkeeping and power-of-two block splitting (pure logic, host-tested). */
#include "boot_mem.h"

#include <stddef.h>

#define PAGE 4096ull

static uint64_t round_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

static void remove_at(struct boot_mem *m, unsigned i)
{
    for (unsigned j = i + 1; j < m->count; j++) {
        m->base[j - 1] = m->base[j];
        m->end[j - 1] = m->end[j];
    }
    m->count--;
}

static bool insert_sorted(struct boot_mem *m, uint64_t base, uint64_t end)
{
    if (m->count == BOOT_MEM_MAX_RANGES)
        return false;
    unsigned i = m->count;
    while (i > 0 && m->base[i - 1] > base) {
        m->base[i] = m->base[i - 1];
        m->end[i] = m->end[i - 1];
        i--;
    }
    m->base[i] = base;
    m->end[i] = end;
    m->count++;
    return true;
}

void boot_mem_init(struct boot_mem *m, const struct boot_info *bi, uint64_t low_limit)
{
    m->count = 0;
    for (size_t i = 0; i < bi->region_count; i++) {
        const struct mem_region *r = &bi->regions[i];
        if (r->type != MEM_USABLE)
            continue;
        uint64_t base = round_up(r->base, PAGE);
        uint64_t end = (r->base + r->length) & ~(PAGE - 1);
        if (base < low_limit)
            base = low_limit;
        if (end > base)
            (void)insert_sorted(m, base, end);
    }
    /* Overlapping usable entries (a sloppy firmware) are reserved against each other. */
    for (unsigned i = 0; i + 1 < m->count;) {
        if (m->end[i] > m->base[i + 1]) {
            if (m->end[i + 1] > m->end[i])
                m->end[i] = m->end[i + 1];
            remove_at(m, i + 1);
        } else {
            i++;
        }
    }
}

bool boot_mem_reserve(struct boot_mem *m, uint64_t base, uint64_t end)
{
    base &= ~(PAGE - 1);
    end = round_up(end, PAGE);
    for (unsigned i = 0; i < m->count;) {
        uint64_t b = m->base[i], e = m->end[i];
        if (end <= b || base >= e) {
            i++;
            continue;
        }
        remove_at(m, i);
        if (b < base && !insert_sorted(m, b, base))
            return false;
        if (end < e && !insert_sorted(m, end, e))
            return false;
        i = 0;  /* the array changed: rescan (ranges are few) */
    }
    return true;
}

uint64_t boot_mem_alloc(struct boot_mem *m, uint64_t size, uint64_t align)
{
    size = round_up(size, PAGE);
    for (unsigned i = 0; i < m->count; i++) {
        uint64_t start = round_up(m->base[i], align);
        if (start >= m->base[i] && start < m->end[i] && m->end[i] - start >= size) {
            if (!boot_mem_reserve(m, start, start + size))
                return 0;
            return start;
        }
    }
    return 0;
}

uint64_t boot_mem_total(const struct boot_mem *m)
{
    uint64_t t = 0;
    for (unsigned i = 0; i < m->count; i++)
        t += m->end[i] - m->base[i];
    return t;
}

unsigned boot_mem_blocks(uint64_t base, uint64_t end, unsigned min_bits,
                         void (*emit)(void *ctx, uint64_t pa, unsigned bits), void *ctx)
{
    unsigned n = 0;
    while (base < end) {
        /* Largest block aligned at base that fits before end. */
        unsigned bits = base == 0 ? 63u : (unsigned)__builtin_ctzll(base);
        while (bits > 0 && (bits >= 64 || (1ull << bits) > end - base))
            bits--;
        if (bits < min_bits) {
            base += 1ull << bits;   /* too small to be worth a cap: skipped */
            continue;
        }
        if (emit != NULL)
            emit(ctx, base, bits);
        n++;
        base += 1ull << bits;
    }
    return n;
}
