/* SPDX-License-Identifier: MIT */
/* init: the root task: starts the manifest's servers with exactly their capabilities, audits and restarts them. */
#include "hv/hvrt.h"
#include "hv/init_abi.h"
#include "hv/manifest_check.h"
#include "hvu.h"
#include "init_test.h"
#include "lib/format.h"
#include "lib/kstring.h"

#define PAGE 4096ull
#define MANIFEST_MODULE "manifest"
#define COM1 0x3f8u
#define COM1_LAST (COM1 + 7u)
#define EXIT_WATCH_PRIORITY 200u
#define EXIT_BADGE (1ull << 32)          /* fault-endpoint badge of exit reports (servers: index) */
#define IPC_PEEK_VA 0x0000630000000000ull /* where init reads exited servers' IPC buffers */
#define MAX_FAULTS 64u                   /* a server crash-looping ends the run */
#define INIT_FIXED_CAPS 4u               /* slots 1..4 (hv/init_abi.h) */

_Static_assert(INIT_SLOT_TCB == HVRT_SLOT_TCB && INIT_SLOT_CONSOLE == HVRT_SLOT_CONSOLE &&
                   INIT_SLOT_EXIT_NTFN == HVRT_SLOT_EXIT_NTFN,
               "init fills the slots the musl runtime expects");

/* The decoded manifest (about 34 KiB: static, never on the stack). */
static hv_manifest_Manifest manifest;

/* Ends the run as a failure: the manifest cannot be acted on. */
__attribute__((noreturn)) static void reject(const char *reason)
{
    hvu_printf("init: manifest rejected: %s\n", reason);
    hvu_check(false, "init.manifest_accepted", "%s", reason);
    hvu_finish();
}

/* "rwgG" with '-' for each right not held. */
static void rights_str(const hv_manifest_Capability *c, char out[5])
{
    const hv_manifest_Rights *r = &c->rights;
    bool has = c->has_rights;
    out[0] = has && r->read ? 'r' : '-';
    out[1] = has && r->write ? 'w' : '-';
    out[2] = has && r->grant ? 'g' : '-';
    out[3] = has && r->grant_reply ? 'G' : '-';
    out[4] = '\0';
}

/* The audit record of one manifest capability. */
static void audit_cap(const hv_manifest_Server *s, const hv_manifest_Capability *c)
{
    char rights[5];
    rights_str(c, rights);
    const char *name = s->name;
    unsigned slot = c->slot;
    switch (c->which_kind) {
    case hv_manifest_Capability_untyped_tag:
        hvu_printf("init: audit %s slot %u untyped %lu-bytes rights %s badge 0\n", name, slot,
                   (unsigned long)c->kind.untyped.size_bytes, rights);
        break;
    case hv_manifest_Capability_endpoint_tag:
        hvu_printf("init: audit %s slot %u endpoint %s rights %s badge %lu\n", name, slot,
                   c->kind.endpoint.server, rights, (unsigned long)c->kind.endpoint.badge);
        break;
    case hv_manifest_Capability_service_tag:
        hvu_printf("init: audit %s slot %u service %s rights %s badge 0\n", name, slot, name, rights);
        break;
    case hv_manifest_Capability_notification_tag:
        hvu_printf("init: audit %s slot %u notification new rights %s badge %lu\n", name, slot, rights,
                   (unsigned long)c->kind.notification.badge);
        break;
    case hv_manifest_Capability_irq_tag:
        hvu_printf("init: audit %s slot %u irq line-%u rights %s badge 0\n", name, slot,
                   (unsigned)c->kind.irq.line, rights);
        break;
    case hv_manifest_Capability_io_ports_tag:
        hvu_printf("init: audit %s slot %u io_ports 0x%x+%u rights %s badge 0\n", name, slot,
                   (unsigned)c->kind.io_ports.base, (unsigned)c->kind.io_ports.count, rights);
        break;
    case hv_manifest_Capability_device_memory_tag:
        hvu_printf("init: audit %s slot %u device_memory 0x%lx+0x%lx%s rights %s badge 0\n", name, slot,
                   (unsigned long)c->kind.device_memory.base, (unsigned long)c->kind.device_memory.size,
                   c->kind.device_memory.uncached ? "-uncached" : "", rights);
        break;
    case hv_manifest_Capability_guest_memory_tag:
        hvu_printf("init: audit %s slot %u guest_memory %s rights %s badge 0\n", name, slot,
                   c->kind.guest_memory.vm, rights);
        break;
    case hv_manifest_Capability_vm_control_tag:
        hvu_printf("init: audit %s slot %u vm_control %s rights %s badge 0\n", name, slot,
                   c->kind.vm_control.vm, rights);
        break;
    case hv_manifest_Capability_sched_control_tag:
        hvu_printf("init: audit %s slot %u sched_control all rights %s badge 0\n", name, slot, rights);
        break;
    default:
        hvu_printf("init: audit %s slot %u unknown - rights %s badge 0\n", name, slot, rights);
        break;
    }
}

/* Prints a server's whole authority; returns the number of audit lines. */
static unsigned audit_server(const hv_manifest_Server *s)
{
    /* The runtime's fixed slots (libhvrt/include/hv/hvrt.h), filled by init itself. */
    hvu_printf("init: audit %s slot 1 tcb %s rights rwgG badge 0\n", s->name, s->name);
    hvu_printf("init: audit %s slot 2 io_ports 0x3f8+8 rights rw-- badge 0\n", s->name);
    hvu_printf("init: audit %s slot 3 notification exit rights -w-- badge 0\n", s->name);
    hvu_printf("init: audit %s slot 4 reply %s rights rwgG badge 0\n", s->name, s->name);
    for (pb_size_t i = 0; i < s->caps_count; i++)
        audit_cap(s, &s->caps[i]);
    return INIT_FIXED_CAPS + s->caps_count;
}

/* What init keeps of each server: enough to tear it down and build it again. */
struct server {
    const hv_manifest_Server *m;
    uint64_t service;       /* its service endpoint (init owns it; clients keep theirs) */
    uint64_t first, last;   /* init's slots derived for this incarnation: (first, last) */
    uint64_t cnode;         /* its CNode, unguarded (init's handle for filling it) */
    uint64_t tcb;
    uint64_t ipc_frame;
    unsigned restarts;
    bool running;
};

static const struct hv_bootinfo *boot;
static struct server servers[sizeof(manifest.servers) / sizeof(manifest.servers[0])];
static uint64_t fault_ep, fault_reply, exit_ntfn;
static unsigned audit_lines, faults_seen, failures_to_start;

static uint64_t rights_of(const hv_manifest_Capability *c)
{
    if (!c->has_rights)
        return 0;
    return (c->rights.read ? HV_RIGHT_READ : 0) | (c->rights.write ? HV_RIGHT_WRITE : 0) |
           (c->rights.grant ? HV_RIGHT_GRANT : 0) | (c->rights.grant_reply ? HV_RIGHT_GRANT_REPLY : 0);
}

/* Copies / mints / moves init's cap `src` into slot `dest` of a server's CNode. */
static uint64_t put(uint64_t cnode, uint64_t dest, uint64_t src, uint64_t rights, uint64_t badge, bool mint)
{
    return mint ? hvu_give_mint(cnode, INIT_SERVER_CNODE_RADIX, dest, src, rights, badge)
                : hvu_give_copy(cnode, INIT_SERVER_CNODE_RADIX, dest, src, rights);
}

static uint64_t move_in(uint64_t cnode, uint64_t dest, uint64_t src)
{
    return hvu_give_move(cnode, INIT_SERVER_CNODE_RADIX, dest, src);
}

static int server_index(const char *name)
{
    for (pb_size_t i = 0; i < manifest.servers_count; i++) {
        if (strcmp(manifest.servers[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}

static unsigned log2_of(uint64_t v)
{
    unsigned b = 0;
    while ((1ull << b) < v)
        b++;
    return b;
}

/* Fills one manifest capability into the server's CNode. */
static uint64_t install_cap(struct server *s, const hv_manifest_Capability *c)
{
    uint64_t err = HV_OK, rights = rights_of(c), obj;
    switch (c->which_kind) {
    case hv_manifest_Capability_service_tag:
        return put(s->cnode, c->slot, s->service, rights, 0, false);
    case hv_manifest_Capability_endpoint_tag: {
        int to = server_index(c->kind.endpoint.server);
        if (to < 0)
            return HV_ERR_INVALID_ARGUMENT;
        return put(s->cnode, c->slot, servers[to].service, rights, c->kind.endpoint.badge, true);
    }
    case hv_manifest_Capability_untyped_tag:
        obj = hvu_retype(HV_OBJ_UNTYPED, log2_of(c->kind.untyped.size_bytes), &err);
        /* An untyped cap cannot be copied (two holders would retype the same memory): moved. */
        (void)rights;
        return obj == 0 ? err : move_in(s->cnode, c->slot, obj);
    case hv_manifest_Capability_notification_tag:
        obj = hvu_retype(HV_OBJ_NOTIFICATION, 0, &err);
        return obj == 0 ? err : put(s->cnode, c->slot, obj, rights, c->kind.notification.badge, true);
    case hv_manifest_Capability_io_ports_tag: {
        obj = hvu_alloc_slot();
        uint64_t first = c->kind.io_ports.base, last = first + c->kind.io_ports.count - 1;
        uint64_t args[5] = { first, last, HV_ROOT_CNODE, obj, 64 };
        err = hvu_invoke(HV_ROOT_IOPORT_CONTROL, HV_INV_IOPORT_CONTROL_ISSUE, 5, args, NULL);
        return err != HV_OK ? err : put(s->cnode, c->slot, obj, rights, 0, false);
    }
    default:
        hvu_printf("init: server %s slot %u: this kind of capability is not supported yet\n", s->m->name,
                   (unsigned)c->slot);
        return HV_ERR_INVALID_ARGUMENT;
    }
}

/* Builds server `idx` from its boot module with exactly its manifest's capabilities and starts it. */
static uint64_t start_server(unsigned idx)
{
    struct server *s = &servers[idx];
    const hv_manifest_Server *m = s->m;
    uint64_t err, e = HV_OK;
    s->first = hvu_alloc_slot();    /* a marker: everything after it is this incarnation's */
    struct hvu_image img;
    err = hvu_load_module(boot, m->module, &img);
    if (err != HV_OK) {
        hvu_printf("init: server %s: cannot load module \"%s\": error %lu\n", m->name, m->module, err);
        s->last = hvu_alloc_slot();
        return err;
    }
    s->ipc_frame = img.ipc_frame;
    s->cnode = hvu_retype(HV_OBJ_CNODE, INIT_SERVER_CNODE_RADIX, &err);
    uint64_t guarded = 0, fault_cap = 0;
    e |= hvu_mint(s->cnode, HV_RIGHTS_ALL, 64u - INIT_SERVER_CNODE_RADIX, &guarded);
    s->tcb = hvu_retype(HV_OBJ_TCB, 0, &err);
    uint64_t sc = hvu_retype(HV_OBJ_SCHED_CONTEXT, 0, &err);
    uint64_t reply = hvu_retype(HV_OBJ_REPLY, 0, &err);
    if (s->cnode == 0 || s->tcb == 0 || sc == 0 || reply == 0) {
        s->last = hvu_alloc_slot();
        return HV_ERR_NOT_ENOUGH_MEMORY;
    }
    uint64_t console = hvu_alloc_slot();
    uint64_t ports[5] = { COM1, COM1_LAST, HV_ROOT_CNODE, console, 64 };
    e |= hvu_invoke(HV_ROOT_IOPORT_CONTROL, HV_INV_IOPORT_CONTROL_ISSUE, 5, ports, NULL);
    e |= put(s->cnode, INIT_SLOT_TCB, s->tcb, HV_RIGHTS_ALL, 0, false);
    e |= move_in(s->cnode, INIT_SLOT_CONSOLE, console);
    e |= put(s->cnode, INIT_SLOT_EXIT_NTFN, exit_ntfn, HV_RIGHT_WRITE, 1ull << idx, true);
    e |= move_in(s->cnode, INIT_SLOT_REPLY, reply);     /* a Reply cannot be copied */
    for (pb_size_t i = 0; i < m->caps_count; i++) {
        err = install_cap(s, &m->caps[i]);
        if (err != HV_OK)
            hvu_printf("init: server %s slot %u: error %lu\n", m->name, (unsigned)m->caps[i].slot, err);
        e |= err;
    }
    /* Faults come to init, badged with the server's index. */
    e |= hvu_mint(fault_ep, HV_RIGHT_WRITE | HV_RIGHT_GRANT_REPLY, idx, &fault_cap);
    uint64_t cfg[5] = { fault_cap, guarded, img.pml4, img.ipc_frame, img.ipc_va };
    e |= hvu_invoke(s->tcb, HV_INV_TCB_CONFIGURE, 5, cfg, NULL);
    uint64_t prio[1] = { m->priority };
    e |= hvu_invoke(s->tcb, HV_INV_TCB_SET_PRIORITY, 1, prio, NULL);
    /* hvrt.h: rdi = IPC buffer va, rsi = TSC Hz (0: assume 1 GHz). */
    uint64_t regs[5] = { img.entry, img.stack_top, 0, img.ipc_va, 0 };
    e |= hvu_invoke(s->tcb, HV_INV_TCB_WRITE_REGISTERS, 5, regs, NULL);
    uint64_t sc_cfg[3] = { m->budget_us, m->period_us, 0 };
    e |= hvu_invoke(sc, HV_INV_SC_CONFIGURE, 3, sc_cfg, NULL);
    uint64_t bind[1] = { s->tcb };
    e |= hvu_invoke(sc, HV_INV_SC_BIND, 1, bind, NULL);
    s->last = hvu_alloc_slot();
    if (e != HV_OK) {
        hvu_printf("init: server %s: setup failed (or-ed errors 0x%lx)\n", m->name, e);
        return e;
    }
    e = hvu_invoke(s->tcb, HV_INV_TCB_RESUME, 0, NULL, NULL);
    s->running = e == HV_OK;
    return e;
}

/* Deletes everything init derived for the server's current incarnation (not its service endpoint). */
static void stop_server(struct server *s)
{
    (void)hvu_invoke(s->tcb, HV_INV_TCB_SUSPEND, 0, NULL, NULL);
    for (uint64_t slot = 1; slot < HV_MANIFEST_FIRST_SLOT; slot++) {
        uint64_t args[2] = { slot, INIT_SERVER_CNODE_RADIX };
        (void)hvu_invoke(s->cnode, HV_INV_CNODE_DELETE, 2, args, NULL);
    }
    for (pb_size_t i = 0; i < s->m->caps_count; i++) {
        uint64_t args[2] = { s->m->caps[i].slot, INIT_SERVER_CNODE_RADIX };
        (void)hvu_invoke(s->cnode, HV_INV_CNODE_DELETE, 2, args, NULL);
    }
    for (uint64_t slot = s->last - 1; slot > s->first; slot--)
        (void)hvu_delete(slot);
    s->running = false;
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

/* The exit code a server left in its IPC buffer (hvrt.h: user_data[0] magic, [1] code); -1 if none. */
static int64_t exit_code(const struct server *s)
{
    static uint64_t peek_va = IPC_PEEK_VA;
    uint64_t copy;
    if (hvu_copy(s->ipc_frame, HV_RIGHT_READ, &copy) != HV_OK ||
        hvu_map_frame_into(HV_ROOT_VSPACE, copy, peek_va, 0) != HV_OK)
        return -1;
    const volatile struct hv_ipc_buffer *ipc = (const volatile struct hv_ipc_buffer *)(uintptr_t)peek_va;
    peek_va += PAGE;
    if (ipc->user_data[HVRT_UD_EXITED] != HVRT_EXIT_MAGIC)
        return -1;
    return (int64_t)ipc->user_data[HVRT_UD_EXIT_CODE];
}

void user_main(const struct hv_bootinfo *bi);

void user_main(const struct hv_bootinfo *bi)
{
    boot = bi;
    hvu_init(bi);
    const uint8_t *bytes;
    uint64_t size;
    if (hvu_map_module(bi, MANIFEST_MODULE, &bytes, &size) != HV_OK)
        reject("no boot module \"" MANIFEST_MODULE "\" (or it cannot be mapped)");

    const char *detail = NULL;
    if (!manifest_decode(bytes, size, &manifest, &detail)) {
        char why[HV_MANIFEST_ERR_MAX];
        (void)format_buf(why, sizeof(why), "not a Manifest: %s", detail != NULL ? detail : "decode error");
        reject(why);
    }
    char err_text[HV_MANIFEST_ERR_MAX];
    if (manifest_check(&manifest, err_text, sizeof(err_text)) != NULL)
        reject(err_text);
    hvu_printf("init: manifest accepted: %u servers, %u vms\n", (unsigned)manifest.servers_count,
               (unsigned)manifest.vms_count);
    hvu_check(true, "init.manifest_accepted", "accepted");

    /* init's own objects: the fault endpoint, exit notification, every service endpoint. */
    uint64_t err, e = HV_OK, report;
    fault_ep = hvu_retype(HV_OBJ_ENDPOINT, 0, &err);
    fault_reply = hvu_retype(HV_OBJ_REPLY, 0, &err);
    exit_ntfn = hvu_retype(HV_OBJ_NOTIFICATION, 0, &err);
    e |= hvu_mint(fault_ep, HV_RIGHT_WRITE, EXIT_BADGE, &report);
    for (pb_size_t i = 0; i < manifest.servers_count; i++) {
        servers[i].m = &manifest.servers[i];
        for (pb_size_t j = 0; j < servers[i].m->caps_count; j++) {
            if (servers[i].m->caps[j].which_kind == hv_manifest_Capability_service_tag)
                servers[i].service = hvu_retype(HV_OBJ_ENDPOINT, 0, &err);
        }
        /* Mapped once, before any server's slots: a restart reloads from this mapping. */
        const uint8_t *image;
        e |= hvu_map_module(bi, servers[i].m->module, &image, &size);
    }
    struct hvu_thread watcher;
    e |= hvu_thread_start(&watcher, exit_watch, report, EXIT_WATCH_PRIORITY, 0, 1000, 10000);
    hvu_check(e == HV_OK && fault_ep != 0 && fault_reply != 0 && exit_ntfn != 0, "init.own_objects",
              "or-ed errors 0x%lx", e);

    unsigned started = 0, want_lines = 0;
    for (pb_size_t i = 0; i < manifest.servers_count; i++) {
        audit_lines += audit_server(servers[i].m);
        want_lines += INIT_FIXED_CAPS + servers[i].m->caps_count;
        err = start_server(i);
        if (err == HV_OK) {
            started++;
            hvu_printf("init: server %s started\n", servers[i].m->name);
        } else {
            failures_to_start++;
            hvu_printf("init: server %s not started: error %lu\n", servers[i].m->name, err);
        }
    }
    hvu_check(audit_lines == want_lines, "init.audit_printed", "%u audit lines, want %u", audit_lines,
              want_lines);
    hvu_check(started == manifest.servers_count, "init.servers_started", "%u of %u started", started,
              (unsigned)manifest.servers_count);

    /* Every server's fault handler, until the last running server has exited. */
    unsigned running = started;
    int client = server_index("client");
    int64_t client_code = -1;
    while (running > 0 && faults_seen < MAX_FAULTS) {
        struct hv_msg m = { 0, 0, { 0, 0, 0, 0 } };
        if (hv_recv(fault_ep, fault_reply, &m) != HV_OK)
            continue;
        if (m.badge == EXIT_BADGE) {
            for (pb_size_t i = 0; i < manifest.servers_count; i++) {
                if (!(m.w[0] & (1ull << i)) || !servers[i].running)
                    continue;
                int64_t code = exit_code(&servers[i]);
                hvu_printf("init: server %s exited: code %ld\n", servers[i].m->name, (long)code);
                if ((int)i == client)
                    client_code = code;
                servers[i].running = false;
                running--;
            }
            /* The test's end: the client is done (the others serve forever). */
            if (client >= 0 && !servers[client].running)
                break;
            continue;
        }
        if (m.badge >= manifest.servers_count)
            continue;
        struct server *s = &servers[m.badge];
        faults_seen++;
        uint64_t label = hv_tag_label(m.tag);
        uint64_t vector = label == HV_FAULT_PAGE ? 14 : m.w[0];
        uint64_t addr = label == HV_FAULT_PAGE ? m.w[0] : m.w[1];
        uint64_t rip = label == HV_FAULT_SYSCALL ? m.w[1] : m.w[2];
        hvu_printf("init: server %s faulted: vector %lu addr 0x%lx rip 0x%lx\n", s->m->name, vector, addr, rip);
        stop_server(s);
        if (s->m->restart == hv_manifest_RestartPolicy_RESTART_NEVER) {
            hvu_printf("init: server %s stays stopped (restart: never)\n", s->m->name);
            running--;
            continue;
        }
        err = start_server((unsigned)m.badge);
        s->restarts++;
        if (err == HV_OK)
            hvu_printf("init: server %s restarted (%u)\n", s->m->name, s->restarts);
        else
            hvu_printf("init: server %s restart failed: error %lu\n", s->m->name, err);
    }

    int echo = server_index("echo");
    if (echo >= 0) {
        hvu_check(servers[echo].restarts >= 1 && servers[echo].running, "init.echo_restarted",
                  "%u restarts, running %d", servers[echo].restarts, (int)servers[echo].running);
    }
    if (client >= 0) {
        hvu_check(client_code >= (int64_t)CLIENT_CALLS - 1 && client_code <= (int64_t)CLIENT_CALLS, "init.client_good_replies",
                  "client exit code %ld (its good replies; %d = errors)", (long)client_code, CLIENT_EXIT_ERRORS);
    }
    hvu_finish();
}
