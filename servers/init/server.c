/* SPDX-License-Identifier: MIT */
/* server: one server's incarnations: its pool, building it from its boot image, tearing it down, restart policy. */
#include "hv/hvrt.h"
#include "hv/init_abi.h"
#include "init.h"
#include "kernel/elf.h"
#include "lib/kstring.h"

#define PAGE 4096ull
#define TABLE_SPAN (2ull << 20)                 /* what one page table maps */
#define IPC_PEEK_VA 0x0000630000000000ull       /* where init reads an exited server's IPC buffer */
#define FIXED_SLOTS 8u      /* CNode, its guarded mint, TCB, SchedContext, Reply, console, fault cap, peek copy */
#define SPARE_SLOTS 16u

_Static_assert(INIT_SLOT_TCB == HVRT_SLOT_TCB && INIT_SLOT_CONSOLE == HVRT_SLOT_CONSOLE &&
                   INIT_SLOT_EXIT_NTFN == HVRT_SLOT_EXIT_NTFN,
               "init fills the slots the musl runtime expects");

static unsigned pool_failures;

unsigned server_pool_failures(void)
{
    return pool_failures;
}

int server_index(const char *name)
{
    for (pb_size_t i = 0; i < manifest.servers_count; i++) {
        if (strcmp(manifest.servers[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}

static unsigned log2_ceil(uint64_t v)
{
    unsigned b = 0;
    while ((1ull << b) < v)
        b++;
    return b;
}

/* How many `span`-sized, `span`-aligned blocks [lo, hi) touches. */
static uint64_t blocks(uint64_t lo, uint64_t hi, uint64_t span)
{
    return ((hi + span - 1) & ~(span - 1)) / span - (lo & ~(span - 1)) / span;
}

/*
 * The most one incarnation takes: bytes and slots. It follows what start() below and
 * hvu_load_module() make: a frame per page (and a read-only copy of each read-only one),
 * three page tables retyped per missing table (those already mapped are deleted again,
 * their memory reused only when the pool is reset), the PML4, the CNode and the objects.
 */
static uint64_t needs(const struct server *s, uint64_t *bytes, uint64_t *slots)
{
    const hv_manifest_Server *m = s->m;
    const uint8_t *file;
    uint64_t size;
    uint64_t err = hvu_map_module(boot, m->module, &file, &size);
    if (err != HV_OK)
        return err;
    struct elf_image elf;
    if (elf_parse(file, size, HVU_SPAWN_VA_MIN, HVU_SPAWN_VA_END, &elf) != ELF_OK)
        return HV_ERR_INVALID_ARGUMENT;
    uint64_t pages = HVU_SPAWN_STACK_PAGES + 1, copies = 0, tables = 2;   /* stack, IPC buffer: 2 tables */
    for (unsigned i = 0; i < elf.segment_count; i++) {
        const struct elf_segment *seg = &elf.segments[i];
        uint64_t p = blocks(seg->vaddr, seg->vaddr + seg->memsz, PAGE);
        pages += p;
        if (!(seg->flags & ELF_PF_W))
            copies += p;
        tables += blocks(seg->vaddr, seg->vaddr + seg->memsz, TABLE_SPAN);
    }
    uint64_t b = (pages + 3 * tables + 1) * PAGE + (1ull << hvu_object_bits(HV_OBJ_CNODE, INIT_SERVER_CNODE_RADIX)) +
                 (1ull << HV_TCB_BITS) + (1ull << HV_SCHED_CONTEXT_BITS) + (1ull << HV_REPLY_BITS);
    uint64_t n = pages + copies + 3 * tables + 1 + FIXED_SLOTS + SPARE_SLOTS;
    for (pb_size_t i = 0; i < m->caps_count; i++) {
        const hv_manifest_Capability *c = &m->caps[i];
        n++;
        if (c->which_kind == hv_manifest_Capability_untyped_tag)
            b += 1ull << log2_ceil(c->kind.untyped.size_bytes);
        else if (c->which_kind == hv_manifest_Capability_notification_tag)
            b += 1ull << HV_NOTIFICATION_BITS;
    }
    vm_needs(s, &b, &n);
    *bytes = b;
    *slots = n;
    return HV_OK;
}

uint64_t server_prepare(struct server *s)
{
    uint64_t bytes, slots;
    uint64_t err = needs(s, &bytes, &slots);
    if (err == HV_OK)
        err = hvu_pool_create(&s->pool, log2_ceil(bytes), slots);
    if (err != HV_OK) {
        hvu_printf("init: server %s: no pool: error %lu\n", s->m->name, (unsigned long)err);
        return err;
    }
    hvu_printf("init: server %s: pool of %lu KiB (an incarnation needs at most %lu KiB) and %lu slots\n",
               s->m->name, (unsigned long)(1ull << s->pool.size_bits) >> 10, (unsigned long)bytes >> 10,
               (unsigned long)slots);
    return HV_OK;
}

/* The large objects first, largest first: each starts where the last ended, so none is padded. */
static uint64_t make_large(struct server *s)
{
    uint64_t err = HV_OK;
    unsigned cnode_bits = hvu_object_bits(HV_OBJ_CNODE, INIT_SERVER_CNODE_RADIX);
    memset(s->made, 0, sizeof(s->made));
    for (unsigned bits = HV_UNTYPED_MAX_BITS; bits > HV_FRAME_BITS - 1u && err == HV_OK; bits--) {
        if (bits == cnode_bits)
            s->cnode = hvu_retype(HV_OBJ_CNODE, INIT_SERVER_CNODE_RADIX, &err);
        for (pb_size_t i = 0; i < s->m->caps_count && err == HV_OK; i++) {
            const hv_manifest_Capability *c = &s->m->caps[i];
            if (c->which_kind == hv_manifest_Capability_untyped_tag && log2_ceil(c->kind.untyped.size_bytes) == bits)
                s->made[i] = hvu_retype(HV_OBJ_UNTYPED, bits, &err);
        }
    }
    return err;
}

/* Builds one incarnation from the pool (the current one): CSpace, address space, thread; not started. */
static uint64_t build(struct server *s)
{
    const hv_manifest_Server *m = s->m;
    uint64_t err = make_large(s), e = HV_OK;
    if (err != HV_OK)
        return err;
    struct hvu_image img;
    if ((err = hvu_load_module(boot, m->module, &img)) != HV_OK) {
        hvu_printf("init: server %s: cannot load module \"%s\": error %lu\n", m->name, m->module,
                   (unsigned long)err);
        return err;
    }
    s->ipc_frame = img.ipc_frame;
    /* A vmm's VM windows: 4 KiB pages like the image's, before the small objects. */
    if ((err = vm_map_windows(s, img.pml4)) != HV_OK)
        return err;
    /* The small objects, largest first (TCB, SchedContext, then notifications in caps_install, Reply). */
    uint64_t guarded = 0, fault_cap = 0;
    e |= hvu_mint(s->cnode, HV_RIGHTS_ALL, 64u - INIT_SERVER_CNODE_RADIX, &guarded);
    s->tcb = hvu_retype(HV_OBJ_TCB, 0, &err);
    uint64_t sc = hvu_retype(HV_OBJ_SCHED_CONTEXT, 0, &err);
    if (s->tcb == 0 || sc == 0)
        return HV_ERR_NOT_ENOUGH_MEMORY;
    uint64_t console = hvu_alloc_slot();
    /* Slot 2, the runtime's console: the manifest's UART (COM1, the appliance console, by default). */
    uint64_t console_base = hv_serial_base(m->console);
    uint64_t ports[5] = { console_base, console_base + HV_SERIAL_PORT_COUNT - 1, HV_ROOT_CNODE, console, 64 };
    e |= hvu_invoke(HV_ROOT_IOPORT_CONTROL, HV_INV_IOPORT_CONTROL_ISSUE, 5, ports, NULL);
    e |= hvu_give_copy(s->cnode, INIT_SERVER_CNODE_RADIX, INIT_SLOT_TCB, s->tcb, HV_RIGHTS_ALL);
    e |= hvu_give_move(s->cnode, INIT_SERVER_CNODE_RADIX, INIT_SLOT_CONSOLE, console);
    e |= hvu_give_mint(s->cnode, INIT_SERVER_CNODE_RADIX, INIT_SLOT_EXIT_NTFN, exit_ntfn, HV_RIGHT_WRITE,
                       1ull << s->idx);
    for (pb_size_t i = 0; i < m->caps_count; i++) {
        err = caps_install(s, &m->caps[i]);
        if (err != HV_OK)
            hvu_printf("init: server %s slot %u: error %lu\n", m->name, (unsigned)m->caps[i].slot,
                       (unsigned long)err);
        e |= err;
    }
    uint64_t reply = hvu_retype(HV_OBJ_REPLY, 0, &err);
    if (reply == 0)
        return err;
    e |= hvu_give_move(s->cnode, INIT_SERVER_CNODE_RADIX, INIT_SLOT_REPLY, reply);   /* a Reply cannot be copied */
    /* Faults come to init, badged with the server's index. */
    e |= hvu_mint(fault_ep, HV_RIGHT_WRITE | HV_RIGHT_GRANT_REPLY, s->idx, &fault_cap);
    uint64_t cfg[5] = { fault_cap, guarded, img.pml4, img.ipc_frame, img.ipc_va };
    e |= hvu_invoke(s->tcb, HV_INV_TCB_CONFIGURE, 5, cfg, NULL);
    uint64_t prio[1] = { m->priority };
    e |= hvu_invoke(s->tcb, HV_INV_TCB_SET_PRIORITY, 1, prio, NULL);
    if (m->cpus_count > 0) {
        /* The core's affinity is one CPU: the first listed (caps_check made sure it is online). */
        uint64_t cpu[1] = { m->cpus[0] };
        e |= hvu_invoke(s->tcb, HV_INV_TCB_SET_AFFINITY, 1, cpu, NULL);
    }
    /* hvrt.h: rdi = IPC buffer va, rsi = TSC Hz (0: assume 1 GHz). */
    uint64_t regs[5] = { img.entry, img.stack_top, 0, img.ipc_va, boot->tsc_hz };
    e |= hvu_invoke(s->tcb, HV_INV_TCB_WRITE_REGISTERS, 5, regs, NULL);
    uint64_t sc_cfg[3] = { m->budget_us, m->period_us, 0 };
    e |= hvu_invoke(sc, HV_INV_SC_CONFIGURE, 3, sc_cfg, NULL);
    uint64_t bind[1] = { s->tcb };
    e |= hvu_invoke(sc, HV_INV_SC_BIND, 1, bind, NULL);
    return e;
}

uint64_t server_start(struct server *s)
{
    struct hvu_pool *prev = hvu_pool_use(&s->pool);
    uint64_t err = build(s);
    (void)hvu_pool_use(prev);
    if (err == HV_OK)
        err = hvu_invoke(s->tcb, HV_INV_TCB_RESUME, 0, NULL, NULL);
    if (err != HV_OK) {
        hvu_printf("init: server %s: setup failed (or-ed errors 0x%lx)\n", s->m->name, (unsigned long)err);
        (void)server_stop(s);
        return err;
    }
    s->state = SERVER_RUNNING;
    return HV_OK;
}

uint64_t server_stop(struct server *s)
{
    if (s->tcb != 0)
        (void)hvu_invoke(s->tcb, HV_INV_TCB_SUSPEND, 0, NULL, NULL);
    vm_suspend(s);      /* the guest stops with its vmm */
    /* Everything of the incarnation, wherever its caps are (its CNode, init's slots, TCB slots). */
    uint64_t err = hvu_pool_reset(&s->pool);
    /* Then the VM as at boot: whatever the vmm rebound or reconfigured came from its pool or is undone. */
    uint64_t vm_err = vm_restore(s);
    if (vm_err != HV_OK)
        hvu_printf("init: server %s: its VM not set back whole: or-ed errors 0x%lx\n", s->m->name,
                   (unsigned long)vm_err);
    s->cnode = s->tcb = s->ipc_frame = 0;
    memset(s->made, 0, sizeof(s->made));
    if (s->state == SERVER_RUNNING)
        s->state = SERVER_STOPPED;
    if (err != HV_OK) {
        pool_failures++;
        hvu_printf("init: server %s: pool not returned whole: error %lu\n", s->m->name, (unsigned long)err);
    }
    return err;
}

int64_t server_exit_code(struct server *s)
{
    struct hvu_pool *prev = hvu_pool_use(&s->pool);
    int64_t code = -1;
    uint64_t copy = 0;
    /* IPC_PEEK_VA's page tables are init's own (made at startup): nothing here outlives the pool. */
    if (hvu_copy(s->ipc_frame, HV_RIGHT_READ, &copy) == HV_OK &&
        hvu_map_frame_into(HV_ROOT_VSPACE, copy, IPC_PEEK_VA, 0) == HV_OK) {
        const volatile struct hv_ipc_buffer *ipc = (const volatile struct hv_ipc_buffer *)(uintptr_t)IPC_PEEK_VA;
        if (ipc->user_data[HVRT_UD_EXITED] == HVRT_EXIT_MAGIC)
            code = (int64_t)ipc->user_data[HVRT_UD_EXIT_CODE];
        (void)hvu_invoke(copy, HV_INV_FRAME_UNMAP, 0, NULL, NULL);
    }
    if (copy != 0)
        (void)hvu_delete(copy);
    (void)hvu_pool_use(prev);
    return code;
}

uint64_t server_prepare_peek(void)
{
    return hvu_prepare_va(IPC_PEEK_VA);
}

static uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static const char *policy_name(hv_manifest_RestartPolicy p)
{
    return p == hv_manifest_RestartPolicy_RESTART_ALWAYS       ? "always"
           : p == hv_manifest_RestartPolicy_RESTART_ON_FAILURE ? "on-failure"
                                                               : "never";
}

/* True when this stop is the restart_limit-th within restart_window_ms (a window opens at its first stop). */
static bool crash_loop(struct server *s, unsigned *limit, unsigned *window_ms)
{
    *limit = s->m->restart_limit != 0 ? s->m->restart_limit : INIT_RESTART_LIMIT;
    *window_ms = s->m->restart_window_ms != 0 ? s->m->restart_window_ms : INIT_RESTART_WINDOW_MS;
    uint64_t hz = boot->tsc_hz != 0 ? boot->tsc_hz : 1000000000ull;
    uint64_t now = rdtsc();
    if (s->window_stops == 0 || now - s->window_tsc > *window_ms * (hz / 1000u)) {
        s->window_tsc = now;
        s->window_stops = 0;
    }
    return ++s->window_stops >= *limit;
}

void server_stopped(struct server *s, bool failure, const char *why)
{
    uint64_t reset = server_stop(s);
    vm_vmm_stopped(s, why);
    hv_manifest_RestartPolicy p = s->m->restart;
    if (p == hv_manifest_RestartPolicy_RESTART_NEVER ||
        (p == hv_manifest_RestartPolicy_RESTART_ON_FAILURE && !failure)) {
        hvu_printf("init: server %s stays stopped (restart: %s, %s)\n", s->m->name, policy_name(p),
                   failure ? "failed" : "clean exit");
        return;
    }
    unsigned limit, window_ms;
    if (crash_loop(s, &limit, &window_ms)) {
        s->state = SERVER_CRASH_LOOP;
        hvu_printf("init: server %s crash-looping: %u stops within %u ms, not restarted again\n", s->m->name,
                   limit, window_ms);
        return;
    }
    uint64_t err = server_start(s);
    s->restarts++;
    if (err == HV_OK)
        hvu_printf("init: server %s restarted (%u): pool %lu of %lu KiB used; init has %lu KiB and %lu slots free\n",
                   s->m->name, s->restarts, (unsigned long)s->pool.used >> 10,
                   (unsigned long)(1ull << s->pool.size_bits) >> 10, (unsigned long)server_free_bytes() >> 10,
                   (unsigned long)server_free_slots());
    else
        hvu_printf("init: server %s restart failed: error %lu\n", s->m->name, (unsigned long)err);
    verdict_restarted(s, reset | err);
}

uint64_t server_free_bytes(void)
{
    uint64_t free = hvu_free_bytes();
    for (pb_size_t i = 0; i < manifest.servers_count; i++) {
        if (servers[i].pool.untyped != 0)
            free += (1ull << servers[i].pool.size_bits) - servers[i].pool.used;
    }
    return free;
}

uint64_t server_free_slots(void)
{
    uint64_t free = hvu_free_slots();
    for (pb_size_t i = 0; i < manifest.servers_count; i++) {
        if (servers[i].pool.untyped != 0)
            free += servers[i].pool.slot_end - servers[i].pool.slot_next;
    }
    return free;
}
