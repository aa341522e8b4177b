/* SPDX-License-Identifier: MIT */
/* x86_restated.h: the paging architecture restated for the vtlb tests — PTE, CR0/CR4/EFER and #PF error-code bits. */
#ifndef HV_TEST_X86_RESTATED_H
#define HV_TEST_X86_RESTATED_H

/*
 * Intel SDM Vol. 3A 4.3-4.8 and 2.5, AMD APM Vol. 2 5.3-5.6. The bit positions are written
 * out here rather than taken from vtlb/guest_walk.h or vtlb/shadow.h, so the tests'
 * expectations do not share the headers' mistakes (test_guest_walk.c and test_shadow.c
 * both use this one copy).
 */

/* Page-table entries (Figure 4-11 / Table 4-19). */
#define P_ (1ull << 0)
#define RW_ (1ull << 1)
#define US_ (1ull << 2)
#define A_ (1ull << 5)
#define D_ (1ull << 6)
#define PS_ (1ull << 7)
#define G_ (1ull << 8)
#define XD_ (1ull << 63)
#define ADDR_ 0x000ffffffffff000ull

/* Control registers and EFER. */
#define CR0_PE (1ull << 0)
#define CR0_WP (1ull << 16)
#define CR0_PG (1ull << 31)
#define CR4_PSE (1ull << 4)
#define CR4_PAE (1ull << 5)
#define CR4_PGE (1ull << 7)
#define CR4_SMEP (1ull << 20)
#define CR4_SMAP (1ull << 21)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)

/* Figure 4-12: the page-fault error code. */
#define EC_P 1u
#define EC_W 2u
#define EC_U 4u
#define EC_RSVD 8u
#define EC_ID 16u

_Static_assert(P_ == 1 && PS_ == 0x80 && XD_ == 0x8000000000000000ull, "PTE bits as in the SDM");
_Static_assert((ADDR_ & 0xfff) == 0 && (ADDR_ >> 52) == 0, "4 KiB frames, 52-bit physical addresses");

#endif
