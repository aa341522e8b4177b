/* SPDX-License-Identifier: MIT */
/* ipcfast: root task checking that the IPC fast path and the general path give the same results. */
#include "hvu.h"
#include "hvu_bench.h"

#include "lib/kstring.h"

/*
 * The same checks run twice: in `ipcfast` with the core's fast path on, and in
 * `ipcfast_general` with `fastpath=off` on the command line, where every IPC takes the
 * general path. Every expected value is written out here, so both runs must agree with
 * them, hence with each other. Within one run the boundaries are crossed both ways:
 * 4 words (fast) against 5 (general), a caps field the general path ignores (no GRANT)
 * against a real transfer, a reply object deleted, a fault answered with reply_recv, a
 * receiver the scheduler must not run first, a receiver on another CPU. The relative cost
 * of 4- and 5-word round trips is printed, not checked.
 */

#define SERVER_PRIORITY 200u
#define ROOT_PRIORITY 128u      /* the root task's */
#define BADGE 0x77u
#define OP_ECHO 0x10u           /* reply: label + 1, same length, every word + 1 */
#define OP_DELETE_REPLY 0x20u   /* delete the reply object, take a new one, receive again */
#define SENTINEL(i) (0x5e5e0000u + (i))     /* the server's registers when it receives */
#define BATCHES 50u
#define PER 50u

struct seen {
    uint64_t err, tag, badge, w[HV_MSG_REG_WORDS], w4, recv_caps, count;
};

struct server {
    uint64_t ep;
    uint64_t reply;
    uint64_t recv_slot;         /* where a transferred cap lands */
    char name;                  /* written to the order log at each receive */
    volatile struct seen seen;
};

static char order[16];
static volatile unsigned order_len;

static void log_order(char c)
{
    if (order_len + 1 < sizeof(order))
        order[order_len++] = c;
    order[order_len] = '\0';
}

/* Echo server: records what each receive delivered, then answers (see OP_*). */
static void server_main(uint64_t arg)
{
    struct server *s = (struct server *)(uintptr_t)arg;
    struct hv_ipc_buffer *buf = hvu_ipc();
    buf->recv_cnode = HV_ROOT_CNODE;
    buf->recv_index = s->recv_slot;
    buf->recv_depth = 64;
    struct hv_msg m = { 0, 0, { SENTINEL(0), SENTINEL(1), SENTINEL(2), SENTINEL(3) } };
    uint64_t err = hv_recv(s->ep, s->reply, &m);
    for (;;) {
        s->seen.err = err;
        s->seen.tag = m.tag;
        s->seen.badge = m.badge;
        for (unsigned i = 0; i < HV_MSG_REG_WORDS; i++)
            s->seen.w[i] = m.w[i];
        s->seen.w4 = buf->msg[4];
        s->seen.recv_caps = buf->recv_caps;
        s->seen.count++;
        log_order(s->name);
        unsigned len = hv_tag_length(m.tag);
        if (hv_tag_label(m.tag) == OP_DELETE_REPLY) {
            uint64_t e;
            (void)hvu_delete(s->reply);
            s->reply = hvu_retype(HV_OBJ_REPLY, 0, &e);
            m = (struct hv_msg){ 0, 0, { SENTINEL(0), SENTINEL(1), SENTINEL(2), SENTINEL(3) } };
            err = hv_recv(s->ep, s->reply, &m);
            continue;
        }
        for (unsigned i = 0; i < HV_MSG_REG_WORDS; i++)
            m.w[i] = i < len ? m.w[i] + 1 : SENTINEL(i);
        for (unsigned i = HV_MSG_REG_WORDS; i < len && i < HV_MSG_MAX_WORDS; i++)
            buf->msg[i] += 1;
        m.tag = hv_tag(hv_tag_label(m.tag) + 1, len, 0);
        err = hv_reply_recv(s->ep, s->reply, &m);
    }
}

static uint64_t start_server(struct server *s, char name, unsigned priority, struct hvu_thread *t)
{
    uint64_t err;
    s->ep = hvu_retype(HV_OBJ_ENDPOINT, 0, &err);
    s->reply = hvu_retype(HV_OBJ_REPLY, 0, &err);
    s->recv_slot = hvu_alloc_slot();
    s->name = name;
    if (s->ep == 0 || s->reply == 0)
        return err;
    return hvu_thread_start(t, server_main, (uint64_t)(uintptr_t)s, priority, 0, 10000, 10000);
}

static bool words_are(const volatile uint64_t *w, uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    return w[0] == a && w[1] == b && w[2] == c && w[3] == d;
}

/* ---- messages: what both sides see ---- */

static struct server echo;
static uint64_t plain_cap;      /* badged, WRITE only: no GRANT */
static uint64_t grant_cap;      /* badged, WRITE | GRANT */

/* A 4-word call: the client's reply and the server's view, as the general path defines them. */
static void check_4_words(const char *name, uint64_t cap, unsigned caps_field)
{
    struct hv_msg m = { hv_tag(OP_ECHO, 4, caps_field), 0, { 1, 2, 3, 4 } };
    uint64_t err = hv_call(cap, &m);
    const volatile struct seen *s = &echo.seen;
    bool client_ok = err == HV_OK && m.tag == hv_tag(OP_ECHO + 1, 4, 0) && m.badge == 0 &&
                     words_are(m.w, 2, 3, 4, 5);
    bool server_ok = s->err == HV_OK && s->tag == hv_tag(OP_ECHO, 4, 0) && s->badge == BADGE &&
                     words_are(s->w, 1, 2, 3, 4) && s->recv_caps == 0;
    hvu_check(client_ok && server_ok, name,
              "client err %lu tag 0x%lx badge %lu w %lu %lu %lu %lu; server err %lu tag 0x%lx badge %lu "
              "w %lu %lu %lu %lu caps %lu",
              err, m.tag, m.badge, m.w[0], m.w[1], m.w[2], m.w[3], s->err, s->tag, s->badge, s->w[0], s->w[1],
              s->w[2], s->w[3], s->recv_caps);
}

static void test_messages(void)
{
    /* 4 words, no caps: the fast path's case. */
    check_4_words("ipcfast.call_4_words", plain_cap, 0);
    /* A caps field through a cap without GRANT: general path, nothing crosses, same result. */
    check_4_words("ipcfast.caps_field_without_grant_same_result", plain_cap, 1);

    /* 5 words: the fifth travels in the IPC buffers (general path both ways). */
    hvu_ipc()->msg[4] = 5;
    struct hv_msg m = { hv_tag(OP_ECHO, 5, 0), 0, { 1, 2, 3, 4 } };
    uint64_t err = hv_call(plain_cap, &m);
    const volatile struct seen *s = &echo.seen;
    hvu_check(err == HV_OK && m.tag == hv_tag(OP_ECHO + 1, 5, 0) && words_are(m.w, 2, 3, 4, 5) &&
                  hvu_ipc()->msg[4] == 6 && s->tag == hv_tag(OP_ECHO, 5, 0) && words_are(s->w, 1, 2, 3, 4) &&
                  s->w4 == 5 && s->badge == BADGE,
              "ipcfast.call_5_words", "err %lu tag 0x%lx w4 %lu; server tag 0x%lx w4 %lu", err, m.tag,
              hvu_ipc()->msg[4], s->tag, s->w4);

    /*
     * 2 words: only those are written; the other registers keep what they held, both
     * sides: the client's its own words, the server's those of its last reply (2 3 4 5).
     */
    m = (struct hv_msg){ hv_tag(OP_ECHO, 2, 0), 0, { 1, 2, 0xc3, 0xc4 } };
    err = hv_call(plain_cap, &m);
    hvu_check(err == HV_OK && m.tag == hv_tag(OP_ECHO + 1, 2, 0) && words_are(m.w, 2, 3, 0xc3, 0xc4) &&
                  s->tag == hv_tag(OP_ECHO, 2, 0) && words_are(s->w, 1, 2, 4, 5),
              "ipcfast.short_message_leaves_other_registers",
              "err %lu tag 0x%lx w %lx %lx %lx %lx; server w %lx %lx %lx %lx", err, m.tag, m.w[0], m.w[1], m.w[2],
              m.w[3], s->w[0], s->w[1], s->w[2], s->w[3]);

    /* 0 words (the server's registers: its last reply, padded with sentinels); reserved tag bits cleared. */
    m = (struct hv_msg){ hv_tag(OP_ECHO, 0, 0) | 0x5u, 0, { 0xa1, 0xa2, 0xa3, 0xa4 } };
    err = hv_call(plain_cap, &m);
    hvu_check(err == HV_OK && m.tag == hv_tag(OP_ECHO + 1, 0, 0) && words_are(m.w, 0xa1, 0xa2, 0xa3, 0xa4) &&
                  s->tag == hv_tag(OP_ECHO, 0, 0) &&
                  words_are(s->w, 2, 3, SENTINEL(2), SENTINEL(3)),
              "ipcfast.empty_message_and_reserved_tag_bits", "err %lu tag 0x%lx; server tag 0x%lx w0 %lx", err,
              m.tag, s->tag, s->w[0]);

    /* A capability crosses (general path); the next fast call reports no cap received again. */
    uint64_t gift = hvu_retype(HV_OBJ_NOTIFICATION, 0, &err);
    hvu_ipc()->send_caps[0] = gift;
    m = (struct hv_msg){ hv_tag(OP_ECHO, 1, 1), 0, { 7, 0, 0, 0 } };
    err = hv_call(grant_cap, &m);
    uint64_t transferred_caps = s->recv_caps, transferred_tag = s->tag;
    uint64_t serr = hv_signal(echo.recv_slot);
    hvu_check(err == HV_OK && transferred_caps == 1 && transferred_tag == hv_tag(OP_ECHO, 1, 1) && serr == HV_OK,
              "ipcfast.cap_transfer_takes_general_path", "err %lu caps %lu tag 0x%lx signal %lu", err,
              transferred_caps, transferred_tag, serr);
    check_4_words("ipcfast.recv_caps_reset_after_transfer", plain_cap, 0);
    (void)hvu_delete(echo.recv_slot);
}

/* ---- replies ---- */

static void test_deleted_reply(void)
{
    uint64_t before = echo.seen.count;
    struct hv_msg m = { hv_tag(OP_DELETE_REPLY, 4, 0), 0, { 1, 2, 3, 4 } };
    uint64_t err = hv_call(plain_cap, &m);
    hvu_check(err == HV_ERR_CANCELLED && m.tag == 0 && echo.seen.count == before + 1,
              "ipcfast.deleted_reply_cancels_call", "err %lu tag 0x%lx served %lu", err, m.tag,
              echo.seen.count - before);
    /* The server waits again with a new reply object: the fast path serves it. */
    check_4_words("ipcfast.call_after_new_reply_object", plain_cap, 0);
}

/* A fault answered with reply_recv (2 words: new rip and rsp) must resume, not deliver words. */
static uint64_t fault_ep, fault_reply;
static volatile uint64_t fault_label_seen, fault_vector_seen, fault_badge_seen, resumed;

static void fault_handler(uint64_t arg)
{
    (void)arg;
    struct hv_msg m = { 0, 0, { 0, 0, 0, 0 } };
    uint64_t err = hv_recv(fault_ep, fault_reply, &m);
    for (;;) {
        fault_label_seen = err == HV_OK ? hv_tag_label(m.tag) : 0xdead;
        fault_vector_seen = m.w[0];
        fault_badge_seen = m.badge;
        uint64_t rip = m.w[2], rsp = m.w[3];
        m = (struct hv_msg){ hv_tag(HV_FAULT_RESUME, 2, 0), 0, { rip + 2, rsp, 0, 0 } };   /* past ud2 */
        err = hv_reply_recv(fault_ep, fault_reply, &m);
    }
}

static uint64_t park;    /* a notification nobody signals */

static void faulter(uint64_t arg)
{
    (void)arg;
    __asm__ volatile("ud2" ::: "memory");
    resumed = 1;
    for (;;) {
        uint64_t bits;
        (void)hv_wait(park, &bits);
    }
}

static void test_fault_reply(void)
{
    uint64_t err;
    fault_ep = hvu_retype(HV_OBJ_ENDPOINT, 0, &err);
    fault_reply = hvu_retype(HV_OBJ_REPLY, 0, &err);
    park = hvu_retype(HV_OBJ_NOTIFICATION, 0, &err);
    uint64_t badged;
    (void)hvu_mint(fault_ep, HV_RIGHT_WRITE | HV_RIGHT_GRANT_REPLY, 0x99, &badged);
    struct hvu_thread h, f;
    err = hvu_thread_start(&h, fault_handler, 0, 150, 0, 10000, 10000);
    /* Both above the root: fault, reply and resume are over when the start returns. */
    uint64_t ferr = hvu_thread_start(&f, faulter, 0, 140, badged, 10000, 10000);
    hvu_check(err == HV_OK && ferr == HV_OK && fault_label_seen == HV_FAULT_EXCEPTION && fault_vector_seen == 6 &&
                  fault_badge_seen == 0x99 && resumed == 1,
              "ipcfast.fault_reply_resumes", "start %lu/%lu label %lu vector %lu badge 0x%lx resumed %lu", err, ferr,
              fault_label_seen, fault_vector_seen, fault_badge_seen, resumed);
}

/* ---- scheduling: the receiver runs first only if the scheduler would pick it ---- */

static uint64_t go;             /* notification the spinner waits on */

static void waiter(uint64_t arg)
{
    (void)arg;
    for (;;) {
        uint64_t bits;
        (void)hv_wait(go, &bits);
        log_order('W');
    }
}

/* The root wakes the waiter (below it), then calls server `s`: the order they run in is logged. */
static void check_order(const char *name, struct server *s, const char *expected)
{
    order_len = 0;
    order[0] = '\0';
    (void)hv_signal(go);        /* the waiter is runnable now, below the root */
    struct hv_msg m = { hv_tag(OP_ECHO, 4, 0), 0, { 1, 2, 3, 4 } };
    uint64_t err = hv_call(s->ep, &m);
    hvu_check(err == HV_OK && words_are(m.w, 2, 3, 4, 5) && strcmp(order, expected) == 0, name,
              "err %lu order \"%s\" expected \"%s\"", err, order, expected);
}

static uint64_t set_priority(uint64_t tcb, uint64_t priority)
{
    uint64_t p[1] = { priority };
    return hvu_invoke(tcb, HV_INV_TCB_SET_PRIORITY, 1, p, NULL);
}

static void test_order(void)
{
    uint64_t err;
    go = hvu_retype(HV_OBJ_NOTIFICATION, 0, &err);
    struct hvu_thread w = { 0, 0, 0 }, lo = { 0, 0, 0 }, eq = { 0, 0, 0 };
    static struct server low, same;
    /* Each starts above the root, so it is blocked (in wait or recv) when the start returns. */
    err = hvu_thread_start(&w, waiter, 0, SERVER_PRIORITY, 0, 10000, 10000);
    uint64_t e1 = start_server(&low, 'R', SERVER_PRIORITY, &lo);
    uint64_t e2 = start_server(&same, 'S', SERVER_PRIORITY, &eq);
    uint64_t e3 = set_priority(w.tcb, 110) | set_priority(lo.tcb, 100) | set_priority(eq.tcb, 110);
    hvu_check(err == HV_OK && e1 == HV_OK && e2 == HV_OK && e3 == HV_OK, "ipcfast.order_threads_started",
              "%lu %lu %lu %lu", err, e1, e2, e3);
    /* A receiver below the woken waiter (110 > 100): the waiter runs first. */
    check_order("ipcfast.lower_priority_receiver_waits", &low, "WR");
    /* A receiver at the waiter's level: the waiter was queued first, so it runs first. */
    check_order("ipcfast.equal_priority_receiver_queues_behind", &same, "WS");
    /* A receiver above the waiter (but below the root): it runs, then the root again. */
    (void)set_priority(eq.tcb, 120);
    check_order("ipcfast.higher_priority_receiver_first", &same, "S");
    (void)hvu_invoke(w.tcb, HV_INV_TCB_SUSPEND, 0, NULL, NULL);     /* still runnable: never ran */
    (void)hvu_invoke(lo.tcb, HV_INV_TCB_SUSPEND, 0, NULL, NULL);
    (void)hvu_invoke(eq.tcb, HV_INV_TCB_SUSPEND, 0, NULL, NULL);
}

/* ---- a receiver on another CPU ---- */

static void test_other_cpu(const struct hv_bootinfo *bi)
{
    if (bi->cpu_count < 2) {
        hvu_printf("ipcfast: one CPU: the other-CPU receiver check runs in ipcfast_smp\n");
        return;
    }
    static struct server remote;
    struct hvu_thread t = { 0, 0, 0 };
    uint64_t err = start_server(&remote, 'C', SERVER_PRIORITY, &t);
    uint64_t cpu[1] = { 1 };
    uint64_t aerr = hvu_invoke(t.tcb, HV_INV_TCB_SET_AFFINITY, 1, cpu, NULL);
    unsigned good = 0;
    for (unsigned i = 0; i < 200; i++) {
        struct hv_msg m = { hv_tag(OP_ECHO, 4, 0), 0, { i, i + 1, i + 2, i + 3 } };
        uint64_t cerr = hv_call(remote.ep, &m);
        good += cerr == HV_OK && m.tag == hv_tag(OP_ECHO + 1, 4, 0) && words_are(m.w, i + 1, i + 2, i + 3, i + 4) &&
                words_are(remote.seen.w, i, i + 1, i + 2, i + 3);
    }
    hvu_check(err == HV_OK && aerr == HV_OK && good == 200, "ipcfast.receiver_on_other_cpu",
              "start %lu affinity %lu, %u of 200 calls right", err, aerr, good);
    (void)hvu_invoke(t.tcb, HV_INV_TCB_SUSPEND, 0, NULL, NULL);
}

/* ---- the fast path is taken (or not, with fastpath=off) ---- */

/* Smallest time of BATCHES batches of PER round trips of `len` words (5: general path both ways). */
static uint64_t min_batch(unsigned len)
{
    struct hvu_series s = HVU_SERIES_INIT;
    hvu_ipc()->msg[4] = 0;
    for (unsigned b = 0; b < BATCHES; b++) {
        uint64_t t0 = hvu_rdtsc();
        for (unsigned i = 0; i < PER; i++) {
            struct hv_msg m = { hv_tag(OP_ECHO, len, 0), 0, { i, 0, 0, 0 } };
            (void)hv_call(plain_cap, &m);
        }
        hvu_series_add(&s, hvu_rdtsc() - t0);
    }
    return s.min;
}

/*
 * 4 words against 5, informational only: under the fast path the first costs about half
 * the instructions of the second; with fastpath=off they cost nearly the same. Timing is
 * never asserted (emulator timing is noisy); `make bench` counts the instructions.
 */
static void report_fast_path_timing(bool enabled)
{
    (void)min_batch(4);
    uint64_t fast = min_batch(4);
    uint64_t general = min_batch(5);
    hvu_printf("ipcfast: fast path %s: %u round trips: 4 words %lu ticks, 5 words %lu ticks (%lu%%)\n",
               enabled ? "on" : "off", PER, fast, general, general ? fast * 100u / general : 0);
}

void user_main(const struct hv_bootinfo *bi);

void user_main(const struct hv_bootinfo *bi)
{
    hvu_init(bi);
    bool enabled = !hvu_cmdline_has(bi->cmdline, "fastpath=off");
    hvu_printf("ipcfast: fast path %s, %lu CPUs\n", enabled ? "on" : "off (fastpath=off)", bi->cpu_count);
    struct hvu_thread t = { 0, 0, 0 };
    uint64_t err = start_server(&echo, 'E', SERVER_PRIORITY, &t);
    uint64_t merr = hvu_mint(echo.ep, HV_RIGHT_WRITE, BADGE, &plain_cap);
    merr |= hvu_mint(echo.ep, HV_RIGHT_WRITE | HV_RIGHT_GRANT, BADGE, &grant_cap);
    hvu_check(err == HV_OK && merr == HV_OK, "ipcfast.setup", "server %lu mint %lu", err, merr);

    test_messages();
    test_deleted_reply();
    test_fault_reply();
    test_order();
    test_other_cpu(bi);
    report_fast_path_timing(enabled);
    hvu_finish();
}
