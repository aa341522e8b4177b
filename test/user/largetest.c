/* SPDX-License-Identifier: MIT */
/* largetest: root task testing 2 MiB frames: retype, VSpace and GuestMemory maps and their errors, a guest using one (nested and shadow). */
#include "hvu.h"
#include "hvu_vm.h"

#include "lib/kstring.h"
#include "../guests/guest_ports.h"

/*
 * Three parts, each check able to fail:
 *  - VSpace: a 2 MiB frame in the root's own address space — retype sizes, every map
 *    error (misaligned va, no PD, a PT in the way, no READ right, mapped twice, a 4 KiB
 *    frame or a PT under it), the memory touched at both ends and in every 4 KiB page,
 *    unmap, and delete / revoke while mapped (a new frame at the same va must show its
 *    own bytes: the entry went and the TLB was flushed);
 *  - GuestMemory: the same errors in nested tables (misaligned gfn, past the size,
 *    rights, a PT in the way, a 4 KiB frame under the leaf, mapped twice), QUERY inside
 *    the leaf, unmap, delete and revoke;
 *  - a guest (test/guests/guest_large.S) under nested and then shadow paging reads the
 *    host's bytes at both ends of a 2 MiB frame, writes its own in every page (the host
 *    sees them), and after the frame's cap is deleted while it ran, its next access is a
 *    GPA exit.
 */

#define MIB (1ull << 20)
#define LARGE (2ull * MIB)
#define PAGE 4096ull
#define LVA 0x0000400000000000ull       /* the VSpace tests' 1 GiB (its first 2 MiB gets a PT) */
#define HOST_VA 0x0000410000000000ull   /* where the vmm sees a VM's 2 MiB frame (the PT is at +0) */
#define VM_LOW_VA 0x0000420000000000ull /* ... and the VM's low 4 KiB frames */
#define VM_LOW_PAGES 16u                /* guest-physical [0, 64 KiB): the guest's code at 0x7c00 */
#define VCPU_BITS 20u                   /* 1 MiB: backend pages and a shadow pool */
#define GM_BITS 16u
#define VCPU_PRIORITY 100u

static const struct hv_bootinfo *boot;
static uint64_t fault_ep, reply_obj;

static uint64_t inv(uint64_t cap, uint64_t label, unsigned n, const uint64_t *args)
{
    return hvu_invoke(cap, label, n, args, NULL);
}

static uint64_t vmap(uint64_t frame, uint64_t va)
{
    return inv(frame, HV_INV_FRAME_MAP, 3, (uint64_t[]){ HV_ROOT_VSPACE, va, 0 });
}

static uint64_t frame_pa(uint64_t frame)
{
    struct hv_msg out;
    return hvu_invoke(frame, HV_INV_FRAME_GET_ADDRESS, 0, NULL, &out) == HV_OK ? out.w[0] : ~0ull;
}

static uint64_t large_frame(void)
{
    uint64_t err;
    return hvu_retype(HV_OBJ_FRAME, HV_LARGE_FRAME_BITS, &err);
}

static uint64_t copy(uint64_t src, uint64_t rights)
{
    uint64_t c;
    return hvu_copy(src, rights, &c) == HV_OK ? c : 0;
}

static volatile uint32_t *at(uint64_t va)
{
    return (volatile uint32_t *)(uintptr_t)va;
}

/* Page i of the 2 MiB at va holds tag | i at its offset 0; true if all 512 do. */
static void fill_pages(uint64_t va, uint32_t tag)
{
    for (uint64_t i = 0; i < LARGE / PAGE; i++)
        *at(va + i * PAGE) = tag | (uint32_t)i;
}

static bool pages_hold(uint64_t va, uint32_t tag)
{
    for (uint64_t i = 0; i < LARGE / PAGE; i++) {
        if (*at(va + i * PAGE) != (tag | (uint32_t)i))
            return false;
    }
    return true;
}

/* ---- VSpace ---- */

static void vspace_tests(void)
{
    uint64_t err;
    uint64_t big = large_frame();
    uint64_t pa = frame_pa(big);
    hvu_check(big != 0 && pa != ~0ull && (pa & (LARGE - 1)) == 0, "large.retype_aligned", "slot %lu pa 0x%lx", big, pa);
    uint64_t bad = hvu_retype(HV_OBJ_FRAME, 13, &err);
    hvu_check(bad == 0 && err == HV_ERR_RANGE, "large.retype_bad_size", "slot %lu err %lu", bad, err);
    bad = hvu_retype(HV_OBJ_FRAME, 22, &err);
    hvu_check(bad == 0 && err == HV_ERR_RANGE, "large.retype_bad_size_1g", "slot %lu err %lu", bad, err);

    /* A 4 KiB frame at LVA: PDPT, PD and a PT for LVA's 2 MiB. */
    uint64_t small = hvu_retype(HV_OBJ_FRAME, 0, &err);
    err = small == 0 ? err : hvu_map_frame_into(HV_ROOT_VSPACE, small, LVA, 0);
    hvu_check(err == HV_OK, "large.setup_small_frame", "err %lu", err);

    err = vmap(big, LVA + LARGE + PAGE);
    hvu_check(err == HV_ERR_ALIGNMENT, "large.map_misaligned_va", "err %lu", err);
    err = vmap(big, LVA + (1ull << 30));
    hvu_check(err == HV_ERR_MISSING_TABLE, "large.map_no_pd", "err %lu", err);
    err = vmap(big, LVA);
    hvu_check(err == HV_ERR_PAGE_SIZE, "large.map_pt_in_the_way", "err %lu", err);
    uint64_t write_only = copy(big, HV_RIGHT_WRITE);
    err = vmap(write_only, LVA + LARGE);
    hvu_check(err == HV_ERR_INSUFFICIENT_RIGHTS, "large.map_without_read", "err %lu", err);

    err = vmap(big, LVA + LARGE);
    hvu_check(err == HV_OK, "large.map", "err %lu", err);
    if (err != HV_OK)
        return;
    fill_pages(LVA + LARGE, 0xa0000000u);
    *at(LVA + 2 * LARGE - 4) = 0xdeadbeefu;
    hvu_check(pages_hold(LVA + LARGE, 0xa0000000u) && *at(LVA + 2 * LARGE - 4) == 0xdeadbeefu,
              "large.touch_every_page_and_both_ends", "first 0x%x last 0x%x", *at(LVA + LARGE),
              *at(LVA + 2 * LARGE - 4));

    err = vmap(big, LVA + 2 * LARGE);
    hvu_check(err == HV_ERR_ALREADY_MAPPED, "large.map_cap_twice", "err %lu", err);
    uint64_t other = copy(big, HV_RIGHTS_ALL);
    err = vmap(other, LVA + LARGE);
    hvu_check(err == HV_ERR_ALREADY_MAPPED, "large.map_over_large", "err %lu", err);
    uint64_t small2 = hvu_retype(HV_OBJ_FRAME, 0, &err);
    err = vmap(small2, LVA + LARGE + PAGE);
    hvu_check(err == HV_ERR_PAGE_SIZE, "large.small_under_large", "err %lu", err);
    uint64_t pt = hvu_retype(HV_OBJ_PT, 0, &err);
    err = inv(pt, HV_INV_PAGE_TABLE_MAP, 2, (uint64_t[]){ HV_ROOT_VSPACE, LVA + LARGE });
    hvu_check(err == HV_ERR_PAGE_SIZE, "large.pt_over_large", "err %lu", err);

    /* A read-only alias of the same frame sees the same bytes. */
    uint64_t ro = copy(big, HV_RIGHT_READ);
    err = vmap(ro, LVA + 2 * LARGE);
    hvu_check(err == HV_OK && pages_hold(LVA + 2 * LARGE, 0xa0000000u) && *at(LVA + 3 * LARGE - 4) == 0xdeadbeefu,
              "large.read_only_alias", "err %lu", err);
    (void)inv(ro, HV_INV_FRAME_UNMAP, 0, NULL);

    /* Unmap frees the entry: a copy maps there and shows the same bytes. */
    err = inv(big, HV_INV_FRAME_UNMAP, 0, NULL);
    uint64_t err2 = vmap(other, LVA + LARGE);
    hvu_check(err == HV_OK && err2 == HV_OK && pages_hold(LVA + LARGE, 0xa0000000u), "large.unmap_and_map_copy",
              "unmap %lu map %lu", err, err2);

    /* Delete while mapped: the entry goes and the TLB with it (a fresh frame there reads 0). */
    err = hvu_delete(other);
    uint64_t fresh = large_frame();
    err2 = vmap(fresh, LVA + LARGE);
    hvu_check(err == HV_OK && err2 == HV_OK && *at(LVA + LARGE) == 0 && *at(LVA + 2 * LARGE - 4) == 0,
              "large.delete_mapped_unmaps_and_flushes", "delete %lu map %lu first 0x%x last 0x%x", err, err2,
              err2 == HV_OK ? *at(LVA + LARGE) : 0, err2 == HV_OK ? *at(LVA + 2 * LARGE - 4) : 0);

    /* Revoke while mapped: the derived copy mapped there goes with it. */
    (void)inv(fresh, HV_INV_FRAME_UNMAP, 0, NULL);
    uint64_t child = copy(fresh, HV_RIGHTS_ALL);
    err = vmap(child, LVA + LARGE);
    *at(LVA + LARGE) = 0x5555aaaau;
    err2 = hvu_revoke(fresh);
    uint64_t err3 = vmap(big, LVA + LARGE);
    hvu_check(err == HV_OK && err2 == HV_OK && err3 == HV_OK && pages_hold(LVA + LARGE, 0xa0000000u),
              "large.revoke_mapped_unmaps_and_flushes", "map %lu revoke %lu remap %lu first 0x%x", err, err2, err3,
              err3 == HV_OK ? *at(LVA + LARGE) : 0);
    (void)inv(big, HV_INV_FRAME_UNMAP, 0, NULL);
}

/* ---- GuestMemory ---- */

static uint64_t gmap(uint64_t gm, uint64_t frame, uint64_t gfn, uint64_t rights)
{
    return inv(gm, HV_INV_GUEST_MEMORY_MAP, 3, (uint64_t[]){ frame, gfn, rights });
}

static uint64_t gquery(uint64_t gm, uint64_t gfn, uint64_t *hpa, uint64_t *rights)
{
    struct hv_msg out;
    uint64_t err = hvu_invoke(gm, HV_INV_GUEST_MEMORY_QUERY, 1, (uint64_t[]){ gfn }, &out);
    *hpa = out.w[0];
    *rights = out.w[1];
    return err;
}

static void guest_memory_tests(void)
{
    uint64_t err, hpa = 0, rights = 0;
    uint64_t gm = hvu_retype(HV_OBJ_GUEST_MEMORY, GM_BITS, &err);
    uint64_t big = large_frame();
    uint64_t pa = frame_pa(big);
    hvu_check(gm != 0 && big != 0, "gm.setup", "err %lu", err);

    err = gmap(gm, big, 0x201, HV_GUEST_RIGHTS_ALL);
    hvu_check(err == HV_ERR_ALIGNMENT, "gm.large_misaligned_gfn", "err %lu", err);
    uint64_t ro = copy(big, HV_RIGHT_READ);
    err = gmap(gm, ro, 0x200, HV_GUEST_READ | HV_GUEST_WRITE);
    hvu_check(err == HV_ERR_INSUFFICIENT_RIGHTS, "gm.large_write_without_right", "err %lu", err);
    (void)inv(gm, HV_INV_GUEST_MEMORY_SET_SIZE, 1, (uint64_t[]){ 0x300 });
    err = gmap(gm, big, 0x200, HV_GUEST_RIGHTS_ALL);
    hvu_check(err == HV_ERR_RANGE, "gm.large_past_size", "err %lu", err);
    (void)inv(gm, HV_INV_GUEST_MEMORY_SET_SIZE, 1, (uint64_t[]){ HV_GUEST_GFN_LIMIT });

    /* A 4 KiB frame at gfn 0x400 puts a PT in the 2 MiB [0x400, 0x600). */
    uint64_t small = hvu_retype(HV_OBJ_FRAME, 0, &err);
    err = gmap(gm, small, 0x400, HV_GUEST_RIGHTS_ALL);
    uint64_t big2 = large_frame();
    uint64_t err2 = gmap(gm, big2, 0x400, HV_GUEST_RIGHTS_ALL);
    hvu_check(err == HV_OK && err2 == HV_ERR_PAGE_SIZE, "gm.large_over_pt", "small %lu large %lu", err, err2);

    err = gmap(gm, big, 0x200, HV_GUEST_RIGHTS_ALL);
    hvu_check(err == HV_OK, "gm.large_map", "err %lu", err);
    err = gquery(gm, 0x2ff, &hpa, &rights);
    hvu_check(err == HV_OK && hpa == pa + 0xff000 && rights == HV_GUEST_RIGHTS_ALL, "gm.query_inside_large",
              "err %lu hpa 0x%lx (frame 0x%lx) rights %lu", err, hpa, pa, rights);
    err = gquery(gm, 0x200, &hpa, &rights);
    hvu_check(err == HV_OK && hpa == pa, "gm.query_large_base", "err %lu hpa 0x%lx", err, hpa);
    uint64_t small2 = hvu_retype(HV_OBJ_FRAME, 0, &err);
    err = gmap(gm, small2, 0x3ff, HV_GUEST_RIGHTS_ALL);
    hvu_check(err == HV_ERR_PAGE_SIZE, "gm.small_under_large", "err %lu", err);
    uint64_t other = copy(big, HV_RIGHTS_ALL);
    err = gmap(gm, other, 0x200, HV_GUEST_RIGHTS_ALL);
    hvu_check(err == HV_ERR_ALREADY_MAPPED, "gm.large_over_large", "err %lu", err);
    err = gmap(gm, big, 0x600, HV_GUEST_RIGHTS_ALL);
    hvu_check(err == HV_ERR_ALREADY_MAPPED, "gm.large_cap_twice", "err %lu", err);
    err = vmap(big, HOST_VA + LARGE);
    hvu_check(err == HV_ERR_ALREADY_MAPPED, "gm.large_guest_mapped_not_in_vspace", "err %lu", err);

    err = inv(gm, HV_INV_GUEST_MEMORY_UNMAP, 1, (uint64_t[]){ big });
    err2 = gquery(gm, 0x2ff, &hpa, &rights);
    hvu_check(err == HV_OK && err2 == HV_ERR_NOT_MAPPED, "gm.large_unmap", "unmap %lu query %lu", err, err2);
    err = gmap(gm, other, 0x600, HV_GUEST_READ);
    err2 = gquery(gm, 0x7ff, &hpa, &rights);
    hvu_check(err == HV_OK && err2 == HV_OK && hpa == pa + 0x1ff000 && rights == HV_GUEST_READ, "gm.large_remap_read_only",
              "map %lu query %lu hpa 0x%lx rights %lu", err, err2, hpa, rights);
    err = hvu_delete(other);
    err2 = gquery(gm, 0x600, &hpa, &rights);
    hvu_check(err == HV_OK && err2 == HV_ERR_NOT_MAPPED, "gm.large_delete_mapped", "delete %lu query %lu", err, err2);
    uint64_t child = copy(big2, HV_RIGHTS_ALL);
    err = gmap(gm, child, 0x800, HV_GUEST_RIGHTS_ALL);
    err2 = hvu_revoke(big2);
    uint64_t err3 = gquery(gm, 0x800, &hpa, &rights);
    hvu_check(err == HV_OK && err2 == HV_OK && err3 == HV_ERR_NOT_MAPPED, "gm.large_revoke_mapped",
              "map %lu revoke %lu query %lu", err, err2, err3);
}

/* ---- a guest on a 2 MiB frame ---- */

static uint64_t make_vm(uint64_t mode, uint64_t host_va, uint64_t *vcpu_out, uint64_t *tcb_out, uint64_t *gm_out,
                        uint64_t *guest_cap_out)
{
    uint64_t err;
    uint64_t gm = hvu_retype(HV_OBJ_GUEST_MEMORY, GM_BITS, &err);
    if (gm == 0)
        return err;
    uint64_t low_va = VM_LOW_VA + (host_va - HOST_VA);
    for (uint64_t gfn = 0; gfn < VM_LOW_PAGES; gfn++) {
        uint64_t f = hvu_retype(HV_OBJ_FRAME, 0, &err), g;
        if (f == 0)
            return err;
        if ((err = hvu_map_frame_into(HV_ROOT_VSPACE, f, low_va + gfn * PAGE, 0)) != HV_OK ||
            (err = hvu_copy(f, HV_RIGHTS_ALL, &g)) != HV_OK ||
            (err = gmap(gm, g, gfn, HV_GUEST_RIGHTS_ALL)) != HV_OK)
            return err;
    }
    const uint8_t *bytes;
    uint64_t size;
    if ((err = hvu_map_module(boot, "guest_large", &bytes, &size)) != HV_OK)
        return err;
    if (GUEST_LOAD_GPA + size > VM_LOW_PAGES * PAGE)
        return HV_ERR_RANGE;
    memcpy((void *)(uintptr_t)(low_va + GUEST_LOAD_GPA), bytes, size);

    /* The 2 MiB frame: the host's copy in the root, the guest's at GUEST_LARGE_GPA. */
    uint64_t big = large_frame(), g;
    if (big == 0)
        return HV_ERR_NOT_ENOUGH_MEMORY;
    if ((err = hvu_map_frame_into(HV_ROOT_VSPACE, big, host_va, 0)) != HV_OK ||
        (err = hvu_copy(big, HV_RIGHTS_ALL, &g)) != HV_OK ||
        (err = gmap(gm, g, GUEST_LARGE_GPA / PAGE, HV_GUEST_RIGHTS_ALL)) != HV_OK)
        return err;
    *at(host_va) = GUEST_LARGE_HOST_LO;
    *at(host_va + LARGE - 4) = GUEST_LARGE_HOST_HI;

    uint64_t vcpu, tcb;
    if ((err = hvu_vcpu_create(gm, mode, VCPU_BITS, fault_ep, VCPU_PRIORITY, &vcpu, &tcb)) != HV_OK ||
        (err = hvu_vcpu_set_flat32(vcpu, GUEST_LOAD_GPA, GUEST_STACK_TOP, 0)) != HV_OK)
        return err;
    *vcpu_out = vcpu;
    *tcb_out = tcb;
    *gm_out = gm;
    *guest_cap_out = g;
    return HV_OK;
}

static void reply(bool stop)
{
    struct hv_msg m = hvu_resume_msg();
    hvu_exit_state()->mtd = HV_MTD_GPR | HV_MTD_RSP_RIP_RFLAGS;
    if (stop)
        m = (struct hv_msg){ hv_tag(HV_FAULT_STOP, 0, 0), 0, { 0, 0, 0, 0 } };
    (void)hv_send(reply_obj, &m);
}

static void guest_run(uint64_t mode, uint64_t host_va)
{
    const char *name = mode == HV_VCPU_MODE_SHADOW ? "shadow" : "nested";
    uint64_t vcpu = 0, tcb = 0, gm = 0, guest_cap = 0;
    uint64_t err = make_vm(mode, host_va, &vcpu, &tcb, &gm, &guest_cap);
    hvu_check(err == HV_OK, "guest.vm_created", "%s: err %lu", name, err);
    if (err != HV_OK)
        return;
    uint64_t sc = hvu_retype(HV_OBJ_SCHED_CONTEXT, 0, &err);
    (void)inv(sc, HV_INV_SC_CONFIGURE, 3, (uint64_t[]){ 5000, 10000, 0 });
    (void)inv(sc, HV_INV_SC_BIND, 1, (uint64_t[]){ tcb });
    err = inv(tcb, HV_INV_TCB_RESUME, 0, NULL);
    hvu_check(err == HV_OK, "guest.vm_started", "%s: err %lu", name, err);

    bool read_ok = false, written_ok = false, unmapped = false, gpa_exit = false;
    for (bool finished = false; !finished;) {
        struct hv_msg m = { 0, 0, { 0, 0, 0, 0 } };
        if (hv_recv(fault_ep, reply_obj, &m) != HV_OK || hv_tag_label(m.tag) != HV_FAULT_VM_EXIT) {
            hvu_check(false, "guest.exit_message", "%s: label %lu", name, hv_tag_label(m.tag));
            return;
        }
        struct hv_vcpu_state *s = hvu_exit_state();
        uint64_t reason = m.w[0], q = m.w[1];
        if (reason == HV_EXIT_IO && (q & HV_IO_PORT_MASK) == GUEST_PORT_PHASE && !(q & HV_IO_IN)) {
            s->rip += m.w[3];
            unsigned phase = (unsigned)(s->rax & 0xff);
            if (phase == GUEST_PHASE_LARGE_READ) {
                read_ok = (uint32_t)s->rbx == GUEST_LARGE_HOST_LO && (uint32_t)s->rcx == GUEST_LARGE_HOST_HI;
                hvu_check(read_ok, "guest.reads_host_bytes_both_ends", "%s: first 0x%lx last 0x%lx", name,
                          s->rbx & 0xffffffffu, s->rcx & 0xffffffffu);
            } else if (phase == GUEST_PHASE_LARGE_WRITTEN) {
                unsigned wrong = 0;
                for (uint64_t i = 0; i < LARGE / PAGE; i++)
                    wrong += *at(host_va + i * PAGE + 8) != (uint32_t)i;
                written_ok = wrong == 0 && *at(host_va + 4) == GUEST_LARGE_MARK_LO &&
                             *at(host_va + LARGE - 8) == GUEST_LARGE_MARK_HI;
                hvu_check(written_ok, "guest.host_sees_guest_bytes", "%s: %u pages wrong, marks 0x%x 0x%x", name,
                          wrong, *at(host_va + 4), *at(host_va + LARGE - 8));
            } else if (phase == GUEST_PHASE_UNMAP) {
                /* The guest just used the frame: its cached translations must go with the cap. */
                err = hvu_delete(guest_cap);
                unmapped = err == HV_OK;
                hvu_check(unmapped, "guest.delete_frame_in_use", "%s: err %lu", name, err);
            } else {
                hvu_check(false, "guest.access_after_delete_exits", "%s: the guest went on (phase %u)", name, phase);
                finished = true;
            }
        } else if (reason == HV_EXIT_GPA) {
            gpa_exit = unmapped && (m.w[2] & ~(PAGE - 1)) == GUEST_LARGE_PROBE;
            hvu_check(gpa_exit, "guest.access_after_delete_exits", "%s: gpa 0x%lx (unmapped %d)", name, m.w[2],
                      unmapped);
            finished = true;
        } else {
            hvu_check(false, "guest.expected_exit", "%s: reason %lu qual 0x%lx addr 0x%lx rip 0x%lx", name, reason, q,
                      m.w[2], s->rip);
            finished = true;
        }
        reply(finished);
    }
    hvu_check(read_ok && written_ok && gpa_exit, "guest.ran", "%s: read %d written %d gpa exit %d", name, read_ok,
              written_ok, gpa_exit);
    /* The host's cap keeps the memory: the guest's bytes are still there. */
    hvu_check(*at(host_va + 4) == GUEST_LARGE_MARK_LO, "guest.host_copy_survives", "%s: 0x%x", name, *at(host_va + 4));
}

void user_main(const struct hv_bootinfo *bi);

void user_main(const struct hv_bootinfo *bi)
{
    boot = bi;
    hvu_init(bi);
    uint64_t err;
    fault_ep = hvu_retype(HV_OBJ_ENDPOINT, 0, &err);
    reply_obj = hvu_retype(HV_OBJ_REPLY, 0, &err);
    vspace_tests();
    guest_memory_tests();
    /* Each VM's 2 MiB at its own host address (the first 2 MiB of HOST_VA's PD gets the tables). */
    guest_run(HV_VCPU_MODE_NESTED, HOST_VA + LARGE);
    guest_run(HV_VCPU_MODE_SHADOW, HOST_VA + 2 * LARGE);
    hvu_finish();
}
