/* SPDX-License-Identifier: MIT */
/* endpoint: tearing down the queue of threads waiting to send or receive. */
#include "endpoint.h"

#include <stddef.h>

#include "../include/hv/errors.h"
#include "../kernel/assert.h"
#include "../kernel/ipc.h"

void endpoint_finalize(struct endpoint *ep)
{
    while (ep->head != NULL) {
        struct tcb *t = ep->head;
        endpoint_dequeue(ep, t);
        ipc_abort(t, HV_ERR_CANCELLED);
    }
}
