/* SPDX-License-Identifier: MIT */
/* vm_abi: what init gives the vmm of one VM: the vm_control slots, the VM info page, guest RAM and boot modules. */
#ifndef HV_VM_ABI_H
#define HV_VM_ABI_H

#include <stdint.h>

/*
 * A manifest `vms { name: X ... }` is built by init once, at boot, before any server
 * starts: a GuestMemory of the VM's size with guest RAM [0, memory_mib MiB) mapped at
 * gfn 0 (read/write/execute), and `vcpus` VCPU objects, each bound to a thread of its
 * own whose fault endpoint is the VM's exit endpoint. The VM's memory and vCPUs belong
 * to the VM, not to an incarnation of its vmm.
 *
 * The server holding `vm_control { vm: X }` (exactly one per VM, manifest_check) is the
 * VM's vmm. A server holds at most one vm_control. If its manifest slot is S, init fills
 * S .. S + HV_VM_SLOTS(vcpus) - 1 (manifest_check reserves them all):
 *
 *   S + HV_VM_SLOT_EXITS      the receive side (READ) of the VM's exit endpoint. Each
 *                             vCPU thread's fault endpoint is a mint of it with badge
 *                             HV_VM_VCPU_BADGE(i), so an exit message says which vCPU.
 *   S + HV_VM_SLOT_VCPU(i)    vCPU i's VCPU object (all rights), in the VM's paging mode
 *                             (manifest `paging`) on the VM's GuestMemory.
 *   S + HV_VM_SLOT_TCB(i)     vCPU i's thread (all rights), bound to the VCPU, with its
 *                             own SchedContext (the vmm server's budget and period),
 *                             priority one below the vmm's (HV_VM_VCPU_PRIORITY: an exit
 *                             from another CPU preempts a vCPU sharing the vmm's CPU)
 *                             and affinity (the vmm's cpus[i % cpus_count], any CPU if
 *                             none). It is NOT running: the vmm writes the
 *                             initial guest state (VCPU_WRITE_STATE) and resumes it.
 *   S + HV_VM_SLOT_REPLY(i)   a Reply object, so the vmm can hold vCPU i's exit while
 *                             it receives the others (one exit per vCPU in flight).
 *
 * The slots' rights are these, whatever the manifest's vm_control says. A vCPU thread's
 * CSpace and VSpace are empty (it runs only its guest). When the vmm stops, init suspends
 * every vCPU thread and sets the VM back to the above (thread configuration, binding,
 * GuestMemory and mode); a restarted vmm gets the same objects: RAM as it was left, each
 * vCPU's registers as when suspended (an exit held unanswered is dropped), no exit pending,
 * so it should write each vCPU's state and transfer masks before resuming it.
 *
 * `guest_memory { vm: X }` in any server is a copy of the VM's GuestMemory cap with the
 * manifest's rights (the vmm maps MMIO-less holes or extra frames; mem will own RAM).
 *
 * The vmm's VSpace also holds, read-only unless said otherwise:
 *   HV_VM_INFO_VA     one page: struct hv_vm_info below.
 *   HV_VM_RAM_VA      guest RAM, read/write: guest-physical p is at HV_VM_RAM_VA + p for
 *                     p < info->ram_bytes (the very frames the guest sees).
 *   HV_VM_KERNEL_VA   the boot module `kernel_module` (info->kernel_size bytes).
 *   HV_VM_INITRD_VA   the boot module `initrd_module` (info->initrd_size bytes; 0 = none).
 */
#define HV_VM_SLOT_EXITS 0u
#define HV_VM_SLOT_VCPU(i) (1u + 3u * (i))
#define HV_VM_SLOT_TCB(i) (2u + 3u * (i))
#define HV_VM_SLOT_REPLY(i) (3u + 3u * (i))
#define HV_VM_SLOTS(vcpus) (1u + 3u * (vcpus))
#define HV_VM_VCPU_BADGE(i) (1ull + (i))
#define HV_VM_VCPU_PRIORITY(vmm_priority) ((vmm_priority) > 0 ? (vmm_priority) - 1u : 0u)
#define HV_VM_MAX_VCPUS 16u

#define HV_VM_INFO_VA 0x0000580000000000ull
#define HV_VM_KERNEL_VA 0x0000581000000000ull
#define HV_VM_INITRD_VA 0x0000582000000000ull
#define HV_VM_RAM_VA 0x0000590000000000ull
#define HV_VM_MODULE_MAX_BYTES (1ull << 36)     /* the gap between the module windows */

#define HV_VM_INFO_MAGIC 0x6f666e696d76ull       /* "vminfo" */
#define HV_VM_INFO_VERSION 1u
#define HV_VM_NAME_MAX 32u
#define HV_VM_CMDLINE_MAX 256u         /* = manifest.options Vm.cmdline max_size */

struct hv_vm_info {
    uint64_t magic;                     /* HV_VM_INFO_MAGIC */
    uint32_t version;                   /* HV_VM_INFO_VERSION */
    uint32_t vcpus;                     /* 1..HV_VM_MAX_VCPUS */
    uint64_t ram_bytes;                 /* guest RAM: guest-physical [0, ram_bytes) */
    uint32_t paging;                    /* HV_VCPU_MODE_NESTED or HV_VCPU_MODE_SHADOW */
    uint32_t vm_control_slot;           /* S above */
    uint64_t kernel_size;               /* bytes at HV_VM_KERNEL_VA */
    uint64_t initrd_size;               /* bytes at HV_VM_INITRD_VA; 0 = no initrd */
    uint64_t tsc_hz;                    /* the host TSC frequency (0 = unknown) */
    char name[HV_VM_NAME_MAX];          /* NUL-terminated */
    char cmdline[HV_VM_CMDLINE_MAX];    /* the guest kernel's command line, NUL-terminated */
};
_Static_assert(sizeof(struct hv_vm_info) <= 4096, "the VM info is one page");

#endif
