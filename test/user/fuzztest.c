/* SPDX-License-Identifier: MIT */
/* fuzztest: root task that runs the hostile program against the core and checks nobody else is hurt. */
#include "fuzz_layout.h"
#include "hvu.h"
#include "lib/kstring.h"

#define FUZZ_ITERATIONS 20000u
#define HOSTILE_PRIORITY 200u
#define ECHO_PRIORITY 210u
#define HANDLER_PRIORITY 220u
#define SHARED_ROOT_VA 0x0000200000000000ull
#define STALL_MS 300u              /* no iteration for this long (TSC): restart it */
#define MS_PER_S 1000u
#define ECHO_LABEL 0x33
#define DEFAULT_SEED 0x5eed0001ull
#define ROOT_WATCH_BUDGET_US 5000u
#define ROOT_PERIOD_US 10000u

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
    return ((uint64_t)hi << 32) | lo;
}

static uint64_t echo_ep, echo_reply, fault_ep, fault_reply;
static struct hvu_image img;
static uint64_t hostile_tcb;
static struct fuzz_shared *shared;
static volatile uint64_t faults_seen, syscall_faults, restarts_by_handler;

static void echo_server(uint64_t arg)
{
    (void)arg;
    struct hv_msg m = { 0, 0, { 0, 0, 0, 0 } };
    uint64_t err = hv_recv(echo_ep, echo_reply, &m);
    for (;;) {
        if (err == HV_OK) {
            m.w[0] += 1;
            m.tag = hv_tag(hv_tag_label(m.tag) + 1, 1, 0);
        } else {
            m.tag = 0;
        }
        err = hv_reply_recv(echo_ep, echo_reply, &m);
    }
}

/* The hostile program's fault handler: Linux calls fail with ENOSYS, crashes restart it. */
static void fault_handler(uint64_t arg)
{
    (void)arg;
    for (;;) {
        struct hv_msg m = { 0, 0, { 0, 0, 0, 0 } };
        if (hv_recv(fault_ep, fault_reply, &m) != HV_OK)
            continue;
        faults_seen++;
        if (hv_tag_label(m.tag) == HV_FAULT_SYSCALL) {
            syscall_faults++;
            /* Resume after the syscall instruction with rax = -ENOSYS. */
            m = (struct hv_msg){ hv_tag(HV_FAULT_RESUME, 3, 0), 0, { m.w[1], m.w[2], (uint64_t)-38, 0 } };
        } else {
            restarts_by_handler++;
            shared->restarts++;
            m = (struct hv_msg){ hv_tag(HV_FAULT_RESUME, 2, 0), 0, { img.entry, img.stack_top, 0, 0 } };
        }
        (void)hv_send(fault_reply, &m);
    }
}

/* Copies / moves root cap `src` into the hostile's CNode slot `dest` (via its unguarded cap). */
static uint64_t give(uint64_t hostile_cnode, uint64_t src, uint64_t dest, uint64_t rights)
{
    return hvu_give_copy(hostile_cnode, HOSTILE_CNODE_RADIX, dest, src, rights);
}

static uint64_t move_to(uint64_t hostile_cnode, uint64_t src, uint64_t dest)
{
    return hvu_give_move(hostile_cnode, HOSTILE_CNODE_RADIX, dest, src);
}

static bool echo_alive(void)
{
    struct hv_msg m = { hv_tag(ECHO_LABEL, 1, 0), 0, { 41, 0, 0, 0 } };
    return hv_call(echo_ep, &m) == HV_OK && m.w[0] == 42 && hv_tag_label(m.tag) == ECHO_LABEL + 1;
}

/* `fuzz.seed=<hex>` on the command line replays another sequence. */
static uint64_t seed_from(const char *cmdline)
{
    static const char key[] = "fuzz.seed=";
    for (const char *p = cmdline; *p != '\0'; p++) {
        if ((p != cmdline && p[-1] != ' ') || strncmp(p, key, sizeof(key) - 1) != 0)
            continue;
        uint64_t v = 0;
        for (p += sizeof(key) - 1; *p != '\0' && *p != ' '; p++) {
            unsigned d = (*p >= '0' && *p <= '9') ? (unsigned)(*p - '0')
                       : (*p >= 'a' && *p <= 'f') ? (unsigned)(*p - 'a' + 10) : 16u;
            if (d < 16)
                v = v * 16 + d;     /* "0x" prefix: the x is skipped, the 0 adds nothing */
        }
        return v;
    }
    return DEFAULT_SEED;
}

/*
 * The hostile may have lowered its own priority (TCB_SET_PRIORITY on its own TCB cap is
 * its right): a restart gives it back its priority, so its next incarnation is not
 * starved by what the previous one did to itself.
 */
static void restart_hostile(void)
{
    shared->restarts++;
    (void)hvu_invoke(hostile_tcb, HV_INV_TCB_SUSPEND, 0, NULL, NULL);
    uint64_t prio[1] = { HOSTILE_PRIORITY };
    (void)hvu_invoke(hostile_tcb, HV_INV_TCB_SET_PRIORITY, 1, prio, NULL);
    uint64_t regs[5] = { img.entry, img.stack_top, 0, 0, 0 };
    (void)hvu_invoke(hostile_tcb, HV_INV_TCB_WRITE_REGISTERS, 5, regs, NULL);
    (void)hvu_invoke(hostile_tcb, HV_INV_TCB_RESUME, 0, NULL, NULL);
}

void user_main(const struct hv_bootinfo *bi);

void user_main(const struct hv_bootinfo *bi)
{
    uint64_t err;
    hvu_init_ep_reply(bi, &echo_ep, &echo_reply);
    fault_ep = hvu_retype(HV_OBJ_ENDPOINT, 0, &err);
    fault_reply = hvu_retype(HV_OBJ_REPLY, 0, &err);
    struct hvu_thread echo, handler;
    err = hvu_thread_start(&echo, echo_server, 0, ECHO_PRIORITY, 0, 10000, 10000);
    err |= hvu_thread_start(&handler, fault_handler, 0, HANDLER_PRIORITY, 0, 10000, 10000);
    hvu_check(err == HV_OK && echo_alive(), "fuzz.helpers_started", "error %lu", err);

    err = hvu_load_module(bi, "hostile", &img);
    hvu_check(err == HV_OK, "fuzz.hostile_loaded", "error %lu", err);

    /* Its CSpace: a CNode of its own, guarded so its cptrs are slot numbers. */
    uint64_t hcnode = hvu_retype(HV_OBJ_CNODE, HOSTILE_CNODE_RADIX, &err);
    uint64_t hcnode_guarded;
    err |= hvu_mint(hcnode, HV_RIGHTS_ALL, (uint64_t)(64u - HOSTILE_CNODE_RADIX), &hcnode_guarded);
    uint64_t ntfn = hvu_retype(HV_OBJ_NOTIFICATION, 0, NULL);
    uint64_t ut = hvu_retype(HV_OBJ_UNTYPED, 18, NULL);
    uint64_t reply = hvu_retype(HV_OBJ_REPLY, 0, NULL);
    uint64_t frame = hvu_retype(HV_OBJ_FRAME, 0, NULL);
    hostile_tcb = hvu_retype(HV_OBJ_TCB, 0, NULL);
    uint64_t sc = hvu_retype(HV_OBJ_SCHED_CONTEXT, 0, NULL);
    err |= give(hcnode, hcnode_guarded, H_CNODE, HV_RIGHTS_ALL);
    err |= give(hcnode, echo_ep, H_EP, HV_RIGHT_WRITE | HV_RIGHT_GRANT | HV_RIGHT_GRANT_REPLY);
    err |= give(hcnode, ntfn, H_NTFN, HV_RIGHTS_ALL);
    err |= move_to(hcnode, ut, H_UNTYPED);
    err |= move_to(hcnode, reply, H_REPLY);
    err |= give(hcnode, hostile_tcb, H_TCB, HV_RIGHTS_ALL);
    err |= move_to(hcnode, frame, H_FRAME);
    err |= give(hcnode, img.pml4, H_PML4, HV_RIGHTS_ALL);

    /* The shared progress page. */
    uint64_t page = hvu_retype(HV_OBJ_FRAME, 0, NULL), page_copy;
    err |= hvu_map_frame_into(HV_ROOT_VSPACE, page, SHARED_ROOT_VA, 0);
    err |= hvu_copy(page, HV_RIGHTS_ALL, &page_copy);
    err |= hvu_map_frame_into(img.pml4, page_copy, HOSTILE_SHARED_VA, 0);
    shared = (struct fuzz_shared *)(uintptr_t)SHARED_ROOT_VA;
    shared->seed = seed_from(bi->cmdline);
    /* Incarnation n (shared->restarts) draws from seed + n * golden + 1: given the seed and
     * the incarnation, its calls are the same whatever the build's layout. */
    hvu_printf("fuzz: seed 0x%lx (replay: fuzz.seed=0x%lx on the command line)\n", shared->seed, shared->seed);

    uint64_t badged_fault;
    err |= hvu_mint(fault_ep, HV_RIGHT_WRITE | HV_RIGHT_GRANT_REPLY, 0xbad, &badged_fault);
    uint64_t cfg[5] = { badged_fault, hcnode_guarded, img.pml4, img.ipc_frame, img.ipc_va };
    err |= hvu_invoke(hostile_tcb, HV_INV_TCB_CONFIGURE, 5, cfg, NULL);
    uint64_t prio[1] = { HOSTILE_PRIORITY };
    err |= hvu_invoke(hostile_tcb, HV_INV_TCB_SET_PRIORITY, 1, prio, NULL);
    uint64_t regs[5] = { img.entry, img.stack_top, 0, 0, 0 };
    err |= hvu_invoke(hostile_tcb, HV_INV_TCB_WRITE_REGISTERS, 5, regs, NULL);
    uint64_t sc_cfg[3] = { 3000, 10000, 0 };
    err |= hvu_invoke(sc, HV_INV_SC_CONFIGURE, 3, sc_cfg, NULL);
    uint64_t bind[1] = { hostile_tcb };
    err |= hvu_invoke(sc, HV_INV_SC_BIND, 1, bind, NULL);
    hvu_check(err == HV_OK, "fuzz.hostile_configured", "some setup step failed (or-ed errors 0x%lx)", err);
    err = hvu_invoke(hostile_tcb, HV_INV_TCB_RESUME, 0, NULL, NULL);
    hvu_check(err == HV_OK, "fuzz.hostile_started", "error %lu", err);

    /*
     * Let it run; keep checking the echo server; restart it when it stalls (it may block or
     * stop itself). The root watches on half of its budget: the hostile may lower its own
     * priority below the root's, and a root spinning on a full budget owns the CPU (§3) —
     * the hostile would get no time at all until the root blocks.
     */
    uint64_t watch_sc[3] = { ROOT_WATCH_BUDGET_US, ROOT_PERIOD_US, 0 };
    err = hvu_invoke(HV_ROOT_SCHED_CONTEXT, HV_INV_SC_CONFIGURE, 3, watch_sc, NULL);
    hvu_check(err == HV_OK, "fuzz.root_watches_on_half_budget", "error %lu", err);
    unsigned echo_failures = 0, stalls = 0;
    uint64_t last = 0, stall_ticks = bi->tsc_hz / MS_PER_S * STALL_MS, since = rdtsc();
    while (shared->iterations < FUZZ_ITERATIONS && stalls < 200) {
        if (shared->iterations != last) {
            last = shared->iterations;
            since = rdtsc();
            if (last % 64 == 0 && !echo_alive())
                echo_failures++;
        } else if (rdtsc() - since >= stall_ticks) {
            stalls++;
            hvu_printf("fuzz: stall at %lu iterations: restarting incarnation %lu\n", last, shared->restarts);
            restart_hostile();
            since = rdtsc();
        }
    }
    (void)hvu_invoke(hostile_tcb, HV_INV_TCB_SUSPEND, 0, NULL, NULL);
    uint64_t full_sc[3] = { ROOT_PERIOD_US, ROOT_PERIOD_US, 0 };
    (void)hvu_invoke(HV_ROOT_SCHED_CONTEXT, HV_INV_SC_CONFIGURE, 3, full_sc, NULL);
    hvu_printf("fuzz: %lu iterations, %lu faults (%lu syscall), %lu crash restarts, %u stall restarts\n",
               shared->iterations, faults_seen, syscall_faults, restarts_by_handler, stalls);
    unsigned kinds = 0;
    for (unsigned i = 0; i < FUZZ_ERROR_KINDS; i++) {
        if (shared->results[i] != 0) {
            kinds++;
            hvu_printf("fuzz:   result %u x %lu\n", i, shared->results[i]);
        }
    }
    hvu_check(shared->iterations >= FUZZ_ITERATIONS, "fuzz.iterations_completed", "%lu of %u",
              shared->iterations, FUZZ_ITERATIONS);
    hvu_check(kinds >= 8, "fuzz.many_error_paths_hit", "only %u distinct results", kinds);
    hvu_check(faults_seen > 0, "fuzz.faults_delivered_to_handler", "no fault message arrived");
    hvu_check(echo_failures == 0 && echo_alive(), "fuzz.other_server_unaffected", "%u echo failures", echo_failures);

    /* The root's own authority is intact: retype, map and call still work. */
    uint64_t probe = hvu_retype(HV_OBJ_ENDPOINT, 0, &err);
    hvu_check(probe != 0 && hvu_delete(probe) == HV_OK, "fuzz.root_caps_intact", "retype error %lu", err);

    /* Tear the hostile down completely: everything it made goes with its untyped's parent. */
    err = hvu_delete(hostile_tcb);
    err |= hvu_revoke(hcnode);
    err |= hvu_delete(hcnode_guarded);
    err |= hvu_delete(hcnode);
    err |= hvu_delete(sc);
    hvu_check(err == HV_OK && echo_alive(), "fuzz.teardown_clean", "error 0x%lx", err);
    hvu_finish();
}
