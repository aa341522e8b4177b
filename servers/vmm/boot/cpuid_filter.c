/* SPDX-License-Identifier: MIT */
/* cpuid_filter: which CPUID leaves the guest gets from the host, and what is taken out of them. */
#include "cpuid_filter.h"

/* Leaf 1 ECX. */
#define L1C_MONITOR (1u << 3)
#define L1C_VMX (1u << 5)
#define L1C_SMX (1u << 6)
#define L1C_EST (1u << 7)
#define L1C_TM2 (1u << 8)
#define L1C_PDCM (1u << 15)
#define L1C_PCID (1u << 17)
#define L1C_X2APIC (1u << 21)
#define L1C_TSC_DEADLINE (1u << 24)
#define L1C_XSAVE (1u << 26)
#define L1C_OSXSAVE (1u << 27)
#define L1C_AVX (1u << 28)
#define L1C_HYPERVISOR (1u << 31)
/* Leaf 1 EDX. */
#define L1D_MCE (1u << 7)
#define L1D_MCA (1u << 14)
#define L1D_DS (1u << 21)
#define L1D_ACPI (1u << 22)
#define L1D_TM (1u << 29)
#define L1D_PBE (1u << 31)
/* Leaf 7 EBX: what the VM passes through (no TSX, MPX, AVX, PQM, SGX, INVPCID, SMEP/SMAP). */
#define L7B_FSGSBASE (1u << 0)
#define L7B_BMI1 (1u << 3)
#define L7B_BMI2 (1u << 8)
#define L7B_ERMS (1u << 9)
#define L7B_ADX (1u << 19)
#define L7B_CLFLUSHOPT (1u << 23)
#define L7B_KEEP (L7B_FSGSBASE | L7B_BMI1 | L7B_BMI2 | L7B_ERMS | L7B_ADX | L7B_CLFLUSHOPT)
/* Leaf 0x80000001 ECX / EDX. */
#define E1C_SVM (1u << 2)
#define E1C_IBS (1u << 10)
#define E1C_SKINIT (1u << 12)
#define E1C_WDT (1u << 13)
#define E1C_PERFCTR_CORE (1u << 23)
#define E1D_RDTSCP (1u << 27)

#define LEAF_BASIC_MAX 0xbu             /* leaves 8-0xA (PMU) read as zero, 0xB is the topology (topology.c) */
#define LEAF_PASSED_MAX 0x7u            /* the host's basic leaves up to here, filtered */
#define LEAF_EXT_TOPOLOGY 0xbu
#define LEAF_HV_FIRST 0x40000000u
#define LEAF_HV_LAST 0x4fffffffu
#define LEAF_SVM 0x8000000au
/* AMD memory encryption (SME/SEV): a guest that sees SEV here reads MSR_AMD64_SEV
 * (0xc0010131) in Linux's decompressor, before it has an IDT; the vmm does not know the
 * MSR, the #GP it gets triple-faults the guest (seen on Bochs's ryzen model). The VM has
 * no encrypted memory to offer: the leaf reads as zero. */
#define LEAF_MEM_ENCRYPT 0x8000001fu

bool cpuid_leaf_from_host(uint32_t leaf)
{
    if (leaf >= LEAF_HV_FIRST && leaf <= LEAF_HV_LAST)
        return false;   /* no paravirtual interface: Linux finds no known hypervisor signature */
    return leaf >= 0x80000000u || leaf <= LEAF_PASSED_MAX || leaf == LEAF_EXT_TOPOLOGY;
}

void cpuid_filter(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    switch (leaf) {
    case 0:
        if (r[0] > LEAF_BASIC_MAX)
            r[0] = LEAF_BASIC_MAX;
        break;
    case 1:
        r[2] &= ~(L1C_MONITOR | L1C_VMX | L1C_SMX | L1C_EST | L1C_TM2 | L1C_PDCM | L1C_PCID | L1C_X2APIC |
                  L1C_TSC_DEADLINE | L1C_XSAVE | L1C_OSXSAVE | L1C_AVX);
        r[2] |= L1C_HYPERVISOR;
        r[3] &= ~(L1D_MCE | L1D_MCA | L1D_DS | L1D_ACPI | L1D_TM | L1D_PBE);  /* HTT: topology.c */
        break;
    case 7:
        if (sub == 0) {
            r[0] = 0;
            r[1] &= L7B_KEEP;
        } else {
            r[1] = 0;
        }
        r[2] = r[3] = 0;
        break;
    case 0x80000001u:
        r[2] &= ~(E1C_SVM | E1C_IBS | E1C_SKINIT | E1C_WDT | E1C_PERFCTR_CORE);
        r[3] &= ~E1D_RDTSCP;
        break;
    case 6:         /* no thermal/power leaf: Linux would go on to APERF/MPERF MSRs */
    case LEAF_SVM:
    case LEAF_MEM_ENCRYPT:
        r[0] = r[1] = r[2] = r[3] = 0;
        break;
    default:
        break;
    }
}
