/* SPDX-License-Identifier: MIT */
/* root_task: boot-time construction of the root task and the hand-over of all memory. */
#include "root_task.h"

#include <stddef.h>

#include "../arch/x86_64/kernel_paging.h"
#include "../arch/x86_64/lapic.h"
#include "../arch/x86_64/smp.h"
#include "../include/hv/bootinfo.h"
#include "../include/hv/ipc_buffer.h"
#include "../lib/kstring.h"
#include "../object/cnode.h"
#include "../object/ioport.h"
#include "../object/object.h"
#include "../object/sched_context.h"
#include "../object/tcb.h"
#include "../object/untyped.h"
#include "../object/vspace.h"
#include "boot_mem.h"
#include "console.h"
#include "elf.h"
#include "kmem.h"
#include "platform.h"
#include "sched.h"

#define PAGE 4096ull
#define ROOT_VA_MIN 0x10000ull
#define ROOT_IMAGE_END 0x0000700000000000ull
#define ROOT_SC_PERIOD_US 10000u
#define UNTYPED_MIN_BITS_AT_BOOT 12u
#define LOW_MEMORY_LIMIT 0x100000ull    /* keep the real-mode area (SMP trampoline, BIOS data) */

extern char __image_phys_start[], __image_phys_end[];

struct root_builder {
    struct boot_mem mem;
    struct cap cnode_cap;
    struct cte *slots;
    uint64_t next_slot;
    uint64_t slot_limit;
    struct hv_bootinfo *bootinfo;
    struct cte *pml4_slot;
};

static uint64_t take(struct root_builder *b, uint64_t size, uint64_t align, const char *what)
{
    uint64_t pa = boot_mem_alloc(&b->mem, size, align);
    if (pa == 0)
        panic("root task: out of memory for %s", what);
    memset(kmem_ptr(pa), 0, size);
    return pa;
}

/* Creates an object in fresh boot memory and puts its cap in the next free root slot. */
static struct cte *make_object(struct root_builder *b, uint8_t type, unsigned size_bits,
                               const char *what)
{
    uint64_t size = object_size(type, size_bits);
    uint64_t pa = take(b, size, size < PAGE ? PAGE : size, what);
    if (b->next_slot >= b->slot_limit)
        panic("root task: CNode full while creating %s", what);
    struct cte *slot = &b->slots[b->next_slot++];
    struct cap c = object_create(type, size_bits, kmem_ptr(pa), pa);
    cap_insert(slot, &c, NULL);
    return slot;
}

static struct cte *fixed_slot(struct root_builder *b, enum hv_root_slot s)
{
    return &b->slots[s];
}

/* Moves the cap just created in the running slot into a fixed slot. */
static void move_to_fixed(struct root_builder *b, struct cte *from, enum hv_root_slot s)
{
    cdt_move(from, fixed_slot(b, s));
    b->next_slot--;
}

/* Makes sure PDPT, PD and PT exist for `va` in the root's address space. */
static void ensure_tables(struct root_builder *b, uint64_t va)
{
    static const uint8_t types[] = { HV_OBJ_PDPT, HV_OBJ_PD, HV_OBJ_PT };
    for (unsigned i = 0; i < 3; i++) {
        if (vspace_has_table(&b->pml4_slot->cap, va, types[i]))
            continue;
        struct cte *slot = make_object(b, types[i], 0, "page tables");
        enum hv_error err = vspace_map_table(slot, &b->pml4_slot->cap, va);
        if (err != HV_OK)
            panic("root task: cannot map page table for 0x%lx: error %d", va, err);
    }
}

static struct cte *map_new_frame(struct root_builder *b, uint64_t va, bool writable, bool exec)
{
    ensure_tables(b, va);
    struct cte *f = make_object(b, HV_OBJ_FRAME, 0, "frames");
    if (!writable)
        f->cap.rights &= (uint8_t)~HV_RIGHT_WRITE;
    enum hv_error err = vspace_map_frame(f, &b->pml4_slot->cap, va, exec ? HV_MAP_EXECUTABLE : 0);
    if (err != HV_OK)
        panic("root task: cannot map frame at 0x%lx: error %d", va, err);
    return f;
}

static void load_elf(struct root_builder *b, const struct boot_module *m, struct elf_image *img)
{
    const void *file = kmem_ptr(m->start);
    enum elf_error err = elf_parse(file, m->end - m->start, ROOT_VA_MIN, ROOT_IMAGE_END, img);
    if (err != ELF_OK)
        panic("root task: module \"%s\" is not a loadable executable: %s", m->cmdline,
              elf_strerror(err));
    for (unsigned i = 0; i < img->segment_count; i++) {
        const struct elf_segment *s = &img->segments[i];
        uint64_t first = s->vaddr & ~(PAGE - 1);
        for (uint64_t va = first; va < s->vaddr + s->memsz; va += PAGE) {
            struct cte *f = map_new_frame(b, va, s->flags & ELF_PF_W, s->flags & ELF_PF_X);
            uint8_t *dst = kmem_ptr(f->cap.object);
            /* Copy the part of the file image that falls in this page. */
            uint64_t file_lo = s->vaddr, file_hi = s->vaddr + s->filesz;
            uint64_t lo = va > file_lo ? va : file_lo;
            uint64_t hi = va + PAGE < file_hi ? va + PAGE : file_hi;
            if (lo < hi)
                memcpy(dst + (lo - va), (const uint8_t *)file + s->offset + (lo - s->vaddr), hi - lo);
        }
    }
}

static void give_module_frames(struct root_builder *b, const struct boot_info *bi)
{
    struct hv_bootinfo *info = b->bootinfo;
    info->modules.start = b->next_slot;
    for (size_t i = 0; i < bi->module_count && i < HV_BOOTINFO_MAX_MODULES; i++) {
        const struct boot_module *m = &bi->modules[i];
        struct hv_module_desc *d = &info->module_list[info->module_count++];
        kstrlcpy(d->name, m->cmdline, sizeof(d->name));
        d->size = m->end - m->start;
        d->frames.start = b->next_slot;
        for (uint64_t pa = m->start & ~(PAGE - 1); pa < m->end; pa += PAGE) {
            if (b->next_slot >= b->slot_limit)
                panic("root task: CNode full while handing over module %s", m->cmdline);
            struct cap c = object_create(HV_OBJ_FRAME, 0, kmem_ptr(pa), pa);
            c.rights = HV_RIGHT_READ | HV_RIGHT_GRANT;     /* modules are read-only */
            cap_insert(&b->slots[b->next_slot++], &c, NULL);
        }
        d->frames.end = b->next_slot;
    }
    info->modules.end = b->next_slot;
}

static void emit_untyped(void *ctx, uint64_t pa, unsigned bits)
{
    struct root_builder *b = ctx;
    struct hv_bootinfo *info = b->bootinfo;
    if (info->untyped_count == HV_BOOTINFO_MAX_UNTYPED || b->next_slot >= b->slot_limit)
        return;     /* counted as lost below */
    struct cap c = untyped_cap(pa, bits, false);
    cap_insert(&b->slots[b->next_slot++], &c, NULL);
    struct hv_untyped_desc *d = &info->untyped_list[info->untyped_count++];
    d->paddr = pa;
    d->size_bits = (uint8_t)bits;
}

static void give_untyped(struct root_builder *b)
{
    struct hv_bootinfo *info = b->bootinfo;
    info->untyped.start = b->next_slot;
    uint64_t given = 0;
    for (unsigned i = 0; i < b->mem.count; i++)
        boot_mem_blocks(b->mem.base[i], b->mem.end[i], UNTYPED_MIN_BITS_AT_BOOT, emit_untyped, b);
    for (uint64_t i = 0; i < info->untyped_count; i++)
        given += 1ull << info->untyped_list[i].size_bits;
    info->untyped.end = b->next_slot;
    kprintf("root: %lu untyped caps, %lu KiB of %lu KiB free memory\n", info->untyped_count,
            given >> 10, boot_mem_total(&b->mem) >> 10);
}

void root_task_create(const struct boot_info *bi, const char *module_name)
{
    static struct root_builder b;
    const struct boot_module *mod = bootinfo_find_module(bi, module_name);
    if (mod == NULL)
        panic("root task: no boot module named \"%s\"", module_name);

    boot_mem_init(&b.mem, bi, LOW_MEMORY_LIMIT);
    if (!boot_mem_reserve(&b.mem, (uint64_t)(uintptr_t)__image_phys_start,
                          (uint64_t)(uintptr_t)__image_phys_end))
        panic("root task: memory map too fragmented");
    for (size_t i = 0; i < bi->module_count; i++) {
        if (!boot_mem_reserve(&b.mem, bi->modules[i].start, bi->modules[i].end))
            panic("root task: memory map too fragmented");
    }

    /* The CNode first: every other cap goes into it. */
    uint64_t cnode_size = object_size(HV_OBJ_CNODE, ROOT_CNODE_RADIX);
    uint64_t cnode_pa = take(&b, cnode_size, cnode_size, "the root CNode");
    b.cnode_cap = object_create(HV_OBJ_CNODE, ROOT_CNODE_RADIX, kmem_ptr(cnode_pa), cnode_pa);
    b.cnode_cap.guard_bits = (uint8_t)(64u - ROOT_CNODE_RADIX);     /* cptr = slot index */
    b.slots = cnode_slots(&b.cnode_cap);
    b.slot_limit = 1ull << ROOT_CNODE_RADIX;
    b.next_slot = HV_ROOT_FIRST_FREE_FIXED;
    cap_insert(fixed_slot(&b, HV_ROOT_CNODE), &b.cnode_cap, NULL);

    struct cte *tcb_slot = make_object(&b, HV_OBJ_TCB, 0, "the root TCB");
    move_to_fixed(&b, tcb_slot, HV_ROOT_TCB);
    struct cte *sc_slot = make_object(&b, HV_OBJ_SCHED_CONTEXT, 0, "the root SchedContext");
    move_to_fixed(&b, sc_slot, HV_ROOT_SCHED_CONTEXT);
    struct cte *pml4 = make_object(&b, HV_OBJ_PML4, 0, "the root PML4");
    move_to_fixed(&b, pml4, HV_ROOT_VSPACE);
    b.pml4_slot = fixed_slot(&b, HV_ROOT_VSPACE);

    struct cap ctl;
    memset(&ctl, 0, sizeof(ctl));
    ctl.type = HV_OBJ_IRQ_CONTROL;
    ctl.rights = HV_RIGHTS_ALL;
    cap_insert(fixed_slot(&b, HV_ROOT_IRQ_CONTROL), &ctl, NULL);
    ctl = ioport_control_cap();
    cap_insert(fixed_slot(&b, HV_ROOT_IOPORT_CONTROL), &ctl, NULL);

    /* Address space: image, stack, IPC buffer, bootinfo. */
    b.bootinfo = NULL;
    struct cte *info_frame = map_new_frame(&b, ROOT_BOOTINFO_VA, false, false);
    b.bootinfo = kmem_ptr(info_frame->cap.object);
    move_to_fixed(&b, info_frame, HV_ROOT_BOOTINFO_FRAME);
    struct cte *ipc_frame = map_new_frame(&b, ROOT_IPC_BUFFER_VA, true, false);
    move_to_fixed(&b, ipc_frame, HV_ROOT_IPC_BUFFER_FRAME);

    b.bootinfo->image.start = b.next_slot;
    struct elf_image img;
    load_elf(&b, mod, &img);
    for (uint64_t i = 1; i <= ROOT_STACK_PAGES; i++)
        (void)map_new_frame(&b, ROOT_STACK_TOP - i * PAGE, true, false);
    b.bootinfo->image.end = b.next_slot;

    give_module_frames(&b, bi);

    /* The thread. */
    struct tcb *t = tcb_of(&fixed_slot(&b, HV_ROOT_TCB)->cap);
    cap_insert(&t->slots[TCB_SLOT_CSPACE], &fixed_slot(&b, HV_ROOT_CNODE)->cap, fixed_slot(&b, HV_ROOT_CNODE));
    cap_insert(&t->slots[TCB_SLOT_VSPACE], &b.pml4_slot->cap, b.pml4_slot);
    struct cap ipc_ref = fixed_slot(&b, HV_ROOT_IPC_BUFFER_FRAME)->cap;
    object_cap_derived(&ipc_ref);
    cap_insert(&t->slots[TCB_SLOT_IPC_BUFFER], &ipc_ref, fixed_slot(&b, HV_ROOT_IPC_BUFFER_FRAME));
    t->ipc_buffer_va = ROOT_IPC_BUFFER_VA;
    t->priority = ROOT_PRIORITY;
    t->max_priority = 255;
    t->cpu = 0;
    t->ctx.rip = img.entry;
    t->ctx.rsp = ROOT_STACK_TOP;
    t->ctx.rdi = ROOT_BOOTINFO_VA;

    struct sched_context *sc = sched_context_of(&fixed_slot(&b, HV_ROOT_SCHED_CONTEXT)->cap);
    sched_context_set(sc, ROOT_SC_PERIOD_US, ROOT_SC_PERIOD_US);
    sched_context_bind(sc, t);

    /* Everything left is the root task's to hand out. */
    struct hv_bootinfo *info = b.bootinfo;
    info->magic = HV_BOOTINFO_MAGIC;
    info->cnode_radix = ROOT_CNODE_RADIX;
    info->cpu_count = smp_online_count();
    info->ipc_buffer_va = ROOT_IPC_BUFFER_VA;
    info->tsc_hz = lapic_timer_info()->tsc_hz;
    kstrlcpy(info->cmdline, bi->cmdline, sizeof(info->cmdline));
    give_untyped(&b);
    info->empty.start = b.next_slot;
    info->empty.end = b.slot_limit;

    kprintf("root: \"%s\" entry 0x%lx, %lu image/stack caps, %lu module frames, slots %lu..%lu free\n",
            module_name, img.entry, info->image.end - info->image.start,
            info->modules.end - info->modules.start, info->empty.start, info->empty.end);
    sched_make_runnable(t);
}
