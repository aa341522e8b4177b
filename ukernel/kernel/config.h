/* SPDX-License-Identifier: MIT */
/* config: compile-time limits of the core. */
#ifndef HV_KERNEL_CONFIG_H
#define HV_KERNEL_CONFIG_H

#define CONFIG_MAX_CPUS 8
#define CONFIG_TIMER_HZ 1000            /* budget enforcement granularity: 1 ms */
#define HV_VERSION "0.1.0"

#endif
