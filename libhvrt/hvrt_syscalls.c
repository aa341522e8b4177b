/* SPDX-License-Identifier: MIT */
/* hvrt_syscalls: the Linux system calls musl issues, served inside the server's own thread. */
#include <elf.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>

#include "hv/hvrt.h"
#include "hv/serial_ports.h"
#include "hv/errors.h"
#include "hv/ipc_buffer.h"
#include "hv/objects.h"

_Static_assert(offsetof(struct hv_ipc_buffer, reflect_rip) == HVRT_IPC_REFLECT_RIP, "hvrt_entry.S layout");
_Static_assert(offsetof(struct hv_ipc_buffer, reflect_rflags) == HVRT_IPC_REFLECT_RFLAGS, "hvrt_entry.S layout");

#ifndef HVRT_DEBUG
#define HVRT_DEBUG 1
#endif

#define PAGE 4096u
#define ARENA_PAGES (HVRT_ARENA_BYTES / PAGE)
#define UART_LSR 5u
#define LSR_THR_EMPTY 0x20u
#define ARCH_SET_FS_CODE 0x1002
#define DEBUG_NR_TRACKED 512u
#define LINUX_MREMAP_MAYMOVE 1u

uint64_t hvrt_ipc_va;
uint64_t hvrt_tsc_hz;

extern char hvrt_syscall_entry[];
extern const Elf64_Ehdr __ehdr_start;

static unsigned char arena[HVRT_ARENA_BYTES] __attribute__((aligned(PAGE)));
static unsigned char page_used[ARENA_PAGES];
static unsigned char reported[DEBUG_NR_TRACKED / 8];

/* ---- the core, through the caps of hvrt.h ---- */

static uint64_t invoke(uint64_t cptr, uint64_t label, unsigned n, uint64_t w0, uint64_t w1, uint64_t w2,
                       uint64_t *out0)
{
    struct hv_msg m = { hv_tag(label, n, 0), 0, { w0, w1, w2, 0 } };
    uint64_t err = hv_call(cptr, &m);
    if (out0 != NULL)
        *out0 = m.w[0];
    return err;
}

uint64_t hvrt_invoke(uint64_t cptr, uint64_t label, unsigned n, const uint64_t *args, struct hv_msg *out)
{
    struct hv_msg m = { hv_tag(label, n, 0), 0, { 0, 0, 0, 0 } };
    for (unsigned i = 0; i < n; i++) {
        if (i < HV_MSG_REG_WORDS)
            m.w[i] = args[i];
        else
            ((struct hv_ipc_buffer *)(uintptr_t)hvrt_ipc_va)->msg[i] = args[i];
    }
    uint64_t err = hv_call(cptr, &m);
    if (out != NULL)
        *out = m;
    return err;
}

/*
 * The console cap covers one 16550 at a COM base (the manifest's Server.console): the
 * first base whose line status register the cap lets us read. Found once; a cap covering
 * none of them leaves COM1, whose writes then fail quietly (the server runs on unheard).
 */
uint64_t hvrt_console_port(void)
{
    static uint64_t found;
    if (found != 0)
        return found;
    found = HVRT_COM1;
    for (unsigned i = 0; i < HV_SERIAL_PORTS; i++) {
        uint64_t lsr = 0;
        if (invoke(HVRT_SLOT_CONSOLE, HV_INV_IOPORT_IN, 2, hv_serial_base(i) + UART_LSR, 1, 0, &lsr) == HV_OK) {
            found = hv_serial_base(i);
            break;
        }
    }
    return found;
}

static void console_putc(char c)
{
    if (c == '\n')
        console_putc('\r');
    uint64_t port = hvrt_console_port();
    for (unsigned i = 0; i < 100000; i++) {
        uint64_t lsr = 0;
        if (invoke(HVRT_SLOT_CONSOLE, HV_INV_IOPORT_IN, 2, port + UART_LSR, 1, 0, &lsr) != HV_OK ||
            (lsr & LSR_THR_EMPTY) != 0)
            break;
    }
    (void)invoke(HVRT_SLOT_CONSOLE, HV_INV_IOPORT_OUT, 3, port, 1, (uint8_t)c, NULL);
}

static void console_puts(const char *s)
{
    for (; *s != '\0'; s++)
        console_putc(*s);
}

static void console_putn(int64_t v)
{
    char buf[24];
    unsigned i = sizeof(buf);
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    buf[--i] = '\0';
    do {
        buf[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        buf[--i] = '-';
    console_puts(&buf[i]);
}

/* ---- start-up ---- */

uint64_t hvrt_init(uint64_t top)
{
    if (hvrt_tsc_hz == 0)
        hvrt_tsc_hz = HVRT_DEFAULT_TSC_HZ;
    uint64_t err = invoke(HVRT_SLOT_TCB, HV_INV_TCB_SET_SYSCALL_ENTRY, 1,
                          (uint64_t)(uintptr_t)hvrt_syscall_entry, 0, 0, NULL);
    if (err != HV_OK) {
        console_puts("hvrt: cannot register the syscall entry, error ");
        console_putn((int64_t)err);
        console_puts("\n");
        (void)invoke(HVRT_SLOT_TCB, HV_INV_TCB_SUSPEND, 0, 0, 0, 0, NULL);
        for (;;)
            hv_yield();
    }

    /* Strings and AT_RANDOM bytes at the top, then the vector, as Linux lays it out. */
    uint64_t p = top;
    static const char name[] = "server";
    p -= sizeof(name);
    memcpy((void *)(uintptr_t)p, name, sizeof(name));
    uint64_t argv0 = p;
    p -= 16;
    p &= ~15ull;
    uint64_t tsc_lo, tsc_hi;
    __asm__ volatile("rdtsc" : "=a"(tsc_lo), "=d"(tsc_hi));
    uint64_t seed = (tsc_hi << 32) | tsc_lo;
    for (unsigned i = 0; i < 16; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        ((unsigned char *)(uintptr_t)p)[i] = (unsigned char)(seed >> 56);
    }
    uint64_t random = p;

    const Elf64_Ehdr *eh = &__ehdr_start;
    uint64_t vec[] = {
        1, argv0, 0,            /* argc, argv[0], NULL */
        0,                      /* envp: NULL */
        AT_PAGESZ, PAGE,
        AT_RANDOM, random,
        AT_PHDR, (uint64_t)(uintptr_t)eh + eh->e_phoff,
        AT_PHENT, eh->e_phentsize,
        AT_PHNUM, eh->e_phnum,
        AT_ENTRY, eh->e_entry,
        AT_NULL, 0,
    };
    p -= sizeof(vec);
    p &= ~15ull;
    memcpy((void *)(uintptr_t)p, vec, sizeof(vec));
    return p;
}

/* ---- memory: a static arena handed out in pages ---- */

static int64_t arena_alloc(uint64_t pages)
{
    for (uint64_t i = 0; i + pages <= ARENA_PAGES;) {
        uint64_t run = 0;
        while (run < pages && !page_used[i + run])
            run++;
        if (run == pages) {
            memset(&page_used[i], 1, pages);
            memset(&arena[i * PAGE], 0, pages * PAGE);
            return (int64_t)(uintptr_t)&arena[i * PAGE];
        }
        i += run + 1;
    }
    return -ENOMEM;
}

/* The page range [first, first + pages) of the arena that [addr, addr + len) covers; false if outside. */
static int arena_range(uint64_t addr, uint64_t len, uint64_t *first, uint64_t *pages)
{
    uint64_t base = (uint64_t)(uintptr_t)arena;
    if (addr % PAGE != 0 || addr < base || addr >= base + HVRT_ARENA_BYTES || len > HVRT_ARENA_BYTES)
        return 0;
    *first = (addr - base) / PAGE;
    *pages = (len + PAGE - 1) / PAGE;
    return *first + *pages <= ARENA_PAGES;
}

static int64_t sys_mmap(uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags, uint64_t fd)
{
    (void)addr;
    (void)prot;
    (void)fd;
    if (!(flags & MAP_ANONYMOUS))
        return -ENODEV;
    if (flags & MAP_FIXED)
        return -EINVAL;
    if (len == 0 || len > HVRT_ARENA_BYTES)
        return len == 0 ? -EINVAL : -ENOMEM;
    return arena_alloc((len + PAGE - 1) / PAGE);
}

static int64_t sys_munmap(uint64_t addr, uint64_t len)
{
    uint64_t first, pages;
    if (!arena_range(addr, len, &first, &pages))
        return -EINVAL;
    memset(&page_used[first], 0, pages);
    return 0;
}

static int64_t sys_mremap(uint64_t old, uint64_t old_len, uint64_t new_len, uint64_t flags)
{
    uint64_t first, old_pages, new_pages;
    if (!arena_range(old, old_len, &first, &old_pages) || new_len == 0 || new_len > HVRT_ARENA_BYTES)
        return -EINVAL;
    new_pages = (new_len + PAGE - 1) / PAGE;
    if (new_pages <= old_pages) {
        memset(&page_used[first + new_pages], 0, old_pages - new_pages);
        return (int64_t)old;
    }
    uint64_t grow = 0;
    while (first + old_pages + grow < ARENA_PAGES && grow < new_pages - old_pages &&
           !page_used[first + old_pages + grow])
        grow++;
    if (grow == new_pages - old_pages) {
        memset(&page_used[first + old_pages], 1, grow);
        memset(&arena[(first + old_pages) * PAGE], 0, grow * PAGE);
        return (int64_t)old;
    }
    if (!(flags & LINUX_MREMAP_MAYMOVE))
        return -ENOMEM;
    int64_t moved = arena_alloc(new_pages);
    if (moved < 0)
        return moved;
    memcpy((void *)(uintptr_t)moved, (const void *)(uintptr_t)old, old_pages * PAGE);
    memset(&page_used[first], 0, old_pages);
    return moved;
}

/* ---- files, time, process ---- */

static int64_t sys_write(uint64_t fd, const char *buf, uint64_t len)
{
    if (fd != 1 && fd != 2)
        return -EBADF;
    for (uint64_t i = 0; i < len; i++)
        console_putc(buf[i]);
    return (int64_t)len;
}

static int64_t sys_writev(uint64_t fd, const struct iovec *iov, uint64_t count)
{
    if (fd != 1 && fd != 2)
        return -EBADF;
    if (count > 1024)
        return -EINVAL;
    int64_t total = 0;
    for (uint64_t i = 0; i < count; i++)
        total += sys_write(fd, iov[i].iov_base, iov[i].iov_len);
    return total;
}

static int64_t sys_clock_gettime(uint64_t clock, struct timespec *ts)
{
    if (clock != CLOCK_MONOTONIC && clock != CLOCK_REALTIME)
        return -EINVAL;
    uint64_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    uint64_t tsc = (hi << 32) | lo;
    ts->tv_sec = (time_t)(tsc / hvrt_tsc_hz);
    ts->tv_nsec = (long)((unsigned __int128)(tsc % hvrt_tsc_hz) * 1000000000u / hvrt_tsc_hz);
    return 0;
}

__attribute__((noreturn)) static void sys_exit(int64_t code)
{
    console_puts("hvrt: exit ");
    console_putn(code);
    console_puts("\n");
    struct hv_ipc_buffer *ipc = (struct hv_ipc_buffer *)(uintptr_t)hvrt_ipc_va;
    ipc->user_data[HVRT_UD_EXIT_CODE] = (uint64_t)code;
    ipc->user_data[HVRT_UD_EXITED] = HVRT_EXIT_MAGIC;
    (void)hv_signal(HVRT_SLOT_EXIT_NTFN);
    (void)invoke(HVRT_SLOT_TCB, HV_INV_TCB_SUSPEND, 0, 0, 0, 0, NULL);
    for (;;)
        hv_yield();
}

static int64_t unsupported(uint64_t nr)
{
#if HVRT_DEBUG
    if (nr >= DEBUG_NR_TRACKED || !(reported[nr / 8] & (1u << (nr % 8)))) {
        if (nr < DEBUG_NR_TRACKED)
            reported[nr / 8] |= (unsigned char)(1u << (nr % 8));
        console_puts("hvrt: unsupported Linux syscall ");
        console_putn((int64_t)nr);
        console_puts("\n");
    }
#else
    (void)nr;
#endif
    return -ENOSYS;
}

int64_t hvrt_dispatch(const struct hvrt_args *args)
{
    const uint64_t *a = args->a;
    switch (args->nr) {
    case SYS_write:
        return sys_write(a[0], (const char *)(uintptr_t)a[1], a[2]);
    case SYS_writev:
        return sys_writev(a[0], (const struct iovec *)(uintptr_t)a[1], a[2]);
    case SYS_arch_prctl:
        if (a[0] != ARCH_SET_FS_CODE)
            return -EINVAL;
        return invoke(HVRT_SLOT_TCB, HV_INV_TCB_SET_FS_BASE, 1, a[1], 0, 0, NULL) == HV_OK ? 0 : -EPERM;
    case SYS_set_tid_address:
    case SYS_getpid:
    case SYS_gettid:
        return 1;
    case SYS_brk:
        return 0;       /* no heap break: musl falls back to mmap */
    case SYS_mmap:
        return sys_mmap(a[0], a[1], a[2], a[3], a[4]);
    case SYS_munmap:
        return sys_munmap(a[0], a[1]);
    case SYS_mremap:
        return sys_mremap(a[0], a[1], a[2], a[3]);
    case SYS_madvise:
    case SYS_mprotect:
    case SYS_rt_sigprocmask:
    case SYS_rt_sigaction:
        return 0;
    case SYS_ioctl:
        return -ENOTTY;
    case SYS_clock_gettime:
        return sys_clock_gettime(a[0], (struct timespec *)(uintptr_t)a[1]);
    case SYS_exit:
    case SYS_exit_group:
        sys_exit((int)a[0]);
    default:
        return unsupported(args->nr);
    }
}
