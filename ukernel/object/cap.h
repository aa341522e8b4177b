/* SPDX-License-Identifier: MIT */
/* cap: the capability and the slot (CTE) that holds it, linked into the derivation tree. */
#ifndef HV_OBJECT_CAP_H
#define HV_OBJECT_CAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../include/hv/objects.h"

/*
 * A capability names one object and carries rights. The meaning of `data` and
 * `data2` depends on the type:
 *
 *   type            object                  data                   data2
 *   UNTYPED         physical base           watermark (bytes used) is_device
 *   CNODE           kernel address          guard value            -
 *   ENDPOINT, NOTIFICATION                  badge                  -
 *   TCB, SC, REPLY  kernel address          -                      -
 *   PML4            kernel address          vspace id              -
 *   PDPT, PD, PT    kernel address          mapped va (if mapped)  vspace id (0 = unmapped)
 *   FRAME           physical base           mapped va              vspace id (0 = unmapped)
 *                   (CAP_FLAG_GUEST_MAPPED)  gfn                    GuestMemory id
 *   GUEST_MEMORY    kernel address          vcpu holding it (or 0) -
 *   VCPU            kernel address          -                      -
 *   IRQ_HANDLER     its line (irq.c)        irq number             -
 *   IOPORT          -                       first | last << 16     -
 *
 * size_bits: untyped size, CNode radix, frame size (HV_FRAME_BITS or HV_LARGE_FRAME_BITS).
 * guard_bits: CNode guard length.
 */
struct cap {
    uint8_t type;           /* enum hv_object_type */
    uint8_t rights;         /* HV_RIGHT_* */
    uint8_t size_bits;
    uint8_t guard_bits;
    uint32_t flags;         /* CAP_FLAG_* */
    uint64_t object;
    uint64_t data;
    uint64_t data2;
};

#define CAP_FLAG_BADGED (1u << 0)   /* badge set: it can never be changed again */
#define CAP_FLAG_MAPPED (1u << 1)   /* frame / paging structure currently mapped */
#define CAP_FLAG_GUEST_MAPPED (1u << 2) /* frame mapped in a GuestMemory (data gfn, data2 its id) */

/*
 * A slot. The derivation tree (CDT) is explicit: every cap derived by retype,
 * copy or mint is a child of its source. Invariants:
 *  - an empty slot (type NULL) has no links;
 *  - child->parent == p for every child in p's list;
 *  - deleting a slot moves its children to its parent (they stay covered by a
 *    revoke of any ancestor);
 *  - a revoke of X deletes exactly the subtree below X, across CNodes.
 */
struct cte {
    struct cap cap;
    struct cte *parent;
    struct cte *first_child;
    struct cte *next_sibling;
    struct cte *prev_sibling;
};

_Static_assert(sizeof(struct cap) == 32, "cap layout");
_Static_assert(sizeof(struct cte) == (1u << HV_CNODE_SLOT_BITS), "a slot is 2^HV_CNODE_SLOT_BITS bytes");

static inline bool cap_is_null(const struct cap *c)
{
    return c->type == HV_OBJ_NULL;
}

static inline bool cte_is_empty(const struct cte *s)
{
    return cap_is_null(&s->cap);
}

static inline bool cap_has_rights(const struct cap *c, unsigned rights)
{
    return (c->rights & rights) == rights;
}

/* A 2 MiB frame (its cap's size_bits say so; copies keep them). */
static inline bool cap_frame_is_large(const struct cap *c)
{
    return c->type == HV_OBJ_FRAME && c->size_bits == HV_LARGE_FRAME_BITS;
}

/* --- derivation tree (pure linking; no object side effects) --- */

/* Links `child` (just filled, no links yet) as the newest child of `parent` (may be NULL). */
void cdt_insert_child(struct cte *parent, struct cte *child);
/* Unlinks `s`; its children become children of its parent. Clears s's links. */
void cdt_unlink(struct cte *s);
/* Moves the cap and all links from `src` to empty `dst`; src ends empty. */
void cdt_move(struct cte *src, struct cte *dst);
/* True if `s` has children in the tree. */
static inline bool cdt_has_children(const struct cte *s)
{
    return s->first_child != NULL;
}
/* A leaf of the subtree below `s` (deepest first child), or NULL if s has no children. */
struct cte *cdt_leaf_descendant(const struct cte *s);
/* True if `d` is a strict descendant of `a`. */
bool cdt_is_descendant(const struct cte *a, const struct cte *d);

#endif
