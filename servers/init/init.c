/* SPDX-License-Identifier: MIT */
/* init: the root task: starts the manifest's servers with exactly their capabilities, audits and restarts them. */
#include "hv/hvrt.h"
#include "init.h"
#include "lib/format.h"
#include "lib/kstring.h"

#define MANIFEST_MODULE "manifest"
#define EXIT_WATCH_PRIORITY 200u
#define EXIT_BADGE (1ull << 32)          /* fault-endpoint badge of exit reports (servers: their index) */
#define MSG_EXIT HV_FAULT_NONE           /* dispatch index of an exit report; faults use their label */

/*
 * The capabilities init gets from the core (hv/bootinfo.h) and what it uses each for —
 * its whole authority; every server's is a part of it, listed by the audit lines.
 */
static const struct {
    uint64_t slot;
    const char *use;
} init_caps[] = {
    { HV_ROOT_TCB, "its own thread: bounds the priorities it gives" },
    { HV_ROOT_CNODE, "its CSpace: init's objects, one slot run per server pool" },
    { HV_ROOT_VSPACE, "its address space: the manifest, images, scratch and exit-code windows" },
    { HV_ROOT_SCHED_CONTEXT, "its own budget" },
    { HV_ROOT_IRQ_CONTROL, "IRQ handlers for the manifest's irq caps" },
    { HV_ROOT_IOPORT_CONTROL, "every server's console and the manifest's io_ports caps" },
    { HV_ROOT_BOOTINFO_FRAME, "bootinfo: untyped memory, modules, CPUs, TSC rate" },
    { HV_ROOT_IPC_BUFFER_FRAME, "its IPC buffer" },
};

hv_manifest_Manifest manifest;          /* about 34 KiB: static, never on the stack */
struct server servers[INIT_MAX_SERVERS];
const struct hv_bootinfo *boot;
uint64_t fault_ep, exit_ntfn;
static uint64_t fault_reply;

/* Ends the run as a failure: the manifest cannot be acted on. */
__attribute__((noreturn)) static void reject(const char *reason)
{
    hvu_printf("init: manifest rejected: %s\n", reason);
    hvu_check(false, "init.manifest_accepted", "%s", reason);
    hvu_finish();
}

/* Waits for servers' exit signals and passes each on to init's fault endpoint (badge EXIT_BADGE). */
static void exit_watch(uint64_t report)
{
    for (;;) {
        uint64_t bits = 0;
        if (hv_wait(exit_ntfn, &bits) != HV_OK)
            continue;
        struct hv_msg m = { hv_tag(0, 1, 0), 0, { bits, 0, 0, 0 } };
        (void)hv_send(report, &m);
    }
}

/* Decodes and checks the manifest; any failure ends the run with the reason. */
static void read_manifest(void)
{
    const uint8_t *bytes;
    uint64_t size;
    if (hvu_map_module(boot, MANIFEST_MODULE, &bytes, &size) != HV_OK)
        reject("no boot module \"" MANIFEST_MODULE "\" (or it cannot be mapped)");
    const char *detail = NULL;
    if (!manifest_decode(bytes, size, &manifest, &detail)) {
        char why[HV_MANIFEST_ERR_MAX];
        (void)format_buf(why, sizeof(why), "not a Manifest: %s", detail != NULL ? detail : "decode error");
        reject(why);
    }
    char err_text[HV_MANIFEST_ERR_MAX];
    if (manifest_check(&manifest, err_text, sizeof(err_text)) != NULL ||
        caps_check(&manifest, err_text, sizeof(err_text)) != NULL)
        reject(err_text);
    hvu_printf("init: manifest accepted: %u servers, %u vms\n", (unsigned)manifest.servers_count,
               (unsigned)manifest.vms_count);
    hvu_check(true, "init.manifest_accepted", "accepted");
}

/* SEF-style startup: own objects, one pool per server, the audit record, every server started. */
static void init_startup(const struct hv_bootinfo *bi)
{
    boot = bi;
    hvu_init(bi);
    for (unsigned i = 0; i < sizeof(init_caps) / sizeof(init_caps[0]); i++)
        hvu_printf("init: holds slot %lu: %s\n", (unsigned long)init_caps[i].slot, init_caps[i].use);
    verdict_init(bi->cmdline);
    read_manifest();

    uint64_t err, e = HV_OK, report;
    fault_ep = hvu_retype(HV_OBJ_ENDPOINT, 0, &err);
    fault_reply = hvu_retype(HV_OBJ_REPLY, 0, &err);
    exit_ntfn = hvu_retype(HV_OBJ_NOTIFICATION, 0, &err);
    e |= hvu_mint(fault_ep, HV_RIGHT_WRITE, EXIT_BADGE, &report);
    /* init's own page tables for the windows it maps servers' pages into, made before any pool. */
    e |= hvu_prepare_va(HVU_SCRATCH_VA);
    e |= server_prepare_peek();
    /* The VMs before any pool: their RAM and vCPUs are the VM's, made once from init's memory. */
    vm_build_all();
    for (pb_size_t i = 0; i < manifest.servers_count; i++) {
        struct server *s = &servers[i];
        s->m = &manifest.servers[i];
        s->idx = i;
        s->last_exit = -1;
        for (pb_size_t j = 0; j < s->m->caps_count; j++) {
            if (s->m->caps[j].which_kind == hv_manifest_Capability_service_tag)
                s->service = hvu_retype(HV_OBJ_ENDPOINT, 0, &err);
        }
        e |= server_prepare(s);     /* maps the image once, carves the pool */
    }
    struct hvu_thread watcher;
    e |= hvu_thread_start(&watcher, exit_watch, report, EXIT_WATCH_PRIORITY, 0, 1000, 10000);
    hvu_check(e == HV_OK && fault_ep != 0 && fault_reply != 0 && exit_ntfn != 0, "init.own_objects",
              "or-ed errors 0x%lx", (unsigned long)e);

    unsigned started = 0, audit_lines = 0, want_lines = 0;
    for (pb_size_t i = 0; i < manifest.servers_count; i++) {
        struct server *s = &servers[i];
        audit_lines += audit_server(s->m);
        want_lines += INIT_FIXED_CAPS + s->m->caps_count;
        err = s->pool.untyped != 0 ? server_start(s) : HV_ERR_NOT_ENOUGH_MEMORY;
        if (err == HV_OK) {
            started++;
            s->first_used = s->pool.used;
            s->first_slots = s->pool.slot_next - s->pool.slot_first;
            hvu_printf("init: server %s started: pool %lu of %lu KiB, %lu of %lu slots used\n", s->m->name,
                       (unsigned long)s->pool.used >> 10, (unsigned long)(1ull << s->pool.size_bits) >> 10,
                       (unsigned long)s->first_slots, (unsigned long)(s->pool.slot_end - s->pool.slot_first));
        } else {
            hvu_printf("init: server %s not started: error %lu\n", s->m->name, (unsigned long)err);
        }
    }
    hvu_printf("init: all started: init has %lu KiB and %lu slots free\n", (unsigned long)server_free_bytes() >> 10,
               (unsigned long)server_free_slots());
    verdict_started(audit_lines, want_lines, started);
}

/* An exit report: w0 has a bit per server that signalled its exit notification. */
static void do_exit(const struct hv_msg *m)
{
    for (pb_size_t i = 0; i < manifest.servers_count; i++) {
        struct server *s = &servers[i];
        if (!(m->w[0] & (1ull << i)) || s->state != SERVER_RUNNING)
            continue;
        s->last_exit = server_exit_code(s);
        s->exits++;
        hvu_printf("init: server %s exited: code %ld\n", s->m->name, (long)s->last_exit);
        char why[32];
        (void)format_buf(why, sizeof(why), "exit code %ld", (long)s->last_exit);
        server_stopped(s, s->last_exit != 0, why);   /* a clean exit is exit(0) */
    }
}

/* A fault message from a server's thread (hv/fault.h): it has stopped. */
static void do_fault(const struct hv_msg *m)
{
    if (m->badge >= manifest.servers_count || servers[m->badge].state != SERVER_RUNNING)
        return;
    struct server *s = &servers[m->badge];
    uint64_t label = hv_tag_label(m->tag);
    uint64_t vector = label == HV_FAULT_PAGE ? 14 : label == HV_FAULT_EXCEPTION ? m->w[0] : 0;
    uint64_t addr = label == HV_FAULT_PAGE ? m->w[0] : label == HV_FAULT_SYSCALL ? m->w[0] : m->w[1];
    uint64_t rip = label == HV_FAULT_SYSCALL ? m->w[1] : label == HV_FAULT_TIMEOUT ? m->w[1] : m->w[2];
    const char *kind = label == HV_FAULT_PAGE        ? "page fault"
                       : label == HV_FAULT_EXCEPTION ? "exception"
                       : label == HV_FAULT_SYSCALL   ? "unknown system call"
                                                     : "budget timeout";
    hvu_printf("init: server %s faulted: %s vector %lu addr 0x%lx rip 0x%lx\n", s->m->name, kind,
               (unsigned long)vector, (unsigned long)addr, (unsigned long)rip);
    char why[48];
    (void)format_buf(why, sizeof(why), "faulted: %s", kind);
    server_stopped(s, true, why);
}

/* What init does for each message on its fault endpoint: an exit report, or a fault by its label. */
static void (*const dispatch[])(const struct hv_msg *m) = {
    [MSG_EXIT] = do_exit,
    [HV_FAULT_PAGE] = do_fault,
    [HV_FAULT_EXCEPTION] = do_fault,
    [HV_FAULT_SYSCALL] = do_fault,
    [HV_FAULT_TIMEOUT] = do_fault,
};

void user_main(const struct hv_bootinfo *bi);

void user_main(const struct hv_bootinfo *bi)
{
    init_startup(bi);
    /* The receive loop: every server's fault handler and its exit watcher, forever (a test ends it). */
    while (!verdict_done()) {
        struct hv_msg m = { 0, 0, { 0, 0, 0, 0 } };
        if (hv_recv(fault_ep, fault_reply, &m) != HV_OK)
            continue;
        uint64_t kind = m.badge == EXIT_BADGE ? MSG_EXIT : hv_tag_label(m.tag);
        if (kind == MSG_EXIT && m.badge != EXIT_BADGE)
            continue;       /* only the exit watcher sends exit reports */
        if (kind < sizeof(dispatch) / sizeof(dispatch[0]) && dispatch[kind] != NULL)
            dispatch[kind](&m);
    }
    verdict_finish();
}
