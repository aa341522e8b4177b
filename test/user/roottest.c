/* SPDX-License-Identifier: MIT */
/* roottest: the root task of the capability/IPC/fault tests: every check reports PASS/FAIL. */
#include "hvu.h"

#define ECHO_LABEL 0x77

static uint64_t ping_ep;        /* endpoint the echo server receives on (full rights) */
static uint64_t echo_reply;     /* its reply object */

/* Echo server: answers every call with the words it got, each plus one, and label + 1. */
static void echo_server(uint64_t arg)
{
    (void)arg;
    struct hv_msg m = { 0, 0, { 0, 0, 0, 0 } };
    uint64_t err = hv_recv(ping_ep, echo_reply, &m);
    for (;;) {
        if (err != HV_OK) {
            err = hv_recv(ping_ep, echo_reply, &m);
            continue;
        }
        unsigned len = hv_tag_length(m.tag);
        struct hv_ipc_buffer *buf = hvu_ipc();
        for (unsigned i = 0; i < len && i < HV_MSG_REG_WORDS; i++)
            m.w[i] += 1;
        for (unsigned i = HV_MSG_REG_WORDS; i < len; i++)
            buf->msg[i] += 1;
        buf->user_data[0] = m.badge;    /* remembered for the caller to check */
        m.w[3] = m.badge;
        m.tag = hv_tag(hv_tag_label(m.tag) + 1, len < 4 ? 4 : len, 0);
        err = hv_reply_recv(ping_ep, echo_reply, &m);
    }
}

static void test_bootinfo(const struct hv_bootinfo *bi)
{
    hvu_check(bi->magic == HV_BOOTINFO_MAGIC, "bootinfo.magic", "magic 0x%lx", bi->magic);
    hvu_check(bi->untyped_count > 0 && bi->untyped.end - bi->untyped.start == bi->untyped_count,
              "bootinfo.untyped", "%lu untyped in slots %lu..%lu", bi->untyped_count,
              bi->untyped.start, bi->untyped.end);
    hvu_check(bi->empty.start < bi->empty.end && bi->empty.end == (1ull << bi->cnode_radix),
              "bootinfo.empty_slots", "%lu..%lu", bi->empty.start, bi->empty.end);
}

static void test_invalid_caps(void)
{
    struct hv_msg m = { hv_tag(0, 0, 0), 0, { 0, 0, 0, 0 } };
    uint64_t empty = hvu_alloc_slot();
    hvu_check(hv_call(empty, &m) == HV_ERR_EMPTY_SLOT, "caps.empty_slot_is_error", "call on an empty slot");
    m.tag = 0;
    hvu_check(hv_call(1ull << 40, &m) == HV_ERR_INVALID_CAP, "caps.out_of_range_cptr",
              "cptr beyond the CNode");
    m.tag = 0;
    hvu_check(hv_call(0, &m) == HV_ERR_INVALID_CAP, "caps.null_cptr", "cptr 0");
    uint64_t args[1] = { 0 };
    hvu_check(hvu_invoke(HV_ROOT_CNODE, 999, 1, args, NULL) == HV_ERR_UNKNOWN_INVOCATION,
              "caps.unknown_invocation", "label 999 on a CNode");
    hvu_check(hvu_invoke(HV_ROOT_TCB, HV_INV_UNTYPED_RETYPE, 1, args, NULL) == HV_ERR_UNKNOWN_INVOCATION,
              "caps.invocation_of_other_type", "retype label on a TCB");
}

static void test_retype(const struct hv_bootinfo *bi)
{
    uint64_t err;
    uint64_t ep = hvu_retype(HV_OBJ_ENDPOINT, 0, &err);
    hvu_check(ep != 0, "untyped.retype_endpoint", "error %lu", err);
    uint64_t bad = hvu_retype(HV_OBJ_IRQ_HANDLER, 0, &err);
    hvu_check(bad == 0 && err == HV_ERR_WRONG_TYPE, "untyped.retype_rejects_device_types", "error %lu", err);
    bad = hvu_retype(HV_OBJ_CNODE, 40, &err);
    hvu_check(bad == 0 && err == HV_ERR_RANGE, "untyped.retype_cnode_radix_range", "error %lu", err);
    /* Into an occupied slot: nothing changes. */
    uint64_t args[6] = { HV_OBJ_ENDPOINT, 0, HV_ROOT_CNODE, ep, 64, 1 };
    err = hvu_invoke(bi->untyped.start, HV_INV_UNTYPED_RETYPE, 6, args, NULL);
    hvu_check(err == HV_ERR_SLOT_OCCUPIED, "untyped.retype_into_occupied_slot", "error %lu", err);
    /* Far too large for any untyped. */
    uint64_t big[6] = { HV_OBJ_UNTYPED, 46, HV_ROOT_CNODE, hvu_alloc_slot(), 64, 1 };
    err = hvu_invoke(bi->untyped.start, HV_INV_UNTYPED_RETYPE, 6, big, NULL);
    hvu_check(err == HV_ERR_NOT_ENOUGH_MEMORY, "untyped.retype_too_large", "error %lu", err);
}

static void test_ping_pong(void)
{
    uint64_t err;
    ping_ep = hvu_retype(HV_OBJ_ENDPOINT, 0, &err);
    echo_reply = hvu_retype(HV_OBJ_REPLY, 0, &err);
    struct hvu_thread server;
    err = hvu_thread_start(&server, echo_server, 0, 150, 0, 5000, 10000);
    hvu_check(err == HV_OK, "ipc.start_server_thread", "error %lu", err);

    uint64_t badged;
    err = hvu_mint(ping_ep, HV_RIGHT_WRITE | HV_RIGHT_GRANT_REPLY, 0x5a5, &badged);
    hvu_check(err == HV_OK, "caps.mint_badge", "error %lu", err);

    struct hv_msg m = { hv_tag(ECHO_LABEL, 4, 0), 0, { 10, 20, 30, 40 } };
    err = hv_call(badged, &m);
    hvu_check(err == HV_OK && m.w[0] == 11 && m.w[1] == 21 && m.w[2] == 31,
              "ipc.call_round_trip", "err %lu words %lu %lu %lu", err, m.w[0], m.w[1], m.w[2]);
    hvu_check(hv_tag_label(m.tag) == ECHO_LABEL + 1, "ipc.reply_label", "label 0x%lx", hv_tag_label(m.tag));
    hvu_check(m.w[3] == 0x5a5, "ipc.badge_delivered", "server saw badge 0x%lx", m.w[3]);

    /* Long message: words beyond 4 through the IPC buffers. */
    struct hv_ipc_buffer *buf = hvu_ipc();
    for (unsigned i = 4; i < 12; i++)
        buf->msg[i] = 100 + i;
    m = (struct hv_msg){ hv_tag(ECHO_LABEL, 12, 0), 0, { 1, 2, 3, 4 } };
    err = hv_call(badged, &m);
    bool ok = err == HV_OK && hv_tag_length(m.tag) == 12;
    for (unsigned i = 4; i < 12; i++)
        ok = ok && buf->msg[i] == 101 + i;
    hvu_check(ok, "ipc.long_message", "err %lu len %u msg[4] %lu", err, hv_tag_length(m.tag), buf->msg[4]);

    /* Rights: a read-only copy cannot send. */
    uint64_t ro;
    (void)hvu_copy(ping_ep, HV_RIGHT_READ, &ro);
    m = (struct hv_msg){ hv_tag(ECHO_LABEL, 1, 0), 0, { 1, 0, 0, 0 } };
    err = hv_call(ro, &m);
    hvu_check(err == HV_ERR_INSUFFICIENT_RIGHTS, "caps.rights_enforced_on_call", "error %lu", err);
    /* Mint cannot add rights back: a mint of the read-only copy with all rights stays read-only. */
    uint64_t again;
    (void)hvu_mint(ro, HV_RIGHTS_ALL, 0, &again);
    m = (struct hv_msg){ hv_tag(ECHO_LABEL, 1, 0), 0, { 1, 0, 0, 0 } };
    err = hv_call(again, &m);
    hvu_check(err == HV_ERR_INSUFFICIENT_RIGHTS, "caps.mint_cannot_add_rights", "error %lu", err);
    /* A badge is set once. */
    uint64_t rebadged;
    err = hvu_mint(badged, HV_RIGHTS_ALL, 0x777, &rebadged);
    hvu_check(err == HV_ERR_ILLEGAL_OPERATION, "caps.badge_set_once", "error %lu", err);
}

/* ---- notifications ---- */

static uint64_t ntfn;

static void signaller(uint64_t badge_cap)
{
    (void)hv_signal(badge_cap);
}

static void test_notifications(void)
{
    uint64_t err;
    ntfn = hvu_retype(HV_OBJ_NOTIFICATION, 0, &err);
    uint64_t b1, b2;
    (void)hvu_mint(ntfn, HV_RIGHT_WRITE, 0x1, &b1);
    (void)hvu_mint(ntfn, HV_RIGHT_WRITE, 0x4, &b2);
    (void)hv_signal(b1);
    (void)hv_signal(b2);
    uint64_t bits = 0;
    err = hv_wait(ntfn, &bits);
    hvu_check(err == HV_OK && bits == 0x5, "ntfn.signals_accumulate", "err %lu bits 0x%lx", err, bits);
    err = hv_poll(ntfn, &bits);
    hvu_check(err == HV_OK && bits == 0, "ntfn.wait_clears_word", "err %lu bits 0x%lx", err, bits);
    /* Blocking wait woken by another thread. */
    struct hvu_thread t;
    err = hvu_thread_start(&t, signaller, b2, 100, 0, 2000, 10000);
    bits = 0;
    uint64_t werr = hv_wait(ntfn, &bits);
    hvu_check(err == HV_OK && werr == HV_OK && bits == 0x4, "ntfn.wait_blocks_until_signal",
              "start %lu wait %lu bits 0x%lx", err, werr, bits);
    /* An unbadged signal before anyone waits is kept (seL4's active state): this wait
     * returns at once; were the signal lost it would block forever and time out. */
    (void)hv_signal(ntfn);
    bits = 0x99;
    werr = hv_wait(ntfn, &bits);
    hvu_check(werr == HV_OK && bits == 0, "ntfn.unbadged_signal_not_lost", "wait %lu bits 0x%lx", werr, bits);
    /* Rights: a write-only cap cannot wait, a read-only one cannot signal. */
    hvu_check(hv_wait(b1, &bits) == HV_ERR_INSUFFICIENT_RIGHTS, "ntfn.wait_needs_read", "waited on write-only");
    uint64_t ro;
    (void)hvu_copy(ntfn, HV_RIGHT_READ, &ro);
    hvu_check(hv_signal(ro) == HV_ERR_INSUFFICIENT_RIGHTS, "ntfn.signal_needs_write", "signalled via read-only");
}

/* ---- faults ---- */

#define UNMAPPED_VA 0x0000500000000000ull
#define FAULT_BADGE 0xfa

static void touch_unmapped(uint64_t arg)
{
    (void)arg;
    *(volatile uint64_t *)(uintptr_t)UNMAPPED_VA = 1;
}

static void divide_by_zero(uint64_t zero)
{
    volatile uint64_t x = 10;
    x = x / zero;
    (void)x;
}

static void linux_syscall(uint64_t nr)
{
    uint64_t rax = nr;
    __asm__ volatile("syscall" : "+a"(rax) : : "rcx", "r11", "memory");
}

static volatile uint64_t resumed_marker;

static void after_fault(void)
{
    resumed_marker = 0x600d;
    for (;;)
        hv_yield();
}

static void test_faults(void)
{
    uint64_t err;
    uint64_t fault_ep = hvu_retype(HV_OBJ_ENDPOINT, 0, &err);
    uint64_t fault_reply = hvu_retype(HV_OBJ_REPLY, 0, &err);
    uint64_t badged;
    (void)hvu_mint(fault_ep, HV_RIGHT_WRITE | HV_RIGHT_GRANT_REPLY, FAULT_BADGE, &badged);

    struct hvu_thread t;
    /* Above the root's priority, so it runs as soon as it is resumed. */
    err = hvu_thread_start(&t, touch_unmapped, 0, 150, badged, 2000, 10000);
    struct hv_msg m = { 0, 0, { 0, 0, 0, 0 } };
    uint64_t rerr = hv_recv(fault_ep, fault_reply, &m);
    hvu_check(err == HV_OK && rerr == HV_OK && hv_tag_label(m.tag) == HV_FAULT_PAGE,
              "fault.page_fault_is_a_message", "start %lu recv %lu label %lu", err, rerr, hv_tag_label(m.tag));
    hvu_check(m.w[0] == UNMAPPED_VA && (m.w[1] & 2) != 0 && m.badge == FAULT_BADGE,
              "fault.page_fault_address_and_badge", "addr 0x%lx error 0x%lx badge 0x%lx", m.w[0], m.w[1], m.badge);
    /* Resume it somewhere else: the handler's reply sets rip and rsp. */
    uint64_t stack = t.ipc_va + 0xf000;     /* inside the thread's mapped stack pages */
    m = (struct hv_msg){ hv_tag(HV_FAULT_RESUME, 2, 0), 0, { (uint64_t)(uintptr_t)after_fault, stack, 0, 0 } };
    (void)hv_send(fault_reply, &m);
    for (unsigned i = 0; i < 100 && resumed_marker != 0x600d; i++)
        hv_yield();
    hvu_check(resumed_marker == 0x600d, "fault.reply_resumes_with_new_registers", "marker 0x%lx", resumed_marker);

    /* A divide error arrives as an exception message; STOP leaves the thread stopped. */
    struct hvu_thread d;
    err = hvu_thread_start(&d, divide_by_zero, 0, 100, badged, 2000, 10000);
    m = (struct hv_msg){ 0, 0, { 0, 0, 0, 0 } };
    rerr = hv_recv(fault_ep, fault_reply, &m);
    hvu_check(err == HV_OK && rerr == HV_OK && hv_tag_label(m.tag) == HV_FAULT_EXCEPTION && m.w[0] == 0,
              "fault.divide_error_is_exception_0", "start %lu recv %lu label %lu vector %lu", err, rerr,
              hv_tag_label(m.tag), m.w[0]);
    m = (struct hv_msg){ hv_tag(HV_FAULT_STOP, 0, 0), 0, { 0, 0, 0, 0 } };
    (void)hv_send(fault_reply, &m);
    struct hv_msg regs;
    err = hvu_invoke(d.tcb, HV_INV_TCB_READ_REGISTERS, 0, NULL, &regs);
    hvu_check(err == HV_OK, "fault.stopped_thread_readable", "error %lu", err);

    /* Unknown system call number without a registered entry: a SYSCALL fault message. */
    struct hvu_thread u;
    err = hvu_thread_start(&u, linux_syscall, 39 /* getpid */, 100, badged, 2000, 10000);
    m = (struct hv_msg){ 0, 0, { 0, 0, 0, 0 } };
    rerr = hv_recv(fault_ep, fault_reply, &m);
    hvu_check(err == HV_OK && rerr == HV_OK && hv_tag_label(m.tag) == HV_FAULT_SYSCALL && m.w[0] == 39,
              "fault.unknown_syscall_is_a_message", "recv %lu label %lu rax %lu", rerr, hv_tag_label(m.tag), m.w[0]);
    m = (struct hv_msg){ hv_tag(HV_FAULT_STOP, 0, 0), 0, { 0, 0, 0, 0 } };
    (void)hv_send(fault_reply, &m);
}

/* ---- capability transfer and revoke ---- */

static uint64_t xfer_ep, xfer_reply, xfer_slot;

static void cap_receiver(uint64_t arg)
{
    (void)arg;
    struct hv_ipc_buffer *buf = hvu_ipc();
    buf->recv_cnode = HV_ROOT_CNODE;
    buf->recv_index = xfer_slot;
    buf->recv_depth = 64;
    struct hv_msg m = { 0, 0, { 0, 0, 0, 0 } };
    uint64_t err = hv_recv(xfer_ep, xfer_reply, &m);
    for (;;) {
        /* Answer with what arrived: receive status, caps received, caps in the tag. */
        m.w[0] = err;
        m.w[1] = buf->recv_caps;
        m.w[2] = hv_tag_caps(m.tag);
        m.tag = hv_tag(0, 3, 0);
        err = hv_reply_recv(xfer_ep, xfer_reply, &m);
    }
}

static void test_cap_transfer(void)
{
    uint64_t err;
    xfer_ep = hvu_retype(HV_OBJ_ENDPOINT, 0, &err);
    xfer_reply = hvu_retype(HV_OBJ_REPLY, 0, &err);
    xfer_slot = hvu_alloc_slot();
    uint64_t gift = hvu_retype(HV_OBJ_NOTIFICATION, 0, &err);
    struct hvu_thread t;
    err = hvu_thread_start(&t, cap_receiver, 0, 100, 0, 2000, 10000);

    uint64_t grant_ep;
    (void)hvu_mint(xfer_ep, HV_RIGHT_WRITE | HV_RIGHT_GRANT | HV_RIGHT_GRANT_REPLY, 0, &grant_ep);
    hvu_ipc()->send_caps[0] = gift;
    struct hv_msg m = { hv_tag(1, 0, 1), 0, { 0, 0, 0, 0 } };
    uint64_t cerr = hv_call(grant_ep, &m);
    hvu_check(err == HV_OK && cerr == HV_OK && m.w[0] == HV_OK && m.w[1] == 1 && m.w[2] == 1,
              "caps.transfer_through_ipc", "call %lu recv %lu caps %lu/%lu", cerr, m.w[0], m.w[1], m.w[2]);
    /* The transferred cap works: signal through it, wait on the original. */
    uint64_t bits = 0;
    err = hv_signal(xfer_slot);
    uint64_t werr = hv_poll(gift, &bits);
    hvu_check(err == HV_OK && werr == HV_OK, "caps.transferred_cap_usable", "signal %lu poll %lu", err, werr);

    /* Revoke the original: the transferred copy (a descendant) is gone, the original stays. */
    err = hvu_revoke(gift);
    uint64_t serr = hv_signal(xfer_slot);
    uint64_t oerr = hv_signal(gift);
    hvu_check(err == HV_OK && serr == HV_ERR_EMPTY_SLOT && oerr == HV_OK, "caps.revoke_removes_descendants",
              "revoke %lu child %lu original %lu", err, serr, oerr);

    /* Without GRANT on the endpoint cap, no cap crosses. */
    uint64_t nogrant;
    (void)hvu_mint(xfer_ep, HV_RIGHT_WRITE | HV_RIGHT_GRANT_REPLY, 0, &nogrant);
    hvu_ipc()->send_caps[0] = gift;
    m = (struct hv_msg){ hv_tag(1, 0, 1), 0, { 0, 0, 0, 0 } };
    cerr = hv_call(nogrant, &m);
    hvu_check(cerr == HV_OK && m.w[1] == 0, "caps.transfer_needs_grant", "call %lu caps %lu", cerr, m.w[1]);
}

/* ---- budgets ---- */

static volatile uint64_t spin_count;

static void spinner(uint64_t arg)
{
    (void)arg;
    for (;;)
        spin_count++;
}

static void test_budgets(void)
{
    uint64_t err;
    struct hvu_thread s;
    /* A higher-priority thread that never blocks, limited to 2 ms every 10 ms. */
    err = hvu_thread_start(&s, spinner, 0, 200, 0, 2000, 10000);
    hvu_check(err == HV_OK, "sched.start_spinner", "error %lu", err);
    /* The root (lower priority) keeps running between the spinner's budgets, and the
     * spinner keeps coming back at each refill: both make progress, several times. */
    unsigned spinner_periods = 0;
    uint64_t last = spin_count;
    for (uint64_t i = 0; i < 400000000ull && spinner_periods < 3; i++) {
        if (spin_count != last) {
            spinner_periods++;
            last = spin_count;
        }
    }
    hvu_check(spinner_periods >= 3, "sched.budget_shares_cpu_with_lower_priority",
              "spinner came back %u times while the root ran", spinner_periods);
    struct hv_msg out;
    err = hvu_invoke(s.sc, HV_INV_SC_CONSUMED, 0, NULL, &out);
    hvu_check(err == HV_OK && out.w[0] > 0, "sched.consumed_accounted", "err %lu consumed %lu us", err, out.w[0]);
    (void)hvu_invoke(s.tcb, HV_INV_TCB_SUSPEND, 0, NULL, NULL);
    uint64_t stopped_at = spin_count;
    for (volatile unsigned i = 0; i < 300000; i++)
        ;
    hvu_check(spin_count == stopped_at, "sched.suspend_stops_thread", "count moved %lu -> %lu", stopped_at, spin_count);
}

/* ---- FPU/SSE state is per thread ---- */

static uint64_t fpu_ntfn;
static volatile uint64_t fpu_thread_saw;

static void xmm0_set(uint64_t v)
{
    __asm__ volatile("movq %0, %%xmm0" : : "r"(v));
}

static uint64_t xmm0_get(void)
{
    uint64_t v;
    __asm__ volatile("movq %%xmm0, %0" : "=r"(v));
    return v;
}

static void fpu_thread(uint64_t arg)
{
    (void)arg;
    xmm0_set(0x2222222222222222ull);
    uint64_t bits;
    (void)hv_wait(fpu_ntfn, &bits);     /* the root runs (and sets its xmm0) meanwhile */
    fpu_thread_saw = xmm0_get();
}

static void test_fpu(void)
{
    uint64_t err;
    fpu_ntfn = hvu_retype(HV_OBJ_NOTIFICATION, 0, &err);
    xmm0_set(0x1111111111111111ull);
    struct hvu_thread t;
    err = hvu_thread_start(&t, fpu_thread, 0, 150, 0, 2000, 10000);
    uint64_t mine = xmm0_get();     /* the thread ran (higher priority) and loaded its own */
    xmm0_set(0x3333333333333333ull);
    (void)hv_signal(fpu_ntfn);
    hvu_check(err == HV_OK && mine == 0x1111111111111111ull, "fpu.sse_state_kept_across_switch",
              "start %lu root xmm0 0x%lx", err, mine);
    hvu_check(fpu_thread_saw == 0x2222222222222222ull, "fpu.sse_state_is_per_thread",
              "thread xmm0 0x%lx", fpu_thread_saw);
}

/* ---- SMP: a thread with affinity to CPU 1 runs in parallel with the root ---- */

static volatile uint64_t remote_count;

static void remote_worker(uint64_t arg)
{
    (void)arg;
    for (;;)
        remote_count++;
}

static void test_smp(const struct hv_bootinfo *bi)
{
    if (bi->cpu_count < 2)
        return;     /* single CPU boot: nothing to check here */
    struct hvu_thread w;
    /* Below the root's priority: on CPU 0 it could only run when the root blocks. */
    uint64_t err = hvu_thread_start(&w, remote_worker, 0, 50, 0, 10000, 10000);
    uint64_t cpu[1] = { 1 };
    uint64_t aerr = hvu_invoke(w.tcb, HV_INV_TCB_SET_AFFINITY, 1, cpu, NULL);
    hvu_check(err == HV_OK && aerr == HV_OK, "smp.set_affinity", "start %lu affinity %lu", err, aerr);
    /* The root never blocks or yields here: progress means the worker runs on CPU 1. */
    uint64_t start = remote_count;
    for (uint64_t i = 0; i < 400000000ull && remote_count - start < 1000; i++)
        ;
    hvu_check(remote_count - start >= 1000, "smp.thread_runs_on_second_cpu",
              "worker advanced %lu while the root spun", remote_count - start);
    uint64_t bad[1] = { 64 };
    hvu_check(hvu_invoke(w.tcb, HV_INV_TCB_SET_AFFINITY, 1, bad, NULL) == HV_ERR_RANGE,
              "smp.affinity_out_of_range", "cpu 64 accepted");
    /* Destroying the thread while it runs on CPU 1: the core takes it off that CPU first. */
    uint64_t derr = hvu_delete(w.tcb);
    uint64_t after = remote_count;
    for (volatile unsigned i = 0; i < 3000000; i++)
        ;
    hvu_check(derr == HV_OK && remote_count == after, "smp.delete_running_remote_thread",
              "delete %lu, worker moved %lu -> %lu", derr, after, remote_count);
}

/*
 * ---- SMP: an unmap reaches the TLB of a CPU running the same address space ----
 * A thread on CPU 1 keeps writing a counter through va W; the root (CPU 0) watches it
 * through a second mapping of the same frame and unmaps W. When FRAME_UNMAP returns, no
 * CPU may still write the frame through W: CPU 1 kept running the same thread in the same
 * address space (no CR3 load), so only a remote flush makes its next write fault. Without
 * it the frame, once revoked and retyped, would still be written from user mode.
 */
#define SHOOTDOWN_VA 0x0000500000200000ull
#define SHOOTDOWN_ALIAS_VA 0x0000500000400000ull

static void remote_writer(uint64_t arg)
{
    volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)arg;
    for (;;)
        (*p)++;
}

/* The writer's counter, read through the root's second mapping of the frame. */
static uint64_t shootdown_count(void)
{
    return *(volatile const uint64_t *)(uintptr_t)SHOOTDOWN_ALIAS_VA;
}

static void test_smp_unmap_shootdown(const struct hv_bootinfo *bi)
{
    if (bi->cpu_count < 2)
        return;
    uint64_t err, alias = 0;
    uint64_t frame = hvu_map_new_frame(SHOOTDOWN_VA, true);
    uint64_t cerr = frame != 0 ? hvu_copy(frame, HV_RIGHTS_ALL, &alias) : HV_ERR_NOT_ENOUGH_MEMORY;
    uint64_t merr = cerr == HV_OK ? hvu_map_frame_into(HV_ROOT_VSPACE, alias, SHOOTDOWN_ALIAS_VA, 0) : cerr;
    uint64_t ep = hvu_retype(HV_OBJ_ENDPOINT, 0, &err);
    uint64_t badged = 0;
    (void)hvu_mint(ep, HV_RIGHT_WRITE | HV_RIGHT_GRANT_REPLY, 0x5d, &badged);
    struct hvu_thread w;
    /* Below the root, so it only runs once it is on CPU 1; its fault goes to `ep`, unread. */
    uint64_t serr = merr == HV_OK ? hvu_thread_start(&w, remote_writer, SHOOTDOWN_VA, 50, badged, 10000, 10000)
                                  : merr;
    uint64_t cpu[1] = { 1 };
    uint64_t aerr = serr == HV_OK ? hvu_invoke(w.tcb, HV_INV_TCB_SET_AFFINITY, 1, cpu, NULL) : serr;
    uint64_t start = aerr == HV_OK ? shootdown_count() : 0;
    for (uint64_t i = 0; aerr == HV_OK && i < 400000000ull && shootdown_count() - start < 1000; i++)
        ;
    hvu_check(aerr == HV_OK && shootdown_count() - start >= 1000, "smp.unmap_writer_runs",
              "frame %lu copy %lu map %lu start %lu affinity %lu, counter moved %lu",
              frame != 0 ? 0ul : 1ul, cerr, merr, serr, aerr, aerr == HV_OK ? shootdown_count() - start : 0);
    if (aerr != HV_OK)
        return;
    uint64_t uerr = hvu_invoke(frame, HV_INV_FRAME_UNMAP, 0, NULL, NULL);
    uint64_t after = shootdown_count();
    for (volatile unsigned i = 0; i < 3000000; i++)
        ;
    uint64_t later = shootdown_count();
    hvu_check(uerr == HV_OK && later == after, "smp.unmap_reaches_other_cpu",
              "unmap %lu; the thread on CPU 1 wrote on through the unmapped va: %lu -> %lu",
              uerr, after, later);
    (void)hvu_delete(w.tcb);
}

/* ---- budget timeout as a fault message ---- */

static volatile uint64_t timeout_spins;

static void timeout_spinner(uint64_t arg)
{
    (void)arg;
    for (;;)
        timeout_spins++;
}

static void test_budget_timeout_fault(void)
{
    uint64_t err;
    uint64_t ep = hvu_retype(HV_OBJ_ENDPOINT, 0, &err);
    uint64_t reply = hvu_retype(HV_OBJ_REPLY, 0, &err);
    uint64_t badged;
    (void)hvu_mint(ep, HV_RIGHT_WRITE | HV_RIGHT_GRANT_REPLY, 0x7e, &badged);
    struct hvu_thread t;
    /* Below the root: it runs while the root waits for its fault. */
    err = hvu_thread_start(&t, timeout_spinner, 0, 100, badged, 2000, 10000);
    uint64_t cfg[3] = { 2000, 10000, 1 };      /* timeout_fault = 1 */
    uint64_t cerr = hvu_invoke(t.sc, HV_INV_SC_CONFIGURE, 3, cfg, NULL);
    struct hv_msg m = { 0, 0, { 0, 0, 0, 0 } };
    uint64_t rerr = hv_recv(ep, reply, &m);
    hvu_check(err == HV_OK && cerr == HV_OK && rerr == HV_OK && hv_tag_label(m.tag) == HV_FAULT_TIMEOUT &&
                  m.badge == 0x7e && m.w[0] >= 1000,
              "sched.budget_timeout_is_a_fault_message", "start %lu cfg %lu recv %lu label %lu badge 0x%lx used %lu us",
              err, cerr, rerr, hv_tag_label(m.tag), m.badge, m.w[0]);
    uint64_t bad[3] = { 5000, 1000, 0 };       /* budget above period */
    hvu_check(hvu_invoke(t.sc, HV_INV_SC_CONFIGURE, 3, bad, NULL) == HV_ERR_RANGE,
              "sched.budget_above_period_rejected", "accepted");
    m = (struct hv_msg){ hv_tag(HV_FAULT_STOP, 0, 0), 0, { 0, 0, 0, 0 } };
    (void)hv_send(reply, &m);
    (void)hvu_delete(t.tcb);
}

void user_main(const struct hv_bootinfo *bi);

void user_main(const struct hv_bootinfo *bi)
{
    hvu_init(bi);
    hvu_printf("roottest: root task running, %lu untyped caps\n", bi->untyped_count);
    test_bootinfo(bi);
    test_invalid_caps();
    test_retype(bi);
    test_ping_pong();
    test_notifications();
    test_faults();
    test_cap_transfer();
    test_budgets();
    test_budget_timeout_fault();
    test_fpu();
    test_smp(bi);
    test_smp_unmap_shootdown(bi);
    hvu_finish();
}
