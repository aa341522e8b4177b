/* SPDX-License-Identifier: MIT */
/* kernel_paging: boot-time construction of the core's page tables from a static pool. */
#include "kernel_paging.h"

#include "../../kernel/console.h"
#include "../../kernel/platform.h"
#include "../../lib/kstring.h"
#include "cpu.h"
#include "layout.h"

/*
 * Boot tables come from this fixed pool (the core has no heap; later kernel
 * objects come from untyped memory). 128 tables cover the image and a physmap of
 * 64 GiB with 2 MiB pages, or 512 GiB with 1 GiB pages.
 */
#define BOOT_PT_POOL_PAGES 128
#define PHYSMAP_MAX_2M (64ull << 30)
#define PHYSMAP_MAX_1G (512ull << 30)
#define MMIO_WINDOW_START 0xc0000000ull
#define MMIO_WINDOW_END 0x100000000ull
/* Identity mappings are for the AP trampoline only, which must lie below 1 MiB. */
#define IDENTITY_PAGE_LIMIT 0x100000ull

extern char __text_start[], __text_end[], __rodata_start[], __rodata_end[];
extern char __data_start[], __bss_end[];

static uint8_t pt_pool[BOOT_PT_POOL_PAGES][PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static unsigned pt_pool_used;
static uint64_t pml4_pa;
static uint64_t physmap_size;

static uint64_t image_va_to_pa(const void *va)
{
    return (uint64_t)(uintptr_t)va - KERNEL_VMA;
}

static uint64_t pool_alloc(void *ctx)
{
    (void)ctx;
    if (pt_pool_used == BOOT_PT_POOL_PAGES)
        return 0;
    uint8_t *page = pt_pool[pt_pool_used++];
    memset(page, 0, PAGE_SIZE);
    return image_va_to_pa(page);
}

/*
 * Tables are reached through the physmap. Before the switch that is the boot
 * tables' 1 GiB window, which holds the whole image and so the pool.
 */
static uint64_t *pool_table_ptr(void *ctx, uint64_t pa)
{
    (void)ctx;
    return phys_to_virt(pa);
}

static struct pt_env env = { pool_alloc, pool_table_ptr, NULL, false };

static void map_or_die(uint64_t va, uint64_t pa, uint64_t size, uint64_t flags, const char *what)
{
    enum pt_error err = pt_map_range(&env, pml4_pa, va, pa, size, flags);
    if (err != PT_OK)
        panic("paging: cannot map %s: %s", what, pt_strerror(err));
}

static void map_image_part(const char *start, const char *end, uint64_t flags, const char *what)
{
    uint64_t va = (uint64_t)(uintptr_t)start;
    map_or_die(va, va - KERNEL_VMA, (uint64_t)(end - start), flags | PTE_G, what);
}

void kernel_paging_init(uint64_t phys_top, int allow_1g)
{
    env.allow_1g = allow_1g != 0;
    pml4_pa = pool_alloc(NULL);

    map_image_part(__text_start, __text_end, 0, "text");
    map_image_part(__rodata_start, __rodata_end, PTE_NX, "rodata");
    map_image_part(__data_start, __bss_end, PTE_W | PTE_NX, "data");

    uint64_t limit = env.allow_1g ? PHYSMAP_MAX_1G : PHYSMAP_MAX_2M;
    uint64_t top = phys_top < MMIO_WINDOW_END ? MMIO_WINDOW_END : phys_top;
    top = (top + LARGE_PAGE_SIZE_2M - 1) & ~(LARGE_PAGE_SIZE_2M - 1);
    if (top > limit) {
        kprintf("paging: physmap limited to %lu GiB; memory above is not used\n", limit >> 30);
        top = limit;
    }
    uint64_t rw = PTE_W | PTE_NX | PTE_G;
    map_or_die(PHYSMAP_BASE, 0, MMIO_WINDOW_START, rw, "physmap low");
    map_or_die(PHYSMAP_BASE + MMIO_WINDOW_START, MMIO_WINDOW_START,
               MMIO_WINDOW_END - MMIO_WINDOW_START, rw | PTE_PCD | PTE_PWT, "physmap mmio");
    if (top > MMIO_WINDOW_END)
        map_or_die(PHYSMAP_BASE + MMIO_WINDOW_END, MMIO_WINDOW_END, top - MMIO_WINDOW_END, rw,
                   "physmap high");
    physmap_size = top;

    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
    write_cr0(read_cr0() | CR0_WP);
    write_cr4(read_cr4() | CR4_PGE);
    write_cr3(pml4_pa);
}

uint64_t kernel_pml4_pa(void)
{
    return pml4_pa;
}

const struct pt_env *kernel_pt_env(void)
{
    return &env;
}

uint64_t kernel_physmap_size(void)
{
    return physmap_size;
}

bool kernel_paging_map_identity_page(uint64_t pa)
{
    if (pa >= IDENTITY_PAGE_LIMIT || (pa & (PAGE_SIZE - 1)) != 0)
        return false;
    /* Read + execute, not global: a CR3 reload on each CPU drops it once removed. */
    return pt_map_range(&env, pml4_pa, pa, pa, PAGE_SIZE, 0) == PT_OK;
}

void kernel_paging_unmap_identity_page(uint64_t pa)
{
    if (pa >= IDENTITY_PAGE_LIMIT)
        return;
    uint64_t *table = env.table_ptr(env.ctx, pml4_pa);
    for (unsigned level = PT_LEVELS; level > 1; level--) {
        uint64_t entry = table[pt_index(pa, level)];
        if (!(entry & PTE_P) || (entry & PTE_PS))
            return;     /* not a page kernel_paging_map_identity_page() made */
        table = env.table_ptr(env.ctx, entry & PTE_ADDR_MASK);
    }
    /* The now-empty intermediate tables stay linked and are reused by the next map. */
    table[pt_index(pa, 1)] = 0;
    invlpg(pa);
}
