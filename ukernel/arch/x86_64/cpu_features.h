/* SPDX-License-Identifier: MIT */
/* cpu_features: what this CPU offers, above all its hardware virtualization support. */
#ifndef HV_ARCH_CPU_FEATURES_H
#define HV_ARCH_CPU_FEATURES_H

#include <stdbool.h>
#include <stdint.h>

struct svm_features {
    bool supported;         /* CPUID 0x80000001 ECX.SVM */
    bool disabled_by_bios;  /* VM_CR.SVMDIS */
    bool npt;               /* nested paging, CPUID 0x8000000A EDX.0 */
    bool nrips;             /* next-RIP saved on exit, EDX.3 */
    bool vmcb_clean;        /* EDX.5 */
    bool flush_by_asid;     /* EDX.6 */
    bool decode_assists;    /* EDX.7 */
    uint32_t revision;
    uint32_t asids;         /* number of ASIDs, EBX */
};

struct vmx_features {
    bool supported;             /* CPUID 1 ECX.VMX */
    bool locked_off;            /* FEATURE_CONTROL locked without VMXON outside SMX */
    bool true_controls;         /* VMX_BASIC bit 55 */
    bool secondary_controls;    /* primary proc-based allowed-1 bit 31 */
    bool ept;
    bool vpid;
    bool unrestricted_guest;
    bool ept_2m, ept_1g, ept_ad, ept_wb, ept_4level;
    uint32_t vmcs_revision;
    uint32_t vmcs_size;
    uint64_t feature_control;
};

struct cpu_features {
    char vendor[13];
    char brand[49];
    uint32_t family, model, stepping;
    uint32_t max_leaf, max_ext_leaf;
    bool nx, pdpe1gb, apic, x2apic, tsc_deadline, invariant_tsc, pcid, fsgsbase;
    struct svm_features svm;
    struct vmx_features vmx;
};

/* Reads CPUID and, only where CPUID says they exist, the virtualization MSRs. */
void cpu_features_detect(struct cpu_features *out);
const struct cpu_features *cpu_features(void);     /* the boot CPU's, after detection */
void cpu_features_print(const struct cpu_features *f);

#endif
