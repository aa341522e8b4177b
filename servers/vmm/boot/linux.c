/* SPDX-License-Identifier: MIT */
/* linux: the x86 64-bit Linux boot protocol — a bzImage, initrd and command line placed in guest memory, and the vCPU state at startup_64. */
#include "linux.h"

#include <stdbool.h>
#include <string.h>

static uint16_t rd16(const uint8_t *p, unsigned off) { return (uint16_t)(p[off] | p[off + 1] << 8); }
static uint32_t rd32(const uint8_t *p, unsigned off)
{
    return (uint32_t)p[off] | (uint32_t)p[off + 1] << 8 | (uint32_t)p[off + 2] << 16 | (uint32_t)p[off + 3] << 24;
}
static uint64_t rd64(const uint8_t *p, unsigned off) { return rd32(p, off) | (uint64_t)rd32(p, off + 4) << 32; }
static void wr16(uint8_t *p, unsigned off, uint16_t v) { p[off] = (uint8_t)v; p[off + 1] = (uint8_t)(v >> 8); }
static void wr32(uint8_t *p, unsigned off, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[off + i] = (uint8_t)(v >> (8 * i));
}
static void wr64(uint8_t *p, unsigned off, uint64_t v)
{
    wr32(p, off, (uint32_t)v);
    wr32(p, off + 4, (uint32_t)(v >> 32));
}

const char *linux_boot_strerror(enum linux_boot_error err)
{
    switch (err) {
    case LINUX_OK: return "ok";
    case LINUX_ERR_NOT_BZIMAGE: return "not a bzImage (no boot flag 0xaa55 / \"HdrS\" header, or not loaded high)";
    case LINUX_ERR_PROTOCOL_TOO_OLD: return "boot protocol older than 2.12 (no 64-bit entry)";
    case LINUX_ERR_NOT_64BIT: return "kernel has no 64-bit entry point (XLF_KERNEL_64 clear)";
    case LINUX_ERR_TRUNCATED: return "image truncated (setup_sects or syssize beyond the file)";
    case LINUX_ERR_KERNEL_TOO_BIG: return "kernel (init_size) does not fit in guest RAM";
    case LINUX_ERR_INITRD_TOO_BIG: return "initrd does not fit in RAM below initrd_addr_max above the kernel";
    case LINUX_ERR_CMDLINE_TOO_LONG: return "command line longer than the kernel's cmdline_size";
    case LINUX_ERR_E820_TOO_BIG: return "memory map has more entries than boot_params holds";
    case LINUX_ERR_MEMORY: return "a load address is not backed by guest memory";
    }
    return "unknown error";
}

/* Is [addr, addr + len) inside one RAM range below 4 GiB (the identity map)? */
static int in_ram(const struct e820_map *m, uint64_t addr, uint64_t len)
{
    if (addr + len < addr || addr + len > E820_4G)
        return 0;
    for (unsigned i = 0; i < m->count; i++) {
        const struct e820_entry *e = &m->e[i];
        if (e->type == E820_RAM && addr >= e->addr && addr + len <= e->addr + e->size)
            return 1;
    }
    return 0;
}

/* The load address: pref_address if it fits (and use_pref), else the lowest aligned fit above
 * 1 MiB (relocatable only). */
static enum linux_boot_error place_kernel(const struct e820_map *m, const uint8_t *hdr, bool use_pref,
                                          uint64_t *out)
{
    uint64_t init_size = rd32(hdr, LINUX_HDR_INIT_SIZE);
    uint64_t pref = rd64(hdr, LINUX_HDR_PREF_ADDRESS);
    uint64_t align = rd32(hdr, LINUX_HDR_KERNEL_ALIGNMENT);
    if (use_pref && pref >= E820_HIGH_MEM && in_ram(m, pref, init_size)) {
        *out = pref;
        return LINUX_OK;
    }
    if (!hdr[LINUX_HDR_RELOCATABLE] || align == 0 || (align & (align - 1u)))
        return LINUX_ERR_KERNEL_TOO_BIG;
    for (unsigned i = 0; i < m->count; i++) {
        const struct e820_entry *e = &m->e[i];
        if (e->type != E820_RAM)
            continue;
        uint64_t a = e->addr < E820_HIGH_MEM ? E820_HIGH_MEM : e->addr;
        a = (a + align - 1u) & ~(align - 1u);
        if (in_ram(m, a, init_size)) {
            *out = a;
            return LINUX_OK;
        }
    }
    return LINUX_ERR_KERNEL_TOO_BIG;
}

/* The initrd as high as allowed, page aligned, in RAM, above the kernel's init_size window. */
static enum linux_boot_error place_initrd(const struct e820_map *m, uint64_t max_end, uint64_t size,
                                          uint64_t kernel_end, uint64_t *out)
{
    for (unsigned i = m->count; i-- > 0;) {
        const struct e820_entry *e = &m->e[i];
        if (e->type != E820_RAM)
            continue;
        uint64_t end = e->addr + e->size;
        if (end > max_end)
            end = max_end;
        if (end < size + e->addr)
            continue;
        uint64_t a = (end - size) & ~0xfffull;
        if (a >= e->addr && a >= kernel_end && in_ram(m, a, size)) {
            *out = a;
            return LINUX_OK;
        }
    }
    return LINUX_ERR_INITRD_TOO_BIG;
}

static void segment(struct hv_segment *s, uint16_t sel, uint16_t attr)
{
    s->selector = sel;
    s->attr = attr;
    s->limit = 0xffffffffu;
    s->base = 0;
}

/* VMCB attribute form: type 3:0, S 4, DPL 6:5, P 7, AVL 8, L 9, D/B 10, G 11. */
#define ATTR_CODE64 0xa9bu      /* type 0xb, S, P, L, G */
#define ATTR_DATA 0xc93u        /* type 0x3, S, P, D/B, G */
#define ATTR_TSS64_BUSY 0x08bu  /* type 0xb (busy 64-bit TSS), P */
#define ATTR_LDT 0x082u         /* type 0x2, P */

static void entry_state(struct hv_vcpu_state *s, uint64_t entry)
{
    memset(s, 0, sizeof(*s));
    s->mtd = HV_MTD_GPR | HV_MTD_RSP_RIP_RFLAGS | HV_MTD_CR | HV_MTD_SEG | HV_MTD_SYS_SEG |
             HV_MTD_MSR | HV_MTD_INJECT;
    s->rsi = LINUX_BOOT_PARAMS_GPA;
    s->rip = entry;
    s->rsp = LINUX_STACK_TOP;
    s->rflags = 0x2;                /* bit 1 reserved-one; IF clear: interrupts off */
    s->cr0 = LINUX_CR0;
    s->cr3 = LINUX_PML4_GPA;
    s->cr4 = LINUX_CR4;
    s->efer = LINUX_EFER;
    segment(&s->cs, LINUX_BOOT_CS, ATTR_CODE64);
    segment(&s->ds, LINUX_BOOT_DS, ATTR_DATA);
    segment(&s->es, LINUX_BOOT_DS, ATTR_DATA);
    segment(&s->ss, LINUX_BOOT_DS, ATTR_DATA);
    segment(&s->fs, LINUX_BOOT_DS, ATTR_DATA);
    segment(&s->gs, LINUX_BOOT_DS, ATTR_DATA);
    s->tr = (struct hv_segment){ .selector = 0, .attr = ATTR_TSS64_BUSY, .limit = 0x67, .base = 0 };
    s->ldtr = (struct hv_segment){ .selector = 0, .attr = ATTR_LDT, .limit = 0xffff, .base = 0 };
    s->gdtr = (struct hv_dtable){ .base = LINUX_GDT_GPA, .limit = 4u * 8u - 1u };
    s->idtr = (struct hv_dtable){ .base = 0, .limit = 0 };
    s->pat = LINUX_PAT_DEFAULT;
}

enum linux_boot_error linux_boot_load(const struct gmem *gm, const struct linux_boot_config *cfg,
                                      struct hv_vcpu_state *vcpu, struct linux_boot_info *info)
{
    const uint8_t *k = cfg->kernel;
    size_t ksize = cfg->kernel_size;

    /* ---- decode and check; nothing is written before all checks pass ---- */
    if (k == 0 || ksize < 1024u || rd16(k, LINUX_HDR_BOOT_FLAG) != LINUX_BOOT_FLAG ||
        rd32(k, LINUX_HDR_MAGIC) != LINUX_MAGIC)
        return LINUX_ERR_NOT_BZIMAGE;
    uint16_t version = rd16(k, LINUX_HDR_VERSION);
    if (version < LINUX_MIN_VERSION)
        return LINUX_ERR_PROTOCOL_TOO_OLD;
    if (!(k[LINUX_HDR_LOADFLAGS] & LINUX_LOADED_HIGH))
        return LINUX_ERR_NOT_BZIMAGE;
    if (!(rd16(k, LINUX_HDR_XLOADFLAGS) & LINUX_XLF_KERNEL_64))
        return LINUX_ERR_NOT_64BIT;
    unsigned setup_sects = k[LINUX_HDR_SETUP_SECTS] ? k[LINUX_HDR_SETUP_SECTS] : 4u;
    uint64_t setup_size = (setup_sects + 1ull) * 512u;
    if (setup_size >= ksize)
        return LINUX_ERR_TRUNCATED;
    uint64_t pm_size = ksize - setup_size;
    if ((uint64_t)rd32(k, LINUX_HDR_SYSSIZE) * 16u > pm_size + 15u)
        return LINUX_ERR_TRUNCATED;
    uint64_t init_size = rd32(k, LINUX_HDR_INIT_SIZE);
    if (init_size < pm_size)
        init_size = pm_size;

    size_t cmdlen = cfg->cmdline ? strlen(cfg->cmdline) : 0;
    if (cmdlen > rd32(k, LINUX_HDR_CMDLINE_SIZE) || cmdlen + 1u > LINUX_CMDLINE_MAX)
        return LINUX_ERR_CMDLINE_TOO_LONG;
    if (cfg->e820->count > LINUX_BP_E820_MAX)
        return LINUX_ERR_E820_TOO_BIG;

    uint64_t kaddr;
    uint8_t hdr[LINUX_HDR_END_MAX];
    memcpy(hdr, k, sizeof(hdr));
    wr32(hdr, LINUX_HDR_INIT_SIZE, (uint32_t)init_size);   /* place by the effective size */
    /* pref_address first; if the initrd then has no room above the kernel (a small VM: the
     * kernel's init_size window at pref reaches the top of RAM), the lowest fit instead. */
    uint64_t kend = 0, iaddr = 0;
    enum linux_boot_error err = LINUX_ERR_KERNEL_TOO_BIG;
    for (int use_pref = 1; use_pref >= 0; use_pref--) {
        enum linux_boot_error kerr = place_kernel(cfg->e820, hdr, use_pref != 0, &kaddr);
        if (kerr != LINUX_OK)
            return use_pref ? kerr : err;      /* no lower place: the initrd's error stands */
        kend = kaddr + init_size;
        err = LINUX_OK;
        if (cfg->initrd_size == 0)
            break;
        uint64_t max_end = (uint64_t)rd32(k, LINUX_HDR_INITRD_ADDR_MAX) + 1u;  /* last byte allowed */
        err = place_initrd(cfg->e820, max_end, cfg->initrd_size, kend, &iaddr);
        if (err == LINUX_OK)
            break;
    }
    if (err != LINUX_OK)
        return err;

    uint8_t *bp = gmem_ptr(gm, LINUX_BOOT_PARAMS_GPA, LINUX_BP_SIZE);
    uint8_t *cl = gmem_ptr(gm, LINUX_CMDLINE_GPA, cmdlen + 1u);
    uint8_t *gdt = gmem_ptr(gm, LINUX_GDT_GPA, 32u);
    uint8_t *pt = gmem_ptr(gm, LINUX_PML4_GPA, (2ull + LINUX_IDENTITY_GIB) * 0x1000u);
    uint8_t *kd = gmem_ptr(gm, kaddr, init_size);
    uint8_t *id = cfg->initrd_size ? gmem_ptr(gm, iaddr, cfg->initrd_size) : 0;
    if (bp == 0 || cl == 0 || gdt == 0 || pt == 0 || kd == 0 || (cfg->initrd_size && id == 0))
        return LINUX_ERR_MEMORY;

    /* ---- write (cannot fail) ---- */
    memcpy(kd, k + setup_size, pm_size);
    memset(kd + pm_size, 0, init_size - pm_size);  /* bss and decompression room start clean */
    if (id != 0)
        memcpy(id, cfg->initrd, cfg->initrd_size);
    if (cmdlen)
        memcpy(cl, cfg->cmdline, cmdlen);
    cl[cmdlen] = 0;

    /* Zero page: the setup header copied from the image (0x1f1 to 0x202 + the jump's
     * byte at 0x201), then the loader's fields. */
    memset(bp, 0, LINUX_BP_SIZE);
    unsigned hdr_end = 0x202u + k[0x201];
    if (hdr_end > LINUX_HDR_END_MAX)
        hdr_end = LINUX_HDR_END_MAX;
    memcpy(bp + LINUX_HDR_SETUP_SECTS, k + LINUX_HDR_SETUP_SECTS, hdr_end - LINUX_HDR_SETUP_SECTS);
    wr16(bp, LINUX_HDR_VID_MODE, LINUX_VID_MODE_NORMAL);
    bp[LINUX_HDR_TYPE_OF_LOADER] = LINUX_TYPE_OF_LOADER;
    bp[LINUX_HDR_LOADFLAGS] |= LINUX_CAN_USE_HEAP;
    wr16(bp, LINUX_HDR_HEAP_END_PTR, LINUX_HEAP_END);
    wr32(bp, LINUX_HDR_CODE32_START, (uint32_t)kaddr);
    wr32(bp, LINUX_HDR_RAMDISK_IMAGE, (uint32_t)iaddr);
    wr32(bp, LINUX_HDR_RAMDISK_SIZE, (uint32_t)cfg->initrd_size);
    wr32(bp, LINUX_BP_EXT_RAMDISK_IMAGE, (uint32_t)(iaddr >> 32));
    wr32(bp, LINUX_BP_EXT_RAMDISK_SIZE, (uint32_t)((uint64_t)cfg->initrd_size >> 32));
    wr32(bp, LINUX_HDR_CMD_LINE_PTR, (uint32_t)LINUX_CMDLINE_GPA);
    wr32(bp, LINUX_BP_EXT_CMD_LINE_PTR, 0);
    if (version >= 0x020eu)
        wr64(bp, LINUX_BP_ACPI_RSDP_ADDR, cfg->acpi_rsdp);  /* protocol 2.14 */
    bp[LINUX_BP_E820_ENTRIES] = (uint8_t)cfg->e820->count;
    for (unsigned i = 0; i < cfg->e820->count; i++) {
        unsigned off = LINUX_BP_E820_TABLE + i * LINUX_BP_E820_ENTRY_LEN;
        wr64(bp, off, cfg->e820->e[i].addr);
        wr64(bp, off + 8u, cfg->e820->e[i].size);
        wr32(bp, off + 16u, cfg->e820->e[i].type);
    }

    /* GDT: null, null, __BOOT_CS, __BOOT_DS. */
    memset(gdt, 0, 32);
    wr64(gdt, 0, 0);
    wr64(gdt, 8, 0);
    wr64(gdt, LINUX_BOOT_CS, LINUX_GDT_CODE64);
    wr64(gdt, LINUX_BOOT_DS, LINUX_GDT_DATA);

    /* Identity map of 0-4 GiB: PML4[0] -> PDPT, PDPT[i] -> PD i, 2 MiB pages. */
    memset(pt, 0, (2ull + LINUX_IDENTITY_GIB) * 0x1000u);
    wr64(pt, 0, LINUX_PDPT_GPA | LINUX_PTE_P | LINUX_PTE_RW);
    for (unsigned i = 0; i < LINUX_IDENTITY_GIB; i++) {
        wr64(pt, 0x1000u + 8u * i, (LINUX_PD_GPA + 0x1000ull * i) | LINUX_PTE_P | LINUX_PTE_RW);
        for (unsigned j = 0; j < 512; j++) {
            uint64_t gpa = ((uint64_t)i << 30) | ((uint64_t)j << 21);
            wr64(pt, 0x2000u + 0x1000u * i + 8u * j, gpa | LINUX_PTE_P | LINUX_PTE_RW | LINUX_PTE_PS);
        }
    }

    entry_state(vcpu, kaddr + LINUX_ENTRY_64);
    info->version = version;
    info->kernel_gpa = kaddr;
    info->kernel_end = kend;
    info->entry = kaddr + LINUX_ENTRY_64;
    info->initrd_gpa = iaddr;
    info->boot_params_gpa = LINUX_BOOT_PARAMS_GPA;
    info->cmdline_gpa = LINUX_CMDLINE_GPA;
    return LINUX_OK;
}
