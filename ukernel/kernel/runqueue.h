/* SPDX-License-Identifier: MIT */
/* runqueue: one CPU's ready threads, a FIFO per priority with a bitmap of non-empty levels. */
#ifndef HV_KERNEL_RUNQUEUE_H
#define HV_KERNEL_RUNQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../object/tcb.h"
#include "config.h"

#define SCHED_PRIORITIES 256
#define RUNQUEUE_BITMAP_WORDS (SCHED_PRIORITIES / 64)

_Static_assert(SCHED_PRIORITIES == 1u << (8 * sizeof(((struct tcb *)0)->priority)),
               "every value of tcb.priority is a level");

/*
 * Invariants: bit p of the bitmap is set iff head[p] != NULL; a thread is on at most
 * one queue (its q_next/q_prev are the links: run, endpoint or notification queue), and
 * on this one iff it is RUNNABLE and q_prev != NULL or it is head[priority]. The running thread stays queued, at the head of its level. A
 * thread that is not RUNNABLE is on no run queue (every blocking path calls sched_remove).
 * Only the CPU holding the kernel lock touches any queue (kernel/sched.c and the IPC
 * fast path, kernel/fastpath.c).
 */
struct run_queue {
    struct tcb *head[SCHED_PRIORITIES];
    struct tcb *tail[SCHED_PRIORITIES];
    uint64_t bitmap[RUNQUEUE_BITMAP_WORDS];
};

extern struct run_queue sched_queues[CONFIG_MAX_CPUS];

static inline bool runqueue_contains(const struct run_queue *q, const struct tcb *t)
{
    /* Only a RUNNABLE thread can be here: a blocked one uses the same links on an endpoint
     * or notification queue (a second sender there has q_prev != NULL). */
    return t->state == THREAD_RUNNABLE && (t->q_prev != NULL || q->head[t->priority] == t);
}

/* Appends `t` (on no queue) at the tail of its level. */
static inline void runqueue_append(struct run_queue *q, struct tcb *t)
{
    unsigned p = t->priority;
    struct tcb *tail = q->tail[p];
    t->q_next = NULL;
    t->q_prev = tail;
    if (tail != NULL)
        tail->q_next = t;
    else
        q->head[p] = t;
    q->tail[p] = t;
    q->bitmap[p / 64] |= 1ull << (p % 64);
}

/* Unlinks `t`, which is on `q`. */
static inline void runqueue_unlink(struct run_queue *q, struct tcb *t)
{
    unsigned p = t->priority;
    if (t->q_prev != NULL)
        t->q_prev->q_next = t->q_next;
    else
        q->head[p] = t->q_next;
    if (t->q_next != NULL)
        t->q_next->q_prev = t->q_prev;
    else
        q->tail[p] = t->q_prev;
    t->q_next = NULL;
    t->q_prev = NULL;
    if (q->head[p] == NULL)
        q->bitmap[p / 64] &= ~(1ull << (p % 64));
}

/* The thread the scheduler picks: the head of the highest non-empty level (NULL: none). */
static inline struct tcb *runqueue_highest(const struct run_queue *q)
{
    for (int w = RUNQUEUE_BITMAP_WORDS - 1; w >= 0; w--) {
        if (q->bitmap[w] != 0) {
            unsigned bit = 63u - (unsigned)__builtin_clzll(q->bitmap[w]);
            return q->head[(unsigned)w * 64u + bit];
        }
    }
    return NULL;
}

#endif
