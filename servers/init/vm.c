/* SPDX-License-Identifier: MIT */
/* vm: the manifest's VMs, built once at boot (GuestMemory, RAM, vCPUs and their threads), and what init gives their vmm. */
#include "hv/init_abi.h"
#include "hv/vcpu.h"
#include "hv/vm_abi.h"
#include "init.h"
#include "lib/kstring.h"

#define PAGE 4096ull
#define MIB (1ull << 20)
#define LARGE (1ull << HV_LARGE_FRAME_BITS)     /* a 2 MiB frame */
#define TABLE_SPAN (2ull << 20)                 /* what one page table (or nested PT) maps */
#define PD_SPAN (1ull << 30)
#define PDPT_SPAN (1ull << 39)
_Static_assert(LARGE == TABLE_SPAN, "a 2 MiB frame is one PD entry");
_Static_assert(HV_VM_RAM_VA % LARGE == 0, "the RAM window takes 2 MiB frames at 2 MiB-aligned addresses");
/*
 * Guest RAM is backed by 2 MiB frames from gpa 0 (each one PD entry in the nested tables
 * and in the vmm's RAM window: no PT), the last part of RAM below a 2 MiB boundary by
 * 4 KiB frames (one PT).
 * GuestMemory size rule: page 0 the object, page 1 the root (PML4), then one pool table
 * per PDPT and PD that guest RAM [0, ram) needs, one PT if ram is not a multiple of
 * 2 MiB, plus GM_MARGIN_TABLES for what the vmm maps itself (an MMIO page or a ROM far
 * from RAM needs at most a PD and a PT of its own: 8 such places), rounded up to a power
 * of two. 128 MiB: 2 + 1 + 1 + 0 + 16 = 20 pages -> 128 KiB; 1 GiB: 2 + 1 + 1 + 16 -> 128 KiB.
 */
#define GM_MARGIN_TABLES 16u
/*
 * VCPU sizes: nested paging needs only the object and the backend's pages (32 KiB, the
 * minimum). Shadow paging keeps the guest's translations in the VCPU's own pool: 2 MiB
 * gives the shadow MMU about 500 table pages (all but the object, backend and shadow
 * header pages), nearly SHADOW_POOL_MAX (512), which holds the page tables of a
 * Linux guest's few hot address spaces (each 4 KiB spte table maps 2 MiB); a bigger
 * VCPU would not be used beyond SHADOW_POOL_MAX.
 */
#define VCPU_NESTED_BITS 15u
#define VCPU_SHADOW_BITS 21u
_Static_assert(VCPU_NESTED_BITS >= HV_VCPU_MIN_BITS && VCPU_SHADOW_BITS <= HV_VCPU_MAX_BITS, "VCPU sizes the core takes");
_Static_assert(HV_VM_MAX_VCPUS == HV_MANIFEST_MAX_VCPUS, "the manifest allows exactly the vCPUs the ABI has slots for");
_Static_assert(HV_VM_SLOTS(3u) == 10u && HV_MANIFEST_VM_SLOTS(3u) == 10u && HV_VM_SLOT_REPLY(2u) == 9u,
               "manifest_check reserves exactly the slots vm_abi.h fills");
_Static_assert(HV_VM_CMDLINE_MAX == sizeof(((hv_manifest_Vm *)0)->cmdline) &&
                   HV_VM_NAME_MAX == sizeof(((hv_manifest_Vm *)0)->name),
               "the info page holds the manifest's strings whole");

struct vm vms[INIT_MAX_VMS];
static uint64_t vcpu_cspace, vcpu_vspace;   /* empty: a vCPU thread runs no code of its own */

static unsigned log2_ceil(uint64_t v)
{
    unsigned b = 0;
    while ((1ull << b) < v)
        b++;
    return b;
}

static uint64_t div_ceil(uint64_t a, uint64_t b)
{
    return (a + b - 1) / b;
}

static uint64_t blocks(uint64_t lo, uint64_t hi, uint64_t span)
{
    return hi <= lo ? 0 : ((hi + span - 1) & ~(span - 1)) / span - (lo & ~(span - 1)) / span;
}

static unsigned gm_bits(uint64_t ram)
{
    uint64_t pages = 2 + div_ceil(ram, PDPT_SPAN) + div_ceil(ram, PD_SPAN) + (ram % LARGE != 0 ? 1u : 0u) +
                     GM_MARGIN_TABLES;
    unsigned bits = log2_ceil(pages * PAGE);
    return bits < HV_GUEST_MEMORY_MIN_BITS ? HV_GUEST_MEMORY_MIN_BITS : bits;
}

static const struct hv_module_desc *module_named(const char *name)
{
    for (uint64_t i = 0; i < boot->module_count; i++) {
        if (strcmp(boot->module_list[i].name, name) == 0)
            return &boot->module_list[i];
    }
    return NULL;
}

static uint64_t module_pages(const struct hv_module_desc *d)
{
    return d == NULL ? 0 : d->frames.end - d->frames.start;
}

struct vm *vm_named(const char *name)
{
    for (pb_size_t i = 0; i < manifest.vms_count; i++) {
        if (strcmp(manifest.vms[i].name, name) == 0)
            return &vms[i];
    }
    return NULL;
}

struct vm *vm_of_server(const struct server *s)
{
    for (pb_size_t i = 0; i < manifest.vms_count; i++) {
        if (vms[i].vmm == (int)s->idx)
            return &vms[i];
    }
    return NULL;
}

/*
 * The VM's fixed configuration, applied at boot and again whenever its vmm stops: each
 * thread stopped, configured (fault endpoint = its badged exit mint, the empty CSpace and
 * VSpace, a priority just below the vmm's, its affinity) and bound to its VCPU, each VCPU on the VM's
 * GuestMemory in the manifest's mode. A vmm may have rebound, reconfigured or reprioritised
 * them; this undoes all of it, so every incarnation gets the VM in the same shape.
 */
static uint64_t vm_reset(struct vm *v)
{
    const hv_manifest_Server *vmm = &manifest.servers[v->vmm];
    uint64_t e = HV_OK, none[1] = { 0 };
    for (unsigned i = 0; i < v->m->vcpus; i++) {
        e |= hvu_invoke(v->tcb[i], HV_INV_TCB_SUSPEND, 0, NULL, NULL);
        e |= hvu_invoke(v->vcpu[i], HV_INV_VCPU_BIND_TCB, 1, none, NULL);
    }
    uint64_t mode = v->m->paging == hv_manifest_PagingMode_PAGING_SHADOW ? HV_VCPU_MODE_SHADOW : HV_VCPU_MODE_NESTED;
    for (unsigned i = 0; i < v->m->vcpus; i++) {
        uint64_t cfg[5] = { v->fault[i], vcpu_cspace, vcpu_vspace, 0, 0 };
        e |= hvu_invoke(v->tcb[i], HV_INV_TCB_CONFIGURE, 5, cfg, NULL);
        uint64_t prio[1] = { HV_VM_VCPU_PRIORITY(vmm->priority) };
        e |= hvu_invoke(v->tcb[i], HV_INV_TCB_SET_PRIORITY, 1, prio, NULL);
        if (vmm->cpus_count > 0) {
            uint64_t cpu[1] = { vmm->cpus[i % vmm->cpus_count] };
            e |= hvu_invoke(v->tcb[i], HV_INV_TCB_SET_AFFINITY, 1, cpu, NULL);
        }
        uint64_t gm[2] = { v->gm, mode };
        uint64_t err = hvu_invoke(v->vcpu[i], HV_INV_VCPU_SET_GUEST_MEMORY, 2, gm, NULL);
        if (err != HV_OK)
            hvu_printf("init: vm %s: vcpu %u: %s paging refused: error %lu\n", v->m->name, i,
                       mode == HV_VCPU_MODE_SHADOW ? "shadow" : "nested", (unsigned long)err);
        uint64_t bind[1] = { v->tcb[i] };
        e |= err | hvu_invoke(v->vcpu[i], HV_INV_VCPU_BIND_TCB, 1, bind, NULL);
    }
    return e;
}

/* vCPU i's thread, SchedContext and exit mint (its VCPU is made before, with the large objects). */
static uint64_t build_thread(struct vm *v, unsigned i)
{
    const hv_manifest_Server *vmm = &manifest.servers[v->vmm];
    uint64_t err;
    if ((v->tcb[i] = hvu_retype(HV_OBJ_TCB, 0, &err)) == 0 || (v->sc[i] = hvu_retype(HV_OBJ_SCHED_CONTEXT, 0, &err)) == 0)
        return err;
    if ((err = hvu_mint(v->exits, HV_RIGHT_WRITE | HV_RIGHT_GRANT_REPLY, HV_VM_VCPU_BADGE(i), &v->fault[i])) != HV_OK)
        return err;
    uint64_t sc_cfg[3] = { vmm->budget_us, vmm->period_us, 0 };
    uint64_t bind[1] = { v->tcb[i] };
    err = hvu_invoke(v->sc[i], HV_INV_SC_CONFIGURE, 3, sc_cfg, NULL);
    return err != HV_OK ? err : hvu_invoke(v->sc[i], HV_INV_SC_BIND, 1, bind, NULL);
}

/* The cap of RAM frame i (large ones first) and where it starts in guest-physical memory. */
static uint64_t ram_frame_gpa(const struct vm *v, uint64_t i)
{
    return i < v->ram_large ? i * LARGE : v->ram_large * LARGE + (i - v->ram_large) * PAGE;
}

/* Guest RAM: 2 MiB frames, then 4 KiB ones, in a run of init's slots, each mapped at its gfn. */
static uint64_t build_ram(struct vm *v)
{
    uint64_t err = HV_OK;
    for (uint64_t i = 0; i < v->ram_large + v->ram_small && err == HV_OK; i++) {
        uint64_t f = hvu_retype(HV_OBJ_FRAME, i < v->ram_large ? HV_LARGE_FRAME_BITS : 0, &err);
        if (f == 0)
            break;
        if (i == 0)
            v->ram_first = f;
        if (f != v->ram_first + i)
            return HV_ERR_INVALID_ARGUMENT;     /* not a run: hvu's root slots are handed out in order */
        uint64_t args[3] = { f, ram_frame_gpa(v, i) / PAGE, HV_GUEST_RIGHTS_ALL };
        err = hvu_invoke(v->gm, HV_INV_GUEST_MEMORY_MAP, 3, args, NULL);
    }
    return err;
}

static bool modules_present(struct vm *v)
{
    v->kernel = module_named(v->m->kernel_module);
    v->initrd = v->m->initrd_module[0] != '\0' ? module_named(v->m->initrd_module) : NULL;
    const char *missing = v->kernel == NULL ? v->m->kernel_module
                          : v->m->initrd_module[0] != '\0' && v->initrd == NULL ? v->m->initrd_module
                                                                                : NULL;
    if (missing != NULL)
        hvu_printf("init: vm %s: no boot module \"%s\" (its %s_module): VM not built\n", v->m->name, missing,
                   missing == v->m->kernel_module ? "kernel" : "initrd");
    return missing == NULL;
}

static void build(struct vm *v)
{
    uint64_t ram = (uint64_t)v->m->memory_mib * MIB;
    unsigned vcpu_bits = v->m->paging == hv_manifest_PagingMode_PAGING_SHADOW ? VCPU_SHADOW_BITS : VCPU_NESTED_BITS;
    unsigned bits = gm_bits(ram);
    v->ram_pages = ram / PAGE;
    v->ram_large = ram / LARGE;
    v->ram_small = (ram % LARGE) / PAGE;
    /* Alignment: the 2 MiB frames come first, each at a 2 MiB boundary of init's untyped. */
    uint64_t bytes = ram + (v->ram_large > 0 ? LARGE : 0) + (1ull << bits) +
                     (uint64_t)v->m->vcpus * ((1ull << vcpu_bits) + (1ull << HV_TCB_BITS) + PAGE);
    uint64_t slots = v->ram_large + v->ram_small + 4u * (uint64_t)v->m->vcpus + 2u;
    if (bits > HV_GUEST_MEMORY_MAX_BITS || bytes > hvu_free_bytes() || slots > hvu_free_slots()) {
        hvu_printf("init: vm %s: needs %lu KiB and %lu slots, init has %lu KiB and %lu slots free: VM not built\n",
                   v->m->name, (unsigned long)bytes >> 10, (unsigned long)slots, (unsigned long)hvu_free_bytes() >> 10,
                   (unsigned long)hvu_free_slots());
        return;
    }
    /* Largest first (2 MiB frames, VCPUs, GuestMemory, 4 KiB frames, then the small objects), so
     * little is lost to alignment. The GuestMemory is made before RAM is mapped into it. */
    uint64_t err = HV_OK;
    if (vcpu_bits > bits) {
        for (unsigned i = 0; i < v->m->vcpus && err == HV_OK; i++)
            v->vcpu[i] = hvu_retype(HV_OBJ_VCPU, vcpu_bits, &err);
    }
    if (err == HV_OK)
        v->gm = hvu_retype(HV_OBJ_GUEST_MEMORY, bits, &err);
    if (err == HV_OK && vcpu_bits <= bits) {
        for (unsigned i = 0; i < v->m->vcpus && err == HV_OK; i++)
            v->vcpu[i] = hvu_retype(HV_OBJ_VCPU, vcpu_bits, &err);
    }
    if (err == HV_OK)
        err = build_ram(v);
    if (err == HV_OK)
        v->exits = hvu_retype(HV_OBJ_ENDPOINT, 0, &err);
    for (unsigned i = 0; i < v->m->vcpus && err == HV_OK; i++)
        err = build_thread(v, i);
    if (err == HV_OK)
        err = vm_reset(v);
    if (err != HV_OK) {
        hvu_printf("init: vm %s: building it failed (or-ed errors 0x%lx): VM not built\n", v->m->name,
                   (unsigned long)err);
        return;
    }
    v->built = true;
    hvu_printf("init: vm %s: %u MiB RAM (%lu 2 MiB + %lu 4 KiB frames, GuestMemory %lu KiB), %u vCPUs (%s, VCPU %lu KiB), "
               "kernel \"%s\" %lu bytes, initrd \"%s\" %lu bytes; vmm %s\n",
               v->m->name, (unsigned)v->m->memory_mib, (unsigned long)v->ram_large, (unsigned long)v->ram_small,
               (unsigned long)(1ull << bits) >> 10,
               (unsigned)v->m->vcpus, v->m->paging == hv_manifest_PagingMode_PAGING_SHADOW ? "shadow" : "nested",
               (unsigned long)(1ull << vcpu_bits) >> 10, v->m->kernel_module,
               (unsigned long)v->kernel->size, v->m->initrd_module,
               (unsigned long)(v->initrd != NULL ? v->initrd->size : 0), manifest.servers[v->vmm].name);
}

void vm_build_all(void)
{
    uint64_t err = HV_OK;
    if (manifest.vms_count > 0) {
        vcpu_cspace = hvu_retype(HV_OBJ_CNODE, HV_CNODE_MIN_RADIX, &err);
        if (err == HV_OK)
            vcpu_vspace = hvu_retype(HV_OBJ_PML4, 0, &err);
    }
    for (pb_size_t i = 0; i < manifest.vms_count; i++) {
        struct vm *v = &vms[i];
        memset(v, 0, sizeof(*v));
        v->m = &manifest.vms[i];
        v->vmm = -1;
        for (pb_size_t k = 0; k < manifest.servers_count; k++) {
            const hv_manifest_Server *s = &manifest.servers[k];
            for (pb_size_t j = 0; j < s->caps_count; j++) {
                if (s->caps[j].which_kind == hv_manifest_Capability_vm_control_tag &&
                    strcmp(s->caps[j].kind.vm_control.vm, v->m->name) == 0)
                    v->vmm = (int)k;
            }
        }
        if (err != HV_OK)
            hvu_printf("init: vm %s: no CSpace/VSpace for vCPU threads: error %lu: VM not built\n", v->m->name,
                       (unsigned long)err);
        else if (v->vmm >= 0 && modules_present(v))
            build(v);
    }
}

/* ---- what one incarnation of the vmm gets ---- */

/* Pool bytes and slots the VM windows of one incarnation of `s` take (0 if it controls no built VM). */
void vm_needs(const struct server *s, uint64_t *bytes, uint64_t *slots)
{
    const struct vm *v = vm_of_server(s);
    if (v == NULL || !v->built)
        return;
    uint64_t kp = module_pages(v->kernel), ip = module_pages(v->initrd);
    /*
     * hvu_map_frame_into retypes up to three tables (deleting those already there) per
     * table it misses: a PT for each 2 MiB of 4 KiB pages, a PD for each GiB of the RAM
     * window (its 2 MiB frames need no PT).
     */
    uint64_t small_va = HV_VM_RAM_VA + v->ram_large * LARGE;
    uint64_t tables = 1 + blocks(HV_VM_RAM_VA, small_va, PD_SPAN) +
                      blocks(small_va, small_va + v->ram_small * PAGE, TABLE_SPAN) +
                      blocks(HV_VM_KERNEL_VA, HV_VM_KERNEL_VA + kp * PAGE, TABLE_SPAN) +
                      blocks(HV_VM_INITRD_VA, HV_VM_INITRD_VA + ip * PAGE, TABLE_SPAN);
    /* The info frame, the tables; Reply objects counted at 64 bytes: padding after a notification. */
    *bytes += (1 + 3 * tables) * PAGE + (uint64_t)v->m->vcpus * 64u;
    /* The info frame and its read-only copy, a copy per RAM frame and module page, the tables, a Reply per vCPU. */
    *slots += 2 + v->ram_large + v->ram_small + kp + ip + 3 * tables + v->m->vcpus;
}

/* Maps copies of `count` frames of `size` bytes each, slots first.., at va, va + size, ... */
static uint64_t map_copies(uint64_t pml4, uint64_t first, uint64_t count, uint64_t size, uint64_t rights, uint64_t va)
{
    uint64_t err = HV_OK;
    for (uint64_t i = 0; i < count && err == HV_OK; i++) {
        uint64_t copy;
        err = hvu_copy(first + i, rights, &copy);
        if (err == HV_OK)
            err = hvu_map_frame_into(pml4, copy, va + i * size, 0);
    }
    return err;
}

static uint64_t map_info(const struct vm *v, uint64_t pml4, uint64_t control_slot)
{
    uint64_t err, ro;
    uint64_t f = hvu_retype(HV_OBJ_FRAME, 0, &err);
    if (f == 0 || (err = hvu_map_frame_into(HV_ROOT_VSPACE, f, HVU_SCRATCH_VA, 0)) != HV_OK)
        return err;
    struct hv_vm_info *info = (struct hv_vm_info *)(uintptr_t)HVU_SCRATCH_VA;
    info->magic = HV_VM_INFO_MAGIC;
    info->version = HV_VM_INFO_VERSION;
    info->vcpus = v->m->vcpus;
    info->ram_bytes = v->ram_pages * PAGE;
    info->paging = v->m->paging == hv_manifest_PagingMode_PAGING_SHADOW ? HV_VCPU_MODE_SHADOW : HV_VCPU_MODE_NESTED;
    info->vm_control_slot = (uint32_t)control_slot;
    info->kernel_size = v->kernel->size;
    info->initrd_size = v->initrd != NULL ? v->initrd->size : 0;
    info->tsc_hz = boot->tsc_hz;
    (void)kstrlcpy(info->name, v->m->name, sizeof(info->name));
    (void)kstrlcpy(info->cmdline, v->m->cmdline, sizeof(info->cmdline));
    (void)hvu_invoke(f, HV_INV_FRAME_UNMAP, 0, NULL, NULL);
    if ((err = hvu_copy(f, HV_RIGHT_READ, &ro)) != HV_OK)
        return err;
    return hvu_map_frame_into(pml4, ro, HV_VM_INFO_VA, 0);
}

uint64_t vm_map_windows(const struct server *s, uint64_t pml4)
{
    const struct vm *v = vm_of_server(s);
    if (v == NULL || !v->built)
        return HV_OK;
    uint64_t control_slot = 0;
    for (pb_size_t j = 0; j < s->m->caps_count; j++) {
        if (s->m->caps[j].which_kind == hv_manifest_Capability_vm_control_tag)
            control_slot = s->m->caps[j].slot;
    }
    uint64_t err = map_info(v, pml4, control_slot);
    uint64_t rw = HV_RIGHT_READ | HV_RIGHT_WRITE;
    if (err == HV_OK)
        err = map_copies(pml4, v->ram_first, v->ram_large, LARGE, rw, HV_VM_RAM_VA);
    if (err == HV_OK)
        err = map_copies(pml4, v->ram_first + v->ram_large, v->ram_small, PAGE, rw, HV_VM_RAM_VA + v->ram_large * LARGE);
    if (err == HV_OK)
        err = map_copies(pml4, v->kernel->frames.start, module_pages(v->kernel), PAGE, HV_RIGHT_READ, HV_VM_KERNEL_VA);
    if (err == HV_OK && v->initrd != NULL)
        err = map_copies(pml4, v->initrd->frames.start, module_pages(v->initrd), PAGE, HV_RIGHT_READ, HV_VM_INITRD_VA);
    if (err != HV_OK)
        hvu_printf("init: server %s: mapping vm %s into it failed: error %lu\n", s->m->name, v->m->name,
                   (unsigned long)err);
    return err;
}

uint64_t vm_give_control(struct server *s, const hv_manifest_Capability *c)
{
    const struct vm *v = vm_named(c->kind.vm_control.vm);
    if (v == NULL || !v->built) {
        hvu_printf("init: server %s slot %u: vm %s was not built: no vm_control\n", s->m->name, (unsigned)c->slot,
                   c->kind.vm_control.vm);
        return HV_ERR_INVALID_ARGUMENT;
    }
    uint64_t base = c->slot, e = HV_OK, err;
    e |= hvu_give_copy(s->cnode, INIT_SERVER_CNODE_RADIX, base + HV_VM_SLOT_EXITS, v->exits, HV_RIGHT_READ);
    for (unsigned i = 0; i < v->m->vcpus; i++) {
        e |= hvu_give_copy(s->cnode, INIT_SERVER_CNODE_RADIX, base + HV_VM_SLOT_VCPU(i), v->vcpu[i], HV_RIGHTS_ALL);
        e |= hvu_give_copy(s->cnode, INIT_SERVER_CNODE_RADIX, base + HV_VM_SLOT_TCB(i), v->tcb[i], HV_RIGHTS_ALL);
        uint64_t reply = hvu_retype(HV_OBJ_REPLY, 0, &err);
        e |= reply == 0 ? err : hvu_give_move(s->cnode, INIT_SERVER_CNODE_RADIX, base + HV_VM_SLOT_REPLY(i), reply);
    }
    return e;
}

uint64_t vm_give_memory(struct server *s, const hv_manifest_Capability *c, uint64_t rights)
{
    const struct vm *v = vm_named(c->kind.guest_memory.vm);
    if (v == NULL || !v->built) {
        /* The server starts without it (the slot stays empty): only the VM's own vmm depends on its VM. */
        hvu_printf("init: server %s slot %u: vm %s was not built: slot left empty\n", s->m->name, (unsigned)c->slot,
                   c->kind.guest_memory.vm);
        return HV_OK;
    }
    return hvu_give_copy(s->cnode, INIT_SERVER_CNODE_RADIX, c->slot, v->gm, rights);
}

void vm_suspend(const struct server *s)
{
    const struct vm *v = vm_of_server(s);
    for (unsigned i = 0; v != NULL && v->built && i < v->m->vcpus; i++)
        (void)hvu_invoke(v->tcb[i], HV_INV_TCB_SUSPEND, 0, NULL, NULL);
}

uint64_t vm_restore(const struct server *s)
{
    struct vm *v = vm_of_server(s);
    return v == NULL || !v->built ? HV_OK : vm_reset(v);
}

void vm_vmm_stopped(const struct server *s, const char *why)
{
    const struct vm *v = vm_of_server(s);
    if (v == NULL || !v->built)
        return;
    /* The proof each guest stopped: the core refuses state access to a vCPU whose thread runs. */
    uint64_t e = HV_OK, rip0 = 0, args[1] = { HV_MTD_RSP_RIP_RFLAGS };
    for (unsigned i = 0; i < v->m->vcpus; i++) {
        e |= hvu_invoke(v->vcpu[i], HV_INV_VCPU_READ_STATE, 1, args, NULL);
        if (i == 0)
            rip0 = ((const struct hv_vcpu_state *)(const void *)&hvu_ipc()->msg[HV_VCPU_STATE_WORD])->rip;
    }
    hvu_printf("init: vm %s: vmm %s stopped (%s): its %u vCPUs are suspended (vCPU 0 at rip 0x%lx)\n", v->m->name,
               s->m->name, why, (unsigned)v->m->vcpus, (unsigned long)rip0);
    hvu_check(e == HV_OK, "init.vm_vcpus_stopped", "vm %s: state access refused: or-ed errors 0x%lx", v->m->name,
              (unsigned long)e);
}
