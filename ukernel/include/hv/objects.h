/* SPDX-License-Identifier: MIT */
/* objects: kernel object types, their sizes, capability rights and invocation labels. */
#ifndef HV_ABI_OBJECTS_H
#define HV_ABI_OBJECTS_H

/* Object types a capability can name. Retype creates all but the control caps. */
enum hv_object_type {
    HV_OBJ_NULL = 0,
    HV_OBJ_UNTYPED = 1,
    HV_OBJ_CNODE = 2,
    HV_OBJ_TCB = 3,
    HV_OBJ_SCHED_CONTEXT = 4,
    HV_OBJ_ENDPOINT = 5,
    HV_OBJ_NOTIFICATION = 6,
    HV_OBJ_REPLY = 7,
    HV_OBJ_PML4 = 8,
    HV_OBJ_PDPT = 9,
    HV_OBJ_PD = 10,
    HV_OBJ_PT = 11,
    HV_OBJ_FRAME = 12,              /* 4 KiB, or 2 MiB: size_bits HV_LARGE_FRAME_BITS */
    HV_OBJ_IRQ_CONTROL = 13,        /* authority to create IRQ handler caps */
    HV_OBJ_IRQ_HANDLER = 14,
    HV_OBJ_IOPORT_CONTROL = 15,     /* authority to create I/O port range caps */
    HV_OBJ_IOPORT = 16,
    HV_OBJ_GUEST_MEMORY = 17,       /* a guest-physical address space (nested page tables) */
    HV_OBJ_VCPU = 18,               /* a virtual CPU (VMCB / VMCS), run by a bound TCB */
    HV_OBJ_TYPE_COUNT
};

/* log2 of each retypeable object's size in bytes. CNodes add their radix. */
#define HV_UNTYPED_MIN_BITS 4
#define HV_UNTYPED_MAX_BITS 47
#define HV_CNODE_SLOT_BITS 6            /* 64 bytes per slot */
#define HV_CNODE_MIN_RADIX 1
#define HV_CNODE_MAX_RADIX 16
#define HV_TCB_BITS 11                  /* 2 KiB */
#define HV_SCHED_CONTEXT_BITS 7
#define HV_ENDPOINT_BITS 5
#define HV_NOTIFICATION_BITS 7         /* 128 bytes: 48 of signal state + 32 of timer (80 > 64) */
#define HV_REPLY_BITS 5
#define HV_PAGE_TABLE_BITS 12           /* PML4, PDPT, PD, PT */
#define HV_FRAME_BITS 12
/*
 * A frame is retyped with size_bits 0 or HV_FRAME_BITS (4 KiB) or HV_LARGE_FRAME_BITS
 * (2 MiB, placed at a 2 MiB-aligned address of the untyped); any other size is
 * HV_ERR_RANGE. A 2 MiB ("large") frame is one object and one cap: FRAME_MAP puts it in
 * a PD entry (PS) at a 2 MiB-aligned va — the PD must be there (HV_ERR_MISSING_TABLE)
 * and no PT in that entry (HV_ERR_PAGE_SIZE); GUEST_MEMORY_MAP puts it at a gfn that is
 * a multiple of 512 as a 2 MiB nested leaf. GET_ADDRESS gives its base.
 */
#define HV_LARGE_FRAME_BITS 21
/*
 * GuestMemory and VCPU are retyped with a size of the caller's choice in these
 * ranges; the memory beyond each object's fixed part is its pool:
 *  - GuestMemory: page 0 the object, page 1 the root table, the rest the pool its
 *    nested page tables are taken from (a MAP that needs a table from an empty pool
 *    fails with HV_ERR_NOT_ENOUGH_MEMORY; tables are kept until the object goes);
 *  - VCPU: page 0 the object, then the backend's pages (VMCB + I/O and MSR
 *    permission maps, or VMCS + bitmaps), the rest the shadow-paging pool.
 */
#define HV_GUEST_MEMORY_MIN_BITS 15     /* 32 KiB: object, root, six pool tables (one path needs three) */
#define HV_GUEST_MEMORY_MAX_BITS 24
#define HV_VCPU_MIN_BITS 15             /* 32 KiB */
#define HV_VCPU_MAX_BITS 24
#define HV_GUEST_GFN_LIMIT (1ull << 36) /* 4-level nested tables: 48-bit guest-physical */

/* GuestMemory mapping rights (GUEST_MEMORY_MAP); READ is required (neither NPT nor
 * EPT maps write- or execute-only), WRITE needs the frame cap's WRITE. */
#define HV_GUEST_READ (1u << 0)
#define HV_GUEST_WRITE (1u << 1)
#define HV_GUEST_EXECUTE (1u << 2)
#define HV_GUEST_RIGHTS_ALL 7u

/* VCPU_SET_GUEST_MEMORY modes. */
#define HV_VCPU_MODE_NESTED 0u          /* GuestMemory is the NPT/EPT of the vCPU */
#define HV_VCPU_MODE_SHADOW 1u          /* the core's shadow page tables (vTLB) */
/* HV_EXIT_INVALID_STATE qualifications the core itself reports (else the backend's). */
#define HV_VCPU_INVALID_NO_MEMORY 0x100u    /* no GuestMemory bound */

/* Capability rights. Derivation (mint, copy) can only keep or drop rights. */
#define HV_RIGHT_READ (1u << 0)         /* receive; map readable; read registers */
#define HV_RIGHT_WRITE (1u << 1)        /* send; map writable; configure */
#define HV_RIGHT_GRANT (1u << 2)        /* transfer capabilities through IPC */
#define HV_RIGHT_GRANT_REPLY (1u << 3)  /* call: receiver may answer (reply cap) */
#define HV_RIGHTS_ALL 0xfu

/* Frame mapping attributes (FRAME_MAP word 2). */
#define HV_MAP_EXECUTABLE (1u << 0)
#define HV_MAP_UNCACHED (1u << 1)

/* Invocation labels: the label of a call on an object capability. */
enum hv_invocation {
    HV_INV_NONE = 0,
    /* Untyped: (type, size_bits, dest_cnode, dest_index, dest_depth, count) */
    HV_INV_UNTYPED_RETYPE = 1,
    /* CNode (invoked on the destination CNode): (dest_index, dest_depth, src_root, src_index, src_depth, ...) */
    HV_INV_CNODE_COPY = 2,          /* + rights */
    HV_INV_CNODE_MINT = 3,          /* + rights, badge */
    HV_INV_CNODE_MOVE = 4,
    HV_INV_CNODE_DELETE = 5,        /* (index, depth) */
    HV_INV_CNODE_REVOKE = 6,        /* (index, depth) */
    /* TCB */
    HV_INV_TCB_CONFIGURE = 10,      /* (fault_ep, cspace_root, vspace_root, ipc_buffer_frame, ipc_buffer_va) */
    HV_INV_TCB_WRITE_REGISTERS = 11,/* (rip, rsp, rflags, arg0 (rdi), arg1 (rsi)) */
    HV_INV_TCB_READ_REGISTERS = 12, /* -> rip, rsp, rflags, rax, rdi, rsi */
    HV_INV_TCB_RESUME = 13,
    HV_INV_TCB_SUSPEND = 14,
    HV_INV_TCB_SET_AFFINITY = 15,   /* (cpu) */
    HV_INV_TCB_SET_FS_BASE = 16,    /* (fs_base) */
    HV_INV_TCB_SET_SYSCALL_ENTRY = 17, /* (user entry for reflected Linux system calls, 0 = none) */
    HV_INV_TCB_BIND_NOTIFICATION = 18, /* (notification cptr) */
    HV_INV_TCB_SET_PRIORITY = 19,   /* (priority) authority: the caller's own priority bounds it */
    /* SchedContext */
    HV_INV_SC_CONFIGURE = 20,       /* (budget_us, period_us) */
    HV_INV_SC_BIND = 21,            /* (tcb cptr) */
    HV_INV_SC_UNBIND = 22,
    HV_INV_SC_CONSUMED = 23,        /* -> consumed_us */
    /* Paging structures: map into a PML4 at a virtual address */
    HV_INV_PAGE_TABLE_MAP = 30,     /* (pml4 cptr, va) for PDPT/PD/PT */
    HV_INV_PAGE_TABLE_UNMAP = 31,
    HV_INV_FRAME_MAP = 32,          /* (pml4 cptr, va, attributes); rights from the cap */
    HV_INV_FRAME_UNMAP = 33,
    HV_INV_FRAME_GET_ADDRESS = 34,  /* -> physical address */
    /*
     * Device authority. IRQ numbers: 0-15 are ISA IRQs, translated through the
     * ACPI MADT's interrupt source overrides to an I/O APIC input (GSI; e.g. the
     * PIT's IRQ 0 is GSI 2 on QEMU and Bochs) with the override's trigger and
     * polarity (default: same GSI, edge, active high; an ISA IRQ whose input
     * another one was moved onto has none: HV_ERR_RANGE). 16-63 are GSIs (level,
     * active low unless an override says otherwise). One IRQ_HANDLER cap per line
     * (GSI): a second GET fails with HV_ERR_ILLEGAL_OPERATION until every cap of
     * the first is deleted; the handler cap itself may be copied. Handler
     * invocations need WRITE on the handler cap.
     * Delivery: the line starts masked; SET_NOTIFICATION binds it (the core keeps
     * a copy of the notification cap, a child of the one given, which needs
     * WRITE); ACK unmasks it (needs a binding, else HV_ERR_ILLEGAL_OPERATION).
     * Each interrupt signals the notification with that cap's badge, or with
     * 1 << (irq % 64) if it is unbadged; a level-triggered line is masked at each
     * interrupt until the next ACK, an edge-triggered one stays unmasked. CLEAR
     * unbinds and masks. Deleting the last handler cap masks, unbinds and frees
     * the line; revoking the bound notification cap unbinds it.
     */
    HV_INV_IRQ_CONTROL_GET = 40,    /* (irq, dest_cnode, dest_index, dest_depth) -> gsi */
    HV_INV_IRQ_HANDLER_SET_NOTIFICATION = 41, /* (notification cptr) */
    HV_INV_IRQ_HANDLER_ACK = 42,
    HV_INV_IRQ_HANDLER_CLEAR = 43,
    HV_INV_IOPORT_CONTROL_ISSUE = 44, /* (first, last, dest_cnode, dest_index, dest_depth) */
    HV_INV_IOPORT_IN = 45,          /* (port, width 1/2/4) -> value */
    HV_INV_IOPORT_OUT = 46,         /* (port, width, value) */
    /*
     * GuestMemory (invocations need WRITE, QUERY needs READ). A gfn is a guest
     * frame number (gpa >> 12). MAP enters a Frame cap at a gfn with HV_GUEST_*
     * rights, never more than the frame cap has; the frame cap is then "mapped"
     * (one mapping per cap, as FRAME_MAP: map copies to map a frame twice) and
     * deleting or revoking it unmaps it and flushes every vCPU's guest TLB.
     * Errors: gfn >= size (HV_ERR_RANGE), frame cap already mapped or gfn in use
     * (HV_ERR_ALREADY_MAPPED), not a frame (HV_ERR_WRONG_TYPE), rights
     * (HV_ERR_INSUFFICIENT_RIGHTS / HV_ERR_INVALID_ARGUMENT), table pool empty
     * (HV_ERR_NOT_ENOUGH_MEMORY). A gfn is a frame number: a 4 KiB frame has no misaligned
     * gfn. A 2 MiB frame maps at a gfn that is a multiple of 512 (else HV_ERR_ALIGNMENT) as
     * one 2 MiB leaf in the nested PD, for gfns [gfn, gfn + 512): a table already in that PD
     * entry (the core keeps tables once made, so any 4 KiB frame ever mapped in the 2 MiB
     * region) is HV_ERR_PAGE_SIZE, as is a 4 KiB frame under a 2 MiB leaf; a backend
     * whose nested tables have no 2 MiB leaves (EPT without them) gives HV_ERR_NOT_SUPPORTED.
     * QUERY of any gfn inside a 2 MiB leaf gives that gfn's hpa (leaf base + offset).
     * Retype needs a virtualization backend (else HV_ERR_NOT_SUPPORTED); the tables
     * are in its nested format (AMD NPT or Intel EPT), the root usable as is.
     */
    HV_INV_GUEST_MEMORY_MAP = 50,   /* (frame cptr, gfn, HV_GUEST_* rights) */
    HV_INV_GUEST_MEMORY_UNMAP = 51, /* (frame cptr): the cap's mapping here; HV_ERR_NOT_MAPPED if none */
    HV_INV_GUEST_MEMORY_QUERY = 52, /* (gfn) -> hpa, HV_GUEST_* rights; HV_ERR_NOT_MAPPED */
    HV_INV_GUEST_MEMORY_SET_SIZE = 53, /* (gfn count, 1..HV_GUEST_GFN_LIMIT; default the limit): only while nothing is mapped (HV_ERR_BUSY) */
    /*
     * VCPU (WRITE needed, READ_STATE needs READ). Guest state travels in IPC-buffer
     * words HV_VCPU_STATE_WORD.. as struct hv_vcpu_state (hv/vcpu.h), its first word
     * the transfer mask. State access and configuration need the vCPU not running:
     * unbound, or its thread stopped (in a VM exit, suspended): else HV_ERR_BUSY.
     */
    HV_INV_VCPU_BIND_TCB = 60,      /* (tcb cptr; 0 unbinds): the TCB runs this guest when resumed */
    HV_INV_VCPU_SET_GUEST_MEMORY = 61, /* (guest memory cptr, HV_VCPU_MODE_*) */
    HV_INV_VCPU_SET_TRANSFER = 62,  /* (exit reason, HV_MTD_* groups the exit message carries) */
    HV_INV_VCPU_READ_STATE = 63,    /* (HV_MTD_* groups) -> state in the caller's IPC buffer */
    HV_INV_VCPU_WRITE_STATE = 64,   /* state (with its mtd) in the message words at HV_VCPU_STATE_WORD */
    HV_INV_VCPU_SET_EXCEPTION_INTERCEPTS = 65, /* (bit per guest exception vector 0-31) */
    HV_INV_VCPU_RECALL = 66,        /* force an HV_EXIT_RECALL exit soon (any thread, any CPU) */
    HV_INV_VCPU_READ_COUNTERS = 67, /* needs READ; any time, running or not -> totals in w0-w3,
                                       struct hv_vcpu_counters in the IPC buffer (hv/vcpu.h) */
    /* The guest's SSE registers and MXCSR (struct hv_vcpu_vec at HV_VCPU_VEC_WORD, hv/vcpu.h),
     * from its thread's FXSAVE area. Errors: unbound (no thread holds the state)
     * HV_ERR_ILLEGAL_OPERATION; running HV_ERR_BUSY; WRITE shorter than the struct
     * HV_ERR_TRUNCATED, MXCSR above 32 bits or with a bit outside the CPU's MXCSR_MASK
     * HV_ERR_INVALID_ARGUMENT (FXRSTOR would fault on it). */
    HV_INV_VCPU_READ_VEC = 68,      /* needs READ -> struct hv_vcpu_vec in the caller's IPC buffer */
    HV_INV_VCPU_WRITE_VEC = 69,     /* struct hv_vcpu_vec in the message words at HV_VCPU_VEC_WORD */
    /*
     * Notification. A `call` on a notification cap with label 0 signals it (as send
     * does); any other label is an invocation. SET_TIMER is the core's only timer,
     * mechanism only: once the TSC (the time base of bootinfo's tsc_hz) reaches
     * deadline_tsc, the core signals the notification with `bits` (OR-ed into its
     * word, waking a waiter or a bound TCB blocked in recv) — once, then the timer is
     * disarmed. Arming again replaces the previous deadline (whether or not it had
     * fired); deadline 0 disarms (bits are then ignored); a deadline already reached
     * signals at once, inside the invocation. Needs WRITE on the cap (else
     * HV_ERR_INSUFFICIENT_RIGHTS); bits == 0 with a deadline is HV_ERR_INVALID_ARGUMENT;
     * fewer than two words HV_ERR_TRUNCATED. Resolution: expiry is checked at every
     * CPU's timer tick (1 kHz each), so a signal arrives at or after its deadline and
     * normally within 1 ms of it. The deadline lives in the object (no memory is
     * taken); deleting the last cap of an armed notification disarms it.
     */
    HV_INV_NOTIFICATION_SET_TIMER = 70, /* (deadline_tsc, bits) */
};

#endif
