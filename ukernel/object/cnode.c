/* SPDX-License-Identifier: MIT */
/* cnode: capability addressing, CNode invocations, and deletion with finalization. */
#include "cnode.h"

#include <stddef.h>

#include "../kernel/assert.h"
#include "../lib/kstring.h"
#include "object.h"

#define WORD_BITS 64u

static uint64_t low_mask(unsigned bits)
{
    return bits >= WORD_BITS ? ~0ull : (1ull << bits) - 1;
}

void cnode_init(void *mem, unsigned radix)
{
    struct cnode_header *h = mem;
    h->radix = radix;   /* the rest of the object is already zero: every slot empty */
}

/*
 * seL4-style resolution: at each level the CNode consumes guard_bits + radix bits
 * of the pointer, the guard must match, and the slot at the index either ends the
 * walk or holds the next CNode.
 */
static enum hv_error resolve(const struct cap *root, uint64_t cptr, unsigned depth,
                             bool stop_at_leaf_cap, struct cte **slot_out)
{
    const struct cap *node = root;
    unsigned remaining = depth;

    if (depth == 0 || depth > WORD_BITS)
        return HV_ERR_RANGE;
    for (;;) {
        if (node->type != HV_OBJ_CNODE)
            return HV_ERR_INVALID_CAP;
        unsigned radix = node->size_bits;
        unsigned guard_bits = node->guard_bits;
        unsigned level = radix + guard_bits;
        if (level == 0 || level > remaining)
            return HV_ERR_INVALID_CAP;
        /* No guard: nothing to compare (and a shift by `remaining` could be 64). */
        if (guard_bits != 0 &&
            ((cptr >> (remaining - guard_bits)) & low_mask(guard_bits)) != (node->data & low_mask(guard_bits)))
            return HV_ERR_INVALID_CAP;
        uint64_t index = (cptr >> (remaining - level)) & low_mask(radix);
        if (index == 0)
            return HV_ERR_INVALID_CAP;  /* slot 0 is the CNode's header */
        struct cte *slot = &cnode_slots(node)[index];
        remaining -= level;
        if (remaining == 0) {
            *slot_out = slot;
            return HV_OK;
        }
        if (slot->cap.type != HV_OBJ_CNODE) {
            if (stop_at_leaf_cap && !cte_is_empty(slot)) {
                *slot_out = slot;
                return HV_OK;
            }
            return HV_ERR_INVALID_CAP;  /* bits left over but nothing to descend into */
        }
        node = &slot->cap;
    }
}

enum hv_error cnode_lookup_slot(const struct cap *root, uint64_t cptr, unsigned depth,
                                struct cte **slot_out)
{
    return resolve(root, cptr, depth, false, slot_out);
}

enum hv_error cnode_lookup_cap(const struct cap *root, uint64_t cptr, struct cte **slot_out)
{
    struct cte *slot;
    enum hv_error err = resolve(root, cptr, WORD_BITS, true, &slot);
    if (err != HV_OK)
        return err;
    if (cte_is_empty(slot))
        return HV_ERR_EMPTY_SLOT;
    *slot_out = slot;
    return HV_OK;
}

/* ---------------------------------------------------------------- deletion */

/* CNodes whose last cap went away, emptied by the outermost delete (no recursion). */
static struct cnode_header *reap_list;
static unsigned delete_depth;

static void reap_pending_cnodes(void)
{
    delete_depth++;     /* the deletes below only queue CNodes; this loop takes them (no recursion) */
    while (reap_list != NULL) {
        struct cnode_header *h = reap_list;
        reap_list = h->reap_next;
        h->reap_next = NULL;
        struct cte *slots = (struct cte *)h;
        uint64_t n = 1ull << h->radix;
        for (uint64_t i = 1; i < n; i++) {
            if (!cte_is_empty(&slots[i]))
                cap_delete(&slots[i]);
        }
        h->dying = 0;
    }
    delete_depth--;
}

void cnode_schedule_reap(struct cnode_header *h)
{
    kassert(!h->dying);
    h->dying = 1;
    h->reap_next = reap_list;
    reap_list = h;
}

void cap_delete(struct cte *slot)
{
    if (cte_is_empty(slot))
        return;
    delete_depth++;
    struct cap c = slot->cap;
    object_cap_deleting(&slot->cap);    /* per-cap cleanup, e.g. unmap this cap's mapping */
    cdt_unlink(slot);
    memset(&slot->cap, 0, sizeof(slot->cap));
    if (object_unref(&c))
        object_finalize(&c);
    if (--delete_depth == 0)
        reap_pending_cnodes();
}

void cap_revoke(struct cte *slot)
{
    struct cte *leaf;
    while ((leaf = cdt_leaf_descendant(slot)) != NULL)
        cap_delete(leaf);
}

void cap_insert(struct cte *dst, const struct cap *cap, struct cte *parent)
{
    kassert(cte_is_empty(dst));
    dst->cap = *cap;
    dst->parent = NULL;
    dst->first_child = NULL;
    dst->next_sibling = NULL;
    dst->prev_sibling = NULL;
    cdt_insert_child(parent, dst);
    object_ref(&dst->cap);
}

bool cap_type_copyable(uint8_t type)
{
    switch (type) {
    case HV_OBJ_UNTYPED:    /* one cap per region: its watermark lives in the cap */
    case HV_OBJ_PDPT:       /* paging structures: the cap records the one mapping */
    case HV_OBJ_PD:
    case HV_OBJ_PT:
    case HV_OBJ_REPLY:      /* one-shot */
    case HV_OBJ_NULL:
        return false;
    default:
        return true;
    }
}

/* ---------------------------------------------------------------- invocations */

/* Arguments, in message-word order. */
enum {
    ARG_DEST_INDEX = 0, ARG_DEST_DEPTH, ARG_SRC_ROOT, ARG_SRC_INDEX, ARG_SRC_DEPTH,
    ARG_RIGHTS, ARG_BADGE,
};

#define BADGE_MAX ((1ull << 52) - 1)    /* badges fit the 52-bit message label width */
#define CNODE_GUARD_BITS_FIELD 6u       /* mint on a CNode: badge = guard << 6 | guard_bits */

struct cnode_op {
    uint64_t label;
    struct cte *dest;
    struct cte *src;
    struct cap new_cap;
};

static enum hv_error decode_derive(const struct cap *root, struct cte *cnode_slot,
                                   uint64_t label, const uint64_t *args, unsigned nargs,
                                   struct cnode_op *op)
{
    unsigned need = label == HV_INV_CNODE_MOVE ? 5u : label == HV_INV_CNODE_COPY ? 6u : 7u;
    if (nargs < need)
        return HV_ERR_TRUNCATED;

    struct cte *dest;
    enum hv_error err = cnode_lookup_slot(&cnode_slot->cap, args[ARG_DEST_INDEX],
                                          (unsigned)(args[ARG_DEST_DEPTH] > WORD_BITS ? 0 : args[ARG_DEST_DEPTH]),
                                          &dest);
    if (err != HV_OK)
        return err;
    if (!cte_is_empty(dest))
        return HV_ERR_SLOT_OCCUPIED;

    struct cte *src_root;
    err = cnode_lookup_cap(root, args[ARG_SRC_ROOT], &src_root);
    if (err != HV_OK)
        return err;
    if (src_root->cap.type != HV_OBJ_CNODE)
        return HV_ERR_WRONG_TYPE;
    struct cte *src;
    err = cnode_lookup_slot(&src_root->cap, args[ARG_SRC_INDEX],
                            (unsigned)(args[ARG_SRC_DEPTH] > WORD_BITS ? 0 : args[ARG_SRC_DEPTH]), &src);
    if (err != HV_OK)
        return err;
    if (cte_is_empty(src))
        return HV_ERR_EMPTY_SLOT;
    if (src == dest)
        return HV_ERR_SLOT_OCCUPIED;

    op->label = label;
    op->dest = dest;
    op->src = src;
    op->new_cap = src->cap;
    if (label == HV_INV_CNODE_MOVE)
        return HV_OK;

    if (!cap_type_copyable(src->cap.type))
        return HV_ERR_ILLEGAL_OPERATION;
    uint64_t rights = args[ARG_RIGHTS];
    if (rights & ~(uint64_t)HV_RIGHTS_ALL)
        return HV_ERR_INVALID_ARGUMENT;
    op->new_cap.rights = (uint8_t)(src->cap.rights & rights);   /* rights only shrink */
    object_cap_derived(&op->new_cap);   /* a derived cap starts unmapped etc. */

    if (label == HV_INV_CNODE_MINT) {
        uint64_t badge = args[ARG_BADGE];
        switch (src->cap.type) {
        case HV_OBJ_ENDPOINT:
        case HV_OBJ_NOTIFICATION:
            if (badge > BADGE_MAX)
                return HV_ERR_INVALID_ARGUMENT;
            if (badge != 0) {
                if (src->cap.flags & CAP_FLAG_BADGED)
                    return HV_ERR_ILLEGAL_OPERATION;    /* a badge is set once */
                op->new_cap.data = badge;
                op->new_cap.flags |= CAP_FLAG_BADGED;
            }
            break;
        case HV_OBJ_CNODE: {
            unsigned guard_bits = (unsigned)(badge & ((1u << CNODE_GUARD_BITS_FIELD) - 1));
            uint64_t guard = badge >> CNODE_GUARD_BITS_FIELD;
            if (guard_bits + src->cap.size_bits > WORD_BITS || (guard & ~low_mask(guard_bits)) != 0)
                return HV_ERR_INVALID_ARGUMENT;
            op->new_cap.guard_bits = (uint8_t)guard_bits;
            op->new_cap.data = guard;
            break;
        }
        default:
            if (badge != 0)
                return HV_ERR_INVALID_ARGUMENT;     /* nothing to badge */
            break;
        }
    }
    return HV_OK;
}

enum hv_error cnode_invoke(const struct cap *root, struct cte *cnode_slot, uint64_t label,
                           const uint64_t *args, unsigned nargs)
{
    if (cnode_slot->cap.type != HV_OBJ_CNODE)
        return HV_ERR_WRONG_TYPE;

    switch (label) {
    case HV_INV_CNODE_COPY:
    case HV_INV_CNODE_MINT:
    case HV_INV_CNODE_MOVE: {
        struct cnode_op op;
        enum hv_error err = decode_derive(root, cnode_slot, label, args, nargs, &op);
        if (err != HV_OK)
            return err;
        if (label == HV_INV_CNODE_MOVE)
            cdt_move(op.src, op.dest);
        else
            cap_insert(op.dest, &op.new_cap, op.src);
        return HV_OK;
    }
    case HV_INV_CNODE_DELETE:
    case HV_INV_CNODE_REVOKE: {
        if (nargs < 2)
            return HV_ERR_TRUNCATED;
        struct cte *slot;
        enum hv_error err = cnode_lookup_slot(&cnode_slot->cap, args[0],
                                              (unsigned)(args[1] > WORD_BITS ? 0 : args[1]), &slot);
        if (err != HV_OK)
            return err;
        if (label == HV_INV_CNODE_DELETE)
            cap_delete(slot);
        else
            cap_revoke(slot);
        return HV_OK;
    }
    default:
        return HV_ERR_UNKNOWN_INVOCATION;
    }
}
