/* SPDX-License-Identifier: MIT */
/* bench_vmexit: root task that counts the instructions of a VM exit served by a user-level handler and back. */
#include "hvu.h"
#include "hvu_bench.h"
#include "hvu_vm.h"

#include "lib/kstring.h"
#include "../guests/guest_ports.h"

/*
 * The guest (test/guests/guest_bench.S) loops on `out %al, $0x80; jmp 1b`. Each exit
 * goes guest -> core -> this handler (a VM-exit message, GPR + RIP groups) -> reply
 * (RIP += 2) -> core -> guest. Under QEMU with `-icount shift=0,sleep=off` (scripts/bench)
 * rdtsc counts instructions, so the figure is the instructions of one whole round trip,
 * handler included (it only adds the instruction length and replies): the smallest of
 * BATCHES batches of PER exits, timed at the handler between the first and last receive.
 * Without bench_icount=1 on the command line (the ctest smoke run) the figure is printed
 * but only the exit stream itself is checked.
 */

#define PER 100u
#define BATCHES 50u
#define WARMUP 100u
#define BENCH_PORT 0x80u
#define VCPU_PRIORITY 100u

void user_main(const struct hv_bootinfo *bi);

void user_main(const struct hv_bootinfo *bi)
{
    hvu_init(bi);
    bool icount = hvu_cmdline_has(bi->cmdline, "bench_icount=1");
    uint64_t err;
    uint64_t ep = hvu_retype(HV_OBJ_ENDPOINT, 0, &err);
    uint64_t reply = hvu_retype(HV_OBJ_REPLY, 0, &err);
    struct hvu_vm vm;
    err = hvu_vm_create(&vm, bi, "guest_bench", GUEST_LOAD_GPA, ep, VCPU_PRIORITY);
    if (err == HV_OK)
        err = hvu_vm_start(&vm, 10000, 10000);
    hvu_check(err == HV_OK, "bench_vmexit.vm", "err %lu", err);

    struct hv_msg m = { 0, 0, { 0, 0, 0, 0 } };
    err = hv_recv(ep, reply, &m);
    struct hvu_series series = HVU_SERIES_INIT;
    unsigned bad = 0, served = 0;
    uint64_t t0 = 0;
    for (unsigned i = 0; err == HV_OK && i < WARMUP + PER * BATCHES + 1u; i++) {
        if (hv_tag_label(m.tag) != HV_FAULT_VM_EXIT || m.w[0] != HV_EXIT_IO ||
            (m.w[1] & HV_IO_PORT_MASK) != BENCH_PORT || m.w[3] != 2)
            bad++;
        if (i >= WARMUP && (i - WARMUP) % PER == 0) {
            uint64_t t = hvu_rdtsc();
            if (i > WARMUP)
                hvu_series_add(&series, t - t0);
            t0 = t;
        }
        served++;
        struct hv_vcpu_state *s = hvu_exit_state();
        s->rip += m.w[3];
        s->mtd = HV_MTD_GPR | HV_MTD_RSP_RIP_RFLAGS;
        m = hvu_resume_msg();
        err = hv_reply_recv(ep, reply, &m);
    }
    hvu_check(err == HV_OK && bad == 0 && served == WARMUP + PER * BATCHES + 1u, "bench_vmexit.exits",
              "err %lu bad %u served %u", err, bad, served);
    uint64_t per = (series.min + PER / 2u) / PER;
    hvu_printf("bench_vmexit: %u batches of %u exits: min %lu, mean %lu per round trip%s\n", BATCHES, PER, per,
               hvu_series_mean(&series, PER), icount ? "" : " (not -icount: TSC ticks, not instructions)");
    if (icount)
        hvu_printf("BENCH exit_roundtrip_instructions %lu instructions\n", per);
    hvu_finish();
}
