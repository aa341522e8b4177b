/* SPDX-License-Identifier: MIT */
/* vspace: mapping paging structures and frames into user address spaces. */
#include "vspace.h"

#include <stddef.h>

#include "../arch/x86_64/cpu.h"
#include "../arch/x86_64/kernel_paging.h"
#include "../arch/x86_64/paging.h"
#include "../kernel/assert.h"
#include "../kernel/kmem.h"
#include "../kernel/sched.h"
#include "../lib/kstring.h"
#include "cnode.h"

struct vspace_entry {
    uint64_t pml4_pa;       /* 0: id free */
    uint32_t caps;
};

static struct vspace_entry vspaces[VSPACE_MAX];

#define KERNEL_HALF_FIRST 256u
#define USER_TABLE_FLAGS (PTE_P | PTE_W | PTE_U)

bool vspace_id_available(unsigned count)
{
    unsigned free_ids = 0;
    for (unsigned i = 1; i < VSPACE_MAX && free_ids < count; i++)
        free_ids += vspaces[i].pml4_pa == 0 ? 1u : 0u;
    return free_ids >= count;
}

struct cap vspace_create_pml4(void *mem)
{
    uint64_t *table = mem;
    const uint64_t *kernel = phys_to_virt(kernel_pml4_pa());
    for (unsigned i = KERNEL_HALF_FIRST; i < PT_ENTRIES; i++)
        table[i] = kernel[i];
    unsigned id = 1;
    while (vspaces[id].pml4_pa != 0)
        id++;
    kassert(id < VSPACE_MAX);   /* decode checked vspace_id_available() */
    vspaces[id].pml4_pa = kmem_pa(mem);
    vspaces[id].caps = 0;

    struct cap c;
    memset(&c, 0, sizeof(c));
    c.type = HV_OBJ_PML4;
    c.rights = HV_RIGHTS_ALL;
    c.object = (uint64_t)(uintptr_t)mem;
    c.data = id;
    return c;
}

void vspace_ref(const struct cap *pml4)
{
    vspaces[pml4->data].caps++;
}

bool vspace_unref(const struct cap *pml4)
{
    kassert(vspaces[pml4->data].caps > 0);
    return --vspaces[pml4->data].caps == 0;
}

void vspace_finalize_pml4(const struct cap *pml4)
{
    /* No CPU may keep running on tables that are about to be reusable memory. */
    sched_evict_address_space(kmem_pa((void *)(uintptr_t)pml4->object));
    /* Mappings recorded in frame caps now name a dead id: their unmap becomes a no-op. */
    vspaces[pml4->data].pml4_pa = 0;
    if ((read_cr3() & PTE_ADDR_MASK) == kmem_pa((void *)(uintptr_t)pml4->object))
        write_cr3(kernel_pml4_pa());
}

/* Level of the table a paging-structure cap holds an entry of (PDPT is entered in the PML4). */
static unsigned parent_level(uint8_t type)
{
    switch (type) {
    case HV_OBJ_PDPT: return 4;
    case HV_OBJ_PD: return 3;
    case HV_OBJ_PT: return 2;
    default: return 1;  /* frames go into a PT */
    }
}

/* Level of the table holding the cap's entry: a 2 MiB frame is a PS leaf in a PD (level 2). */
static unsigned cap_level(const struct cap *c)
{
    return cap_frame_is_large(c) ? 2u : parent_level(c->type);
}

#define LARGE_FRAME_SIZE (1ull << HV_LARGE_FRAME_BITS)
_Static_assert(LARGE_FRAME_SIZE == PAGE_SIZE * PT_ENTRIES, "a 2 MiB frame is what one PD entry maps");
_Static_assert(PTE_PS == 0x80ull, "PS: bit 7 of a PDE makes it a 2 MiB leaf (SDM 4.5)");
_Static_assert((PTE_ADDR_MASK & (LARGE_FRAME_SIZE - 1)) == 0x1ff000ull,
               "a 2 MiB-aligned base leaves bits 20:12 of the leaf 0: bits 20:13 reserved, 12 PAT (0: WB)");

/* Why entry_at_level found no entry. */
enum walk_stop {
    WALK_OK = 0,
    WALK_MISSING,       /* a table on the way is absent */
    WALK_LARGE,         /* a 2 MiB (or 1 GiB) leaf is on the way */
};

/*
 * Walks from the PML4 down to the table at `level` covering va; returns a pointer
 * to the entry for va there, or NULL with *stop (if given) saying why: a table on
 * the way is absent, or a large leaf is in the way.
 */
static uint64_t *entry_at_level(uint64_t pml4_pa, uint64_t va, unsigned level, enum walk_stop *stop)
{
    uint64_t *table = kmem_ptr(pml4_pa);
    for (unsigned l = PT_LEVELS; l > level; l--) {
        uint64_t e = table[pt_index(va, l)];
        if (!(e & PTE_P) || (e & PTE_PS)) {
            if (stop != NULL)
                *stop = (e & PTE_P) ? WALK_LARGE : WALK_MISSING;
            return NULL;
        }
        table = kmem_ptr(e & PTE_ADDR_MASK);
    }
    if (stop != NULL)
        *stop = WALK_OK;
    return &table[pt_index(va, level)];
}

static uint64_t object_pa(const struct cap *c)
{
    return c->type == HV_OBJ_FRAME ? c->object : kmem_pa((void *)(uintptr_t)c->object);
}

/*
 * Drops the translations an entry just cleared in pml4_pa may have left in a TLB. Here:
 * INVLPG (or a CR3 reload for a table). Other CPUs: one that has these tables loaded
 * (running a thread of this address space, in user mode or in a guest whose host CR3 it
 * is) keeps its TLB entries for as long as it keeps that CR3 — a thread switch inside the
 * address space loads no CR3 — so it is made to leave them (sched_evict_address_space:
 * it switches to the core's tables, which flushes every user translation, and answers
 * before this returns). Without that, a thread on another CPU wrote on through the
 * unmapped va after FRAME_UNMAP returned (caps_smp: smp.unmap_reaches_other_cpu), into a
 * frame its owner may revoke and retype into kernel objects next. A CPU with other tables
 * loaded holds none of these entries: user translations are never global (PTE_G is the
 * core's) and a CR3 load drops the rest. The caller holds the kernel lock.
 */
static void flush_va(uint64_t pml4_pa, uint64_t va, bool whole)
{
    sched_evict_address_space(pml4_pa);
    if ((read_cr3() & PTE_ADDR_MASK) != pml4_pa)
        return;     /* not loaded here; the next CR3 load flushes */
    if (whole)
        write_cr3(read_cr3());
    else
        invlpg(va);     /* a 2 MiB leaf too: INVLPG drops the whole page holding va */
}

static void unmap_cap(struct cap *c)
{
    if (!(c->flags & CAP_FLAG_MAPPED))
        return;
    uint64_t id = c->data2;
    uint64_t pml4_pa = id < VSPACE_MAX ? vspaces[id].pml4_pa : 0;
    if (pml4_pa != 0) {
        uint64_t *e = entry_at_level(pml4_pa, c->data, cap_level(c), NULL);
        /* Only if the entry still points at this object: it may have been replaced. A 2 MiB
         * frame's entry is a PS leaf; a table's (or a 4 KiB frame's in a PT) never is. */
        if (e != NULL && (*e & PTE_P) && cap_frame_is_large(c) == ((*e & PTE_PS) != 0) &&
            (*e & PTE_ADDR_MASK) == object_pa(c)) {
            *e = 0;
            flush_va(pml4_pa, c->data, c->type != HV_OBJ_FRAME);
        }
    }
    c->flags &= ~CAP_FLAG_MAPPED;
    c->data = 0;
    c->data2 = 0;
}

void vspace_cap_deleting(struct cap *c)
{
    unmap_cap(c);
}

/* Checks shared by table and frame mapping; returns the entry to fill. */
static enum hv_error decode_map(const struct cap *c, const struct cap *pml4, uint64_t va,
                                uint64_t **entry_out)
{
    if (c->flags & (CAP_FLAG_MAPPED | CAP_FLAG_GUEST_MAPPED))
        return HV_ERR_ALREADY_MAPPED;   /* one mapping per cap: data/data2 hold one place */
    if (pml4->type != HV_OBJ_PML4)
        return HV_ERR_WRONG_TYPE;
    if (va < USER_VA_MIN || va >= USER_VA_END)
        return HV_ERR_RANGE;
    if (va & ((cap_frame_is_large(c) ? LARGE_FRAME_SIZE : PAGE_SIZE) - 1))
        return HV_ERR_ALIGNMENT;
    enum walk_stop stop;
    uint64_t *e = entry_at_level(vspaces[pml4->data].pml4_pa, va, cap_level(c), &stop);
    if (e == NULL)
        return stop == WALK_LARGE ? HV_ERR_PAGE_SIZE : HV_ERR_MISSING_TABLE;
    if (*e & PTE_P) {
        /* At the PD level a 2 MiB leaf and a PT exclude each other: say which is in the way. */
        if (cap_level(c) == 2 && cap_frame_is_large(c) != ((*e & PTE_PS) != 0))
            return HV_ERR_PAGE_SIZE;
        return HV_ERR_ALREADY_MAPPED;
    }
    *entry_out = e;
    return HV_OK;
}

/* va rounded down to what one entry at the cap's parent level covers. */
static uint64_t coverage_base(uint8_t type, uint64_t va)
{
    unsigned shift = PAGE_SHIFT + 9u * (parent_level(type) - 1u);
    return va & ~((1ull << shift) - 1);
}

bool vspace_has_table(const struct cap *pml4, uint64_t va, uint8_t type)
{
    const uint64_t *e = entry_at_level(vspaces[pml4->data].pml4_pa, va, parent_level(type), NULL);
    return e != NULL && (*e & PTE_P) && !(*e & PTE_PS);
}

enum hv_error vspace_map_table(struct cte *table_slot, const struct cap *pml4, uint64_t va)
{
    struct cap *c = &table_slot->cap;
    if (c->type != HV_OBJ_PDPT && c->type != HV_OBJ_PD && c->type != HV_OBJ_PT)
        return HV_ERR_WRONG_TYPE;
    uint64_t *e;
    enum hv_error err = decode_map(c, pml4, va, &e);
    if (err != HV_OK)
        return err;
    *e = object_pa(c) | USER_TABLE_FLAGS;
    c->flags |= CAP_FLAG_MAPPED;
    c->data = coverage_base(c->type, va);
    c->data2 = pml4->data;
    return HV_OK;
}

enum hv_error vspace_map_frame(struct cte *frame_slot, const struct cap *pml4, uint64_t va,
                               uint64_t attributes)
{
    struct cap *c = &frame_slot->cap;
    if (c->type != HV_OBJ_FRAME)
        return HV_ERR_WRONG_TYPE;
    if (attributes & ~(uint64_t)(HV_MAP_EXECUTABLE | HV_MAP_UNCACHED))
        return HV_ERR_INVALID_ARGUMENT;
    if (!cap_has_rights(c, HV_RIGHT_READ))
        return HV_ERR_INSUFFICIENT_RIGHTS;     /* x86 cannot map write-only */
    uint64_t *e;
    enum hv_error err = decode_map(c, pml4, va, &e);
    if (err != HV_OK)
        return err;
    uint64_t pte = c->object | PTE_P | PTE_U | (cap_frame_is_large(c) ? PTE_PS : 0);
    if (cap_has_rights(c, HV_RIGHT_WRITE))
        pte |= PTE_W;
    if (!(attributes & HV_MAP_EXECUTABLE))
        pte |= PTE_NX;
    if (attributes & HV_MAP_UNCACHED)
        pte |= PTE_PCD | PTE_PWT;
    *e = pte;
    c->flags |= CAP_FLAG_MAPPED;
    c->data = va;
    c->data2 = pml4->data;
    return HV_OK;
}

enum hv_error vspace_invoke(const struct cap *root, struct cte *slot, uint64_t label,
                            const uint64_t *args, unsigned nargs, struct hv_msg *reply_out)
{
    struct cap *c = &slot->cap;
    switch (label) {
    case HV_INV_PAGE_TABLE_MAP:
    case HV_INV_FRAME_MAP: {
        if (nargs < (label == HV_INV_FRAME_MAP ? 3u : 2u))
            return HV_ERR_TRUNCATED;
        struct cte *pml4;
        enum hv_error err = cnode_lookup_cap(root, args[0], &pml4);
        if (err != HV_OK)
            return err;
        if (label == HV_INV_FRAME_MAP)
            return vspace_map_frame(slot, &pml4->cap, args[1], args[2]);
        if (c->type == HV_OBJ_FRAME)
            return HV_ERR_WRONG_TYPE;
        if (args[1] & (PAGE_SIZE - 1))
            return HV_ERR_ALIGNMENT;
        return vspace_map_table(slot, &pml4->cap, args[1]);
    }
    case HV_INV_PAGE_TABLE_UNMAP:
    case HV_INV_FRAME_UNMAP:
        if ((label == HV_INV_FRAME_UNMAP) != (c->type == HV_OBJ_FRAME))
            return HV_ERR_WRONG_TYPE;
        if (c->type == HV_OBJ_PML4)
            return HV_ERR_WRONG_TYPE;
        unmap_cap(c);
        return HV_OK;
    case HV_INV_FRAME_GET_ADDRESS:
        if (c->type != HV_OBJ_FRAME)
            return HV_ERR_WRONG_TYPE;
        reply_out->w[0] = c->object;
        reply_out->tag = hv_tag(0, 1, 0);
        return HV_OK;
    default:
        return HV_ERR_UNKNOWN_INVOCATION;
    }
}

void vspace_activate_kernel(void)
{
    uint64_t pa = kernel_pml4_pa();
    if ((read_cr3() & PTE_ADDR_MASK) != pa)
        write_cr3(pa);
}

uint64_t vspace_activate(const struct tcb *t)
{
    const struct cap *v = &t->slots[TCB_SLOT_VSPACE].cap;
    uint64_t pa = v->type == HV_OBJ_PML4 ? kmem_pa((void *)(uintptr_t)v->object) : kernel_pml4_pa();
    if ((read_cr3() & PTE_ADDR_MASK) != pa)
        write_cr3(pa);
    return pa;
}
