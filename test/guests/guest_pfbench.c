/* SPDX-License-Identifier: MIT */
/* guest_pfbench: page-fault-heavy guest workload — address spaces, demand faults, remaps — timed bare and in a VM. */
#include <stdbool.h>
#include <stdint.h>

#include "guest_long.h"
#include "guest_ports.h"

/*
 * A toy OS kernel (ring 0, 4-level paging, long mode) running PFB_SPACES "processes",
 * each with its own PML4 and PFB_PAGES user pages at gva 512 GiB. The kernel half
 * (identity 0..6 MiB, 2 MiB pages) is shared and global (CR4.PGE). One turn of a
 * process: MOV CR3 to it, touch every page of its working set (read one word, check it
 * against a software model of the frames, write 16 words), remap a quarter of the pages
 * to fresh frames (PTE write + INVLPG, touched again) and unmap another quarter (PTE
 * cleared + INVLPG); an unmapped page is demand-faulted back in by the #PF handler at
 * the next turn's touch. Frames come from a LIFO free list over PFB_FRAMES frames at
 * GUEST_PFBENCH_POOL. A round is one turn of every process.
 *
 * Output: "PFBENCH ..." with the work done in the timed rounds and the RDTSC ticks they
 * took (under QEMU -icount shift=0 a tick is one instruction of the whole machine: in a
 * VM the hypervisor's instructions count too, which is the point); "TABLE: <checksum>"
 * over every value read (equal bare and in any VM, test/compare-table); PASS/FAIL lines
 * and a SUMMARY. Correctness never depends on timing.
 */

#define PFB_SPACES 8u
#define PFB_PAGES 64u
#define PFB_FRAMES 640u
#define PFB_WARMUP_ROUNDS 1u
#define PFB_ROUNDS 8u
#define PFB_WORDS 16u           /* words written per touch, 256 bytes apart */
#define PAGE 4096ull
#define USER_BASE (512 * GB)    /* PML4 entry 1 */
#define NO_FRAME 0xffffu

_Static_assert(GUEST_PFBENCH_POOL + PFB_FRAMES * PAGE <= GUEST_PFBENCH_END, "frame pool inside guest memory");
_Static_assert(PFB_SPACES * PFB_PAGES + 1 < PFB_FRAMES, "a remap always finds a free frame");
_Static_assert(PFB_PAGES <= 512, "one page table per space");

extern char pfb_pf_stub[], pfb_other_stub[];
void pfb_page_fault(uint64_t cr2, uint64_t ec);
void pfb_unexpected_trap(void);

static uint64_t pml4[PFB_SPACES][512] __attribute__((aligned(4096)));
static uint64_t pdpt_u[PFB_SPACES][512] __attribute__((aligned(4096)));
static uint64_t pd_u[PFB_SPACES][512] __attribute__((aligned(4096)));
static uint64_t pt_u[PFB_SPACES][512] __attribute__((aligned(4096)));
static uint64_t pdpt_k[512] __attribute__((aligned(4096)));
static uint64_t pd_k[512] __attribute__((aligned(4096)));
static uint64_t idt[256 * 2] __attribute__((aligned(16)));

static uint32_t frame_val[PFB_FRAMES];              /* the model: word 0 of each frame */
static uint16_t free_frames[PFB_FRAMES];
static unsigned free_top;
static uint16_t page_frame[PFB_SPACES][PFB_PAGES];  /* NO_FRAME when unmapped */
static unsigned cur_space;
static uint64_t demand_faults, touches, remaps, unmaps, switches;
static unsigned model_mismatches, tests, failures;
static uint32_t sum = 2166136261u;                  /* FNV-1a over every value read */

/* --- output --- */

static void puts_(const char *s)
{
    while (*s)
        outb(GUEST_PORT_COM1, (uint8_t)*s++);
}

static void putdec(uint64_t v)
{
    char b[21];
    puts_(guest_dec(v, b));
}

static void puthex(uint64_t v)
{
    char b[17];
    puts_(guest_hex(v, b));
}

static void check(bool ok, const char *name, uint64_t a, uint64_t b)
{
    tests++;
    puts_(ok ? "PASS: " : "FAIL: ");
    puts_(name);
    if (!ok) {
        failures++;
        puts_(": got/want 0x");
        puthex(a);
        puts_(" 0x");
        puthex(b);
    }
    puts_("\n");
}

static void summary(void)
{
    puts_("SUMMARY: ");
    putdec(tests);
    puts_(" tests, ");
    putdec(failures);
    puts_(" failures\n");
}

/* --- CPU --- */

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
    return ((uint64_t)hi << 32) | lo;
}

void pfb_unexpected_trap(void)
{
    check(false, "pfbench.unexpected_trap", 0, 0);
    summary();
    outb(GUEST_PORT_EXIT, GUEST_EXIT_VALUE + 1);
}

/* --- the toy kernel --- */

static uint64_t frame_gpa(unsigned f)
{
    return GUEST_PFBENCH_POOL + (uint64_t)f * PAGE;
}

static unsigned frame_alloc(void)
{
    return free_frames[--free_top];
}

static void frame_free(unsigned f)
{
    free_frames[free_top++] = (uint16_t)f;
}

static uint64_t user_pte(unsigned f)
{
    return frame_gpa(f) | PTE_P | PTE_RW | PTE_US | PTE_XD;
}

/* Demand paging: a not-present user page of the current space gets a fresh frame. */
void pfb_page_fault(uint64_t cr2, uint64_t ec)
{
    uint64_t i = (cr2 - USER_BASE) / PAGE;
    if (cr2 < USER_BASE || i >= PFB_PAGES || (ec & PFEC_P) || page_frame[cur_space][i] != NO_FRAME) {
        check(false, "pfbench.page_fault_expected", cr2, ec);
        summary();
        outb(GUEST_PORT_EXIT, GUEST_EXIT_VALUE + 1);
        for (;;)
            __asm__ volatile("hlt");
    }
    unsigned f = frame_alloc();
    page_frame[cur_space][i] = (uint16_t)f;
    pt_u[cur_space][i] = user_pte(f);   /* not present before: nothing to invalidate */
    demand_faults++;
}

static uint32_t mix(uint32_t a, uint32_t b)
{
    uint32_t h = a * 2654435761u ^ b;
    return h ^ (h >> 15);
}

static void fnv(uint32_t v)
{
    for (int k = 0; k < 4; k++) {
        sum ^= (v >> (8 * k)) & 0xffu;
        sum *= 16777619u;
    }
}

/* Reads word 0 (may demand-fault), checks it against the model, writes the page. */
static void touch(unsigned i, uint32_t seed)
{
    volatile uint32_t *w = (volatile uint32_t *)(uintptr_t)(USER_BASE + i * PAGE);
    uint32_t v = w[0];
    unsigned f = page_frame[cur_space][i];
    model_mismatches += v != frame_val[f];
    fnv(v);
    uint32_t x = mix(seed, i);
    for (unsigned k = PFB_WORDS; k-- > 0;)
        w[k * (PAGE / 4 / PFB_WORDS)] = x + k;
    frame_val[f] = x;
    touches++;
}

static void turn(unsigned p, unsigned round)
{
    cur_space = p;
    write_cr3(pa(pml4[p]));
    switches++;
    uint32_t seed = mix(round, p);
    for (unsigned i = 0; i < PFB_PAGES; i++)
        touch(i, seed);
    for (unsigned i = round % 4; i < PFB_PAGES; i += 4) {   /* remap a quarter */
        unsigned old = page_frame[p][i];
        unsigned f = frame_alloc();
        page_frame[p][i] = (uint16_t)f;
        pt_u[p][i] = user_pte(f);
        invlpg(USER_BASE + i * PAGE);
        frame_free(old);
        touch(i, seed + 1);
        remaps++;
    }
    for (unsigned i = (round + 2) % 4; i < PFB_PAGES; i += 4) {     /* unmap another */
        pt_u[p][i] = 0;
        invlpg(USER_BASE + i * PAGE);
        frame_free(page_frame[p][i]);
        page_frame[p][i] = NO_FRAME;
        unmaps++;
    }
}

static void setup(void)
{
    for (unsigned v = 0; v < 256; v++)
        guest_set_gate(idt, v, pfb_other_stub, 0);
    guest_set_gate(idt, 14, pfb_pf_stub, 0);
    guest_load_idt(idt, sizeof(idt));
    /* Kernel half: identity 0..6 MiB, supervisor, global. */
    for (unsigned j = 0; j < 3; j++)
        pd_k[j] = (uint64_t)j << 21 | PTE_PS | PTE_G | PTE_P | PTE_RW;
    pdpt_k[0] = pa(pd_k) | PTE_P | PTE_RW;
    for (unsigned p = 0; p < PFB_SPACES; p++) {
        pml4[p][0] = pa(pdpt_k) | PTE_P | PTE_RW;
        guest_chain_pt(pml4[p], 1, pdpt_u[p], pd_u[p], pt_u[p]);
        for (unsigned i = 0; i < PFB_PAGES; i++)
            page_frame[p][i] = NO_FRAME;
    }
    write_cr3(pa(pml4[0]));
    write_cr4(read_cr4() | CR4_PGE);
    /* The model's starting point: word 0 of every frame, written through the identity map. */
    for (unsigned f = 0; f < PFB_FRAMES; f++) {
        frame_val[f] = mix(f, 0x5eed);
        *(volatile uint32_t *)(uintptr_t)frame_gpa(f) = frame_val[f];
        free_frames[free_top++] = (uint16_t)(PFB_FRAMES - 1 - f);
    }
}

void guest_main(void)
{
    setup();
    for (unsigned r = 0; r < PFB_WARMUP_ROUNDS; r++) {
        for (unsigned p = 0; p < PFB_SPACES; p++)
            turn(p, r);
    }
    uint64_t t0 = touches, d0 = demand_faults, r0 = remaps, u0 = unmaps, s0 = switches;
    uint64_t best = ~0ull;
    uint64_t start = rdtsc();
    for (unsigned r = PFB_WARMUP_ROUNDS; r < PFB_WARMUP_ROUNDS + PFB_ROUNDS; r++) {
        uint64_t a = rdtsc();
        for (unsigned p = 0; p < PFB_SPACES; p++)
            turn(p, r);
        uint64_t b = rdtsc() - a;
        best = b < best ? b : best;
    }
    uint64_t ticks = rdtsc() - start;
    uint64_t work = touches - t0;
    /* Every timed round does the same work: each turn touches every page, remaps and
     * unmaps a quarter, and demand-faults back what the previous turn unmapped. */
    const uint64_t per_round = PFB_SPACES * (PFB_PAGES + PFB_PAGES / 4);
    check(work == PFB_ROUNDS * per_round && demand_faults - d0 == PFB_ROUNDS * PFB_SPACES * (PFB_PAGES / 4) &&
              remaps - r0 == unmaps - u0 && switches - s0 == PFB_ROUNDS * PFB_SPACES,
          "pfbench.work_done", work, demand_faults - d0);
    check(model_mismatches == 0, "pfbench.reads_match_model", model_mismatches, 0);
    puts_("PFBENCH rounds ");
    putdec(PFB_ROUNDS);
    puts_(" work ");
    putdec(work);
    puts_(" faults ");
    putdec(demand_faults - d0);
    puts_(" switches ");
    putdec(switches - s0);
    puts_(" ticks ");
    putdec(ticks);
    puts_(" best_round ");
    putdec(best);
    puts_("\n");
    puts_("TABLE: ");
    puthex(sum);
    puts_("\n");
    summary();
    outb(GUEST_PORT_EXIT, GUEST_EXIT_VALUE);
    for (;;)
        __asm__ volatile("hlt");
}
