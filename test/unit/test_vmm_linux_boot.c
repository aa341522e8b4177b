/* SPDX-License-Identifier: MIT */
/* test_vmm_linux_boot.c: the Linux loader (servers/vmm/boot/linux.c) on Debian's real bzImage and our initramfs, checked against Documentation/arch/x86/boot.rst. */
#include "vmm_test.h"

#include "acpi.h"
#include "e820.h"
#include "linux.h"
#include "test_vmm_linux_boot_paths.h"   /* HV_GUEST_KERNEL, HV_GUEST_INITRAMFS */

#define RAM (256ull << 20)

static uint8_t *kernel, *initrd, *mem;
static size_t kernel_size, initrd_size;
static struct gmem GM;
static struct e820_map MAP;

static uint8_t *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (f == 0)
        fail_msg("cannot open %s (run scripts/setup and build the guest_initramfs target)", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return buf;
}

static uint16_t k16(const uint8_t *p, unsigned o) { return (uint16_t)(p[o] | p[o + 1] << 8); }
static uint32_t k32(const uint8_t *p, unsigned o) { return (uint32_t)k16(p, o) | (uint32_t)k16(p, o + 2) << 16; }
static uint64_t k64(const uint8_t *p, unsigned o) { return k32(p, o) | (uint64_t)k32(p, o + 4) << 32; }

static int setup_group(void **state)
{
    (void)state;
    kernel = slurp(HV_GUEST_KERNEL, &kernel_size);
    initrd = slurp(HV_GUEST_INITRAMFS, &initrd_size);
    mem = malloc(RAM);
    return mem == 0;
}

static int teardown_group(void **state)
{
    (void)state;
    free(kernel);
    free(initrd);
    free(mem);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    memset(mem, 0xcc, 2u << 20);        /* poison the low area the loader must fill */
    GM = (struct gmem){ 1, { { 0, RAM, mem } } };
    assert_int_equal(e820_build(&MAP, RAM), E820_OK);
    return 0;
}

static struct linux_boot_config config(const uint8_t *k, size_t ksize, const char *cmdline)
{
    return (struct linux_boot_config){
        .kernel = k, .kernel_size = ksize, .initrd = initrd, .initrd_size = initrd_size,
        .cmdline = cmdline, .e820 = &MAP, .acpi_rsdp = 0xe0000,
    };
}

/* ---- an SDM 4-level walker, independent of the loader's constants ---- */
static bool walk(uint64_t cr3, uint64_t va, uint64_t *pa)
{
    uint64_t table = cr3 & ~0xfffull;
    for (int level = 3; level >= 0; level--) {
        unsigned idx = (unsigned)((va >> (12 + 9 * level)) & 511);
        if (table + 8ull * idx + 8 > RAM)
            return false;
        uint64_t e = k64(mem, (unsigned)(table + 8ull * idx));
        if (!(e & 1))
            return false;
        uint64_t frame = e & 0x000ffffffffff000ull;
        if (level > 0 && level < 3 && (e & 0x80)) {   /* 1 GiB or 2 MiB page */
            uint64_t mask = (1ull << (12 + 9 * level)) - 1;
            *pa = (frame & ~mask) | (va & mask);
            return true;
        }
        if (level == 0) {
            *pa = frame | (va & 0xfff);
            return true;
        }
        table = frame;
    }
    return false;
}

static void test_debian_kernel_boot_params(void **state)
{
    (void)state;
    const char *cmdline = "console=ttyS0 panic=-1 hv.workload=1";
    struct linux_boot_config cfg = config(kernel, kernel_size, cmdline);
    struct hv_vcpu_state vs;
    struct linux_boot_info info;
    enum linux_boot_error err = linux_boot_load(&GM, &cfg, &vs, &info);
    assert_int_equal(err, LINUX_OK);

    const uint8_t *bp = mem + info.boot_params_gpa;
    /* The image is a 64-bit-capable bzImage with protocol >= 2.12. */
    assert_int_equal(k16(kernel, 0x1fe), 0xaa55);
    assert_int_equal(k32(bp, 0x202), 0x53726448u);             /* "HdrS" copied */
    assert_true(k16(bp, 0x206) >= 0x020c);
    assert_int_equal(info.version, k16(kernel, 0x206));
    /* Fields the loader must set (boot.rst "Details of header fields"). */
    assert_int_equal(bp[0x210], 0xff);                          /* type_of_loader: undefined */
    assert_int_equal(bp[0x211] & 0x81, 0x81);                   /* LOADED_HIGH kept, CAN_USE_HEAP */
    assert_int_equal(k16(bp, 0x224), 0xde00);                   /* heap_end_ptr */
    assert_int_equal(k16(bp, 0x1fa), 0xffff);                   /* vid_mode: normal */
    assert_int_equal(bp[0x1ef], 0);                             /* sentinel: header copied correctly */
    /* Everything else in the header is the image's. */
    unsigned hdr_end = 0x202u + kernel[0x201];
    for (unsigned o = 0x1f1; o < hdr_end; o++) {
        bool loader_field = (o >= 0x1fa && o < 0x1fc) || (o >= 0x210 && o < 0x212) ||
                            (o >= 0x214 && o < 0x220) || (o >= 0x224 && o < 0x226) ||
                            (o >= 0x228 && o < 0x22c);
        if (!loader_field && bp[o] != kernel[o])
            fail_msg("boot_params byte 0x%x = 0x%x, image has 0x%x", o, bp[o], kernel[o]);
    }
    /* Command line: cmd_line_ptr -> NUL-terminated string, within cmdline_size. */
    uint32_t clp = k32(bp, 0x228);
    assert_int_equal(k32(bp, 0x0c8), 0);                        /* ext_cmd_line_ptr */
    assert_string_equal((const char *)mem + clp, cmdline);
    assert_true(strlen(cmdline) <= k32(kernel, 0x238));
    /* Kernel: at pref_address (it fits), aligned to kernel_alignment, the protected-mode part copied. */
    uint64_t load = info.kernel_gpa;
    assert_int_equal(load, k64(kernel, 0x258));
    assert_int_equal(load % k32(kernel, 0x230), 0);
    unsigned setup_sects = kernel[0x1f1] ? kernel[0x1f1] : 4;
    size_t pm_off = (setup_sects + 1ull) * 512u;
    assert_memory_equal(mem + load, kernel + pm_off, kernel_size - pm_off);
    assert_int_equal(info.kernel_end, load + k32(kernel, 0x260));
    /* Initrd: page aligned, in RAM, below initrd_addr_max, above the kernel's init_size, intact. */
    uint32_t rd = k32(bp, 0x218), rs = k32(bp, 0x21c);
    assert_int_equal(rs, initrd_size);
    assert_int_equal(rd % 4096, 0);
    assert_true((uint64_t)rd + rs - 1 <= k32(kernel, 0x22c));
    assert_true(rd >= info.kernel_end);
    assert_true((uint64_t)rd + rs <= RAM);
    assert_int_equal(k32(bp, 0x0c0), 0);                        /* ext_ramdisk_image */
    assert_memory_equal(mem + rd, initrd, initrd_size);
    /* e820 table and the RSDP pointer (protocol >= 2.14). */
    assert_int_equal(bp[0x1e8], MAP.count);
    for (unsigned i = 0; i < MAP.count; i++) {
        unsigned o = 0x2d0 + 20 * i;
        assert_int_equal(k64(bp, o), MAP.e[i].addr);
        assert_int_equal(k64(bp, o + 8), MAP.e[i].size);
        assert_int_equal(k32(bp, o + 16), MAP.e[i].type);
    }
    if (info.version >= 0x020e)
        assert_int_equal(k64(bp, 0x070), 0xe0000);
    /* Nothing the loader placed overlaps: zero page, command line, tables below 1 MiB. */
    assert_true(info.boot_params_gpa + 4096 <= clp);
    assert_true(clp + strlen(cmdline) < 0x9fc00);
}

static void test_debian_kernel_entry_state(void **state)
{
    (void)state;
    struct linux_boot_config cfg = config(kernel, kernel_size, "console=ttyS0");
    struct hv_vcpu_state vs;
    struct linux_boot_info info;
    assert_int_equal(linux_boot_load(&GM, &cfg, &vs, &info), LINUX_OK);
    /* 64-bit entry: startup_64 at load + 0x200, RSI = boot_params, interrupts off. */
    assert_int_equal(vs.rip, info.kernel_gpa + 0x200);
    assert_int_equal(vs.rsi, info.boot_params_gpa);
    assert_false(vs.rflags & (1u << 9));
    assert_true(vs.rflags & 2);
    assert_true(vs.mtd & HV_MTD_GPR);
    assert_true(vs.mtd & HV_MTD_CR);
    assert_true(vs.mtd & HV_MTD_SEG);
    assert_true(vs.mtd & HV_MTD_SYS_SEG);
    /* Long mode: CR0.PE|PG, CR4.PAE, EFER.LME|LMA. */
    assert_int_equal(vs.cr0 & 0x80000001u, 0x80000001u);
    assert_true(vs.cr4 & 0x20);
    assert_int_equal(vs.efer & 0x500, 0x500);
    /* __BOOT_CS = 0x10 (64-bit code), __BOOT_DS = 0x18 for DS, ES, SS. */
    assert_int_equal(vs.cs.selector, 0x10);
    assert_true(vs.cs.attr & (1u << 9));                        /* L */
    assert_false(vs.cs.attr & (1u << 10));                      /* D clear with L */
    assert_true(vs.cs.attr & 0x80);                             /* present */
    assert_int_equal(vs.cs.attr & 0x8, 0x8);                    /* code */
    assert_int_equal(vs.ds.selector, 0x18);
    assert_int_equal(vs.es.selector, 0x18);
    assert_int_equal(vs.ss.selector, 0x18);
    assert_int_equal(vs.ds.attr & 0x1a, 0x12);                  /* S, data, writable */
    assert_int_equal(vs.ss.base, 0);
    assert_int_equal(vs.ds.limit, 0xffffffffu);
    /* The GDT in guest memory holds the same descriptors. */
    uint64_t gdt = vs.gdtr.base;
    assert_true(vs.gdtr.limit >= 0x1f);
    uint64_t cs = k64(mem, (unsigned)(gdt + 0x10)), ds = k64(mem, (unsigned)(gdt + 0x18));
    assert_true(cs & (1ull << 53));                             /* L */
    assert_true(cs & (1ull << 47));                             /* P */
    assert_true(cs & (1ull << 43));                             /* executable */
    assert_true(ds & (1ull << 47));
    assert_false(ds & (1ull << 43));
    assert_true(ds & (1ull << 41));                             /* writable */
    /* Identity map covering at least 4 GiB. */
    uint64_t probes[] = { 0, 0x7000, info.kernel_gpa + 0x200, info.kernel_end - 1,
                          k32(mem + info.boot_params_gpa, 0x218), 0xfee00000ull, 0xffffffffull };
    for (unsigned i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
        uint64_t pa = ~0ull;
        if (!walk(vs.cr3, probes[i], &pa))
            fail_msg("0x%" PRIx64 " not mapped", probes[i]);
        assert_int_equal(pa, probes[i]);
    }
    /* The page tables and GDT are not inside anything Linux will use early. */
    assert_true(vs.cr3 + 6ull * 4096 <= info.boot_params_gpa);
}

static uint8_t *patched(void)
{
    uint8_t *k = malloc(kernel_size);
    assert_non_null(k);
    memcpy(k, kernel, kernel_size);
    return k;
}

static void expect_error(const uint8_t *k, size_t ksize, const char *cmdline, enum linux_boot_error want)
{
    struct linux_boot_config cfg = config(k, ksize, cmdline);
    struct hv_vcpu_state vs;
    struct linux_boot_info info;
    enum linux_boot_error got = linux_boot_load(&GM, &cfg, &vs, &info);
    if (got != want)
        fail_msg("got %d (%s), want %d (%s)", got, linux_boot_strerror(got), want, linux_boot_strerror(want));
    assert_true(strlen(linux_boot_strerror(got)) > 5);
    /* Nothing written: the poisoned zero page is untouched. */
    for (unsigned i = 0; i < 4096; i++)
        assert_int_equal(mem[0x7000 + i], 0xcc);
}

static void test_not_a_bzimage(void **state)
{
    (void)state;
    uint8_t *k = patched();
    k[0x1fe] = 0;                                       /* boot flag */
    expect_error(k, kernel_size, "", LINUX_ERR_NOT_BZIMAGE);
    k[0x1fe] = 0x55;
    k[0x202] = 'X';                                     /* "HdrS" */
    expect_error(k, kernel_size, "", LINUX_ERR_NOT_BZIMAGE);
    k[0x202] = 'H';
    k[0x211] &= (uint8_t)~1u;                           /* zImage: loaded low */
    expect_error(k, kernel_size, "", LINUX_ERR_NOT_BZIMAGE);
    expect_error(k, 512, "", LINUX_ERR_NOT_BZIMAGE);    /* too short for a header */
    free(k);
}

static void test_old_protocol_and_no_64bit(void **state)
{
    (void)state;
    uint8_t *k = patched();
    k[0x206] = 0x0b;                                    /* 2.11 */
    k[0x207] = 0x02;
    expect_error(k, kernel_size, "", LINUX_ERR_PROTOCOL_TOO_OLD);
    memcpy(k, kernel, kernel_size);
    k[0x236] &= (uint8_t)~1u;                           /* XLF_KERNEL_64 */
    expect_error(k, kernel_size, "", LINUX_ERR_NOT_64BIT);
    free(k);
}

static void test_truncated(void **state)
{
    (void)state;
    expect_error(kernel, (size_t)40 * 512, "", LINUX_ERR_TRUNCATED);          /* setup only */
    expect_error(kernel, kernel_size / 2, "", LINUX_ERR_TRUNCATED);     /* syssize beyond */
}

static void test_kernel_larger_than_memory(void **state)
{
    (void)state;
    assert_int_equal(e820_build(&MAP, 48ull << 20), E820_OK);          /* init_size is ~64 MiB */
    expect_error(kernel, kernel_size, "", LINUX_ERR_KERNEL_TOO_BIG);
}

static void test_relocation_when_pref_does_not_fit(void **state)
{
    (void)state;
    /* RAM from 1 MiB to 20 MiB, a hole, then RAM from 32 MiB: pref (16 MiB) does not fit. */
    e820_init(&MAP);
    assert_int_equal(e820_add(&MAP, 0, 0x9fc00, E820_RAM), E820_OK);
    assert_int_equal(e820_add(&MAP, 0x100000, 19u << 20, E820_RAM), E820_OK);
    assert_int_equal(e820_add(&MAP, 32u << 20, 224u << 20, E820_RAM), E820_OK);
    struct linux_boot_config cfg = config(kernel, kernel_size, "");
    struct hv_vcpu_state vs;
    struct linux_boot_info info;
    assert_int_equal(linux_boot_load(&GM, &cfg, &vs, &info), LINUX_OK);
    assert_int_equal(info.kernel_gpa, 32u << 20);      /* next kernel_alignment boundary in RAM */
    /* Not relocatable: refused. */
    uint8_t *k = patched();
    k[0x234] = 0;
    memset(mem + 0x7000, 0xcc, 4096);
    expect_error(k, kernel_size, "", LINUX_ERR_KERNEL_TOO_BIG);
    free(k);
}

static void test_initrd_does_not_fit(void **state)
{
    (void)state;
    uint8_t *k = patched();
    k[0x22c] = 0xff;                                    /* initrd_addr_max = 32 MiB - 1 */
    k[0x22d] = 0xff;
    k[0x22e] = 0xff;
    k[0x22f] = 0x01;
    expect_error(k, kernel_size, "", LINUX_ERR_INITRD_TOO_BIG);
    free(k);
    struct linux_boot_config cfg = config(kernel, kernel_size, "");
    cfg.initrd_size = 200u << 20;                       /* more than RAM above the kernel */
    cfg.initrd = mem;
    struct hv_vcpu_state vs;
    struct linux_boot_info info;
    assert_int_equal(linux_boot_load(&GM, &cfg, &vs, &info), LINUX_ERR_INITRD_TOO_BIG);
}

static void test_cmdline_too_long(void **state)
{
    (void)state;
    size_t max = k32(kernel, 0x238);
    char *c = malloc(max + 2);
    assert_non_null(c);
    memset(c, 'a', max + 1);
    c[max + 1] = 0;
    expect_error(kernel, kernel_size, c, LINUX_ERR_CMDLINE_TOO_LONG);
    c[max] = 0;                                         /* exactly cmdline_size: fine */
    struct linux_boot_config cfg = config(kernel, kernel_size, c);
    struct hv_vcpu_state vs;
    struct linux_boot_info info;
    assert_int_equal(linux_boot_load(&GM, &cfg, &vs, &info), LINUX_OK);
    free(c);
}

static void test_memory_not_backed(void **state)
{
    (void)state;
    GM.slot[0].size = 8u << 20;                         /* the map claims more than the vmm mapped */
    expect_error(kernel, kernel_size, "", LINUX_ERR_MEMORY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_debian_kernel_boot_params, setup),
        cmocka_unit_test_setup(test_debian_kernel_entry_state, setup),
        cmocka_unit_test_setup(test_not_a_bzimage, setup),
        cmocka_unit_test_setup(test_old_protocol_and_no_64bit, setup),
        cmocka_unit_test_setup(test_truncated, setup),
        cmocka_unit_test_setup(test_kernel_larger_than_memory, setup),
        cmocka_unit_test_setup(test_relocation_when_pref_does_not_fit, setup),
        cmocka_unit_test_setup(test_initrd_does_not_fit, setup),
        cmocka_unit_test_setup(test_cmdline_too_long, setup),
        cmocka_unit_test_setup(test_memory_not_backed, setup),
    };
    return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
