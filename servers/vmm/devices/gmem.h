/* SPDX-License-Identifier: MIT */
/* gmem: the vmm's view of guest-physical memory — contiguous slots of gpa mapped at an hva, resolved with bounds checks. */
#ifndef VMM_GMEM_H
#define VMM_GMEM_H

#include <stddef.h>
#include <stdint.h>

#define GMEM_MAX_SLOTS 4u

struct gmem_slot {
    uint64_t gpa;
    uint64_t size;
    uint8_t *hva;
};

struct gmem {
    unsigned count;
    struct gmem_slot slot[GMEM_MAX_SLOTS];
};

/* The host pointer for [gpa, gpa + len) if it lies wholly in one slot, else 0. */
static inline uint8_t *gmem_ptr(const struct gmem *gm, uint64_t gpa, uint64_t len)
{
    for (unsigned i = 0; i < gm->count; i++) {
        const struct gmem_slot *s = &gm->slot[i];
        if (gpa >= s->gpa && gpa - s->gpa <= s->size && len <= s->size - (gpa - s->gpa))
            return s->hva + (gpa - s->gpa);
    }
    return 0;
}

#endif
