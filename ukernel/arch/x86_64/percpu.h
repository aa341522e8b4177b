/* SPDX-License-Identifier: MIT */
/* percpu: each CPU's private data block, reached through its GS base. */
#ifndef HV_ARCH_PERCPU_H
#define HV_ARCH_PERCPU_H

/* Offsets the assembly reads as %gs:OFFSET (checked against the struct below). */
#define PERCPU_SELF 0x00
#define PERCPU_KERNEL_STACK_TOP 0x18
#define PERCPU_USER_RSP 0x20
#define PERCPU_CURRENT_CTX_END 0x28

/* Mailbox states (struct percpu_mailbox.state). */
#define MAILBOX_IDLE 0u         /* free for a caller to claim */
#define MAILBOX_CLAIMED 1u      /* a caller is filling in fn/arg */
#define MAILBOX_PENDING 2u      /* posted; the owning CPU runs it on the call IPI */
#define MAILBOX_DONE 3u         /* ran; the caller collects it and frees the mailbox */

#ifndef __ASSEMBLER__

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tcb;

typedef void (*percpu_call_fn)(void *arg);

/* One request another CPU asks this CPU to run (see smp_call_post()). */
struct percpu_mailbox {
    percpu_call_fn fn;
    void *arg;
    volatile uint32_t state;
};

/*
 * Everything only one CPU touches (apart from its mailbox and online flag) lives
 * here. `self` must stay first: this_cpu() reads it as %gs:0, so one instruction
 * yields the block's ordinary address.
 */
struct percpu {
    struct percpu *self;
    unsigned index;             /* 0 = boot CPU; then the MADT's order */
    uint32_t apic_id;           /* local APIC ID (xAPIC, 8 bits) */
    volatile uint32_t online;   /* set by the CPU itself once it takes interrupts */
    volatile uint32_t need_resched;
    uint64_t kernel_stack_top;  /* top of this CPU's kernel stack */
    /* Scheduler state (kernel/sched.c, user_entry.S). */
    uint64_t user_rsp;          /* user RSP parked by the SYSCALL entry */
    uint64_t current_ctx_end;   /* end of the current thread's saved user context */
    struct tcb *current;
    uint64_t last_switch;       /* TSC at the last thread switch */
    struct tcb *volatile evict_request;   /* another CPU needs `current` off this CPU */
    uint64_t loaded_cr3;                  /* address space of `current` (0 in the idle loop) */
    uint64_t fs_base;                     /* what MSR_FS_BASE holds (only the exits write it) */
    uint64_t fpu_version;                 /* the FXSAVE image the x87/SSE registers hold (kernel/fpu.h) */
    uint64_t fpu_versions_made;           /* this CPU's count of image versions it handed out */
    struct percpu_mailbox mailbox;
};
_Static_assert(offsetof(struct percpu, self) == PERCPU_SELF, "%gs:0 is the self pointer");
_Static_assert(offsetof(struct percpu, kernel_stack_top) == PERCPU_KERNEL_STACK_TOP,
               "assembly offset");
_Static_assert(offsetof(struct percpu, user_rsp) == PERCPU_USER_RSP, "assembly offset");
_Static_assert(offsetof(struct percpu, current_ctx_end) == PERCPU_CURRENT_CTX_END,
               "assembly offset");

/*
 * Installs CPU `index`'s block as this CPU's GS base (once on each CPU, before
 * anything on it calls this_cpu()). The block starts zeroed but for the fields given.
 */
void percpu_install(unsigned index, uint32_t apic_id, uint64_t kernel_stack_top);

/* The block of CPU `index` (any CPU's, for the one that starts or calls it); NULL if out of range. */
struct percpu *percpu_of(unsigned index);

/* True once the boot CPU installed its block; before that only the boot CPU runs. */
extern volatile bool percpu_boot_cpu_installed;

/* The running CPU's block. Only after percpu_install() on this CPU. */
static inline struct percpu *this_cpu(void)
{
    struct percpu *self;
    __asm__ volatile("movq %%gs:0, %0" : "=r"(self));
    return self;
}

/*
 * The running CPU's index; usable from the first instruction of the core, so
 * shared code (console, timer interrupt) can call it before the boot CPU's block
 * exists: until then the boot CPU is the only one running.
 */
static inline unsigned this_cpu_index(void)
{
    return percpu_boot_cpu_installed ? this_cpu()->index : 0;
}

#endif /* __ASSEMBLER__ */

#endif
