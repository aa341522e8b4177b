/* SPDX-License-Identifier: MIT */
/* vmmtest: root task acting as a VMM: builds VMs from boot-module guests, serves their exits, checks every new invocation. */
#include "hvu.h"
#include "hvu_vm.h"

#include "lib/kstring.h"
#include "../guests/guest_ports.h"

/*
 * Order: invocation error checks; the hostile guests (a triple fault, an exit storm),
 * each stopping only its own VM; then guest_basic, whose PASS/FAIL lines (through
 * its console port) become checks here as guest.<name>; a recall from a second thread
 * happens while that guest spins (on another CPU when there is one).
 */

#define VCPU_PRIORITY 100u
#define RECALL_PRIORITY 100u
#define VCPU_BUDGET_US 5000u
#define VCPU_PERIOD_US 10000u
#define STORM_EXITS 3000u
#define BADGE_BASIC 1u
#define BADGE_TRIPLE 2u
#define BADGE_STORM 3u
#define BADGE_EMPTY 4u
#define PAGE 4096ull
#define PROBE_VA 0x0000580000000000ull
#define LINE_MAX 96u

static const struct hv_bootinfo *boot;
static uint64_t fault_ep, reply_obj, recall_ntfn, recall_done;
static volatile uint64_t recall_result = 0xffff;

static uint64_t inv(uint64_t cap, uint64_t label, unsigned n, const uint64_t *args)
{
    return hvu_invoke(cap, label, n, args, NULL);
}

static uint64_t badged_ep(uint64_t badge)
{
    uint64_t s;
    (void)hvu_mint(fault_ep, HV_RIGHT_WRITE | HV_RIGHT_GRANT_REPLY, badge, &s);
    return s;
}

/* Waits for the next VM-exit message. */
static bool next_exit(struct hv_msg *m)
{
    *m = (struct hv_msg){ 0, 0, { 0, 0, 0, 0 } };
    uint64_t err = hv_recv(fault_ep, reply_obj, m);
    return err == HV_OK && hv_tag_label(m->tag) == HV_FAULT_VM_EXIT;
}

static void reply_stop(void)
{
    struct hv_msg m = { hv_tag(HV_FAULT_STOP, 0, 0), 0, { 0, 0, 0, 0 } };
    (void)hv_send(reply_obj, &m);
}

static void reply_resume(uint64_t mtd)
{
    hvu_exit_state()->mtd = mtd;
    struct hv_msg m = hvu_resume_msg();
    (void)hv_send(reply_obj, &m);
}

/* The totals (w0-w3) are the sums of the table; a resolved exit was an exit of that reason. */
static bool counters_consistent(const struct hv_vcpu_counters *c, const uint64_t *totals)
{
    uint64_t exits = 0, resolved = 0, messages = 0;
    bool ok = true;
    for (unsigned r = 0; r < HV_EXIT_REASON_COUNT; r++) {
        exits += c->exits[r];
        resolved += c->resolved[r];
        messages += c->messages[r];
        if (c->exits[r] < c->resolved[r])
            ok = false;
    }
    return ok && c->resolved[HV_EXIT_NONE] == 0 && c->messages[HV_EXIT_NONE] == 0 && totals[0] == exits &&
           totals[1] == resolved && totals[2] == messages && totals[3] == c->exits[HV_EXIT_NONE];
}

static bool counters_all_zero(const struct hv_vcpu_counters *c)
{
    for (unsigned r = 0; r < HV_EXIT_REASON_COUNT; r++) {
        if (c->exits[r] != 0 || c->resolved[r] != 0 || c->messages[r] != 0)
            return false;
    }
    return true;
}

/* ---- error checks of the new invocations ---- */

static void check_errors(void)
{
    uint64_t err, args[8];

    /* retype sizes */
    uint64_t s = hvu_retype(HV_OBJ_GUEST_MEMORY, HV_GUEST_MEMORY_MIN_BITS - 1, &err);
    hvu_check(s == 0 && err == HV_ERR_RANGE, "gm.retype_too_small", "err %lu", err);
    s = hvu_retype(HV_OBJ_VCPU, HV_VCPU_MIN_BITS - 1, &err);
    hvu_check(s == 0 && err == HV_ERR_RANGE, "vcpu.retype_too_small", "err %lu", err);

    uint64_t gm = hvu_retype(HV_OBJ_GUEST_MEMORY, HV_GUEST_MEMORY_MIN_BITS, &err);
    hvu_check(gm != 0, "gm.retype", "err %lu", err);
    uint64_t f = hvu_retype(HV_OBJ_FRAME, 0, &err);
    uint64_t empty = hvu_alloc_slot();

    args[0] = empty; args[1] = 1; args[2] = HV_GUEST_READ;
    err = inv(gm, HV_INV_GUEST_MEMORY_MAP, 3, args);
    hvu_check(err == HV_ERR_EMPTY_SLOT, "gm.map_empty_slot", "err %lu", err);
    args[0] = fault_ep;
    err = inv(gm, HV_INV_GUEST_MEMORY_MAP, 3, args);
    hvu_check(err == HV_ERR_WRONG_TYPE, "gm.map_wrong_type", "err %lu", err);
    args[0] = f; args[2] = HV_GUEST_WRITE;
    err = inv(gm, HV_INV_GUEST_MEMORY_MAP, 3, args);
    hvu_check(err == HV_ERR_INVALID_ARGUMENT, "gm.map_write_only", "err %lu", err);
    args[2] = 8;
    err = inv(gm, HV_INV_GUEST_MEMORY_MAP, 3, args);
    hvu_check(err == HV_ERR_INVALID_ARGUMENT, "gm.map_bad_rights", "err %lu", err);
    uint64_t ro;
    (void)hvu_copy(f, HV_RIGHT_READ, &ro);
    args[0] = ro; args[2] = HV_GUEST_READ | HV_GUEST_WRITE;
    err = inv(gm, HV_INV_GUEST_MEMORY_MAP, 3, args);
    hvu_check(err == HV_ERR_INSUFFICIENT_RIGHTS, "gm.map_more_rights_than_frame", "err %lu", err);
    args[0] = f; args[1] = HV_GUEST_GFN_LIMIT; args[2] = HV_GUEST_READ;
    err = inv(gm, HV_INV_GUEST_MEMORY_MAP, 3, args);
    hvu_check(err == HV_ERR_RANGE, "gm.map_gfn_beyond_size", "err %lu", err);
    args[0] = 0x100;
    err = inv(gm, HV_INV_GUEST_MEMORY_SET_SIZE, 1, args);
    hvu_check(err == HV_OK, "gm.set_size", "err %lu", err);
    args[0] = f; args[1] = 0x100; args[2] = HV_GUEST_READ;
    err = inv(gm, HV_INV_GUEST_MEMORY_MAP, 3, args);
    hvu_check(err == HV_ERR_RANGE, "gm.map_gfn_beyond_set_size", "err %lu", err);

    args[0] = ro; args[1] = 5; args[2] = HV_GUEST_READ | HV_GUEST_EXECUTE;
    err = inv(gm, HV_INV_GUEST_MEMORY_MAP, 3, args);
    hvu_check(err == HV_OK, "gm.map", "err %lu", err);
    err = inv(gm, HV_INV_GUEST_MEMORY_MAP, 3, args);
    hvu_check(err == HV_ERR_ALREADY_MAPPED, "gm.map_same_cap_twice", "err %lu", err);
    args[0] = f;
    err = inv(gm, HV_INV_GUEST_MEMORY_MAP, 3, args);
    hvu_check(err == HV_ERR_ALREADY_MAPPED, "gm.map_gfn_in_use", "err %lu", err);

    struct hv_msg out;
    uint64_t q[1] = { 5 };
    err = hvu_invoke(gm, HV_INV_GUEST_MEMORY_QUERY, 1, q, &out);
    struct hv_msg addr;
    (void)hvu_invoke(f, HV_INV_FRAME_GET_ADDRESS, 0, NULL, &addr);
    hvu_check(err == HV_OK && out.w[0] == addr.w[0] && out.w[1] == (HV_GUEST_READ | HV_GUEST_EXECUTE),
              "gm.query", "err %lu hpa 0x%lx (frame 0x%lx) rights %lu", err, out.w[0], addr.w[0], out.w[1]);
    q[0] = 6;
    err = hvu_invoke(gm, HV_INV_GUEST_MEMORY_QUERY, 1, q, &out);
    hvu_check(err == HV_ERR_NOT_MAPPED, "gm.query_unmapped", "err %lu", err);
    uint64_t gm_ro;
    (void)hvu_copy(gm, HV_RIGHT_READ, &gm_ro);
    args[0] = f; args[1] = 7; args[2] = HV_GUEST_READ;
    err = inv(gm_ro, HV_INV_GUEST_MEMORY_MAP, 3, args);
    hvu_check(err == HV_ERR_INSUFFICIENT_RIGHTS, "gm.map_needs_write_on_gm", "err %lu", err);
    args[0] = f;
    err = inv(gm, HV_INV_GUEST_MEMORY_UNMAP, 1, args);
    hvu_check(err == HV_ERR_NOT_MAPPED, "gm.unmap_unmapped_frame", "err %lu", err);
    err = inv(gm, HV_INV_GUEST_MEMORY_SET_SIZE, 1, (uint64_t[]){ 0x200 });
    hvu_check(err == HV_ERR_BUSY, "gm.set_size_while_mapped", "err %lu", err);
    /* Deleting the mapped cap unmaps it. */
    (void)hvu_delete(ro);
    q[0] = 5;
    err = hvu_invoke(gm, HV_INV_GUEST_MEMORY_QUERY, 1, q, &out);
    hvu_check(err == HV_ERR_NOT_MAPPED, "gm.delete_frame_cap_unmaps", "err %lu", err);
    args[0] = f; args[1] = 5; args[2] = HV_GUEST_RIGHTS_ALL;
    err = inv(gm, HV_INV_GUEST_MEMORY_MAP, 3, args);
    uint64_t e2 = inv(gm, HV_INV_GUEST_MEMORY_UNMAP, 1, args);
    uint64_t e3 = hvu_invoke(gm, HV_INV_GUEST_MEMORY_QUERY, 1, q, &out);
    hvu_check(err == HV_OK && e2 == HV_OK && e3 == HV_ERR_NOT_MAPPED, "gm.unmap", "map %lu unmap %lu query %lu",
              err, e2, e3);

    /* VCPU */
    uint64_t v = hvu_retype(HV_OBJ_VCPU, HV_VCPU_MIN_BITS, &err);
    hvu_check(v != 0, "vcpu.retype", "err %lu", err);
    err = inv(v, HV_INV_VCPU_RECALL, 0, NULL);
    hvu_check(err == HV_ERR_ILLEGAL_OPERATION, "vcpu.recall_unbound", "err %lu", err);
    args[0] = gm;
    err = inv(v, HV_INV_VCPU_BIND_TCB, 1, args);
    hvu_check(err == HV_ERR_WRONG_TYPE, "vcpu.bind_wrong_type", "err %lu", err);
    args[0] = empty;
    err = inv(v, HV_INV_VCPU_BIND_TCB, 1, args);
    hvu_check(err == HV_ERR_EMPTY_SLOT, "vcpu.bind_empty_slot", "err %lu", err);
    args[0] = f; args[1] = HV_VCPU_MODE_NESTED;
    err = inv(v, HV_INV_VCPU_SET_GUEST_MEMORY, 2, args);
    hvu_check(err == HV_ERR_WRONG_TYPE, "vcpu.set_gm_wrong_type", "err %lu", err);
    args[0] = gm; args[1] = 7;
    err = inv(v, HV_INV_VCPU_SET_GUEST_MEMORY, 2, args);
    hvu_check(err == HV_ERR_INVALID_ARGUMENT, "vcpu.set_gm_bad_mode", "err %lu", err);
    args[1] = HV_VCPU_MODE_SHADOW;
    err = inv(v, HV_INV_VCPU_SET_GUEST_MEMORY, 2, args);
    /* Both backends offer shadow mode, but a minimum-size VCPU has no room for the
     * shadow state and SHADOW_POOL_MIN tables. */
    hvu_check(err == HV_ERR_NOT_ENOUGH_MEMORY, "vcpu.set_gm_shadow_refused", "err %lu", err);
    args[0] = gm_ro; args[1] = HV_VCPU_MODE_NESTED;
    err = inv(v, HV_INV_VCPU_SET_GUEST_MEMORY, 2, args);
    hvu_check(err == HV_ERR_INSUFFICIENT_RIGHTS, "vcpu.set_gm_needs_write", "err %lu", err);
    args[0] = 0; args[1] = HV_MTD_GPR;
    err = inv(v, HV_INV_VCPU_SET_TRANSFER, 2, args);
    hvu_check(err == HV_ERR_RANGE, "vcpu.transfer_reason_none", "err %lu", err);
    args[0] = HV_EXIT_REASON_COUNT;
    err = inv(v, HV_INV_VCPU_SET_TRANSFER, 2, args);
    hvu_check(err == HV_ERR_RANGE, "vcpu.transfer_reason_range", "err %lu", err);
    args[0] = HV_EXIT_IO; args[1] = HV_MTD_ALL + 1;
    err = inv(v, HV_INV_VCPU_SET_TRANSFER, 2, args);
    hvu_check(err == HV_ERR_INVALID_ARGUMENT, "vcpu.transfer_bad_mtd", "err %lu", err);
    args[0] = 1ull << 32;
    err = inv(v, HV_INV_VCPU_SET_EXCEPTION_INTERCEPTS, 1, args);
    hvu_check(err == HV_ERR_INVALID_ARGUMENT, "vcpu.intercepts_range", "err %lu", err);
    err = inv(v, HV_INV_VCPU_WRITE_STATE, 4, args);
    hvu_check(err == HV_ERR_TRUNCATED, "vcpu.write_state_truncated", "err %lu", err);
    struct hv_vcpu_state st;
    err = hvu_vcpu_read(v, HV_MTD_ALL, &st);
    hvu_check(err == HV_OK && st.cs.selector == 0xf000 && st.cs.base == 0xffff0000ull && st.rip == 0xfff0 &&
              (st.efer & (1u << 12)) == 0,
              "vcpu.reset_state", "err %lu cs %x base 0x%lx rip 0x%lx efer 0x%lx", err, st.cs.selector,
              st.cs.base, st.rip, st.efer);
    st.mtd = HV_MTD_ALL + 1;
    err = hvu_vcpu_write(v, &st);
    hvu_check(err == HV_ERR_INVALID_ARGUMENT, "vcpu.write_state_bad_mtd", "err %lu", err);
    st.mtd = HV_MTD_INJECT;
    st.inject_event = HV_INJECT_VALID | (1u << HV_INJECT_TYPE_SHIFT) | 0x20;
    err = hvu_vcpu_write(v, &st);
    hvu_check(err == HV_ERR_INVALID_ARGUMENT, "vcpu.write_state_bad_event_type", "err %lu", err);
    st.mtd = HV_MTD_TSC;
    st.tsc_offset = 12345;
    err = hvu_vcpu_write(v, &st);
    uint64_t e4 = hvu_vcpu_read(v, HV_MTD_TSC, &st);
    hvu_check(err == HV_OK && e4 == HV_OK && st.tsc_offset == 12345 && st.mtd == HV_MTD_TSC,
              "vcpu.write_read_state", "err %lu/%lu tsc %lu", err, e4, st.tsc_offset);
    uint64_t v_wo;
    (void)hvu_copy(v, HV_RIGHT_WRITE, &v_wo);
    args[0] = HV_MTD_ALL;
    err = inv(v_wo, HV_INV_VCPU_READ_STATE, 1, args);
    hvu_check(err == HV_ERR_INSUFFICIENT_RIGHTS, "vcpu.read_state_needs_read", "err %lu", err);

    /* Vector state: no thread holds it while unbound; a short write is truncated. */
    struct hv_vcpu_vec vec;
    memset(&vec, 0, sizeof(vec));
    vec.mxcsr = 0x1f80;
    err = hvu_vcpu_vec_read(v, &vec);
    hvu_check(err == HV_ERR_ILLEGAL_OPERATION, "vcpu.vec_read_unbound", "err %lu", err);
    err = hvu_vcpu_vec_write(v, &vec);
    hvu_check(err == HV_ERR_ILLEGAL_OPERATION, "vcpu.vec_write_unbound", "err %lu", err);
    err = inv(v, HV_INV_VCPU_WRITE_VEC, HV_VCPU_VEC_WORD + HV_VCPU_VEC_WORDS - 1, args);
    hvu_check(err == HV_ERR_TRUNCATED, "vcpu.vec_write_truncated", "err %lu", err);
    err = hvu_vcpu_vec_read(v_wo, &vec);
    hvu_check(err == HV_ERR_INSUFFICIENT_RIGHTS, "vcpu.vec_read_needs_read", "err %lu", err);

    /* Binding: a thread, once; a thread to one vCPU. */
    uint64_t t = hvu_retype(HV_OBJ_TCB, 0, &err);
    uint64_t t2 = hvu_retype(HV_OBJ_TCB, 0, &err);
    uint64_t v2 = hvu_retype(HV_OBJ_VCPU, HV_VCPU_MIN_BITS, &err);
    args[0] = t;
    err = inv(v, HV_INV_VCPU_BIND_TCB, 1, args);
    hvu_check(err == HV_OK, "vcpu.bind", "err %lu", err);
    args[0] = t2;
    err = inv(v, HV_INV_VCPU_BIND_TCB, 1, args);
    hvu_check(err == HV_ERR_BUSY, "vcpu.double_bind", "err %lu", err);
    args[0] = t;
    err = inv(v2, HV_INV_VCPU_BIND_TCB, 1, args);
    hvu_check(err == HV_ERR_BUSY, "vcpu.thread_bound_twice", "err %lu", err);
    /* Bound, never run: the thread's power-on FPU state (MXCSR 0x1f80, the SDM's default mask). */
    err = hvu_vcpu_vec_read(v, &vec);
    hvu_check(err == HV_OK && vec.mxcsr == 0x1f80 && vec.mxcsr_mask == 0xffbf, "vcpu.vec_read_power_on",
              "err %lu mxcsr 0x%lx mask 0x%lx", err, vec.mxcsr, vec.mxcsr_mask);
    vec.mxcsr = 0x1f80 | 0x40;                      /* DAZ: outside the default mask */
    err = hvu_vcpu_vec_write(v, &vec);
    hvu_check(err == HV_ERR_INVALID_ARGUMENT, "vcpu.vec_write_mxcsr_outside_mask", "err %lu", err);
    vec.mxcsr = 1ull << 32;
    err = hvu_vcpu_vec_write(v, &vec);
    hvu_check(err == HV_ERR_INVALID_ARGUMENT, "vcpu.vec_write_mxcsr_above_32_bits", "err %lu", err);

    /* A vCPU with no GuestMemory never enters: its thread reports INVALID_STATE. */
    uint64_t ep = badged_ep(BADGE_EMPTY);
    uint64_t cfg[5] = { ep, HV_ROOT_CNODE, HV_ROOT_VSPACE, 0, 0 };
    (void)inv(t, HV_INV_TCB_CONFIGURE, 5, cfg);
    (void)inv(t, HV_INV_TCB_SET_PRIORITY, 1, (uint64_t[]){ VCPU_PRIORITY });
    uint64_t sc = hvu_retype(HV_OBJ_SCHED_CONTEXT, 0, &err);
    (void)inv(sc, HV_INV_SC_CONFIGURE, 3, (uint64_t[]){ VCPU_BUDGET_US, VCPU_PERIOD_US, 0 });
    (void)inv(sc, HV_INV_SC_BIND, 1, (uint64_t[]){ t });
    err = inv(t, HV_INV_TCB_RESUME, 0, NULL);
    struct hv_msg m;
    bool got = next_exit(&m);
    hvu_check(err == HV_OK && got && m.badge == BADGE_EMPTY && m.w[0] == HV_EXIT_INVALID_STATE &&
              m.w[1] == HV_VCPU_INVALID_NO_MEMORY,
              "vcpu.no_guest_memory_no_entry", "resume %lu got %d badge %lu reason %lu qual 0x%lx", err, got,
              m.badge, m.w[0], m.w[1]);
    reply_stop();
    /* Its counters: one message the core made, no guest exit; READ is what it needs. */
    struct hv_vcpu_counters c;
    uint64_t totals[4], v_ro;
    err = hvu_vcpu_counters(v, &c, totals);
    bool only_invalid = c.messages[HV_EXIT_INVALID_STATE] == 1 && totals[0] == 0 && totals[1] == 0 && totals[2] == 1;
    hvu_check(err == HV_OK && only_invalid && counters_consistent(&c, totals), "vcpu.counters_core_made_exit",
              "err %lu exits %lu resolved %lu messages %lu invalid %lu", err, totals[0], totals[1], totals[2],
              c.messages[HV_EXIT_INVALID_STATE]);
    err = hvu_vcpu_counters(v_wo, &c, totals);
    hvu_check(err == HV_ERR_INSUFFICIENT_RIGHTS, "vcpu.counters_need_read", "err %lu", err);
    (void)hvu_copy(v, HV_RIGHT_READ, &v_ro);
    err = hvu_vcpu_counters(v_ro, &c, totals);
    hvu_check(err == HV_OK && totals[2] == 1, "vcpu.counters_read_only_cap", "err %lu messages %lu", err, totals[2]);
    (void)hvu_delete(v_ro);
    err = hvu_vcpu_counters(v2, &c, totals);
    hvu_check(err == HV_OK && counters_all_zero(&c) && totals[0] == 0 && totals[2] == 0, "vcpu.counters_start_at_zero",
              "err %lu exits %lu messages %lu", err, totals[0], totals[2]);
    /* Deleting the VCPU unbinds and stops its thread; the TCB can be bound again. */
    (void)hvu_delete(v_wo);
    (void)hvu_delete(v);
    args[0] = t;
    err = inv(v2, HV_INV_VCPU_BIND_TCB, 1, args);
    hvu_check(err == HV_OK, "vcpu.delete_unbinds", "err %lu", err);
    args[0] = 0;
    err = inv(v2, HV_INV_VCPU_BIND_TCB, 1, args);
    hvu_check(err == HV_OK, "vcpu.unbind", "err %lu", err);
}

/* ---- hostile guests ---- */

static void hostile(void)
{
    struct hvu_vm vm;
    const uint8_t *bytes;
    uint64_t size;
    uint64_t err = HV_OK;
    struct hv_msg m = { 0, 0, { 0, 0, 0, 0 } };
    /* Bochs with reset_on_triple_fault=0 (the harness's setting) ends the whole emulator at
     * a guest's triple fault instead of exiting to us: such a run leaves the module out. */
    if (hvu_map_module(boot, "guest_triple", &bytes, &size) != HV_OK) {
        hvu_printf("vmm: no guest_triple module: triple-fault check not run\n");
        goto storm;
    }
    err = hvu_vm_create(&vm, boot, "guest_triple", GUEST_LOAD_GPA, badged_ep(BADGE_TRIPLE), VCPU_PRIORITY);
    if (err == HV_OK)
        err = hvu_vm_start(&vm, VCPU_BUDGET_US, VCPU_PERIOD_US);
    bool got = next_exit(&m);
    hvu_check(err == HV_OK && got && m.badge == BADGE_TRIPLE && m.w[0] == HV_EXIT_TRIPLE_FAULT,
              "hostile.triple_fault_is_an_exit", "err %lu got %d badge %lu reason %lu qual 0x%lx", err, got,
              m.badge, m.w[0], m.w[1]);
    reply_stop();

storm:;
    struct hvu_vm sv;
    err = hvu_vm_create(&sv, boot, "guest_storm", GUEST_LOAD_GPA, badged_ep(BADGE_STORM), VCPU_PRIORITY);
    if (err == HV_OK)
        err = hvu_vm_start(&sv, VCPU_BUDGET_US, VCPU_PERIOD_US);
    unsigned n = 0;
    bool ok = err == HV_OK;
    while (ok && n < STORM_EXITS) {
        ok = next_exit(&m) && m.badge == BADGE_STORM && m.w[0] == HV_EXIT_IO && m.w[3] == 2;   /* 66 ed */
        if (!ok)
            break;
        struct hv_vcpu_state *s = hvu_exit_state();
        s->rip += m.w[3];
        s->rax = 0;
        n++;
        if (n < STORM_EXITS)
            reply_resume(HV_MTD_GPR | HV_MTD_RSP_RIP_RFLAGS);
    }
    hvu_check(ok && n == STORM_EXITS, "hostile.exit_storm_served", "err %lu exits %u last reason %lu len %lu",
              err, n, m.w[0], m.w[3]);
    reply_stop();
    /* Both stopped VMs can still be inspected: the core is fine. */
    struct hv_vcpu_state st;
    err = hvu_vcpu_read(sv.vcpu, HV_MTD_RSP_RIP_RFLAGS, &st);
    hvu_check(err == HV_OK && st.rip >= GUEST_LOAD_GPA && st.rip < GUEST_LOAD_GPA + 16,
              "hostile.storm_vm_stopped", "err %lu rip 0x%lx", err, st.rip);
}

/* ---- guest_basic ---- */

static struct hvu_guest_report guest;

static void guest_line(const char *line)
{
    if (!hvu_guest_line(&guest, line))
        hvu_printf("guest: %s\n", line);
}

static void recall_thread(uint64_t vcpu)
{
    uint64_t bits;
    (void)hv_wait(recall_ntfn, &bits);
    for (unsigned i = 0; i < 3; i++)
        hv_yield();
    recall_result = hvu_invoke(vcpu, HV_INV_VCPU_RECALL, 0, NULL, NULL);
    /* The recall exit may reach the vmm before this store (a tick between the kick and
     * here lets the vCPU thread run first): the vmm reads the result after this signal. */
    (void)hv_signal(recall_done);
    for (;;)
        (void)hv_wait(recall_ntfn, &bits);
}

/*
 * After guest_basic: the core's counters agree with what this handler received, reason
 * by reason; nested paging resolves nothing in the core; the spin before the recall
 * needed at least one exit for the host (a tick or the recall's kick).
 */
static void check_counters(uint64_t vcpu, const uint64_t *seen)
{
    struct hv_vcpu_counters c;
    uint64_t totals[4];
    uint64_t err = hvu_vcpu_counters(vcpu, &c, totals);
    bool same = true;
    for (unsigned r = 0; r < HV_EXIT_REASON_COUNT; r++) {
        if (c.messages[r] != seen[r]) {
            same = false;
            hvu_printf("vmm: reason %u: core sent %lu, handler received %lu\n", r, c.messages[r], seen[r]);
        }
    }
    hvu_printf("vmm: guest_basic exits %lu (host %lu), resolved in core %lu, messages %lu\n", totals[0], totals[3],
               totals[1], totals[2]);
    hvu_check(err == HV_OK && same, "vcpu.counters_match_messages", "err %lu (see lines above)", err);
    hvu_check(err == HV_OK && counters_consistent(&c, totals), "vcpu.counters_consistent", "totals %lu %lu %lu %lu",
              totals[0], totals[1], totals[2], totals[3]);
    hvu_check(err == HV_OK && totals[1] == 0 && c.exits[HV_EXIT_IO] >= seen[HV_EXIT_IO] && seen[HV_EXIT_IO] > 0 &&
                  c.exits[HV_EXIT_CPUID] >= seen[HV_EXIT_CPUID] && c.exits[HV_EXIT_HLT] >= seen[HV_EXIT_HLT],
              "vcpu.counters_nested_resolves_nothing", "resolved %lu io %lu/%lu", totals[1], c.exits[HV_EXIT_IO],
              seen[HV_EXIT_IO]);
    hvu_check(err == HV_OK && c.exits[HV_EXIT_NONE] >= 1 && c.exits[HV_EXIT_RECALL] == 0 &&
                  c.messages[HV_EXIT_RECALL] == 1,
              "vcpu.counters_host_exits_and_recall", "host %lu recall exits %lu messages %lu", c.exits[HV_EXIT_NONE],
              c.exits[HV_EXIT_RECALL], c.messages[HV_EXIT_RECALL]);
}

/*
 * At GUEST_PHASE_VEC (the guest held in its exit): READ_VEC sees the XMM3 the guest
 * loaded; a WRITE_VEC with a reserved MXCSR bit is refused and changes nothing; a good one
 * is read back and the guest then finds it in XMM2 and MXCSR (its check vec_written). The
 * exit state in the IPC buffer is kept aside: these invocations use the buffer too.
 */
static void check_vec(uint64_t vcpu)
{
    struct hv_vcpu_state saved = *hvu_exit_state();
    struct hv_vcpu_vec in, bad, out, back;
    uint64_t err = hvu_vcpu_vec_read(vcpu, &in);
    bool xmm3 = true;
    for (unsigned i = 0; i < 16; i++)
        xmm3 = xmm3 && in.xmm[3][i] == GUEST_VEC_IN_BASE + i;
    hvu_check(err == HV_OK && xmm3 && in.mxcsr == 0x1f80 && (in.mxcsr_mask & 0xffbfu) == 0xffbfu,
              "vcpu.vec_read_guest_xmm3", "err %lu xmm3[0] 0x%x mxcsr 0x%lx mask 0x%lx", err, in.xmm[3][0],
              in.mxcsr, in.mxcsr_mask);
    bad = in;
    memset(bad.xmm[2], 0xee, 16);
    bad.mxcsr = 0x1f80u | (1u << 16);               /* bit 16 is reserved on every CPU */
    err = hvu_vcpu_vec_write(vcpu, &bad);
    uint64_t e2 = hvu_vcpu_vec_read(vcpu, &back);
    hvu_check(err == HV_ERR_INVALID_ARGUMENT && e2 == HV_OK && memcmp(&back, &in, sizeof(in)) == 0,
              "vcpu.vec_write_refused_changes_nothing", "err %lu/%lu", err, e2);
    out = in;
    for (unsigned i = 0; i < 16; i++)
        out.xmm[2][i] = (uint8_t)(GUEST_VEC_OUT_BASE + i);
    out.mxcsr = GUEST_VEC_MXCSR;
    err = hvu_vcpu_vec_write(vcpu, &out);
    e2 = hvu_vcpu_vec_read(vcpu, &back);
    hvu_check(err == HV_OK && e2 == HV_OK && memcmp(&back, &out, sizeof(out)) == 0, "vcpu.vec_write_read",
              "err %lu/%lu mxcsr 0x%lx", err, e2, back.mxcsr);
    *hvu_exit_state() = saved;
}

static void basic(void)
{
    struct hvu_vm vm;
    uint64_t err = hvu_vm_create(&vm, boot, "guest_basic", GUEST_LOAD_GPA, badged_ep(BADGE_BASIC),
                                 VCPU_PRIORITY);
    hvu_check(err == HV_OK, "vmm.create_basic_vm", "err %lu", err);
    if (err != HV_OK)
        return;
    /* #DE is ours; HLT needs the injection group; the TSC offset is set before the start. */
    (void)inv(vm.vcpu, HV_INV_VCPU_SET_EXCEPTION_INTERCEPTS, 1, (uint64_t[]){ 1u << 0 });
    (void)inv(vm.vcpu, HV_INV_VCPU_SET_TRANSFER, 2,
              (uint64_t[]){ HV_EXIT_HLT, HV_MTD_GPR | HV_MTD_RSP_RIP_RFLAGS | HV_MTD_INJECT });
    (void)inv(vm.vcpu, HV_INV_VCPU_SET_TRANSFER, 2, (uint64_t[]){ HV_EXIT_GPA, 0 });
    struct hv_vcpu_state st;
    memset(&st, 0, sizeof(st));
    st.mtd = HV_MTD_TSC;
    st.tsc_offset = 1ull << GUEST_TSC_OFFSET_SHIFT;
    err = hvu_vcpu_write(vm.vcpu, &st);
    hvu_check(err == HV_OK, "vmm.tsc_offset_written", "err %lu", err);

    /* The recall comes from another thread; on another CPU when there is one. */
    recall_ntfn = hvu_retype(HV_OBJ_NOTIFICATION, 0, &err);
    recall_done = hvu_retype(HV_OBJ_NOTIFICATION, 0, &err);
    bool smp = inv(vm.tcb, HV_INV_TCB_SET_AFFINITY, 1, (uint64_t[]){ 1 }) == HV_OK;
    hvu_printf("vmm: guest vCPU on cpu %u, recall from cpu 0\n", smp ? 1u : 0u);
    struct hvu_thread rt;
    err = hvu_thread_start(&rt, recall_thread, vm.vcpu, RECALL_PRIORITY, 0, 2000, 10000);
    hvu_check(err == HV_OK, "vmm.recall_thread", "err %lu", err);

    err = hvu_vm_start(&vm, VCPU_BUDGET_US, VCPU_PERIOD_US);
    hvu_check(err == HV_OK, "vmm.start_basic_vm", "err %lu", err);

    char line[LINE_MAX];
    unsigned len = 0, exits = 0, gpa_exits = 0;
    uint64_t probe_cap = 0;
    bool done = false, spinning = false, recalled = false;
    struct hv_msg m;
    uint64_t seen[HV_EXIT_REASON_COUNT];
    memset(seen, 0, sizeof(seen));
    while (!done && next_exit(&m)) {
        exits++;
        struct hv_vcpu_state *s = hvu_exit_state();
        uint64_t reason = m.w[0], q = m.w[1];
        if (reason < HV_EXIT_REASON_COUNT && m.badge == BADGE_BASIC)
            seen[reason]++;
        uint64_t mtd = HV_MTD_GPR | HV_MTD_RSP_RIP_RFLAGS;
        if (m.badge != BADGE_BASIC) {
            hvu_check(false, "vmm.exit_from_basic_vm", "badge %lu reason %lu", m.badge, reason);
            reply_stop();
            continue;
        }
        switch (reason) {
        case HV_EXIT_IO: {
            uint64_t port = q & HV_IO_PORT_MASK;
            bool in = (q & HV_IO_IN) != 0;
            if (port == GUEST_PORT_CONSOLE && !in) {
                if (hvu_guest_byte(line, &len, LINE_MAX, (char)(s->rax & 0xff)))
                    guest_line(line);
            } else if (port == GUEST_PORT_VALUE && in) {
                hvu_check(((q >> HV_IO_SIZE_SHIFT) & 0xff) == 4 && m.w[3] == 2, "vmm.io_in_qualification",
                          "qual 0x%lx len %lu", q, m.w[3]);
                s->rax = (s->rax & ~0xffffffffull) | GUEST_IN_VALUE;
            } else if (port == GUEST_PORT_PHASE && (s->rax & 0xff) == GUEST_PHASE_SPIN) {
                spinning = true;
                (void)hv_signal(recall_ntfn);
            } else if (port == GUEST_PORT_PHASE && (s->rax & 0xff) == GUEST_PHASE_UNMAP) {
                err = hvu_delete(probe_cap);
                hvu_check(err == HV_OK && probe_cap != 0, "vmm.delete_mapped_frame_cap", "err %lu", err);
            } else if (port == GUEST_PORT_PHASE && (s->rax & 0xff) == GUEST_PHASE_VEC) {
                check_vec(vm.vcpu);
            } else if (port == GUEST_PORT_PHASE && (s->rax & 0xff) == GUEST_PHASE_DONE) {
                done = true;
            } else {
                hvu_check(false, "vmm.io_port", "qual 0x%lx", q);
            }
            s->rip += m.w[3];
            break;
        }
        case HV_EXIT_CPUID:
            hvu_check(m.w[3] == 2, "vmm.cpuid_length", "len %lu", m.w[3]);
            if ((s->rax & 0xffffffffull) == GUEST_CPUID_LEAF) {
                s->rax = GUEST_CPUID_EAX;
                s->rbx = GUEST_CPUID_EBX;
                s->rcx = GUEST_CPUID_ECX;
                s->rdx = GUEST_CPUID_EDX;
            }
            s->rip += m.w[3];
            break;
        case HV_EXIT_HLT:
            /* Past the HLT the guest's STI shadow (sti; hlt) is over: a VMM that skips an
             * instruction clears it, and an interrupt is injectable only without it. */
            s->rip += 1;
            s->intr_state &= ~(uint64_t)HV_INTR_SHADOW;
            s->inject_event = HV_INJECT_VALID | (HV_INJECT_TYPE_EXTINT << HV_INJECT_TYPE_SHIFT) |
                              GUEST_HLT_VECTOR;
            mtd |= HV_MTD_INJECT;
            break;
        case HV_EXIT_EXCEPTION:
            hvu_check((q & 0xff) == 0, "vmm.forwarded_exception_is_de", "qual 0x%lx", q);
            s->rip += 2;
            s->rbx = GUEST_DE_MARKER;
            break;
        case HV_EXIT_GPA: {
            hvu_check(m.w[2] == GUEST_GPA_PROBE && (q & HV_GPA_READ), "vmm.gpa_exit_address",
                      "gpa 0x%lx access 0x%lx", m.w[2], q);
            uint64_t f = hvu_retype(HV_OBJ_FRAME, 0, &err);
            uint64_t va = PROBE_VA + gpa_exits * PAGE;
            (void)hvu_map_frame_into(HV_ROOT_VSPACE, f, va, 0);
            *(volatile uint16_t *)(uintptr_t)va = gpa_exits == 0 ? GUEST_GPA_PATTERN : GUEST_GPA_PATTERN2;
            gpa_exits++;
            uint64_t g;
            (void)hvu_copy(f, HV_RIGHTS_ALL, &g);
            probe_cap = g;
            err = inv(vm.gm, HV_INV_GUEST_MEMORY_MAP, 3,
                      (uint64_t[]){ g, GUEST_GPA_PROBE >> 12, HV_GUEST_READ | HV_GUEST_WRITE });
            hvu_check(err == HV_OK, "vmm.gpa_map_on_demand", "err %lu", err);
            mtd = 0;    /* the transfer mask sent nothing; the guest retries the access */
            break;
        }
        case HV_EXIT_RECALL:
            recalled = spinning;    /* recall_result is checked once the recall thread signals */
            s->rcx = (s->rcx & ~0xffffull) | GUEST_RECALL_CX;
            break;
        default:
            hvu_check(false, "vmm.expected_exit", "reason %lu qual 0x%lx addr 0x%lx", reason, q, m.w[2]);
            reply_stop();
            continue;
        }
        if (done)
            reply_stop();
        else
            reply_resume(mtd);
    }
    uint64_t bits = 0;
    if (recalled)
        (void)hv_wait(recall_done, &bits);
    hvu_check(recalled && recall_result == HV_OK, "vmm.recall_exit", "recall exit while spinning %d, recall %lu",
              recalled, recall_result);
    hvu_check(done && guest.summary_seen && guest.fails == 0 && guest.passes >= 9, "vmm.basic_guest_ran",
              "done %d summary %d passes %u fails %u exits %u", done, guest.summary_seen, guest.passes,
              guest.fails, exits);
    check_counters(vm.vcpu, seen);
}

void user_main(const struct hv_bootinfo *bi);

void user_main(const struct hv_bootinfo *bi)
{
    boot = bi;
    hvu_init_ep_reply(bi, &fault_ep, &reply_obj);
    check_errors();
    hostile();
    basic();
    hvu_finish();
}
