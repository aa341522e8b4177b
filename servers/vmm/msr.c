/* SPDX-License-Identifier: MIT */
/* msr: the guest's RDMSR/WRMSR — architectural MSRs from the exit state, the APIC base from the LAPIC model, safe defaults, #GP for the rest. */
#include "vmm.h"

#define MSR_TSC 0x10u
#define MSR_FEATURE_CONTROL 0x3au
#define MSR_APIC_BASE 0x1bu
#define MSR_UCODE_REV 0x8bu
#define MSR_MTRR_CAP 0xfeu
#define MSR_SYSENTER_CS 0x174u
#define MSR_SYSENTER_ESP 0x175u
#define MSR_SYSENTER_EIP 0x176u
#define MSR_MISC_ENABLE 0x1a0u
#define MSR_MTRR_VAR_FIRST 0x200u
#define MSR_MTRR_VAR_LAST 0x20fu
#define MSR_MTRR_FIX_64K 0x250u
#define MSR_MTRR_FIX_16K_0 0x258u
#define MSR_MTRR_FIX_16K_1 0x259u
#define MSR_MTRR_FIX_4K_FIRST 0x268u
#define MSR_MTRR_FIX_4K_LAST 0x26fu
#define MSR_PAT 0x277u
#define MSR_MTRR_DEF_TYPE 0x2ffu
#define MSR_EFER 0xc0000080u
#define MSR_STAR 0xc0000081u
#define MSR_LSTAR 0xc0000082u
#define MSR_CSTAR 0xc0000083u
#define MSR_SFMASK 0xc0000084u
#define MSR_FS_BASE 0xc0000100u
#define MSR_GS_BASE 0xc0000101u
#define MSR_KERNEL_GS_BASE 0xc0000102u
#define MSR_K7_HWCR 0xc0010015u

#define FEATURE_CONTROL_LOCKED 0x1ull           /* locked, VMX off */
#define MISC_ENABLE_FAST_STRINGS 0x1ull
#define MTRR_DEF_TYPE_WB_ENABLED 0x806ull       /* E, default type write-back; no ranges (MTRRcap VCNT 0) */
#define EFER_LMA (1ull << 10)
#define EFER_ALLOWED 0xd01ull                   /* SCE LME LMA NXE */

static uint64_t mtrr_def_type = MTRR_DEF_TYPE_WB_ENABLED;

static bool is_mtrr_range(uint32_t msr)
{
    return (msr >= MSR_MTRR_VAR_FIRST && msr <= MSR_MTRR_VAR_LAST) || msr == MSR_MTRR_FIX_64K ||
           msr == MSR_MTRR_FIX_16K_0 || msr == MSR_MTRR_FIX_16K_1 ||
           (msr >= MSR_MTRR_FIX_4K_FIRST && msr <= MSR_MTRR_FIX_4K_LAST);
}

bool vmm_msr_read(struct vmm *v, struct vmm_vcpu *c, uint32_t msr, uint64_t *val)
{
    struct hv_vcpu_state *s = &c->st;
    switch (msr) {
    case MSR_TSC: *val = vmm_rdtsc() + s->tsc_offset; return true;
    case MSR_APIC_BASE: *val = vlapic_read_base(&v->plat.lapic[c->index]); return true;
    case MSR_FEATURE_CONTROL: *val = FEATURE_CONTROL_LOCKED; return true;
    case MSR_UCODE_REV:
    case MSR_MTRR_CAP:      /* no variable or fixed ranges, no write-combining */
    case MSR_K7_HWCR:
        *val = 0;
        return true;
    case MSR_MTRR_DEF_TYPE: *val = mtrr_def_type; return true;
    case MSR_MISC_ENABLE: *val = MISC_ENABLE_FAST_STRINGS; return true;
    case MSR_SYSENTER_CS: *val = s->sysenter_cs; return true;
    case MSR_SYSENTER_ESP: *val = s->sysenter_esp; return true;
    case MSR_SYSENTER_EIP: *val = s->sysenter_eip; return true;
    case MSR_PAT: *val = s->pat; return true;
    case MSR_EFER: *val = s->efer; return true;
    case MSR_STAR: *val = s->star; return true;
    case MSR_LSTAR: *val = s->lstar; return true;
    case MSR_CSTAR: *val = s->cstar; return true;
    case MSR_SFMASK: *val = s->sfmask; return true;
    case MSR_FS_BASE: *val = s->fs.base; return true;
    case MSR_GS_BASE: *val = s->gs.base; return true;
    case MSR_KERNEL_GS_BASE: *val = s->kernel_gs_base; return true;
    default:
        if (is_mtrr_range(msr)) {
            *val = 0;
            return true;
        }
        return false;
    }
}

static bool canonical(uint64_t a)
{
    return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

bool vmm_msr_write(struct vmm *v, struct vmm_vcpu *c, uint32_t msr, uint64_t val)
{
    struct hv_vcpu_state *s = &c->st;
    switch (msr) {
    case MSR_TSC:
        s->tsc_offset = val - vmm_rdtsc();
        s->mtd |= HV_MTD_TSC;
        return true;
    case MSR_APIC_BASE: vlapic_write_base(&v->plat.lapic[c->index], val); return true;
    case MSR_MTRR_DEF_TYPE: mtrr_def_type = val; return true;
    case MSR_MISC_ENABLE:
    case MSR_K7_HWCR:
    case MSR_UCODE_REV:
        return true;    /* accepted and ignored */
    case MSR_EFER:
        if ((val & ~EFER_ALLOWED) != 0)
            return false;
        s->efer = (val & ~EFER_LMA) | (s->efer & EFER_LMA);
        s->mtd |= HV_MTD_CR;
        return true;
    case MSR_PAT: s->pat = val; break;
    case MSR_SYSENTER_CS: s->sysenter_cs = val; break;
    case MSR_SYSENTER_ESP: s->sysenter_esp = val; break;
    case MSR_SYSENTER_EIP: s->sysenter_eip = val; break;
    case MSR_STAR: s->star = val; break;
    case MSR_LSTAR: if (!canonical(val)) return false; s->lstar = val; break;
    case MSR_CSTAR: if (!canonical(val)) return false; s->cstar = val; break;
    case MSR_SFMASK: s->sfmask = val; break;
    case MSR_KERNEL_GS_BASE: if (!canonical(val)) return false; s->kernel_gs_base = val; break;
    case MSR_FS_BASE:
    case MSR_GS_BASE:
        if (!canonical(val))
            return false;
        if (msr == MSR_FS_BASE)
            s->fs.base = val;
        else
            s->gs.base = val;
        s->mtd |= HV_MTD_SEG;
        return true;
    default:
        return is_mtrr_range(msr);
    }
    s->mtd |= HV_MTD_MSR;
    return true;
}
