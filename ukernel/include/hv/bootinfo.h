/* SPDX-License-Identifier: MIT */
/* bootinfo: what the core hands the root task: its initial capabilities and all free memory. */
#ifndef HV_ABI_BOOTINFO_H
#define HV_ABI_BOOTINFO_H

#include <stdint.h>

/* Fixed slots of the root task's CNode. */
enum hv_root_slot {
    HV_ROOT_NULL = 0,
    HV_ROOT_TCB = 1,
    HV_ROOT_CNODE = 2,
    HV_ROOT_VSPACE = 3,
    HV_ROOT_SCHED_CONTEXT = 4,
    HV_ROOT_IRQ_CONTROL = 5,
    HV_ROOT_IOPORT_CONTROL = 6,
    HV_ROOT_BOOTINFO_FRAME = 7,
    HV_ROOT_IPC_BUFFER_FRAME = 8,
    HV_ROOT_FIRST_FREE_FIXED = 16,  /* slots from here are described by the ranges below */
};

#define HV_BOOTINFO_MAX_UNTYPED 128
#define HV_BOOTINFO_MAX_MODULES 16
#define HV_BOOTINFO_NAME_MAX 32

struct hv_slot_range {
    uint64_t start;     /* first slot */
    uint64_t end;       /* one past the last */
};

struct hv_untyped_desc {
    uint64_t paddr;
    uint8_t size_bits;
    uint8_t is_device;  /* device memory: frames only, never kernel objects */
    uint8_t padding[6];
};

struct hv_module_desc {
    char name[HV_BOOTINFO_NAME_MAX];
    uint64_t size;                  /* bytes */
    struct hv_slot_range frames;    /* read-only frame caps holding the module, in order */
};

struct hv_bootinfo {
    uint64_t magic;                 /* HV_BOOTINFO_MAGIC */
    uint64_t cnode_radix;           /* the root CNode has 2^radix slots, guard fills 64 bits */
    uint64_t cpu_count;
    uint64_t ipc_buffer_va;         /* where the root task's IPC buffer is mapped */
    struct hv_slot_range untyped;   /* untyped caps, described by untyped_list[] in order */
    struct hv_slot_range modules;   /* covered by module_list[] */
    struct hv_slot_range image;     /* the root task's own page tables and frames (image, stack) */
    struct hv_slot_range empty;     /* free slots */
    uint64_t untyped_count;
    uint64_t module_count;
    struct hv_untyped_desc untyped_list[HV_BOOTINFO_MAX_UNTYPED];
    struct hv_module_desc module_list[HV_BOOTINFO_MAX_MODULES];
    char cmdline[256];              /* the core's command line, for the root task's options */
    uint64_t tsc_hz;                /* the TSC rate the core measured against the PIT (0: unknown) */
};

#define HV_BOOTINFO_MAGIC 0x4856424f4f54ull  /* "HVBOOT" */
_Static_assert(sizeof(struct hv_bootinfo) <= 4096, "bootinfo fits one page");

#endif
