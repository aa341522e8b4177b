/* SPDX-License-Identifier: MIT */
/* suite boot: the core reached 64-bit higher-half mode with its own tables, GDT/TSS, IDT and W^X. */
#include "../arch/x86_64/cpu.h"
#include "../arch/x86_64/extable.h"
#include "../arch/x86_64/gdt.h"
#include "../arch/x86_64/kernel_paging.h"
#include "../arch/x86_64/layout.h"
#include "../arch/x86_64/trap.h"
#include "../drivers/uart16550.h"
#include "ktest.h"

extern char __text_start[], __rodata_start[], __data_start[];
extern const char boot_stack_top[];

/* A `ret` instruction in writable, non-executable data. */
static volatile uint8_t data_ret_insn[16] = { 0xc3 };
static const uint64_t rodata_word = 0x1122334455667788ull;

static uint16_t read_tr(void)
{
    uint16_t tr;
    __asm__ volatile("str %0" : "=r"(tr));
    return tr;
}

KTEST_SUITE(boot)
{
    (void)bi;
    uint64_t rip;
    __asm__ volatile("leaq 0(%%rip), %0" : "=r"(rip));

    uint64_t efer = rdmsr(MSR_EFER);
    ktest_check((efer & EFER_LMA) != 0, "long_mode_active", "EFER=0x%lx", efer);
    ktest_check((efer & EFER_NXE) != 0, "nx_enabled", "EFER=0x%lx", efer);
    ktest_check((read_cr0() & CR0_WP) != 0, "cr0_wp_set", "CR0=0x%lx", read_cr0());
    ktest_check(rip >= KERNEL_VMA, "runs_in_higher_half", "RIP=0x%lx", rip);
    ktest_check(read_cr3() == kernel_pml4_pa(), "own_page_tables_loaded",
                "CR3=0x%lx expected 0x%lx", read_cr3(), kernel_pml4_pa());
    ktest_check(read_tr() == GDT_TSS, "tss_loaded", "TR=0x%x", read_tr());

    struct descriptor_table_ptr idtr;
    __asm__ volatile("sidt %0" : "=m"(idtr));
    ktest_check(idtr.limit == 256 * 16 - 1, "idt_has_256_gates", "limit=%u", idtr.limit);
    ktest_check(uart_present(), "serial_uart_present", "scratch register did not loop back");

    /* W^X on the image, checked by real accesses, not by reading our own tables. */
    const struct fault_record *fr = trap_last_fault();
    bool faulted = probe_write64((uint64_t)(uintptr_t)__text_start, 0);
    ktest_check(faulted && fr->vector == EXC_PF &&
                    fr->error_code == (PF_ERR_PRESENT | PF_ERR_WRITE),
                "text_not_writable", "faulted=%d vector=%lu error=0x%lx", faulted, fr->vector,
                fr->error_code);
    faulted = probe_write64((uint64_t)(uintptr_t)&rodata_word, 0);
    ktest_check(faulted && fr->vector == EXC_PF && rodata_word == 0x1122334455667788ull,
                "rodata_not_writable", "faulted=%d vector=%lu", faulted, fr->vector);
    faulted = probe_exec((uint64_t)(uintptr_t)data_ret_insn);
    ktest_check(faulted && fr->vector == EXC_PF &&
                    fr->error_code == (PF_ERR_PRESENT | PF_ERR_FETCH) &&
                    fr->cr2 == (uint64_t)(uintptr_t)data_ret_insn,
                "data_not_executable", "faulted=%d vector=%lu error=0x%lx cr2=0x%lx", faulted,
                fr->vector, fr->error_code, fr->cr2);
    uint64_t v = 0;
    faulted = probe_write64((uint64_t)(uintptr_t)&data_ret_insn[8], 0x5a5a5a5a5a5a5a5aull) ||
              probe_read64((uint64_t)(uintptr_t)&data_ret_insn[8], &v);
    ktest_check(!faulted && v == 0x5a5a5a5a5a5a5a5aull, "data_writable", "faulted=%d v=0x%lx",
                faulted, v);

    /* The boot identity mapping is gone: low addresses fault. */
    faulted = probe_read64(KERNEL_PHYS_LOAD, &v);
    ktest_check(faulted && fr->vector == EXC_PF && (fr->error_code & PF_ERR_PRESENT) == 0,
                "identity_map_removed", "faulted=%d error=0x%lx", faulted, fr->error_code);

    /* The physmap shows the same bytes as the image mapping. */
    uint64_t rodata_pa = (uint64_t)(uintptr_t)&rodata_word - KERNEL_VMA;
    faulted = probe_read64((uint64_t)(uintptr_t)phys_to_virt(rodata_pa), &v);
    ktest_check(!faulted && v == rodata_word, "physmap_aliases_image", "faulted=%d v=0x%lx",
                faulted, v);

    uint64_t pa = 0, leaf = 0;
    bool mapped = pt_translate(kernel_pt_env(), kernel_pml4_pa(), (uint64_t)(uintptr_t)__data_start,
                               &pa, &leaf);
    ktest_check(mapped && pa == (uint64_t)(uintptr_t)__data_start - KERNEL_VMA &&
                    (leaf & PTE_NX) && (leaf & PTE_W),
                "walker_agrees_with_cpu", "mapped=%d pa=0x%lx leaf=0x%lx", mapped, pa, leaf);
    ktest_check((uint64_t)(uintptr_t)boot_stack_top > rip, "stack_in_image_bss",
                "stack top 0x%lx", (uint64_t)(uintptr_t)boot_stack_top);
}
