/* SPDX-License-Identifier: MIT */
/* fault: the messages the core sends to a thread's fault endpoint, and how a handler replies. */
#ifndef HV_ABI_FAULT_H
#define HV_ABI_FAULT_H

/*
 * A faulting thread stops and its fault endpoint receives a call whose badge is
 * the fault endpoint cap's badge (so a handler serving many threads knows which)
 * and whose label says what happened:
 *
 *  HV_FAULT_PAGE       w0 = address, w1 = #PF error code, w2 = rip, w3 = rsp
 *  HV_FAULT_EXCEPTION  w0 = vector, w1 = error code, w2 = rip, w3 = rsp
 *  HV_FAULT_SYSCALL    w0 = rax (the unknown number), w1 = rip, w2 = rsp, w3 = rdi
 *  HV_FAULT_TIMEOUT    w0 = consumed_us of the SchedContext, w1 = rip
 *
 * Reply with label HV_FAULT_RESUME to restart the thread (length >= 2 sets
 * rip = w0, rsp = w1; length >= 3 sets rax = w2), or HV_FAULT_STOP (or no reply:
 * deleting the reply cap) to leave it stopped.
 */
enum hv_fault_label {
    HV_FAULT_NONE = 0,
    HV_FAULT_PAGE = 1,
    HV_FAULT_EXCEPTION = 2,
    HV_FAULT_SYSCALL = 3,
    HV_FAULT_TIMEOUT = 4,
};

enum hv_fault_reply_label {
    HV_FAULT_RESUME = 0,
    HV_FAULT_STOP = 1,
};

#endif
