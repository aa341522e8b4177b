/* SPDX-License-Identifier: MIT */
/* guest_paging: a paging test guest — access-rights matrix, CR3 switching, INVLPG — run bare and in a VM. */
#include <stdbool.h>
#include <stdint.h>

#include "guest_long.h"
#include "guest_ports.h"

/*
 * 4-level paging with 4 KiB, 2 MiB and (where CPUID says so) 1 GiB leaves. Each leaf
 * gets every combination of R/W, U/S and XD (and not present); each is probed with a
 * read, a write and a fetch from ring 0 and from ring 3 (CR0.WP = 1, EFER.NXE = 1, no
 * SMEP/SMAP). The guest's own #PF handler records the error code and CR2, checked
 * against SDM 4.6/4.7. Then: CR3 switching among three address spaces, INVLPG, and a
 * PTE change without INVLPG (either result accepted; honoured after INVLPG and after
 * a CR3 reload). Every deterministic result goes into a table whose checksum is
 * printed ("TABLE: ..."): the test compares the line from the bare run with the VM's.
 * More unflushed changes (not present -> present, R/W up and down), a 2 MiB leaf
 * replaced by a table, and global pages with CR4.PGE: invlpg_more(). The legacy formats
 * get the same checks in guest_paging32.c.
 */

enum { ACC_READ = 0, ACC_WRITE = 1, ACC_EXEC = 2 };

extern uint64_t recover_rip, last_cr2, last_ec, last_vec, last_value;
struct tally {
    unsigned tests, failures;
    uint32_t sum;
};
extern uint64_t tally32;    /* the legacy phase's results (guest_paging32.c) */
extern char pf_stub[], other_stub[], user_done_stub[];
int probe_read(uint64_t a);
int probe_write(uint64_t a);
int probe_exec(uint64_t a);
int user_probe(uint64_t kind, uint64_t a);
void unexpected_trap(void);

static uint64_t pml4_a[512] __attribute__((aligned(4096)));
static uint64_t pml4_b[512] __attribute__((aligned(4096)));
static uint64_t pml4_c[512] __attribute__((aligned(4096)));
static uint64_t pdpt_a[512] __attribute__((aligned(4096)));
static uint64_t pd_ident[512] __attribute__((aligned(4096)));
static uint64_t pd_2m[512] __attribute__((aligned(4096)));
static uint64_t pd_4k[512] __attribute__((aligned(4096)));
static uint64_t pt_4k[512] __attribute__((aligned(4096)));
static uint64_t pdpt_z1[512] __attribute__((aligned(4096)));
static uint64_t pd_z1[512] __attribute__((aligned(4096)));
static uint64_t pt_z1[512] __attribute__((aligned(4096)));
static uint64_t pdpt_z2[512] __attribute__((aligned(4096)));
static uint64_t pd_z2[512] __attribute__((aligned(4096)));
static uint64_t pt_z2[512] __attribute__((aligned(4096)));
static uint8_t target[4096] __attribute__((aligned(4096))) = { 0xc3 };  /* RET */
static uint8_t page1[4096] __attribute__((aligned(4096))) = { 0x11 };
static uint8_t page2[4096] __attribute__((aligned(4096))) = { 0x22 };
static uint64_t pt_big[512] __attribute__((aligned(4096)));    /* replaces the 2 MiB leaf pd_4k[1] */
static uint64_t idt[256 * 2] __attribute__((aligned(16)));

static unsigned tests, failures;
static uint32_t table_sum = 2166136261u;   /* FNV-1a over the recorded results */

/* --- output --- */

/* Ends the run: QEMU's isa-debug-exit, or the test vmm stops the VM at that port; in
 * bare Bochs that port is nothing and the Bochs shutdown port ends the emulator. */
static void guest_exit(uint8_t value)
{
    guest_com1_wait(GUEST_COM1_LSR_THRE | GUEST_COM1_LSR_TEMT);    /* the report is all out */
    outb(GUEST_PORT_EXIT, value);
    for (const char *p = "Shutdown"; *p; p++)
        outb(GUEST_PORT_BOCHS_SHUTDOWN, (uint8_t)*p);
}

static void putc_(char c)
{
    guest_com1_putc(c);
}

static void puts_(const char *s)
{
    while (*s)
        putc_(*s++);
}

static void puthex(uint64_t v)
{
    char b[17];
    puts_(guest_hex(v, b));
}

static void check(bool ok, const char *name, const char *detail, uint64_t a, uint64_t b)
{
    tests++;
    if (ok) {
        puts_("PASS: ");
        puts_(name);
        putc_('\n');
        return;
    }
    failures++;
    puts_("FAIL: ");
    puts_(name);
    puts_(": ");
    puts_(detail);
    puts_(" 0x");
    puthex(a);
    puts_(" 0x");
    puthex(b);
    putc_('\n');
}

static void record(uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        table_sum ^= (v >> (8 * i)) & 0xffu;
        table_sum *= 16777619u;
    }
}

void unexpected_trap(void)
{
    check(false, "paging.unexpected_trap", "vector", last_vec, 0);
    puts_("SUMMARY: ");
    puthex(tests);    /* hex on purpose: never parses as a clean summary */
    puts_(" tests, 1 failures\n");
    guest_exit(GUEST_EXIT_VALUE + 1);
}

/* --- paging helpers --- */

static bool have_gbpages(void)
{
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000000u), "c"(0));
    if (a < 0x80000001u)
        return false;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000001u), "c"(0));
    return (d >> 26) & 1u;
}

static void setup_idt(void)
{
    for (unsigned v = 0; v < 256; v++)
        guest_set_gate(idt, v, other_stub, 0);
    guest_set_gate(idt, 14, pf_stub, 0);
    guest_set_gate(idt, 0x80, user_done_stub, 3);
    guest_load_idt(idt, sizeof(idt));
}

static void build_tables(void)
{
    pd_ident[0] = 0x000000 | PTE_PS | PTE_TABLE;
    pd_ident[1] = 0x200000 | PTE_PS | PTE_TABLE;
    pdpt_a[0] = pa(pd_ident) | PTE_TABLE;
    pdpt_a[2] = pa(pd_2m) | PTE_TABLE;
    pdpt_a[3] = pa(pd_4k) | PTE_TABLE;
    pd_4k[0] = pa(pt_4k) | PTE_TABLE;
    /* Three address spaces share the low half; gva 512 GiB differs. */
    pml4_a[0] = pml4_b[0] = pml4_c[0] = pa(pdpt_a) | PTE_TABLE;
    guest_chain_pt(pml4_a, 1, pdpt_z1, pd_z1, pt_z1);
    pt_z1[0] = pa(page1) | PTE_TABLE;
    guest_chain_pt(pml4_b, 1, pdpt_z2, pd_z2, pt_z2);
    pt_z2[0] = pa(page2) | PTE_TABLE;
    /* pml4_c[1] stays not present. */
}

/* --- the rights matrix --- */

struct leaf {
    const char *name;
    uint64_t *entry;        /* the leaf entry */
    uint64_t base;          /* gva of the leaf's mapping of `target` */
    uint64_t frame;         /* the leaf's address bits */
    uint64_t large;         /* PS or 0 */
};

static int probe(bool user, unsigned acc, uint64_t a)
{
    last_vec = 0;
    if (user)
        return user_probe(acc, a);
    return acc == ACC_READ ? probe_read(a) : acc == ACC_WRITE ? probe_write(a) : probe_exec(a);
}

static void matrix(const struct leaf *l)
{
    unsigned bad = 0;
    uint64_t first_got = 0, first_want = 0;
    for (unsigned combo = 0; combo < 9; combo++) {
        bool present = combo < 8;
        bool rw = combo & 1, us = combo & 2, xd = combo & 4;
        uint64_t e = l->frame | l->large | (present ? PTE_P : 0) | (rw ? PTE_RW : 0) |
                     (us ? PTE_US : 0) | (xd ? PTE_XD : 0);
        for (unsigned u = 0; u < 2; u++) {
            for (unsigned acc = 0; acc < 3; acc++) {
                *l->entry = e;
                invlpg(l->base);
                uint64_t a = l->base + (acc == ACC_EXEC ? 0 : 64);
                int f = probe(u, acc, a);
                bool want_fault = !present || (u && !us) || (acc == ACC_WRITE && !rw) ||
                                  (acc == ACC_EXEC && xd);
                uint32_t want_ec = (present ? PFEC_P : 0) | (acc == ACC_WRITE ? PFEC_W : 0) |
                                   (u ? PFEC_U : 0) | (acc == ACC_EXEC ? PFEC_ID : 0);
                uint32_t got = f ? (0x100u | (uint32_t)last_ec) : 0;
                uint32_t want = want_fault ? (0x100u | want_ec) : 0;
                if (f && (last_vec != 14 || last_cr2 != a))
                    got |= 0x8000u;     /* wrong vector or CR2 */
                record(got);
                if (got != want && bad++ == 0) {
                    first_got = ((uint64_t)combo << 32) | (u << 24) | (acc << 20) | got;
                    first_want = want;
                }
            }
        }
    }
    /* The A and D bits the walks left in a writable user leaf after a write. */
    *l->entry = l->frame | l->large | PTE_P | PTE_RW | PTE_US;
    invlpg(l->base);
    int f = probe_write(l->base + 64);
    uint64_t ad = *l->entry & (PTE_A | PTE_D);
    record((uint32_t)ad | (uint32_t)f << 8);
    char name[48] = "paging.4level_";
    char *p = name + 14;
    for (const char *s = l->name; *s;)
        *p++ = *s++;
    const char *suffix = "_rights";
    for (const char *s = suffix; *s;)
        *p++ = *s++;
    *p = 0;
    check(bad == 0, name, "combo/user/acc/got, want", first_got, first_want);
    p -= 7;
    const char *suffix2 = "_ad_bits";
    for (const char *s = suffix2; *s;)
        *p++ = *s++;
    *p = 0;
    check(f == 0 && ad == (PTE_A | PTE_D), name, "fault/ad", (uint64_t)f, ad);
    *l->entry = 0;
    invlpg(l->base);
}

/* --- CR3 switching and INVLPG --- */

static void cr3_switching(void)
{
    const uint64_t z = 512 * GB;
    unsigned bad = 0;
    for (unsigned i = 0; i < 12; i++) {
        unsigned as = i % 3;
        write_cr3(pa(as == 0 ? pml4_a : as == 1 ? pml4_b : pml4_c));
        int f = probe_read(z);
        uint32_t got = f ? 0x100u | (uint32_t)last_ec : (uint32_t)last_value;
        uint32_t want = as == 0 ? 0x11 : as == 1 ? 0x22 : 0x100;
        record(got);
        bad += got != want;
    }
    write_cr3(pa(pml4_a));
    check(bad == 0, "paging.4level_cr3_switch", "wrong reads", bad, 0);
    check(read_cr3() == pa(pml4_a), "paging.4level_cr3_read", "cr3", read_cr3(), pa(pml4_a));
}

static void invlpg_semantics(void)
{
    const uint64_t w = 3 * GB + 0x1000;     /* pt_4k[1] */
    pt_4k[1] = pa(page1) | PTE_TABLE;
    invlpg(w);
    int f0 = probe_read(w);
    uint64_t v0 = last_value;
    pt_4k[1] = pa(page2) | PTE_TABLE;       /* no INVLPG: the old translation may stay */
    int f1 = probe_read(w);
    uint64_t v1 = last_value;
    puts_("info: stale read without INVLPG gave 0x");
    puthex(v1);
    putc_('\n');
    invlpg(w);
    int f2 = probe_read(w);
    uint64_t v2 = last_value;
    record((uint32_t)(v0 | v2 << 8 | (uint64_t)(f0 | f1 | f2) << 16));
    check(!f0 && !f1 && v0 == 0x11 && (v1 == 0x11 || v1 == 0x22), "paging.4level_pte_change_unflushed",
          "value", v1, (uint64_t)(f0 | f1));
    check(!f2 && v2 == 0x22, "paging.4level_invlpg_honoured", "value", v2, (uint64_t)f2);

    pt_4k[1] = pa(page1) | PTE_TABLE;       /* again without INVLPG, then a CR3 reload */
    write_cr3(read_cr3());
    int f3 = probe_read(w);
    uint64_t v3 = last_value;
    record((uint32_t)(v3 | (uint64_t)f3 << 8));
    check(!f3 && v3 == 0x11, "paging.4level_cr3_reload_honoured", "value", v3, (uint64_t)f3);

    pt_4k[1] = 0;                           /* not present: after INVLPG it must fault */
    invlpg(w);
    int f4 = probe_read(w);
    record((uint32_t)(f4 | last_ec << 8));
    check(f4 == 1 && last_ec == 0 && last_cr2 == w, "paging.4level_unmap_invlpg_faults", "ec",
          last_ec, (uint64_t)f4);
}

/* The byte read, or 0x100 | error code (| 0x8000 if not a #PF at a). */
static uint32_t read_at(uint64_t a)
{
    last_vec = 0;
    if (!probe_read(a))
        return (uint32_t)last_value & 0xffu;
    return 0x100u | (uint32_t)last_ec | (last_vec != 14 || last_cr2 != a ? 0x8000u : 0);
}

/* 0, or 0x100 | error code (| 0x8000 if not a #PF at a). */
static uint32_t write_at(uint64_t a)
{
    last_vec = 0;
    if (!probe_write(a))
        return 0;
    return 0x100u | (uint32_t)last_ec | (last_vec != 14 || last_cr2 != a ? 0x8000u : 0);
}

/*
 * What invlpg_semantics leaves out, checked only as far as the SDM guarantees (4.10.4):
 * a not-present -> present or read-only -> writable change may fault once (the fault
 * invalidates the address, so the retry must succeed); a writable -> read-only change may
 * keep writing until INVLPG; a 2 MiB leaf replaced by a table is seen after INVLPG and
 * back after a CR3 reload; a global translation may outlive a CR3 load (printed, not
 * checked), not INVLPG nor a change of CR4.PGE.
 */
static void invlpg_more(void)
{
    const uint64_t w = 3 * GB + 0x2000, e2 = pa(page2) | PTE_TABLE;   /* pt_4k[2] */
    const uint32_t wfault = 0x100u | PFEC_P | PFEC_W;
    pt_4k[2] = 0;
    invlpg(w);
    uint32_t r0 = read_at(w);
    pt_4k[2] = e2;                          /* not present -> present, no INVLPG */
    uint32_t r1 = read_at(w);
    uint32_t r2 = r1 >= 0x100 ? read_at(w) : r1;
    record(r0 | r2 << 16);
    check(r0 == 0x100 && (r1 == 0x22 || r1 == 0x100) && r2 == 0x22, "paging.4level_present_unflushed_after_fault",
          "reads", r0 | (uint64_t)r1 << 16, r2);

    pt_4k[2] = e2 & ~PTE_RW;
    invlpg(w);
    uint32_t w0 = write_at(w + 64);
    pt_4k[2] = e2;                          /* read-only -> writable, no INVLPG */
    uint32_t w1 = write_at(w + 64);
    uint32_t w2 = w1 ? write_at(w + 64) : w1;
    pt_4k[2] = e2 & ~PTE_RW;                /* writable -> read-only, no INVLPG */
    uint32_t w3 = write_at(w + 64);
    invlpg(w);
    uint32_t w4 = write_at(w + 64);
    record(w0 | w2 << 16);
    record(w4);
    check(w0 == wfault && (w1 == 0 || w1 == wfault) && w2 == 0, "paging.4level_rw_upgrade_unflushed", "writes",
          w0 | (uint64_t)w1 << 16, w2);
    check((w3 == 0 || w3 == wfault) && w4 == wfault, "paging.4level_rw_downgrade_invlpg", "writes", w3, w4);
    pt_4k[2] = 0;
    invlpg(w);

    /* pd_4k[1]: gva 3 GiB + 2 MiB, a 2 MiB leaf at gpa 0 or pt_big (page2 at page1's offset). */
    const uint64_t z = 3 * GB + (2ull << 20) + pa(page1);
    pt_big[(pa(page1) >> 12) & 511] = e2;
    pd_4k[1] = PTE_PS | PTE_TABLE;
    invlpg(z);
    uint32_t l0 = read_at(z);
    pd_4k[1] = pa(pt_big) | PTE_TABLE;      /* no INVLPG */
    uint32_t l1 = read_at(z);
    invlpg(z);
    uint32_t l2 = read_at(z);
    pd_4k[1] = PTE_PS | PTE_TABLE;          /* no INVLPG, CR3 reload */
    write_cr3(read_cr3());
    uint32_t l3 = read_at(z);
    pd_4k[1] = 0;
    invlpg(z);
    uint32_t l4 = read_at(z);
    record(l0 | l2 << 8 | l3 << 16);
    record(l4);
    check(l0 == 0x11 && (l1 == 0x11 || l1 == 0x22) && l2 == 0x22 && l3 == 0x11 && l4 == 0x100,
          "paging.4level_large_invlpg_honoured", "reads", l0 | l1 << 8 | l2 << 16 | (uint64_t)l3 << 24, l4);

    /* Global pages: pt_4k[3]. */
    const uint64_t g = 3 * GB + 0x3000, cr4 = read_cr4();
    write_cr4(cr4 | CR4_PGE);
    pt_4k[3] = pa(page1) | PTE_G | PTE_TABLE;
    invlpg(g);
    uint32_t g0 = read_at(g);
    pt_4k[3] = pa(page2) | PTE_G | PTE_TABLE;
    write_cr3(read_cr3());
    uint32_t g1 = read_at(g);
    puts_("info: global read after CR3 reload gave 0x");
    puthex(g1);
    putc_('\n');
    invlpg(g);
    uint32_t g2 = read_at(g);
    pt_4k[3] = pa(page1) | PTE_G | PTE_TABLE;
    write_cr4(cr4);
    write_cr4(cr4 | CR4_PGE);
    uint32_t g3 = read_at(g);
    write_cr4(cr4);
    pt_4k[3] = 0;
    invlpg(g);
    record(g0 | g2 << 8 | g3 << 16);
    check(g0 == 0x11 && (g1 == 0x11 || g1 == 0x22) && g2 == 0x22, "paging.4level_global_invlpg_honoured", "reads",
          g0 | g1 << 8 | g2 << 16, 0x221111);
    check(g3 == 0x11, "paging.4level_global_pge_toggle_flushes", "read", g3, 0x11);
}

void guest_main(void)
{
    const struct tally *legacy = (const struct tally *)(uintptr_t)tally32;
    tests += legacy->tests;
    failures += legacy->failures;
    record(legacy->sum);
    setup_idt();
    build_tables();
    write_cr3(pa(pml4_a));
    check((read_cr0() & 0x80010001u) == 0x80010001u && (read_cr4() & 0x20) && !(read_cr4() & 0x80),
          "paging.4level_guest_visible_controls", "cr0/cr4", read_cr0(), read_cr4());

    struct leaf l4k = { "4k", &pt_4k[0], 3 * GB, pa(target), 0 };
    matrix(&l4k);
    struct leaf l2m = { "2m", &pd_2m[0], 2 * GB + pa(target), 0, PTE_PS };
    matrix(&l2m);
    if (have_gbpages()) {
        struct leaf l1g = { "1g", &pdpt_a[1], 1 * GB + pa(target), 0, PTE_PS };
        matrix(&l1g);
    } else {
        puts_("info: no 1 GiB pages on this CPU\n");
    }
    cr3_switching();
    invlpg_semantics();
    invlpg_more();

    /* A table that maps itself: pml4_a[2] -> pml4_a, read as a page at 1 TiB + 0. */
    pml4_a[2] = pa(pml4_a) | PTE_P | PTE_RW;
    pdpt_a[4] = pa(pdpt_a) | PTE_P | PTE_RW;    /* and a PDPT that is its own PD and PT */
    /* 1 TiB: pml4_a[2] -> pml4_a as PDPT -> pdpt_a as PD -> pd_ident as PT -> gpa 0. */
    int fs = probe_read(2 * 512 * GB);
    uint64_t self3 = 4 * GB + (4ull << 21) + (4ull << 12);   /* pdpt_a[4] three times: pdpt_a as a page */
    int fs3 = probe_read(self3);
    uint64_t vs3 = last_value;
    record((uint32_t)(vs3 << 8 | (uint64_t)(fs | fs3) << 16));
    check(!fs && !fs3 && vs3 == (pdpt_a[0] & 0xff), "paging.4level_self_map", "value/fault", vs3,
          (uint64_t)(fs | fs3));
    pml4_a[2] = 0;
    pdpt_a[4] = 0;
    write_cr3(read_cr3());

    puts_("TABLE: ");
    puthex(table_sum);
    putc_('\n');
    char b[21];
    puts_("SUMMARY: ");
    puts_(guest_dec(tests, b));
    puts_(" tests, ");
    puts_(guest_dec(failures, b));
    puts_(" failures\n");
    /* Hostile last act: a PD outside guest memory. Bare, the read sees whatever the bus
     * gives; in a VM the memory handler gets the gpa and stops the VM here. */
    pdpt_a[5] = GUEST_PAGING_HOSTILE_GPA | PTE_TABLE;
    (void)probe_read(5 * GB);
    pdpt_a[5] = 0;
    guest_exit(GUEST_EXIT_VALUE);
    for (;;)
        __asm__ volatile("hlt");
}
