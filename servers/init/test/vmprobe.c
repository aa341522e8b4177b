/* SPDX-License-Identifier: MIT */
/* vmprobe: init's VM test server: checks everything vm_control and guest_memory give a vmm (hv/vm_abi.h) and runs a tiny guest. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv/errors.h"
#include "hv/fault.h"
#include "hv/hvrt.h"
#include "hv/ipc_buffer.h"
#include "hv/objects.h"
#include "hv/syscall.h"
#include "hv/vcpu.h"
#include "hv/vm_abi.h"
#include "init_test.h"
#include "vmprobe_paths.h"

/* The module bytes init must show at HV_VM_KERNEL_VA / HV_VM_INITRD_VA, built in (vmprobe_paths.h: where). */
#define INCBIN(sym, path)                                                                                          \
    __asm__(".section .rodata\n.balign 16\n.globl " #sym "\n" #sym ":\n.incbin \"" path "\"\n.globl " #sym        \
            "_end\n" #sym "_end:\n.byte 0\n.previous\n")
INCBIN(kernel_bytes, VMPROBE_KERNEL);
INCBIN(initrd_bytes, VMPROBE_INITRD);
extern const uint8_t kernel_bytes[], kernel_bytes_end[], initrd_bytes[], initrd_bytes_end[];

#define PAGE 4096u
#define S VMPROBE_SLOT_CONTROL
#define CODE_GPA 0x7c00u                /* vCPU i runs at CODE_GPA + 0x100 * i, real mode */
#define PATTERN_GPA 0x8000u             /* the vmm writes, the guest reads (u16 per vCPU) */
#define RESULT_GPA 0x8100u              /* the guest writes, the vmm reads (u16 per vCPU) */
#define MARKER_GPA 0x9000u              /* restart test: what the first incarnation left */
#define MARKER 0x6d61726b65723121ull
#define REAL_MODE_CODE_ATTR 0x9bu
#define OUT_LEN 2u                      /* e7 e9: out 0xe9, ax */

static unsigned checks, failures;

static void check(bool ok, const char *name, const char *detail)
{
    checks++;
    if (!ok)
        failures++;
    printf("vmprobe: %s %s%s%s\n", ok ? "ok" : "BAD", name, ok ? "" : ": ", ok ? "" : detail);
}

static char detail[160];
#define CHECK(ok, name, ...) (snprintf(detail, sizeof(detail), __VA_ARGS__), check((ok), (name), detail))

static struct hv_ipc_buffer *ipc(void)
{
    return (struct hv_ipc_buffer *)(uintptr_t)hvrt_ipc_va;
}

static struct hv_vcpu_state *ipc_state(void)
{
    return (struct hv_vcpu_state *)(void *)&ipc()->msg[HV_VCPU_STATE_WORD];
}

static uint64_t read_state(uint64_t vcpu, struct hv_vcpu_state *s)
{
    uint64_t args[1] = { HV_MTD_ALL };
    uint64_t err = hvrt_invoke(vcpu, HV_INV_VCPU_READ_STATE, 1, args, NULL);
    if (err == HV_OK)
        memcpy(s, ipc_state(), sizeof(*s));
    return err;
}

static uint64_t write_state(uint64_t vcpu, const struct hv_vcpu_state *s)
{
    memcpy(ipc_state(), s, sizeof(*s));
    struct hv_msg m = { hv_tag(HV_INV_VCPU_WRITE_STATE, HV_VCPU_STATE_WORD + HV_VCPU_STATE_WORDS, 0), 0, { 0, 0, 0, 0 } };
    return hv_call(vcpu, &m);
}

static volatile uint8_t *ram(uint64_t gpa)
{
    return (volatile uint8_t *)(uintptr_t)(HV_VM_RAM_VA + gpa);
}

/* vCPU i's program: ax = [PATTERN + 2i]; [RESULT + 2i] = 0x1234 + i; out 0xe9, ax; hlt; jmp $. */
static void put_program(unsigned i)
{
    uint16_t pat = (uint16_t)(PATTERN_GPA + 2 * i), res = (uint16_t)(RESULT_GPA + 2 * i), val = (uint16_t)(0x1234 + i);
    const uint8_t code[] = { 0xa1, (uint8_t)pat, (uint8_t)(pat >> 8),
                             0xc7, 0x06, (uint8_t)res, (uint8_t)(res >> 8), (uint8_t)val, (uint8_t)(val >> 8),
                             0xe7, 0xe9, 0xf4, 0xeb, 0xfe };
    for (unsigned k = 0; k < sizeof(code); k++)
        *ram(CODE_GPA + 0x100 * i + k) = code[k];
}

static uint64_t start_vcpu(unsigned i, uint64_t rip)
{
    struct hv_vcpu_state s = { 0 };
    uint64_t err = read_state(S + HV_VM_SLOT_VCPU(i), &s);
    if (err != HV_OK)
        return err;
    s.mtd = HV_MTD_SEG | HV_MTD_RSP_RIP_RFLAGS | HV_MTD_GPR;
    s.cs.selector = 0;
    s.cs.base = 0;
    s.cs.attr = REAL_MODE_CODE_ATTR;
    s.cs.limit = 0xffff;
    s.ds = s.es = s.ss = s.cs;
    s.ds.attr = s.es.attr = s.ss.attr = 0x93;
    s.rip = rip;
    s.rflags = 2;
    s.rsp = 0x7000;
    s.rax = 0;
    uint64_t args[2] = { HV_EXIT_IO, HV_MTD_ALL };
    err = write_state(S + HV_VM_SLOT_VCPU(i), &s) | hvrt_invoke(S + HV_VM_SLOT_VCPU(i), HV_INV_VCPU_SET_TRANSFER, 2, args, NULL);
    args[0] = HV_EXIT_HLT;
    err |= hvrt_invoke(S + HV_VM_SLOT_VCPU(i), HV_INV_VCPU_SET_TRANSFER, 2, args, NULL);
    return err | hvrt_invoke(S + HV_VM_SLOT_TCB(i), HV_INV_TCB_RESUME, 0, NULL, NULL);
}

static const struct hv_vm_info *info(void)
{
    return (const struct hv_vm_info *)(uintptr_t)HV_VM_INFO_VA;
}

static void check_info(void)
{
    const struct hv_vm_info *v = info();
    /* Two symbols around one .incbin: their distance is its size (addresses, not pointer arithmetic). */
    uint64_t ksize = (uint64_t)((uintptr_t)kernel_bytes_end - (uintptr_t)kernel_bytes);
    uint64_t isize = (uint64_t)((uintptr_t)initrd_bytes_end - (uintptr_t)initrd_bytes);
    CHECK(v->magic == HV_VM_INFO_MAGIC && v->version == HV_VM_INFO_VERSION, "info.magic_version", "0x%llx %u",
          (unsigned long long)v->magic, v->version);
    CHECK(v->vcpus == VMPROBE_VCPUS && v->ram_bytes == VMPROBE_RAM_MIB * 1048576ull && v->paging == (VMPROBE_SHADOW ? HV_VCPU_MODE_SHADOW : HV_VCPU_MODE_NESTED) &&
              v->vm_control_slot == S,
          "info.shape", "vcpus %u ram %llu paging %u slot %u", v->vcpus, (unsigned long long)v->ram_bytes, v->paging,
          v->vm_control_slot);
    CHECK(v->kernel_size == ksize && v->initrd_size == isize, "info.module_sizes", "kernel %llu (want %llu) initrd %llu (want %llu)",
          (unsigned long long)v->kernel_size, (unsigned long long)ksize, (unsigned long long)v->initrd_size,
          (unsigned long long)isize);
    CHECK(v->tsc_hz != 0 && v->tsc_hz == hvrt_tsc_hz, "info.tsc_hz", "%llu (runtime has %llu)", (unsigned long long)v->tsc_hz,
          (unsigned long long)hvrt_tsc_hz);
    CHECK(strcmp(v->name, VMPROBE_VM) == 0 && strcmp(v->cmdline, VMPROBE_CMDLINE) == 0, "info.strings",
          "name \"%.31s\" cmdline \"%.100s\"", v->name, v->cmdline);
    CHECK(memcmp((const void *)(uintptr_t)HV_VM_KERNEL_VA, kernel_bytes, ksize) == 0, "kernel_window.bytes", "differ");
    CHECK(memcmp((const void *)(uintptr_t)HV_VM_INITRD_VA, initrd_bytes, isize) == 0, "initrd_window.bytes", "differ");
}

static void check_caps(void)
{
    struct hv_msg out;
    uint64_t args[1] = { PATTERN_GPA / PAGE };
    uint64_t err = hvrt_invoke(VMPROBE_SLOT_GM, HV_INV_GUEST_MEMORY_QUERY, 1, args, &out);
    CHECK(err == HV_OK && out.w[0] != 0 && out.w[1] == HV_GUEST_RIGHTS_ALL, "guest_memory.query_ram", "err %llu hpa 0x%llx rights %llu",
          (unsigned long long)err, (unsigned long long)out.w[0], (unsigned long long)out.w[1]);
    args[0] = (uint64_t)VMPROBE_RAM_MIB * 256u;     /* the first gfn past RAM */
    err = hvrt_invoke(VMPROBE_SLOT_GM, HV_INV_GUEST_MEMORY_QUERY, 1, args, &out);
    CHECK(err == HV_ERR_NOT_MAPPED, "guest_memory.nothing_past_ram", "err %llu", (unsigned long long)err);
    struct hv_msg m = { hv_tag(0, 0, 0), 0, { 0, 0, 0, 0 } };
    err = hv_nb_send(S + HV_VM_SLOT_EXITS, &m);
    CHECK(err == HV_ERR_INSUFFICIENT_RIGHTS, "exits.receive_only", "send gave %llu", (unsigned long long)err);
    for (unsigned i = 0; i < VMPROBE_VCPUS; i++) {
        struct hv_vcpu_state s = { 0 };
        err = read_state(S + HV_VM_SLOT_VCPU(i), &s);
        CHECK(err == HV_OK, "vcpu.read_state", "vcpu %u: err %llu", i, (unsigned long long)err);
        err = hvrt_invoke(S + HV_VM_SLOT_TCB(i), HV_INV_TCB_READ_REGISTERS, 0, NULL, &out);
        CHECK(err == HV_OK, "tcb.read_registers", "vcpu %u: err %llu", i, (unsigned long long)err);
    }
}

/* The guest: both vCPUs run, their exits are held in their own Reply (a receive into S + REPLY(r) fails
 * unless that slot is a Reply object), each sees the vmm's pattern. */
static void run_guest(void)
{
    for (unsigned i = 0; i < VMPROBE_VCPUS; i++) {
        put_program(i);
        *(volatile uint16_t *)ram(PATTERN_GPA + 2 * i) = (uint16_t)(0xbe00 + i);
        *(volatile uint16_t *)ram(RESULT_GPA + 2 * i) = 0;
    }
    for (unsigned i = 0; i < VMPROBE_VCPUS; i++) {
        uint64_t err = start_vcpu(i, CODE_GPA + 0x100 * i);
        CHECK(err == HV_OK, "vcpu.start", "vcpu %u: or-ed errors 0x%llx", i, (unsigned long long)err);
    }
    /* One exit per vCPU, each received into a Reply of its own while the others are held. */
    struct hv_vcpu_state saved[VMPROBE_VCPUS];
    uint64_t badge_of_reply[VMPROBE_VCPUS];
    unsigned seen = 0;
    for (unsigned r = 0; r < VMPROBE_VCPUS; r++) {
        struct hv_msg m = { 0, 0, { 0, 0, 0, 0 } };
        uint64_t err = hv_recv(S + HV_VM_SLOT_EXITS, S + HV_VM_SLOT_REPLY(r), &m);
        unsigned i = (unsigned)(m.badge - 1);
        bool ok = err == HV_OK && hv_tag_label(m.tag) == HV_FAULT_VM_EXIT && m.badge >= HV_VM_VCPU_BADGE(0) &&
                  m.badge <= HV_VM_VCPU_BADGE(VMPROBE_VCPUS - 1) && !(seen & (1u << i));
        CHECK(ok, "exit.badge", "err %llu label %llu badge %llu", (unsigned long long)err,
              (unsigned long long)hv_tag_label(m.tag), (unsigned long long)m.badge);
        if (!ok)
            return;
        seen |= 1u << i;
        badge_of_reply[r] = m.badge;
        saved[r] = *ipc_state();
        CHECK(m.w[0] == HV_EXIT_IO && (m.w[1] & HV_IO_PORT_MASK) == 0xe9 && (saved[r].rax & 0xffff) == 0xbe00 + i,
              "guest.reads_vmm_ram", "vcpu %u: reason %llu qual 0x%llx ax 0x%llx", i, (unsigned long long)m.w[0],
              (unsigned long long)m.w[1], (unsigned long long)saved[r].rax);
        uint16_t res = *(volatile uint16_t *)ram(RESULT_GPA + 2 * i);
        CHECK(res == 0x1234 + i, "vmm.reads_guest_ram", "vcpu %u: 0x%x", i, res);
    }
    /* Reply to each (the OUT done: past it), then take its HLT exit and leave it stopped. */
    for (unsigned r = 0; r < VMPROBE_VCPUS; r++) {
        *ipc_state() = saved[r];
        ipc_state()->rip += OUT_LEN;
        ipc_state()->mtd = HV_MTD_RSP_RIP_RFLAGS;
        struct hv_msg m = { hv_tag(HV_VCPU_REPLY_RESUME, HV_VCPU_STATE_WORD + HV_VCPU_STATE_WORDS, 0), 0, { 0, 0, 0, 0 } };
        (void)hv_send(S + HV_VM_SLOT_REPLY(r), &m);
        m = (struct hv_msg){ 0, 0, { 0, 0, 0, 0 } };
        uint64_t err = hv_recv(S + HV_VM_SLOT_EXITS, S + HV_VM_SLOT_REPLY(r), &m);
        CHECK(err == HV_OK && m.w[0] == HV_EXIT_HLT && m.badge == badge_of_reply[r], "exit.hlt_after_reply",
              "err %llu reason %llu badge %llu (want %llu)", (unsigned long long)err, (unsigned long long)m.w[0],
              (unsigned long long)m.badge, (unsigned long long)badge_of_reply[r]);
        m = (struct hv_msg){ hv_tag(HV_FAULT_STOP, 0, 0), 0, { 0, 0, 0, 0 } };
        (void)hv_send(S + HV_VM_SLOT_REPLY(r), &m);
    }
}

/* RAM: every page of the window is the guest's and writable (first and last word of each). */
static void check_ram(void)
{
    unsigned bad = 0;
    for (uint64_t p = 0; p < info()->ram_bytes; p += PAGE) {
        volatile uint64_t *a = (volatile uint64_t *)(uintptr_t)(HV_VM_RAM_VA + p);
        if (p >= MARKER_GPA && p < MARKER_GPA + PAGE)
            continue;
        a[0] = p ^ 0x5a5a;
        a[PAGE / 8 - 1] = ~p;
        if (a[0] != (p ^ 0x5a5a) || a[PAGE / 8 - 1] != ~p)
            bad++;
        a[0] = 0;
        a[PAGE / 8 - 1] = 0;
    }
    CHECK(bad == 0, "ram_window.writable", "%u pages did not keep what was written", bad);
}

int main(void)
{
    volatile uint64_t *marker = (volatile uint64_t *)(uintptr_t)ram(MARKER_GPA);
    bool again = *marker == MARKER;
    printf("vmprobe: %s incarnation\n", again ? "a later" : "the first");
    check_info();
    check_caps();
    if (again) {
        /* The VM as the last incarnation left it: RAM kept, vCPU 0 stopped mid-spin (init suspended it). */
        struct hv_vcpu_state s = { 0 };
        uint64_t err = read_state(S + HV_VM_SLOT_VCPU(0), &s);
        CHECK(err == HV_OK && s.rip >= CODE_GPA && s.rip < CODE_GPA + 0x100, "restart.vcpu_suspended_where_it_was",
              "err %llu rip 0x%llx", (unsigned long long)err, (unsigned long long)s.rip);
    }
    check_ram();
    run_guest();
    if (VMPROBE_CRASH_FIRST && !again) {
        /* Leave vCPU 0 spinning (jmp $ after its program) and the marker, then crash: init must stop the guest. */
        *marker = MARKER;
        uint64_t err = start_vcpu(0, CODE_GPA + 12);
        CHECK(err == HV_OK, "vcpu.spin", "err %llu", (unsigned long long)err);
        printf("vmprobe: %u checks, %u bad; crashing with vCPU 0 in the guest\n", checks, failures);
        fflush(stdout);
        volatile uint64_t *volatile bad = (volatile uint64_t *)(uintptr_t)0x10;
        *bad = 1;
    }
    if (!VMPROBE_CRASH_FIRST) {
        /* Exit with vCPU 0 spinning in the guest: init must suspend it. */
        uint64_t err = start_vcpu(0, CODE_GPA + 12);
        CHECK(err == HV_OK, "vcpu.spin", "err %llu", (unsigned long long)err);
    }
    printf("vmprobe: %u checks, %u bad\n", checks, failures);
    return failures == 0 ? 0 : 100 + (int)(failures < 100 ? failures : 99);
}
