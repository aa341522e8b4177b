/* SPDX-License-Identifier: MIT */
/* hvu: the small user-side library of the freestanding test programs: invocations, console, checks. */
#ifndef HV_TEST_USER_HVU_H
#define HV_TEST_USER_HVU_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/bootinfo.h"
#include "hv/errors.h"
#include "hv/fault.h"
#include "hv/ipc_buffer.h"
#include "hv/objects.h"
#include "hv/syscall.h"

/* Invokes object `cptr` with `label` and `n` argument words; results in *out (may be NULL). */
uint64_t hvu_invoke(uint64_t cptr, uint64_t label, unsigned n, const uint64_t *args, struct hv_msg *out);

/* Root-task helpers (CSpace = one flat CNode: cptr = slot). */
void hvu_init(const struct hv_bootinfo *bi);
/*
 * hvu_init(bi), then an endpoint (*ep) and a reply object (*reply): the start of a root
 * task that serves faults, VM exits or calls. A cap that could not be made is 0, so the
 * first receive on it fails (and with it the caller's check).
 */
void hvu_init_ep_reply(const struct hv_bootinfo *bi, uint64_t *ep, uint64_t *reply);
/* A free slot of the current pool (or of the root's own free range); 0 when none is left. */
uint64_t hvu_alloc_slot(void);
/* Retypes one object from the current pool's untyped (or the root's); returns its slot (0 on failure, error in *err). */
uint64_t hvu_retype(uint64_t type, uint64_t size_bits, uint64_t *err);
/* log2 of the bytes an object of `type` takes (size_bits: an untyped's size, a CNode's radix). */
unsigned hvu_object_bits(uint64_t type, uint64_t size_bits);

/*
 * A pool: one untyped carved from the root's memory and a run of the root's slots, from
 * which a group of objects is made and to which all of them return at once. Returning it
 * (hvu_pool_reset) revokes the untyped — every object made from it goes, in whichever
 * CNode its caps were — deletes every slot of the run, and proves the core agrees: the
 * core restarts an untyped's watermark at 0 once it has no children, so a retype of one
 * untyped as big as the whole pool must succeed.
 */
struct hvu_pool {
    uint64_t untyped;           /* root slot of the pool's untyped */
    unsigned size_bits;
    uint64_t used;              /* bytes handed out: the core's watermark, mirrored */
    uint64_t slot_first, slot_next, slot_end;
};
/* Carves a pool of 2^size_bits bytes and `slots` slots from the root's memory and slots (once). */
uint64_t hvu_pool_create(struct hvu_pool *p, unsigned size_bits, uint64_t slots);
/* Makes hvu_alloc_slot / hvu_retype draw from `p` (NULL: the root's own); returns the previous one. */
struct hvu_pool *hvu_pool_use(struct hvu_pool *p);
/* Returns everything made from `p`: revoke, delete the slots, check the core reset the watermark. */
uint64_t hvu_pool_reset(struct hvu_pool *p);
/* The root's own memory (bytes, mirrored from the core's watermarks) and slots not yet handed out. */
uint64_t hvu_free_bytes(void);
uint64_t hvu_free_slots(void);
/* Creates the root's page tables for `va` once (a frame mapped there and removed again). */
uint64_t hvu_prepare_va(uint64_t va);
uint64_t hvu_copy(uint64_t src, uint64_t rights, uint64_t *dest_out);
uint64_t hvu_mint(uint64_t src, uint64_t rights, uint64_t badge, uint64_t *dest_out);
uint64_t hvu_delete(uint64_t slot);
uint64_t hvu_revoke(uint64_t slot);
/*
 * Put root cap `src` into slot `dest` of another CNode, named by its unguarded cap
 * `cnode` of 2^radix slots: a copy with `rights`, a mint with `rights` and `badge`, or a move.
 */
uint64_t hvu_give_copy(uint64_t cnode, unsigned radix, uint64_t dest, uint64_t src, uint64_t rights);
uint64_t hvu_give_mint(uint64_t cnode, unsigned radix, uint64_t dest, uint64_t src, uint64_t rights,
                       uint64_t badge);
uint64_t hvu_give_move(uint64_t cnode, unsigned radix, uint64_t dest, uint64_t src);
/* Maps a fresh frame at va (creating page tables as needed); returns the frame slot or 0. */
uint64_t hvu_map_new_frame(uint64_t va, bool writable);

/*
 * Maps frame cap `frame` at `va` in the address space `pml4`, creating the
 * paging structures it needs (attributes: HV_MAP_*).
 */
uint64_t hvu_map_frame_into(uint64_t pml4, uint64_t frame, uint64_t va, uint64_t attributes);

/* A program loaded from a boot module into a fresh address space. */
struct hvu_image {
    uint64_t pml4;          /* its PML4 cap (in the root's CNode) */
    uint64_t entry;
    uint64_t stack_top;
    uint64_t ipc_frame;     /* frame cap of its IPC buffer */
    uint64_t ipc_va;
};
#define HVU_SPAWN_STACK_TOP 0x00007fff00000000ull
#define HVU_SPAWN_STACK_PAGES 8u
#define HVU_SPAWN_IPC_VA 0x00007fff00001000ull
#define HVU_SPAWN_VA_MIN 0x10000ull                 /* where a loaded image's segments may lie */
#define HVU_SPAWN_VA_END 0x0000500000000000ull
#define HVU_SCRATCH_VA 0x0000600000000000ull        /* where the root fills pages of a loaded image */
/* Maps boot module `name` read-only in the root (once; later calls return the same mapping). */
uint64_t hvu_map_module(const struct hv_bootinfo *bi, const char *name, const uint8_t **bytes, uint64_t *size);
/* Loads the static ELF in boot module `name` (checked with the core's own ELF rules). */
uint64_t hvu_load_module(const struct hv_bootinfo *bi, const char *name, struct hvu_image *img);

/* Starts a thread in the root's CSpace and VSpace running fn(arg) at `priority`. */
struct hvu_thread {
    uint64_t tcb;
    uint64_t sc;
    uint64_t ipc_va;
};
uint64_t hvu_thread_start(struct hvu_thread *t, void (*fn)(uint64_t), uint64_t arg,
                          unsigned priority, uint64_t fault_ep, uint64_t budget_us,
                          uint64_t period_us);

/* Console through an IOPort cap on COM1, and the emulator exit ports. */
void hvu_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void hvu_check(bool ok, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
__attribute__((noreturn)) void hvu_finish(void);

/* The calling thread's IPC buffer. */
struct hv_ipc_buffer *hvu_ipc(void);

/* What a test guest reported over its console: PASS:/FAIL: lines and its SUMMARY. */
struct hvu_guest_report {
    unsigned passes, fails;
    bool summary_seen;
};

/*
 * Takes one line of a test guest's console: a PASS:/FAIL: line becomes this program's
 * own check of that name; a SUMMARY line is checked ("guest.summary") against the lines
 * counted. Returns false for any other line, which the caller handles.
 */
bool hvu_guest_line(struct hvu_guest_report *r, const char *line);

/*
 * Collects a test guest's console one byte at a time in line[0, max): true when a line
 * is complete (at '\n', or full: that byte is dropped), NUL-terminated in `line`, with
 * *len back at 0 for the next one.
 */
bool hvu_guest_byte(char *line, unsigned *len, unsigned max, char c);

#endif
