/* SPDX-License-Identifier: MIT */
/* guest_paging32: the paging guest's legacy phase — 32-bit paging (4 KiB, 4 MiB) and PAE (4 KiB, 2 MiB): rights, CR3 switching, INVLPG. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest_ports.h"

/*
 * Built with -m32 as its own flat blob at GUEST_PAGING32_LOAD, included in the guest
 * image; the 32-bit entry calls it with paging off before going to long mode. Same
 * checks as the 4-level phase (guest_paging.c) for the legacy formats: every R/W, U/S
 * (and XD under PAE with NXE) combination and not-present, read/write/fetch from ring 0
 * and ring 3, error code and CR2. Then, in each format, what 4-level covers in
 * guest_paging.c: CR3 switching among three address spaces (through a 4 MiB / 2 MiB leaf,
 * a page table and a not-present entry), INVLPG of 4 KiB and large leaves, page-table
 * changes without INVLPG (only what the architecture guarantees is checked and put in
 * the table), global pages with CR4.PGE, and a page directory that maps itself (written
 * through). It leaves paging off again and returns its tally.
 */

#define PTE_P 0x1u
#define PTE_RW 0x2u
#define PTE_US 0x4u
#define PTE_PS 0x80u
#define PTE_G 0x100u
#define PTE_TABLE (PTE_P | PTE_RW | PTE_US)
#define PAE_XD (1ull << 63)
#define CR0_PG 0x80000000u
#define CR0_WP 0x10000u
#define CR4_PSE 0x10u
#define CR4_PAE 0x20u
#define CR4_PGE 0x80u
#define PFEC_P 1u
#define PFEC_W 2u

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
int probe_store32(uint32_t a, uint32_t v);
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
    "    ret\n"
    "probe_store32:\n"
    "    mov 4(%esp), %ecx\n"
    "    mov 8(%esp), %edx\n"
    "    movl $10f, recover_eip32\n"
    "    mov %edx, (%ecx)\n"
    "    xor %eax, %eax\n"
    "    ret\n"
    "10: mov $1, %eax\n"
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
/* For the CR3/INVLPG phase: second and third address spaces, tables that differ. */
static uint32_t pd32_b[1024] __attribute__((aligned(4096)));
static uint32_t pd32_c[1024] __attribute__((aligned(4096)));
static uint32_t pt32_b[1024] __attribute__((aligned(4096)));
static uint64_t pdpt_pae_b[4] __attribute__((aligned(32)));
static uint64_t pdpt_pae_c[4] __attribute__((aligned(32)));
static uint64_t pd_pae_za[512] __attribute__((aligned(4096)));
static uint64_t pd_pae_zb[512] __attribute__((aligned(4096)));
static uint64_t pt_pae_b[512] __attribute__((aligned(4096)));
static uint8_t page1_32[4096] __attribute__((aligned(4096))) = { 0x11 };
static uint8_t page2_32[4096] __attribute__((aligned(4096))) = { 0x22 };

static struct tally t = { 0, 0, 2166136261u };

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static void puts_(const char *s)
{
    while (*s)
        guest_com1_putc(*s++);
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

/* --- CR3 switching, INVLPG and changes without INVLPG, in both legacy formats --- */

struct legacy_fmt {
    const char *prefix;                 /* "paging.32bit_" or "paging.pae_" */
    void (*set_pte)(unsigned i, uint64_t e);    /* entry i of the PT at gva4k */
    uint32_t gva4k;
    void (*set_large)(uint64_t e);      /* a directory entry: large leaf or table */
    uint32_t gva_large;                 /* the start of that entry's range */
    uint64_t large_at0;                 /* a large leaf at physical 0 */
    uint64_t pt_page2;                  /* a table mapping page2_32 where page1_32's offset falls */
    uint32_t roots[3];                  /* CR3 of three address spaces: at gva_switch */
    uint32_t gva_switch;                /* a: page1_32 (large leaf), b: page2_32 (PT), c: not present */
};

static const char *name_of(const struct legacy_fmt *f, const char *suffix)
{
    static char b[64];
    char *p = b;
    for (const char *s = f->prefix; *s;)
        *p++ = *s++;
    for (const char *s = suffix; *s && p < b + sizeof(b) - 1;)
        *p++ = *s++;
    *p = 0;
    return b;
}

static uint32_t pa32(const void *p)
{
    return (uint32_t)(uintptr_t)p;
}

static uint32_t rd_cr3(void) { uint32_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }

/* The byte read, or 0x100 | error code if it faulted (| 0x8000 if not a #PF at a). */
static uint32_t read_at(uint32_t a)
{
    last_vec32 = 0;
    if (!probe_read32(a))
        return last_value32 & 0xffu;
    return 0x100u | last_ec32 | (last_vec32 != 14 || last_cr2_32 != a ? 0x8000u : 0);
}

/* 0, or 0x100 | error code if the write faulted (| 0x8000 if not a #PF at a). */
static uint32_t write_at(uint32_t a)
{
    last_vec32 = 0;
    if (!probe_write32(a))
        return 0;
    return 0x100u | last_ec32 | (last_vec32 != 14 || last_cr2_32 != a ? 0x8000u : 0);
}

static void legacy_cr3_switch(const struct legacy_fmt *f)
{
    unsigned bad = 0;
    uint32_t first = 0;
    for (unsigned i = 0; i < 12; i++) {
        unsigned as = i % 3;
        wr_cr3(f->roots[as]);
        uint32_t r = read_at(f->gva_switch);
        uint32_t want = as == 0 ? 0x11u : as == 1 ? 0x22u : 0x100u;
        record(r);
        if (r != want && bad++ == 0)
            first = i << 16 | r;
    }
    wr_cr3(f->roots[0]);
    check(bad == 0, name_of(f, "cr3_switch"), first, bad);
    check(rd_cr3() == f->roots[0], name_of(f, "cr3_read"), rd_cr3(), f->roots[0]);
}

/*
 * A 4 KiB leaf changed with and without INVLPG. Only what the SDM guarantees is checked
 * and recorded: a stale translation may be used until INVLPG, a CR3 load (non-global)
 * or a fault at that address (4.10.4); what the first access after an unflushed change
 * sees is printed and accepted either way — bare QEMU and a shadow TLB legitimately differ.
 */
static void legacy_invlpg(const struct legacy_fmt *f)
{
    const uint32_t w = f->gva4k + 0x1000, e1 = pa32(page1_32) | PTE_TABLE, e2 = pa32(page2_32) | PTE_TABLE;
    f->set_pte(1, e1);
    invlpg(w);
    uint32_t r0 = read_at(w);
    f->set_pte(1, e2);                  /* no INVLPG: the old translation may stay */
    uint32_t r1 = read_at(w);
    invlpg(w);
    uint32_t r2 = read_at(w);
    puts_("info: ");
    puts_(name_of(f, "stale read without INVLPG gave 0x"));
    puthex(r1);
    puts_("\n");
    record(r0 | r2 << 16);
    check(r0 == 0x11 && (r1 == 0x11 || r1 == 0x22), name_of(f, "pte_change_unflushed"), r1, r0);
    check(r2 == 0x22, name_of(f, "invlpg_honoured"), r2, 0x22);

    f->set_pte(1, e1);                  /* again without INVLPG, then a CR3 reload */
    wr_cr3(rd_cr3());
    uint32_t r3 = read_at(w);
    record(r3);
    check(r3 == 0x11, name_of(f, "cr3_reload_honoured"), r3, 0x11);

    f->set_pte(1, 0);                   /* not present: after INVLPG it must fault */
    invlpg(w);
    uint32_t r4 = read_at(w);
    record(r4);
    check(r4 == 0x100, name_of(f, "unmap_invlpg_faults"), r4, 0x100);

    /* Not present -> present without INVLPG: one fault is allowed; the fault itself
     * invalidates the address, so the retry must see the new entry. */
    f->set_pte(1, e2);
    uint32_t r5 = read_at(w);
    uint32_t r6 = r5 >= 0x100 ? read_at(w) : r5;
    record(r6);
    check((r5 == 0x22 || r5 == 0x100) && r6 == 0x22, name_of(f, "present_unflushed_after_fault"), r5, r6);

    /* Read-only -> writable without INVLPG: the same rule for a spurious write fault. */
    f->set_pte(1, e2 & ~(uint64_t)PTE_RW);
    invlpg(w);
    uint32_t w0 = write_at(w + 64);
    f->set_pte(1, e2);
    uint32_t w1 = write_at(w + 64);
    uint32_t w2 = w1 ? write_at(w + 64) : w1;
    record(w0 | w2 << 16);
    check(w0 == (0x100u | PFEC_P | PFEC_W) && (w1 == 0 || w1 == w0) && w2 == 0,
          name_of(f, "rw_upgrade_unflushed"), w0 | w1 << 16, w2);

    /* Writable -> read-only: the writable translation may be used until INVLPG. */
    f->set_pte(1, e2 & ~(uint64_t)PTE_RW);
    uint32_t w3 = write_at(w + 64);
    invlpg(w);
    uint32_t w4 = write_at(w + 64);
    record(w4);
    check((w3 == 0 || w3 == (0x100u | PFEC_P | PFEC_W)) && w4 == (0x100u | PFEC_P | PFEC_W),
          name_of(f, "rw_downgrade_invlpg"), w3 | w4 << 16, 0x100u | PFEC_P | PFEC_W);
    f->set_pte(1, 0);
    invlpg(w);
}

/* A large leaf replaced by a page table and back: INVLPG and CR3 reloads as for 4 KiB. */
static void legacy_large_invlpg(const struct legacy_fmt *f)
{
    const uint32_t z = f->gva_large + pa32(page1_32);
    f->set_large(f->large_at0);
    invlpg(z);
    uint32_t r0 = read_at(z);
    f->set_large(f->pt_page2);          /* no INVLPG */
    uint32_t r1 = read_at(z);
    invlpg(z);
    uint32_t r2 = read_at(z);
    f->set_large(f->large_at0);         /* no INVLPG, CR3 reload */
    wr_cr3(rd_cr3());
    uint32_t r3 = read_at(z);
    f->set_large(0);
    invlpg(z);
    uint32_t r4 = read_at(z);
    record(r0 | r2 << 8 | r3 << 16);
    record(r4);
    check(r0 == 0x11 && (r1 == 0x11 || r1 == 0x22) && r2 == 0x22, name_of(f, "large_invlpg_honoured"),
          r0 | r1 << 8 | r2 << 16, 0x221111);
    check(r3 == 0x11, name_of(f, "large_cr3_reload_honoured"), r3, 0x11);
    check(r4 == 0x100, name_of(f, "large_unmap_invlpg_faults"), r4, 0x100);
}

/*
 * Global pages (CR4.PGE = 1): a global translation may survive a CR3 load (printed, not
 * checked: a TLB may have dropped it), INVLPG removes it, and any change of CR4.PGE
 * flushes every translation, global ones included (SDM 4.10.4.1).
 */
static void legacy_global(const struct legacy_fmt *f)
{
    const uint32_t w = f->gva4k + 0x2000, g = PTE_G | PTE_TABLE;
    uint32_t cr4 = rd_cr4();
    wr_cr4(cr4 | CR4_PGE);
    f->set_pte(2, pa32(page1_32) | g);
    invlpg(w);
    uint32_t r0 = read_at(w);
    f->set_pte(2, pa32(page2_32) | g);
    wr_cr3(rd_cr3());
    uint32_t r1 = read_at(w);
    puts_("info: ");
    puts_(name_of(f, "global read after CR3 reload gave 0x"));
    puthex(r1);
    puts_("\n");
    invlpg(w);
    uint32_t r2 = read_at(w);
    f->set_pte(2, pa32(page1_32) | g);
    wr_cr4(cr4);
    wr_cr4(cr4 | CR4_PGE);
    uint32_t r3 = read_at(w);
    wr_cr4(cr4);
    f->set_pte(2, 0);
    invlpg(w);
    record(r0 | r2 << 8 | r3 << 16);
    check(r0 == 0x11 && (r1 == 0x11 || r1 == 0x22) && r2 == 0x22, name_of(f, "global_invlpg_honoured"),
          r0 | r1 << 8 | r2 << 16, 0x221111);
    check(r3 == 0x11, name_of(f, "global_pge_toggle_flushes"), r3, 0x11);
}

static void legacy_checks(const struct legacy_fmt *f)
{
    legacy_cr3_switch(f);
    legacy_invlpg(f);
    legacy_large_invlpg(f);
    legacy_global(f);
}

static void set_pt32_i(unsigned i, uint64_t e) { pt32[i] = (uint32_t)e; }
static void set_pd32_3(uint64_t e) { pd32[3] = (uint32_t)e; }
static void set_pt_pae_i(unsigned i, uint64_t e) { pt_pae[i] = e; }
static void set_pd_pae_2(uint64_t e) { pd_pae_t[2] = e; }

/* 32-bit paging, pd32 loaded: three PDs that differ at PDE 3 (gva 12 MiB). */
static void legacy32(void)
{
    unsigned idx = (pa32(page1_32) >> 12) & 1023u;
    pt32_b[idx] = pa32(page2_32) | PTE_TABLE;
    pd32_b[0] = pd32_c[0] = pd32[0];
    pd32_b[1] = pd32_c[1] = pd32[1];
    pd32[3] = 0 | PTE_PS | PTE_TABLE;
    pd32_b[3] = pa32(pt32_b) | PTE_TABLE;
    struct legacy_fmt f = { "paging.32bit_", set_pt32_i, 0x400000, set_pd32_3, 0xc00000, PTE_PS | PTE_TABLE,
                            pa32(pt32_b) | PTE_TABLE, { pa32(pd32), pa32(pd32_b), pa32(pd32_c) },
                            0xc00000 + pa32(page1_32) };
    legacy_checks(&f);
    pd32[3] = 0;
    wr_cr3(pa32(pd32));
}

/* PAE, pdpt_pae loaded: three PDPTs that differ at PDPTE 2 (gva 2 GiB). PDPTEs are only
 * changed before the CR3 load that uses them. */
static void legacy_pae(void)
{
    unsigned idx = (pa32(page1_32) >> 12) & 511u;
    pt_pae_b[idx] = pa32(page2_32) | PTE_TABLE;
    pd_pae_za[0] = 0 | PTE_PS | PTE_TABLE;
    pd_pae_zb[0] = pa32(pt_pae_b) | PTE_TABLE;
    pdpt_pae_b[0] = pdpt_pae_c[0] = pdpt_pae[0];
    pdpt_pae_b[1] = pdpt_pae_c[1] = pdpt_pae[1];
    pdpt_pae[2] = pa32(pd_pae_za) | PTE_P;
    pdpt_pae_b[2] = pa32(pd_pae_zb) | PTE_P;
    struct legacy_fmt f = { "paging.pae_", set_pt_pae_i, 0x40000000u, set_pd_pae_2, 0x40400000u,
                            PTE_PS | PTE_TABLE, pa32(pt_pae_b) | PTE_TABLE,
                            { pa32(pdpt_pae), pa32(pdpt_pae_b), pa32(pdpt_pae_c) }, 0x80000000u + pa32(page1_32) };
    legacy_checks(&f);
    pdpt_pae[2] = 0;
    wr_cr3(pa32(pdpt_pae));
}

/*
 * A page directory that maps itself (the recursive-mapping idiom): PDE `self` points at
 * the PD, so `win` + k * 4 KiB shows the table PDE k points to, and `win` + self * 4 KiB
 * the PD itself. The guest reads the PD through it and writes a PTE through it, then
 * uses that PTE after INVLPG. The A and D bits the walks leave in the PDEs (D in PDE 1
 * or 0: it was the leaf of the write) are recorded: bare and VM must agree.
 */
static void self_map(const char *name, uint64_t *pde_self64, uint32_t *pde_self32, uint32_t pd, uint32_t win,
                     unsigned self, unsigned esize, unsigned k, const void *entry_k, uint32_t gva_k)
{
    if (pde_self64)
        *pde_self64 = pd | PTE_P | PTE_RW;
    else
        *pde_self32 = pd | PTE_P | PTE_RW;
    wr_cr3(rd_cr3());
    uint32_t pd_view = win + self * 0x1000u;
    uint32_t r0 = read_at(pd_view + k * esize);             /* PDE k, read through the map */
    uint32_t want0 = *(const volatile uint8_t *)entry_k;
    uint32_t pt_view = win + k * 0x1000u;                   /* the PT of PDE k as a page */
    uint32_t e = pa32(page2_32) | PTE_TABLE;
    int sf = probe_store32(pt_view + 3 * esize, e);         /* its entry 3 */
    uint32_t stored = pde_self64 ? (uint32_t)pt_pae[3] : pt32[3];
    invlpg(gva_k + 3 * 0x1000u);
    uint32_t r1 = read_at(gva_k + 3 * 0x1000u);
    uint32_t ad_self = pde_self64 ? (uint32_t)*pde_self64 & 0x60u : *pde_self32 & 0x60u;
    uint32_t ad_k = *(const volatile uint32_t *)entry_k & 0x60u;
    record(r0 | r1 << 8 | (uint32_t)sf << 16 | ad_self << 20);
    record(ad_k);
    check(r0 == want0 && !sf && stored == e && r1 == 0x22, name, r0 | r1 << 8 | (uint32_t)sf << 16,
          want0 | 0x2200u);
    if (pde_self64) {
        pt_pae[3] = 0;
        *pde_self64 = 0;
    } else {
        pt32[3] = 0;
        *pde_self32 = 0;
    }
    wr_cr3(rd_cr3());
}

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
    legacy32();
    self_map("paging.32bit_self_map", NULL, &pd32[1023], pa32(pd32), 0xffc00000u, 1023, 4, 1, &pd32[1],
             0x400000);
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
    legacy_pae();
    self_map("paging.pae_self_map", &pd_pae_t[511], NULL, pa32(pd_pae_t), 0x40000000u + 511u * 0x200000u, 511, 8, 0,
             &pd_pae_t[0], 0x40000000u);
    wr_cr0(rd_cr0() & ~CR0_PG);
    wr_cr4(rd_cr4() & ~(CR4_PAE | CR4_PSE));
    return &t;
}
