/* SPDX-License-Identifier: MIT */
/* test_cspace.c: the capability space: derivation tree (cdt.c), addressing and CNode invocations (cnode.c), Untyped retype (untyped.c), over the real object.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "include/hv/errors.h"
#include "include/hv/objects.h"
#include "kernel/kmem.h"
#include "object/cap.h"
#include "object/cnode.h"
#include "object/endpoint.h"
#include "object/guest_memory.h"
#include "object/irq.h"
#include "object/kobj.h"
#include "object/notification.h"
#include "object/object.h"
#include "object/reply.h"
#include "object/sched_context.h"
#include "object/tcb.h"
#include "object/untyped.h"
#include "object/vcpu.h"
#include "object/vspace.h"
#include "../common/xorshift.h"

/*
 * ---- the simulated machine ----
 * "Physical" memory is an arena; kmem.h maps pa -> hosted_phys_base + pa.
 *   [ROOT_PA, +16 KiB)   the root CNode (radix 8), built like the kernel builds it
 *   [UT_PA, +1 MiB)      a RAM untyped (root slot S_UT)
 *   [DEV_PA, +64 KiB)    a device untyped (root slot S_DEV)
 * The arena is filled with JUNK before each test, so "retype zeroes" is observable.
 */
#define ARENA_SIZE (16ull << 20)
#define ARENA_ALIGN (1ull << 20)
#define JUNK 0xa5u
#define ROOT_RADIX 8u
#define ROOT_PA 0x0ull
#define UT_PA 0x100000ull
#define UT_BITS 20u
#define DEV_PA 0x400000ull
#define DEV_BITS 16u
#define SNAP_LEN (DEV_PA + (1ull << DEV_BITS))  /* everything a test can touch */
#define DEPTH 64u
#define NSLOTS(radix) (1ull << (radix))
#define EP_SIZE (1ull << HV_ENDPOINT_BITS)
#define NTFN_SIZE (1ull << HV_NOTIFICATION_BITS)
#define PAGE (1ull << HV_FRAME_BITS)
#define BADGE_LIMIT (1ull << 52)                /* badges are 52-bit (message label width) */

/* Root CNode slots: cptr == slot index at depth 64. */
enum { S_SELF = 1, S_UT = 2, S_DEV = 3 };

uint8_t *hosted_phys_base;

static struct cte g_root;      /* the thread's CSpace root slot (the kernel's TCB_SLOT_CSPACE) */

/* ---- what other objects' code would do: recorded or refused ---- */

struct fin_rec {
    const void *obj;
    unsigned type;
    unsigned count;
};
#define FIN_MAX 8192u
static struct fin_rec g_fin[FIN_MAX];
static unsigned g_nfin;
static unsigned g_fin_total;
static uintptr_t g_fin_frame;           /* stack position of the latest endpoint_finalize */
static unsigned g_vspace_deleting;

static unsigned count_caps_naming(uint8_t type, uint64_t object);

static void fin_reset(void)
{
    g_nfin = 0;
    g_fin_total = 0;
    memset(g_fin, 0, sizeof(g_fin));
}

static unsigned fin_count(const void *obj)
{
    for (unsigned i = 0; i < g_nfin; i++) {
        if (g_fin[i].obj == obj)
            return g_fin[i].count;
    }
    return 0;
}

/* A finalization: only when no cap names the object any more, and the kobj agrees. */
static void fin_record(const struct kobj *o, unsigned type)
{
    if (o->caps != 0)
        fail_msg("finalize of %p (type %u) with kobj caps=%u", (const void *)o, type, o->caps);
    if (o->type != type)
        fail_msg("finalize of %p as type %u but its header says %u", (const void *)o, type, o->type);
    unsigned left = count_caps_naming((uint8_t)type, (uint64_t)(uintptr_t)o);
    if (left != 0)
        fail_msg("finalize of %p while %u caps still name it", (const void *)o, left);
    g_fin_total++;
    for (unsigned i = 0; i < g_nfin; i++) {
        if (g_fin[i].obj == o) {
            g_fin[i].count++;
            return;
        }
    }
    if (g_nfin == FIN_MAX)
        fail_msg("too many finalized objects");
    g_fin[g_nfin].obj = o;
    g_fin[g_nfin].type = type;
    g_fin[g_nfin].count = 1;
    g_nfin++;
}

void endpoint_finalize(struct endpoint *ep)
{
    g_fin_frame = (uintptr_t)__builtin_frame_address(0);
    fin_record(&ep->hdr, HV_OBJ_ENDPOINT);
    ep->state = EP_IDLE;    /* what the real one leaves behind: an empty queue */
}

void notification_finalize(struct notification *n)
{
    fin_record(&n->hdr, HV_OBJ_NOTIFICATION);
    n->bound_tcb = NULL;
}

void reply_finalize(struct reply *r)
{
    fin_record(&r->hdr, HV_OBJ_REPLY);
    r->caller = NULL;
}

void tcb_init(struct tcb *t)
{
    t->state = THREAD_INACTIVE;
    fail_msg("tcb_init called: this test creates no TCB");
}

void tcb_finalize(struct tcb *t)
{
    t->state = THREAD_INACTIVE;
    fail_msg("tcb_finalize called: this test creates no TCB");
}

void sched_context_finalize(struct sched_context *sc)
{
    sc->tcb = NULL;
    fail_msg("sched_context_finalize called: this test creates no SchedContext");
}

struct cap vspace_create_pml4(void *mem)
{
    struct cap c;
    memset(&c, 0, sizeof(c));
    c.object = (uint64_t)(uintptr_t)mem;
    fail_msg("vspace_create_pml4 called: this test makes no PML4");
    return c;
}

bool vspace_id_available(unsigned count)
{
    fail_msg("vspace_id_available(%u) called: this test makes no PML4", count);
    return false;
}

void vspace_ref(const struct cap *pml4)
{
    fail_msg("vspace_ref called (type %u): this test makes no PML4", pml4->type);
}

bool vspace_unref(const struct cap *pml4)
{
    fail_msg("vspace_unref called (type %u): this test makes no PML4", pml4->type);
    return false;
}

void vspace_finalize_pml4(const struct cap *pml4)
{
    fail_msg("vspace_finalize_pml4 called (type %u): this test makes no PML4", pml4->type);
}

/* Nothing is ever mapped here: a deleted frame / table cap must be unmapped. */
void vspace_cap_deleting(struct cap *c)
{
    if (c->flags & CAP_FLAG_MAPPED)
        fail_msg("vspace_cap_deleting on a mapped cap (type %u)", c->type);
    if (c->type != HV_OBJ_FRAME && c->type != HV_OBJ_PDPT && c->type != HV_OBJ_PD && c->type != HV_OBJ_PT)
        fail_msg("vspace_cap_deleting on type %u", c->type);
    c->data2 = 0;
    g_vspace_deleting++;
}

void irq_handler_finalize(struct irq_line *l)
{
    fail_msg("irq_handler_finalize called (irq %u): this test claims no IRQ", l->irq);
}

/* The host has no virtualization backend: GuestMemory and VCPU cannot be made. */
enum hv_error guest_memory_check_retype(unsigned size_bits)
{
    (void)size_bits;
    return HV_ERR_NOT_SUPPORTED;
}

enum hv_error vcpu_check_retype(unsigned size_bits)
{
    (void)size_bits;
    return HV_ERR_NOT_SUPPORTED;
}

struct cap guest_memory_create(void *mem, uint64_t pa, unsigned size_bits)
{
    struct cap c;
    memset(&c, 0, sizeof(c));
    (void)mem; (void)pa; (void)size_bits;
    fail_msg("guest_memory_create called: no backend here");
    return c;
}

struct cap vcpu_create(void *mem, uint64_t pa, unsigned size_bits)
{
    struct cap c;
    memset(&c, 0, sizeof(c));
    (void)mem; (void)pa; (void)size_bits;
    fail_msg("vcpu_create called: no backend here");
    return c;
}

void guest_memory_finalize(struct guest_memory *gm)
{
    (void)gm;
    fail_msg("guest_memory_finalize called: no backend here");
}

void vcpu_finalize(struct vcpu *v)
{
    (void)v;
    fail_msg("vcpu_finalize called: no backend here");
}

void guest_memory_frame_deleting(struct cap *frame)
{
    (void)frame;
    fail_msg("guest_memory_frame_deleting called: nothing is guest-mapped here");
}

void vcpu_guest_memory_cap_deleting(struct cap *gm_cap)
{
    (void)gm_cap;
    fail_msg("vcpu_guest_memory_cap_deleting called: no GuestMemory here");
}

/* ---- object facts, restated from objects.h and cap.h (not from object.c) ---- */

static uint64_t exp_size(uint8_t type, unsigned bits)
{
    switch (type) {
    case HV_OBJ_UNTYPED:
        return 1ull << bits;
    case HV_OBJ_CNODE:
        return 1ull << (bits + HV_CNODE_SLOT_BITS);
    case HV_OBJ_TCB:
        return 1ull << HV_TCB_BITS;
    case HV_OBJ_SCHED_CONTEXT:
        return 1ull << HV_SCHED_CONTEXT_BITS;
    case HV_OBJ_ENDPOINT:
        return 1ull << HV_ENDPOINT_BITS;
    case HV_OBJ_NOTIFICATION:
        return 1ull << HV_NOTIFICATION_BITS;
    case HV_OBJ_REPLY:
        return 1ull << HV_REPLY_BITS;
    case HV_OBJ_PML4:
    case HV_OBJ_PDPT:
    case HV_OBJ_PD:
    case HV_OBJ_PT:
        return 1ull << HV_PAGE_TABLE_BITS;
    case HV_OBJ_FRAME:  /* 4 KiB the size of a table (static assertion below), or 2 MiB */
        return bits == HV_LARGE_FRAME_BITS ? 1ull << HV_LARGE_FRAME_BITS : 1ull << HV_PAGE_TABLE_BITS;
    default:
        return 0;
    }
}

_Static_assert(HV_FRAME_BITS == HV_PAGE_TABLE_BITS, "frames and tables are both one page");

static bool is_kobj_type(uint8_t type)
{
    return type == HV_OBJ_TCB || type == HV_OBJ_SCHED_CONTEXT || type == HV_OBJ_ENDPOINT ||
           type == HV_OBJ_NOTIFICATION || type == HV_OBJ_REPLY;
}

/* cap.h: UNTYPED and FRAME name a physical base, the others a kernel address. */
static uint64_t cap_pa(const struct cap *c)
{
    if (c->type == HV_OBJ_UNTYPED || c->type == HV_OBJ_FRAME)
        return c->object;
    return kmem_pa((const void *)(uintptr_t)c->object);
}

static uint64_t cap_bytes(const struct cap *c)
{
    return exp_size(c->type, c->size_bits);
}

/* ---- cap space access ---- */

static struct cte *rs(uint64_t i)
{
    return &cnode_slots(&g_root.cap)[i];
}

static struct cte *cn_slot(const struct cte *cnode, uint64_t i)
{
    return &cnode_slots(&cnode->cap)[i];
}

static struct cnode_header *cn_hdr(const struct cte *cnode)
{
    return cnode_header_of(&cnode->cap);
}

static struct kobj *kobj_at(const struct cap *c)
{
    return (struct kobj *)(uintptr_t)c->object;
}

static bool cap_is_zero(const struct cap *c)
{
    static const struct cap zero;
    return memcmp(c, &zero, sizeof(zero)) == 0;
}

static bool cte_unlinked(const struct cte *s)
{
    return s->parent == NULL && s->first_child == NULL && s->next_sibling == NULL && s->prev_sibling == NULL;
}

#define MAX_CHILDREN 100000u    /* more would mean a cycle in a sibling list */

static unsigned child_count(const struct cte *s)
{
    unsigned n = 0;
    for (const struct cte *c = s->first_child; c != NULL && n <= MAX_CHILDREN; c = c->next_sibling)
        n++;
    if (n > MAX_CHILDREN)
        fail_msg("a sibling list is cyclic");
    return n;
}

static bool has_child(const struct cte *p, const struct cte *s)
{
    unsigned n = 0;
    for (const struct cte *c = p->first_child; c != NULL && n <= MAX_CHILDREN; c = c->next_sibling, n++) {
        if (c == s)
            return true;
    }
    if (n > MAX_CHILDREN)
        fail_msg("a sibling list is cyclic");
    return false;
}

/* ---- invocations, as the syscall layer makes them ---- */

static enum hv_error cnode_inv(uint64_t cnode, uint64_t label, const uint64_t *args, unsigned nargs)
{
    struct cte *s = NULL;
    assert_int_equal(cnode_lookup_cap(&g_root.cap, cnode, &s), HV_OK);
    return cnode_invoke(&g_root.cap, s, label, args, nargs);
}

static enum hv_error op_copy(uint64_t cn, uint64_t di, uint64_t dd, uint64_t sr, uint64_t si, uint64_t sd,
                             uint64_t rights)
{
    const uint64_t a[] = { di, dd, sr, si, sd, rights };
    return cnode_inv(cn, HV_INV_CNODE_COPY, a, 6);
}

static enum hv_error op_mint(uint64_t cn, uint64_t di, uint64_t dd, uint64_t sr, uint64_t si, uint64_t sd,
                             uint64_t rights, uint64_t badge)
{
    const uint64_t a[] = { di, dd, sr, si, sd, rights, badge };
    return cnode_inv(cn, HV_INV_CNODE_MINT, a, 7);
}

static enum hv_error op_move(uint64_t cn, uint64_t di, uint64_t dd, uint64_t sr, uint64_t si, uint64_t sd)
{
    const uint64_t a[] = { di, dd, sr, si, sd };
    return cnode_inv(cn, HV_INV_CNODE_MOVE, a, 5);
}

static enum hv_error op_delete(uint64_t cn, uint64_t i, uint64_t d)
{
    const uint64_t a[] = { i, d };
    return cnode_inv(cn, HV_INV_CNODE_DELETE, a, 2);
}

static enum hv_error op_revoke(uint64_t cn, uint64_t i, uint64_t d)
{
    const uint64_t a[] = { i, d };
    return cnode_inv(cn, HV_INV_CNODE_REVOKE, a, 2);
}

/* Within the root CNode (cptr == index at depth 64). */
static enum hv_error rcopy(uint64_t dst, uint64_t src, uint64_t rights)
{
    return op_copy(S_SELF, dst, DEPTH, S_SELF, src, DEPTH, rights);
}

static enum hv_error rmint(uint64_t dst, uint64_t src, uint64_t rights, uint64_t badge)
{
    return op_mint(S_SELF, dst, DEPTH, S_SELF, src, DEPTH, rights, badge);
}

static enum hv_error rmove(uint64_t dst, uint64_t src)
{
    return op_move(S_SELF, dst, DEPTH, S_SELF, src, DEPTH);
}

static enum hv_error rdelete(uint64_t i)
{
    return op_delete(S_SELF, i, DEPTH);
}

static enum hv_error rrevoke(uint64_t i)
{
    return op_revoke(S_SELF, i, DEPTH);
}

static enum hv_error retype(uint64_t ut, uint64_t type, uint64_t bits, uint64_t cn, uint64_t index,
                            uint64_t depth, uint64_t count)
{
    struct cte *s = NULL;
    assert_int_equal(cnode_lookup_cap(&g_root.cap, ut, &s), HV_OK);
    const uint64_t a[] = { type, bits, cn, index, depth, count };
    return untyped_invoke(&g_root.cap, s, HV_INV_UNTYPED_RETYPE, a, 6);
}

static enum hv_error rretype(uint64_t ut, uint64_t type, uint64_t bits, uint64_t index, uint64_t count)
{
    return retype(ut, type, bits, S_SELF, index, DEPTH, count);
}

/* ---- "nothing changed": a byte snapshot of the whole cap space ---- */

static uint8_t *g_snap;
static size_t g_snap_len;
static struct cte g_snap_root;
static unsigned g_snap_fin;
static unsigned g_snap_vsd;

static void snap_take(size_t len)
{
    memcpy(g_snap, hosted_phys_base, len);
    g_snap_len = len;
    g_snap_root = g_root;
    g_snap_fin = g_fin_total;
    g_snap_vsd = g_vspace_deleting;
}

static void snap_check(const char *what)
{
    if (memcmp(&g_root, &g_snap_root, sizeof(g_root)) != 0)
        fail_msg("%s: the root slot changed", what);
    if (memcmp(hosted_phys_base, g_snap, g_snap_len) != 0) {
        size_t i = 0;
        while (hosted_phys_base[i] == g_snap[i])
            i++;
        fail_msg("%s: memory changed at physical 0x%zx (slot %zu of the CNode there?)", what, i,
                 i / sizeof(struct cte));
    }
    if (g_fin_total != g_snap_fin || g_vspace_deleting != g_snap_vsd)
        fail_msg("%s: an object was finalized or a cap deleted", what);
}

/* A failing call must return `code` and leave every byte of the cap space as it was. */
#define EXPECT_ERR(code, call)                                   \
    do {                                                         \
        snap_take(SNAP_LEN);                                     \
        assert_int_equal((call), (code));                        \
        snap_check(#call);                                       \
    } while (0)

/*
 * ---- the invariant checker (derived from cap.h / cnode.h / kobj.h) ----
 * The cap space is every slot reachable from the root slot: the root CNode, and
 * every CNode named by a cap found so far (plus CNodes a test registered, which may
 * be dead: then they must be empty).
 */
struct region {
    struct cte *slots;
    uint64_t first;
    uint64_t n;
    struct cnode_header *h;     /* NULL for the root slot */
};
#define MAX_REGIONS 512u
static struct region g_reg[MAX_REGIONS];
static unsigned g_nreg;
#define MAX_KNOWN 256u
static struct cnode_header *g_known[MAX_KNOWN];
static unsigned g_nknown;

/* kobjs a test follows: finalized exactly once, when (and only when) no cap names them. */
#define MAX_TRACKED 8192u
static const struct kobj *g_tracked[MAX_TRACKED];
static uint8_t g_tracked_type[MAX_TRACKED];
static unsigned g_ntracked;

static void know_cnode(const struct cte *s)
{
    assert_int_equal(s->cap.type, HV_OBJ_CNODE);
    assert_true(g_nknown < MAX_KNOWN);
    g_known[g_nknown++] = cn_hdr(s);
}

static void track(const struct cte *s)
{
    assert_true(is_kobj_type(s->cap.type));
    for (unsigned i = 0; i < g_ntracked; i++) {
        if (g_tracked[i] == kobj_at(&s->cap))
            return;
    }
    assert_true(g_ntracked < MAX_TRACKED);
    g_tracked[g_ntracked] = kobj_at(&s->cap);
    g_tracked_type[g_ntracked] = s->cap.type;
    g_ntracked++;
}

static void add_region(struct cnode_header *h)
{
    for (unsigned i = 0; i < g_nreg; i++) {
        if (g_reg[i].h == h)
            return;
    }
    if (g_nreg == MAX_REGIONS)
        fail_msg("more than %u CNodes", MAX_REGIONS);
    if (h->radix < HV_CNODE_MIN_RADIX || h->radix > HV_CNODE_MAX_RADIX)
        fail_msg("CNode at pa 0x%" PRIx64 " has radix %" PRIu64, kmem_pa(h), h->radix);
    g_reg[g_nreg].slots = (struct cte *)h;
    g_reg[g_nreg].first = 1;
    g_reg[g_nreg].n = NSLOTS(h->radix);
    g_reg[g_nreg].h = h;
    g_nreg++;
}

static void gather(void)
{
    g_nreg = 0;
    g_reg[0].slots = &g_root;
    g_reg[0].first = 0;
    g_reg[0].n = 1;
    g_reg[0].h = NULL;
    g_nreg = 1;
    for (unsigned i = 0; i < g_nknown; i++)
        add_region(g_known[i]);
    for (unsigned r = 0; r < g_nreg; r++) {
        for (uint64_t i = g_reg[r].first; i < g_reg[r].n; i++) {
            const struct cap *c = &g_reg[r].slots[i].cap;
            if (c->type == HV_OBJ_CNODE)
                add_region(cnode_header_of(c));
        }
    }
}

static bool in_space(const struct cte *p)
{
    for (unsigned r = 0; r < g_nreg; r++) {
        const struct cte *lo = &g_reg[r].slots[g_reg[r].first];
        const struct cte *hi = &g_reg[r].slots[g_reg[r].n];
        if ((uintptr_t)p >= (uintptr_t)lo && (uintptr_t)p < (uintptr_t)hi)
            return ((uintptr_t)p - (uintptr_t)lo) % sizeof(struct cte) == 0;
    }
    return false;
}

static const char *slot_name(const struct cte *s)
{
    static char bufs[2][96];    /* two names may appear in one message */
    static unsigned which;
    which ^= 1u;
    char *buf = bufs[which];
    for (unsigned r = 0; r < g_nreg; r++) {
        if (g_reg[r].h == NULL && s == g_reg[r].slots) {
            snprintf(buf, sizeof(bufs[0]), "root slot");
            return buf;
        }
        if (g_reg[r].h != NULL && (uintptr_t)s >= (uintptr_t)g_reg[r].slots &&
            (uintptr_t)s < (uintptr_t)&g_reg[r].slots[g_reg[r].n]) {
            snprintf(buf, sizeof(bufs[0]), "CNode@0x%" PRIx64 "[%td]", kmem_pa(g_reg[r].h),
                     s - g_reg[r].slots);
            return buf;
        }
    }
    snprintf(buf, sizeof(bufs[0]), "slot %p outside the cap space", (const void *)s);
    return buf;
}

static unsigned count_caps_naming(uint8_t type, uint64_t object)
{
    gather();
    unsigned n = 0;
    for (unsigned r = 0; r < g_nreg; r++) {
        for (uint64_t i = g_reg[r].first; i < g_reg[r].n; i++) {
            const struct cap *c = &g_reg[r].slots[i].cap;
            if (c->type == type && c->object == object)
                n++;
        }
    }
    return n;
}

/* What a child may be, given its parent (cap.h: retype, copy, mint). */
static void check_derivation(const struct cte *p, const struct cte *s)
{
    const struct cap *pc = &p->cap;
    const struct cap *sc = &s->cap;
    if (pc->type == HV_OBJ_UNTYPED) {
        uint64_t lo = cap_pa(sc);
        uint64_t size = cap_bytes(sc);
        if (size == 0 || lo < pc->object || lo + size > pc->object + (1ull << pc->size_bits)) {
            fail_msg("%s: child of an untyped outside its memory", slot_name(s));
            return;
        }
        if (lo % size != 0)
            fail_msg("%s: object at 0x%" PRIx64 " not aligned to its size", slot_name(s), lo);
        if (pc->data2 != 0) {
            if (sc->type != HV_OBJ_FRAME && sc->type != HV_OBJ_UNTYPED)
                fail_msg("%s: type %u made from device memory", slot_name(s), sc->type);
            if (sc->type == HV_OBJ_UNTYPED && sc->data2 == 0)
                fail_msg("%s: an untyped of device memory that is not marked device", slot_name(s));
        }
        return;
    }
    if (sc->type != pc->type || sc->object != pc->object)
        fail_msg("%s: derived cap names another object than its parent", slot_name(s));
    if ((sc->rights & ~pc->rights) != 0)
        fail_msg("%s: rights 0x%x exceed its parent's 0x%x", slot_name(s), sc->rights, pc->rights);
    if (sc->size_bits != pc->size_bits)
        fail_msg("%s: size differs from its parent's", slot_name(s));
    if ((pc->type == HV_OBJ_ENDPOINT || pc->type == HV_OBJ_NOTIFICATION) && (pc->flags & CAP_FLAG_BADGED) &&
        (!(sc->flags & CAP_FLAG_BADGED) || sc->data != pc->data))
        fail_msg("%s: badge 0x%" PRIx64 " changed from its parent's 0x%" PRIx64, slot_name(s), sc->data, pc->data);
    if (sc->flags & CAP_FLAG_MAPPED)
        fail_msg("%s: a derived cap is mapped", slot_name(s));
}

static void check_links(const struct cte *s)
{
    const struct cte *p = s->parent;
    if (p != NULL) {
        if (!in_space(p) || cte_is_empty(p))
            fail_msg("%s: parent is not a live slot of the cap space", slot_name(s));
        if (!has_child(p, s))
            fail_msg("%s: missing from its parent's child list", slot_name(s));
        check_derivation(p, s);
    } else if (s->prev_sibling != NULL || s->next_sibling != NULL) {
        fail_msg("%s: a root with siblings", slot_name(s));
    }
    if (s->prev_sibling != NULL) {
        if (!in_space(s->prev_sibling) || s->prev_sibling->next_sibling != s || s->prev_sibling->parent != p)
            fail_msg("%s: prev_sibling link not symmetric", slot_name(s));
    } else if (p != NULL && p->first_child != s) {
        fail_msg("%s: first in its list but not its parent's first_child", slot_name(s));
    }
    if (s->next_sibling != NULL &&
        (!in_space(s->next_sibling) || s->next_sibling->prev_sibling != s || s->next_sibling->parent != p))
        fail_msg("%s: next_sibling link not symmetric", slot_name(s));
    if (s->first_child != NULL &&
        (!in_space(s->first_child) || s->first_child->parent != s || s->first_child->prev_sibling != NULL))
        fail_msg("%s: first_child link broken", slot_name(s));
}

/* Pre-order walk of the subtree at `root` without recursion; counts live slots. */
static unsigned walk_subtree(const struct cte *root, unsigned limit)
{
    unsigned n = 0;
    const struct cte *c = root;
    for (;;) {
        if (!in_space(c) || cte_is_empty(c))
            fail_msg("%s: reached an empty or foreign slot through the tree", slot_name(c));
        if (++n > limit)
            fail_msg("the derivation tree has a cycle (more than %u nodes below %s)", limit, slot_name(root));
        if (c->first_child != NULL) {
            c = c->first_child;
            continue;
        }
        while (c != root && c->next_sibling == NULL) {
            c = c->parent;
            if (c == NULL) {
                fail_msg("walking below %s: climbed past the root", slot_name(root));
                return n;
            }
        }
        if (c == root)
            return n;
        c = c->next_sibling;
    }
}

struct tally {
    uint64_t object;
    uint8_t type;
    unsigned n;
};
#define MAX_TALLY 4096u
static struct tally g_tally[MAX_TALLY];

/* Checks every invariant; returns the number of live slots. */
static unsigned check_cspace(void)
{
    gather();
    unsigned live = 0;
    unsigned ntally = 0;
    for (unsigned r = 0; r < g_nreg; r++) {
        for (uint64_t i = g_reg[r].first; i < g_reg[r].n; i++) {
            const struct cte *s = &g_reg[r].slots[i];
            if (cte_is_empty(s)) {
                if (!cap_is_zero(&s->cap) || !cte_unlinked(s))
                    fail_msg("%s: empty slot with links or stale contents", slot_name(s));
                continue;
            }
            live++;
            check_links(s);
            if (s->cap.type != HV_OBJ_CNODE && !is_kobj_type(s->cap.type))
                continue;
            unsigned t = 0;
            while (t < ntally && !(g_tally[t].object == s->cap.object && g_tally[t].type == s->cap.type))
                t++;
            if (t == ntally) {
                assert_true(ntally < MAX_TALLY);
                g_tally[t].object = s->cap.object;
                g_tally[t].type = s->cap.type;
                g_tally[t].n = 0;
                ntally++;
            }
            g_tally[t].n++;
        }
    }
    /* Everything live hangs below some root, exactly once. */
    unsigned reached = 0;
    for (unsigned r = 0; r < g_nreg; r++) {
        for (uint64_t i = g_reg[r].first; i < g_reg[r].n; i++) {
            const struct cte *s = &g_reg[r].slots[i];
            if (!cte_is_empty(s) && s->parent == NULL)
                reached += walk_subtree(s, live);
        }
    }
    if (reached != live)
        fail_msg("%u live slots but %u reachable from the roots", live, reached);
    /* Reference counts: the header of every object equals the caps naming it. */
    for (unsigned t = 0; t < ntally; t++) {
        if (g_tally[t].type == HV_OBJ_CNODE) {
            const struct cnode_header *h = (const struct cnode_header *)(uintptr_t)g_tally[t].object;
            if (h->caps != g_tally[t].n)
                fail_msg("CNode@0x%" PRIx64 ": header counts %u caps, %u name it", kmem_pa(h), h->caps,
                         g_tally[t].n);
        } else {
            const struct kobj *o = (const struct kobj *)(uintptr_t)g_tally[t].object;
            if (o->caps != g_tally[t].n || o->type != g_tally[t].type)
                fail_msg("kobj@0x%" PRIx64 " (type %u): header counts %u caps (type %u), %u name it",
                         kmem_pa(o), g_tally[t].type, o->caps, o->type, g_tally[t].n);
        }
    }
    for (unsigned r = 1; r < g_nreg; r++) {
        const struct cnode_header *h = g_reg[r].h;
        if (h->dying != 0 || h->reap_next != NULL)
            fail_msg("CNode@0x%" PRIx64 " still on the reaper list", kmem_pa(h));
        unsigned named = 0;
        for (unsigned t = 0; t < ntally; t++) {
            if (g_tally[t].type == HV_OBJ_CNODE && g_tally[t].object == (uint64_t)(uintptr_t)h)
                named = g_tally[t].n;
        }
        if (named == 0) {
            if (h->caps != 0)
                fail_msg("CNode@0x%" PRIx64 " named by no cap but counts %u", kmem_pa(h), h->caps);
            for (uint64_t i = 1; i < g_reg[r].n; i++) {
                if (!cte_is_empty(&g_reg[r].slots[i]))
                    fail_msg("dead CNode@0x%" PRIx64 " still holds a cap in slot %" PRIu64, kmem_pa(h), i);
            }
        }
    }
    /* Tracked kobjs: finalized exactly once, exactly when their last cap went. */
    for (unsigned k = 0; k < g_ntracked; k++) {
        unsigned named = 0;
        for (unsigned t = 0; t < ntally; t++) {
            if (g_tally[t].object == (uint64_t)(uintptr_t)g_tracked[k] && g_tally[t].type == g_tracked_type[k])
                named = g_tally[t].n;
        }
        unsigned fin = fin_count(g_tracked[k]);
        if ((named == 0 && fin != 1) || (named != 0 && fin != 0))
            fail_msg("kobj@0x%" PRIx64 " (type %u): %u caps, finalized %u times", kmem_pa(g_tracked[k]),
                     g_tracked_type[k], named, fin);
    }
    return live;
}

/* A just-made object shares no memory with any other live object (bar its untyped ancestors). */
static void assert_fresh(const struct cte *s)
{
    gather();
    uint64_t lo = cap_pa(&s->cap);
    uint64_t hi = lo + cap_bytes(&s->cap);
    for (unsigned r = 0; r < g_nreg; r++) {
        for (uint64_t i = g_reg[r].first; i < g_reg[r].n; i++) {
            const struct cte *t = &g_reg[r].slots[i];
            uint64_t size = cap_bytes(&t->cap);
            if (t == s || size == 0)
                continue;
            if (t->cap.type == s->cap.type && t->cap.object == s->cap.object)
                continue;   /* another cap to the same object */
            if (t->cap.type == HV_OBJ_UNTYPED && cdt_is_descendant(t, s))
                continue;
            uint64_t tlo = cap_pa(&t->cap);
            if (lo < tlo + size && tlo < hi)
                fail_msg("%s [0x%" PRIx64 ", 0x%" PRIx64 ") overlaps live %s [0x%" PRIx64 ", +0x%" PRIx64 ")",
                         slot_name(s), lo, hi, slot_name(t), tlo, size);
        }
    }
}

static bool mem_all(uint64_t pa, uint64_t len, uint8_t v)
{
    const uint8_t *p = kmem_ptr(pa);
    for (uint64_t i = 0; i < len; i++) {
        if (p[i] != v)
            return false;
    }
    return true;
}

/* ---- fixture: the kernel's boot CSpace, in miniature ---- */

static int setup(void **state)
{
    (void)state;
    alarm(60);      /* a corrupted tree can make a kernel loop spin: fail instead of hanging */
    memset(hosted_phys_base, JUNK, SNAP_LEN);
    memset(&g_root, 0, sizeof(g_root));
    fin_reset();
    g_nknown = 0;
    g_ntracked = 0;
    g_vspace_deleting = 0;

    void *mem = kmem_ptr(ROOT_PA);
    memset(mem, 0, exp_size(HV_OBJ_CNODE, ROOT_RADIX));
    struct cap c = object_create(HV_OBJ_CNODE, ROOT_RADIX, mem, ROOT_PA);
    c.guard_bits = (uint8_t)(DEPTH - ROOT_RADIX);   /* cptr == slot index at depth 64 */
    cap_insert(&g_root, &c, NULL);
    cap_insert(rs(S_SELF), &g_root.cap, &g_root);   /* the CSpace can name its own root CNode */
    struct cap ut = untyped_cap(UT_PA, UT_BITS, false);
    cap_insert(rs(S_UT), &ut, NULL);
    struct cap dev = untyped_cap(DEV_PA, DEV_BITS, true);
    cap_insert(rs(S_DEV), &dev, NULL);
    return 0;
}

/* ================================================================ resolution */

static void test_resolve_root(void **state)
{
    (void)state;
    struct cte *s = NULL;
    for (uint64_t i = 1; i < NSLOTS(ROOT_RADIX); i++) {
        assert_int_equal(cnode_lookup_slot(&g_root.cap, i, DEPTH, &s), HV_OK);
        assert_ptr_equal(s, rs(i));
    }
    /* Slot 0 (the header) is never addressable. */
    assert_int_equal(cnode_lookup_slot(&g_root.cap, 0, DEPTH, &s), HV_ERR_INVALID_CAP);
    assert_int_equal(cnode_lookup_cap(&g_root.cap, 0, &s), HV_ERR_INVALID_CAP);
    /* The 56 bits above the index are the (zero) guard. */
    for (unsigned b = ROOT_RADIX; b < DEPTH; b++) {
        assert_int_equal(cnode_lookup_slot(&g_root.cap, (1ull << b) | 5, DEPTH, &s), HV_ERR_INVALID_CAP);
        assert_int_equal(cnode_lookup_cap(&g_root.cap, (1ull << b) | S_UT, &s), HV_ERR_INVALID_CAP);
    }
    /* Depth is 1..64. */
    assert_int_equal(cnode_lookup_slot(&g_root.cap, 5, 0, &s), HV_ERR_RANGE);
    assert_int_equal(cnode_lookup_slot(&g_root.cap, 5, 65, &s), HV_ERR_RANGE);
    assert_int_equal(cnode_lookup_slot(&g_root.cap, 5, 4096, &s), HV_ERR_RANGE);
    assert_int_equal(cnode_lookup_slot(&g_root.cap, 5, ~0u, &s), HV_ERR_RANGE);
    /* The root consumes 64 bits in one level: fewer cannot be resolved. */
    assert_int_equal(cnode_lookup_slot(&g_root.cap, 5, 63, &s), HV_ERR_INVALID_CAP);
    assert_int_equal(cnode_lookup_slot(&g_root.cap, 5, 8, &s), HV_ERR_INVALID_CAP);
    assert_int_equal(cnode_lookup_slot(&g_root.cap, 1, 1, &s), HV_ERR_INVALID_CAP);
    /* Lookup for an invocation: the slot must hold a cap. */
    assert_int_equal(cnode_lookup_cap(&g_root.cap, 200, &s), HV_ERR_EMPTY_SLOT);
    assert_int_equal(cnode_lookup_cap(&g_root.cap, S_UT, &s), HV_OK);
    assert_ptr_equal(s, rs(S_UT));
    assert_int_equal(cnode_lookup_cap(&g_root.cap, S_SELF, &s), HV_OK);
    assert_ptr_equal(s, rs(S_SELF));
    assert_int_equal(s->cap.type, HV_OBJ_CNODE);
    /* A non-CNode cap is not a CSpace root. */
    assert_int_equal(cnode_lookup_slot(&rs(S_UT)->cap, 1, DEPTH, &s), HV_ERR_INVALID_CAP);
    check_cspace();
}

static void test_resolve_guards_two_level(void **state)
{
    (void)state;
    struct cte *s = NULL;
    /* C: radix 4 in R[10]; R[11]: C with a 3-bit guard 0b101. */
    assert_int_equal(rretype(S_UT, HV_OBJ_CNODE, 4, 10, 1), HV_OK);
    struct cte *c = rs(10);
    assert_int_equal(c->cap.guard_bits, 0);
    assert_int_equal(rmint(11, 10, HV_RIGHTS_ALL, (5ull << 6) | 3), HV_OK);
    assert_int_equal(rs(11)->cap.guard_bits, 3);
    assert_int_equal(rs(11)->cap.data, 5);
    assert_int_equal(rs(11)->cap.size_bits, 4);
    assert_int_equal(rs(11)->cap.object, c->cap.object);
    /* Roots that leave bits for a second level: the root CNode with a 49-bit guard
     * (0 in R[12], 0x1234 in R[13]) consumes 57 bits; the guarded C the other 7. */
    assert_int_equal(rmint(12, S_SELF, HV_RIGHTS_ALL, 49), HV_OK);
    assert_int_equal(rmint(13, S_SELF, HV_RIGHTS_ALL, (0x1234ull << 6) | 49), HV_OK);
    const struct cap *root2 = &rs(12)->cap;
    const struct cap *root3 = &rs(13)->cap;
    for (uint64_t j = 0; j < 16; j++) {
        uint64_t cptr = (11ull << 7) | (5ull << 4) | j;
        enum hv_error want = j == 0 ? HV_ERR_INVALID_CAP : HV_OK;
        s = NULL;
        assert_int_equal(cnode_lookup_slot(root2, cptr, DEPTH, &s), want);
        if (want == HV_OK)
            assert_ptr_equal(s, cn_slot(c, j));
        s = NULL;
        assert_int_equal(cnode_lookup_slot(root3, (0x1234ull << 15) | cptr, DEPTH, &s), want);
        if (want == HV_OK)
            assert_ptr_equal(s, cn_slot(c, j));
        /* Through the unguarded cap in R[10]: 4 bits after the root's 57, depth 61. */
        assert_int_equal(cnode_lookup_slot(root2, (10ull << 4) | j, 61, &s), want);
        if (want == HV_OK)
            assert_ptr_equal(s, cn_slot(c, j));
        /* Wrong guards at either level. */
        assert_int_equal(cnode_lookup_slot(root3, cptr, DEPTH, &s), HV_ERR_INVALID_CAP);
        assert_int_equal(cnode_lookup_slot(root3, (0x1235ull << 15) | cptr, DEPTH, &s), HV_ERR_INVALID_CAP);
        assert_int_equal(cnode_lookup_slot(root2, (1ull << 63) | cptr, DEPTH, &s), HV_ERR_INVALID_CAP);
        for (uint64_t g = 0; g < 8; g++) {
            if (g != 5)
                assert_int_equal(cnode_lookup_slot(root2, (11ull << 7) | (g << 4) | j, DEPTH, &s),
                                 HV_ERR_INVALID_CAP);
        }
    }
    /* Depth that ends at the first level names the slot holding the CNode cap. */
    assert_int_equal(cnode_lookup_slot(root2, 11, 57, &s), HV_OK);
    assert_ptr_equal(s, rs(11));
    /* Bits left that do not cover the next level's guard + radix. */
    assert_int_equal(cnode_lookup_slot(root2, (11ull << 3) | 5, 60, &s), HV_ERR_INVALID_CAP);
    /* The unguarded C under a 64-bit walk: it consumes 4 of the 7 bits, then 3 are left over. */
    assert_int_equal(cnode_lookup_slot(root2, (10ull << 7) | (3ull << 3), DEPTH, &s), HV_ERR_INVALID_CAP);

    /* Invocation lookups stop at the first non-CNode cap (seL4 lookupCap); slot lookups do not. */
    assert_int_equal(rretype(S_UT, HV_OBJ_ENDPOINT, 0, 20, 1), HV_OK);
    assert_int_equal(cnode_lookup_cap(root2, (20ull << 7) | 0x7f, &s), HV_OK);
    assert_ptr_equal(s, rs(20));
    assert_int_equal(cnode_lookup_slot(root2, 20ull << 7, DEPTH, &s), HV_ERR_INVALID_CAP);
    enum hv_error e = cnode_lookup_cap(root2, 21ull << 7, &s);
    assert_true(e == HV_ERR_INVALID_CAP || e == HV_ERR_EMPTY_SLOT);

    /* CNode invocations through the two-level space. Copy R[20] -> C[3] invoking the guarded
     * C (dest 7 bits), the source named through root2 at depth 57. */
    assert_int_equal(op_copy(11, (5ull << 4) | 3, 7, 12, 20, 57, HV_RIGHTS_ALL), HV_OK);
    assert_int_equal(cn_slot(c, 3)->cap.type, HV_OBJ_ENDPOINT);
    assert_ptr_equal(cn_slot(c, 3)->parent, rs(20));
    /* Copy C[3] -> R[30], the source through both levels at depth 64. */
    assert_int_equal(op_copy(S_SELF, 30, DEPTH, 12, (11ull << 7) | (5ull << 4) | 3, DEPTH, HV_RIGHT_READ), HV_OK);
    assert_ptr_equal(rs(30)->parent, cn_slot(c, 3));
    assert_int_equal(rs(30)->cap.rights, HV_RIGHT_READ);
    /* Wrong guard in the destination / source. */
    EXPECT_ERR(HV_ERR_INVALID_CAP, op_copy(11, (4ull << 4) | 4, 7, S_SELF, 20, DEPTH, HV_RIGHTS_ALL));
    EXPECT_ERR(HV_ERR_INVALID_CAP, op_copy(S_SELF, 31, DEPTH, 12, (11ull << 7) | (6ull << 4) | 3, DEPTH,
                                           HV_RIGHTS_ALL));
    EXPECT_ERR(HV_ERR_INVALID_CAP, op_copy(S_SELF, 31, DEPTH, 13, (11ull << 7) | (5ull << 4) | 3, DEPTH,
                                           HV_RIGHTS_ALL));

    /* An unguarded CNode addressed with 64 bits: seL4 consumes its radix from the top of the
     * pointer, then fails (bits left, no CNode) -- whatever the pointer. */
    assert_int_equal(cnode_lookup_slot(&c->cap, 3ull << 60, DEPTH, &s), HV_ERR_INVALID_CAP);
    assert_int_equal(cnode_lookup_slot(&c->cap, 3, DEPTH, &s), HV_ERR_INVALID_CAP);
    assert_int_equal(cnode_lookup_cap(&c->cap, 3ull << 60, &s), HV_OK);    /* C[3]: an endpoint */
    assert_ptr_equal(s, cn_slot(c, 3));
    assert_int_equal(cnode_lookup_slot(&c->cap, 3, 4, &s), HV_OK);
    assert_ptr_equal(s, cn_slot(c, 3));
    /* Only the low `depth` bits of the pointer are used. */
    assert_int_equal(cnode_lookup_slot(&c->cap, 0xf3, 4, &s), HV_OK);
    assert_ptr_equal(s, cn_slot(c, 3));
    assert_int_equal(cnode_lookup_slot(&c->cap, 3, 3, &s), HV_ERR_INVALID_CAP);
    check_cspace();
}

/* ================================================================ retype */

static void test_retype_layout(void **state)
{
    (void)state;
    struct cte *ut = rs(S_UT);
    assert_int_equal(rretype(S_UT, HV_OBJ_ENDPOINT, 0, 20, 4), HV_OK);
    for (unsigned i = 0; i < 4; i++) {
        const struct cte *s = rs(20 + i);
        assert_int_equal(s->cap.type, HV_OBJ_ENDPOINT);
        assert_int_equal(s->cap.rights, HV_RIGHTS_ALL);
        assert_ptr_equal(s->parent, ut);
        assert_int_equal(cap_pa(&s->cap), UT_PA + i * EP_SIZE);
        const struct kobj *o = kobj_at(&s->cap);
        assert_int_equal(o->caps, 1);
        assert_int_equal(o->type, HV_OBJ_ENDPOINT);
        assert_true(mem_all(cap_pa(&s->cap) + sizeof(struct kobj), EP_SIZE - sizeof(struct kobj), 0));
    }
    assert_int_equal(ut->cap.data, 4 * EP_SIZE);
    /* A frame: aligned up to 4 KiB past the endpoints; zeroed. */
    assert_int_equal(rretype(S_UT, HV_OBJ_FRAME, 0, 24, 1), HV_OK);
    assert_int_equal(rs(24)->cap.type, HV_OBJ_FRAME);
    assert_int_equal(cap_pa(&rs(24)->cap), UT_PA + PAGE);
    assert_true(mem_all(UT_PA + PAGE, PAGE, 0));
    assert_int_equal(ut->cap.data, 2 * PAGE);
    /* A CNode of radix 3 (512 bytes): empty, its header knows its radix and its one cap. */
    assert_int_equal(rretype(S_UT, HV_OBJ_CNODE, 3, 25, 1), HV_OK);
    const struct cte *cn = rs(25);
    assert_int_equal(cap_pa(&cn->cap), UT_PA + 2 * PAGE);
    assert_int_equal(cn->cap.size_bits, 3);
    assert_int_equal(cn->cap.guard_bits, 0);
    assert_int_equal(cn_hdr(cn)->radix, 3);
    assert_int_equal(cn_hdr(cn)->caps, 1);
    for (unsigned i = 1; i < 8; i++)
        assert_true(cte_is_empty(cn_slot(cn, i)) && cte_unlinked(cn_slot(cn, i)));
    /* An untyped of 4 KiB: aligned to 4 KiB, watermark 0, not device. */
    assert_int_equal(rretype(S_UT, HV_OBJ_UNTYPED, 12, 26, 1), HV_OK);
    assert_int_equal(rs(26)->cap.type, HV_OBJ_UNTYPED);
    assert_int_equal(rs(26)->cap.object, UT_PA + 3 * PAGE);
    assert_int_equal(rs(26)->cap.size_bits, 12);
    assert_int_equal(rs(26)->cap.data, 0);
    assert_int_equal(rs(26)->cap.data2, 0);
    /* A notification and three endpoints follow, each naturally aligned. */
    assert_int_equal(rretype(S_UT, HV_OBJ_NOTIFICATION, 0, 27, 1), HV_OK);
    assert_int_equal(cap_pa(&rs(27)->cap), UT_PA + 4 * PAGE);
    assert_int_equal(rretype(S_UT, HV_OBJ_ENDPOINT, 0, 28, 3), HV_OK);
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(cap_pa(&rs(28 + i)->cap), UT_PA + 4 * PAGE + NTFN_SIZE + i * EP_SIZE);
    assert_int_equal(ut->cap.data, 4 * PAGE + NTFN_SIZE + 3 * EP_SIZE);
    /* A page table and a reply object. */
    assert_int_equal(rretype(S_UT, HV_OBJ_PT, 0, 31, 1), HV_OK);
    assert_int_equal(cap_pa(&rs(31)->cap), UT_PA + 5 * PAGE);
    assert_true(mem_all(UT_PA + 5 * PAGE, PAGE, 0));
    assert_int_equal(rretype(S_UT, HV_OBJ_REPLY, 0, 32, 1), HV_OK);
    assert_int_equal(cap_pa(&rs(32)->cap), UT_PA + 6 * PAGE);
    /* All are children of the untyped, in no particular order, and none overlap. */
    assert_int_equal(child_count(ut), 13);
    for (unsigned i = 20; i <= 32; i++) {
        assert_true(has_child(ut, rs(i)));
        assert_fresh(rs(i));
    }
    check_cspace();
}

static void test_retype_not_enough_memory(void **state)
{
    (void)state;
    /* Two 16 KiB untypeds carved from the big one. */
    assert_int_equal(rretype(S_UT, HV_OBJ_UNTYPED, 14, 10, 2), HV_OK);
    assert_int_equal(rs(11)->cap.object, rs(10)->cap.object + (1ull << 14));
    EXPECT_ERR(HV_ERR_NOT_ENOUGH_MEMORY, rretype(10, HV_OBJ_FRAME, 0, 20, 5));
    assert_int_equal(rretype(10, HV_OBJ_FRAME, 0, 20, 4), HV_OK);
    assert_int_equal(rs(10)->cap.data, 1ull << 14);
    EXPECT_ERR(HV_ERR_NOT_ENOUGH_MEMORY, rretype(10, HV_OBJ_FRAME, 0, 24, 1));
    EXPECT_ERR(HV_ERR_NOT_ENOUGH_MEMORY, rretype(10, HV_OBJ_ENDPOINT, 0, 24, 1));
    EXPECT_ERR(HV_ERR_NOT_ENOUGH_MEMORY, rretype(10, HV_OBJ_UNTYPED, 4, 24, 1));
    /* Objects bigger than the untyped. */
    EXPECT_ERR(HV_ERR_NOT_ENOUGH_MEMORY, rretype(11, HV_OBJ_CNODE, 10, 30, 1));
    EXPECT_ERR(HV_ERR_NOT_ENOUGH_MEMORY, rretype(11, HV_OBJ_UNTYPED, 15, 30, 1));
    EXPECT_ERR(HV_ERR_NOT_ENOUGH_MEMORY, rretype(11, HV_OBJ_UNTYPED, 47, 30, 1));
    /* Exactly full is fine: 256 endpoints (8 KiB), then 2 frames; then nothing. */
    assert_int_equal(rretype(S_UT, HV_OBJ_CNODE, 9, 12, 1), HV_OK);
    assert_int_equal(retype(11, HV_OBJ_ENDPOINT, 0, 12, 1, 9, 256), HV_OK);
    assert_int_equal(rretype(11, HV_OBJ_FRAME, 0, 30, 2), HV_OK);
    assert_int_equal(cap_pa(&rs(31)->cap), rs(11)->cap.object + (1ull << 14) - PAGE);
    EXPECT_ERR(HV_ERR_NOT_ENOUGH_MEMORY, rretype(11, HV_OBJ_ENDPOINT, 0, 32, 1));
    EXPECT_ERR(HV_ERR_NOT_ENOUGH_MEMORY, rretype(11, HV_OBJ_UNTYPED, HV_UNTYPED_MIN_BITS, 32, 1));
    check_cspace();
}

static void test_retype_slot_occupied(void **state)
{
    (void)state;
    assert_int_equal(rretype(S_UT, HV_OBJ_ENDPOINT, 0, 42, 1), HV_OK);
    uint64_t wm = rs(S_UT)->cap.data;
    /* Any occupied slot in the run: nothing is created, the watermark stays. */
    EXPECT_ERR(HV_ERR_SLOT_OCCUPIED, rretype(S_UT, HV_OBJ_ENDPOINT, 0, 40, 4));
    EXPECT_ERR(HV_ERR_SLOT_OCCUPIED, rretype(S_UT, HV_OBJ_ENDPOINT, 0, 42, 1));
    EXPECT_ERR(HV_ERR_SLOT_OCCUPIED, rretype(S_UT, HV_OBJ_FRAME, 0, 42, 3));
    EXPECT_ERR(HV_ERR_SLOT_OCCUPIED, rretype(S_UT, HV_OBJ_CNODE, 2, 39, 4));
    EXPECT_ERR(HV_ERR_SLOT_OCCUPIED, rretype(S_UT, HV_OBJ_UNTYPED, 12, 35, 8));
    /* The untyped itself / the root CNode's own cap as destinations. */
    EXPECT_ERR(HV_ERR_SLOT_OCCUPIED, rretype(S_UT, HV_OBJ_ENDPOINT, 0, S_SELF, 1));
    EXPECT_ERR(HV_ERR_SLOT_OCCUPIED, rretype(S_UT, HV_OBJ_ENDPOINT, 0, S_SELF, 3));
    assert_int_equal(rs(S_UT)->cap.data, wm);
    assert_int_equal(child_count(rs(S_UT)), 1);
    for (unsigned i = 35; i < 43; i++)
        assert_true(i == 42 || cte_is_empty(rs(i)));
    assert_int_equal(rretype(S_UT, HV_OBJ_ENDPOINT, 0, 43, 4), HV_OK);
    assert_int_equal(cap_pa(&rs(43)->cap), UT_PA + wm);
    check_cspace();
}

static void test_retype_range(void **state)
{
    (void)state;
    /* Runs that would leave the CNode. */
    EXPECT_ERR(HV_ERR_RANGE, rretype(S_UT, HV_OBJ_ENDPOINT, 0, 254, 3));
    EXPECT_ERR(HV_ERR_RANGE, rretype(S_UT, HV_OBJ_ENDPOINT, 0, 255, 2));
    EXPECT_ERR(HV_ERR_RANGE, rretype(S_UT, HV_OBJ_ENDPOINT, 0, 100, 200));
    assert_int_equal(rretype(S_UT, HV_OBJ_CNODE, 4, 50, 1), HV_OK);
    EXPECT_ERR(HV_ERR_RANGE, retype(S_UT, HV_OBJ_ENDPOINT, 0, 50, 14, 4, 3));
    EXPECT_ERR(HV_ERR_RANGE, retype(S_UT, HV_OBJ_ENDPOINT, 0, 50, 1, 4, 16));
    /* ... and the largest runs that do not. */
    assert_int_equal(retype(S_UT, HV_OBJ_ENDPOINT, 0, 50, 14, 4, 2), HV_OK);
    assert_int_equal(retype(S_UT, HV_OBJ_ENDPOINT, 0, 50, 1, 4, 13), HV_OK);
    assert_int_equal(rretype(S_UT, HV_OBJ_ENDPOINT, 0, 254, 2), HV_OK);
    /* A run through a two-level space that would cross into the next slot of the upper level. */
    assert_int_equal(rmint(60, S_SELF, HV_RIGHTS_ALL, 52), HV_OK);     /* the root with a 52-bit guard: 60 bits */
    assert_int_equal(rretype(S_UT, HV_OBJ_CNODE, 4, 61, 2), HV_OK);     /* R[61], R[62]: radix 4, unguarded */
    EXPECT_ERR(HV_ERR_RANGE, retype(S_UT, HV_OBJ_ENDPOINT, 0, 60, (61ull << 4) | 15, DEPTH, 2));
    EXPECT_ERR(HV_ERR_RANGE, retype(S_UT, HV_OBJ_ENDPOINT, 0, 60, (61ull << 4) | 14, DEPTH, 4));
    assert_int_equal(retype(S_UT, HV_OBJ_ENDPOINT, 0, 60, (61ull << 4) | 14, DEPTH, 2), HV_OK);
    assert_int_equal(cn_slot(rs(61), 15)->cap.type, HV_OBJ_ENDPOINT);
    assert_true(cte_is_empty(cn_slot(rs(62), 1)));
    /* Count is 1..256. */
    EXPECT_ERR(HV_ERR_RANGE, rretype(S_UT, HV_OBJ_ENDPOINT, 0, 100, 0));
    EXPECT_ERR(HV_ERR_RANGE, rretype(S_UT, HV_OBJ_ENDPOINT, 0, 100, UNTYPED_MAX_RETYPE_COUNT + 1));
    EXPECT_ERR(HV_ERR_RANGE, rretype(S_UT, HV_OBJ_ENDPOINT, 0, 100, 1ull << 63));
    EXPECT_ERR(HV_ERR_RANGE, rretype(S_UT, HV_OBJ_ENDPOINT, 0, 100, ~0ull));
    assert_int_equal(rretype(S_UT, HV_OBJ_CNODE, 9, 70, 1), HV_OK);
    uint64_t base = rs(S_UT)->cap.data;
    assert_int_equal(retype(S_UT, HV_OBJ_ENDPOINT, 0, 70, 1, 9, 256), HV_OK);
    for (unsigned i = 0; i < 256; i++) {
        const struct cte *s = cn_slot(rs(70), 1 + i);
        assert_int_equal(s->cap.type, HV_OBJ_ENDPOINT);
        assert_int_equal(cap_pa(&s->cap), UT_PA + base + i * EP_SIZE);
        assert_ptr_equal(s->parent, rs(S_UT));
    }
    assert_true(cte_is_empty(cn_slot(rs(70), 257)));
    check_cspace();
}

static void test_retype_device(void **state)
{
    (void)state;
    static const uint8_t kernel_types[] = {
        HV_OBJ_CNODE, HV_OBJ_TCB, HV_OBJ_SCHED_CONTEXT, HV_OBJ_ENDPOINT, HV_OBJ_NOTIFICATION,
        HV_OBJ_REPLY, HV_OBJ_PDPT, HV_OBJ_PD, HV_OBJ_PT,
    };
    for (unsigned i = 0; i < sizeof(kernel_types); i++)
        EXPECT_ERR(HV_ERR_ILLEGAL_OPERATION, rretype(S_DEV, kernel_types[i], 4, 20, 1));
    /* Frames and untyped are fine; device memory is not written. */
    assert_int_equal(rretype(S_DEV, HV_OBJ_FRAME, 0, 20, 2), HV_OK);
    assert_int_equal(cap_pa(&rs(20)->cap), DEV_PA);
    assert_int_equal(cap_pa(&rs(21)->cap), DEV_PA + PAGE);
    assert_ptr_equal(rs(20)->parent, rs(S_DEV));
    assert_int_equal(rretype(S_DEV, HV_OBJ_UNTYPED, 13, 22, 1), HV_OK);
    assert_int_equal(rs(22)->cap.object, DEV_PA + 2 * PAGE);
    assert_true(mem_all(DEV_PA, 4 * PAGE, JUNK));
    /* A piece of device memory is device memory: its untyped cannot make kernel objects either. */
    assert_int_not_equal(rs(22)->cap.data2, 0);
    for (unsigned i = 0; i < sizeof(kernel_types); i++)
        EXPECT_ERR(HV_ERR_ILLEGAL_OPERATION, rretype(22, kernel_types[i], 4, 30, 1));
    assert_int_equal(rretype(22, HV_OBJ_FRAME, 0, 30, 2), HV_OK);
    assert_true(mem_all(DEV_PA, 4 * PAGE, JUNK));
    check_cspace();
}

static void test_retype_reuse_after_revoke(void **state)
{
    (void)state;
    assert_int_equal(rretype(S_UT, HV_OBJ_ENDPOINT, 0, 20, 3), HV_OK);
    assert_int_equal(rretype(S_UT, HV_OBJ_FRAME, 0, 23, 1), HV_OK);
    assert_int_equal(rretype(S_UT, HV_OBJ_CNODE, 2, 24, 1), HV_OK);
    assert_int_equal(rcopy(25, 20, HV_RIGHTS_ALL), HV_OK);
    for (unsigned i = 20; i < 23; i++)
        track(rs(i));
    memset(kmem_ptr(cap_pa(&rs(23)->cap)), 0x5a, PAGE);    /* the owner writes its frame */
    /* While a child lives, the watermark holds. */
    assert_int_equal(rretype(S_UT, HV_OBJ_FRAME, 0, 30, 1), HV_OK);
    assert_int_equal(cap_pa(&rs(30)->cap), UT_PA + 3 * PAGE);  /* past the CNode at 2 pages */
    assert_int_equal(rrevoke(S_UT), HV_OK);
    for (unsigned i = 20; i <= 30; i++)
        assert_true(cte_is_empty(rs(i)));
    assert_null(rs(S_UT)->first_child);
    for (unsigned k = 0; k < g_ntracked; k++)
        assert_int_equal(fin_count(g_tracked[k]), 1);
    check_cspace();
    /* Everything is gone: memory is handed out again from the start, zeroed. */
    fin_reset();
    g_ntracked = 0;
    assert_int_equal(rretype(S_UT, HV_OBJ_FRAME, 0, 40, 1), HV_OK);
    assert_int_equal(cap_pa(&rs(40)->cap), UT_PA);
    assert_int_equal(rretype(S_UT, HV_OBJ_FRAME, 0, 41, 1), HV_OK);
    assert_int_equal(cap_pa(&rs(41)->cap), UT_PA + PAGE);
    assert_true(mem_all(UT_PA, 2 * PAGE, 0));
    assert_int_equal(rs(S_UT)->cap.data, 2 * PAGE);
    /* Deleting every child one by one also leaves no live object: the watermark resets. */
    assert_int_equal(rdelete(40), HV_OK);
    assert_int_equal(rdelete(41), HV_OK);
    assert_int_equal(rretype(S_UT, HV_OBJ_ENDPOINT, 0, 42, 1), HV_OK);
    assert_int_equal(cap_pa(&rs(42)->cap), UT_PA);
    check_cspace();
}

static void test_retype_never_twice(void **state)
{
    (void)state;
    /* Delete one child, keep another: the next object must not land on either. */
    assert_int_equal(rretype(S_UT, HV_OBJ_ENDPOINT, 0, 20, 2), HV_OK);
    assert_int_equal(rdelete(20), HV_OK);
    assert_int_equal(rretype(S_UT, HV_OBJ_ENDPOINT, 0, 22, 1), HV_OK);
    assert_fresh(rs(22));
    assert_int_equal(cap_pa(&rs(22)->cap), UT_PA + 2 * EP_SIZE);   /* the watermark only moves forward */
    /* The object lives on in a copy whose parent (the original) was deleted. */
    assert_int_equal(rretype(S_UT, HV_OBJ_NOTIFICATION, 0, 30, 1), HV_OK);
    assert_int_equal(rcopy(31, 30, HV_RIGHTS_ALL), HV_OK);
    assert_int_equal(rdelete(30), HV_OK);
    assert_ptr_equal(rs(31)->parent, rs(S_UT));
    assert_int_equal(rdelete(21), HV_OK);
    assert_int_equal(rdelete(22), HV_OK);
    assert_int_equal(rretype(S_UT, HV_OBJ_ENDPOINT, 0, 32, 8), HV_OK);
    for (unsigned i = 32; i < 40; i++)
        assert_fresh(rs(i));
    /* Objects of a sub-untyped whose cap was deleted still cover the parent's memory. */
    assert_int_equal(rretype(S_UT, HV_OBJ_UNTYPED, 14, 40, 1), HV_OK);
    assert_int_equal(rretype(40, HV_OBJ_FRAME, 0, 41, 2), HV_OK);
    assert_int_equal(rdelete(40), HV_OK);
    assert_ptr_equal(rs(41)->parent, rs(S_UT));
    for (unsigned i = 31; i < 40; i++)
        assert_int_equal(rdelete(i), HV_OK);
    assert_int_equal(rretype(S_UT, HV_OBJ_FRAME, 0, 43, 4), HV_OK);
    for (unsigned i = 43; i < 47; i++)
        assert_fresh(rs(i));
    /* A child moved into another CNode still counts. */
    assert_int_equal(rretype(S_UT, HV_OBJ_CNODE, 3, 50, 1), HV_OK);
    assert_int_equal(rretype(S_UT, HV_OBJ_FRAME, 0, 51, 1), HV_OK);
    assert_int_equal(op_move(50, 1, 3, S_SELF, 51, DEPTH), HV_OK);
    for (unsigned i = 41; i < 47; i++) {
        if (!cte_is_empty(rs(i)))
            assert_int_equal(rdelete(i), HV_OK);
    }
    assert_int_equal(rcopy(52, 50, HV_RIGHTS_ALL), HV_OK);
    assert_int_equal(rdelete(50), HV_OK);      /* the CNode lives on through its copy */
    assert_int_equal(rretype(S_UT, HV_OBJ_FRAME, 0, 53, 2), HV_OK);
    assert_fresh(rs(53));
    assert_fresh(rs(54));
    assert_fresh(cn_slot(rs(52), 1));
    check_cspace();
}

/* Frame sizes: 0 and HV_FRAME_BITS are 4 KiB, HV_LARGE_FRAME_BITS 2 MiB, nothing else. */
static void test_retype_frame_sizes(void **state)
{
    (void)state;
    EXPECT_ERR(HV_ERR_RANGE, rretype(S_UT, HV_OBJ_FRAME, 13, 20, 1));
    EXPECT_ERR(HV_ERR_RANGE, rretype(S_UT, HV_OBJ_FRAME, 20, 20, 1));
    EXPECT_ERR(HV_ERR_RANGE, rretype(S_UT, HV_OBJ_FRAME, 22, 20, 1));
    EXPECT_ERR(HV_ERR_RANGE, rretype(S_UT, HV_OBJ_FRAME, 30, 20, 1));
    /* The 1 MiB untyped holds no 2 MiB frame. */
    EXPECT_ERR(HV_ERR_NOT_ENOUGH_MEMORY, rretype(S_UT, HV_OBJ_FRAME, HV_LARGE_FRAME_BITS, 20, 1));
    assert_int_equal(rretype(S_UT, HV_OBJ_FRAME, HV_FRAME_BITS, 20, 1), HV_OK);
    assert_int_equal(rs(20)->cap.size_bits, HV_FRAME_BITS);
    assert_int_equal(rretype(S_UT, HV_OBJ_FRAME, 0, 21, 1), HV_OK);
    assert_int_equal(rs(21)->cap.size_bits, HV_FRAME_BITS);
    assert_int_equal(rs(21)->cap.object, rs(20)->cap.object + PAGE);
    check_cspace();
}

static void test_retype_errors(void **state)
{
    (void)state;
    struct cte *s = NULL;
    const uint64_t ok[] = { HV_OBJ_ENDPOINT, 0, S_SELF, 20, DEPTH, 1 };
    assert_int_equal(rretype(S_UT, HV_OBJ_ENDPOINT, 0, 10, 1), HV_OK);
    EXPECT_ERR(HV_ERR_TRUNCATED, untyped_invoke(&g_root.cap, rs(S_UT), HV_INV_UNTYPED_RETYPE, ok, 5));
    EXPECT_ERR(HV_ERR_TRUNCATED, untyped_invoke(&g_root.cap, rs(S_UT), HV_INV_UNTYPED_RETYPE, ok, 0));
    EXPECT_ERR(HV_ERR_UNKNOWN_INVOCATION, untyped_invoke(&g_root.cap, rs(S_UT), HV_INV_CNODE_COPY, ok, 6));
    EXPECT_ERR(HV_ERR_UNKNOWN_INVOCATION, untyped_invoke(&g_root.cap, rs(S_UT), 0, ok, 6));
    EXPECT_ERR(HV_ERR_WRONG_TYPE, untyped_invoke(&g_root.cap, rs(10), HV_INV_UNTYPED_RETYPE, ok, 6));
    EXPECT_ERR(HV_ERR_WRONG_TYPE, untyped_invoke(&g_root.cap, rs(S_SELF), HV_INV_UNTYPED_RETYPE, ok, 6));
    EXPECT_ERR(HV_ERR_WRONG_TYPE, untyped_invoke(&g_root.cap, rs(200), HV_INV_UNTYPED_RETYPE, ok, 6));
    /* Types. */
    EXPECT_ERR(HV_ERR_INVALID_ARGUMENT, rretype(S_UT, HV_OBJ_TYPE_COUNT, 0, 20, 1));
    EXPECT_ERR(HV_ERR_INVALID_ARGUMENT, rretype(S_UT, 1ull << 40, 0, 20, 1));
    EXPECT_ERR(HV_ERR_INVALID_ARGUMENT, rretype(S_UT, HV_OBJ_ENDPOINT + (1ull << 32), 0, 20, 1));
    EXPECT_ERR(HV_ERR_INVALID_ARGUMENT, rretype(S_UT, HV_OBJ_UNTYPED, 65, 20, 1));
    EXPECT_ERR(HV_ERR_INVALID_ARGUMENT, rretype(S_UT, HV_OBJ_CNODE, (1ull << 32) | 4, 20, 1));
    EXPECT_ERR(HV_ERR_WRONG_TYPE, rretype(S_UT, HV_OBJ_NULL, 0, 20, 1));
    EXPECT_ERR(HV_ERR_WRONG_TYPE, rretype(S_UT, HV_OBJ_IRQ_CONTROL, 0, 20, 1));
    EXPECT_ERR(HV_ERR_WRONG_TYPE, rretype(S_UT, HV_OBJ_IRQ_HANDLER, 0, 20, 1));
    EXPECT_ERR(HV_ERR_WRONG_TYPE, rretype(S_UT, HV_OBJ_IOPORT_CONTROL, 0, 20, 1));
    EXPECT_ERR(HV_ERR_WRONG_TYPE, rretype(S_UT, HV_OBJ_IOPORT, 0, 20, 1));
    /* Sizes. */
    EXPECT_ERR(HV_ERR_RANGE, rretype(S_UT, HV_OBJ_CNODE, HV_CNODE_MIN_RADIX - 1, 20, 1));
    EXPECT_ERR(HV_ERR_RANGE, rretype(S_UT, HV_OBJ_CNODE, HV_CNODE_MAX_RADIX + 1, 20, 1));
    EXPECT_ERR(HV_ERR_RANGE, rretype(S_UT, HV_OBJ_CNODE, 64, 20, 1));
    EXPECT_ERR(HV_ERR_RANGE, rretype(S_UT, HV_OBJ_UNTYPED, HV_UNTYPED_MIN_BITS - 1, 20, 1));
    EXPECT_ERR(HV_ERR_RANGE, rretype(S_UT, HV_OBJ_UNTYPED, HV_UNTYPED_MAX_BITS + 1, 20, 1));
    EXPECT_ERR(HV_ERR_RANGE, rretype(S_UT, HV_OBJ_UNTYPED, 64, 20, 1));
    /* The destination CNode. */
    EXPECT_ERR(HV_ERR_INVALID_CAP, retype(S_UT, HV_OBJ_ENDPOINT, 0, 0, 20, DEPTH, 1));
    EXPECT_ERR(HV_ERR_INVALID_CAP, retype(S_UT, HV_OBJ_ENDPOINT, 0, (1ull << 62) | S_SELF, 20, DEPTH, 1));
    EXPECT_ERR(HV_ERR_EMPTY_SLOT, retype(S_UT, HV_OBJ_ENDPOINT, 0, 200, 20, DEPTH, 1));
    EXPECT_ERR(HV_ERR_WRONG_TYPE, retype(S_UT, HV_OBJ_ENDPOINT, 0, S_UT, 20, DEPTH, 1));
    EXPECT_ERR(HV_ERR_WRONG_TYPE, retype(S_UT, HV_OBJ_ENDPOINT, 0, 10, 20, DEPTH, 1));
    /* The destination slot. */
    EXPECT_ERR(HV_ERR_RANGE, retype(S_UT, HV_OBJ_ENDPOINT, 0, S_SELF, 20, 0, 1));
    EXPECT_ERR(HV_ERR_RANGE, retype(S_UT, HV_OBJ_ENDPOINT, 0, S_SELF, 20, 65, 1));
    EXPECT_ERR(HV_ERR_RANGE, retype(S_UT, HV_OBJ_ENDPOINT, 0, S_SELF, 20, (1ull << 32) | DEPTH, 1));
    EXPECT_ERR(HV_ERR_INVALID_CAP, retype(S_UT, HV_OBJ_ENDPOINT, 0, S_SELF, 20, 63, 1));
    EXPECT_ERR(HV_ERR_INVALID_CAP, retype(S_UT, HV_OBJ_ENDPOINT, 0, S_SELF, 0, DEPTH, 1));
    EXPECT_ERR(HV_ERR_INVALID_CAP, retype(S_UT, HV_OBJ_ENDPOINT, 0, S_SELF, (1ull << 63) | 20, DEPTH, 1));
    /* Nothing was made. */
    assert_int_equal(child_count(rs(S_UT)), 1);
    assert_int_equal(cnode_lookup_cap(&g_root.cap, 20, &s), HV_ERR_EMPTY_SLOT);
    check_cspace();
}

/* ================================================================ copy / mint / move */

static void test_rights_only_shrink(void **state)
{
    (void)state;
    assert_int_equal(rretype(S_UT, HV_OBJ_ENDPOINT, 0, 20, 1), HV_OK);
    assert_int_equal(rcopy(21, 20, HV_RIGHT_READ | HV_RIGHT_WRITE), HV_OK);
    assert_int_equal(rs(21)->cap.rights, HV_RIGHT_READ | HV_RIGHT_WRITE);
    assert_ptr_equal(rs(21)->parent, rs(20));
    assert_int_equal(rmint(22, 21, HV_RIGHTS_ALL, 0), HV_OK);
    assert_int_equal(rs(22)->cap.rights, HV_RIGHT_READ | HV_RIGHT_WRITE);
    assert_int_equal(rcopy(23, 22, HV_RIGHT_WRITE | HV_RIGHT_GRANT), HV_OK);
    assert_int_equal(rs(23)->cap.rights, HV_RIGHT_WRITE);
    assert_int_equal(rcopy(24, 23, 0), HV_OK);
    assert_int_equal(rs(24)->cap.rights, 0);
    assert_int_equal(rcopy(25, 24, HV_RIGHTS_ALL), HV_OK);
    assert_int_equal(rs(25)->cap.rights, 0);
    /* A copy keeps everything else. */
    assert_int_equal(rs(25)->cap.object, rs(20)->cap.object);
    assert_int_equal(kobj_at(&rs(20)->cap)->caps, 6);
    /* Frames and CNodes too. */
    assert_int_equal(rretype(S_UT, HV_OBJ_FRAME, 0, 30, 1), HV_OK);
    assert_int_equal(rcopy(31, 30, HV_RIGHT_READ), HV_OK);
    assert_int_equal(rs(31)->cap.rights, HV_RIGHT_READ);
    assert_int_equal(rs(31)->cap.object, rs(30)->cap.object);
    assert_int_equal(rmint(32, 31, HV_RIGHT_READ | HV_RIGHT_WRITE, 0), HV_OK);
    assert_int_equal(rs(32)->cap.rights, HV_RIGHT_READ);
    assert_int_equal(rcopy(33, S_SELF, HV_RIGHT_READ), HV_OK);
    assert_int_equal(rs(33)->cap.rights, HV_RIGHT_READ);
    assert_int_equal(rs(33)->cap.guard_bits, DEPTH - ROOT_RADIX);
    assert_int_equal(cn_hdr(&g_root)->caps, 3);
    /* Rights outside HV_RIGHTS_ALL are not rights. */
    EXPECT_ERR(HV_ERR_INVALID_ARGUMENT, rcopy(40, 20, HV_RIGHTS_ALL + 1));
    EXPECT_ERR(HV_ERR_INVALID_ARGUMENT, rmint(40, 20, 1ull << 40, 0));
    check_cspace();
}

static void test_badge_set_once(void **state)
{
    (void)state;
    static const uint8_t types[] = { HV_OBJ_ENDPOINT, HV_OBJ_NOTIFICATION };
    for (unsigned t = 0; t < 2; t++) {
        unsigned b = 20 + 10 * t;
        assert_int_equal(rretype(S_UT, types[t], 0, b, 1), HV_OK);
        assert_int_equal(rs(b)->cap.flags & CAP_FLAG_BADGED, 0);
        /* badge 0 on an unbadged cap: still unbadged */
        assert_int_equal(rmint(b + 1, b, HV_RIGHTS_ALL, 0), HV_OK);
        assert_int_equal(rs(b + 1)->cap.flags & CAP_FLAG_BADGED, 0);
        assert_int_equal(rs(b + 1)->cap.data, 0);
        assert_int_equal(rmint(b + 2, b + 1, HV_RIGHTS_ALL, 7), HV_OK);
        assert_int_equal(rs(b + 2)->cap.data, 7);
        assert_int_not_equal(rs(b + 2)->cap.flags & CAP_FLAG_BADGED, 0);
        /* once set, never changed */
        EXPECT_ERR(HV_ERR_ILLEGAL_OPERATION, rmint(b + 3, b + 2, HV_RIGHTS_ALL, 9));
        EXPECT_ERR(HV_ERR_ILLEGAL_OPERATION, rmint(b + 3, b + 2, HV_RIGHTS_ALL, 7));
        assert_int_equal(rmint(b + 3, b + 2, HV_RIGHT_READ, 0), HV_OK);
        assert_int_equal(rs(b + 3)->cap.data, 7);
        assert_int_not_equal(rs(b + 3)->cap.flags & CAP_FLAG_BADGED, 0);
        assert_int_equal(rcopy(b + 4, b + 3, HV_RIGHTS_ALL), HV_OK);
        assert_int_equal(rs(b + 4)->cap.data, 7);
        assert_int_not_equal(rs(b + 4)->cap.flags & CAP_FLAG_BADGED, 0);
        EXPECT_ERR(HV_ERR_ILLEGAL_OPERATION, rmint(b + 5, b + 4, HV_RIGHTS_ALL, 1));
        /* the unbadged original can still be minted with another badge; the widest badge fits */
        assert_int_equal(rmint(b + 5, b, HV_RIGHTS_ALL, BADGE_LIMIT - 1), HV_OK);
        assert_int_equal(rs(b + 5)->cap.data, BADGE_LIMIT - 1);
        EXPECT_ERR(HV_ERR_INVALID_ARGUMENT, rmint(b + 6, b, HV_RIGHTS_ALL, BADGE_LIMIT));
        EXPECT_ERR(HV_ERR_INVALID_ARGUMENT, rmint(b + 6, b, HV_RIGHTS_ALL, ~0ull));
        assert_int_equal(rs(b)->cap.data, 0);
        assert_int_equal(rs(b)->cap.flags & CAP_FLAG_BADGED, 0);
    }
    /* Nothing else has a badge. */
    assert_int_equal(rretype(S_UT, HV_OBJ_FRAME, 0, 40, 1), HV_OK);
    EXPECT_ERR(HV_ERR_INVALID_ARGUMENT, rmint(41, 40, HV_RIGHTS_ALL, 1));
    assert_int_equal(rmint(41, 40, HV_RIGHTS_ALL, 0), HV_OK);
    check_cspace();
}

static void test_uncopyable(void **state)
{
    (void)state;
    assert_int_equal(rretype(S_UT, HV_OBJ_PT, 0, 20, 1), HV_OK);
    assert_int_equal(rretype(S_UT, HV_OBJ_PD, 0, 21, 1), HV_OK);
    assert_int_equal(rretype(S_UT, HV_OBJ_PDPT, 0, 22, 1), HV_OK);
    assert_int_equal(rretype(S_UT, HV_OBJ_REPLY, 0, 23, 1), HV_OK);
    assert_int_equal(rretype(S_UT, HV_OBJ_UNTYPED, 12, 24, 1), HV_OK);
    static const unsigned src[] = { S_UT, S_DEV, 20, 21, 22, 23, 24 };
    for (unsigned i = 0; i < sizeof(src) / sizeof(src[0]); i++) {
        EXPECT_ERR(HV_ERR_ILLEGAL_OPERATION, rcopy(40, src[i], HV_RIGHTS_ALL));
        EXPECT_ERR(HV_ERR_ILLEGAL_OPERATION, rmint(40, src[i], HV_RIGHTS_ALL, 0));
        EXPECT_ERR(HV_ERR_ILLEGAL_OPERATION, rmint(40, src[i], HV_RIGHT_READ, 1));
    }
    /* ... but they can be moved. */
    track(rs(23));
    for (unsigned i = 0; i < sizeof(src) / sizeof(src[0]); i++) {
        struct cap before = rs(src[i])->cap;
        assert_int_equal(rmove(100 + i, src[i]), HV_OK);
        assert_memory_equal(&rs(100 + i)->cap, &before, sizeof(before));
        assert_true(cte_is_empty(rs(src[i])));
    }
    check_cspace();
    /* A moved untyped keeps its watermark and children: no reuse. */
    assert_int_equal(rretype(100, HV_OBJ_FRAME, 0, 50, 1), HV_OK);
    assert_fresh(rs(50));
    /* Deleting unmapped tables and a reply. */
    unsigned vsd = g_vspace_deleting;
    assert_int_equal(rrevoke(100), HV_OK);
    assert_int_equal(g_vspace_deleting, vsd + 4);       /* PT, PD, PDPT, frame */
    assert_int_equal(fin_count(g_tracked[0]), 1);
    check_cspace();
}

static void test_move_keeps_links(void **state)
{
    (void)state;
    assert_int_equal(rretype(S_UT, HV_OBJ_ENDPOINT, 0, 20, 1), HV_OK);
    assert_int_equal(rretype(S_UT, HV_OBJ_CNODE, 3, 40, 1), HV_OK);
    track(rs(20));
    assert_int_equal(rcopy(21, 20, HV_RIGHTS_ALL), HV_OK);
    assert_int_equal(rmint(22, 21, HV_RIGHTS_ALL, 3), HV_OK);
    assert_int_equal(rcopy(23, 21, HV_RIGHT_READ), HV_OK);
    struct cte *c = rs(40);
    struct cap before = rs(21)->cap;
    /* Move the middle node into another CNode. */
    assert_int_equal(op_move(40, 3, 3, S_SELF, 21, DEPTH), HV_OK);
    struct cte *m = cn_slot(c, 3);
    assert_true(cte_is_empty(rs(21)) && cte_unlinked(rs(21)) && cap_is_zero(&rs(21)->cap));
    assert_memory_equal(&m->cap, &before, sizeof(before));
    assert_ptr_equal(m->parent, rs(20));
    assert_true(has_child(rs(20), m));
    assert_int_equal(child_count(rs(20)), 1);
    assert_ptr_equal(rs(22)->parent, m);
    assert_ptr_equal(rs(23)->parent, m);
    assert_int_equal(child_count(m), 2);
    assert_int_equal(kobj_at(&before)->caps, 4);
    check_cspace();
    /* Move the root of the copies, then back again. */
    assert_int_equal(rmove(30, 20), HV_OK);
    assert_ptr_equal(rs(30)->parent, rs(S_UT));
    assert_ptr_equal(m->parent, rs(30));
    assert_int_equal(op_move(40, 5, 3, S_SELF, 30, DEPTH), HV_OK);
    assert_int_equal(rmove(20, 40), HV_OK);     /* moving the CNode's cap does not disturb its contents */
    c = rs(20);
    assert_ptr_equal(cn_slot(c, 3)->parent, cn_slot(c, 5));
    check_cspace();
    /* Errors: occupied destination, empty source, onto itself. */
    EXPECT_ERR(HV_ERR_SLOT_OCCUPIED, rmove(22, 23));
    EXPECT_ERR(HV_ERR_SLOT_OCCUPIED, rmove(22, 22));
    EXPECT_ERR(HV_ERR_EMPTY_SLOT, rmove(60, 61));
    EXPECT_ERR(HV_ERR_EMPTY_SLOT, rmove(60, 60));
    /* The revoke of the untyped still reaches every moved cap (and reaps the CNode). */
    assert_int_equal(rrevoke(S_UT), HV_OK);
    assert_true(cte_is_empty(rs(20)) && cte_is_empty(rs(22)) && cte_is_empty(rs(23)));
    assert_int_equal(fin_count(g_tracked[0]), 1);
    check_cspace();
}

static void test_frame_copy_unmapped(void **state)
{
    (void)state;
    assert_int_equal(rretype(S_UT, HV_OBJ_FRAME, 0, 20, 1), HV_OK);
    /* Pretend vspace.c mapped it (cap.h: data = va, data2 = vspace id). */
    struct cap *f = &rs(20)->cap;
    f->flags |= CAP_FLAG_MAPPED;
    f->data = 0x400000;
    f->data2 = 7;
    assert_int_equal(rcopy(21, 20, HV_RIGHTS_ALL), HV_OK);
    assert_int_equal(rmint(22, 20, HV_RIGHT_READ, 0), HV_OK);
    for (unsigned i = 21; i <= 22; i++) {
        const struct cap *c = &rs(i)->cap;
        assert_int_equal(c->type, HV_OBJ_FRAME);
        assert_int_equal(c->object, f->object);
        assert_int_equal(c->flags & CAP_FLAG_MAPPED, 0);
        assert_int_equal(c->data, 0);
        assert_int_equal(c->data2, 0);
    }
    /* A move keeps the mapping: it is the same cap. */
    assert_int_equal(rmove(30, 20), HV_OK);
    f = &rs(30)->cap;
    assert_int_not_equal(f->flags & CAP_FLAG_MAPPED, 0);
    assert_int_equal(f->data, 0x400000);
    assert_int_equal(f->data2, 7);
    /* Unmapped copies are deleted without vspace noticing a mapping; then "unmap" and delete. */
    assert_int_equal(rdelete(21), HV_OK);
    assert_int_equal(rdelete(22), HV_OK);
    assert_int_equal(g_vspace_deleting, 2);
    f->flags &= ~CAP_FLAG_MAPPED;
    f->data = 0;
    f->data2 = 0;
    assert_int_equal(rdelete(30), HV_OK);
    assert_int_equal(g_vspace_deleting, 3);
    check_cspace();
}

/* ================================================================ delete / revoke */

static void test_delete_reparents(void **state)
{
    (void)state;
    assert_int_equal(rretype(S_UT, HV_OBJ_NOTIFICATION, 0, 20, 1), HV_OK);
    track(rs(20));
    /* a=20 -> b=21 -> {c1=22 -> d=24, c2=23} */
    assert_int_equal(rcopy(21, 20, HV_RIGHTS_ALL), HV_OK);
    assert_int_equal(rcopy(22, 21, HV_RIGHTS_ALL), HV_OK);
    assert_int_equal(rcopy(23, 21, HV_RIGHTS_ALL), HV_OK);
    assert_int_equal(rcopy(24, 22, HV_RIGHTS_ALL), HV_OK);
    assert_int_equal(rdelete(21), HV_OK);
    assert_true(cte_is_empty(rs(21)) && cte_unlinked(rs(21)));
    assert_ptr_equal(rs(22)->parent, rs(20));
    assert_ptr_equal(rs(23)->parent, rs(20));
    assert_ptr_equal(rs(24)->parent, rs(22));
    assert_int_equal(child_count(rs(20)), 2);
    check_cspace();
    /* Deleting the first, a middle and the last of several siblings. */
    assert_int_equal(rcopy(25, 20, HV_RIGHTS_ALL), HV_OK);
    assert_int_equal(rcopy(26, 20, HV_RIGHTS_ALL), HV_OK);
    assert_int_equal(rdelete(26), HV_OK);       /* newest: first in the list */
    check_cspace();
    assert_int_equal(rdelete(22), HV_OK);       /* has a child: d moves up to a */
    assert_ptr_equal(rs(24)->parent, rs(20));
    check_cspace();
    assert_int_equal(rdelete(23), HV_OK);
    check_cspace();
    assert_int_equal(child_count(rs(20)), 2);
    /* Deleting an empty slot is fine and changes nothing. */
    snap_take(SNAP_LEN);
    assert_int_equal(rdelete(100), HV_OK);
    assert_int_equal(rrevoke(100), HV_OK);
    snap_check("delete/revoke of an empty slot");
    /* The delete of the original: its children move up to the untyped. */
    assert_int_equal(rdelete(20), HV_OK);
    assert_ptr_equal(rs(24)->parent, rs(S_UT));
    assert_ptr_equal(rs(25)->parent, rs(S_UT));
    check_cspace();
    assert_int_equal(fin_count(g_tracked[0]), 0);
    assert_int_equal(rdelete(24), HV_OK);
    assert_int_equal(rdelete(25), HV_OK);
    assert_int_equal(fin_count(g_tracked[0]), 1);
    check_cspace();
}

/* Slots of the two CNodes of the revoke test: A = R[5], B = R[6], radix 5. */
static struct cte *ra(unsigned i)
{
    return cn_slot(rs(5), i);
}

static struct cte *rb(unsigned i)
{
    return cn_slot(rs(6), i);
}

/* Copies (or mints, with a badge) A/B slot `src` into A/B slot `dst`; 'a'/'b' pick the CNode. */
static void xcopy(char dw, unsigned di, char sw, unsigned si, uint64_t badge)
{
    uint64_t dcn = dw == 'a' ? 5 : 6;
    uint64_t scn = sw == 'a' ? 5 : sw == 'b' ? 6 : S_SELF;
    uint64_t sd = sw == 'r' ? DEPTH : 5;
    assert_int_equal(op_mint(dcn, di, 5, scn, si, sd, HV_RIGHTS_ALL, badge), HV_OK);
}

static void test_revoke_tree(void **state)
{
    (void)state;
    assert_int_equal(rretype(S_UT, HV_OBJ_CNODE, 5, 5, 2), HV_OK);
    assert_int_equal(rretype(S_UT, HV_OBJ_ENDPOINT, 0, 20, 1), HV_OK);
    assert_int_equal(rretype(S_UT, HV_OBJ_NOTIFICATION, 0, 21, 1), HV_OK);
    track(rs(20));
    track(rs(21));
    /*
     * R20 (E)
     * +- A1 (badge 1)
     * |  +- A2
     * |  |  +- B2
     * |  |  |  +- A4
     * |  |  |  |  +- B4
     * |  |  |  +- B3
     * |  |  +- A3
     * |  +- B1
     * |     +- A5
     * |     |  +- B6
     * |     +- B5
     * +- R22 (badge 2)
     * R21 (N) -> A6 -> B7
     */
    xcopy('a', 1, 'r', 20, 1);
    xcopy('a', 2, 'a', 1, 0);
    xcopy('b', 2, 'a', 2, 0);
    xcopy('a', 4, 'b', 2, 0);
    xcopy('b', 4, 'a', 4, 0);
    xcopy('b', 3, 'b', 2, 0);
    xcopy('a', 3, 'a', 2, 0);
    xcopy('b', 1, 'a', 1, 0);
    xcopy('a', 5, 'b', 1, 0);
    xcopy('b', 6, 'a', 5, 0);
    xcopy('b', 5, 'b', 1, 0);
    assert_int_equal(rmint(22, 20, HV_RIGHTS_ALL, 2), HV_OK);
    xcopy('a', 6, 'r', 21, 0);
    xcopy('b', 7, 'a', 6, 0);
    assert_ptr_equal(rb(4)->parent->parent->parent->parent->parent, rs(20));  /* depth 5 */
    check_cspace();
    const struct kobj *e = kobj_at(&rs(20)->cap);
    assert_int_equal(e->caps, 13);

    struct cap a_before[32];
    struct cap b_before[32];
    for (unsigned i = 0; i < 32; i++) {
        a_before[i] = ra(i)->cap;
        b_before[i] = rb(i)->cap;
    }
    /* Revoke A2 (two levels down, in A): exactly B2, A3, A4, B3, B4 go. */
    assert_int_equal(op_revoke(5, 2, 5), HV_OK);
    static const bool a_gone[32] = { [3] = true, [4] = true };
    static const bool b_gone[32] = { [2] = true, [3] = true, [4] = true };
    for (unsigned i = 1; i < 32; i++) {
        if (a_gone[i])
            assert_true(cte_is_empty(ra(i)));
        else
            assert_memory_equal(&ra(i)->cap, &a_before[i], sizeof(struct cap));
        if (b_gone[i])
            assert_true(cte_is_empty(rb(i)));
        else
            assert_memory_equal(&rb(i)->cap, &b_before[i], sizeof(struct cap));
    }
    assert_null(ra(2)->first_child);
    assert_ptr_equal(ra(2)->parent, ra(1));
    assert_int_equal(e->caps, 8);
    assert_false(cte_is_empty(rs(22)));
    check_cspace();
    /* Revoke B1: A5, B6, B5. */
    assert_int_equal(op_revoke(6, 1, 5), HV_OK);
    assert_true(cte_is_empty(ra(5)) && cte_is_empty(rb(6)) && cte_is_empty(rb(5)));
    assert_false(cte_is_empty(rb(1)));
    assert_int_equal(e->caps, 5);
    check_cspace();
    /* Revoke the original: every other cap to E, nothing of N. */
    assert_int_equal(rrevoke(20), HV_OK);
    assert_int_equal(e->caps, 1);
    for (unsigned i = 1; i < 32; i++) {
        assert_true(i == 6 || cte_is_empty(ra(i)));
        assert_true(i == 7 || cte_is_empty(rb(i)));
    }
    assert_true(cte_is_empty(rs(22)));
    assert_int_equal(kobj_at(&rs(21)->cap)->caps, 3);
    assert_int_equal(g_fin_total, 0);
    check_cspace();
    assert_int_equal(rdelete(20), HV_OK);
    assert_int_equal(fin_count(e), 1);
    check_cspace();
}

static void test_cnode_reaping(void **state)
{
    (void)state;
    assert_int_equal(rretype(S_UT, HV_OBJ_ENDPOINT, 0, 20, 1), HV_OK);
    assert_int_equal(rretype(S_UT, HV_OBJ_NOTIFICATION, 0, 21, 1), HV_OK);
    assert_int_equal(rretype(S_UT, HV_OBJ_CNODE, 3, 40, 1), HV_OK);   /* X */
    assert_int_equal(rretype(S_UT, HV_OBJ_CNODE, 2, 41, 1), HV_OK);   /* Y */
    track(rs(20));
    track(rs(21));
    struct cnode_header *x = cn_hdr(rs(40));
    struct cnode_header *y = cn_hdr(rs(41));
    know_cnode(rs(40));
    know_cnode(rs(41));
    struct cte *xs = (struct cte *)x;
    struct cte *ys = (struct cte *)y;
    assert_int_equal(op_copy(40, 1, 3, S_SELF, 20, DEPTH, HV_RIGHTS_ALL), HV_OK);
    assert_int_equal(op_copy(40, 2, 3, S_SELF, 20, DEPTH, HV_RIGHTS_ALL), HV_OK);
    assert_int_equal(op_copy(41, 1, 2, S_SELF, 20, DEPTH, HV_RIGHTS_ALL), HV_OK);
    assert_int_equal(op_copy(41, 2, 2, S_SELF, 21, DEPTH, HV_RIGHTS_ALL), HV_OK);
    assert_int_equal(op_copy(41, 3, 2, S_SELF, 40, DEPTH, HV_RIGHTS_ALL), HV_OK);  /* Y holds a cap to X */
    assert_int_equal(op_move(40, 3, 3, S_SELF, 41, DEPTH), HV_OK);                 /* Y's only cap is in X */
    assert_int_equal(op_copy(40, 4, 3, S_SELF, 40, DEPTH, HV_RIGHTS_ALL), HV_OK);  /* X holds a cap to itself */
    assert_int_equal(x->caps, 3);
    assert_int_equal(y->caps, 1);
    assert_int_equal(kobj_at(&rs(20)->cap)->caps, 4);
    check_cspace();
    /* A copy elsewhere keeps X alive. */
    assert_int_equal(rcopy(42, 40, HV_RIGHTS_ALL), HV_OK);
    assert_int_equal(rdelete(40), HV_OK);
    assert_false(cte_is_empty(&xs[1]));
    assert_int_equal(x->caps, 3);
    check_cspace();
    /*
     * Deleting the last cap outside X (R[42]): X still names itself (X[4]) and Y names X
     * (Y[3]), so X is not dead yet; the cycle X -> Y -> X keeps both (a leak, as in seL4
     * without zombies). Break it first: delete X's cap to itself and Y's cap to X.
     */
    assert_int_equal(op_delete(42, 4, 3), HV_OK);
    const uint64_t del_y3[] = { 3, 2 };
    assert_int_equal(cnode_invoke(&g_root.cap, &xs[3], HV_INV_CNODE_DELETE, del_y3, 2), HV_OK);
    assert_int_equal(x->caps, 1);
    check_cspace();
    /* The last cap to X: X's caps go, and Y (whose only cap was in X) with its caps. */
    assert_int_equal(rdelete(42), HV_OK);
    assert_int_equal(x->caps, 0);
    assert_int_equal(y->caps, 0);
    for (unsigned i = 1; i < 8; i++)
        assert_true(cte_is_empty(&xs[i]) && cte_unlinked(&xs[i]));
    for (unsigned i = 1; i < 4; i++)
        assert_true(cte_is_empty(&ys[i]) && cte_unlinked(&ys[i]));
    assert_int_equal(kobj_at(&rs(20)->cap)->caps, 1);
    assert_int_equal(kobj_at(&rs(21)->cap)->caps, 1);
    assert_int_equal(g_fin_total, 0);
    check_cspace();
    /* When the CNode held an object's last cap, the reap finalizes it, once. */
    assert_int_equal(rretype(S_UT, HV_OBJ_CNODE, 2, 43, 1), HV_OK);
    know_cnode(rs(43));
    assert_int_equal(op_move(43, 1, 2, S_SELF, 20, DEPTH), HV_OK);
    assert_int_equal(rdelete(43), HV_OK);
    assert_int_equal(fin_count(g_tracked[0]), 1);
    assert_int_equal(fin_count(g_tracked[1]), 0);
    check_cspace();
    /* A revoke that reaps the CNode holding the revoked cap itself. */
    assert_int_equal(rretype(S_UT, HV_OBJ_UNTYPED, 12, 50, 1), HV_OK);
    assert_int_equal(rretype(50, HV_OBJ_CNODE, 2, 51, 1), HV_OK);
    know_cnode(rs(51));
    struct cte *ws = (struct cte *)cn_hdr(rs(51));
    assert_int_equal(op_move(51, 1, 2, S_SELF, 50, DEPTH), HV_OK);     /* U2 lives in the CNode made from it */
    assert_int_equal(op_revoke(51, 1, 2), HV_OK);
    assert_true(cte_is_empty(rs(51)));
    assert_true(cte_is_empty(&ws[1]));
    check_cspace();
}

/* Chain: C_0 in R[first]; C_i's only cap in C_{i-1}[1]; an endpoint's only cap in C_{n-1}[1]. */
static const struct kobj *build_chain(unsigned first, unsigned n, struct cnode_header **hdrs)
{
    assert_int_equal(rretype(S_UT, HV_OBJ_CNODE, 1, first, n), HV_OK);
    assert_int_equal(rretype(S_UT, HV_OBJ_ENDPOINT, 0, first + n, 1), HV_OK);
    const struct kobj *ep = kobj_at(&rs(first + n)->cap);
    track(rs(first + n));
    for (unsigned i = 0; i < n; i++) {
        hdrs[i] = cn_hdr(rs(first + i));
        know_cnode(rs(first + i));
    }
    assert_int_equal(op_move(first + n - 1, 1, 1, S_SELF, first + n, DEPTH), HV_OK);
    for (unsigned i = n - 1; i >= 1; i--)
        assert_int_equal(op_move(first + i - 1, 1, 1, S_SELF, first + i, DEPTH), HV_OK);
    for (unsigned i = 1; i <= n; i++)
        assert_true(cte_is_empty(rs(first + i)));
    return ep;
}

/* Deletes R[slot]; returns how deep below this frame the endpoint was finalized. */
static uintptr_t __attribute__((noinline)) delete_measuring(unsigned slot)
{
    uintptr_t top = (uintptr_t)__builtin_frame_address(0);
    g_fin_frame = 0;
    assert_int_equal(rdelete(slot), HV_OK);
    assert_true(g_fin_frame != 0 && g_fin_frame < top);
    return top - g_fin_frame;
}

static void test_cnode_chain(void **state)
{
    (void)state;
    enum { N = 50 };
    struct cnode_header *one[1];
    struct cnode_header *chain[N];
    const struct kobj *ep1 = build_chain(200, 1, one);
    const struct kobj *ep50 = build_chain(100, N, chain);
    check_cspace();
    uintptr_t d1 = delete_measuring(200);
    assert_int_equal(fin_count(ep1), 1);
    uintptr_t d50 = delete_measuring(100);
    assert_int_equal(fin_count(ep50), 1);
    for (unsigned i = 0; i < N; i++) {
        assert_int_equal(chain[i]->caps, 0);
        assert_true(cte_is_empty(&((struct cte *)chain[i])[1]));
    }
    check_cspace();
    /* Tearing down nested CNodes must not recurse: the stack the last finalize runs on is
     * the same for a chain of 50 as for a chain of 1 (the kernel stack is 16 KiB). */
    if (d50 > d1 + 256)
        fail_msg("deleting a chain of %d CNodes used %zu bytes of stack more than a chain of 1 (%zu vs %zu)",
                 N, (size_t)(d50 - d1), (size_t)d50, (size_t)d1);
}

static void test_finalize_once(void **state)
{
    (void)state;
    assert_int_equal(rretype(S_UT, HV_OBJ_ENDPOINT, 0, 20, 1), HV_OK);
    assert_int_equal(rretype(S_UT, HV_OBJ_NOTIFICATION, 0, 30, 1), HV_OK);
    const struct kobj *e = kobj_at(&rs(20)->cap);
    const struct kobj *n = kobj_at(&rs(30)->cap);
    track(rs(20));
    track(rs(30));
    assert_int_equal(rcopy(21, 20, HV_RIGHTS_ALL), HV_OK);
    assert_int_equal(rcopy(22, 21, HV_RIGHTS_ALL), HV_OK);
    assert_int_equal(rmint(23, 20, HV_RIGHTS_ALL, 5), HV_OK);
    /* Original first, then the others in any order: only the last one finalizes. */
    static const unsigned order[] = { 20, 22, 23 };
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(rdelete(order[i]), HV_OK);
        assert_int_equal(fin_count(e), 0);
        check_cspace();
    }
    assert_int_equal(e->caps, 1);
    assert_int_equal(rdelete(21), HV_OK);
    assert_int_equal(fin_count(e), 1);
    assert_int_equal(e->caps, 0);
    check_cspace();
    /* Revoking the original removes the copies but not the object. */
    assert_int_equal(rcopy(31, 30, HV_RIGHTS_ALL), HV_OK);
    assert_int_equal(rmint(32, 31, HV_RIGHTS_ALL, 9), HV_OK);
    assert_int_equal(rrevoke(30), HV_OK);
    assert_int_equal(fin_count(n), 0);
    assert_int_equal(n->caps, 1);
    assert_int_equal(rdelete(30), HV_OK);
    assert_int_equal(fin_count(n), 1);
    check_cspace();
    /* Through the untyped's revoke: each of several endpoints, once. Every earlier child is
     * gone, so these reuse the same memory: start the records afresh. */
    fin_reset();
    g_ntracked = 0;
    assert_int_equal(rretype(S_UT, HV_OBJ_ENDPOINT, 0, 40, 4), HV_OK);
    assert_int_equal(cap_pa(&rs(40)->cap), UT_PA);
    for (unsigned i = 40; i < 44; i++) {
        track(rs(i));
        assert_int_equal(rcopy(i + 10, i, HV_RIGHTS_ALL), HV_OK);
    }
    assert_int_equal(rrevoke(S_UT), HV_OK);
    assert_int_equal(g_fin_total, 4);
    check_cspace();
}

/* ================================================================ every error leaves everything as it was */

static enum hv_error inv(struct cte *cn, uint64_t label, unsigned nargs, const uint64_t *a)
{
    return cnode_invoke(&g_root.cap, cn, label, a, nargs);
}

#define A7(a, b, c, d, e, f, g) ((const uint64_t[7]){ (a), (b), (c), (d), (e), (f), (g) })

static void test_cnode_errors(void **state)
{
    (void)state;
    assert_int_equal(rretype(S_UT, HV_OBJ_ENDPOINT, 0, 20, 1), HV_OK);
    assert_int_equal(rmint(21, 20, HV_RIGHTS_ALL, 9), HV_OK);
    assert_int_equal(rretype(S_UT, HV_OBJ_FRAME, 0, 22, 1), HV_OK);
    assert_int_equal(rretype(S_UT, HV_OBJ_CNODE, 3, 23, 1), HV_OK);
    assert_int_equal(rretype(S_UT, HV_OBJ_NOTIFICATION, 0, 24, 1), HV_OK);
    assert_int_equal(rretype(S_UT, HV_OBJ_PT, 0, 25, 1), HV_OK);
    assert_int_equal(rretype(S_UT, HV_OBJ_REPLY, 0, 26, 1), HV_OK);
    assert_int_equal(op_copy(23, 1, 3, S_SELF, 20, DEPTH, HV_RIGHTS_ALL), HV_OK);
    struct cte *r = rs(S_SELF);
    struct cte *c = rs(23);
    const uint64_t C = HV_INV_CNODE_COPY, M = HV_INV_CNODE_MINT, MV = HV_INV_CNODE_MOVE;
    const uint64_t D = HV_INV_CNODE_DELETE, RV = HV_INV_CNODE_REVOKE;
    const uint64_t ALL = HV_RIGHTS_ALL;

    /* Not a CNode. */
    EXPECT_ERR(HV_ERR_WRONG_TYPE, inv(rs(20), C, 7, A7(30, 64, S_SELF, 20, 64, ALL, 0)));
    EXPECT_ERR(HV_ERR_WRONG_TYPE, inv(rs(S_UT), D, 7, A7(20, 64, 0, 0, 0, 0, 0)));
    EXPECT_ERR(HV_ERR_WRONG_TYPE, inv(rs(200), D, 7, A7(20, 64, 0, 0, 0, 0, 0)));
    /* Unknown labels. */
    static const uint64_t bad_labels[] = { HV_INV_NONE, HV_INV_UNTYPED_RETYPE, 7, HV_INV_TCB_CONFIGURE, 1ull << 52,
                                           ~0ull };
    for (unsigned i = 0; i < sizeof(bad_labels) / sizeof(bad_labels[0]); i++)
        EXPECT_ERR(HV_ERR_UNKNOWN_INVOCATION, inv(r, bad_labels[i], 7, A7(30, 64, S_SELF, 20, 64, ALL, 0)));
    /* Too few words. */
    EXPECT_ERR(HV_ERR_TRUNCATED, inv(r, C, 5, A7(30, 64, S_SELF, 20, 64, ALL, 0)));
    EXPECT_ERR(HV_ERR_TRUNCATED, inv(r, C, 0, A7(30, 64, S_SELF, 20, 64, ALL, 0)));
    EXPECT_ERR(HV_ERR_TRUNCATED, inv(r, M, 6, A7(30, 64, S_SELF, 20, 64, ALL, 0)));
    EXPECT_ERR(HV_ERR_TRUNCATED, inv(r, MV, 4, A7(30, 64, S_SELF, 20, 64, ALL, 0)));
    EXPECT_ERR(HV_ERR_TRUNCATED, inv(r, D, 1, A7(20, 64, 0, 0, 0, 0, 0)));
    EXPECT_ERR(HV_ERR_TRUNCATED, inv(r, RV, 1, A7(20, 64, 0, 0, 0, 0, 0)));
    EXPECT_ERR(HV_ERR_TRUNCATED, inv(r, RV, 0, A7(20, 64, 0, 0, 0, 0, 0)));

    static const uint64_t derive[] = { HV_INV_CNODE_COPY, HV_INV_CNODE_MINT, HV_INV_CNODE_MOVE };
    for (unsigned k = 0; k < 3; k++) {
        const uint64_t L = derive[k];
        /* destination */
        EXPECT_ERR(HV_ERR_RANGE, inv(r, L, 7, A7(30, 0, S_SELF, 20, 64, ALL, 0)));
        EXPECT_ERR(HV_ERR_RANGE, inv(r, L, 7, A7(30, 65, S_SELF, 20, 64, ALL, 0)));
        EXPECT_ERR(HV_ERR_RANGE, inv(r, L, 7, A7(30, (1ull << 32) | 64, S_SELF, 20, 64, ALL, 0)));
        EXPECT_ERR(HV_ERR_RANGE, inv(r, L, 7, A7(30, ~0ull, S_SELF, 20, 64, ALL, 0)));
        EXPECT_ERR(HV_ERR_INVALID_CAP, inv(r, L, 7, A7(30, 63, S_SELF, 20, 64, ALL, 0)));
        EXPECT_ERR(HV_ERR_INVALID_CAP, inv(r, L, 7, A7(0, 64, S_SELF, 20, 64, ALL, 0)));
        EXPECT_ERR(HV_ERR_INVALID_CAP, inv(r, L, 7, A7((1ull << 40) | 30, 64, S_SELF, 20, 64, ALL, 0)));
        EXPECT_ERR(HV_ERR_INVALID_CAP, inv(c, L, 7, A7(0, 3, S_SELF, 20, 64, ALL, 0)));
        EXPECT_ERR(HV_ERR_INVALID_CAP, inv(c, L, 7, A7(2ull << 61, 64, S_SELF, 20, 64, ALL, 0)));
        EXPECT_ERR(HV_ERR_SLOT_OCCUPIED, inv(r, L, 7, A7(22, 64, S_SELF, 20, 64, ALL, 0)));
        EXPECT_ERR(HV_ERR_SLOT_OCCUPIED, inv(r, L, 7, A7(S_SELF, 64, S_SELF, 20, 64, ALL, 0)));
        EXPECT_ERR(HV_ERR_SLOT_OCCUPIED, inv(c, L, 7, A7(1, 3, S_SELF, 20, 64, ALL, 0)));
        EXPECT_ERR(HV_ERR_SLOT_OCCUPIED, inv(r, L, 7, A7(20, 64, S_SELF, 20, 64, ALL, 0)));
        /* source CNode */
        EXPECT_ERR(HV_ERR_INVALID_CAP, inv(r, L, 7, A7(30, 64, 0, 20, 64, ALL, 0)));
        EXPECT_ERR(HV_ERR_INVALID_CAP, inv(r, L, 7, A7(30, 64, (1ull << 9) | S_SELF, 20, 64, ALL, 0)));
        EXPECT_ERR(HV_ERR_EMPTY_SLOT, inv(r, L, 7, A7(30, 64, 200, 20, 64, ALL, 0)));
        EXPECT_ERR(HV_ERR_WRONG_TYPE, inv(r, L, 7, A7(30, 64, 20, 20, 64, ALL, 0)));
        EXPECT_ERR(HV_ERR_WRONG_TYPE, inv(r, L, 7, A7(30, 64, S_UT, 20, 64, ALL, 0)));
        /* source slot */
        EXPECT_ERR(HV_ERR_RANGE, inv(r, L, 7, A7(30, 64, S_SELF, 20, 0, ALL, 0)));
        EXPECT_ERR(HV_ERR_RANGE, inv(r, L, 7, A7(30, 64, S_SELF, 20, 65, ALL, 0)));
        EXPECT_ERR(HV_ERR_RANGE, inv(r, L, 7, A7(30, 64, S_SELF, 20, (1ull << 33) | 64, ALL, 0)));
        EXPECT_ERR(HV_ERR_INVALID_CAP, inv(r, L, 7, A7(30, 64, S_SELF, 20, 63, ALL, 0)));
        EXPECT_ERR(HV_ERR_INVALID_CAP, inv(r, L, 7, A7(30, 64, S_SELF, 0, 64, ALL, 0)));
        EXPECT_ERR(HV_ERR_INVALID_CAP, inv(r, L, 7, A7(30, 64, S_SELF, (1ull << 8) | 20, 64, ALL, 0)));
        EXPECT_ERR(HV_ERR_INVALID_CAP, inv(r, L, 7, A7(30, 64, 23, 1ull << 61, 64, ALL, 0)));
        EXPECT_ERR(HV_ERR_EMPTY_SLOT, inv(r, L, 7, A7(30, 64, S_SELF, 201, 64, ALL, 0)));
        EXPECT_ERR(HV_ERR_EMPTY_SLOT, inv(r, L, 7, A7(30, 64, S_SELF, 30, 64, ALL, 0)));
        EXPECT_ERR(HV_ERR_EMPTY_SLOT, inv(c, L, 7, A7(2, 3, 23, 2, 3, ALL, 0)));
    }
    /* copy / mint only */
    for (unsigned k = 0; k < 2; k++) {
        const uint64_t L = derive[k];
        EXPECT_ERR(HV_ERR_ILLEGAL_OPERATION, inv(r, L, 7, A7(30, 64, S_SELF, S_UT, 64, ALL, 0)));
        EXPECT_ERR(HV_ERR_ILLEGAL_OPERATION, inv(r, L, 7, A7(30, 64, S_SELF, S_DEV, 64, ALL, 0)));
        EXPECT_ERR(HV_ERR_ILLEGAL_OPERATION, inv(r, L, 7, A7(30, 64, S_SELF, 25, 64, ALL, 0)));
        EXPECT_ERR(HV_ERR_ILLEGAL_OPERATION, inv(r, L, 7, A7(30, 64, S_SELF, 26, 64, ALL, 0)));
        EXPECT_ERR(HV_ERR_INVALID_ARGUMENT, inv(r, L, 7, A7(30, 64, S_SELF, 20, 64, 0x10, 0)));
        EXPECT_ERR(HV_ERR_INVALID_ARGUMENT, inv(r, L, 7, A7(30, 64, S_SELF, 20, 64, 0xff, 0)));
        EXPECT_ERR(HV_ERR_INVALID_ARGUMENT, inv(r, L, 7, A7(30, 64, S_SELF, 22, 64, 1ull << 63, 0)));
    }
    /* mint: badges and guards */
    EXPECT_ERR(HV_ERR_ILLEGAL_OPERATION, inv(r, M, 7, A7(30, 64, S_SELF, 21, 64, ALL, 5)));
    EXPECT_ERR(HV_ERR_ILLEGAL_OPERATION, inv(r, M, 7, A7(30, 64, S_SELF, 21, 64, ALL, 9)));
    EXPECT_ERR(HV_ERR_INVALID_ARGUMENT, inv(r, M, 7, A7(30, 64, S_SELF, 20, 64, ALL, BADGE_LIMIT)));
    EXPECT_ERR(HV_ERR_INVALID_ARGUMENT, inv(r, M, 7, A7(30, 64, S_SELF, 24, 64, ALL, 1ull << 63)));
    EXPECT_ERR(HV_ERR_INVALID_ARGUMENT, inv(r, M, 7, A7(30, 64, S_SELF, 22, 64, ALL, 1)));
    EXPECT_ERR(HV_ERR_INVALID_ARGUMENT, inv(r, M, 7, A7(30, 64, S_SELF, 23, 64, ALL, 62)));       /* 62 + 3 > 64 */
    EXPECT_ERR(HV_ERR_INVALID_ARGUMENT, inv(r, M, 7, A7(30, 64, S_SELF, 23, 64, ALL, (4ull << 6) | 2)));
    EXPECT_ERR(HV_ERR_INVALID_ARGUMENT, inv(r, M, 7, A7(30, 64, S_SELF, 23, 64, ALL, (1ull << 63) | 3)));
    EXPECT_ERR(HV_ERR_INVALID_ARGUMENT, inv(r, M, 7, A7(30, 64, S_SELF, S_SELF, 64, ALL, 57)));   /* 57 + 8 > 64 */
    /* delete / revoke */
    static const uint64_t kill[] = { HV_INV_CNODE_DELETE, HV_INV_CNODE_REVOKE };
    for (unsigned k = 0; k < 2; k++) {
        const uint64_t L = kill[k];
        EXPECT_ERR(HV_ERR_RANGE, inv(r, L, 2, A7(20, 0, 0, 0, 0, 0, 0)));
        EXPECT_ERR(HV_ERR_RANGE, inv(r, L, 2, A7(20, 65, 0, 0, 0, 0, 0)));
        EXPECT_ERR(HV_ERR_RANGE, inv(r, L, 2, A7(20, (1ull << 32) | 64, 0, 0, 0, 0, 0)));
        EXPECT_ERR(HV_ERR_INVALID_CAP, inv(r, L, 2, A7(20, 63, 0, 0, 0, 0, 0)));
        EXPECT_ERR(HV_ERR_INVALID_CAP, inv(r, L, 2, A7(0, 64, 0, 0, 0, 0, 0)));
        EXPECT_ERR(HV_ERR_INVALID_CAP, inv(r, L, 2, A7((1ull << 60) | 20, 64, 0, 0, 0, 0, 0)));
        EXPECT_ERR(HV_ERR_INVALID_CAP, inv(c, L, 2, A7(0, 3, 0, 0, 0, 0, 0)));
        EXPECT_ERR(HV_ERR_INVALID_CAP, inv(c, L, 2, A7(1ull << 61, 64, 0, 0, 0, 0, 0)));
        EXPECT_ERR(HV_ERR_INVALID_CAP, inv(c, L, 2, A7(1, 64, 0, 0, 0, 0, 0)));
        EXPECT_ERR(HV_ERR_INVALID_CAP, inv(c, L, 2, A7(1, 2, 0, 0, 0, 0, 0)));
    }
    check_cspace();
}

/* ================================================================ randomized */

static uint64_t g_rng;

static unsigned rnd_below(unsigned n)
{
    return xorshift64s_below(&g_rng, n);
}

#define RND_RADIX 5u
#define RND_N (1u << RND_RADIX)
enum { R_A = 5, R_B = 6, R_C = 28 };
static const unsigned reservoir[] = { R_A, R_B, 30, 31, 32 };

static struct cte *ab(unsigned which, unsigned idx)
{
    return cn_slot(rs(which == 0 ? R_A : R_B), idx);
}

/* A random A/B slot, preferring full (want_full) or empty ones with probability 7/8. */
static void pick(bool want_full, unsigned *which, unsigned *idx)
{
    bool prefer = rnd_below(8) != 0;
    unsigned cand[2 * RND_N] = { 0 };
    unsigned n = 0;
    for (unsigned w = 0; w < 2; w++) {
        for (unsigned i = 1; i < RND_N; i++) {
            if (cte_is_empty(ab(w, i)) != want_full)
                cand[n++] = w * RND_N + i;
        }
    }
    unsigned v = (prefer && n > 0) ? cand[rnd_below(n)] : rnd_below(2) * RND_N + 1 + rnd_below(RND_N - 1);
    *which = v / RND_N;
    *idx = v % RND_N;
}

static unsigned ab_live(void)
{
    unsigned n = 0;
    for (unsigned w = 0; w < 2; w++) {
        for (unsigned i = 1; i < RND_N; i++)
            n += cte_is_empty(ab(w, i)) ? 0u : 1u;
    }
    return n;
}

/* Collects the strict descendants of `s` (pre-order, no recursion). */
static unsigned descendants(const struct cte *s, const struct cte **out, unsigned max)
{
    unsigned n = 0;
    const struct cte *c = s->first_child;
    while (c != NULL) {
        assert_true(n < max);
        out[n++] = c;
        if (c->first_child != NULL) {
            c = c->first_child;
            continue;
        }
        while (c != s && c != NULL && c->next_sibling == NULL)
            c = c->parent;
        c = (c == s || c == NULL) ? NULL : c->next_sibling;
    }
    return n;
}

static bool listed(const struct cte *s, const struct cte *const *list, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (list[i] == s)
            return true;
    }
    return false;
}

static void replenish(void)
{
    unsigned w = rnd_below(2);
    if (rnd_below(2) == 0 && g_ntracked + 3 < MAX_TRACKED) {
        /* fresh objects from the untyped into a run of empty slots */
        unsigned count = 1 + rnd_below(3);
        for (unsigned i = 1; i + count <= RND_N; i++) {
            bool free_run = true;
            for (unsigned k = 0; k < count; k++)
                free_run = free_run && cte_is_empty(ab(w, i + k));
            if (!free_run)
                continue;
            uint8_t type = rnd_below(2) == 0 ? HV_OBJ_ENDPOINT : HV_OBJ_NOTIFICATION;
            assert_int_equal(retype(S_UT, type, 0, w == 0 ? R_A : R_B, i, RND_RADIX, count), HV_OK);
            for (unsigned k = 0; k < count; k++) {
                track(ab(w, i + k));
                assert_fresh(ab(w, i + k));
            }
            return;
        }
    }
    unsigned which = 0;
    unsigned idx = 0;
    pick(false, &which, &idx);
    if (!cte_is_empty(ab(which, idx)))
        return;
    unsigned src = reservoir[rnd_below(sizeof(reservoir) / sizeof(reservoir[0]))];
    assert_int_equal(op_copy(which == 0 ? R_A : R_B, idx, RND_RADIX, S_SELF, src, DEPTH, HV_RIGHTS_ALL), HV_OK);
}

enum rnd_op { OP_COPY, OP_MINT, OP_MOVE, OP_DELETE, OP_REVOKE, OP_KINDS };

struct rnd_stats {
    unsigned ok[OP_KINDS];
    unsigned err[OP_KINDS];
    unsigned revoked;
    unsigned fin;
};

static void rnd_step(struct rnd_stats *st)
{
    unsigned p = rnd_below(100);
    enum rnd_op op = p < 30 ? OP_COPY : p < 50 ? OP_MINT : p < 65 ? OP_MOVE : p < 88 ? OP_DELETE : OP_REVOKE;
    unsigned sw = 0;
    unsigned si = 0;
    unsigned dw = 0;
    unsigned di = 0;
    pick(true, &sw, &si);
    pick(false, &dw, &di);
    static const uint64_t badges[] = { 0, 0, 1, 2, 3, 0x1234 };
    uint64_t rights = rnd_below(16);
    uint64_t badge = badges[rnd_below(sizeof(badges) / sizeof(badges[0]))];
    struct cte *src = ab(sw, si);
    struct cte *dst = ab(dw, di);
    uint64_t scn = sw == 0 ? R_A : R_B;
    uint64_t dcn = dw == 0 ? R_A : R_B;
    if (op == OP_MINT && src->cap.type == HV_OBJ_CNODE)
        badge &= 3;     /* a guard the CNode can carry */

    /* The expected outcome, from the semantics (dest checked before source, as seL4). */
    enum hv_error want = HV_OK;
    if (op == OP_COPY || op == OP_MINT || op == OP_MOVE) {
        if (!cte_is_empty(dst))
            want = HV_ERR_SLOT_OCCUPIED;
        else if (cte_is_empty(src))
            want = HV_ERR_EMPTY_SLOT;
        else if (op == OP_MINT && (src->cap.type == HV_OBJ_ENDPOINT || src->cap.type == HV_OBJ_NOTIFICATION) &&
                 badge != 0 && (src->cap.flags & CAP_FLAG_BADGED))
            want = HV_ERR_ILLEGAL_OPERATION;
        else if (op == OP_MINT && src->cap.type == HV_OBJ_FRAME && badge != 0)
            want = HV_ERR_INVALID_ARGUMENT;
    }

    /* Before: every cap of A, B and R; the subtree / children concerned. */
    static struct cap before_ab[2][RND_N];
    static struct cap before_r[NSLOTS(ROOT_RADIX)];
    static const struct cte *sub[1024];
    for (unsigned w = 0; w < 2; w++) {
        for (unsigned i = 0; i < RND_N; i++)
            before_ab[w][i] = ab(w, i)->cap;
    }
    for (unsigned i = 0; i < NSLOTS(ROOT_RADIX); i++)
        before_r[i] = rs(i)->cap;
    struct cte *target = op == OP_DELETE || op == OP_REVOKE ? src : NULL;
    const struct cte *src_parent = src->parent;
    unsigned nsub = 0;
    if (op == OP_REVOKE)
        nsub = descendants(src, sub, 1024);
    else if (op == OP_DELETE || op == OP_MOVE) {
        for (const struct cte *c = src->first_child; c != NULL; c = c->next_sibling)
            sub[nsub++] = c;
    }
    struct cap nc = src->cap;
    nc.rights &= (uint8_t)rights;
    if (nc.type == HV_OBJ_FRAME) {
        nc.flags &= ~CAP_FLAG_MAPPED;
        nc.data = 0;
        nc.data2 = 0;
    }
    if (op == OP_MINT && (nc.type == HV_OBJ_ENDPOINT || nc.type == HV_OBJ_NOTIFICATION) && badge != 0) {
        nc.data = badge;
        nc.flags |= CAP_FLAG_BADGED;
    }
    if (op == OP_MINT && nc.type == HV_OBJ_CNODE) {
        nc.guard_bits = (uint8_t)(badge & 63);
        nc.data = badge >> 6;
    }
    unsigned fin_before = g_fin_total;

    if (want != HV_OK)
        snap_take(UT_PA + rs(S_UT)->cap.data);
    enum hv_error got = HV_ERR_COUNT;
    switch (op) {
    case OP_COPY:
        got = op_copy(dcn, di, RND_RADIX, scn, si, RND_RADIX, rights);
        break;
    case OP_MINT:
        got = op_mint(dcn, di, RND_RADIX, scn, si, RND_RADIX, rights, badge);
        break;
    case OP_MOVE:
        got = op_move(dcn, di, RND_RADIX, scn, si, RND_RADIX);
        break;
    case OP_DELETE:
        got = op_delete(scn, si, RND_RADIX);
        break;
    default:
        got = op_revoke(scn, si, RND_RADIX);
        break;
    }
    if (got != want)
        fail_msg("op %d src %c%u dst %c%u rights %" PRIu64 " badge %" PRIu64 ": got %d, expected %d", (int)op,
                 sw ? 'B' : 'A', si, dw ? 'B' : 'A', di, rights, badge, (int)got, (int)want);
    if (want != HV_OK) {
        snap_check("failing random operation");
        st->err[op]++;
        return;
    }
    st->ok[op]++;
    st->fin += g_fin_total - fin_before;

    /* Effects on the slots the operation names. */
    switch (op) {
    case OP_COPY:
    case OP_MINT:
        assert_memory_equal(&dst->cap, &nc, sizeof(nc));
        assert_ptr_equal(dst->parent, src);
        break;
    case OP_MOVE:
        if (src != dst) {
            assert_memory_equal(&dst->cap, &before_ab[sw][si], sizeof(struct cap));
            assert_ptr_equal(dst->parent, src_parent);
            assert_true(cte_is_empty(src) && cte_unlinked(src));
            for (unsigned i = 0; i < nsub; i++)
                assert_ptr_equal(sub[i]->parent, dst);
        }
        break;
    case OP_DELETE:
        assert_true(cte_is_empty(src) && cte_unlinked(src));
        for (unsigned i = 0; i < nsub; i++)
            assert_true(cte_is_empty(sub[i]) || sub[i]->parent == src_parent);
        break;
    default:
        assert_memory_equal(&src->cap, &before_ab[sw][si], sizeof(struct cap));
        assert_null(src->first_child);
        for (unsigned i = 0; i < nsub; i++)
            assert_true(cte_is_empty(sub[i]));
        st->revoked += nsub;
        break;
    }
    /* ... and nothing else in A, B or the root CNode changed. */
    for (unsigned w = 0; w < 2; w++) {
        for (unsigned i = 1; i < RND_N; i++) {
            const struct cte *s = ab(w, i);
            if (s == dst || s == target || (op == OP_MOVE && s == src) || (op == OP_REVOKE && listed(s, sub, nsub)))
                continue;
            if (memcmp(&s->cap, &before_ab[w][i], sizeof(struct cap)) != 0)
                fail_msg("op %d on %c%u/%c%u changed the unrelated slot %c%u", (int)op, sw ? 'B' : 'A', si,
                         dw ? 'B' : 'A', di, w ? 'B' : 'A', i);
        }
    }
    for (unsigned i = 1; i < NSLOTS(ROOT_RADIX); i++)
        assert_memory_equal(&rs(i)->cap, &before_r[i], sizeof(struct cap));
}

static void test_random_ops(void **state)
{
    (void)state;
    g_rng = 0x9e3779b97f4a7c15ull;
    /* A and B: the two CNodes the operations run on. */
    assert_int_equal(rretype(S_UT, HV_OBJ_CNODE, RND_RADIX, R_A, 2), HV_OK);
    /* Objects whose every cap lives in A/B (they can die), and C, a CNode holding a cap. */
    assert_int_equal(rretype(S_UT, HV_OBJ_ENDPOINT, 0, 20, 4), HV_OK);
    assert_int_equal(rretype(S_UT, HV_OBJ_NOTIFICATION, 0, 24, 2), HV_OK);
    assert_int_equal(rretype(S_UT, HV_OBJ_FRAME, 0, 26, 2), HV_OK);
    assert_int_equal(rretype(S_UT, HV_OBJ_CNODE, 2, R_C, 1), HV_OK);
    know_cnode(rs(R_C));
    assert_int_equal(op_copy(R_C, 1, 2, S_SELF, 20, DEPTH, HV_RIGHTS_ALL), HV_OK);
    for (unsigned i = 20; i < 26; i++)
        track(rs(i));
    for (unsigned i = 0; i < 9; i++)
        assert_int_equal(op_move(R_A, 1 + i, RND_RADIX, S_SELF, 20 + i, DEPTH), HV_OK);
    assert_int_equal(op_copy(R_B, 1, RND_RADIX, S_SELF, R_A, DEPTH, HV_RIGHTS_ALL), HV_OK);
    assert_int_equal(op_copy(R_A, 10, RND_RADIX, S_SELF, R_B, DEPTH, HV_RIGHTS_ALL), HV_OK);
    /* Reservoir objects with an original outside A/B (they never die). */
    assert_int_equal(rretype(S_UT, HV_OBJ_ENDPOINT, 0, 30, 1), HV_OK);
    assert_int_equal(rretype(S_UT, HV_OBJ_NOTIFICATION, 0, 31, 1), HV_OK);
    assert_int_equal(rretype(S_UT, HV_OBJ_FRAME, 0, 32, 1), HV_OK);
    check_cspace();

    struct rnd_stats st;
    memset(&st, 0, sizeof(st));
    enum { STEPS = 6000 };
    for (unsigned step = 0; step < STEPS; step++) {
        rnd_step(&st);
        check_cspace();
        /* Every live slot hangs below the three boot roots. */
        for (unsigned w = 0; w < 2; w++) {
            for (unsigned i = 1; i < RND_N; i++) {
                const struct cte *s = ab(w, i);
                if (cte_is_empty(s))
                    continue;
                while (s->parent != NULL)
                    s = s->parent;
                assert_true(s == &g_root || s == rs(S_UT));
            }
        }
        if (ab_live() < 10 || rnd_below(16) == 0)
            replenish();
    }
    print_message("random: ok copy %u mint %u move %u delete %u revoke %u (%u caps revoked), "
                  "errors copy %u mint %u move %u, %u finalizations, %u objects\n",
                  st.ok[OP_COPY], st.ok[OP_MINT], st.ok[OP_MOVE], st.ok[OP_DELETE], st.ok[OP_REVOKE], st.revoked,
                  st.err[OP_COPY], st.err[OP_MINT], st.err[OP_MOVE], st.fin, g_ntracked);
    for (unsigned k = 0; k < OP_KINDS; k++)
        assert_true(st.ok[k] >= 100);
    assert_true(st.err[OP_COPY] >= 50 && st.err[OP_MINT] >= 50 && st.err[OP_MOVE] >= 50);
    assert_true(st.fin >= 20);
    /* Clean up through the untyped: everything goes, each object finalized once. */
    assert_int_equal(rrevoke(S_UT), HV_OK);
    assert_int_equal(check_cspace(), 4);   /* root slot, S_SELF, S_UT, S_DEV */
}

/* ================================================================ the tree primitives */

static void test_cdt_queries(void **state)
{
    (void)state;
    assert_int_equal(rretype(S_UT, HV_OBJ_ENDPOINT, 0, 20, 1), HV_OK);
    assert_int_equal(rcopy(21, 20, HV_RIGHTS_ALL), HV_OK);
    assert_int_equal(rcopy(22, 21, HV_RIGHTS_ALL), HV_OK);
    assert_int_equal(rcopy(23, 20, HV_RIGHTS_ALL), HV_OK);
    assert_true(cdt_is_descendant(rs(S_UT), rs(22)));
    assert_true(cdt_is_descendant(rs(20), rs(22)));
    assert_true(cdt_is_descendant(rs(21), rs(22)));
    assert_false(cdt_is_descendant(rs(22), rs(22)));
    assert_false(cdt_is_descendant(rs(23), rs(22)));
    assert_false(cdt_is_descendant(rs(22), rs(20)));
    assert_false(cdt_is_descendant(rs(S_DEV), rs(20)));
    assert_true(cdt_has_children(rs(20)));
    assert_false(cdt_has_children(rs(22)));
    const struct cte *leaf = cdt_leaf_descendant(rs(20));
    assert_non_null(leaf);
    assert_null(leaf->first_child);
    assert_true(cdt_is_descendant(rs(20), leaf));
    assert_null(cdt_leaf_descendant(rs(22)));
    assert_null(cdt_leaf_descendant(rs(100)));
    check_cspace();
}

int main(void)
{
    hosted_phys_base = aligned_alloc(ARENA_ALIGN, ARENA_SIZE);
    g_snap = malloc(SNAP_LEN);
    if (hosted_phys_base == NULL || g_snap == NULL) {
        fprintf(stderr, "test_cspace: out of memory\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_resolve_root, setup),
        cmocka_unit_test_setup(test_resolve_guards_two_level, setup),
        cmocka_unit_test_setup(test_retype_layout, setup),
        cmocka_unit_test_setup(test_retype_not_enough_memory, setup),
        cmocka_unit_test_setup(test_retype_slot_occupied, setup),
        cmocka_unit_test_setup(test_retype_range, setup),
        cmocka_unit_test_setup(test_retype_device, setup),
        cmocka_unit_test_setup(test_retype_reuse_after_revoke, setup),
        cmocka_unit_test_setup(test_retype_never_twice, setup),
        cmocka_unit_test_setup(test_retype_frame_sizes, setup),
        cmocka_unit_test_setup(test_retype_errors, setup),
        cmocka_unit_test_setup(test_rights_only_shrink, setup),
        cmocka_unit_test_setup(test_badge_set_once, setup),
        cmocka_unit_test_setup(test_uncopyable, setup),
        cmocka_unit_test_setup(test_frame_copy_unmapped, setup),
        cmocka_unit_test_setup(test_move_keeps_links, setup),
        cmocka_unit_test_setup(test_delete_reparents, setup),
        cmocka_unit_test_setup(test_revoke_tree, setup),
        cmocka_unit_test_setup(test_cnode_reaping, setup),
        cmocka_unit_test_setup(test_cnode_chain, setup),
        cmocka_unit_test_setup(test_finalize_once, setup),
        cmocka_unit_test_setup(test_cnode_errors, setup),
        cmocka_unit_test_setup(test_random_ops, setup),
        cmocka_unit_test_setup(test_cdt_queries, setup),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    alarm(0);
    free(g_snap);
    free(hosted_phys_base);
    return failed;
}
