/* SPDX-License-Identifier: MIT */
/* core: the vmm's calls into the core — invocations, vCPU state transfer, the reply that resumes a vCPU. */
#include <string.h>

#include "hv/errors.h"
#include "hv/hvrt.h"
#include "hv/ipc_buffer.h"
#include "hv/objects.h"
#include "hv/syscall.h"
#include "vmm.h"

static struct hv_ipc_buffer *ipc(void)
{
    return (struct hv_ipc_buffer *)(uintptr_t)hvrt_ipc_va;
}

uint64_t vmm_invoke(uint64_t cap, uint64_t label, unsigned n, const uint64_t *args, uint64_t *out)
{
    struct hv_msg m;
    uint64_t err = hvrt_invoke(cap, label, n, args, &m);
    if (out != NULL)
        memcpy(out, m.w, sizeof(m.w));
    return err;
}

uint64_t vmm_vcpu_write(uint64_t vcpu, const struct hv_vcpu_state *s)
{
    memcpy(&ipc()->msg[HV_VCPU_STATE_WORD], s, sizeof(*s));
    struct hv_msg m = { hv_tag(HV_INV_VCPU_WRITE_STATE, HV_VCPU_STATE_WORD + HV_VCPU_STATE_WORDS, 0), 0,
                        { 0, 0, 0, 0 } };
    return hv_call(vcpu, &m);
}

uint64_t vmm_vcpu_read(uint64_t vcpu, uint64_t mtd, struct hv_vcpu_state *s)
{
    uint64_t args[1] = { mtd };
    uint64_t err = vmm_invoke(vcpu, HV_INV_VCPU_READ_STATE, 1, args, NULL);
    if (err == HV_OK)
        memcpy(s, &ipc()->msg[HV_VCPU_STATE_WORD], sizeof(*s));
    return err;
}

uint64_t vmm_vcpu_vec_read(uint64_t vcpu, struct hv_vcpu_vec *s)
{
    uint64_t err = vmm_invoke(vcpu, HV_INV_VCPU_READ_VEC, 0, NULL, NULL);
    if (err == HV_OK)
        memcpy(s, &ipc()->msg[HV_VCPU_VEC_WORD], sizeof(*s));
    return err;
}

uint64_t vmm_vcpu_vec_write(uint64_t vcpu, const struct hv_vcpu_vec *s)
{
    memcpy(&ipc()->msg[HV_VCPU_VEC_WORD], s, sizeof(*s));
    struct hv_msg m = { hv_tag(HV_INV_VCPU_WRITE_VEC, HV_VCPU_VEC_WORD + HV_VCPU_VEC_WORDS, 0), 0, { 0, 0, 0, 0 } };
    return hv_call(vcpu, &m);
}

void vmm_resume(struct vmm *v, struct vmm_vcpu *c)
{
    vmm_console_flush();
    struct vmm_trace *t = &c->trace[c->exits % VMM_TRACE];
    t->intr_state = c->st.intr_state;
    t->inject = (c->st.mtd & HV_MTD_INJECT) != 0 ? c->st.inject_event : 0;
    memcpy(&ipc()->msg[HV_VCPU_STATE_WORD], &c->st, sizeof(c->st));
    struct hv_msg m = { hv_tag(HV_VCPU_REPLY_RESUME, HV_VCPU_STATE_WORD + HV_VCPU_STATE_WORDS, 0), 0,
                        { 0, 0, 0, 0 } };
    uint64_t err = hv_send(c->reply, &m);
    if (err != HV_OK)
        vmm_log(v, "vcpu %u: resume failed (error %lu)", c->index, (unsigned long)err);
    c->held = false;
    c->halted = false;
    v->free_replies[v->nfree++] = c->reply;
}

uint64_t vmm_rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}
