/* SPDX-License-Identifier: MIT */
/* topology: what CPUID says about the VM's processors — one package of N single-threaded cores, APIC ID = vCPU index. */
#ifndef VMM_TOPOLOGY_H
#define VMM_TOPOLOGY_H

#include <stdint.h>

/*
 * The VM's topology, the same in every leaf that describes it (Intel SDM Vol. 3A §9.9
 * "Identification of hardware multi-threading"; AMD APM Vol. 3 Appendix E.4 "Multiple
 * Core Calculation"): one package, `ncpus` cores, one thread each, the initial APIC ID of
 * vCPU i is i (the LAPIC ID register and the MADT say the same). The core-ID field is
 * order(ncpus) bits wide (order(n) = the smallest k with 2^k >= n).
 *   leaf 1      EBX[31:24] initial APIC ID, EBX[23:16] 2^order addressable IDs, EDX.HTT if ncpus > 1
 *   leaf 4      EAX[31:26] 2^order - 1 cores, EAX[25:14] sharing: L1/L2 per core, L3 the package
 *   leaf 0xB    sub 0: SMT level (shift 0, 1 thread); sub 1: core level (shift order, ncpus);
 *               sub 2..: invalid level; EDX the x2APIC ID
 *   0x80000001  ECX.CmpLegacy if ncpus > 1 (HTT counts cores); TOPOEXT off (no 0x8000001E)
 *   0x80000008  ECX[7:0] ncpus - 1 cores, ECX[15:12] order
 */
#define TOPO_LEAF_BASIC 0x1u
#define TOPO_LEAF_CACHE 0x4u
#define TOPO_LEAF_EXT_TOPOLOGY 0xbu
#define TOPO_LEAF_EXT_FEATURES 0x80000001u
#define TOPO_LEAF_EXT_SIZES 0x80000008u

#define TOPO_L1D_HTT (1u << 28)
#define TOPO_E1C_CMP_LEGACY (1u << 1)
#define TOPO_E1C_TOPOEXT (1u << 22)
#define TOPO_LEVEL_SMT 1u               /* leaf 0xB ECX[15:8] level types */
#define TOPO_LEVEL_CORE 2u
#define TOPO_LEVEL_TYPE_SHIFT 8

/* The smallest k with 2^k >= n (n >= 1). */
unsigned topology_order(unsigned n);

/* Rewrite r[4] = EAX, EBX, ECX, EDX (the host's answer to `leaf`/`sub`) where it describes
 * the topology; other leaves and fields are left as they are. */
void topology_cpuid(uint32_t leaf, uint32_t sub, unsigned apic_id, unsigned ncpus, uint32_t r[4]);

#endif
