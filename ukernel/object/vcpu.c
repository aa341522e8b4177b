/* SPDX-License-Identifier: MIT */
/* vcpu: VCPU object creation, binding to a thread and a GuestMemory, state access, recall, teardown. */
#include "vcpu.h"

#include <stddef.h>

#include "../arch/x86_64/cpu_features.h"
#include "../include/hv/ipc_buffer.h"
#include "../include/hv/objects.h"
#include "../kernel/assert.h"
#include "../kernel/fpu.h"
#include "../kernel/kmem.h"
#include "../kernel/sched.h"
#include "../kernel/vcpu_shadow.h"
#include "../lib/kstring.h"
#include "cnode.h"
#include "guest_memory.h"
#include "object.h"
#include "tcb.h"

#define PAGE 4096ull
#define DEFAULT_TRANSFER (HV_MTD_GPR | HV_MTD_RSP_RIP_RFLAGS)
/* EVENTINJ bits the ABI lets a handler set: vector, type, error-valid, valid. */
#define INJECT_ALLOWED (HV_INJECT_VECTOR_MASK | (7u << HV_INJECT_TYPE_SHIFT) | \
                        HV_INJECT_ERROR_VALID | HV_INJECT_VALID)
#define INTR_STATE_ALLOWED (HV_INTR_SHADOW | HV_INTR_REQUEST_WINDOW | HV_INTR_REQUEST_NMI_WINDOW)

_Static_assert(sizeof(struct vcpu) <= PAGE, "the object fits its first page");
_Static_assert(HV_VCPU_STATE_WORD + HV_VCPU_STATE_WORDS <= HV_MSG_MAX_WORDS, "state fits a message");

static struct vcpu *tags[VCPU_MAX];    /* live vCPUs by tag (ASID / VPID); 0 unused */

/* Tags the CPU can tell apart: SVM has a fixed number of ASIDs (16 on QEMU), 0 is the host's. */
static unsigned tag_limit(void)
{
    const struct cpu_features *f = cpu_features();
    if (vcpu_arch_backend() == VCPU_BACKEND_SVM && f->svm.asids < VCPU_MAX)
        return f->svm.asids;
    return VCPU_MAX;
}

static unsigned free_tag(void)
{
    unsigned limit = tag_limit();
    for (unsigned i = 1; i < limit; i++) {
        if (tags[i] == NULL)
            return i;
    }
    return 0;
}

enum hv_error vcpu_check_retype(unsigned size_bits)
{
    if (size_bits < HV_VCPU_MIN_BITS || size_bits > HV_VCPU_MAX_BITS)
        return HV_ERR_RANGE;
    if (vcpu_arch_backend() == VCPU_BACKEND_NONE)
        return HV_ERR_NOT_SUPPORTED;
    if (PAGE + vcpu_arch_pages() > (1ull << size_bits))
        return HV_ERR_RANGE;
    if (free_tag() == 0)
        return HV_ERR_NOT_ENOUGH_MEMORY;
    return HV_OK;
}

struct cap vcpu_create(void *mem, uint64_t pa, unsigned size_bits)
{
    struct vcpu *v = mem;
    unsigned tag = free_tag();
    kassert(tag != 0);      /* decode checked */
    tags[tag] = v;
    v->hdr.type = HV_OBJ_VCPU;
    v->tag = tag;
    v->mode = VCPU_MODE_NONE;
    for (unsigned r = 0; r < HV_EXIT_REASON_COUNT; r++)
        v->transfer[r] = DEFAULT_TRANSFER;
    uint64_t arch_bytes = vcpu_arch_pages();
    vcpu_arch_setup(&v->arch, pa + PAGE, tag);
    v->shadow_pool_pa = pa + PAGE + arch_bytes;
    v->shadow_pool_pages = ((1ull << size_bits) - PAGE - arch_bytes) / PAGE;

    struct cap c;
    memset(&c, 0, sizeof(c));
    c.type = HV_OBJ_VCPU;
    c.rights = HV_RIGHTS_ALL;
    c.size_bits = (uint8_t)size_bits;
    c.object = (uint64_t)(uintptr_t)mem;
    return c;
}

/* The vCPU's guest is not being run: unbound, or its thread stopped. */
static bool stopped(const struct vcpu *v)
{
    return v->tcb == NULL || v->tcb->state != THREAD_RUNNABLE;
}

/* Makes sure no other CPU is still inside the guest (a stop from another CPU lags one entry). */
static void quiesce(struct vcpu *v)
{
    if (v->tcb != NULL)
        sched_evict_remote(v->tcb);
    vcpu_arch_release(&v->arch);
}

static void unbind(struct vcpu *v)
{
    struct tcb *t = v->tcb;
    if (t == NULL)
        return;
    quiesce(v);
    t->vcpu = NULL;
    v->tcb = NULL;
}

void vcpu_unbind_tcb(struct tcb *t)
{
    if (t->vcpu != NULL)
        unbind(t->vcpu);
}

void vcpu_finalize(struct vcpu *v)
{
    struct tcb *t = v->tcb;
    if (t != NULL) {
        sched_evict_remote(t);
        tcb_cancel_ipc(t);      /* a thread without its guest must not run on as user code */
        unbind(v);
    }
    vcpu_arch_release(&v->arch);
    cap_delete(&v->gmem);
    kassert(v->mode == VCPU_MODE_NONE);
    tags[v->tag] = NULL;
}

void vcpu_guest_memory_cap_deleting(struct cap *gm_cap)
{
    struct vcpu *v = (struct vcpu *)(uintptr_t)gm_cap->data;
    if (v == NULL)
        return;     /* an ordinary GuestMemory cap */
    quiesce(v);
    guest_memory_remove_vcpu(guest_memory_of(gm_cap), v);
    if (v->mode == HV_VCPU_MODE_SHADOW)
        vcpu_shadow_stop(v);    /* the VMCB/VMCS gets the guest-visible CRs back */
    vcpu_arch_set_nested_root(&v->arch, 0);
    v->mode = VCPU_MODE_NONE;
    v->tlb_clean_cpus = 0;
    gm_cap->data = 0;
}

void vcpu_guest_mapping_changed(struct vcpu *v)
{
    v->tlb_clean_cpus = 0;
    if (v->mode == HV_VCPU_MODE_SHADOW)
        vcpu_shadow_mapping_changed(v);     /* no reverse map: every spte goes */
    if (v->tcb != NULL)
        sched_evict_remote(v->tcb);     /* a CPU in the guest leaves it, and flushes on re-entry */
}

void vcpu_state_read(struct vcpu *v, uint64_t mtd, struct hv_vcpu_state *s)
{
    vcpu_arch_state_read(&v->arch, mtd, s);
    if (v->mode == HV_VCPU_MODE_SHADOW)
        vcpu_shadow_state_read(v, s);
}

static void state_write(struct vcpu *v, const struct hv_vcpu_state *s)
{
    vcpu_arch_state_write(&v->arch, s);
    if (v->mode == HV_VCPU_MODE_SHADOW)
        vcpu_shadow_state_written(v, s);
}

/* --- decode helpers (change nothing) --- */

static bool inject_ok(const struct hv_vcpu_state *s)
{
    if (!(s->mtd & HV_MTD_INJECT))
        return true;
    if (s->inject_event & ~(uint64_t)INJECT_ALLOWED)
        return false;
    unsigned type = (unsigned)(s->inject_event >> HV_INJECT_TYPE_SHIFT) & 7u;
    if ((s->inject_event & HV_INJECT_VALID) && type != HV_INJECT_TYPE_EXTINT &&
        type != HV_INJECT_TYPE_NMI && type != HV_INJECT_TYPE_EXCEPTION &&
        type != HV_INJECT_TYPE_SOFT_INT)
        return false;
    return (s->intr_state & ~(uint64_t)INTR_STATE_ALLOWED) == 0 && s->inject_error <= 0xffffffffull;
}

static enum hv_error decode_state(const uint64_t *args, unsigned nargs, struct hv_vcpu_state *s)
{
    if (nargs < HV_VCPU_STATE_WORD + HV_VCPU_STATE_WORDS)
        return HV_ERR_TRUNCATED;
    memcpy(s, &args[HV_VCPU_STATE_WORD], sizeof(*s));
    if (s->mtd & ~(uint64_t)HV_MTD_ALL)
        return HV_ERR_INVALID_ARGUMENT;
    return inject_ok(s) ? HV_OK : HV_ERR_INVALID_ARGUMENT;
}

static enum hv_error decode_bind(const struct cap *root, const struct vcpu *v, uint64_t cptr,
                                 struct tcb **out)
{
    *out = NULL;
    if (cptr == 0)
        return stopped(v) ? HV_OK : HV_ERR_BUSY;
    struct cte *slot;
    enum hv_error err = cnode_lookup_cap(root, cptr, &slot);
    if (err != HV_OK)
        return err;
    if (slot->cap.type != HV_OBJ_TCB)
        return HV_ERR_WRONG_TYPE;
    if (!cap_has_rights(&slot->cap, HV_RIGHT_WRITE))
        return HV_ERR_INSUFFICIENT_RIGHTS;
    struct tcb *t = tcb_of(&slot->cap);
    if (v->tcb != NULL || t->vcpu != NULL)
        return HV_ERR_BUSY;     /* unbind first: one thread per vCPU, one vCPU per thread */
    if (t->state != THREAD_INACTIVE)
        return HV_ERR_BUSY;     /* bind a stopped thread */
    *out = t;
    return HV_OK;
}

static enum hv_error decode_guest_memory(const struct cap *root, const struct vcpu *v,
                                         const uint64_t *args, unsigned nargs, struct cte **out)
{
    if (nargs < 2)
        return HV_ERR_TRUNCATED;
    struct cte *slot;
    enum hv_error err = cnode_lookup_cap(root, args[0], &slot);
    if (err != HV_OK)
        return err;
    if (slot->cap.type != HV_OBJ_GUEST_MEMORY)
        return HV_ERR_WRONG_TYPE;
    if (!cap_has_rights(&slot->cap, HV_RIGHT_WRITE))
        return HV_ERR_INSUFFICIENT_RIGHTS;
    if (args[1] != HV_VCPU_MODE_NESTED && args[1] != HV_VCPU_MODE_SHADOW)
        return HV_ERR_INVALID_ARGUMENT;
    if (args[1] == HV_VCPU_MODE_NESTED && !vcpu_arch_nested_paging())
        return HV_ERR_NOT_SUPPORTED;
    /* Shadow mode (kernel/vcpu_shadow.c): per VM, also where nested paging exists. */
    if (args[1] == HV_VCPU_MODE_SHADOW && (err = vcpu_shadow_check(v)) != HV_OK)
        return err;
    if (!stopped(v))
        return HV_ERR_BUSY;
    *out = slot;
    return HV_OK;
}

static void invoke_guest_memory(struct vcpu *v, struct cte *gm_slot, uint64_t mode)
{
    quiesce(v);
    cap_delete(&v->gmem);   /* the old binding, if any (vcpu_guest_memory_cap_deleting) */
    struct cap c = gm_slot->cap;
    c.data = (uint64_t)(uintptr_t)v;
    cap_insert(&v->gmem, &c, gm_slot);
    struct guest_memory *gm = guest_memory_of(&c);
    guest_memory_add_vcpu(gm, v);
    v->mode = (uint8_t)mode;
    v->tlb_clean_cpus = 0;
    if (mode == HV_VCPU_MODE_SHADOW)
        vcpu_shadow_start(v, gm);
    else
        vcpu_arch_set_nested_root(&v->arch, gm->root_pa);
}

static enum hv_error read_state(struct vcpu *v, const uint64_t *args, unsigned nargs,
                                struct hv_msg *reply_out)
{
    if (nargs < 1)
        return HV_ERR_TRUNCATED;
    if (args[0] & ~(uint64_t)HV_MTD_ALL)
        return HV_ERR_INVALID_ARGUMENT;
    struct tcb *caller = sched_current();
    struct hv_ipc_buffer *buf = caller != NULL ? tcb_ipc_buffer(caller) : NULL;
    if (buf == NULL)
        return HV_ERR_TRUNCATED;    /* the state travels in the IPC buffer */
    if (!stopped(v))
        return HV_ERR_BUSY;
    quiesce(v);
    struct hv_vcpu_state s;
    memset(&s, 0, sizeof(s));
    vcpu_state_read(v, args[0], &s);
    memcpy(&buf->msg[HV_VCPU_STATE_WORD], &s, sizeof(s));
    reply_out->tag = hv_tag(0, HV_VCPU_STATE_WORD + HV_VCPU_STATE_WORDS, 0);
    return HV_OK;
}

/* Totals in the registers, the table in the caller's IPC buffer (needs one). */
static enum hv_error read_counters(const struct vcpu *v, struct hv_msg *reply_out)
{
    struct tcb *caller = sched_current();
    struct hv_ipc_buffer *buf = caller != NULL ? tcb_ipc_buffer(caller) : NULL;
    if (buf == NULL)
        return HV_ERR_TRUNCATED;
    const struct hv_vcpu_counters *c = &v->counters;
    uint64_t exits = 0, resolved = 0, messages = 0;
    for (unsigned r = 0; r < HV_EXIT_REASON_COUNT; r++) {
        exits += c->exits[r];
        resolved += c->resolved[r];
        messages += c->messages[r];
    }
    memcpy(&buf->msg[HV_VCPU_COUNTERS_WORD], c, sizeof(*c));
    reply_out->w[0] = exits;
    reply_out->w[1] = resolved;
    reply_out->w[2] = messages;
    reply_out->w[3] = c->exits[HV_EXIT_NONE];
    reply_out->tag = hv_tag(0, HV_VCPU_COUNTERS_WORD + HV_VCPU_COUNTERS_WORDS, 0);
    return HV_OK;
}

/*
 * The guest's SSE state is in its thread's FXSAVE area: vcpu_run fxsave64s it after each
 * exit (and restores it before an entry unless the CPU still holds it, kernel/fpu.h), so
 * with the thread stopped and quiesced the area is the guest's. Invariant: the MXCSR there never has a bit outside the mask (FXRSTOR
 * would #GP in the core), which decode_vec keeps.
 */
static uint32_t mxcsr_mask(const struct tcb *t)
{
    uint32_t m;
    memcpy(&m, &t->fpu[TCB_FXSAVE_MXCSR_MASK], sizeof(m));
    return m != 0 ? m : TCB_MXCSR_MASK_DEFAULT;    /* a thread that never ran: the SDM's default */
}

static enum hv_error read_vec(struct vcpu *v, struct hv_msg *reply_out)
{
    struct tcb *caller = sched_current();
    struct hv_ipc_buffer *buf = caller != NULL ? tcb_ipc_buffer(caller) : NULL;
    if (buf == NULL)
        return HV_ERR_TRUNCATED;    /* the state travels in the IPC buffer */
    if (v->tcb == NULL)
        return HV_ERR_ILLEGAL_OPERATION;
    if (!stopped(v))
        return HV_ERR_BUSY;
    quiesce(v);
    const struct tcb *t = v->tcb;
    struct hv_vcpu_vec s;
    uint32_t mxcsr;
    memcpy(&mxcsr, &t->fpu[TCB_FXSAVE_MXCSR], sizeof(mxcsr));
    s.mxcsr = mxcsr;
    s.mxcsr_mask = mxcsr_mask(t);
    memcpy(s.xmm, &t->fpu[TCB_FXSAVE_XMM], sizeof(s.xmm));
    memcpy(&buf->msg[HV_VCPU_VEC_WORD], &s, sizeof(s));
    reply_out->tag = hv_tag(0, HV_VCPU_VEC_WORD + HV_VCPU_VEC_WORDS, 0);
    return HV_OK;
}

static enum hv_error decode_vec(const struct vcpu *v, const uint64_t *args, unsigned nargs, struct hv_vcpu_vec *s)
{
    if (nargs < HV_VCPU_VEC_WORD + HV_VCPU_VEC_WORDS)
        return HV_ERR_TRUNCATED;
    memcpy(s, &args[HV_VCPU_VEC_WORD], sizeof(*s));
    if (v->tcb == NULL)
        return HV_ERR_ILLEGAL_OPERATION;
    if (s->mxcsr > 0xffffffffull || (s->mxcsr & ~(uint64_t)mxcsr_mask(v->tcb)) != 0)
        return HV_ERR_INVALID_ARGUMENT;
    return stopped(v) ? HV_OK : HV_ERR_BUSY;
}

static void write_vec(struct vcpu *v, const struct hv_vcpu_vec *s)
{
    quiesce(v);
    struct tcb *t = v->tcb;
    uint32_t mxcsr = (uint32_t)s->mxcsr;
    kassert((mxcsr & ~mxcsr_mask(t)) == 0);
    memcpy(&t->fpu[TCB_FXSAVE_MXCSR], &mxcsr, sizeof(mxcsr));
    memcpy(&t->fpu[TCB_FXSAVE_XMM], s->xmm, sizeof(s->xmm));
    fpu_image_changed(t);   /* the CPU it ran on may still hold the old registers */
}

/* Wakes the CPU running the vCPU's thread so it leaves the guest and sees the request. */
static void recall(struct vcpu *v)
{
    v->recall = 1;
    sched_kick_thread(v->tcb);
}

enum hv_error vcpu_invoke(const struct cap *root, struct cte *slot, uint64_t label,
                          const uint64_t *args, unsigned nargs, struct hv_msg *reply_out)
{
    struct vcpu *v = vcpu_of(&slot->cap);
    bool writes = label != HV_INV_VCPU_READ_STATE && label != HV_INV_VCPU_READ_COUNTERS &&
                  label != HV_INV_VCPU_READ_VEC;
    if (!cap_has_rights(&slot->cap, writes ? HV_RIGHT_WRITE : HV_RIGHT_READ))
        return HV_ERR_INSUFFICIENT_RIGHTS;
    enum hv_error err;
    switch (label) {
    case HV_INV_VCPU_BIND_TCB: {
        if (nargs < 1)
            return HV_ERR_TRUNCATED;
        struct tcb *t;
        if ((err = decode_bind(root, v, args[0], &t)) != HV_OK)
            return err;
        if (t == NULL) {
            unbind(v);
            return HV_OK;
        }
        sched_evict_remote(t);
        t->vcpu = v;
        v->tcb = t;
        return HV_OK;
    }
    case HV_INV_VCPU_SET_GUEST_MEMORY: {
        struct cte *gm_slot;
        if ((err = decode_guest_memory(root, v, args, nargs, &gm_slot)) != HV_OK)
            return err;
        invoke_guest_memory(v, gm_slot, args[1]);
        return HV_OK;
    }
    case HV_INV_VCPU_SET_TRANSFER:
        if (nargs < 2)
            return HV_ERR_TRUNCATED;
        if (args[0] == HV_EXIT_NONE || args[0] >= HV_EXIT_REASON_COUNT)
            return HV_ERR_RANGE;
        if (args[1] & ~(uint64_t)HV_MTD_ALL)
            return HV_ERR_INVALID_ARGUMENT;
        v->transfer[args[0]] = (uint32_t)args[1];
        return HV_OK;
    case HV_INV_VCPU_READ_STATE:
        return read_state(v, args, nargs, reply_out);
    case HV_INV_VCPU_WRITE_STATE: {
        struct hv_vcpu_state s;
        if ((err = decode_state(args, nargs, &s)) != HV_OK)
            return err;
        if (!stopped(v))
            return HV_ERR_BUSY;
        quiesce(v);
        state_write(v, &s);
        return HV_OK;
    }
    case HV_INV_VCPU_SET_EXCEPTION_INTERCEPTS:
        if (nargs < 1)
            return HV_ERR_TRUNCATED;
        if (args[0] > 0xffffffffull)
            return HV_ERR_INVALID_ARGUMENT;
        if (!stopped(v))
            return HV_ERR_BUSY;
        quiesce(v);
        v->exception_intercepts = (uint32_t)args[0];
        vcpu_arch_set_exception_intercepts(
            &v->arch, v->mode == HV_VCPU_MODE_SHADOW ?
                          vcpu_shadow_exception_intercepts(v, v->exception_intercepts) :
                          v->exception_intercepts);
        return HV_OK;
    case HV_INV_VCPU_RECALL:
        if (v->tcb == NULL)
            return HV_ERR_ILLEGAL_OPERATION;    /* nothing runs it: nothing to recall */
        recall(v);
        return HV_OK;
    case HV_INV_VCPU_READ_COUNTERS:
        return read_counters(v, reply_out);
    case HV_INV_VCPU_READ_VEC:
        return read_vec(v, reply_out);
    case HV_INV_VCPU_WRITE_VEC: {
        struct hv_vcpu_vec s;
        if ((err = decode_vec(v, args, nargs, &s)) != HV_OK)
            return err;
        write_vec(v, &s);
        return HV_OK;
    }
    default:
        return HV_ERR_UNKNOWN_INVOCATION;
    }
}

unsigned vcpu_exit_state_words(const struct tcb *t, uint64_t *words)
{
    const struct vcpu *v = t->vcpu;
    if (v == NULL)
        return 0;
    memcpy(words, &v->exit_state, sizeof(v->exit_state));
    return HV_VCPU_STATE_WORDS;
}

void vcpu_exit_reply_state(struct tcb *t, const uint64_t *words)
{
    struct vcpu *v = t->vcpu;
    if (v == NULL)
        return;
    struct hv_vcpu_state s;
    memcpy(&s, words, sizeof(s));
    s.mtd &= HV_MTD_ALL;
    if (!inject_ok(&s))
        s.mtd &= ~(uint64_t)HV_MTD_INJECT;     /* a malformed event is dropped, not half-applied */
    state_write(v, &s);
}
