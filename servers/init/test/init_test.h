/* SPDX-License-Identifier: MIT */
/* init_test: what init's test servers and their manifests (servers/init/test*.manifest.txtpb) agree on. */
#ifndef HV_INIT_TEST_H
#define HV_INIT_TEST_H

/* echo serves this many requests, then crashes (a write to address 0x10); -D for other tests. */
#ifndef ECHO_CRASH_AFTER
#define ECHO_CRASH_AFTER 5u
#endif
/* client makes this many calls, each answered once (its exit code: the good replies). */
#ifndef CLIENT_CALLS
#define CLIENT_CALLS 15u
#endif
_Static_assert(CLIENT_CALLS < 200u, "exit codes 200 and up are the client's errors");
/* Slots from the test manifests (test*.manifest.txtpb). */
#define ECHO_SLOT_SERVICE 16u
#define CLIENT_SLOT_ECHO 16u
/* client's exit code when a call failed with anything but HV_ERR_CANCELLED. */
#define CLIENT_EXIT_ERRORS 200
/* The irq test: the PIT's IRQ 0 and its ports, and the slots of irq.manifest.txtpb. */
#define IRQ_SLOT_HANDLER 16u
#define IRQ_SLOT_PIT_PORTS 17u
#define IRQ_SLOT_NTFN 18u
#define NOIRQ_SLOT_NTFN 16u
#define IRQ_WANT_SIGNALS 10u
/* The VM test (test_vm*.manifest.txtpb): vmprobe's VM and its slots. */
#define VMPROBE_SLOT_GM 16u
#define VMPROBE_SLOT_CONTROL 32u        /* fills 32..38 for 2 vCPUs */
#ifndef VMPROBE_VCPUS
#define VMPROBE_VCPUS 2u
#endif
#ifndef VMPROBE_RAM_MIB
#define VMPROBE_RAM_MIB 4u
#endif
#ifndef VMPROBE_SHADOW
#define VMPROBE_SHADOW 0                /* 1: the VM's paging is PAGING_SHADOW */
#endif
#define VMPROBE_VM "probe"
#define VMPROBE_CMDLINE "console=ttyS0 probe=1"
/* 1: the first incarnation crashes with a vCPU in the guest; the next checks the VM it inherits. */
#ifndef VMPROBE_CRASH_FIRST
#define VMPROBE_CRASH_FIRST 0
#endif

#endif
