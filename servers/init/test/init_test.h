/* SPDX-License-Identifier: MIT */
/* init_test: what init's restart test servers (echo, client) and test.manifest.txtpb agree on. */
#ifndef HV_INIT_TEST_H
#define HV_INIT_TEST_H

/* echo serves this many requests, then crashes (a write to address 0x10). */
#define ECHO_CRASH_AFTER 5u
/* client makes this many calls, each answered once. */
#define CLIENT_CALLS 15u
_Static_assert(CLIENT_CALLS == 3u * ECHO_CRASH_AFTER, "the client outlives two crashes of echo");
/* Slots from test.manifest.txtpb. */
#define ECHO_SLOT_SERVICE 16u
#define CLIENT_SLOT_ECHO 16u
/* client's exit code when a call failed with anything but HV_ERR_CANCELLED. */
#define CLIENT_EXIT_ERRORS 200

#endif
