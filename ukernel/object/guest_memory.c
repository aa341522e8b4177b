/* SPDX-License-Identifier: MIT */
/* guest_memory: mapping frames at guest frame numbers in NPT/EPT tables carved from the object's pool. */
#include "guest_memory.h"

#include <stddef.h>

#include "../arch/x86_64/nested_pte.h"
#include "../arch/x86_64/vcpu_arch.h"
#include "../include/hv/objects.h"
#include "../kernel/assert.h"
#include "../kernel/kmem.h"
#include "../lib/kstring.h"
#include "cnode.h"
#include "vcpu.h"

#define PAGE 4096ull
#define PAGE_OBJECT 0u
#define PAGE_ROOT 1u
#define PAGE_POOL 2u

_Static_assert(sizeof(struct guest_memory) <= PAGE, "the object fits its first page");
_Static_assert(HV_GUEST_READ == NESTED_READ && HV_GUEST_WRITE == NESTED_WRITE &&
               HV_GUEST_EXECUTE == NESTED_EXECUTE, "ABI rights are the encoder's rights");
_Static_assert(HV_GUEST_GFN_LIMIT == 1ull << (9u * NESTED_LEVELS), "four levels of 512 entries");
_Static_assert((1ull << HV_GUEST_MEMORY_MIN_BITS) >= (PAGE_POOL + NESTED_LEVELS - 1u) * PAGE,
               "the smallest object can map one gfn");

/* Live objects by id; a frame cap's mapping names the id, so it never names freed memory. */
static struct guest_memory *ids[GUEST_MEMORY_MAX];

static bool id_available(void)
{
    for (unsigned i = 1; i < GUEST_MEMORY_MAX; i++) {
        if (ids[i] == NULL)
            return true;
    }
    return false;
}

enum hv_error guest_memory_check_retype(unsigned size_bits)
{
    if (size_bits < HV_GUEST_MEMORY_MIN_BITS || size_bits > HV_GUEST_MEMORY_MAX_BITS)
        return HV_ERR_RANGE;
    if (vcpu_arch_backend() == VCPU_BACKEND_NONE)
        return HV_ERR_NOT_SUPPORTED;
    if (!id_available())
        return HV_ERR_NOT_ENOUGH_MEMORY;
    return HV_OK;
}

struct cap guest_memory_create(void *mem, uint64_t pa, unsigned size_bits)
{
    struct guest_memory *gm = mem;
    unsigned id = 1;
    while (ids[id] != NULL)
        id++;
    kassert(id < GUEST_MEMORY_MAX);     /* decode checked id_available() */
    ids[id] = gm;
    gm->hdr.type = HV_OBJ_GUEST_MEMORY;
    gm->id = id;
    gm->format = vcpu_arch_backend() == VCPU_BACKEND_VMX ? NESTED_EPT : NESTED_NPT;
    gm->root_pa = pa + PAGE_ROOT * PAGE;
    gm->pool_pa = pa + PAGE_POOL * PAGE;
    gm->pool_pages = (1ull << size_bits) / PAGE - PAGE_POOL;
    gm->gfn_limit = HV_GUEST_GFN_LIMIT;

    struct cap c;
    memset(&c, 0, sizeof(c));
    c.type = HV_OBJ_GUEST_MEMORY;
    c.rights = HV_RIGHTS_ALL;
    c.size_bits = (uint8_t)size_bits;
    c.object = (uint64_t)(uintptr_t)mem;
    return c;
}

void guest_memory_finalize(struct guest_memory *gm)
{
    /* Every vCPU held a cap: none is left on the list (vcpu.c removes itself). */
    kassert(gm->vcpus == NULL);
    ids[gm->id] = NULL;     /* frame caps still naming the id now unmap as a no-op */
}

void guest_memory_add_vcpu(struct guest_memory *gm, struct vcpu *v)
{
    v->gm_next = gm->vcpus;
    gm->vcpus = v;
}

void guest_memory_remove_vcpu(struct guest_memory *gm, struct vcpu *v)
{
    for (struct vcpu **link = &gm->vcpus; *link != NULL; link = &(*link)->gm_next) {
        if (*link == v) {
            *link = v->gm_next;
            v->gm_next = NULL;
            return;
        }
    }
}

/* Why entry_of found no entry. */
enum walk_stop {
    WALK_OK = 0,
    WALK_MISSING,       /* a table on the way is absent: *missing tables would have to be added */
    WALK_LARGE,         /* a 2 MiB leaf is on the way (only when walking to the PT level) */
};

/*
 * The entry for gfn in the table at `level` (1: the PT's 4 KiB leaf, NESTED_LARGE_LEVEL:
 * the PD's entry, a 2 MiB leaf or a PT), or NULL with *stop saying why and *missing (if
 * given) counting the tables a map at that level would have to add.
 */
static uint64_t *entry_of(const struct guest_memory *gm, uint64_t gfn, unsigned level,
                          enum walk_stop *stop, unsigned *missing)
{
    enum nested_format f = (enum nested_format)gm->format;
    uint64_t gpa = gfn << 12;
    uint64_t *table = kmem_ptr(gm->root_pa);
    if (missing != NULL)
        *missing = 0;
    for (unsigned l = NESTED_LEVELS; l > level; l--) {
        uint64_t e = table[nested_index(gpa, l)];
        if (!nested_present(f, e)) {
            if (missing != NULL)
                *missing = l - level;
            *stop = WALK_MISSING;
            return NULL;
        }
        if (l == NESTED_LARGE_LEVEL && nested_is_large(e)) {
            *stop = WALK_LARGE;
            return NULL;
        }
        table = kmem_ptr(nested_entry_pa(e));
    }
    *stop = WALK_OK;
    return &table[nested_index(gpa, level)];
}

bool guest_memory_lookup(const struct guest_memory *gm, uint64_t gfn, uint64_t *hpa,
                         unsigned *rights)
{
    if (gfn >= gm->gfn_limit)
        return false;
    enum nested_format f = (enum nested_format)gm->format;
    enum walk_stop stop;
    const uint64_t *e = entry_of(gm, gfn, 1, &stop, NULL);
    if (stop == WALK_LARGE) {
        /* gfn lies in a 2 MiB leaf: its page is the leaf's base plus the offset in the 2 MiB. */
        e = entry_of(gm, gfn, NESTED_LARGE_LEVEL, &stop, NULL);
        kassert(e != NULL && nested_present(f, *e) && nested_is_large(*e));
        *hpa = nested_large_pa(*e) + ((gfn & (NESTED_LARGE_GFNS - 1)) << 12);
        *rights = nested_leaf_rights(f, *e);
        return true;
    }
    if (e == NULL || !nested_present(f, *e))
        return false;
    *hpa = nested_entry_pa(*e);
    *rights = nested_leaf_rights(f, *e);
    return true;
}

/* Walks to the table at `level`, adding tables from the pool (decode made sure there are enough). */
static uint64_t *entry_alloc(struct guest_memory *gm, uint64_t gfn, unsigned level)
{
    enum nested_format f = (enum nested_format)gm->format;
    uint64_t gpa = gfn << 12;
    uint64_t *table = kmem_ptr(gm->root_pa);
    for (unsigned l = NESTED_LEVELS; l > level; l--) {
        uint64_t *e = &table[nested_index(gpa, l)];
        if (!nested_present(f, *e)) {
            kassert(gm->pool_used < gm->pool_pages);
            uint64_t t = gm->pool_pa + gm->pool_used++ * PAGE;
            memset(kmem_ptr(t), 0, PAGE);
            *e = nested_table_entry(f, t);
        }
        kassert(l != NESTED_LARGE_LEVEL || !nested_is_large(*e));  /* decode: no 2 MiB leaf on the way */
        table = kmem_ptr(nested_entry_pa(*e));
    }
    return &table[nested_index(gpa, level)];
}

/* The level of the table a frame's leaf lives in. */
static unsigned frame_level(const struct cap *frame)
{
    return cap_frame_is_large(frame) ? NESTED_LARGE_LEVEL : 1u;
}

/* Every vCPU on this memory drops its cached translations (running ones are made to exit). */
static void flush_vcpus(struct guest_memory *gm)
{
    for (struct vcpu *v = gm->vcpus; v != NULL; v = v->gm_next)
        vcpu_guest_mapping_changed(v);
}

static void unmap_frame(struct cap *frame)
{
    if (!(frame->flags & CAP_FLAG_GUEST_MAPPED))
        return;
    uint64_t id = frame->data2;
    struct guest_memory *gm = id < GUEST_MEMORY_MAX ? ids[id] : NULL;
    if (gm != NULL) {
        enum walk_stop stop;
        uint64_t *e = entry_of(gm, frame->data, frame_level(frame), &stop, NULL);
        enum nested_format f = (enum nested_format)gm->format;
        bool large = cap_frame_is_large(frame);
        /* Only the frame's own leaf: at the PD level a large leaf, never a PT entry. */
        if (e != NULL && nested_present(f, *e) && (!large || nested_is_large(*e)) &&
            nested_entry_pa(*e) == frame->object) {
            *e = 0;
            kassert(gm->mapped > 0);
            gm->mapped--;
            flush_vcpus(gm);
        }
    }
    frame->flags &= ~CAP_FLAG_GUEST_MAPPED;
    frame->data = 0;
    frame->data2 = 0;
}

void guest_memory_frame_deleting(struct cap *frame)
{
    unmap_frame(frame);
}

enum { MAP_FRAME = 0, MAP_GFN, MAP_RIGHTS, MAP_ARGS };

static enum hv_error decode_map(const struct cap *root, const struct guest_memory *gm,
                                const uint64_t *args, unsigned nargs, struct cte **frame_out)
{
    if (nargs < MAP_ARGS)
        return HV_ERR_TRUNCATED;
    struct cte *frame;
    enum hv_error err = cnode_lookup_cap(root, args[MAP_FRAME], &frame);
    if (err != HV_OK)
        return err;
    const struct cap *fc = &frame->cap;
    if (fc->type != HV_OBJ_FRAME)
        return HV_ERR_WRONG_TYPE;
    uint64_t rights = args[MAP_RIGHTS];
    if ((rights & ~(uint64_t)HV_GUEST_RIGHTS_ALL) || !(rights & HV_GUEST_READ))
        return HV_ERR_INVALID_ARGUMENT;
    if (!cap_has_rights(fc, HV_RIGHT_READ))
        return HV_ERR_INSUFFICIENT_RIGHTS;
    if ((rights & HV_GUEST_WRITE) && !cap_has_rights(fc, HV_RIGHT_WRITE))
        return HV_ERR_INSUFFICIENT_RIGHTS;
    if (fc->flags & (CAP_FLAG_MAPPED | CAP_FLAG_GUEST_MAPPED))
        return HV_ERR_ALREADY_MAPPED;
    uint64_t gfn = args[MAP_GFN];
    bool large = cap_frame_is_large(fc);
    if (gfn >= gm->gfn_limit || (large && gm->gfn_limit - gfn < NESTED_LARGE_GFNS))
        return HV_ERR_RANGE;
    if (large && (gfn & (NESTED_LARGE_GFNS - 1)) != 0)
        return HV_ERR_ALIGNMENT;
    if (large && !vcpu_arch_nested_2m_leaves())
        return HV_ERR_NOT_SUPPORTED;
    unsigned missing;
    enum walk_stop stop;
    const uint64_t *e = entry_of(gm, gfn, frame_level(fc), &stop, &missing);
    if (stop == WALK_LARGE)
        return HV_ERR_PAGE_SIZE;        /* a 4 KiB frame under a 2 MiB leaf */
    if (e != NULL && nested_present((enum nested_format)gm->format, *e))
        return large && !nested_is_large(*e) ? HV_ERR_PAGE_SIZE : HV_ERR_ALREADY_MAPPED;
    if (gm->pool_pages - gm->pool_used < missing)
        return HV_ERR_NOT_ENOUGH_MEMORY;
    *frame_out = frame;
    return HV_OK;
}

static void invoke_map(struct guest_memory *gm, struct cte *frame, uint64_t gfn, uint64_t rights)
{
    enum nested_format f = (enum nested_format)gm->format;
    uint64_t *e = entry_alloc(gm, gfn, frame_level(&frame->cap));
    *e = cap_frame_is_large(&frame->cap) ? nested_large_leaf_entry(f, frame->cap.object, (unsigned)rights)
                                         : nested_leaf_entry(f, frame->cap.object, (unsigned)rights);
    gm->mapped++;
    frame->cap.flags |= CAP_FLAG_GUEST_MAPPED;
    frame->cap.data = gfn;
    frame->cap.data2 = gm->id;
    /* A new mapping needs no flush: nothing cached a translation that did not exist
     * (NPT/EPT do not cache not-present entries). */
}

/* Nothing mapped at or above `limit`? */
static bool nothing_mapped_from(const struct guest_memory *gm, uint64_t limit)
{
    if (gm->mapped == 0)
        return true;
    (void)limit;
    return false;   /* conservative: resizing needs an empty space */
}

enum hv_error guest_memory_invoke(const struct cap *root, struct cte *slot, uint64_t label,
                                  const uint64_t *args, unsigned nargs, struct hv_msg *reply_out)
{
    struct guest_memory *gm = guest_memory_of(&slot->cap);
    bool writes = label != HV_INV_GUEST_MEMORY_QUERY;
    if (!cap_has_rights(&slot->cap, writes ? HV_RIGHT_WRITE : HV_RIGHT_READ))
        return HV_ERR_INSUFFICIENT_RIGHTS;
    switch (label) {
    case HV_INV_GUEST_MEMORY_MAP: {
        struct cte *frame;
        enum hv_error err = decode_map(root, gm, args, nargs, &frame);
        if (err != HV_OK)
            return err;
        invoke_map(gm, frame, args[MAP_GFN], args[MAP_RIGHTS]);
        return HV_OK;
    }
    case HV_INV_GUEST_MEMORY_UNMAP: {
        if (nargs < 1)
            return HV_ERR_TRUNCATED;
        struct cte *frame;
        enum hv_error err = cnode_lookup_cap(root, args[0], &frame);
        if (err != HV_OK)
            return err;
        if (frame->cap.type != HV_OBJ_FRAME)
            return HV_ERR_WRONG_TYPE;
        if (!(frame->cap.flags & CAP_FLAG_GUEST_MAPPED) || frame->cap.data2 != gm->id)
            return HV_ERR_NOT_MAPPED;
        unmap_frame(&frame->cap);
        return HV_OK;
    }
    case HV_INV_GUEST_MEMORY_QUERY: {
        if (nargs < 1)
            return HV_ERR_TRUNCATED;
        if (args[0] >= gm->gfn_limit)
            return HV_ERR_RANGE;
        uint64_t hpa;
        unsigned rights;
        if (!guest_memory_lookup(gm, args[0], &hpa, &rights))
            return HV_ERR_NOT_MAPPED;
        reply_out->w[0] = hpa;
        reply_out->w[1] = rights;
        reply_out->tag = hv_tag(0, 2, 0);
        return HV_OK;
    }
    case HV_INV_GUEST_MEMORY_SET_SIZE:
        if (nargs < 1)
            return HV_ERR_TRUNCATED;
        if (args[0] == 0 || args[0] > HV_GUEST_GFN_LIMIT)
            return HV_ERR_RANGE;
        if (!nothing_mapped_from(gm, args[0]))
            return HV_ERR_BUSY;
        gm->gfn_limit = args[0];
        return HV_OK;
    default:
        return HV_ERR_UNKNOWN_INVOCATION;
    }
}
