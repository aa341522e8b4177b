/* SPDX-License-Identifier: MIT */
/* guest_reset: a tiny guest in bzImage form that resets its VM through the i8042 (0x64 <- 0xfe) and then port 0xcf9, and checks after each reset that it started fresh. */

/*
 * Loaded by the real vmm's Linux loader like guest_bzimage.S (64-bit entry at 1 MiB +
 * 0x200, RSI = boot_params). A reset keeps the CMOS NVRAM (battery-backed on a PC), so
 * the guest counts its boots in CMOS byte BOOTS and its failed checks in CMOS byte FAILS:
 *   boot 0: change what a reset must undo, write the markers, reset by the keyboard
 *           controller (0xfe to port 0x64);
 *   boot 1: the checks below, change things again, reset by the PIIX reset control
 *           register (0x02 then 0x06 to port 0xcf9, Linux's sequence);
 *   boot 2: the checks again, SUMMARY, S5 power-off (the vmm exits 0).
 * The checks after a reset (reset.<boot>_*):
 *   image_reloaded  a word of this image's data, changed before the reset, has its
 *                   value from the file again: the vmm loaded the image anew;
 *   ram_kept        a word of RAM outside the image, written before the reset, is still
 *                   there: a reset does not clear memory (a PC's does not either);
 *   entry_rsi       RSI points at boot_params ("HdrS" in its setup header);
 *   entry_cr0       CR0 has the loader's PG NE ET PE and not TS (set before the reset);
 *   entry_idtr      IDTR limit 0, the loader's (an IDT was loaded before the reset);
 *   sse_reset       MXCSR 0x1f80 and XMM0 zero (0x7f80 and 0x1234 before the reset);
 *   pic_imr         the 8259A's mask register is 0 again (0x5a written before);
 *   lapic_tpr       the local APIC's TPR is 0 again (0x30 written before).
 * A reset port that does not reset prints FAIL: reset.<source>_reset and powers off.
 */
#define LOAD 0x100000
#define CMOS_INDEX 0x70
#define CMOS_DATA 0x71
#define BOOTS 0x48                      /* CMOS NVRAM bytes (unused by the platform) */
#define FAILS 0x49
#define RAM_MARKER_GPA 0x380000         /* above the image, below the loader's initrd/tables */
#define RAM_MARKER 0x5eed0000
#define IMAGE_MARKER 0x11111111
#define LAPIC_TPR 0xfee00080
#define BOOT_CR0 0x80000031             /* the Linux loader's CR0: PG NE ET PE */
#define CR0_TS 0x8
#define CR4_OSFXSR 0x200
#define MXCSR_RESET 0x1f80
#define REPORT_PREFIX report_boot       /* check names read reset.<boot>_<name> */

#include "bzimage_header.inc"
entry64:
    mov %rsi, %r15                  /* boot_params, before anything else */
    mov %cr0, %r14
    sidt idt_seen(%rip)
    lea stack_top(%rip), %rsp
    mov %cr4, %rax
    or $CR4_OSFXSR, %rax
    mov %rax, %cr4
    stmxcsr mxcsr_seen(%rip)
    movq %xmm0, %rax
    mov %rax, xmm0_seen(%rip)

    mov $BOOTS, %al
    call cmos_read
    movzbl %al, %r13d               /* r13: this boot's number */
    mov $FAILS, %al
    call cmos_read
    movzbl %al, %r12d               /* r12: failures so far */

    lea msg_boot(%rip), %rsi
    call puts
    mov %r13d, %eax
    add $'0', %al
    call putc
    mov $'\n', %al
    call putc

    test %r13d, %r13d
    jz prepare                      /* boot 0: nothing to check yet */
    cmp $2, %r13d
    ja too_many

    /* image_reloaded */
    cmpl $IMAGE_MARKER, image_marker(%rip)
    lea name_image(%rip), %rsi
    call report
    /* ram_kept: the marker boot n-1 wrote */
    mov $RAM_MARKER_GPA, %rbx
    mov (%rbx), %eax
    lea RAM_MARKER - 1(%r13), %ecx
    cmp %ecx, %eax
    lea name_ram(%rip), %rsi
    call report
    /* entry_rsi, entry_cr0, entry_idtr */
    cmpl $0x53726448, 0x202(%r15)   /* "HdrS" in boot_params' setup header */
    lea name_rsi(%rip), %rsi
    call report
    mov %r14, %rax
    and $BOOT_CR0 | CR0_TS, %eax
    cmp $BOOT_CR0, %eax
    lea name_cr0(%rip), %rsi
    call report
    cmpw $0, idt_seen(%rip)
    lea name_idtr(%rip), %rsi
    call report
    /* sse: MXCSR and XMM0 as after RESET# (changed before the reset) */
    cmpl $MXCSR_RESET, mxcsr_seen(%rip)
    jne 1f
    cmpq $0, xmm0_seen(%rip)
1:  lea name_sse(%rip), %rsi
    call report
    /* pic_imr */
    in $0x21, %al
    cmp $0, %al
    lea name_pic(%rip), %rsi
    call report
    /* lapic_tpr */
    mov $LAPIC_TPR, %rbx
    mov (%rbx), %eax
    cmp $0, %eax
    lea name_tpr(%rip), %rsi
    call report
    mov %r12d, %eax
    shl $8, %eax
    mov $FAILS, %al
    call cmos_write
    cmp $2, %r13d
    je summary_power_off

prepare:
    /* What the next boot must find undone (or kept). */
    movl $0x22222222, image_marker(%rip)
    mov $RAM_MARKER_GPA, %rbx
    lea RAM_MARKER(%r13), %eax
    mov %eax, (%rbx)
    mov $0x5a, %al
    out %al, $0x21
    mov $LAPIC_TPR, %rbx
    movl $0x30, (%rbx)
    lidt some_idt(%rip)
    ldmxcsr mxcsr_changed(%rip)
    mov $0x1234, %eax
    movq %rax, %xmm0
    mov %cr0, %rax
    or $CR0_TS, %rax
    mov %rax, %cr0
    lea 1(%r13), %eax
    mov %al, %ah
    mov $BOOTS, %al
    call cmos_write

    test %r13d, %r13d
    jnz reset_cf9
    mov $0xfe, %al
    out %al, $0x64                  /* the i8042's reset pulse: nothing after this runs */
    lea msg_kbc_no_reset(%rip), %rsi
    jmp fail_line
reset_cf9:
    mov $0xcf9, %dx
    mov $0x02, %al
    out %al, %dx
    mov $0x06, %al
    out %al, %dx                    /* bit 2 rising: reset */
    lea msg_cf9_no_reset(%rip), %rsi
    jmp fail_line

too_many:
    lea msg_too_many(%rip), %rsi
/* fail_line: the whole FAIL line at %rsi counts as one more failure; then SUMMARY and S5. */
fail_line:
    call puts
    inc %r12d
    jmp summary_power_off

#include "bzimage_report.inc"

/* report_boot: "reset.<boot>_" between report's verdict and the check's name. */
report_boot:
    lea msg_reset(%rip), %rsi
    call puts
    mov %r13d, %eax
    add $'0', %al
    call putc
    mov $'_', %al
    jmp putc

/* cmos_read: %al = index -> %al = value. cmos_write: %al = index, %ah = value. */
cmos_read:
    out %al, $CMOS_INDEX
    in $CMOS_DATA, %al
    ret
cmos_write:
    out %al, $CMOS_INDEX
    mov %ah, %al
    out %al, $CMOS_DATA
    ret

    .p2align 3
image_marker: .long IMAGE_MARKER
mxcsr_seen: .long 0
mxcsr_changed: .long 0x7f80
xmm0_seen: .quad -1
    .p2align 3
idt_seen:   .word 0xffff
            .quad 0
some_idt:   .word 0xfff
            .quad 0
msg_boot:    .asciz "guest_reset: boot "
msg_reset:   .asciz "reset."
name_image:  .asciz "image_reloaded"
name_ram:    .asciz "ram_kept"
name_rsi:    .asciz "entry_rsi"
name_cr0:    .asciz "entry_cr0"
name_idtr:   .asciz "entry_idtr"
name_sse:    .asciz "sse_reset"
name_pic:    .asciz "pic_imr"
name_tpr:    .asciz "lapic_tpr"
msg_kbc_no_reset: .asciz "FAIL: reset.kbc_reset: port 0x64 <- 0xfe did not reset the VM\n"
msg_cf9_no_reset: .asciz "FAIL: reset.cf9_reset: port 0xcf9 <- 0x06 did not reset the VM\n"
msg_too_many: .asciz "FAIL: reset.boots: more boots than resets asked for\n"
msg_summary: .asciz "SUMMARY: 16 tests, "
    .p2align 4
    .fill 1024, 1, 0
stack_top:
    .p2align 4
pm_end:
