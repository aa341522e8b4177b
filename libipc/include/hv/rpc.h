/* SPDX-License-Identifier: MIT */
/* rpc: typed calls over endpoints: a nanopb request out, a nanopb reply back, through the core. */
#ifndef HV_LIBIPC_RPC_H
#define HV_LIBIPC_RPC_H

#include <stddef.h>
#include <stdint.h>

#include <pb.h>

#include "hv/ipc_buffer.h"
#include "hv/ipc_codec.h"
#include "hv/syscall.h"

/*
 * On the wire (see ipc_codec.h for the words of an encoded message):
 *
 *   request   tag label = the caller's label (not interpreted by hv_rpc_serve), length =
 *             the encoded words; words 0..3 in registers, words 4.. in the IPC buffer.
 *   reply     label HV_RPC_REPLY_OK: the encoded response, laid out as the request.
 *             label HV_RPC_REPLY_ERROR: 2 words, word 0 = enum hv_rpc_reason, word 1 = a
 *             detail (the handler's code for HV_RPC_R_HANDLER, else 0).
 *
 * The code is freestanding (memcpy / memset only) and uses no allocation: the server
 * decodes into buffers its caller provides.
 */

_Static_assert(HV_IPC_MAX_WORDS == HV_MSG_MAX_WORDS, "one encoded message is one IPC message");

#define HV_RPC_REPLY_OK 0u
#define HV_RPC_REPLY_ERROR 0xe77u

/* Why a server refused a request (word 0 of an HV_RPC_REPLY_ERROR reply). */
enum hv_rpc_reason {
    HV_RPC_R_NONE = 0,
    HV_RPC_R_LENGTH = 1,        /* no words, or the length word exceeds the words received */
    HV_RPC_R_UNKNOWN_MSGID = 2, /* no handler for the request's type id */
    HV_RPC_R_DECODE = 3,        /* nanopb rejected the request's bytes */
    HV_RPC_R_HANDLER = 4,       /* the handler failed; word 1 = its (nonzero) code */
    HV_RPC_R_ENCODE = 5,        /* the handler's response does not encode into one message */
};

/* hv_rpc_call's result; details in the connection's last_* fields. */
enum hv_rpc_status {
    HV_RPC_OK = 0,
    HV_RPC_E_ENCODE,    /* the request does not encode (last_detail = enum hv_ipc_status) */
    HV_RPC_E_CORE,      /* the core refused the call (last_detail = enum hv_error from rax) */
    HV_RPC_E_SERVER,    /* an HV_RPC_REPLY_ERROR reply (last_reason, last_detail = its words) */
    HV_RPC_E_REPLY,     /* the reply is not a valid response: unknown label, or it does not
                           decode as the expected type (last_detail = enum hv_ipc_status,
                           or HV_IPC_OK for a bad label) */
};

/* A client's end: an endpoint cap (with GRANT_REPLY) and the calling thread's IPC buffer. */
struct hv_rpc_conn {
    uint64_t ep;
    struct hv_ipc_buffer *buf;
    /* Set by every hv_rpc_call. */
    uint64_t last_reason;   /* enum hv_rpc_reason of an error reply, else HV_RPC_R_NONE */
    uint64_t last_detail;   /* see enum hv_rpc_status */
};

/*
 * Encodes `req` (type id req_msgid, described by req_fields), calls c->ep with `label`
 * and decodes the reply into `resp` (resp_msgid / resp_fields). Returns enum
 * hv_rpc_status; on any error `resp` holds the empty message.
 */
int hv_rpc_call(struct hv_rpc_conn *c, uint32_t label, const pb_msgdesc_t *req_fields,
                uint32_t req_msgid, const void *req, const pb_msgdesc_t *resp_fields,
                uint32_t resp_msgid, void *resp);

/*
 * HV_RPC_CLIENT_STUB(echo_call, 1, hv_ipc_test_Probe, hv_ipc_test_Probe) defines
 *   static inline int echo_call(struct hv_rpc_conn *c, const hv_ipc_test_Probe *req,
 *                               hv_ipc_test_Probe *resp);
 * (both types need a msgid option).
 */
#define HV_RPC_CLIENT_STUB(fn_name, label, ReqType, RespType)                                \
    /* NOLINTNEXTLINE(bugprone-macro-parentheses): type names, not expressions */          \
    static inline int fn_name(struct hv_rpc_conn *c, const ReqType *req, RespType *resp)     \
    {                                                                                        \
        return hv_rpc_call(c, (uint32_t)(label), ReqType##_fields, (uint32_t)(ReqType##_msgid), \
                           req, RespType##_fields, (uint32_t)(RespType##_msgid), resp);      \
    }

/*
 * A handler: `req` is decoded, `resp` holds the empty response. Returns 0 to send the
 * response, or a nonzero code to send an HV_RPC_R_HANDLER error reply carrying it.
 * `badge` is the caller's badge.
 */
typedef int (*hv_rpc_handler_fn)(void *ctx, uint64_t badge, const void *req, void *resp);

struct hv_rpc_method {
    uint32_t req_msgid;
    const pb_msgdesc_t *req_fields;
    size_t req_size;        /* sizeof the request struct */
    uint32_t resp_msgid;
    const pb_msgdesc_t *resp_fields;
    size_t resp_size;       /* sizeof the response struct */
    hv_rpc_handler_fn handler;
};

/* HV_RPC_METHOD(hv_ipc_test_Probe, hv_ipc_test_Probe, on_probe): one dispatch table entry. */
#define HV_RPC_METHOD(ReqType, RespType, fn)                                               \
    {                                                                                      \
        (uint32_t)(ReqType##_msgid), ReqType##_fields, sizeof(ReqType),                    \
            (uint32_t)(RespType##_msgid), RespType##_fields, sizeof(RespType), (fn)        \
    }

struct hv_rpc_server {
    uint64_t ep;                /* endpoint cap to receive on (READ) */
    uint64_t reply;             /* a Reply object cap */
    struct hv_ipc_buffer *buf;  /* the serving thread's IPC buffer */
    const struct hv_rpc_method *methods;
    size_t method_count;
    void *req_buf;              /* room for the largest request struct */
    size_t req_buf_size;
    void *resp_buf;             /* room for the largest response struct */
    size_t resp_buf_size;
    void *ctx;                  /* handed to every handler */
};

/*
 * Serves requests on srv->ep forever: each is dispatched on its type id, decoded into
 * req_buf, handed to the method's handler and answered (a response, or an error reply
 * for a request that does not decode, has no method or whose handler fails). Returns
 * only if the setup is unusable: HV_ERR_INVALID_ARGUMENT (a method's struct does not fit
 * its buffer, a NULL pointer) or the core's error from a plain receive.
 */
uint64_t hv_rpc_serve(const struct hv_rpc_server *srv);

#endif
