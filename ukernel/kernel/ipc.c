/* SPDX-License-Identifier: MIT */
/* ipc: rendezvous on endpoints, message copy, capability transfer, replies. */
#include "ipc.h"

#include <stddef.h>

#include "../include/hv/fault.h"
#include "../include/hv/ipc_buffer.h"
#include "../include/hv/syscall.h"
#include "../include/hv/vcpu.h"
#include "../object/cnode.h"
#include "../object/endpoint.h"
#include "../object/notification.h"
#include "../object/object.h"
#include "../object/reply.h"
#include "../object/vcpu.h"
#include "assert.h"
#include "sched.h"

#define REG_WORDS HV_MSG_REG_WORDS

static void block(struct tcb *t, enum thread_state state)
{
    sched_remove(t);
    t->state = (uint8_t)state;
}

void ipc_abort(struct tcb *t, enum hv_error err)
{
    t->flags = 0;
    ipc_set_result(t, err);
    t->ctx.rsi = 0;
    sched_make_runnable(t);
}

void ipc_complete_wait(struct tcb *t, uint64_t bits)
{
    ipc_set_result(t, HV_OK);
    t->ctx.rdi = bits;
    t->ctx.rsi = 0;
    sched_make_runnable(t);
}

void ipc_stop_faulted(struct tcb *t)
{
    sched_remove(t);
    t->state = THREAD_INACTIVE;
    t->flags = 0;
}

void ipc_cancel_recv(struct tcb *t)
{
    if (t->blocked_ep != NULL)
        endpoint_dequeue(t->blocked_ep, t);
    if (t->recv_reply != NULL) {
        t->recv_reply->owner = NULL;
        t->recv_reply = NULL;
    }
}

/* Reads message word i (< length) of a sender. */
static uint64_t sender_word(const struct tcb *s, const struct hv_ipc_buffer *buf, unsigned i,
                            const uint64_t *fault_words)
{
    if (fault_words != NULL)
        return fault_words[i];
    switch (i) {
    case 0: return s->ctx.rdx;
    case 1: return s->ctx.r8;
    case 2: return s->ctx.r9;
    case 3: return s->ctx.r10;
    default: return buf != NULL ? buf->msg[i] : 0;
    }
}

static void set_receiver_word(struct tcb *r, struct hv_ipc_buffer *buf, unsigned i, uint64_t v)
{
    switch (i) {
    case 0: r->ctx.rdx = v; break;
    case 1: r->ctx.r8 = v; break;
    case 2: r->ctx.r9 = v; break;
    case 3: r->ctx.r10 = v; break;
    default: buf->msg[i] = v; break;
    }
}

/* Moves at most one capability from the sender's IPC buffer into the receiver's chosen slot. */
static unsigned transfer_cap(struct tcb *s, const struct hv_ipc_buffer *sbuf, struct tcb *r,
                             struct hv_ipc_buffer *rbuf)
{
    if (sbuf == NULL || rbuf == NULL || rbuf->recv_depth == 0)
        return 0;
    struct cte *src;
    if (cnode_lookup_cap(tcb_cspace(s), sbuf->send_caps[0], &src) != HV_OK)
        return 0;
    if (!cap_type_copyable(src->cap.type))
        return 0;
    struct cte *cnode;
    if (cnode_lookup_cap(tcb_cspace(r), rbuf->recv_cnode, &cnode) != HV_OK ||
        cnode->cap.type != HV_OBJ_CNODE)
        return 0;
    struct cte *dest;
    if (rbuf->recv_depth > 64 ||
        cnode_lookup_slot(&cnode->cap, rbuf->recv_index, (unsigned)rbuf->recv_depth, &dest) != HV_OK ||
        !cte_is_empty(dest))
        return 0;
    struct cap c = src->cap;
    object_cap_derived(&c);
    cap_insert(dest, &c, src);
    return 1;
}

/*
 * Copies sender -> receiver. `fault_words` non-NULL: the message is the sender's
 * fault (label = its fault label). Returns nothing: the receiver's registers say it all.
 */
static void transfer(struct tcb *s, struct tcb *r, uint64_t badge, bool grant)
{
    const struct hv_ipc_buffer *sbuf = tcb_ipc_buffer(s);
    struct hv_ipc_buffer *rbuf = tcb_ipc_buffer(r);
    uint64_t tag;
    const uint64_t *fault_words = NULL;

    if (s->flags & TCB_FLAG_FAULT) {
        fault_words = s->fault_words;
        tag = hv_tag(s->fault_label, REG_WORDS, 0);
    } else {
        tag = s->ctx.rsi;
    }
    unsigned len = hv_tag_length(tag);
    if (len > HV_MSG_MAX_WORDS)
        len = HV_MSG_MAX_WORDS;
    if (len > REG_WORDS && (rbuf == NULL || (fault_words == NULL && sbuf == NULL)))
        len = REG_WORDS;    /* no buffer to carry the rest: the message is cut */
    for (unsigned i = 0; i < len; i++)
        set_receiver_word(r, rbuf, i, sender_word(s, sbuf, i, fault_words));
    /* A VM exit carries the guest state its transfer mask chose, after the four words. */
    if (fault_words != NULL && s->fault_label == HV_FAULT_VM_EXIT && rbuf != NULL)
        len += vcpu_exit_state_words(s, &rbuf->msg[HV_VCPU_STATE_WORD]);

    unsigned caps = 0;
    if (fault_words == NULL && hv_tag_caps(tag) > 0 && grant)
        caps = transfer_cap(s, sbuf, r, rbuf);
    if (rbuf != NULL)
        rbuf->recv_caps = caps;

    ipc_set_result(r, HV_OK);
    r->ctx.rsi = hv_tag(hv_tag_label(tag), len, caps);
    r->ctx.rdi = badge;
}

/* Links a caller to the reply object the receiver supplied (or fails the call). */
static void bind_reply(struct tcb *caller, struct tcb *receiver)
{
    struct reply *r = receiver->recv_reply;
    receiver->recv_reply = NULL;
    if (r == NULL) {
        /* Nobody can answer: a fault stays stopped, a call fails. */
        if (caller->fault_label != 0)
            ipc_stop_faulted(caller);
        else
            ipc_abort(caller, HV_ERR_CANCELLED);
        return;
    }
    r->owner = NULL;
    reply_cancel(r);    /* an unanswered earlier caller is released */
    r->caller = caller;
    caller->caller_reply = r;
    block(caller, THREAD_BLOCKED_REPLY);
}

static void deliver_to_receiver(struct tcb *sender, struct tcb *recv, uint64_t badge, bool call,
                                bool grant)
{
    transfer(sender, recv, badge, grant);
    if (call)
        bind_reply(sender, recv);
    else
        recv->recv_reply = NULL;
    sched_make_runnable(recv);
}

void ipc_send(struct tcb *sender, struct cte *ep_slot, bool call, bool blocking)
{
    struct endpoint *ep = endpoint_of(&ep_slot->cap);
    uint64_t badge = ep_slot->cap.data;
    bool grant = cap_has_rights(&ep_slot->cap, HV_RIGHT_GRANT);

    if (ep->state == EP_RECEIVERS) {
        struct tcb *recv = ep->head;
        endpoint_dequeue(ep, recv);
        if (recv->recv_reply != NULL)
            recv->recv_reply->owner = NULL;
        deliver_to_receiver(sender, recv, badge, call, grant);
        if (!call)
            ipc_set_result(sender, HV_OK);
        return;
    }
    if (!blocking) {
        ipc_set_result(sender, HV_OK);  /* nobody listening: dropped, by definition */
        return;
    }
    sender->send_badge = badge;
    sender->flags = (sender->flags & TCB_FLAG_FAULT) | (call ? TCB_FLAG_CALL : 0u) |
                    (grant ? TCB_FLAG_GRANT : 0u);
    block(sender, THREAD_BLOCKED_SEND);
    endpoint_enqueue(ep, sender, EP_SENDERS);
}

void ipc_send_fault(struct tcb *t, struct cte *fault_ep_slot)
{
    t->flags = TCB_FLAG_FAULT;
    ipc_send(t, fault_ep_slot, true, true);
}

void ipc_recv(struct tcb *receiver, struct cte *ep_slot, struct cte *reply_slot)
{
    struct reply *r = reply_slot != NULL ? reply_of(&reply_slot->cap) : NULL;
    struct notification *bound = receiver->bound_ntfn;

    uint64_t bits;
    if (bound != NULL && notification_take(bound, &bits)) {
        ipc_complete_wait(receiver, bits);
        return;
    }
    struct endpoint *ep = endpoint_of(&ep_slot->cap);
    if (ep->state == EP_SENDERS) {
        struct tcb *s = ep->head;
        endpoint_dequeue(ep, s);
        bool call = (s->flags & TCB_FLAG_CALL) != 0;
        transfer(s, receiver, s->send_badge, (s->flags & TCB_FLAG_GRANT) != 0);
        receiver->recv_reply = r;
        if (call) {
            bind_reply(s, receiver);
        } else {
            receiver->recv_reply = NULL;
            s->flags = 0;
            ipc_set_result(s, HV_OK);
            sched_make_runnable(s);
        }
        sched_make_runnable(receiver);
        return;
    }
    if (r != NULL) {
        if (r->owner != NULL && r->owner != receiver)
            r->owner->recv_reply = NULL;
        r->owner = receiver;
    }
    receiver->recv_reply = r;
    block(receiver, THREAD_BLOCKED_RECV);
    endpoint_enqueue(ep, receiver, EP_RECEIVERS);
}

/* The handler's answer to a fault: resume (maybe with new registers) or stop. */
static void complete_fault(struct tcb *replier, struct tcb *faulted)
{
    uint64_t tag = replier->ctx.rsi;
    bool vm_exit = faulted->fault_label == HV_FAULT_VM_EXIT;
    faulted->fault_label = 0;
    faulted->flags = 0;
    if (hv_tag_label(tag) != HV_FAULT_RESUME) {
        ipc_stop_faulted(faulted);
        return;
    }
    unsigned len = hv_tag_length(tag);
    if (vm_exit) {
        /* HV_VCPU_REPLY_RESUME: the state groups named in the reply's mtd word are written. */
        const struct hv_ipc_buffer *rbuf = tcb_ipc_buffer(replier);
        if (rbuf != NULL && len >= HV_VCPU_STATE_WORD + HV_VCPU_STATE_WORDS)
            vcpu_exit_reply_state(faulted, &rbuf->msg[HV_VCPU_STATE_WORD]);
        sched_make_runnable(faulted);
        return;
    }
    if (len >= 2) {
        faulted->ctx.rip = replier->ctx.rdx;
        faulted->ctx.rsp = replier->ctx.r8;
    }
    if (len >= 3)
        faulted->ctx.rax = replier->ctx.r9;
    sched_make_runnable(faulted);
}

void ipc_reply(struct tcb *replier, struct cte *reply_slot)
{
    struct reply *r = reply_of(&reply_slot->cap);
    struct tcb *caller = r->caller;
    if (caller == NULL)
        return;     /* nothing to answer: not an error (the caller may have been cancelled) */
    r->caller = NULL;
    caller->caller_reply = NULL;
    if (caller->fault_label != 0) {
        complete_fault(replier, caller);
        return;
    }
    caller->flags = 0;
    transfer(replier, caller, 0, false);
    sched_make_runnable(caller);
}
