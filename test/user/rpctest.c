/* SPDX-License-Identifier: MIT */
/* rpctest: root task of the typed RPC test: libipc's hv_rpc_call / hv_rpc_serve with the ipc_test messages. */
#include "hvu.h"

#include <pb_encode.h>

#include "hv/rpc.h"
#include "ipc_test.pb.h"
#include "lib/kstring.h"

#define PROBE_LABEL 0x51
#define OTHER_LABEL 0x52
#define SERVER_PRIORITY 150u
#define SERVER_BADGE 0x2bull
#define OTHER_FAIL_ID 0xdeadu     /* Other.id the server's handler refuses */
#define OTHER_FAIL_CODE 7
#define FULL_BYTES HV_IPC_MAX_BYTES

static uint64_t ep;             /* the server receives here */
static uint64_t reply_obj;      /* its reply object */
static uint64_t last_badge;     /* the badge the server's last handler saw */

/* --- server ------------------------------------------------------------------------------ */

/* Probe -> Probe: id + 1, delta negated, flag inverted, RED <-> GREEN, name reversed, values ^ 1. */
static int on_probe(void *ctx, uint64_t badge, const void *req_v, void *resp_v)
{
    (void)ctx;
    const hv_ipc_test_Probe *req = req_v;
    hv_ipc_test_Probe *resp = resp_v;
    last_badge = badge;
    resp->id = req->id + 1;
    resp->delta = -req->delta;
    resp->flag = !req->flag;
    resp->color = req->color == hv_ipc_test_Color_COLOR_RED     ? hv_ipc_test_Color_COLOR_GREEN
                  : req->color == hv_ipc_test_Color_COLOR_GREEN ? hv_ipc_test_Color_COLOR_RED
                                                                : req->color;
    size_t len = strlen(req->name);
    for (size_t i = 0; i < len; i++)
        resp->name[i] = req->name[len - 1 - i];
    resp->name[len] = '\0';
    resp->values_count = req->values_count;
    for (pb_size_t i = 0; i < req->values_count; i++)
        resp->values[i] = req->values[i] ^ 1u;
    return 0;
}

/* Other -> Other: id * 3, or a handler error for OTHER_FAIL_ID. */
static int on_other(void *ctx, uint64_t badge, const void *req_v, void *resp_v)
{
    (void)ctx;
    const hv_ipc_test_Other *req = req_v;
    hv_ipc_test_Other *resp = resp_v;
    last_badge = badge;
    if (req->id == OTHER_FAIL_ID)
        return OTHER_FAIL_CODE;
    resp->id = req->id * 3;
    return 0;
}

static const struct hv_rpc_method methods[] = {
    HV_RPC_METHOD(hv_ipc_test_Probe, hv_ipc_test_Probe, on_probe),
    HV_RPC_METHOD(hv_ipc_test_Other, hv_ipc_test_Other, on_other),
};

static union {
    hv_ipc_test_Probe probe;
    hv_ipc_test_Other other;
} req_buf, resp_buf;

static void server(uint64_t arg)
{
    (void)arg;
    const struct hv_rpc_server srv = {
        .ep = ep,
        .reply = reply_obj,
        .buf = hvu_ipc(),
        .methods = methods,
        .method_count = sizeof(methods) / sizeof(methods[0]),
        .req_buf = &req_buf,
        .req_buf_size = sizeof(req_buf),
        .resp_buf = &resp_buf,
        .resp_buf_size = sizeof(resp_buf),
        .ctx = NULL,
    };
    uint64_t err = hv_rpc_serve(&srv);
    hvu_printf("rpctest: server stopped, error %lu\n", err);
}

/* --- client ------------------------------------------------------------------------------ */

/* cppcheck is not given libipc's include path, so it cannot expand these. */
// cppcheck-suppress unknownMacro
HV_RPC_CLIENT_STUB(probe_call, PROBE_LABEL, hv_ipc_test_Probe, hv_ipc_test_Probe)
HV_RPC_CLIENT_STUB(other_call, OTHER_LABEL, hv_ipc_test_Other, hv_ipc_test_Other)

static hv_ipc_test_Probe preq, presp;   /* large: not on the stack */

static size_t probe_size(const hv_ipc_test_Probe *p)
{
    size_t size = 0;
    return pb_get_encoded_size(&size, hv_ipc_test_Probe_fields, p) ? size : 0;
}

/* Every field of resp is on_probe's transformation of req. */
static bool probe_matches(const hv_ipc_test_Probe *req, const hv_ipc_test_Probe *resp)
{
    size_t len = strlen(req->name);
    bool ok = resp->id == req->id + 1 && resp->delta == -req->delta && resp->flag == !req->flag &&
              strlen(resp->name) == len && resp->values_count == req->values_count;
    hv_ipc_test_Color want = req->color == hv_ipc_test_Color_COLOR_RED     ? hv_ipc_test_Color_COLOR_GREEN
                             : req->color == hv_ipc_test_Color_COLOR_GREEN ? hv_ipc_test_Color_COLOR_RED
                                                                           : req->color;
    ok = ok && resp->color == want;
    for (size_t i = 0; ok && i < len; i++)
        ok = resp->name[i] == req->name[len - 1 - i];
    for (pb_size_t i = 0; ok && i < req->values_count; i++)
        ok = resp->values[i] == (req->values[i] ^ 1u);
    return ok;
}

static void test_round_trips(struct hv_rpc_conn *c)
{
    /* Small: every field set, fits the registers. */
    memset(&preq, 0, sizeof(preq));
    preq.id = 41;
    preq.delta = -5;
    preq.flag = true;
    preq.color = hv_ipc_test_Color_COLOR_RED;
    memcpy(preq.name, "abc", 4);
    int r = probe_call(c, &preq, &presp);
    hvu_check(r == HV_RPC_OK && probe_matches(&preq, &presp), "rpc.small_round_trip",
              "status %d detail %lu id %u delta %ld flag %d color %d name %s", r, c->last_detail,
              presp.id, presp.delta, (int)presp.flag, (int)presp.color, presp.name);
    hvu_check(last_badge == SERVER_BADGE, "rpc.badge_to_handler", "badge 0x%lx", last_badge);

    /* Empty message: the encoding is the length word alone. */
    memset(&preq, 0, sizeof(preq));
    r = probe_call(c, &preq, &presp);
    hvu_check(r == HV_RPC_OK && probe_matches(&preq, &presp) && presp.flag, "rpc.empty_request",
              "status %d id %u", r, presp.id);

    /* Medium: through the IPC buffer. */
    memset(&preq, 0, sizeof(preq));
    preq.id = 1000;
    preq.delta = 123456789;
    preq.color = hv_ipc_test_Color_COLOR_GREEN;
    memcpy(preq.name, "the quick brown fox jumps over", 31);
    preq.values_count = 10;
    for (pb_size_t i = 0; i < preq.values_count; i++)
        preq.values[i] = 0x1000u * i + 2;
    r = probe_call(c, &preq, &presp);
    hvu_check(r == HV_RPC_OK && probe_matches(&preq, &presp), "rpc.medium_round_trip",
              "status %d detail %lu size %zu", r, c->last_detail, probe_size(&preq));

    /* Another type on the same endpoint. */
    hv_ipc_test_Other oreq = { 14 }, oresp = { 0 };
    r = other_call(c, &oreq, &oresp);
    hvu_check(r == HV_RPC_OK && oresp.id == 42, "rpc.other_type", "status %d id %u", r, oresp.id);
}

/* A Probe of exactly HV_IPC_MAX_BYTES bytes: all 64 words of a message. */
static void test_full_message(struct hv_rpc_conn *c)
{
    memset(&preq, 0, sizeof(preq));
    preq.id = 1000;
    preq.delta = 5;
    preq.flag = true;
    preq.color = hv_ipc_test_Color_COLOR_RED;
    memcpy(preq.name, "0123456789abcdefghijklmnopqrstu", 32);
    preq.values_count = 64;
    for (pb_size_t i = 0; i < 64; i++)
        preq.values[i] = 2;
    /* Grow values one varint byte at a time (x128) until the encoding is exactly full. */
    for (pb_size_t i = 0; i < 64 && probe_size(&preq) < FULL_BYTES; i++) {
        while (preq.values[i] < (1ull << 56) && probe_size(&preq) < FULL_BYTES) {
            preq.values[i] <<= 7;
            if (probe_size(&preq) > FULL_BYTES) {
                preq.values[i] >>= 7;
                break;
            }
        }
    }
    size_t size = probe_size(&preq);
    uint64_t words[HV_IPC_MAX_WORDS];
    size_t n = 0;
    enum hv_ipc_status st = HV_IPC_ENCODE(words, &n, hv_ipc_test_Probe, &preq, NULL);
    hvu_check(size == FULL_BYTES && st == HV_IPC_OK && n == HV_IPC_MAX_WORDS, "rpc.full_request_built",
              "size %zu status %d words %zu", size, (int)st, n);

    memset(c->buf->msg, 0, sizeof(c->buf->msg));
    int r = probe_call(c, &preq, &presp);
    hvu_check(r == HV_RPC_OK && probe_matches(&preq, &presp), "rpc.full_64_word_round_trip",
              "status %d reason %lu detail %lu", r, c->last_reason, c->last_detail);

    /* One byte more does not fit (values[0] was at most 9 varint bytes): refused before the call. */
    preq.values[0] = ~0ull;
    r = probe_call(c, &preq, &presp);
    hvu_check(r == HV_RPC_E_ENCODE && c->last_detail == HV_IPC_E_TOO_LARGE, "rpc.too_large_refused",
              "status %d detail %lu", r, c->last_detail);
}

/* Sends raw words with plain hv_call; returns the core's error, the reply in *m. */
static uint64_t raw_call(uint64_t cap, unsigned len, const uint64_t *words, struct hv_msg *m)
{
    struct hv_ipc_buffer *buf = hvu_ipc();
    *m = (struct hv_msg){ hv_tag(PROBE_LABEL, len, 0), 0, { 0, 0, 0, 0 } };
    for (unsigned i = 0; i < len; i++) {
        if (i < HV_MSG_REG_WORDS)
            m->w[i] = words[i];
        else
            buf->msg[i] = words[i];
    }
    return hv_call(cap, m);
}

static void check_error_reply(uint64_t cap, const char *name, unsigned len, const uint64_t *words,
                              uint64_t reason)
{
    struct hv_msg m;
    uint64_t err = raw_call(cap, len, words, &m);
    hvu_check(err == HV_OK && hv_tag_label(m.tag) == HV_RPC_REPLY_ERROR && hv_tag_length(m.tag) == 2 &&
                  m.w[0] == reason,
              name, "err %lu label 0x%lx len %u reason %lu (want %lu)", err, hv_tag_label(m.tag),
              hv_tag_length(m.tag), m.w[0], reason);
}

static void test_malformed(struct hv_rpc_conn *c)
{
    const uint64_t probe_id = (uint64_t)hv_ipc_test_Probe_msgid << HV_IPC_TYPE_SHIFT;
    const uint64_t ones = ~0ull;

    /* Garbage bytes: a varint longer than 10 bytes. */
    uint64_t garbage[3] = { probe_id | 16, ones, ones };
    check_error_reply(c->ep, "rpc.garbage_rejected", 3, garbage, HV_RPC_R_DECODE);

    /* A wrong field type for a known field: field 1 (id) as a fixed64. */
    uint64_t wrong_wire[2] = { probe_id | 2, 0x0109u };
    check_error_reply(c->ep, "rpc.truncated_field_rejected", 2, wrong_wire, HV_RPC_R_DECODE);

    /* A type id the server has no method for (ProbeWide), and one nobody uses. */
    uint64_t words[HV_IPC_MAX_WORDS];
    size_t n = 0;
    memset(&preq, 0, sizeof(preq));
    preq.id = 3;
    (void)HV_IPC_ENCODE(words, &n, hv_ipc_test_Probe, &preq, NULL);
    words[0] = ((uint64_t)hv_ipc_test_ProbeWide_msgid << HV_IPC_TYPE_SHIFT) | (words[0] & HV_IPC_LEN_MASK);
    check_error_reply(c->ep, "rpc.wrong_msgid_rejected", (unsigned)n, words, HV_RPC_R_UNKNOWN_MSGID);
    uint64_t unknown[1] = { 0x12345678ull << HV_IPC_TYPE_SHIFT };
    check_error_reply(c->ep, "rpc.unknown_msgid_rejected", 1, unknown, HV_RPC_R_UNKNOWN_MSGID);

    /* Length word larger than the message: 100 bytes claimed, 8 sent. */
    uint64_t too_long[2] = { probe_id | 100, 0x0308u };
    check_error_reply(c->ep, "rpc.length_beyond_message_rejected", 2, too_long, HV_RPC_R_LENGTH);
    /* Just one byte too many: 9 bytes claimed in 1 word. */
    uint64_t one_over[2] = { probe_id | 9, 0x0308u };
    check_error_reply(c->ep, "rpc.length_one_over_rejected", 2, one_over, HV_RPC_R_LENGTH);
    /* No words at all. */
    check_error_reply(c->ep, "rpc.empty_message_rejected", 0, NULL, HV_RPC_R_LENGTH);

    /* The handler's own refusal, through the typed stub. */
    hv_ipc_test_Other oreq = { OTHER_FAIL_ID }, oresp = { 99 };
    int r = other_call(c, &oreq, &oresp);
    hvu_check(r == HV_RPC_E_SERVER && c->last_reason == HV_RPC_R_HANDLER && c->last_detail == OTHER_FAIL_CODE &&
                  oresp.id == 0,
              "rpc.handler_error_reply", "status %d reason %lu detail %lu id %u", r, c->last_reason,
              c->last_detail, oresp.id);

    /* A reply of another type than the stub expects: decode failure on the client. */
    oreq.id = 4;
    r = hv_rpc_call(c, PROBE_LABEL, hv_ipc_test_Other_fields, hv_ipc_test_Other_msgid, &oreq,
                    hv_ipc_test_Probe_fields, hv_ipc_test_Probe_msgid, &presp);
    hvu_check(r == HV_RPC_E_REPLY && c->last_detail == HV_IPC_E_TYPE, "rpc.reply_decode_failure",
              "status %d detail %lu", r, c->last_detail);

    /* The server kept serving. */
    memset(&preq, 0, sizeof(preq));
    preq.id = 77;
    preq.delta = 9;
    preq.color = hv_ipc_test_Color_COLOR_GREEN;
    memcpy(preq.name, "still", 6);
    preq.values_count = 3;
    preq.values[0] = 10;
    preq.values[1] = 1ull << 40;
    preq.values[2] = ~0ull;
    r = probe_call(c, &preq, &presp);
    hvu_check(r == HV_RPC_OK && probe_matches(&preq, &presp), "rpc.served_after_malformed",
              "status %d reason %lu detail %lu", r, c->last_reason, c->last_detail);
}

static void test_core_error(void)
{
    struct hv_rpc_conn bad = { hvu_alloc_slot(), hvu_ipc(), 0, 0 };
    hv_ipc_test_Other oreq = { 1 }, oresp = { 5 };
    int r = other_call(&bad, &oreq, &oresp);
    hvu_check(r == HV_RPC_E_CORE && bad.last_detail == HV_ERR_EMPTY_SLOT && oresp.id == 0, "rpc.core_error",
              "status %d detail %lu", r, bad.last_detail);
}

void user_main(const struct hv_bootinfo *bi);

void user_main(const struct hv_bootinfo *bi)
{
    hvu_init(bi);
    hvu_printf("rpctest: root task running\n");
    uint64_t err;
    ep = hvu_retype(HV_OBJ_ENDPOINT, 0, &err);
    hvu_check(ep != 0, "rpc.endpoint", "error %lu", err);
    reply_obj = hvu_retype(HV_OBJ_REPLY, 0, &err);
    hvu_check(reply_obj != 0, "rpc.reply_object", "error %lu", err);
    struct hvu_thread t;
    err = hvu_thread_start(&t, server, 0, SERVER_PRIORITY, 0, 5000, 10000);
    hvu_check(err == HV_OK, "rpc.server_started", "error %lu", err);
    uint64_t client_ep;
    err = hvu_mint(ep, HV_RIGHT_WRITE | HV_RIGHT_GRANT_REPLY, SERVER_BADGE, &client_ep);
    hvu_check(err == HV_OK, "rpc.client_cap", "error %lu", err);

    struct hv_rpc_conn conn = { client_ep, hvu_ipc(), 0, 0 };
    test_round_trips(&conn);
    test_full_message(&conn);
    test_malformed(&conn);
    test_core_error();
    hvu_finish();
}
