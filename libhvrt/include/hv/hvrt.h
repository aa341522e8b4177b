/* SPDX-License-Identifier: MIT */
/* hvrt: the Linux-ABI runtime of musl servers: the spawner's conventions and the runtime's interface. */
#ifndef HV_HVRT_H
#define HV_HVRT_H

/*
 * A server is an ordinary static musl program linked with libhvrt (CMake:
 * hv_musl_program). musl's inline `syscall` instructions use Linux numbers, which
 * the core reflects to the entry the runtime registers (TCB_SET_SYSCALL_ENTRY);
 * hvrt_syscalls.c serves them inside the same thread, without a context switch.
 *
 * What the spawner provides (the convention):
 *  - CSpace: one CNode whose guard makes every cptr the plain slot number
 *    (guard size = 64 - radix, guard 0, as fuzztest does for the hostile);
 *      slot HVRT_SLOT_TCB      the thread's own TCB (needs WRITE: entry, FS base, suspend)
 *      slot HVRT_SLOT_CONSOLE  an IOPort cap for one 16550 UART's eight ports at a COM base:
 *                              COM1 (0x3f8, the appliance console) unless the manifest gives
 *                              the server another (Server.console); hvrt_console_port()
 *                              finds which from what the cap allows
 *      slot HVRT_SLOT_EXIT_NTFN optional: a notification signalled when the program exits
 *  - registers at the ELF entry (_hv_start, via TCB_WRITE_REGISTERS):
 *      rip = ELF entry, rsp = top of a stack of at least 16 KiB (16-byte aligned),
 *      rdi = the virtual address of the thread's IPC buffer,
 *      rsi = the TSC frequency in Hz, or 0 for "assume 1 GHz" (clocks are then approximate).
 *  - the IPC buffer configured with TCB_CONFIGURE; a fault endpoint is recommended
 *    (crashes become fault messages; the runtime itself never faults on purpose).
 *
 * On exit/exit_group the runtime prints "hvrt: exit <code>", stores
 * HVRT_EXIT_MAGIC in ipc->user_data[HVRT_UD_EXITED] and the code in
 * ipc->user_data[HVRT_UD_EXIT_CODE], signals HVRT_SLOT_EXIT_NTFN (if present) and
 * suspends its own TCB.
 *
 * Clocks: CLOCK_MONOTONIC and CLOCK_REALTIME both count from TSC 0 (no wall
 * clock yet). brk always fails, so musl's malloc uses mmap, which hands out pages
 * of a static arena (HVRT_ARENA_BYTES) in .bss; file mappings fail with ENODEV.
 * Single-threaded only: no clone, no signals.
 */
#define HVRT_SLOT_TCB 1
#define HVRT_SLOT_CONSOLE 2
#define HVRT_SLOT_EXIT_NTFN 3

#define HVRT_COM1 0x3f8u

#define HVRT_UD_EXITED 0
#define HVRT_UD_EXIT_CODE 1
#define HVRT_EXIT_MAGIC 0x6876727465786974ull   /* "hvrtexit" */

#define HVRT_ARENA_BYTES (4u << 20)
#define HVRT_DEFAULT_TSC_HZ 1000000000ull

/* Offsets into struct hv_ipc_buffer the assembly entry uses (checked in hvrt_syscalls.c). */
#define HVRT_IPC_REFLECT_RIP 568
#define HVRT_IPC_REFLECT_RFLAGS 576

#ifndef __ASSEMBLER__
#include <stdint.h>

/* A reflected Linux system call: the number and its six arguments as musl passed them. */
struct hvrt_args {
    uint64_t nr;
    uint64_t a[6];      /* rdi, rsi, rdx, r10, r8, r9 */
};

/* Set by _hv_start from the spawner's registers. */
extern uint64_t hvrt_ipc_va;
extern uint64_t hvrt_tsc_hz;

/* Called by _hv_start: registers the syscall entry, builds the Linux initial stack below
 * `top` and returns the stack pointer musl's _start expects (pointing at argc). */
uint64_t hvrt_init(uint64_t top);
/* An invocation (`call` on an object cap) with n argument words: the first
 * HV_MSG_REG_WORDS in registers, the rest in the IPC buffer. `out` (may be NULL) gets
 * the reply's registers. Returns the core's HV_* status. */
struct hv_msg;
uint64_t hvrt_invoke(uint64_t cptr, uint64_t label, unsigned n, const uint64_t *args, struct hv_msg *out);
/* The I/O base of the UART the console cap covers (COM1..COM4; COM1 if none answers). */
uint64_t hvrt_console_port(void);
/* Called by the reflection entry: serves one Linux system call, returns its rax. */
int64_t hvrt_dispatch(const struct hvrt_args *args);
#endif

#endif
