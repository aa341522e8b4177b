/* SPDX-License-Identifier: MIT */
/* test_format.c: format_buf/format_v (lib/format.c) against the host snprintf and the documented rules. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "run_isolated.h"

#include "lib/format.h"
#include "../common/xorshift.h"

#define BUF 512

/*
 * Formats with format_buf and with the host snprintf (same arguments) and checks
 * the returned length and the text are identical.
 */
#define EXPECT_LIKE_SNPRINTF(...)                                               \
    do {                                                                        \
        char got_[BUF];                                                         \
        char want_[BUF];                                                        \
        memset(got_, 0x5a, sizeof(got_));                                       \
        size_t n_ = format_buf(got_, sizeof(got_), __VA_ARGS__);                \
        int w_ = snprintf(want_, sizeof(want_), __VA_ARGS__);                   \
        assert_true(w_ >= 0 && (size_t)w_ < sizeof(want_));                     \
        assert_int_equal(n_, (size_t)w_);                                       \
        assert_memory_equal(got_, want_, (size_t)w_ + 1);                       \
    } while (0)

/* Checks format_buf output against a fixed expectation (text and returned length). */
#define EXPECT_TEXT(expected, ...)                                              \
    do {                                                                        \
        char got_[BUF];                                                         \
        memset(got_, 0x5a, sizeof(got_));                                       \
        size_t n_ = format_buf(got_, sizeof(got_), __VA_ARGS__);                \
        assert_string_equal(got_, (expected));                                  \
        assert_int_equal(n_, strlen(expected));                                 \
    } while (0)

/* No format attribute: lets us pass format strings gcc's -Wformat would reject. */
static size_t fmt_unchecked(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = format_buf_v(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

#define EXPECT_TEXT_UNCHECKED(expected, ...)                                    \
    do {                                                                        \
        char got_[BUF];                                                         \
        memset(got_, 0x5a, sizeof(got_));                                       \
        size_t n_ = fmt_unchecked(got_, sizeof(got_), __VA_ARGS__);             \
        assert_string_equal(got_, (expected));                                  \
        assert_int_equal(n_, strlen(expected));                                 \
    } while (0)

/* ---- plain text and %% ---- */

static void test_plain_text(void **state)
{
    (void)state;
    EXPECT_LIKE_SNPRINTF("hello, world");
    EXPECT_LIKE_SNPRINTF("%s", "");
    EXPECT_TEXT("", "%s", "");
    EXPECT_LIKE_SNPRINTF("100%%");
    EXPECT_LIKE_SNPRINTF("%%%%%%");
    EXPECT_LIKE_SNPRINTF("a%%b%dc", 7);
}

/* ---- signed conversions ---- */

static void test_signed(void **state)
{
    (void)state;
    EXPECT_LIKE_SNPRINTF("%d", 0);
    EXPECT_LIKE_SNPRINTF("%d", 1);
    EXPECT_LIKE_SNPRINTF("%d", -1);
    EXPECT_LIKE_SNPRINTF("%i", 123456789);
    EXPECT_LIKE_SNPRINTF("%i", -98765);
    EXPECT_LIKE_SNPRINTF("%d", INT_MAX);
    EXPECT_LIKE_SNPRINTF("%d", INT_MIN);
    EXPECT_LIKE_SNPRINTF("%ld", 0L);
    EXPECT_LIKE_SNPRINTF("%ld", LONG_MAX);
    EXPECT_LIKE_SNPRINTF("%ld", LONG_MIN);
    EXPECT_LIKE_SNPRINTF("%ld", (long)INT64_MIN);
    EXPECT_LIKE_SNPRINTF("%li", -4294967296L);
    EXPECT_LIKE_SNPRINTF("%lld", (long long)INT64_MIN);
    EXPECT_LIKE_SNPRINTF("%lld", (long long)INT64_MAX);
    EXPECT_LIKE_SNPRINTF("%lli", -1LL);
    EXPECT_LIKE_SNPRINTF("%zd", (ssize_t)-12345);
    EXPECT_LIKE_SNPRINTF("%zd", (ssize_t)SSIZE_MAX);
    /* An int argument is read as int, not as a 64-bit value. */
    EXPECT_LIKE_SNPRINTF("%d %d", -5, 6);
}

/* ---- unsigned and hex conversions ---- */

static void test_unsigned_hex(void **state)
{
    (void)state;
    EXPECT_LIKE_SNPRINTF("%u", 0u);
    EXPECT_LIKE_SNPRINTF("%u", UINT_MAX);
    EXPECT_LIKE_SNPRINTF("%u", 4000000000u);
    EXPECT_LIKE_SNPRINTF("%x", 0u);
    EXPECT_LIKE_SNPRINTF("%x", 0xdeadbeefu);
    EXPECT_LIKE_SNPRINTF("%X", 0xdeadbeefu);
    EXPECT_LIKE_SNPRINTF("%x", UINT_MAX);
    EXPECT_LIKE_SNPRINTF("%lu", 0UL);
    EXPECT_LIKE_SNPRINTF("%lu", ULONG_MAX);
    EXPECT_LIKE_SNPRINTF("%lx", 0xfedcba9876543210UL);
    EXPECT_LIKE_SNPRINTF("%lX", 0xfedcba9876543210UL);
    EXPECT_LIKE_SNPRINTF("%llu", (unsigned long long)UINT64_MAX);
    EXPECT_LIKE_SNPRINTF("%llx", (unsigned long long)UINT64_MAX);
    EXPECT_LIKE_SNPRINTF("%llX", 0x0123456789abcdefULL);
    EXPECT_LIKE_SNPRINTF("%llu", 10000000000000000000ULL);
    EXPECT_LIKE_SNPRINTF("%zu", (size_t)0);
    EXPECT_LIKE_SNPRINTF("%zu", SIZE_MAX);
    EXPECT_LIKE_SNPRINTF("%zx", (size_t)0xabcdef);
    /* Negative int through %u/%x is its unsigned int value, not sign-extended. */
    EXPECT_LIKE_SNPRINTF("%u %x", (unsigned)-1, (unsigned)-2);
}

/* ---- %c, %s ---- */

static void test_char_string(void **state)
{
    (void)state;
    EXPECT_LIKE_SNPRINTF("%c", 'A');
    EXPECT_LIKE_SNPRINTF("[%c%c%c]", 'x', 'y', 'z');
    EXPECT_LIKE_SNPRINTF("[%5c]", 'q');
    EXPECT_LIKE_SNPRINTF("[%-5c]", 'q');
    EXPECT_LIKE_SNPRINTF("%s", "string");
    EXPECT_LIKE_SNPRINTF("[%10s]", "right");
    EXPECT_LIKE_SNPRINTF("[%-10s]", "left");
    EXPECT_LIKE_SNPRINTF("[%3s]", "longer than width");
    EXPECT_LIKE_SNPRINTF("[%5s]", "");
    EXPECT_LIKE_SNPRINTF("%s=%s", "key", "value");

    /* %c of NUL emits one NUL character. */
    char buf[8];
    memset(buf, 'z', sizeof(buf));
    assert_int_equal(format_buf(buf, sizeof(buf), "a%cb", 0), 3);
    assert_int_equal(buf[0], 'a');
    assert_int_equal(buf[1], '\0');
    assert_int_equal(buf[2], 'b');
    assert_int_equal(buf[3], '\0');
}

static void test_null_string(void **state)
{
    (void)state;
    const char *volatile nullp = NULL;
    EXPECT_TEXT("(null)", "%s", nullp);
    EXPECT_TEXT("[(null)]", "[%s]", nullp);
    EXPECT_TEXT("[    (null)]", "[%10s]", nullp);
    EXPECT_TEXT("[(null)    ]", "[%-10s]", nullp);
}

/* ---- %p: "0x" followed by the lowercase hex address ---- */

static void test_pointer(void **state)
{
    (void)state;
    void *ptrs[] = { (void *)0x1, (void *)0xdeadbeef, (void *)&ptrs,
                     (void *)UINTPTR_MAX, (void *)0xffff800000001000ull };
    for (size_t i = 0; i < sizeof(ptrs) / sizeof(ptrs[0]); i++) {
        char want[64];
        snprintf(want, sizeof(want), "0x%" PRIxPTR, (uintptr_t)ptrs[i]);
        EXPECT_TEXT(want, "%p", ptrs[i]);
        /* glibc prints non-NULL %p exactly as "0x%lx". */
        EXPECT_LIKE_SNPRINTF("%p", ptrs[i]);
    }
}

/* The field width of %p is the width of the whole converted value "0x...". */
static void test_pointer_width(void **state)
{
    (void)state;
    void *p = (void *)0xbeef;
    EXPECT_TEXT("[            0xbeef]", "[%18p]", p);
    EXPECT_TEXT("[0xbeef            ]", "[%-18p]", p);
    EXPECT_LIKE_SNPRINTF("[%18p]", p);
    EXPECT_LIKE_SNPRINTF("[%-18p]", p);
}

/* ---- flags and widths ---- */

static void test_flags_width(void **state)
{
    (void)state;
    EXPECT_LIKE_SNPRINTF("[%5d]", 42);
    EXPECT_LIKE_SNPRINTF("[%-5d]", 42);
    EXPECT_LIKE_SNPRINTF("[%05d]", 42);
    EXPECT_LIKE_SNPRINTF("[%05d]", -42);
    EXPECT_LIKE_SNPRINTF("[%5d]", -42);
    EXPECT_LIKE_SNPRINTF("[%-5d]", -42);
    EXPECT_LIKE_SNPRINTF("[%2d]", 12345);
    EXPECT_LIKE_SNPRINTF("[%1d]", 0);
    EXPECT_LIKE_SNPRINTF("[%03d]", 0);
    EXPECT_LIKE_SNPRINTF("[%020ld]", LONG_MIN);
    EXPECT_LIKE_SNPRINTF("[%-20ld]", LONG_MIN);
    EXPECT_LIKE_SNPRINTF("[%08x]", 0xbeefu);
    EXPECT_LIKE_SNPRINTF("[%08X]", 0xbeefu);
    EXPECT_LIKE_SNPRINTF("[%-8x]", 0xbeefu);
    EXPECT_LIKE_SNPRINTF("[%016lx]", 0x1234UL);
    EXPECT_LIKE_SNPRINTF("[%016llx]", (unsigned long long)UINT64_MAX);
    EXPECT_LIKE_SNPRINTF("[%20llu]", (unsigned long long)UINT64_MAX);
    EXPECT_LIKE_SNPRINTF("[%010zu]", (size_t)77);
    EXPECT_LIKE_SNPRINTF("[%10u]", 7u);
    EXPECT_LIKE_SNPRINTF("[%64d]", 1);
    EXPECT_LIKE_SNPRINTF("[%064x]", 1u);
    EXPECT_LIKE_SNPRINTF("[%-64s]", "x");
}

/* '-' wins over '0' (C11 7.21.6.1p6), in either order. */
static void test_minus_overrides_zero(void **state)
{
    (void)state;
    EXPECT_TEXT_UNCHECKED("[42   ]", "[%-05d]", 42);
    EXPECT_TEXT_UNCHECKED("[42   ]", "[%0-5d]", 42);
    EXPECT_TEXT_UNCHECKED("[-42  ]", "[%-05d]", -42);
    EXPECT_TEXT_UNCHECKED("[ff   ]", "[%0-5x]", 0xffu);
}

static void test_star_width(void **state)
{
    (void)state;
    EXPECT_LIKE_SNPRINTF("[%*d]", 6, 42);
    EXPECT_LIKE_SNPRINTF("[%*d]", 0, 42);
    EXPECT_LIKE_SNPRINTF("[%*d]", -6, 42);     /* negative: '-' flag, width 6 */
    EXPECT_LIKE_SNPRINTF("[%-*d]", 6, 42);
    EXPECT_LIKE_SNPRINTF("[%0*d]", 6, -42);
    EXPECT_LIKE_SNPRINTF("[%*s]", 8, "abc");
    EXPECT_LIKE_SNPRINTF("[%*s]", -8, "abc");
    EXPECT_LIKE_SNPRINTF("[%*lx]", 12, 0xabcUL);
    EXPECT_LIKE_SNPRINTF("[%*c]", 3, 'c');
    EXPECT_LIKE_SNPRINTF("[%*d|%d]", 4, 1, 2);  /* the width is consumed, then the value */
    EXPECT_LIKE_SNPRINTF("[%*d]", 64, 5);
    /* '0' and a negative '*' width: left alignment wins. */
    EXPECT_TEXT_UNCHECKED("[42    ]", "[%0*d]", -6, 42);
}

/* Width INT_MIN via '*': means '-' with a huge width, capped to 64. Must not overflow. */
static int star_int_min_child(void)
{
    char buf[BUF];
    char want[BUF];
    size_t n = fmt_unchecked(buf, sizeof(buf), "[%*d]", INT_MIN, 7);
    snprintf(want, sizeof(want), "[%-64d]", 7);
    return (n == strlen(want) && strcmp(buf, want) == 0) ? 0 : 3;
}

static void test_star_width_int_min(void **state)
{
    (void)state;
    assert_int_equal(run_isolated(star_int_min_child), 0);
}

/* ---- width capped at 64 ---- */

static void test_width_cap(void **state)
{
    (void)state;
    char want[BUF];

    snprintf(want, sizeof(want), "[%64d]", 5);
    EXPECT_TEXT(want, "[%65d]", 5);
    EXPECT_TEXT(want, "[%100d]", 5);
    EXPECT_TEXT(want, "[%*d]", 1000, 5);
    EXPECT_TEXT_UNCHECKED(want, "[%*d]", INT_MAX, 5);

    snprintf(want, sizeof(want), "[%-64d]", -5);
    EXPECT_TEXT(want, "[%-200d]", -5);
    EXPECT_TEXT(want, "[%*d]", -1000, -5);

    snprintf(want, sizeof(want), "[%064llx]", 0xabcULL);
    EXPECT_TEXT(want, "[%0999llx]", 0xabcULL);

    snprintf(want, sizeof(want), "[%64s]", "str");
    EXPECT_TEXT(want, "[%80s]", "str");

    snprintf(want, sizeof(want), "[%64c]", 'c');
    EXPECT_TEXT(want, "[%99c]", 'c');

    /* A value longer than the cap is never cut. */
    snprintf(want, sizeof(want), "%s", "0123456789012345678901234567890123456789"
                                       "0123456789012345678901234567890123456789");
    EXPECT_TEXT(want, "%70s", want);
}

/* A decimal width too large for the accumulator is still "huge", so it caps at 64. */
static void test_width_cap_huge_decimal(void **state)
{
    (void)state;
    char want[BUF];
    snprintf(want, sizeof(want), "[%64d]", 5);
    EXPECT_TEXT_UNCHECKED(want, "[%99999999999999999999d]", 5);
    EXPECT_TEXT_UNCHECKED(want, "[%4294967297d]", 5);   /* 2^32 + 1 */
}

/* ---- unknown conversions are printed as written ---- */

static void test_unknown_conversions(void **state)
{
    (void)state;
    EXPECT_TEXT_UNCHECKED("%q", "%q");
    EXPECT_TEXT_UNCHECKED("a%qb", "a%qb");
    EXPECT_TEXT_UNCHECKED("%5q", "%5q");
    EXPECT_TEXT_UNCHECKED("%-08q", "%-08q");
    EXPECT_TEXT_UNCHECKED("%lq", "%lq");
    EXPECT_TEXT_UNCHECKED("%llw", "%llw");
    /* Unknown conversions consume no argument. */
    EXPECT_TEXT_UNCHECKED("%q7", "%q%d", 7);
    EXPECT_TEXT_UNCHECKED("%hd", "%hd", 9);
    EXPECT_TEXT_UNCHECKED("%f|3", "%f|%d", 3);
    /* Trailing '%' (and a trailing incomplete spec) at the end of the string. */
    EXPECT_TEXT_UNCHECKED("%", "%");
    EXPECT_TEXT_UNCHECKED("abc%", "abc%");
    EXPECT_TEXT_UNCHECKED("x=1 %", "x=%d %", 1);
    EXPECT_TEXT_UNCHECKED("%-", "%-");
    EXPECT_TEXT_UNCHECKED("%08", "%08");
    EXPECT_TEXT_UNCHECKED("%l", "%l");
    EXPECT_TEXT_UNCHECKED("%z", "%z");
}

/* ---- truncation ---- */

static void test_truncation(void **state)
{
    (void)state;
    for (size_t size = 1; size <= 14; size++) {
        char got[16];
        char want[16];
        memset(got, 0x5a, sizeof(got));
        memset(want, 0x5a, sizeof(want));
        size_t n = format_buf(got, size, "%s %d", "hello", 12345);
        int w = snprintf(want, size, "%s %d", "hello", 12345);
        assert_int_equal(n, (size_t)w);
        assert_int_equal(n, 11);
        assert_memory_equal(got, want, sizeof(got));      /* incl. bytes after the NUL */
        assert_int_equal(got[size - 1 < 11 ? size - 1 : 11], '\0');
        assert_int_equal(got[size < 12 ? size : 12], 0x5a); /* nothing written past size */
    }

    /* size 0 writes nothing at all (buf may even be NULL). */
    char canary[4] = { 'c', 'c', 'c', 'c' };
    assert_int_equal(format_buf(canary, 0, "%s", "abc"), 3);
    assert_int_equal(canary[0], 'c');
    assert_int_equal(format_buf(NULL, 0, "%d-%s", 12, "xyz"), 6);

    /* size 1: only the terminator. */
    canary[0] = 'c';
    assert_int_equal(format_buf(canary, 1, "%x", 0xabcu), 3);
    assert_int_equal(canary[0], '\0');
    assert_int_equal(canary[1], 'c');

    /* Truncation inside padding and inside a number. */
    char small[6];
    assert_int_equal(format_buf(small, sizeof(small), "%10d", 42), 10);
    assert_string_equal(small, "     ");
    assert_int_equal(format_buf(small, sizeof(small), "%-10d|", 1234567), 11);
    assert_string_equal(small, "12345");
    assert_int_equal(format_buf(small, sizeof(small), "%llu", (unsigned long long)UINT64_MAX), 20);
    assert_string_equal(small, "18446");
}

/* ---- format_v with a custom sink ---- */

struct count_sink {
    size_t calls;
    char text[BUF];
};

static void count_put(void *ctx, char c)
{
    struct count_sink *s = ctx;
    if (s->calls < sizeof(s->text) - 1)
        s->text[s->calls] = c;
    s->calls++;
}

static size_t via_sink(struct count_sink *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    memset(s, 0, sizeof(*s));
    size_t n = format_v(count_put, s, fmt, ap);
    va_end(ap);
    return n;
}

static void test_format_v_sink(void **state)
{
    (void)state;
    struct count_sink s;
    assert_int_equal(via_sink(&s, "x=%d y=%-6s|%08lx %%", -3, "ab", 0xfeedUL), 24);
    assert_int_equal(s.calls, 24);
    assert_string_equal(s.text, "x=-3 y=ab    |0000feed %");
    assert_int_equal(via_sink(&s, ""), 0);
    assert_int_equal(s.calls, 0);
    assert_int_equal(via_sink(&s, "%q%"), 3);
    assert_int_equal(s.calls, 3);
    assert_string_equal(s.text, "%q%");
}

/* ---- randomized comparison with snprintf for integer conversions ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng_next(void)
{
    return xorshift64s(&rng_state);
}

static uint64_t rng_value(void)
{
    static const uint64_t edges[] = {
        0, 1, 9, 10, 0x7f, 0x80, 0xff, 0x7fffffff, 0x80000000, 0xffffffff,
        0x100000000ull, INT64_MAX, (uint64_t)INT64_MIN, UINT64_MAX, UINT64_MAX - 1,
    };
    switch (rng_next() % 4) {
    case 0:
        return edges[rng_next() % (sizeof(edges) / sizeof(edges[0]))];
    case 1:
        return rng_next() % 1000;
    case 2:
        return rng_next() >> (rng_next() % 64);
    default:
        return rng_next();
    }
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat-security"
static void test_random_integers(void **state)
{
    (void)state;
    static const char convs[] = "diuxX";
    static const char *const lens[] = { "", "l", "ll", "z" };

    for (int iter = 0; iter < 5000; iter++) {
        char ours[64];
        char ref[64];
        size_t o = 0;
        size_t r = 0;
        unsigned flags = (unsigned)(rng_next() % 4);     /* bit0 '-', bit1 '0' */
        unsigned width = (unsigned)(rng_next() % 72);    /* includes values above the cap */
        bool use_star = rng_next() % 4 == 0;
        bool neg_star = use_star && rng_next() % 2 == 0;
        const char *len = lens[rng_next() % 4];
        char conv = convs[rng_next() % 5];
        uint64_t value = rng_value();

        ours[o++] = ref[r++] = '<';
        ours[o++] = ref[r++] = '%';
        if (flags & 1u)
            ours[o++] = ref[r++] = '-';
        if (flags & 2u)
            ours[o++] = ref[r++] = '0';
        if (use_star) {
            ours[o++] = ref[r++] = '*';
        } else if (width != 0) {
            o += (size_t)sprintf(ours + o, "%u", width);
            r += (size_t)sprintf(ref + r, "%u", width > 64 ? 64 : width);
        }
        o += (size_t)sprintf(ours + o, "%s%c>", len, conv);
        r += (size_t)sprintf(ref + r, "%s%c>", len, conv);
        ours[o] = ref[r] = '\0';

        int star = neg_star ? -(int)width : (int)width;
        int ref_star = neg_star ? -(int)(width > 64 ? 64 : width) : (int)(width > 64 ? 64 : width);
        size_t bufsize = rng_next() % 8 == 0 ? (size_t)(rng_next() % 24) : 200;

        char got[200];
        char want[200];
        memset(got, 0x5a, sizeof(got));
        memset(want, 0x5a, sizeof(want));
        size_t n;
        int w;
        char *gbuf = bufsize ? got : NULL;
        char *wbuf = bufsize ? want : NULL;

#define RUN_BOTH(T)                                                                 \
    do {                                                                            \
        if (use_star) {                                                             \
            n = fmt_unchecked(gbuf, bufsize, ours, star, (T)value);                 \
            w = snprintf(wbuf, bufsize, ref, ref_star, (T)value);                   \
        } else {                                                                    \
            n = fmt_unchecked(gbuf, bufsize, ours, (T)value);                       \
            w = snprintf(wbuf, bufsize, ref, (T)value);                             \
        }                                                                           \
    } while (0)

        bool is_signed = conv == 'd' || conv == 'i';
        if (len[0] == '\0') {
            if (is_signed)
                RUN_BOTH(int);
            else
                RUN_BOTH(unsigned int);
        } else if (strcmp(len, "l") == 0) {
            if (is_signed)
                RUN_BOTH(long);
            else
                RUN_BOTH(unsigned long);
        } else if (strcmp(len, "ll") == 0) {
            if (is_signed)
                RUN_BOTH(long long);
            else
                RUN_BOTH(unsigned long long);
        } else {
            if (is_signed)
                RUN_BOTH(ssize_t);
            else
                RUN_BOTH(size_t);
        }
#undef RUN_BOTH

        if (n != (size_t)w || memcmp(got, want, sizeof(got)) != 0) {
            fail_msg("iteration %d: fmt \"%s\" (ref \"%s\") star %d value 0x%" PRIx64
                     " size %zu: got %zu \"%.*s\", want %d \"%.*s\"",
                     iter, ours, ref, star, value, bufsize, n,
                     (int)(bufsize ? bufsize : 1), bufsize ? got : "", w,
                     (int)(bufsize ? bufsize : 1), bufsize ? want : "");
        }
    }
}
#pragma GCC diagnostic pop

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_text),
        cmocka_unit_test(test_signed),
        cmocka_unit_test(test_unsigned_hex),
        cmocka_unit_test(test_char_string),
        cmocka_unit_test(test_null_string),
        cmocka_unit_test(test_pointer),
        cmocka_unit_test(test_pointer_width),
        cmocka_unit_test(test_flags_width),
        cmocka_unit_test(test_minus_overrides_zero),
        cmocka_unit_test(test_star_width),
        cmocka_unit_test(test_star_width_int_min),
        cmocka_unit_test(test_width_cap),
        cmocka_unit_test(test_width_cap_huge_decimal),
        cmocka_unit_test(test_unknown_conversions),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_format_v_sink),
        cmocka_unit_test(test_random_integers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
