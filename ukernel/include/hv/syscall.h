/* SPDX-License-Identifier: MIT */
/* syscall: system call numbers, register convention, message tags and user-side wrappers. */
#ifndef HV_ABI_SYSCALL_H
#define HV_ABI_SYSCALL_H

#include <stdint.h>

/*
 * System calls use the SYSCALL instruction. The core's numbers live in their own
 * range so it can tell them from Linux system calls that musl issues inline: any
 * other number is *reflected* to the thread's registered user-mode entry (see
 * ipc_buffer.h, reflect_*) or, if none is registered, becomes an unknown-syscall
 * fault message to the thread's fault endpoint.
 *
 * In:  rax = HV_SYS_*, rdi = capability pointer, rsi = message tag,
 *      rdx, r8, r9, r10 = message words 0..3, r12 = reply cap pointer (recv / reply_recv)
 * Out: rax = enum hv_error, rsi = message tag, rdi = badge of the sender,
 *      rdx, r8, r9, r10 = message words 0..3.
 * rcx and r11 are clobbered (SYSCALL itself uses them); everything else is preserved.
 * Words 4 and up travel in the IPC buffer.
 */
#define HV_SYS_BASE 0x48560000u     /* "HV": far above any Linux number, incl. x32 */
#define HV_SYS_CALL (HV_SYS_BASE + 1)
#define HV_SYS_REPLY_RECV (HV_SYS_BASE + 2)
#define HV_SYS_SEND (HV_SYS_BASE + 3)
#define HV_SYS_RECV (HV_SYS_BASE + 4)
#define HV_SYS_SIGNAL (HV_SYS_BASE + 5)
#define HV_SYS_WAIT (HV_SYS_BASE + 6)
#define HV_SYS_YIELD (HV_SYS_BASE + 7)
#define HV_SYS_NB_SEND (HV_SYS_BASE + 8)    /* send that never blocks (drops if no receiver) */
#define HV_SYS_POLL (HV_SYS_BASE + 9)       /* wait that never blocks */
#define HV_SYS_FIRST HV_SYS_CALL
#define HV_SYS_LAST HV_SYS_POLL

#define HV_MSG_REG_WORDS 4          /* words carried in registers (the fast path) */
#define HV_MSG_MAX_WORDS 64         /* words per message in all */
#define HV_MSG_MAX_CAPS 3           /* capabilities transferred per message */

/* Message tag: | label (52) | caps (2) | length (7) | reserved (3) | */
#define HV_TAG_LENGTH_SHIFT 3
#define HV_TAG_LENGTH_MASK 0x7fu
#define HV_TAG_CAPS_SHIFT 10
#define HV_TAG_CAPS_MASK 0x3u
#define HV_TAG_LABEL_SHIFT 12

static inline uint64_t hv_tag(uint64_t label, unsigned length, unsigned caps)
{
    return (label << HV_TAG_LABEL_SHIFT) | ((uint64_t)(caps & HV_TAG_CAPS_MASK) << HV_TAG_CAPS_SHIFT) |
           ((uint64_t)(length & HV_TAG_LENGTH_MASK) << HV_TAG_LENGTH_SHIFT);
}
static inline uint64_t hv_tag_label(uint64_t tag) { return tag >> HV_TAG_LABEL_SHIFT; }
static inline unsigned hv_tag_length(uint64_t tag)
{
    return (unsigned)(tag >> HV_TAG_LENGTH_SHIFT) & HV_TAG_LENGTH_MASK;
}
static inline unsigned hv_tag_caps(uint64_t tag)
{
    return (unsigned)(tag >> HV_TAG_CAPS_SHIFT) & HV_TAG_CAPS_MASK;
}

/* Register image of a message as it crosses the system call boundary. */
struct hv_msg {
    uint64_t tag;
    uint64_t badge;
    uint64_t w[HV_MSG_REG_WORDS];
};

#ifndef HV_KERNEL
/* One system call: the only place user space touches the ABI registers. */
static inline uint64_t hv_syscall(uint64_t nr, uint64_t cptr, uint64_t reply, struct hv_msg *m)
{
    /* Explicit-register variables: cppcheck mistakes their initialisers for dead code. */
    // cppcheck-suppress constStatement
    register uint64_t r8 __asm__("r8") = m->w[1];
    // cppcheck-suppress constStatement
    register uint64_t r9 __asm__("r9") = m->w[2];
    // cppcheck-suppress constStatement
    register uint64_t r10 __asm__("r10") = m->w[3];
    register uint64_t r12 __asm__("r12") = reply;
    uint64_t rax = nr, rdi = cptr, rsi = m->tag, rdx = m->w[0];
    __asm__ volatile("syscall"
                     : "+a"(rax), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+r"(r8), "+r"(r9), "+r"(r10)
                     : "r"(r12)
                     : "rcx", "r11", "memory");
    m->tag = rsi;
    m->badge = rdi;
    m->w[0] = rdx;
    m->w[1] = r8;
    m->w[2] = r9;
    m->w[3] = r10;
    return rax;
}

static inline uint64_t hv_call(uint64_t cptr, struct hv_msg *m) { return hv_syscall(HV_SYS_CALL, cptr, 0, m); }
static inline uint64_t hv_send(uint64_t cptr, struct hv_msg *m) { return hv_syscall(HV_SYS_SEND, cptr, 0, m); }
static inline uint64_t hv_nb_send(uint64_t cptr, struct hv_msg *m) { return hv_syscall(HV_SYS_NB_SEND, cptr, 0, m); }
static inline uint64_t hv_recv(uint64_t cptr, uint64_t reply, struct hv_msg *m)
{
    return hv_syscall(HV_SYS_RECV, cptr, reply, m);
}
static inline uint64_t hv_reply_recv(uint64_t cptr, uint64_t reply, struct hv_msg *m)
{
    return hv_syscall(HV_SYS_REPLY_RECV, cptr, reply, m);
}
static inline uint64_t hv_signal(uint64_t cptr)
{
    struct hv_msg m = { 0, 0, { 0, 0, 0, 0 } };
    return hv_syscall(HV_SYS_SIGNAL, cptr, 0, &m);
}
/* Waits on a notification; *bits receives the signalled word (badges OR-ed). */
static inline uint64_t hv_wait(uint64_t cptr, uint64_t *bits)
{
    struct hv_msg m = { 0, 0, { 0, 0, 0, 0 } };
    uint64_t err = hv_syscall(HV_SYS_WAIT, cptr, 0, &m);
    *bits = m.badge;
    return err;
}
static inline uint64_t hv_poll(uint64_t cptr, uint64_t *bits)
{
    struct hv_msg m = { 0, 0, { 0, 0, 0, 0 } };
    uint64_t err = hv_syscall(HV_SYS_POLL, cptr, 0, &m);
    *bits = m.badge;
    return err;
}
static inline void hv_yield(void)
{
    struct hv_msg m = { 0, 0, { 0, 0, 0, 0 } };
    (void)hv_syscall(HV_SYS_YIELD, 0, 0, &m);
}
#endif /* !HV_KERNEL */

#endif
