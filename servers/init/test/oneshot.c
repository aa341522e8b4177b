/* SPDX-License-Identifier: MIT */
/* oneshot: init's RESTART_ALWAYS test server: answers one call (its words + 1), then exits cleanly. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "hv/errors.h"
#include "hv/init_abi.h"
#include "hv/syscall.h"
#include "init_test.h"

int main(void)
{
    struct hv_msg m = { 0, 0, { 0, 0, 0, 0 } };
    while (hv_recv(ECHO_SLOT_SERVICE, INIT_SLOT_REPLY, &m) != HV_OK)
        ;
    struct hv_msg r = { hv_tag(0, 4, 0), 0, { m.w[0] + 1, m.w[1] + 1, m.w[2] + 1, m.w[3] + 1 } };
    uint64_t err = hv_send(INIT_SLOT_REPLY, &r);    /* a send on a Reply object answers its call */
    printf("oneshot: answered call %lu (error %lu), exiting\n", (unsigned long)m.w[0], (unsigned long)err);
    fflush(stdout);
    exit(err == HV_OK ? 0 : 1);
}
