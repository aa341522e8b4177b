/* SPDX-License-Identifier: MIT */
/* ipc_buffer: the per-thread page shared with the core: long messages, cap transfer, reflection. */
#ifndef HV_ABI_IPC_BUFFER_H
#define HV_ABI_IPC_BUFFER_H

#include <stdint.h>

#include "syscall.h"

/*
 * One 4 KiB frame per thread, mapped in its VSpace and named in TCB_CONFIGURE.
 * The core reads and writes it through its own mapping of the frame, never
 * through the user's page tables, so a bad user mapping cannot fault the core.
 */
struct hv_ipc_buffer {
    /* Message words; w[0..3] travel in registers and are not read from here. */
    uint64_t msg[HV_MSG_MAX_WORDS];
    /* Send: capability pointers of caps to transfer (tag.caps of them). Receive: unused. */
    uint64_t send_caps[HV_MSG_MAX_CAPS];
    /* Receive: where one transferred cap lands (CNode cptr, index, depth); depth 0 = refuse caps. */
    uint64_t recv_cnode;
    uint64_t recv_index;
    uint64_t recv_depth;
    /* Receive: how many caps arrived (0 or 1; more are reported, not transferred). */
    uint64_t recv_caps;
    /* Reflected Linux system call: where to return and the flags to restore. */
    uint64_t reflect_rip;
    uint64_t reflect_rflags;
    uint64_t user_data[4];  /* the runtime's own (e.g. its thread pointer) */
};

_Static_assert(sizeof(struct hv_ipc_buffer) <= 4096, "IPC buffer fits one page");

#endif
