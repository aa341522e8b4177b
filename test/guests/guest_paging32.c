/* SPDX-License-Identifier: MIT */
/* guest_paging32: the paging guest's legacy phase — 32-bit paging (4 KiB, 4 MiB) and PAE (4 KiB, 2 MiB) rights matrices. */
#include <stdbool.h>
#include <stdint.h>

#include "guest_ports.h"

/*
 * Built with -m32 as its own flat blob at GUEST_PAGING32_LOAD, included in the guest
 * image; the 32-bit entry calls it with paging off before going to long mode. Same
 * checks as the 4-level phase (guest_paging.c) for the legacy formats: every R/W, U/S
 * (and XD under PAE with NXE) combination and not-present, read/write/fetch from ring 0
 * and ring 3, error code and CR2. It leaves paging off again and returns its tally.
 */

#define PTE_P 0x1u
#define PTE_RW 0x2u
#define PTE_US 0x4u
#define PTE_PS 0x80u
#define PTE_TABLE (PTE_P | PTE_RW | PTE_US)
#define PAE_XD (1ull << 63)
#define CR0_PG 0x80000000u
#define CR0_WP 0x10000u
#define CR4_PSE 0x10u
#define CR4_PAE 0x20u

struct tally {
    unsigned tests, failures;
    uint32_t sum;
};

struct tally *paging32_main(void);
extern uint32_t recover_eip32, last_cr2_32, last_ec32, last_vec32, last_value32;
int probe_read32(uint32_t a);
int probe_write32(uint32_t a);
int probe_exec32(uint32_t a);
int user_probe32(uint32_t kind, uint32_t a);
extern char pf32_stub[], other32_stub[], user_done32_stub[], tss32[];
extern uint64_t gdt32[];

__asm__(
    ".section .text.startup, \"ax\"\n"
    "    jmp paging32_main\n"
    ".text\n"
    "pf32_stub:\n"
    "    mov %cr2, %eax\n"
    "    mov %eax, last_cr2_32\n"
    "    mov (%esp), %eax\n"
    "    mov %eax, last_ec32\n"
    "    movl $14, last_vec32\n"
    "    testl $3, 8(%esp)\n"
    "    jnz 1f\n"
    "    mov recover_eip32, %eax\n"
    "    mov %eax, 4(%esp)\n"
    "    add $4, %esp\n"
    "    iret\n"
    "1:  mov $1, %eax\n"
    "    jmp user_return32\n"
    "other32_stub:\n"
    "    movl $0xff, last_vec32\n"
    "2:  hlt\n"
    "    jmp 2b\n"
    "user_done32_stub:\n"
    "    xor %eax, %eax\n"
    "user_return32:\n"
    "    mov $0x10, %cx\n"
    "    mov %cx, %ds\n"
    "    mov %cx, %es\n"
    "    mov kern_esp32, %esp\n"
    "    pop %ebp\n"
    "    pop %edi\n"
    "    pop %esi\n"
    "    pop %ebx\n"
    "    ret\n"
    "user_probe32:\n"
    "    push %ebx\n"
    "    push %esi\n"
    "    push %edi\n"
    "    push %ebp\n"
    "    mov %esp, kern_esp32\n"
    "    mov 20(%esp), %edi\n"
    "    mov 24(%esp), %esi\n"
    "    mov $0x23, %cx\n"
    "    mov %cx, %ds\n"
    "    mov %cx, %es\n"
    "    pushl $0x23\n"
    "    pushl $user_stack32_top\n"
    "    pushl $2\n"
    "    pushl $0x1b\n"
    "    pushl $user32_stub\n"
    "    iret\n"
    "user32_stub:\n"
    "    cmp $0, %edi\n"
    "    je 3f\n"
    "    cmp $1, %edi\n"
    "    je 4f\n"
    "    call *%esi\n"
    "    jmp 5f\n"
    "3:  movb (%esi), %al\n"
    "    jmp 5f\n"
    "4:  movb $0x5a, (%esi)\n"
    "5:  int $0x80\n"
    "6:  jmp 6b\n"
    "probe_read32:\n"
    "    mov 4(%esp), %ecx\n"
    "    movl $7f, recover_eip32\n"
    "    movb (%ecx), %al\n"
    "    movzbl %al, %eax\n"
    "    mov %eax, last_value32\n"
    "    xor %eax, %eax\n"
    "    ret\n"
    "7:  mov $1, %eax\n"
    "    ret\n"
    "probe_write32:\n"
    "    mov 4(%esp), %ecx\n"
    "    movl $8f, recover_eip32\n"
    "    movb $0x5a, (%ecx)\n"
    "    xor %eax, %eax\n"
    "    ret\n"
    "8:  mov $1, %eax\n"
    "    ret\n"
    "probe_exec32:\n"
    "    mov 4(%esp), %ecx\n"
    "    movl $9f, recover_eip32\n"
    "    call *%ecx\n"
    "    xor %eax, %eax\n"
    "    ret\n"
    "9:  pop %ecx\n"
    "    mov $1, %eax\n"
    "    ret\n");

uint32_t recover_eip32, last_cr2_32, last_ec32, last_vec32, last_value32;
uint32_t kern_esp32;
uint8_t user_stack32[4096] __attribute__((aligned(16)));
static uint8_t intr_stack32[4096] __attribute__((aligned(16)));
__asm__(".globl user_stack32_top\n.set user_stack32_top, user_stack32 + 4096\n");
uint8_t tss32_area[104] __attribute__((aligned(16)));
uint64_t gdt32[6] __attribute__((aligned(16))) = {
    0,
    0x00cf9b000000ffffull,      /* 0x08 code32 */
    0x00cf93000000ffffull,      /* 0x10 data */
    0x00cffb000000ffffull,      /* 0x18 user code32 */
    0x00cff3000000ffffull,      /* 0x20 user data */
    0x0000890000000067ull,      /* 0x28 TSS */
};
static uint64_t idt32[256] __attribute__((aligned(8)));

static uint32_t pd32[1024] __attribute__((aligned(4096)));
static uint32_t pt32[1024] __attribute__((aligned(4096)));
static uint64_t pdpt_pae[4] __attribute__((aligned(4096)));
static uint64_t pd_pae_low[512] __attribute__((aligned(4096)));
static uint64_t pd_pae_t[512] __attribute__((aligned(4096)));
static uint64_t pt_pae[512] __attribute__((aligned(4096)));
static uint8_t target32[4096] __attribute__((aligned(4096))) = { 0xc3 };

static struct tally t = { 0, 0, 2166136261u };

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static void puts_(const char *s)
{
    while (*s)
        outb(GUEST_PORT_COM1, (uint8_t)*s++);
}

static void puthex(uint32_t v)
{
    char b[9];
    for (int i = 7; i >= 0; i--) {
        b[i] = "0123456789abcdef"[v & 15];
        v >>= 4;
    }
    b[8] = 0;
    puts_(b);
}

static void check(bool ok, const char *name, uint32_t a, uint32_t b)
{
    t.tests++;
    if (!ok)
        t.failures++;
    puts_(ok ? "PASS: " : "FAIL: ");
    puts_(name);
    if (!ok) {
        puts_(": got/want 0x");
        puthex(a);
        puts_(" 0x");
        puthex(b);
    }
    puts_("\n");
}

static void record(uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        t.sum ^= (v >> (8 * i)) & 0xffu;
        t.sum *= 16777619u;
    }
}

static void set_gate(unsigned vec, void *h, unsigned dpl)
{
    uint32_t a = (uint32_t)(uintptr_t)h;
    idt32[vec] = (a & 0xffffu) | (0x08u << 16) | ((uint64_t)(0x8eu | (dpl << 5)) << 40) |
                 ((uint64_t)(a >> 16) << 48);
}

static void setup(void)
{
    uint32_t base = (uint32_t)(uintptr_t)tss32_area;
    gdt32[5] |= ((uint64_t)(base & 0xffffffu) << 16) | ((uint64_t)(base >> 24) << 56);
    *(uint32_t *)(void *)(tss32_area + 4) = (uint32_t)(uintptr_t)(intr_stack32 + sizeof(intr_stack32));
    *(uint32_t *)(void *)(tss32_area + 8) = 0x10;
    struct __attribute__((packed)) { uint16_t l; uint32_t b; } g = { sizeof(gdt32) - 1,
                                                                     (uint32_t)(uintptr_t)gdt32 };
    __asm__ volatile("lgdt %0\n ljmp $0x08, $1f\n 1: mov $0x10, %%ax\n mov %%ax, %%ds\n"
                     " mov %%ax, %%es\n mov %%ax, %%ss\n mov $0x28, %%ax\n ltr %%ax"
                     : : "m"(g) : "eax", "memory");
    for (unsigned v = 0; v < 256; v++)
        set_gate(v, other32_stub, 0);
    set_gate(14, pf32_stub, 0);
    set_gate(0x80, user_done32_stub, 3);
    struct __attribute__((packed)) { uint16_t l; uint32_t b; } d = { sizeof(idt32) - 1,
                                                                     (uint32_t)(uintptr_t)idt32 };
    __asm__ volatile("lidt %0" : : "m"(d));
}

static inline void invlpg(uint32_t a)
{
    __asm__ volatile("invlpg (%0)" : : "r"(a) : "memory");
}

static uint32_t rd_cr0(void) { uint32_t v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static uint32_t rd_cr4(void) { uint32_t v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static void wr_cr0(uint32_t v) { __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
static void wr_cr3(uint32_t v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
static void wr_cr4(uint32_t v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }

static int probe(bool user, unsigned acc, uint32_t a)
{
    last_vec32 = 0;
    if (user)
        return user_probe32(acc, a);
    return acc == 0 ? probe_read32(a) : acc == 1 ? probe_write32(a) : probe_exec32(a);
}

/* One leaf: `set(e)` writes it; combos of RW, US (and XD when `xd_ok`), then not present. */
static void matrix(const char *name, void (*set)(uint64_t), uint64_t frame_bits, uint32_t base,
                   bool xd_ok)
{
    unsigned bad = 0;
    uint32_t first_got = 0, first_want = 0;
    unsigned combos = xd_ok ? 8 : 4;
    for (unsigned combo = 0; combo <= combos; combo++) {
        bool present = combo < combos;
        bool rw = combo & 1, us = combo & 2, xd = combo & 4;
        uint64_t e = frame_bits | (present ? PTE_P : 0) | (rw ? PTE_RW : 0) | (us ? PTE_US : 0) |
                     (xd ? PAE_XD : 0);
        for (unsigned u = 0; u < 2; u++) {
            for (unsigned acc = 0; acc < 3; acc++) {
                set(e);
                invlpg(base);
                uint32_t a = base + (acc == 2 ? 0 : 64);
                int f = probe(u, acc, a);
                bool want_fault = !present || (u && !us) || (acc == 1 && !rw) || (acc == 2 && xd);
                uint32_t want_ec = (present ? 1u : 0) | (acc == 1 ? 2u : 0) | (u ? 4u : 0) |
                                   (acc == 2 && xd_ok ? 16u : 0);
                uint32_t got = f ? (0x100u | last_ec32) : 0;
                uint32_t want = want_fault ? (0x100u | want_ec) : 0;
                if (f && (last_vec32 != 14 || last_cr2_32 != a))
                    got |= 0x8000u;
                record(got);
                if (got != want && bad++ == 0) {
                    first_got = (combo << 24) | (u << 20) | (acc << 16) | got;
                    first_want = want;
                }
            }
        }
    }
    set(0);
    invlpg(base);
    check(bad == 0, name, first_got, first_want);
}

static void set_pt32(uint64_t e) { pt32[0] = (uint32_t)e; }
static void set_pd32_4m(uint64_t e) { pd32[2] = (uint32_t)e; }
static void set_pt_pae(uint64_t e) { pt_pae[0] = e; }
static void set_pd_pae_2m(uint64_t e) { pd_pae_t[1] = e; }

struct tally *paging32_main(void)
{
    setup();
    uint32_t tgt = (uint32_t)(uintptr_t)target32;
    /* 32-bit paging: PDE 0 a user 4 MiB identity page, PDE 1 -> PT (4 KiB leaf at 4 MiB),
     * PDE 2 the 4 MiB leaf at 8 MiB. */
    pd32[0] = 0 | PTE_PS | PTE_TABLE;
    pd32[1] = (uint32_t)(uintptr_t)pt32 | PTE_TABLE;
    wr_cr4(rd_cr4() | CR4_PSE);
    wr_cr3((uint32_t)(uintptr_t)pd32);
    wr_cr0(rd_cr0() | CR0_PG | CR0_WP);
    matrix("paging.32bit_4k_rights", set_pt32, tgt, 0x400000, false);
    matrix("paging.32bit_4m_rights", set_pd32_4m, 0 | PTE_PS, 0x800000 + tgt, false);
    wr_cr0(rd_cr0() & ~CR0_PG);

    /* PAE with NXE: PDPTE 0 -> identity 2 MiB pages, PDPTE 1 -> PD with a PT (4 KiB leaf
     * at 1 GiB) and a 2 MiB leaf at 1 GiB + 2 MiB. */
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0xc0000080u));
    lo |= 0x800u;
    __asm__ volatile("wrmsr" : : "a"(lo), "d"(hi), "c"(0xc0000080u));
    pd_pae_low[0] = 0x000000 | PTE_PS | PTE_TABLE;
    pd_pae_low[1] = 0x200000 | PTE_PS | PTE_TABLE;
    pd_pae_t[0] = (uint32_t)(uintptr_t)pt_pae | PTE_TABLE;
    pdpt_pae[0] = (uint32_t)(uintptr_t)pd_pae_low | PTE_P;
    pdpt_pae[1] = (uint32_t)(uintptr_t)pd_pae_t | PTE_P;
    wr_cr4(rd_cr4() | CR4_PAE);
    wr_cr3((uint32_t)(uintptr_t)pdpt_pae);
    wr_cr0(rd_cr0() | CR0_PG);
    matrix("paging.pae_4k_rights", set_pt_pae, tgt, 0x40000000u, true);
    matrix("paging.pae_2m_rights", set_pd_pae_2m, 0 | PTE_PS, 0x40200000u + tgt, true);
    wr_cr0(rd_cr0() & ~CR0_PG);
    wr_cr4(rd_cr4() & ~(CR4_PAE | CR4_PSE));
    return &t;
}
