/* SPDX-License-Identifier: MIT */
/* manifest_check: decoding the boot manifest and checking that it adds up before init acts on it. */
#ifndef HV_LIBIPC_MANIFEST_CHECK_H
#define HV_LIBIPC_MANIFEST_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/serial_ports.h"
#include "manifest.pb.h"

/*
 * Limits manifest_check() enforces beyond the schema's own bounds (proto/manifest.options).
 * Slots below HV_MANIFEST_FIRST_SLOT are init's to fill in every server's CSpace (its own
 * TCB, CNode, VSpace, scheduling context, IPC buffer), as in the root task's CNode
 * (HV_ROOT_FIRST_FREE_FIXED in the core's ABI).
 */
#define HV_MANIFEST_FIRST_SLOT 16u
#define HV_MANIFEST_SLOT_LIMIT 4096u            /* a server's CNode: 2^12 slots */
#define HV_MANIFEST_MAX_PRIORITY 255u
#define HV_MANIFEST_MAX_CPUS 64u                /* cpu numbers 0..63 */
#define HV_MANIFEST_MAX_VCPUS 16u
#define HV_MANIFEST_MAX_IRQ 63u                 /* the core's IRQ numbers: ISA 0-15, GSI 16-63 */
#define HV_MANIFEST_IOPORT_LIMIT 0x10000u       /* ports 0..0xffff */
#define HV_MANIFEST_PAGE_SIZE 4096u
#define HV_MANIFEST_PHYS_LIMIT (1ull << 52)     /* architectural MAXPHYADDR */
#define HV_MANIFEST_UNTYPED_MIN (1ull << 12)
#define HV_MANIFEST_UNTYPED_MAX (1ull << 47)    /* the core's HV_UNTYPED_MAX_BITS */
/* The slots a vm_control cap at slot S fills: S .. S + HV_MANIFEST_VM_SLOTS(vcpus) - 1
 * (= HV_VM_SLOTS of servers/init/include/hv/vm_abi.h, the contract; init asserts they agree). */
#define HV_MANIFEST_VM_SLOTS(vcpus) (1u + 3u * (vcpus))
/*
 * All VMs' guest RAM together. init backs guest RAM with 2 MiB frames (4 KiB ones only for
 * a VM's last part below a 2 MiB boundary) and spends two of its 32768 CNode slots on each
 * frame (the cap the guest maps, the copy the vmm maps): 1 GiB is 1024 slots, so slots no
 * longer bound it (the boot modules' 4 KiB pages take far more). What bounds it is the
 * machine's memory — init builds a VM only if its free untyped memory holds it, and says
 * so otherwise — and this cap, which keeps a manifest's VMs within what one appliance is
 * meant to run (two 128 MiB Linux VMs and more) and below the vmm's 3 GiB PCI hole.
 */
#define HV_MANIFEST_VM_RAM_MIB_MAX 1024u

/* A server's console UART (Server.console): hv_serial_base(console), HV_SERIAL_PORT_COUNT ports. */
_Static_assert(_hv_manifest_SerialPort_MAX + 1 == HV_SERIAL_PORTS, "SerialPort names COM1..COM4");

/* A buffer this large holds any message manifest_check() writes. */
#define HV_MANIFEST_ERR_MAX 192

/*
 * Decodes an encoded hv.manifest.Manifest (the boot module) into *m. Returns false if the
 * bytes are not a valid Manifest within the bounds of manifest.options; *detail (if not
 * NULL) is then nanopb's reason and *m the empty manifest.
 */
bool manifest_decode(const uint8_t *buf, size_t len, hv_manifest_Manifest *m,
                     const char **detail);

/*
 * Checks a decoded manifest. Returns NULL if it is sound, otherwise `err` holding the first
 * problem found — VMs first, then server names, then each server with its capabilities in
 * manifest order, then that every VM is controlled — e.g.
 *   server "vmm-linux" slot 18: endpoint to unknown server "blck"
 * `err` should have room for HV_MANIFEST_ERR_MAX bytes (longer messages are cut); it is
 * set to "" when the manifest is sound.
 *
 * Rules: at least one server; names are 1..31 characters of [A-Za-z0-9._-] and unique
 * (servers among servers, VMs among VMs); a server has a module, priority <= 255, a
 * nonzero budget no larger than its period, distinct cpus below 64 and a known restart
 * policy; its console is COM1..COM4, and a console other than COM1 (the appliance
 * console, shared with init and the core) is no other server's console; no io_ports grant
 * overlaps any server's console port; each capability has a kind and a slot in [16, 4096) not used twice in its
 * server. Untyped: a power of two from 4 KiB to 2^47 bytes. Endpoint: names another,
 * existing server that holds a service capability, carries the write right, and its badge
 * is unique among connections to that server. Service: at most one per server. IRQ: line
 * <= 255, granted once. I/O ports: count >= 1 and the range ends at or below 0xffff,
 * overlapping no other grant. Device memory: page-aligned nonzero base and size, below
 * 2^52, overlapping no other grant. Guest memory / VM control: name an existing VM; each
 * VM is controlled by exactly one server, a server controls at most one VM, and the slots
 * a vm_control fills (S .. S + HV_MANIFEST_VM_SLOTS(vcpus) - 1) stay below 4096 and hold
 * none of the server's other capabilities. Sched control: granted to one server at most.
 * A VM has a kernel module (the initrd is optional; whether the modules exist is known
 * only at boot, init checks that), memory_mib > 0 with all VMs' RAM at most
 * HV_MANIFEST_VM_RAM_MIB_MAX, vcpus 1..16 and a paging mode (nested or shadow). Strings must be terminated and counts within the
 * arrays (always so after manifest_decode; checked for structs built by hand).
 */
const char *manifest_check(const hv_manifest_Manifest *m, char *err, size_t err_size);

#endif
