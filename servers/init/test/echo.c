/* SPDX-License-Identifier: MIT */
/* echo: init's restart test server: answers each call with its words + 1, crashes after ECHO_CRASH_AFTER. */
#include <stdint.h>
#include <stdio.h>

#include "hv/errors.h"
#include "hv/init_abi.h"
#include "hv/syscall.h"
#include "init_test.h"

int main(void)
{
    printf("echo: serving\n");
    fflush(stdout);
    unsigned served = 0;
    struct hv_msg m = { 0, 0, { 0, 0, 0, 0 } };
    uint64_t err = hv_recv(ECHO_SLOT_SERVICE, INIT_SLOT_REPLY, &m);
    for (;;) {
        if (err != HV_OK) {
            err = hv_recv(ECHO_SLOT_SERVICE, INIT_SLOT_REPLY, &m);
            continue;
        }
        if (served == ECHO_CRASH_AFTER) {
            printf("echo: crashing on purpose after %u requests\n", served);
            fflush(stdout);
            volatile uint64_t *volatile bad = (volatile uint64_t *)(uintptr_t)0x10;
            *bad = 1;
        }
        served++;
        struct hv_msg r = { hv_tag(0, 4, 0), 0, { m.w[0] + 1, m.w[1] + 1, m.w[2] + 1, m.w[3] + 1 } };
        m = r;
        err = hv_reply_recv(ECHO_SLOT_SERVICE, INIT_SLOT_REPLY, &m);
    }
}
