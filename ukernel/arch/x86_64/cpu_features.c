/* SPDX-License-Identifier: MIT */
/* cpu_features: CPUID and virtualization-capability MSR decoding. */
#include "cpu_features.h"

#include "../../kernel/console.h"
#include "../../lib/kstring.h"
#include "cpu.h"

#define CPUID1_ECX_VMX (1u << 5)
#define CPUID1_ECX_PCID (1u << 17)
#define CPUID1_ECX_X2APIC (1u << 21)
#define CPUID1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID1_EDX_APIC (1u << 9)
#define CPUID7_EBX_FSGSBASE (1u << 0)
#define CPUIDX1_ECX_SVM (1u << 2)
#define CPUIDX1_EDX_NX (1u << 20)
#define CPUIDX1_EDX_PDPE1GB (1u << 26)
#define CPUIDX7_EDX_INVARIANT_TSC (1u << 8)
#define CPUIDXA_EDX_NP (1u << 0)
#define CPUIDXA_EDX_NRIPS (1u << 3)
#define CPUIDXA_EDX_VMCB_CLEAN (1u << 5)
#define CPUIDXA_EDX_FLUSH_BY_ASID (1u << 6)
#define CPUIDXA_EDX_DECODE_ASSISTS (1u << 7)
#define VM_CR_SVMDIS (1ull << 4)

#define FEATURE_CONTROL_LOCK (1ull << 0)
#define FEATURE_CONTROL_VMXON_OUTSIDE_SMX (1ull << 2)
#define VMX_BASIC_TRUE_CONTROLS (1ull << 55)
#define PROCBASED_ACTIVATE_SECONDARY (1ull << 31)
#define PROCBASED2_ENABLE_EPT (1ull << 1)
#define PROCBASED2_ENABLE_VPID (1ull << 5)
#define PROCBASED2_UNRESTRICTED_GUEST (1ull << 7)
#define EPT_CAP_4LEVEL (1ull << 6)
#define EPT_CAP_WB (1ull << 14)
#define EPT_CAP_2M (1ull << 16)
#define EPT_CAP_1G (1ull << 17)
#define EPT_CAP_AD (1ull << 21)

static struct cpu_features boot_cpu;

static void read_vendor_and_brand(struct cpu_features *f)
{
    struct cpuid_regs r = cpuid(0, 0);
    f->max_leaf = r.eax;
    memcpy(f->vendor + 0, &r.ebx, 4);
    memcpy(f->vendor + 4, &r.edx, 4);
    memcpy(f->vendor + 8, &r.ecx, 4);
    f->vendor[12] = '\0';

    f->max_ext_leaf = cpuid(0x80000000u, 0).eax;
    if (f->max_ext_leaf >= 0x80000004u) {
        for (size_t i = 0; i < 3; i++) {
            struct cpuid_regs b = cpuid(0x80000002u + (uint32_t)i, 0);
            char *chunk = f->brand + i * 16u;
            memcpy(chunk + 0, &b.eax, 4);
            memcpy(chunk + 4, &b.ebx, 4);
            memcpy(chunk + 8, &b.ecx, 4);
            memcpy(chunk + 12, &b.edx, 4);
        }
    }
    f->brand[48] = '\0';
}

static void detect_svm(struct cpu_features *f, const struct cpuid_regs *ext1)
{
    struct svm_features *s = &f->svm;
    s->supported = (ext1->ecx & CPUIDX1_ECX_SVM) != 0;
    if (!s->supported || f->max_ext_leaf < 0x8000000au)
        return;
    s->disabled_by_bios = (rdmsr(MSR_VM_CR) & VM_CR_SVMDIS) != 0;
    struct cpuid_regs a = cpuid(0x8000000au, 0);
    s->revision = a.eax & 0xff;
    s->asids = a.ebx;
    s->npt = (a.edx & CPUIDXA_EDX_NP) != 0;
    s->nrips = (a.edx & CPUIDXA_EDX_NRIPS) != 0;
    s->vmcb_clean = (a.edx & CPUIDXA_EDX_VMCB_CLEAN) != 0;
    s->flush_by_asid = (a.edx & CPUIDXA_EDX_FLUSH_BY_ASID) != 0;
    s->decode_assists = (a.edx & CPUIDXA_EDX_DECODE_ASSISTS) != 0;
}

static void detect_vmx(struct cpu_features *f, const struct cpuid_regs *leaf1)
{
    struct vmx_features *v = &f->vmx;
    v->supported = (leaf1->ecx & CPUID1_ECX_VMX) != 0;
    if (!v->supported)
        return;     /* the VMX MSRs #GP when VMX is absent */
    v->feature_control = rdmsr(MSR_FEATURE_CONTROL);
    v->locked_off = (v->feature_control & FEATURE_CONTROL_LOCK) &&
                    !(v->feature_control & FEATURE_CONTROL_VMXON_OUTSIDE_SMX);
    uint64_t basic = rdmsr(MSR_VMX_BASIC);
    v->vmcs_revision = (uint32_t)basic & 0x7fffffffu;
    v->vmcs_size = (uint32_t)(basic >> 32) & 0x1fffu;
    v->true_controls = (basic & VMX_BASIC_TRUE_CONTROLS) != 0;

    /* Allowed-1 settings are the high 32 bits of each control MSR. */
    uint64_t proc = rdmsr(MSR_VMX_PROCBASED_CTLS);
    v->secondary_controls = ((proc >> 32) & PROCBASED_ACTIVATE_SECONDARY) != 0;
    if (!v->secondary_controls)
        return;
    uint64_t proc2 = rdmsr(MSR_VMX_PROCBASED_CTLS2) >> 32;
    v->ept = (proc2 & PROCBASED2_ENABLE_EPT) != 0;
    v->vpid = (proc2 & PROCBASED2_ENABLE_VPID) != 0;
    v->unrestricted_guest = (proc2 & PROCBASED2_UNRESTRICTED_GUEST) != 0;
    if (v->ept || v->vpid) {
        uint64_t cap = rdmsr(MSR_VMX_EPT_VPID_CAP);
        v->ept_4level = (cap & EPT_CAP_4LEVEL) != 0;
        v->ept_wb = (cap & EPT_CAP_WB) != 0;
        v->ept_2m = (cap & EPT_CAP_2M) != 0;
        v->ept_1g = (cap & EPT_CAP_1G) != 0;
        v->ept_ad = (cap & EPT_CAP_AD) != 0;
    }
}

void cpu_features_detect(struct cpu_features *f)
{
    memset(f, 0, sizeof(*f));
    read_vendor_and_brand(f);

    struct cpuid_regs leaf1 = cpuid(1, 0);
    uint32_t base_family = (leaf1.eax >> 8) & 0xf;
    uint32_t base_model = (leaf1.eax >> 4) & 0xf;
    f->family = base_family == 0xf ? base_family + ((leaf1.eax >> 20) & 0xff) : base_family;
    f->model = (base_family == 0x6 || base_family == 0xf)
                   ? base_model | (((leaf1.eax >> 16) & 0xf) << 4) : base_model;
    f->stepping = leaf1.eax & 0xf;
    f->apic = (leaf1.edx & CPUID1_EDX_APIC) != 0;
    f->x2apic = (leaf1.ecx & CPUID1_ECX_X2APIC) != 0;
    f->tsc_deadline = (leaf1.ecx & CPUID1_ECX_TSC_DEADLINE) != 0;
    f->pcid = (leaf1.ecx & CPUID1_ECX_PCID) != 0;
    if (f->max_leaf >= 7)
        f->fsgsbase = (cpuid(7, 0).ebx & CPUID7_EBX_FSGSBASE) != 0;

    struct cpuid_regs ext1 = { 0, 0, 0, 0 };
    if (f->max_ext_leaf >= 0x80000001u)
        ext1 = cpuid(0x80000001u, 0);
    f->nx = (ext1.edx & CPUIDX1_EDX_NX) != 0;
    f->pdpe1gb = (ext1.edx & CPUIDX1_EDX_PDPE1GB) != 0;
    if (f->max_ext_leaf >= 0x80000007u)
        f->invariant_tsc = (cpuid(0x80000007u, 0).edx & CPUIDX7_EDX_INVARIANT_TSC) != 0;

    detect_svm(f, &ext1);
    detect_vmx(f, &leaf1);
}

const struct cpu_features *cpu_features(void)
{
    if (boot_cpu.vendor[0] == '\0')
        cpu_features_detect(&boot_cpu);
    return &boot_cpu;
}

static const char *yn(bool b)
{
    return b ? "yes" : "no";
}

void cpu_features_print(const struct cpu_features *f)
{
    kprintf("cpu: vendor %s family 0x%x model 0x%x stepping %u \"%s\"\n",
            f->vendor, f->family, f->model, f->stepping, f->brand);
    kprintf("cpu: nx %s 1g-pages %s x2apic %s pcid %s fsgsbase %s invariant-tsc %s\n",
            yn(f->nx), yn(f->pdpe1gb), yn(f->x2apic), yn(f->pcid), yn(f->fsgsbase),
            yn(f->invariant_tsc));
    if (f->svm.supported) {
        kprintf("virt: AMD SVM yes%s, nested paging (NPT) %s, nrips %s, decode-assists %s, "
                "vmcb-clean %s, flush-by-asid %s, asids %u\n",
                f->svm.disabled_by_bios ? " (disabled by firmware)" : "", yn(f->svm.npt),
                yn(f->svm.nrips), yn(f->svm.decode_assists), yn(f->svm.vmcb_clean),
                yn(f->svm.flush_by_asid), f->svm.asids);
    }
    if (f->vmx.supported) {
        kprintf("virt: Intel VMX yes%s, EPT %s, unrestricted-guest %s, VPID %s, "
                "ept-2m %s, ept-1g %s, ept-ad %s, vmcs-rev 0x%x\n",
                f->vmx.locked_off ? " (locked off by firmware)" : "", yn(f->vmx.ept),
                yn(f->vmx.unrestricted_guest), yn(f->vmx.vpid), yn(f->vmx.ept_2m),
                yn(f->vmx.ept_1g), yn(f->vmx.ept_ad), f->vmx.vmcs_revision);
    }
    if (!f->svm.supported && !f->vmx.supported)
        kprintf("virt: no hardware virtualization (neither SVM nor VMX): VMs cannot run\n");
}
