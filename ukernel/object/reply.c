/* SPDX-License-Identifier: MIT */
/* reply: cancelling an outstanding call. */
#include "reply.h"

#include <stddef.h>

#include "../kernel/ipc.h"

void reply_cancel(struct reply *r)
{
    struct tcb *caller = r->caller;
    if (caller == NULL)
        return;
    r->caller = NULL;
    caller->caller_reply = NULL;
    if (caller->fault_label != 0)
        ipc_stop_faulted(caller);   /* a faulted thread nobody answers stays stopped */
    else
        ipc_abort(caller, HV_ERR_CANCELLED);
}

void reply_finalize(struct reply *r)
{
    reply_cancel(r);
    if (r->owner != NULL) {
        r->owner->recv_reply = NULL;
        r->owner = NULL;
    }
}
