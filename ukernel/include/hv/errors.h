/* SPDX-License-Identifier: MIT */
/* errors: the error codes every system call and invocation of the core can return. */
#ifndef HV_ABI_ERRORS_H
#define HV_ABI_ERRORS_H

/*
 * Stable ABI. Each failing invocation returns exactly one of these and changes
 * nothing: decode checks every argument before anything is done.
 */
enum hv_error {
    HV_OK = 0,
    HV_ERR_INVALID_CAP = 1,         /* capability pointer does not resolve to a slot */
    HV_ERR_EMPTY_SLOT = 2,          /* the slot holds no capability */
    HV_ERR_WRONG_TYPE = 3,          /* operation not defined for this object type */
    HV_ERR_INSUFFICIENT_RIGHTS = 4, /* the capability lacks a right the operation needs */
    HV_ERR_INVALID_ARGUMENT = 5,    /* a message word is out of its domain */
    HV_ERR_RANGE = 6,               /* a size or index is outside what the object allows */
    HV_ERR_SLOT_OCCUPIED = 7,       /* destination slot is not empty */
    HV_ERR_NOT_ENOUGH_MEMORY = 8,   /* untyped has too little free space */
    HV_ERR_REVOKE_FIRST = 9,        /* the object still has derived capabilities */
    HV_ERR_ALIGNMENT = 10,          /* an address is not aligned as required */
    HV_ERR_ALREADY_MAPPED = 11,     /* this capability (or the target slot) is already mapped */
    HV_ERR_NOT_MAPPED = 12,         /* operation needs a mapped object */
    HV_ERR_MISSING_TABLE = 13,      /* a paging structure on the path is not there */
    HV_ERR_ILLEGAL_OPERATION = 14,  /* well-formed but not allowed (e.g. derive from an IRQ cap twice) */
    HV_ERR_UNKNOWN_INVOCATION = 15, /* label names no invocation of this object */
    HV_ERR_TRUNCATED = 16,          /* message longer than the buffer/length allows */
    HV_ERR_CANCELLED = 17,          /* IPC aborted: the object or partner went away */
    HV_ERR_UNKNOWN_SYSCALL = 18,    /* returned only where no fault handler exists */
    HV_ERR_BUSY = 19,               /* object in use by another operation (e.g. bound elsewhere) */
    HV_ERR_NOT_SUPPORTED = 20,      /* this CPU (or this build) cannot do it (e.g. nested paging) */
    HV_ERR_PAGE_SIZE = 21,          /* a mapping of the other page size is in the way: a page table
                                       where a 2 MiB frame would go, a 2 MiB frame where a table
                                       or a 4 KiB frame would */
    HV_ERR_COUNT
};

#endif
