/* SPDX-License-Identifier: MIT */
/* client: init's restart test client: calls echo CLIENT_CALLS times, retrying calls cancelled by a restart. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "hv/errors.h"
#include "hv/syscall.h"
#include "init_test.h"

#define MAX_RETRIES 8u

int main(void)
{
    unsigned good = 0, cancelled = 0, errors = 0, bad_replies = 0;
    for (uint64_t i = 0; i < CLIENT_CALLS; i++) {
        for (unsigned attempt = 0; attempt <= MAX_RETRIES; attempt++) {
            struct hv_msg m = { hv_tag(1, 4, 0), 0, { i, 2 * i, 3 * i, 4 * i } };
            uint64_t err = hv_call(CLIENT_SLOT_ECHO, &m);
            if (err == HV_ERR_CANCELLED) {
                cancelled++;    /* echo died holding the call: it is being restarted */
                continue;
            }
            if (err != HV_OK) {
                errors++;
                printf("client: call %lu failed: error %lu\n", (unsigned long)i, (unsigned long)err);
            } else if (m.w[0] == i + 1 && m.w[1] == 2 * i + 1 && m.w[2] == 3 * i + 1 && m.w[3] == 4 * i + 1) {
                good++;
            } else {
                bad_replies++;
                printf("client: call %lu: wrong reply 0x%lx\n", (unsigned long)i, (unsigned long)m.w[0]);
            }
            break;
        }
    }
    printf("client: %u good replies of %u calls, %u cancelled and retried, %u errors, %u wrong\n", good,
           CLIENT_CALLS, cancelled, errors, bad_replies);
    fflush(stdout);
    exit(errors + bad_replies > 0 ? CLIENT_EXIT_ERRORS : (int)good);
}
