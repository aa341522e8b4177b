/* SPDX-License-Identifier: MIT */
/* root_task: building the first user thread from the "init" boot module, with all authority. */
#ifndef HV_KERNEL_ROOT_TASK_H
#define HV_KERNEL_ROOT_TASK_H

#include "bootinfo.h"

/* User addresses of the root task's fixed pages. */
#define ROOT_STACK_TOP 0x00007fffff000000ull
#define ROOT_STACK_PAGES 16u
#define ROOT_IPC_BUFFER_VA 0x00007fffff001000ull
#define ROOT_BOOTINFO_VA 0x00007fffff002000ull
#define ROOT_CNODE_RADIX 15u             /* 32768 slots (2 MiB): boot modules' pages and their copies in vmms take most */
#define ROOT_PRIORITY 128u

/*
 * Creates the root task from module `module_name`: its CNode (all caps), TCB,
 * SchedContext, address space with the ELF loaded, IPC buffer and bootinfo; turns
 * all remaining RAM into untyped caps. Panics with a clear message if the module
 * is missing or malformed. The thread is left runnable.
 */
void root_task_create(const struct boot_info *bi, const char *module_name);

#endif
