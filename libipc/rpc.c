/* SPDX-License-Identifier: MIT */
/* rpc: hv_rpc_call and hv_rpc_serve: nanopb messages in message registers + IPC buffer, over call / reply_recv. */
#include "hv/rpc.h"

#include <string.h>

#include "hv/errors.h"

/* Words 0..3 of an encoded message into the registers, words 4.. into the IPC buffer. */
static void put_words(struct hv_msg *m, struct hv_ipc_buffer *buf, const uint64_t *words,
                      size_t n)
{
    for (size_t i = 0; i < HV_MSG_REG_WORDS; i++)
        m->w[i] = i < n ? words[i] : 0;
    if (n > HV_MSG_REG_WORDS)
        memcpy(&buf->msg[HV_MSG_REG_WORDS], &words[HV_MSG_REG_WORDS],
               (n - HV_MSG_REG_WORDS) * sizeof(uint64_t));
}

/* The words of a received message (at most HV_IPC_MAX_WORDS); returns how many. */
static size_t get_words(const struct hv_msg *m, const struct hv_ipc_buffer *buf,
                        uint64_t *words)
{
    size_t n = hv_tag_length(m->tag);
    if (n > HV_IPC_MAX_WORDS)
        n = HV_IPC_MAX_WORDS;
    for (size_t i = 0; i < n && i < HV_MSG_REG_WORDS; i++)
        words[i] = m->w[i];
    if (n > HV_MSG_REG_WORDS)
        memcpy(&words[HV_MSG_REG_WORDS], &buf->msg[HV_MSG_REG_WORDS],
               (n - HV_MSG_REG_WORDS) * sizeof(uint64_t));
    return n;
}

int hv_rpc_call(struct hv_rpc_conn *c, uint32_t label, const pb_msgdesc_t *req_fields,
                uint32_t req_msgid, const void *req, const pb_msgdesc_t *resp_fields,
                uint32_t resp_msgid, void *resp)
{
    uint64_t words[HV_IPC_MAX_WORDS];
    size_t n = 0;
    c->last_reason = HV_RPC_R_NONE;
    c->last_detail = 0;

    enum hv_ipc_status st = hv_ipc_encode(words, &n, req_msgid, req_fields, req, NULL);
    if (st != HV_IPC_OK) {
        c->last_detail = st;
        hv_ipc_reset(resp_fields, resp);
        return HV_RPC_E_ENCODE;
    }
    struct hv_msg m;
    m.tag = hv_tag(label, (unsigned)n, 0);
    m.badge = 0;
    put_words(&m, c->buf, words, n);

    uint64_t err = hv_call(c->ep, &m);
    if (err != HV_OK) {
        c->last_detail = err;
        hv_ipc_reset(resp_fields, resp);
        return HV_RPC_E_CORE;
    }

    size_t got = get_words(&m, c->buf, words);
    uint64_t reply_label = hv_tag_label(m.tag);
    if (reply_label == HV_RPC_REPLY_ERROR) {
        c->last_reason = got >= 1 ? words[0] : HV_RPC_R_NONE;
        c->last_detail = got >= 2 ? words[1] : 0;
        hv_ipc_reset(resp_fields, resp);
        return HV_RPC_E_SERVER;
    }
    if (reply_label != HV_RPC_REPLY_OK) {
        c->last_detail = HV_IPC_OK;
        hv_ipc_reset(resp_fields, resp);
        return HV_RPC_E_REPLY;
    }
    st = hv_ipc_decode(words, got, resp_msgid, resp_fields, resp, NULL);
    if (st != HV_IPC_OK) {
        c->last_detail = st;
        return HV_RPC_E_REPLY;
    }
    return HV_RPC_OK;
}

static const struct hv_rpc_method *find_method(const struct hv_rpc_server *srv, uint32_t msgid)
{
    for (size_t i = 0; i < srv->method_count; i++) {
        if (srv->methods[i].req_msgid == msgid)
            return &srv->methods[i];
    }
    return NULL;
}

static void error_reply(struct hv_msg *m, enum hv_rpc_reason reason, uint64_t detail)
{
    m->tag = hv_tag(HV_RPC_REPLY_ERROR, 2, 0);
    m->w[0] = reason;
    m->w[1] = detail;
    m->w[2] = 0;
    m->w[3] = 0;
}

/* Turns the request in *m into its reply in *m (and the IPC buffer). */
static void handle_one(const struct hv_rpc_server *srv, struct hv_msg *m)
{
    uint64_t words[HV_IPC_MAX_WORDS];
    size_t n = get_words(m, srv->buf, words);
    if (n == 0 || hv_tag_length(m->tag) > HV_IPC_MAX_WORDS) {
        error_reply(m, HV_RPC_R_LENGTH, 0);
        return;
    }
    const struct hv_rpc_method *method = find_method(srv, hv_ipc_type_of(words[0]));
    if (method == NULL) {
        error_reply(m, HV_RPC_R_UNKNOWN_MSGID, 0);
        return;
    }
    enum hv_ipc_status st =
        hv_ipc_decode(words, n, method->req_msgid, method->req_fields, srv->req_buf, NULL);
    if (st == HV_IPC_E_LENGTH) {
        error_reply(m, HV_RPC_R_LENGTH, 0);
        return;
    }
    if (st != HV_IPC_OK) {
        error_reply(m, HV_RPC_R_DECODE, 0);
        return;
    }
    hv_ipc_reset(method->resp_fields, srv->resp_buf);
    int code = method->handler(srv->ctx, m->badge, srv->req_buf, srv->resp_buf);
    if (code != 0) {
        error_reply(m, HV_RPC_R_HANDLER, (uint64_t)(int64_t)code);
        return;
    }
    size_t out = 0;
    st = hv_ipc_encode(words, &out, method->resp_msgid, method->resp_fields, srv->resp_buf, NULL);
    if (st != HV_IPC_OK) {
        error_reply(m, HV_RPC_R_ENCODE, st);
        return;
    }
    m->tag = hv_tag(HV_RPC_REPLY_OK, (unsigned)out, 0);
    put_words(m, srv->buf, words, out);
}

static bool server_usable(const struct hv_rpc_server *srv)
{
    if (srv->buf == NULL || srv->req_buf == NULL || srv->resp_buf == NULL ||
        (srv->methods == NULL && srv->method_count != 0))
        return false;
    for (size_t i = 0; i < srv->method_count; i++) {
        const struct hv_rpc_method *mt = &srv->methods[i];
        if (mt->req_fields == NULL || mt->resp_fields == NULL || mt->handler == NULL ||
            mt->req_size > srv->req_buf_size || mt->resp_size > srv->resp_buf_size)
            return false;
    }
    return true;
}

uint64_t hv_rpc_serve(const struct hv_rpc_server *srv)
{
    if (!server_usable(srv))
        return HV_ERR_INVALID_ARGUMENT;
    struct hv_msg m = { 0, 0, { 0, 0, 0, 0 } };
    uint64_t err = hv_recv(srv->ep, srv->reply, &m);
    for (;;) {
        if (err != HV_OK) {
            /* The caller went away (or the reply failed): wait for the next request. */
            err = hv_recv(srv->ep, srv->reply, &m);
            if (err != HV_OK)
                return err;
            continue;
        }
        handle_one(srv, &m);
        err = hv_reply_recv(srv->ep, srv->reply, &m);
    }
}
