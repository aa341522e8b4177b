/* SPDX-License-Identifier: MIT */
/* cpuid_filter: which CPUID leaves the guest gets from the host, and what is taken out of them. */
#ifndef VMM_CPUID_FILTER_H
#define VMM_CPUID_FILTER_H

#include <stdbool.h>
#include <stdint.h>

/*
 * The guest's CPUID is the host CPU's answer (cpuid.c asks the host, topology.c writes
 * the VM's processors in) with what the VM does not offer taken out: no VMX/SVM, no PCID,
 * x2APIC, TSC deadline, XSAVE/AVX, MCE/MCA, thermal/power, PMU, TSX/MPX/SGX, no
 * paravirtual signature, no memory encryption (SME/SEV). Pure: host-tested.
 */

/* False: the leaf reads as zero without asking the host (hypervisor range, unpassed basic leaves). */
bool cpuid_leaf_from_host(uint32_t leaf);
/* Takes out of the host's answer r (EAX, EBX, ECX, EDX) for leaf/sub what the VM does not offer. */
void cpuid_filter(uint32_t leaf, uint32_t sub, uint32_t r[4]);

#endif
