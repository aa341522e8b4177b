/* SPDX-License-Identifier: MIT */
/* hvu: invocation wrappers, slot and address allocation, threads, console and checks for test programs. */
#include "hvu.h"

#include "lib/format.h"
#include "kernel/elf.h"
#include "lib/kstring.h"

#define COM1 0x3f8u
#define COM1_LSR (COM1 + 5u)
#define LSR_THR_EMPTY 0x20u
#define LSR_TX_EMPTY 0x40u
#define QEMU_EXIT_PORT 0xf4u
#define BOCHS_EXIT_PORT 0x8900u
#define PAGE 4096ull
#define THREAD_REGION_BASE 0x10000000ull
#define THREAD_REGION_SIZE 0x10000ull   /* IPC buffer page + 15 stack pages */
#define THREAD_STACK_PAGES 8u

static const struct hv_bootinfo *boot;
static uint64_t next_slot, slot_end;
static uint64_t untyped_cursor, untyped_used;   /* untyped_used: the cursor's watermark, mirrored */
static struct hvu_pool *pool;                     /* NULL: the root's own memory and slots */
static uint64_t com1_cap, exit_cap, bochs_exit_cap;
static uint64_t next_region = THREAD_REGION_BASE;
static unsigned checks, failures;

/* The calling thread's IPC buffer: threads keep theirs at the base of their stack region. */
struct hv_ipc_buffer *hvu_ipc(void)
{
    uint64_t rsp;
    __asm__ volatile("mov %%rsp, %0" : "=r"(rsp));
    if (rsp >= THREAD_REGION_BASE && rsp < next_region)
        return (struct hv_ipc_buffer *)(uintptr_t)(rsp & ~(THREAD_REGION_SIZE - 1));
    return (struct hv_ipc_buffer *)(uintptr_t)boot->ipc_buffer_va;
}

uint64_t hvu_invoke(uint64_t cptr, uint64_t label, unsigned n, const uint64_t *args, struct hv_msg *out)
{
    struct hv_msg m = { hv_tag(label, n, 0), 0, { 0, 0, 0, 0 } };
    struct hv_ipc_buffer *buf = hvu_ipc();
    for (unsigned i = 0; i < n; i++) {
        if (i < HV_MSG_REG_WORDS)
            m.w[i] = args[i];
        else
            buf->msg[i] = args[i];
    }
    uint64_t err = hv_call(cptr, &m);
    if (out != NULL)
        *out = m;
    return err;
}

static uint64_t port_in(uint64_t cap, uint64_t port)
{
    uint64_t args[2] = { port, 1 };
    struct hv_msg out;
    if (hvu_invoke(cap, HV_INV_IOPORT_IN, 2, args, &out) != HV_OK)
        return 0xff;
    return out.w[0];
}

static void port_out(uint64_t cap, uint64_t port, uint64_t width, uint64_t v)
{
    uint64_t args[3] = { port, width, v };
    (void)hvu_invoke(cap, HV_INV_IOPORT_OUT, 3, args, NULL);
}

static uint64_t issue_ports(uint64_t first, uint64_t last)
{
    uint64_t slot = hvu_alloc_slot();
    uint64_t args[5] = { first, last, HV_ROOT_CNODE, slot, 64 };
    if (hvu_invoke(HV_ROOT_IOPORT_CONTROL, HV_INV_IOPORT_CONTROL_ISSUE, 5, args, NULL) != HV_OK)
        return 0;
    return slot;
}

void hvu_init(const struct hv_bootinfo *bi)
{
    boot = bi;
    next_slot = bi->empty.start;
    slot_end = bi->empty.end;
    untyped_cursor = 0;
    com1_cap = issue_ports(COM1, COM1 + 7);
    exit_cap = issue_ports(QEMU_EXIT_PORT, QEMU_EXIT_PORT + 3);
    bochs_exit_cap = issue_ports(BOCHS_EXIT_PORT, BOCHS_EXIT_PORT);
}

void hvu_init_ep_reply(const struct hv_bootinfo *bi, uint64_t *ep, uint64_t *reply)
{
    uint64_t err;
    hvu_init(bi);
    *ep = hvu_retype(HV_OBJ_ENDPOINT, 0, &err);
    *reply = hvu_retype(HV_OBJ_REPLY, 0, &err);
}

uint64_t hvu_alloc_slot(void)
{
    if (pool != NULL)
        return pool->slot_next < pool->slot_end ? pool->slot_next++ : 0;
    return next_slot < slot_end ? next_slot++ : 0;
}

/* Gives back `slot` if it is the last one handed out (a failed retype left it empty). */
static void unalloc_slot(uint64_t slot)
{
    if (pool != NULL && slot != 0 && slot + 1 == pool->slot_next)
        pool->slot_next--;
    else if (pool == NULL && slot != 0 && slot + 1 == next_slot)
        next_slot--;
}

_Static_assert(HV_PAGE_TABLE_BITS == HV_FRAME_BITS, "paging structures and frames are one page each");

unsigned hvu_object_bits(uint64_t type, uint64_t size_bits)
{
    switch (type) {
    case HV_OBJ_UNTYPED:
        return (unsigned)size_bits;
    case HV_OBJ_CNODE:
        return (unsigned)size_bits + HV_CNODE_SLOT_BITS;
    case HV_OBJ_TCB:
        return HV_TCB_BITS;
    case HV_OBJ_SCHED_CONTEXT:
        return HV_SCHED_CONTEXT_BITS;
    case HV_OBJ_ENDPOINT:
        return HV_ENDPOINT_BITS;
    case HV_OBJ_NOTIFICATION:
        return HV_NOTIFICATION_BITS;
    case HV_OBJ_REPLY:
        return HV_REPLY_BITS;
    case HV_OBJ_FRAME:
        return size_bits == HV_LARGE_FRAME_BITS ? HV_LARGE_FRAME_BITS : HV_FRAME_BITS;
    case HV_OBJ_GUEST_MEMORY:
    case HV_OBJ_VCPU:
        return (unsigned)size_bits;
    default:
        return HV_FRAME_BITS;       /* PML4, PDPT, PD, PT */
    }
}

/* The core's watermark after placing an object of `size` (a power of two) at `used`. */
static uint64_t watermark_after(uint64_t used, uint64_t size)
{
    return ((used + size - 1) & ~(size - 1)) + size;
}

uint64_t hvu_retype(uint64_t type, uint64_t size_bits, uint64_t *err)
{
    uint64_t slot = hvu_alloc_slot();
    uint64_t e = HV_ERR_NOT_ENOUGH_MEMORY;
    uint64_t size = 1ull << hvu_object_bits(type, size_bits);
    uint64_t args[6] = { type, size_bits, HV_ROOT_CNODE, slot, 64, 1 };
    if (slot == 0) {
        /* no slot left: nothing to retype into */
    } else if (pool != NULL) {
        e = hvu_invoke(pool->untyped, HV_INV_UNTYPED_RETYPE, 6, args, NULL);
        if (e == HV_OK)
            pool->used = watermark_after(pool->used, size);
    } else {
        /* Walk the untyped caps from the largest remembered one; move on when one is full. */
        while (untyped_cursor < boot->untyped_count) {
            if (!boot->untyped_list[untyped_cursor].is_device) {
                e = hvu_invoke(boot->untyped.start + untyped_cursor, HV_INV_UNTYPED_RETYPE, 6, args, NULL);
                if (e == HV_OK)
                    untyped_used = watermark_after(untyped_used, size);
                if (e != HV_ERR_NOT_ENOUGH_MEMORY)
                    break;
            }
            untyped_cursor++;
            untyped_used = 0;
        }
    }
    if (err != NULL)
        *err = e;
    if (e != HV_OK)
        unalloc_slot(slot);
    return e == HV_OK ? slot : 0;
}

uint64_t hvu_free_bytes(void)
{
    uint64_t total = 0;
    for (uint64_t i = untyped_cursor; i < boot->untyped_count; i++) {
        if (!boot->untyped_list[i].is_device)
            total += (1ull << boot->untyped_list[i].size_bits) - (i == untyped_cursor ? untyped_used : 0);
    }
    return total;
}

uint64_t hvu_free_slots(void)
{
    return slot_end - next_slot;
}

struct hvu_pool *hvu_pool_use(struct hvu_pool *p)
{
    struct hvu_pool *prev = pool;
    pool = p;
    return prev;
}

uint64_t hvu_pool_create(struct hvu_pool *p, unsigned size_bits, uint64_t slots)
{
    struct hvu_pool *prev = hvu_pool_use(NULL);
    uint64_t err = HV_ERR_NOT_ENOUGH_MEMORY;
    p->untyped = hvu_retype(HV_OBJ_UNTYPED, size_bits, &err);
    if (p->untyped != 0 && slot_end - next_slot >= slots) {
        p->size_bits = size_bits;
        p->used = 0;
        p->slot_first = p->slot_next = next_slot;
        p->slot_end = next_slot + slots;
        next_slot += slots;
        err = HV_OK;
    } else if (p->untyped != 0) {
        err = HV_ERR_NOT_ENOUGH_MEMORY;     /* memory but no slots: the untyped stays unused */
    }
    (void)hvu_pool_use(prev);
    return err;
}

uint64_t hvu_pool_reset(struct hvu_pool *p)
{
    uint64_t err = hvu_revoke(p->untyped);
    /* What revoke did not reach: caps derived from objects outside the pool (control caps, init's own). */
    for (uint64_t s = p->slot_first; s < p->slot_next; s++)
        (void)hvu_delete(s);
    p->slot_next = p->slot_first;
    p->used = 0;
    if (err != HV_OK)
        return err;
    /* The proof: with no child left the core restarts at 0, so the whole pool is one free block. */
    uint64_t args[6] = { HV_OBJ_UNTYPED, p->size_bits, HV_ROOT_CNODE, p->slot_first, 64, 1 };
    err = hvu_invoke(p->untyped, HV_INV_UNTYPED_RETYPE, 6, args, NULL);
    if (err != HV_OK)
        return err;
    return hvu_delete(p->slot_first);
}

uint64_t hvu_prepare_va(uint64_t va)
{
    uint64_t err;
    uint64_t f = hvu_retype(HV_OBJ_FRAME, 0, &err);
    if (f == 0)
        return err;
    err = hvu_map_frame_into(HV_ROOT_VSPACE, f, va, 0);
    if (err != HV_OK)
        return err;
    (void)hvu_invoke(f, HV_INV_FRAME_UNMAP, 0, NULL, NULL);
    return hvu_delete(f);
}

uint64_t hvu_copy(uint64_t src, uint64_t rights, uint64_t *dest_out)
{
    uint64_t dest = hvu_alloc_slot();
    uint64_t args[6] = { dest, 64, HV_ROOT_CNODE, src, 64, rights };
    *dest_out = dest;
    return hvu_invoke(HV_ROOT_CNODE, HV_INV_CNODE_COPY, 6, args, NULL);
}

uint64_t hvu_mint(uint64_t src, uint64_t rights, uint64_t badge, uint64_t *dest_out)
{
    uint64_t dest = hvu_alloc_slot();
    uint64_t args[7] = { dest, 64, HV_ROOT_CNODE, src, 64, rights, badge };
    *dest_out = dest;
    return hvu_invoke(HV_ROOT_CNODE, HV_INV_CNODE_MINT, 7, args, NULL);
}

uint64_t hvu_give_copy(uint64_t cnode, unsigned radix, uint64_t dest, uint64_t src, uint64_t rights)
{
    uint64_t args[6] = { dest, radix, HV_ROOT_CNODE, src, 64, rights };
    return hvu_invoke(cnode, HV_INV_CNODE_COPY, 6, args, NULL);
}

uint64_t hvu_give_mint(uint64_t cnode, unsigned radix, uint64_t dest, uint64_t src, uint64_t rights,
                       uint64_t badge)
{
    uint64_t args[7] = { dest, radix, HV_ROOT_CNODE, src, 64, rights, badge };
    return hvu_invoke(cnode, HV_INV_CNODE_MINT, 7, args, NULL);
}

uint64_t hvu_give_move(uint64_t cnode, unsigned radix, uint64_t dest, uint64_t src)
{
    uint64_t args[5] = { dest, radix, HV_ROOT_CNODE, src, 64 };
    return hvu_invoke(cnode, HV_INV_CNODE_MOVE, 5, args, NULL);
}

uint64_t hvu_delete(uint64_t slot)
{
    uint64_t args[2] = { slot, 64 };
    return hvu_invoke(HV_ROOT_CNODE, HV_INV_CNODE_DELETE, 2, args, NULL);
}

uint64_t hvu_revoke(uint64_t slot)
{
    uint64_t args[2] = { slot, 64 };
    return hvu_invoke(HV_ROOT_CNODE, HV_INV_CNODE_REVOKE, 2, args, NULL);
}

uint64_t hvu_map_new_frame(uint64_t va, bool writable)
{
    static const uint64_t table_types[] = { HV_OBJ_PDPT, HV_OBJ_PD, HV_OBJ_PT };
    for (unsigned i = 0; i < 3; i++) {
        uint64_t t = hvu_retype(table_types[i], 0, NULL);
        if (t == 0)
            return 0;
        uint64_t args[2] = { HV_ROOT_VSPACE, va };
        uint64_t e = hvu_invoke(t, HV_INV_PAGE_TABLE_MAP, 2, args, NULL);
        if (e == HV_ERR_ALREADY_MAPPED)
            (void)hvu_delete(t);    /* that level exists already */
        else if (e != HV_OK)
            return 0;
    }
    uint64_t f = hvu_retype(HV_OBJ_FRAME, 0, NULL);
    if (f == 0)
        return 0;
    if (!writable) {
        uint64_t ro;
        if (hvu_copy(f, HV_RIGHT_READ, &ro) != HV_OK)
            return 0;
        f = ro;
    }
    uint64_t args[3] = { HV_ROOT_VSPACE, va, 0 };
    return hvu_invoke(f, HV_INV_FRAME_MAP, 3, args, NULL) == HV_OK ? f : 0;
}

uint64_t hvu_map_frame_into(uint64_t pml4, uint64_t frame, uint64_t va, uint64_t attributes)
{
    uint64_t args[3] = { pml4, va, attributes };
    uint64_t err = hvu_invoke(frame, HV_INV_FRAME_MAP, 3, args, NULL);
    if (err != HV_ERR_MISSING_TABLE)
        return err;
    /* Tables from the top until the frame maps: a 2 MiB frame needs no PT (one would be in the way). */
    static const uint64_t table_types[] = { HV_OBJ_PDPT, HV_OBJ_PD, HV_OBJ_PT };
    for (unsigned i = 0; i < 3 && err == HV_ERR_MISSING_TABLE; i++) {
        uint64_t t = hvu_retype(table_types[i], 0, &err);
        if (t == 0)
            return err;
        uint64_t targs[2] = { pml4, va };
        err = hvu_invoke(t, HV_INV_PAGE_TABLE_MAP, 2, targs, NULL);
        if (err == HV_ERR_ALREADY_MAPPED)
            (void)hvu_delete(t);    /* that level exists already */
        else if (err != HV_OK)
            return err;
        err = hvu_invoke(frame, HV_INV_FRAME_MAP, 3, args, NULL);
    }
    return err;
}

#define MODULE_VA 0x0000610000000000ull     /* where the root maps a module it is reading */

/*
 * Makes a new frame holding `len` bytes of `src` at `offset` (zero elsewhere), by
 * filling it through a scratch mapping in the root (if len > 0), and maps it at `va` in
 * `target_pml4`. Returns the cap that is mapped there in *mapped (may be NULL).
 */
static uint64_t fresh_frame_copy(uint64_t target_pml4, uint64_t va, uint64_t offset,
                                 const uint8_t *src, uint64_t len, uint64_t rights,
                                 uint64_t attributes, uint64_t *mapped)
{
    uint64_t err;
    uint64_t f = hvu_retype(HV_OBJ_FRAME, 0, &err);
    if (f == 0)
        return err;
    /* The core zeroed the frame at retype: only pages holding file bytes go through the scratch window. */
    if (len > 0) {
        if ((err = hvu_map_frame_into(HV_ROOT_VSPACE, f, HVU_SCRATCH_VA, 0)) != HV_OK)
            return err;
        memcpy((uint8_t *)(uintptr_t)HVU_SCRATCH_VA + offset, src, len);
        (void)hvu_invoke(f, HV_INV_FRAME_UNMAP, 0, NULL, NULL);
    }
    uint64_t target = f;
    if (rights != HV_RIGHTS_ALL && (err = hvu_copy(f, rights, &target)) != HV_OK)
        return err;
    if (mapped != NULL)
        *mapped = target;
    return hvu_map_frame_into(target_pml4, target, va, attributes);
}

/* Modules already mapped in the root: a module's frame caps can be mapped only once. */
#define MODULE_MAPS_MAX 16u
static struct {
    uint64_t first_frame;
    uint64_t base;
} module_maps[MODULE_MAPS_MAX];
static unsigned module_map_count;

uint64_t hvu_map_module(const struct hv_bootinfo *bi, const char *name, const uint8_t **bytes, uint64_t *size)
{
    static uint64_t module_va = MODULE_VA;
    const struct hv_module_desc *mod = NULL;
    for (uint64_t i = 0; i < bi->module_count; i++) {
        if (strcmp(bi->module_list[i].name, name) == 0)
            mod = &bi->module_list[i];
    }
    if (mod == NULL)
        return HV_ERR_INVALID_ARGUMENT;
    *size = mod->size;
    for (unsigned i = 0; i < module_map_count; i++) {
        if (module_maps[i].first_frame == mod->frames.start) {
            *bytes = (const uint8_t *)(uintptr_t)module_maps[i].base;
            return HV_OK;
        }
    }
    if (module_map_count == MODULE_MAPS_MAX)
        return HV_ERR_NOT_ENOUGH_MEMORY;
    /* Read the module through its read-only frame caps, mapped once in the root. */
    uint64_t base = module_va;
    for (uint64_t s = mod->frames.start; s < mod->frames.end; s++) {
        uint64_t err = hvu_map_frame_into(HV_ROOT_VSPACE, s, base + (s - mod->frames.start) * PAGE, 0);
        if (err != HV_OK)
            return err;
    }
    module_va += (mod->frames.end - mod->frames.start + 1) * PAGE;
    module_maps[module_map_count].first_frame = mod->frames.start;
    module_maps[module_map_count].base = base;
    module_map_count++;
    *bytes = (const uint8_t *)(uintptr_t)base;
    return HV_OK;
}

uint64_t hvu_load_module(const struct hv_bootinfo *bi, const char *name, struct hvu_image *img)
{
    const uint8_t *file;
    uint64_t size;
    uint64_t map_err = hvu_map_module(bi, name, &file, &size);
    if (map_err != HV_OK)
        return map_err;
    struct elf_image elf;
    if (elf_parse(file, size, HVU_SPAWN_VA_MIN, HVU_SPAWN_VA_END, &elf) != ELF_OK)
        return HV_ERR_INVALID_ARGUMENT;

    uint64_t err;
    img->pml4 = hvu_retype(HV_OBJ_PML4, 0, &err);
    if (img->pml4 == 0)
        return err;
    for (unsigned i = 0; i < elf.segment_count; i++) {
        const struct elf_segment *seg = &elf.segments[i];
        uint64_t rights = (seg->flags & ELF_PF_W) ? HV_RIGHTS_ALL : HV_RIGHT_READ;
        uint64_t attrs = (seg->flags & ELF_PF_X) ? HV_MAP_EXECUTABLE : 0;
        for (uint64_t va = seg->vaddr & ~(PAGE - 1); va < seg->vaddr + seg->memsz; va += PAGE) {
            /* The part of the file image that falls into this page. */
            uint64_t lo = va > seg->vaddr ? va : seg->vaddr;
            uint64_t file_end = seg->vaddr + seg->filesz;
            uint64_t hi = va + PAGE < file_end ? va + PAGE : file_end;
            uint64_t len = lo < hi ? hi - lo : 0;
            err = fresh_frame_copy(img->pml4, va, lo - va, file + seg->offset + (lo - seg->vaddr),
                                   len, rights, attrs, NULL);
            if (err != HV_OK)
                return err;
        }
    }
    for (uint64_t i = 1; i <= HVU_SPAWN_STACK_PAGES; i++) {
        err = fresh_frame_copy(img->pml4, HVU_SPAWN_STACK_TOP - i * PAGE, 0, NULL, 0, HV_RIGHTS_ALL, 0, NULL);
        if (err != HV_OK)
            return err;
    }
    err = fresh_frame_copy(img->pml4, HVU_SPAWN_IPC_VA, 0, NULL, 0, HV_RIGHTS_ALL, 0, &img->ipc_frame);
    if (err != HV_OK)
        return err;
    img->entry = elf.entry;
    img->stack_top = HVU_SPAWN_STACK_TOP;
    img->ipc_va = HVU_SPAWN_IPC_VA;
    return HV_OK;
}

static void thread_trampoline(void (*fn)(uint64_t), uint64_t arg)
{
    fn(arg);
    /* A test thread that returns parks itself forever. */
    for (;;) {
        struct hv_msg m = { 0, 0, { 0, 0, 0, 0 } };
        (void)hv_syscall(HV_SYS_WAIT, 0, 0, &m);
        hv_yield();
    }
}

uint64_t hvu_thread_start(struct hvu_thread *t, void (*fn)(uint64_t), uint64_t arg,
                          unsigned priority, uint64_t fault_ep, uint64_t budget_us,
                          uint64_t period_us)
{
    uint64_t err;
    uint64_t region = next_region;
    next_region += THREAD_REGION_SIZE;
    uint64_t ipc_frame = hvu_map_new_frame(region, true);
    for (unsigned i = 1; i <= THREAD_STACK_PAGES; i++) {
        if (hvu_map_new_frame(region + THREAD_REGION_SIZE - i * PAGE, true) == 0)
            return HV_ERR_NOT_ENOUGH_MEMORY;
    }
    if (ipc_frame == 0)
        return HV_ERR_NOT_ENOUGH_MEMORY;
    t->ipc_va = region;
    t->tcb = hvu_retype(HV_OBJ_TCB, 0, &err);
    if (t->tcb == 0)
        return err;
    t->sc = hvu_retype(HV_OBJ_SCHED_CONTEXT, 0, &err);
    if (t->sc == 0)
        return err;
    uint64_t cfg[5] = { fault_ep, HV_ROOT_CNODE, HV_ROOT_VSPACE, ipc_frame, region };
    if ((err = hvu_invoke(t->tcb, HV_INV_TCB_CONFIGURE, 5, cfg, NULL)) != HV_OK)
        return err;
    uint64_t prio[1] = { priority };
    if ((err = hvu_invoke(t->tcb, HV_INV_TCB_SET_PRIORITY, 1, prio, NULL)) != HV_OK)
        return err;
    uint64_t regs[5] = { (uint64_t)(uintptr_t)thread_trampoline, region + THREAD_REGION_SIZE - 16, 0,
                         (uint64_t)(uintptr_t)fn, arg };
    if ((err = hvu_invoke(t->tcb, HV_INV_TCB_WRITE_REGISTERS, 5, regs, NULL)) != HV_OK)
        return err;
    uint64_t sc_cfg[3] = { budget_us, period_us, 0 };
    if ((err = hvu_invoke(t->sc, HV_INV_SC_CONFIGURE, 3, sc_cfg, NULL)) != HV_OK)
        return err;
    uint64_t bind[1] = { t->tcb };
    if ((err = hvu_invoke(t->sc, HV_INV_SC_BIND, 1, bind, NULL)) != HV_OK)
        return err;
    return hvu_invoke(t->tcb, HV_INV_TCB_RESUME, 0, NULL, NULL);
}

static void console_putc(void *ctx, char c)
{
    (void)ctx;
    if (c == '\n')
        console_putc(ctx, '\r');
    for (unsigned i = 0; i < 1000 && !(port_in(com1_cap, COM1_LSR) & LSR_THR_EMPTY); i++)
        ;
    port_out(com1_cap, COM1, 1, (uint8_t)c);
}

void hvu_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    format_v(console_putc, NULL, fmt, ap);
    va_end(ap);
}

void hvu_check(bool ok, const char *name, const char *fmt, ...)
{
    checks++;
    if (ok) {
        hvu_printf("PASS: %s\n", name);
        return;
    }
    failures++;
    hvu_printf("FAIL: %s: ", name);
    va_list ap;
    va_start(ap, fmt);
    format_v(console_putc, NULL, fmt, ap);
    va_end(ap);
    hvu_printf("\n");
}

void hvu_finish(void)
{
    hvu_printf("SUMMARY: %u tests, %u failures\n", checks, failures);
    for (unsigned i = 0; i < 100000 && !(port_in(com1_cap, COM1_LSR) & LSR_TX_EMPTY); i++)
        ;
    port_out(exit_cap, QEMU_EXIT_PORT, 4, checks > 0 && failures == 0 ? 0x10 : 0x11);
    for (const char *p = "Shutdown"; *p != '\0'; p++)
        port_out(bochs_exit_cap, BOCHS_EXIT_PORT, 1, (uint8_t)*p);
    for (;;)
        hv_yield();
}

/* ---- test guests' reports ---- */

static bool starts_with(const char *s, const char *prefix)
{
    while (*prefix != '\0') {
        if (*s++ != *prefix++)
            return false;
    }
    return true;
}

bool hvu_guest_byte(char *line, unsigned *len, unsigned max, char c)
{
    if (c == '\n' || *len + 1 == max) {
        line[*len] = '\0';
        *len = 0;
        return true;
    }
    line[(*len)++] = c;
    return false;
}

bool hvu_guest_line(struct hvu_guest_report *r, const char *line)
{
    if (starts_with(line, "PASS: ")) {
        r->passes++;
        hvu_check(true, line + 6, "guest");
    } else if (starts_with(line, "FAIL: ")) {
        r->fails++;
        hvu_check(false, line + 6, "reported by the guest");
    } else if (starts_with(line, "SUMMARY: ")) {
        /* "SUMMARY: N tests, M failures" must agree with what we counted. */
        unsigned nums[2] = { 0, 0 }, k = 0;
        for (const char *c = line + 9; *c != '\0' && k < 2; c++) {
            if (*c >= '0' && *c <= '9') {
                nums[k] = nums[k] * 10u + (unsigned)(*c - '0');
                if (c[1] < '0' || c[1] > '9')
                    k++;
            }
        }
        r->summary_seen = true;
        hvu_check(nums[0] == r->passes + r->fails && nums[1] == r->fails, "guest.summary",
                  "guest says %u tests %u failures; seen %u/%u", nums[0], nums[1], r->passes, r->fails);
    } else {
        return false;
    }
    return true;
}
