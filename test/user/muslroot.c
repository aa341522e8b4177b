/* SPDX-License-Identifier: MIT */
/* muslroot: root task that spawns the musl program on the hvrt runtime and reports its checks. */
#include "hv/hvrt.h"
#include "hvu.h"
#include "musl_layout.h"

#define MUSL_CNODE_RADIX 4u
#define MUSL_PRIORITY 150u
#define HANDLER_PRIORITY 160u
#define SHARED_ROOT_VA 0x0000200000000000ull
#define IPC_ROOT_VA 0x0000200000001000ull
#define COM1 0x3f8u

#define EXIT_BADGE 0x1u       /* a signal through an unbadged cap (badge 0) sets no bit */
#define FAULT_BADGE 0x2u

static uint64_t fault_ep, fault_reply, done_ntfn, fault_signal;
static volatile uint64_t faults_seen, last_fault_label, last_fault_w[4];

/* Records any fault of the musl program (leaving it stopped) and wakes the root. */
static void fault_handler(uint64_t arg)
{
    (void)arg;
    for (;;) {
        struct hv_msg m = { 0, 0, { 0, 0, 0, 0 } };
        if (hv_recv(fault_ep, fault_reply, &m) != HV_OK)
            continue;
        faults_seen++;
        last_fault_label = hv_tag_label(m.tag);
        for (unsigned i = 0; i < 4; i++)
            last_fault_w[i] = m.w[i];
        (void)hv_signal(fault_signal);
    }
}

/* Copies root cap `src` into the musl program's CNode slot `dest` with `rights`. */
static uint64_t give(uint64_t cnode, uint64_t src, uint64_t dest, uint64_t rights)
{
    return hvu_give_copy(cnode, MUSL_CNODE_RADIX, dest, src, rights);
}

/* Mints root cap `src` with `badge` into the musl program's CNode slot `dest`. */
static uint64_t mint_to(uint64_t cnode, uint64_t src, uint64_t dest, uint64_t rights, uint64_t badge)
{
    return hvu_give_mint(cnode, MUSL_CNODE_RADIX, dest, src, rights, badge);
}

static uint64_t move_to(uint64_t cnode, uint64_t src, uint64_t dest)
{
    return hvu_give_move(cnode, MUSL_CNODE_RADIX, dest, src);
}

void user_main(const struct hv_bootinfo *bi);

void user_main(const struct hv_bootinfo *bi)
{
    uint64_t err;
    hvu_init_ep_reply(bi, &fault_ep, &fault_reply);
    done_ntfn = hvu_retype(HV_OBJ_NOTIFICATION, 0, &err);
    err = hvu_mint(done_ntfn, HV_RIGHT_WRITE, FAULT_BADGE, &fault_signal);
    struct hvu_thread handler;
    err |= hvu_thread_start(&handler, fault_handler, 0, HANDLER_PRIORITY, 0, 10000, 10000);
    hvu_check(err == HV_OK && done_ntfn != 0, "musl.handler_started", "error %lu", err);

    struct hvu_image img;
    err = hvu_load_module(bi, "musl_hello", &img);
    hvu_check(err == HV_OK, "musl.program_loaded", "error %lu", err);

    /* Its CSpace (hvrt.h): guarded so cptr = slot; 1 = own TCB, 2 = COM1, 3 = exit notification. */
    uint64_t cnode = hvu_retype(HV_OBJ_CNODE, MUSL_CNODE_RADIX, &err);
    uint64_t cnode_guarded;
    err |= hvu_mint(cnode, HV_RIGHTS_ALL, (uint64_t)(64u - MUSL_CNODE_RADIX), &cnode_guarded);
    uint64_t tcb = hvu_retype(HV_OBJ_TCB, 0, NULL);
    uint64_t sc = hvu_retype(HV_OBJ_SCHED_CONTEXT, 0, NULL);
    uint64_t console = hvu_alloc_slot();
    uint64_t ports[5] = { COM1, COM1 + 7, HV_ROOT_CNODE, console, 64 };
    err |= hvu_invoke(HV_ROOT_IOPORT_CONTROL, HV_INV_IOPORT_CONTROL_ISSUE, 5, ports, NULL);
    err |= give(cnode, tcb, HVRT_SLOT_TCB, HV_RIGHTS_ALL);
    err |= move_to(cnode, console, HVRT_SLOT_CONSOLE);
    err |= mint_to(cnode, done_ntfn, HVRT_SLOT_EXIT_NTFN, HV_RIGHT_WRITE, EXIT_BADGE);

    /* The shared results page, and the program's IPC buffer (its exit status) seen by the root. */
    uint64_t page = hvu_retype(HV_OBJ_FRAME, 0, NULL), page_copy, ipc_copy;
    err |= hvu_map_frame_into(HV_ROOT_VSPACE, page, SHARED_ROOT_VA, 0);
    err |= hvu_copy(page, HV_RIGHTS_ALL, &page_copy);
    err |= hvu_map_frame_into(img.pml4, page_copy, MUSL_SHARED_VA, 0);
    err |= hvu_copy(img.ipc_frame, HV_RIGHT_READ, &ipc_copy);
    err |= hvu_map_frame_into(HV_ROOT_VSPACE, ipc_copy, IPC_ROOT_VA, 0);
    struct musl_shared *shared = (struct musl_shared *)(uintptr_t)SHARED_ROOT_VA;
    const volatile struct hv_ipc_buffer *ipc = (const volatile struct hv_ipc_buffer *)(uintptr_t)IPC_ROOT_VA;

    uint64_t badged_fault;
    err |= hvu_mint(fault_ep, HV_RIGHT_WRITE | HV_RIGHT_GRANT_REPLY, 0x1c, &badged_fault);
    uint64_t cfg[5] = { badged_fault, cnode_guarded, img.pml4, img.ipc_frame, img.ipc_va };
    err |= hvu_invoke(tcb, HV_INV_TCB_CONFIGURE, 5, cfg, NULL);
    uint64_t prio[1] = { MUSL_PRIORITY };
    err |= hvu_invoke(tcb, HV_INV_TCB_SET_PRIORITY, 1, prio, NULL);
    /* hvrt.h: rdi = IPC buffer va, rsi = TSC Hz (0: assume 1 GHz). */
    uint64_t regs[5] = { img.entry, img.stack_top, 0, img.ipc_va, 0 };
    err |= hvu_invoke(tcb, HV_INV_TCB_WRITE_REGISTERS, 5, regs, NULL);
    uint64_t sc_cfg[3] = { 10000, 10000, 0 };
    err |= hvu_invoke(sc, HV_INV_SC_CONFIGURE, 3, sc_cfg, NULL);
    uint64_t bind[1] = { tcb };
    err |= hvu_invoke(sc, HV_INV_SC_BIND, 1, bind, NULL);
    hvu_check(err == HV_OK, "musl.program_configured", "some setup step failed (or-ed errors 0x%lx)", err);
    uint64_t start_err = hvu_invoke(tcb, HV_INV_TCB_RESUME, 0, NULL, NULL);

    /* Woken by its exit (hvrt signals slot 3) or by the fault handler. The root prints
     * nothing while the program runs: both write to COM1 a character at a time. */
    uint64_t bits = 0;
    err = hv_wait(done_ntfn, &bits);
    hvu_check(start_err == HV_OK, "musl.program_started", "error %lu", start_err);
    hvu_check(err == HV_OK && bits == EXIT_BADGE, "musl.program_finished", "wait error %lu, bits 0x%lx", err, bits);
    hvu_check(faults_seen == 0, "musl.no_fault", "%lu faults, last label %lu: 0x%lx 0x%lx rip 0x%lx 0x%lx",
              faults_seen, last_fault_label, last_fault_w[0], last_fault_w[1], last_fault_w[2], last_fault_w[3]);

    uint64_t count = shared->count < MUSL_MAX_RESULTS ? shared->count : MUSL_MAX_RESULTS;
    /* cppcheck cannot know the musl program filled the page meanwhile. */
    // cppcheck-suppress knownConditionTrueFalse
    for (uint64_t i = 0; i < count; i++) {
        struct musl_result *r = &shared->results[i];
        r->name[MUSL_NAME_MAX - 1] = '\0';
        r->detail[MUSL_DETAIL_MAX - 1] = '\0';
        hvu_check(r->ok != 0, r->name, "%s", r->detail);
    }
    hvu_check(count >= 10 && shared->done == 1, "musl.all_checks_reported", "%lu results, done %lu", count,
              shared->done);
    hvu_check(ipc->user_data[HVRT_UD_EXITED] == HVRT_EXIT_MAGIC && ipc->user_data[HVRT_UD_EXIT_CODE] == 0,
              "musl.exit_status_zero", "exited 0x%lx code %lu", ipc->user_data[HVRT_UD_EXITED],
              ipc->user_data[HVRT_UD_EXIT_CODE]);

    /* It stopped itself: suspended threads do not run, so its registers no longer change. */
    struct hv_msg a, b;
    uint64_t e1 = hvu_invoke(tcb, HV_INV_TCB_READ_REGISTERS, 0, NULL, &a);
    for (volatile unsigned i = 0; i < 1000000; i++)
        ;
    uint64_t e2 = hvu_invoke(tcb, HV_INV_TCB_READ_REGISTERS, 0, NULL, &b);
    hvu_check(e1 == HV_OK && e2 == HV_OK && a.w[0] == b.w[0] && a.w[1] == b.w[1], "musl.stopped_after_exit",
              "rip 0x%lx -> 0x%lx", a.w[0], b.w[0]);
    hvu_finish();
}
