/* SPDX-License-Identifier: MIT */
/* musl_hello: an ordinary static musl program (stdio, malloc, TLS, clocks) on the hvrt runtime. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "musl_layout.h"

static struct musl_shared *const shared = (struct musl_shared *)(uintptr_t)MUSL_SHARED_VA;
static __thread int tls_counter = 7;
__thread char tls_zeroed[64];   /* external: the compiler cannot assume it stays zero */

__attribute__((format(printf, 3, 4))) static void check(int ok, const char *name, const char *fmt, ...)
{
    uint64_t i = shared->count;
    if (i >= MUSL_MAX_RESULTS)
        return;
    struct musl_result *r = &shared->results[i];
    snprintf(r->name, sizeof(r->name), "%s", name);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
    va_end(ap);
    r->ok = ok != 0;
    shared->count = i + 1;
}

static void check_stdio(void)
{
    int n = printf("musl: hello from printf, %d + %d = %d\n", 40, 2, 42);
    int flushed = fflush(stdout);
    check(n == 37 && flushed == 0, "musl.printf_stdout", "printf %d, fflush %d", n, flushed);
    n = fprintf(stderr, "musl: and from stderr\n");
    check(n == 22, "musl.fprintf_stderr", "fprintf %d", n);
    char buf[64];
    snprintf(buf, sizeof(buf), "%d %s %x %5.2s|%-3c|", 42, "str", 0xbeefu, "abc", 'z');
    check(strcmp(buf, "42 str beef    ab|z  |") == 0, "musl.snprintf_int", "got '%s'", buf);
}

static void check_float(void)
{
    char buf[64];
    volatile double x = 3.25, y = 0.5;
    snprintf(buf, sizeof(buf), "%f %.3f %g %e", x * y, 2.0 / 3.0, 1e10, 12345.678);
    check(strcmp(buf, "1.625000 0.667 1e+10 1.234568e+04") == 0, "musl.snprintf_float", "got '%s'", buf);
}

static void check_malloc(void)
{
    void *blocks[64] = { 0 };
    int ok = 1;
    for (unsigned i = 0; i < 64; i++) {
        size_t size = (size_t)1 << (i % 16);    /* 1 B .. 32 KiB */
        blocks[i] = malloc(size + i);
        if (blocks[i] == NULL) {
            ok = 0;
            break;
        }
        memset(blocks[i], (int)i, size + i);
    }
    for (unsigned i = 0; ok && i < 64; i++) {
        size_t size = ((size_t)1 << (i % 16)) + i;
        const unsigned char *p = blocks[i];
        if (p[0] != (unsigned char)i || p[size - 1] != (unsigned char)i)
            ok = 0;
    }
    for (unsigned i = 0; i < 64; i++)
        free(blocks[i]);
    check(ok, "musl.malloc_many_sizes", "a block was lost or overlapped");

    unsigned char *big = malloc(1u << 20);
    int big_ok = big != NULL;
    if (big_ok) {
        memset(big, 0xa5, 1u << 20);
        big_ok = big[0] == 0xa5 && big[(1u << 20) - 1] == 0xa5;
        unsigned char *bigger = realloc(big, 2u << 20);
        big_ok = big_ok && bigger != NULL && bigger[(1u << 20) - 1] == 0xa5;
        free(bigger != NULL ? bigger : big);
    }
    check(big_ok, "musl.malloc_1mib_and_realloc", "1 MiB block failed");

    /* Freed memory is reusable: the same big block again, many times. */
    int reuse_ok = 1;
    for (unsigned i = 0; i < 16 && reuse_ok; i++) {
        void *p = malloc(1u << 20);
        reuse_ok = p != NULL;
        free(p);
    }
    char *z = calloc(1000, 4);
    int zero_ok = z != NULL;
    for (unsigned i = 0; zero_ok && i < 4000; i++)
        zero_ok = z[i] == 0;
    free(z);
    check(reuse_ok && zero_ok, "musl.free_reuses_and_calloc_zeroes", "reuse %d zero %d", reuse_ok, zero_ok);
}

static void check_tls(void)
{
    int *volatile addr = &tls_counter;
    tls_counter += 35;
    int zero_ok = 1;
    for (unsigned i = 0; i < sizeof(tls_zeroed); i++)
        zero_ok = zero_ok && tls_zeroed[i] == 0;
    uint64_t fs;
    __asm__ volatile("mov %%fs:0, %0" : "=r"(fs));
    check(*addr == 42 && zero_ok && fs != 0, "musl.thread_local", "counter %d zeroed %d fs 0x%lx",
          *addr, zero_ok, (unsigned long)fs);
}

static void check_time(void)
{
    struct timespec a, b;
    int ra = clock_gettime(CLOCK_MONOTONIC, &a);
    volatile unsigned spin = 0;
    for (unsigned i = 0; i < 1000000; i++)
        spin += i;
    int rb = clock_gettime(CLOCK_MONOTONIC, &b);
    int later = b.tv_sec > a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec > a.tv_nsec);
    time_t t = time(NULL);
    check(ra == 0 && rb == 0 && later && t != (time_t)-1, "musl.clock_monotonic_increases",
          "ra %d rb %d a %ld.%09ld b %ld.%09ld", ra, rb, (long)a.tv_sec, a.tv_nsec, (long)b.tv_sec, b.tv_nsec);
}

/*
 * getpid through an inline `syscall` with known values in every register Linux preserves,
 * markers in the red zone and CF set: the reflection must keep all of them (rcx, r11 may go).
 */
void reflect_probe(uint64_t *out);
__asm__(".text\n"
        ".global reflect_probe\n"
        "reflect_probe:\n"
        "    push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n"
        "    mov %rdi, %r15\n"
        "    sub $256, %rsp\n"
        "    movq $0x7a7a01, -8(%rsp)\n"
        "    movq $0x7a7a02, -128(%rsp)\n"
        "    mov $0x1111, %edi\n mov $0x2222, %esi\n mov $0x3333, %edx\n mov $0x4444, %r10d\n"
        "    mov $0x5555, %r8d\n mov $0x6666, %r9d\n mov $0xb0b, %ebx\n mov $0xb0b0, %ebp\n"
        "    mov $0x1212, %r12d\n mov $0x1313, %r13d\n mov $0x1414, %r14d\n"
        "    mov $39, %eax\n"              /* SYS_getpid */
        "    stc\n"
        "    syscall\n"
        "    mov %rax, 0(%r15)\n"
        "    setc %al\n movzbl %al, %eax\n mov %rax, 8(%r15)\n"
        "    mov %rdi, 16(%r15)\n mov %rsi, 24(%r15)\n mov %rdx, 32(%r15)\n mov %r10, 40(%r15)\n"
        "    mov %r8, 48(%r15)\n mov %r9, 56(%r15)\n mov %rbx, 64(%r15)\n mov %rbp, 72(%r15)\n"
        "    mov %r12, 80(%r15)\n mov %r13, 88(%r15)\n mov %r14, 96(%r15)\n"
        "    mov -8(%rsp), %rax\n mov %rax, 104(%r15)\n mov -128(%rsp), %rax\n mov %rax, 112(%r15)\n"
        "    add $256, %rsp\n"
        "    pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n"
        "    ret\n");

static void check_reflection_registers(void)
{
    static const uint64_t want[15] = { 1, 1, 0x1111, 0x2222, 0x3333, 0x4444, 0x5555, 0x6666,
                                       0xb0b, 0xb0b0, 0x1212, 0x1313, 0x1414, 0x7a7a01, 0x7a7a02 };
    uint64_t out[15] = { 0 };
    reflect_probe(out);
    unsigned bad = 0;
    while (bad < 15 && out[bad] == want[bad])
        bad++;
    check(bad == 15, "musl.reflection_preserves_registers", "word %u: 0x%lx, want 0x%lx", bad,
          bad < 15 ? (unsigned long)out[bad] : 0ul, bad < 15 ? (unsigned long)want[bad] : 0ul);
}

static void check_unsupported(void)
{
    /* A system call the runtime does not serve fails cleanly with ENOSYS. */
    FILE *f = fopen("/etc/passwd", "r");
    check(f == NULL, "musl.unsupported_syscall_fails", "fopen succeeded");
}

int main(int argc, char **argv)
{
    check(argc == 1 && argv[0] != NULL && strcmp(argv[0], "server") == 0 && argv[1] == NULL,
          "musl.argv", "argc %d", argc);
    check_stdio();
    check_float();
    check_malloc();
    check_tls();
    check_time();
    check_unsupported();
    check_reflection_registers();
    shared->done = 1;
    exit(0);
}
