/* SPDX-License-Identifier: MIT */
/* ioport: authority over x86 I/O port ranges, used by invocation (IOPortControl issues ranges). */
#ifndef HV_OBJECT_IOPORT_H
#define HV_OBJECT_IOPORT_H

#include <stdint.h>

#include "../include/hv/errors.h"
#include "../include/hv/syscall.h"
#include "cap.h"

struct cap ioport_control_cap(void);
enum hv_error ioport_invoke(const struct cap *root, struct cte *slot, uint64_t label,
                            const uint64_t *args, unsigned nargs, struct hv_msg *reply_out);

#endif
