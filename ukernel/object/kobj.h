/* SPDX-License-Identifier: MIT */
/* kobj: the header every reference-counted kernel object starts with. */
#ifndef HV_OBJECT_KOBJ_H
#define HV_OBJECT_KOBJ_H

#include <stdint.h>

/*
 * `caps` counts the capabilities naming the object, wherever they are (CNode
 * slots and the slots inside TCBs). When the last one is deleted the object is
 * finalized (unlinked from every queue and binding); its memory returns to the
 * untyped only when the untyped is revoked.
 */
struct kobj {
    uint32_t caps;
    uint32_t type;  /* enum hv_object_type, for assertions */
};

#endif
