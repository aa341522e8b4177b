/* SPDX-License-Identifier: MIT */
/* cdt: the capability derivation tree: linking, unlinking and moving slots. */
#include "cap.h"

#include <stddef.h>

#include "../kernel/assert.h"
#include "../lib/kstring.h"

/* Links `c` (no parent, no siblings; it may have children of its own) as the newest child of `parent`. */
static void link_under(struct cte *parent, struct cte *c)
{
    c->parent = parent;
    if (parent == NULL)
        return;
    c->next_sibling = parent->first_child;
    if (parent->first_child != NULL)
        parent->first_child->prev_sibling = c;
    parent->first_child = c;
}

void cdt_insert_child(struct cte *parent, struct cte *child)
{
    kassert(child->parent == NULL && child->first_child == NULL &&
            child->next_sibling == NULL && child->prev_sibling == NULL);
    link_under(parent, child);
}

/* Splices `s` out of its sibling list (parent's first_child updated). */
static void detach_from_siblings(struct cte *s)
{
    if (s->prev_sibling != NULL)
        s->prev_sibling->next_sibling = s->next_sibling;
    else if (s->parent != NULL)
        s->parent->first_child = s->next_sibling;
    if (s->next_sibling != NULL)
        s->next_sibling->prev_sibling = s->prev_sibling;
    s->prev_sibling = NULL;
    s->next_sibling = NULL;
}

void cdt_unlink(struct cte *s)
{
    struct cte *parent = s->parent;
    detach_from_siblings(s);
    /* Hand the children to the parent, keeping them under every ancestor. */
    struct cte *c = s->first_child;
    while (c != NULL) {
        struct cte *next = c->next_sibling;
        c->parent = NULL;
        c->prev_sibling = NULL;
        c->next_sibling = NULL;
        link_under(parent, c);      /* c keeps its own subtree */
        c = next;
    }
    s->first_child = NULL;
    s->parent = NULL;
}

void cdt_move(struct cte *src, struct cte *dst)
{
    kassert(cte_is_empty(dst) && dst->parent == NULL && dst->first_child == NULL);
    *dst = *src;
    if (dst->prev_sibling != NULL)
        dst->prev_sibling->next_sibling = dst;
    else if (dst->parent != NULL)
        dst->parent->first_child = dst;
    if (dst->next_sibling != NULL)
        dst->next_sibling->prev_sibling = dst;
    for (struct cte *c = dst->first_child; c != NULL; c = c->next_sibling)
        c->parent = dst;
    memset(src, 0, sizeof(*src));
}

struct cte *cdt_leaf_descendant(const struct cte *s)
{
    struct cte *c = s->first_child;
    if (c == NULL)
        return NULL;
    while (c->first_child != NULL)
        c = c->first_child;
    return c;
}

bool cdt_is_descendant(const struct cte *a, const struct cte *d)
{
    for (const struct cte *p = d->parent; p != NULL; p = p->parent) {
        if (p == a)
            return true;
    }
    return false;
}
