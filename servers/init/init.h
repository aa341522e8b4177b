/* SPDX-License-Identifier: MIT */
/* init: what init's parts share: the decoded manifest, its servers, init's own objects. */
#ifndef HV_INIT_INIT_H
#define HV_INIT_INIT_H

#include <stdbool.h>
#include <stdint.h>

#include "hv/manifest_check.h"
#include "hvu.h"

#define INIT_FIXED_CAPS 4u                  /* slots 1..4 of every server (hv/init_abi.h) */
#define INIT_MAX_SERVERS (sizeof(((hv_manifest_Manifest *)0)->servers) / sizeof(hv_manifest_Server))
#define INIT_MAX_CAPS (sizeof(((hv_manifest_Server *)0)->caps) / sizeof(hv_manifest_Capability))
#define INIT_MAX_VMS (sizeof(((hv_manifest_Manifest *)0)->vms) / sizeof(hv_manifest_Vm))
#define INIT_MAX_VCPUS 16u      /* HV_VM_MAX_VCPUS (hv/vm_abi.h) */
/* The crash-loop limit when the manifest leaves it 0 (manifest.proto: restart_limit). */
#define INIT_RESTART_LIMIT 5u
#define INIT_RESTART_WINDOW_MS 10000u

enum server_state {
    SERVER_STOPPED,         /* not started, or stopped by its restart policy */
    SERVER_RUNNING,
    SERVER_CRASH_LOOP,      /* stopped for good: it hit its crash-loop limit */
};

/*
 * What init keeps of each server. Every object of one incarnation comes from `pool` (one
 * untyped carved once, a run of init's slots): tearing the incarnation down returns all of
 * it, so restarts never use more of init's memory or slots than the first start did.
 */
struct server {
    const hv_manifest_Server *m;
    uint64_t service;       /* its service endpoint (init's, made once: clients keep theirs) */
    uint64_t cnode;         /* its CNode, unguarded (init's handle for filling it) */
    uint64_t tcb;
    uint64_t ipc_frame;
    uint64_t window_tsc;    /* crash-loop window: stops since window_tsc (systemd's burst/interval) */
    int64_t last_exit;      /* the code of the last exit through the runtime, -1 if it left none */
    uint64_t first_used, first_slots;   /* pool bytes and slots its first incarnation took */
    struct hvu_pool pool;
    uint64_t made[INIT_MAX_CAPS];       /* untyped caps made ahead of the others (largest first) */
    unsigned idx;
    enum server_state state;
    unsigned restarts;
    unsigned window_stops;
    unsigned exits;         /* exits through the runtime's exit (clean or with a code) */
};

/*
 * A manifest VM (vm.c), built once at boot from init's own memory — not from a pool: its
 * RAM and vCPUs belong to the VM and outlive every incarnation of its vmm.
 */
struct vm {
    const hv_manifest_Vm *m;
    int vmm;                    /* the server holding its vm_control (manifest_check: exactly one) */
    bool built;                 /* false: a module was missing or memory short (said at boot) */
    uint64_t gm;                /* GuestMemory */
    uint64_t exits;             /* the exit endpoint: every vCPU thread's fault endpoint (badged) */
    /*
     * Guest RAM [0, ram_pages * 4 KiB): ram_large 2 MiB frames at gpa 0, 2 MiB, ... then
     * ram_small 4 KiB frames for the rest (less than 2 MiB), their caps (the ones mapped
     * in the GuestMemory) in the run of slots ram_first.. in that order.
     */
    uint64_t ram_first, ram_pages, ram_large, ram_small;
    const struct hv_module_desc *kernel, *initrd;   /* initrd NULL: none */
    uint64_t vcpu[INIT_MAX_VCPUS], tcb[INIT_MAX_VCPUS], sc[INIT_MAX_VCPUS];
    uint64_t fault[INIT_MAX_VCPUS];                 /* mint of `exits` with badge HV_VM_VCPU_BADGE(i) */
};

extern hv_manifest_Manifest manifest;
extern struct server servers[];
extern const struct hv_bootinfo *boot;
extern uint64_t fault_ep, exit_ntfn;

/* audit.c: prints a server's whole authority; returns the number of audit lines. */
unsigned audit_server(const hv_manifest_Server *s);

/* caps.c: checks what this machine and core can grant (NULL if all; else why not, in err). */
const char *caps_check(const hv_manifest_Manifest *m, char *err, unsigned len);
/* caps.c: fills one manifest capability into the server's CNode. */
uint64_t caps_install(struct server *s, const hv_manifest_Capability *c);

/* vm.c: builds every manifest VM (at boot, before any server's pool). */
void vm_build_all(void);
struct vm *vm_named(const char *name);
struct vm *vm_of_server(const struct server *s);    /* the VM `s` controls, or NULL */
/* vm.c: adds the pool bytes and slots one incarnation of `s` takes for its VM's windows. */
void vm_needs(const struct server *s, uint64_t *bytes, uint64_t *slots);
/* vm.c: the info page, guest RAM and module windows in the vmm's address space `pml4`. */
uint64_t vm_map_windows(const struct server *s, uint64_t pml4);
/* vm.c: the manifest kinds vm_control and guest_memory (caps.c's table). */
uint64_t vm_give_control(struct server *s, const hv_manifest_Capability *c);
uint64_t vm_give_memory(struct server *s, const hv_manifest_Capability *c, uint64_t rights);
/* vm.c: when a vmm stops: its vCPU threads suspended (before its pool goes), then the VM set
 * back to its boot configuration (after), and the line saying so. */
void vm_suspend(const struct server *s);
uint64_t vm_restore(const struct server *s);
void vm_vmm_stopped(const struct server *s, const char *why);

/* server.c: the pool of one incarnation (once per server), start, stop, exit code. */
uint64_t server_prepare(struct server *s);
uint64_t server_start(struct server *s);
uint64_t server_stop(struct server *s);
int64_t server_exit_code(struct server *s);
/* server.c: what a stop means under the server's restart policy; restarts it if it says so. */
void server_stopped(struct server *s, bool failure, const char *why);
/* init's memory and slots still free: its own plus what the pools hold unused. */
uint64_t server_free_bytes(void);
uint64_t server_free_slots(void);
int server_index(const char *name);
unsigned server_pool_failures(void);         /* teardowns whose pool did not come back whole */
uint64_t server_prepare_peek(void);          /* init's own page tables where it reads exit codes */

/* verdict.c: the checks a test boot asks for on the command line (init.expect=...). */
void verdict_init(const char *cmdline);
/* Every server started: the baseline; the startup's own checks, printed by verdict_finish. */
void verdict_started(unsigned audit_lines, unsigned want_lines, unsigned started);
void verdict_restarted(const struct server *s, uint64_t reset_err);
bool verdict_done(void);                        /* false forever when nothing is expected */
__attribute__((noreturn)) void verdict_finish(void);

#endif
