/* SPDX-License-Identifier: MIT */
/* hvu_vm: GuestMemory, VCPU and vCPU-thread setup for the test vmm and the VM-exit benchmark. */
#include "hvu.h"
#include "hvu_vm.h"

#include "lib/kstring.h"

#define PAGE 4096ull
#define VM_REGION_BASE 0x0000500000000000ull
#define VM_REGION_SIZE 0x0000000100000000ull
#define REAL_MODE_CODE_ATTR 0x9bu
#define CODE32_ATTR 0xc9bu              /* present, code, 32-bit, 4 KiB granular */
#define DATA32_ATTR 0xc93u
#define TSS_ATTR 0x8bu
#define LDT_ATTR 0x82u
#define CR0_PE_ET 0x11u

static uint64_t next_vm_va = VM_REGION_BASE;

uint64_t hvu_vcpu_read(uint64_t vcpu, uint64_t mtd, struct hv_vcpu_state *s)
{
    uint64_t args[1] = { mtd };
    uint64_t err = hvu_invoke(vcpu, HV_INV_VCPU_READ_STATE, 1, args, NULL);
    if (err == HV_OK)
        memcpy(s, &hvu_ipc()->msg[HV_VCPU_STATE_WORD], sizeof(*s));
    return err;
}

uint64_t hvu_vcpu_counters(uint64_t vcpu, struct hv_vcpu_counters *c, uint64_t *totals)
{
    struct hv_msg out;
    uint64_t err = hvu_invoke(vcpu, HV_INV_VCPU_READ_COUNTERS, 0, NULL, &out);
    if (err != HV_OK)
        return err;
    memcpy(c, &hvu_ipc()->msg[HV_VCPU_COUNTERS_WORD], sizeof(*c));
    if (totals != NULL) {
        for (unsigned i = 0; i < 4; i++)
            totals[i] = out.w[i];
    }
    return HV_OK;
}

uint64_t hvu_vcpu_write(uint64_t vcpu, const struct hv_vcpu_state *s)
{
    uint64_t args[HV_VCPU_STATE_WORD + HV_VCPU_STATE_WORDS];
    memset(args, 0, sizeof(args));
    memcpy(&args[HV_VCPU_STATE_WORD], s, sizeof(*s));
    return hvu_invoke(vcpu, HV_INV_VCPU_WRITE_STATE, HV_VCPU_STATE_WORD + HV_VCPU_STATE_WORDS, args,
                      NULL);
}

uint64_t hvu_vcpu_vec_read(uint64_t vcpu, struct hv_vcpu_vec *s)
{
    uint64_t err = hvu_invoke(vcpu, HV_INV_VCPU_READ_VEC, 0, NULL, NULL);
    if (err == HV_OK)
        memcpy(s, &hvu_ipc()->msg[HV_VCPU_VEC_WORD], sizeof(*s));
    return err;
}

uint64_t hvu_vcpu_vec_write(uint64_t vcpu, const struct hv_vcpu_vec *s)
{
    uint64_t args[HV_VCPU_VEC_WORD + HV_VCPU_VEC_WORDS];
    memset(args, 0, sizeof(args));
    memcpy(&args[HV_VCPU_VEC_WORD], s, sizeof(*s));
    return hvu_invoke(vcpu, HV_INV_VCPU_WRITE_VEC, HV_VCPU_VEC_WORD + HV_VCPU_VEC_WORDS, args, NULL);
}

struct hv_vcpu_state *hvu_exit_state(void)
{
    return (struct hv_vcpu_state *)(void *)&hvu_ipc()->msg[HV_VCPU_STATE_WORD];
}

struct hv_msg hvu_resume_msg(void)
{
    struct hv_msg m = { hv_tag(HV_VCPU_REPLY_RESUME, HV_VCPU_STATE_WORD + HV_VCPU_STATE_WORDS, 0), 0,
                        { 0, 0, 0, 0 } };
    return m;
}

uint64_t hvu_vcpu_create(uint64_t gm, uint64_t mode, unsigned vcpu_bits, uint64_t fault_ep,
                         unsigned priority, uint64_t *vcpu_out, uint64_t *tcb_out)
{
    uint64_t err;
    uint64_t vcpu = hvu_retype(HV_OBJ_VCPU, vcpu_bits, &err);
    if (vcpu == 0)
        return err;
    uint64_t gm_args[2] = { gm, mode };
    if ((err = hvu_invoke(vcpu, HV_INV_VCPU_SET_GUEST_MEMORY, 2, gm_args, NULL)) != HV_OK)
        return err;
    uint64_t tcb = hvu_retype(HV_OBJ_TCB, 0, &err);
    if (tcb == 0)
        return err;
    uint64_t cfg[5] = { fault_ep, HV_ROOT_CNODE, HV_ROOT_VSPACE, 0, 0 };
    if ((err = hvu_invoke(tcb, HV_INV_TCB_CONFIGURE, 5, cfg, NULL)) != HV_OK)
        return err;
    uint64_t prio[1] = { priority };
    if ((err = hvu_invoke(tcb, HV_INV_TCB_SET_PRIORITY, 1, prio, NULL)) != HV_OK)
        return err;
    uint64_t bind[1] = { tcb };
    if ((err = hvu_invoke(vcpu, HV_INV_VCPU_BIND_TCB, 1, bind, NULL)) != HV_OK)
        return err;
    *vcpu_out = vcpu;
    *tcb_out = tcb;
    return HV_OK;
}

uint64_t hvu_vcpu_set_flat32(uint64_t vcpu, uint64_t rip, uint64_t rsp, uint64_t rax)
{
    struct hv_vcpu_state s;
    uint64_t err = hvu_vcpu_read(vcpu, HV_MTD_ALL, &s);
    if (err != HV_OK)
        return err;
    s.mtd = HV_MTD_GPR | HV_MTD_RSP_RIP_RFLAGS | HV_MTD_CR | HV_MTD_SEG | HV_MTD_SYS_SEG;
    s.rax = rax;
    s.rip = rip;
    s.rflags = 2;
    s.rsp = rsp;
    s.cr0 = CR0_PE_ET;
    s.cr3 = 0;
    s.cr4 = 0;
    s.efer = 0;
    s.cs = (struct hv_segment){ 0x08, CODE32_ATTR, 0xffffffffu, 0 };
    struct hv_segment data = { 0x10, DATA32_ATTR, 0xffffffffu, 0 };
    s.ss = s.ds = s.es = s.fs = s.gs = data;
    s.tr = (struct hv_segment){ 0, TSS_ATTR, 0x67, 0 };
    s.ldtr = (struct hv_segment){ 0, LDT_ATTR, 0xffff, 0 };
    return hvu_vcpu_write(vcpu, &s);
}

uint64_t hvu_vm_create(struct hvu_vm *vm, const struct hv_bootinfo *bi, const char *module,
                       uint64_t load_gpa, uint64_t fault_ep, unsigned priority)
{
    uint64_t err;
    memset(vm, 0, sizeof(*vm));
    vm->va = next_vm_va;
    next_vm_va += VM_REGION_SIZE;
    if ((vm->gm = hvu_retype(HV_OBJ_GUEST_MEMORY, HVU_VM_GM_BITS, &err)) == 0)
        return err;
    for (uint64_t gfn = 0; gfn < HVU_VM_LOW_GFNS; gfn++) {
        uint64_t f = hvu_retype(HV_OBJ_FRAME, 0, &err);
        if (f == 0)
            return err;
        if ((err = hvu_map_frame_into(HV_ROOT_VSPACE, f, vm->va + gfn * PAGE, 0)) != HV_OK)
            return err;
        memset((void *)(uintptr_t)(vm->va + gfn * PAGE), 0, PAGE);
        uint64_t g;
        if ((err = hvu_copy(f, HV_RIGHTS_ALL, &g)) != HV_OK)
            return err;
        uint64_t args[3] = { g, gfn, HV_GUEST_RIGHTS_ALL };
        if ((err = hvu_invoke(vm->gm, HV_INV_GUEST_MEMORY_MAP, 3, args, NULL)) != HV_OK)
            return err;
        vm->frames[gfn] = g;
    }
    const uint8_t *bytes;
    uint64_t size;
    if ((err = hvu_map_module(bi, module, &bytes, &size)) != HV_OK)
        return err;
    if (load_gpa + size > HVU_VM_LOW_GFNS * PAGE)
        return HV_ERR_RANGE;
    memcpy((void *)(uintptr_t)(vm->va + load_gpa), bytes, size);

    if ((err = hvu_vcpu_create(vm->gm, HV_VCPU_MODE_NESTED, HVU_VM_VCPU_BITS, fault_ep, priority,
                               &vm->vcpu, &vm->tcb)) != HV_OK)
        return err;

    struct hv_vcpu_state s;
    if ((err = hvu_vcpu_read(vm->vcpu, HV_MTD_ALL, &s)) != HV_OK)
        return err;
    s.mtd = HV_MTD_SEG | HV_MTD_RSP_RIP_RFLAGS;
    s.cs.selector = 0;
    s.cs.base = 0;
    s.cs.attr = REAL_MODE_CODE_ATTR;
    s.cs.limit = 0xffff;
    s.rip = load_gpa;
    s.rflags = 2;
    s.rsp = load_gpa;
    return hvu_vcpu_write(vm->vcpu, &s);
}

uint64_t hvu_vm_start(struct hvu_vm *vm, uint64_t budget_us, uint64_t period_us)
{
    uint64_t err;
    if ((vm->sc = hvu_retype(HV_OBJ_SCHED_CONTEXT, 0, &err)) == 0)
        return err;
    uint64_t sc_cfg[3] = { budget_us, period_us, 0 };
    if ((err = hvu_invoke(vm->sc, HV_INV_SC_CONFIGURE, 3, sc_cfg, NULL)) != HV_OK)
        return err;
    uint64_t bind[1] = { vm->tcb };
    if ((err = hvu_invoke(vm->sc, HV_INV_SC_BIND, 1, bind, NULL)) != HV_OK)
        return err;
    return hvu_invoke(vm->tcb, HV_INV_TCB_RESUME, 0, NULL, NULL);
}
