/* SPDX-License-Identifier: MIT */
/* cpuid: what the guest's CPUID says — the host CPU's answer minus what the VM does not offer, plus the hypervisor bit. */
#include "cpuid_filter.h"
#include "topology.h"
#include "vmm.h"

static void host_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(leaf), "c"(sub));
    r[0] = a;
    r[1] = b;
    r[2] = c;
    r[3] = d;
}

void vmm_cpuid(const struct vmm *v, const struct vmm_vcpu *c, uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    r[0] = r[1] = r[2] = r[3] = 0;
    if (!cpuid_leaf_from_host(leaf))
        return;
    host_cpuid(leaf, sub, r);
    topology_cpuid(leaf, sub, c->index, v->ncpus, r);
    cpuid_filter(leaf, sub, r);
}
