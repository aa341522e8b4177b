/* SPDX-License-Identifier: MIT */
/* hostile: a program that issues random system calls and invocations with random arguments forever. */
#include "fuzz_layout.h"
#include "hvu.h"
#include "../common/xorshift.h"

static uint64_t state;                  /* xorshift64*: deterministic from the seed the root gives us */

static uint64_t rnd(void)
{
    return xorshift64s(&state);
}

/* Mostly plausible values (small slot numbers, types, sizes), sometimes anything. */
static uint64_t plausible(void)
{
    uint64_t r = rnd();
    switch (r % 8) {
    case 0: return rnd();
    case 1: return r >> 40;
    case 2: return HV_OBJ_TYPE_COUNT + (r >> 60);
    case 3: return 64;
    case 4: return (r >> 8) & 0xfffff000ull;
    default: return (r >> 8) % 20;
    }
}

static uint64_t random_cptr(void)
{
    uint64_t r = rnd() % 10;
    if (r < 7)
        return rnd() % 12;
    if (r < 9)
        return rnd() % 256;
    return rnd();
}

static const uint64_t syscalls[] = {
    HV_SYS_CALL, HV_SYS_CALL, HV_SYS_CALL, HV_SYS_CALL, HV_SYS_CALL, HV_SYS_CALL,
    HV_SYS_SEND, HV_SYS_NB_SEND, HV_SYS_SIGNAL, HV_SYS_POLL, HV_SYS_YIELD,
    HV_SYS_BASE + 77,   /* out of the core's range: a clean error */
};

void user_main(uint64_t arg);

void user_main(uint64_t arg)
{
    (void)arg;
    struct fuzz_shared *sh = (struct fuzz_shared *)(uintptr_t)HOSTILE_SHARED_VA;
    struct hv_ipc_buffer *buf = (struct hv_ipc_buffer *)(uintptr_t)HVU_SPAWN_IPC_VA;
    state = sh->seed + sh->restarts * 0x9e3779b97f4a7c15ull + 1;

    for (;;) {
        uint64_t r = rnd();
        uint64_t nr = syscalls[r % (sizeof(syscalls) / sizeof(syscalls[0]))];
        unsigned special = (unsigned)(rnd() % 1000);
        if (special < 5) {
            nr = rnd() % 400;   /* a Linux number: the core makes it a fault message */
        } else if (special < 10) {
            *(volatile uint64_t *)(uintptr_t)(rnd() & 0x00007ffffffff000ull) = r;  /* wild write */
        } else if (special < 12) {
            nr = (rnd() & 1) ? HV_SYS_RECV : HV_SYS_WAIT;   /* may block forever */
        }
        struct hv_msg m;
        m.tag = hv_tag(rnd() % 64, (unsigned)(rnd() % 80), (unsigned)(rnd() % 4));
        m.badge = 0;
        for (unsigned i = 0; i < HV_MSG_REG_WORDS; i++)
            m.w[i] = plausible();
        for (unsigned i = HV_MSG_REG_WORDS; i < HV_MSG_MAX_WORDS; i++)
            buf->msg[i] = plausible();
        for (unsigned i = 0; i < HV_MSG_MAX_CAPS; i++)
            buf->send_caps[i] = random_cptr();
        buf->recv_cnode = random_cptr();
        buf->recv_index = plausible();
        buf->recv_depth = plausible();
        uint64_t err = hv_syscall(nr, random_cptr(), random_cptr(), &m);
        sh->results[err < FUZZ_ERROR_KINDS ? err : FUZZ_ERROR_KINDS - 1]++;
        sh->iterations++;
    }
}
