/* SPDX-License-Identifier: MIT */
/* init_abi: the CSpace slots init fills in every server below the manifest's (HV_MANIFEST_FIRST_SLOT). */
#ifndef HV_INIT_ABI_H
#define HV_INIT_ABI_H

/*
 * A server's CSpace is one CNode of 2^INIT_SERVER_CNODE_RADIX slots whose guard makes
 * every cptr the plain slot number (libhvrt/include/hv/hvrt.h). Slots 1..3 follow the
 * hvrt convention; slot 4 is the server's Reply object (for hv_recv / hv_reply_recv).
 * Slots 16 and up are exactly the manifest's capabilities.
 */
#define INIT_SERVER_CNODE_RADIX 12u     /* HV_MANIFEST_SLOT_LIMIT = 4096 slots */
#define INIT_SLOT_TCB 1u                /* HVRT_SLOT_TCB: its own TCB */
#define INIT_SLOT_CONSOLE 2u            /* HVRT_SLOT_CONSOLE: COM1, ports 0x3f8..0x3ff */
#define INIT_SLOT_EXIT_NTFN 3u          /* HVRT_SLOT_EXIT_NTFN: tells init of a clean exit */
#define INIT_SLOT_REPLY 4u              /* its Reply object */

#endif
