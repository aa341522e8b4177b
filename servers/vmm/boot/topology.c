/* SPDX-License-Identifier: MIT */
/* topology: what CPUID says about the VM's processors — one package of N single-threaded cores, APIC ID = vCPU index. */
#include "topology.h"

#include <assert.h>

unsigned topology_order(unsigned n)
{
    assert(n >= 1);
    unsigned k = 0;
    while ((1u << k) < n)
        k++;
    return k;
}

static void cache_leaf(unsigned ncpus, uint32_t r[4])
{
    if ((r[0] & 0x1fu) == 0)
        return;                         /* no cache at this index: the list ends */
    unsigned level = (r[0] >> 5) & 7u;
    uint32_t cores = (1u << topology_order(ncpus)) - 1u;
    uint32_t sharing = level >= 3 ? cores : 0u;
    r[0] = (r[0] & 0x00003fffu) | (sharing << 14) | (cores << 26);
}

static void ext_topology_leaf(uint32_t sub, unsigned apic_id, unsigned ncpus, uint32_t r[4])
{
    r[3] = apic_id;
    if (sub == 0) {                     /* SMT: one thread per core */
        r[0] = 0;
        r[1] = 1;
        r[2] = TOPO_LEVEL_SMT << TOPO_LEVEL_TYPE_SHIFT;     /* level number 0 */
    } else if (sub == 1) {              /* cores: the package */
        r[0] = topology_order(ncpus);
        r[1] = ncpus;
        r[2] = sub | (TOPO_LEVEL_CORE << TOPO_LEVEL_TYPE_SHIFT);
    } else {                            /* level type 0: no more levels */
        r[0] = r[1] = 0;
        r[2] = sub & 0xffu;
    }
}

void topology_cpuid(uint32_t leaf, uint32_t sub, unsigned apic_id, unsigned ncpus, uint32_t r[4])
{
    assert(ncpus >= 1 && apic_id < 256);
    unsigned order = topology_order(ncpus);
    switch (leaf) {
    case TOPO_LEAF_BASIC:
        r[1] = (r[1] & 0x0000ffffu) | ((uint32_t)apic_id << 24) | ((1u << order) << 16);
        r[3] = ncpus > 1 ? r[3] | TOPO_L1D_HTT : r[3] & ~TOPO_L1D_HTT;
        break;
    case TOPO_LEAF_CACHE:
        cache_leaf(ncpus, r);
        break;
    case TOPO_LEAF_EXT_TOPOLOGY:
        ext_topology_leaf(sub, apic_id, ncpus, r);
        break;
    case TOPO_LEAF_EXT_FEATURES:
        r[2] &= ~TOPO_E1C_TOPOEXT;
        r[2] = ncpus > 1 ? r[2] | TOPO_E1C_CMP_LEGACY : r[2] & ~TOPO_E1C_CMP_LEGACY;
        break;
    case TOPO_LEAF_EXT_SIZES:
        r[2] = (r[2] & ~0xf0ffu) | (ncpus - 1u) | (order << 12);
        break;
    default:
        break;
    }
}
