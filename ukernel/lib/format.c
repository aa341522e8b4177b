/* SPDX-License-Identifier: MIT */
/* format: printf-style formatting into a caller-supplied sink. */
#include "format.h"

#include <stdbool.h>
#include <stdint.h>

_Static_assert(sizeof(long) == sizeof(long long) && sizeof(size_t) == sizeof(long long),
               "LP64: l, ll and z arguments are read as 64-bit");

#define FORMAT_MAX_WIDTH 64u

struct spec {
    bool left;      /* '-' flag */
    bool zero;      /* '0' flag */
    unsigned width;
};

static size_t emit_padded(format_sink_fn sink, void *ctx, const struct spec *sp,
                          const char *text, size_t len, char sign)
{
    size_t produced = 0;
    size_t body = len + (sign ? 1u : 0u);
    size_t pad = sp->width > body ? sp->width - body : 0;

    if (!sp->left && !sp->zero) {
        for (size_t i = 0; i < pad; i++, produced++)
            sink(ctx, ' ');
    }
    if (sign) {
        sink(ctx, sign);
        produced++;
    }
    if (!sp->left && sp->zero) {
        for (size_t i = 0; i < pad; i++, produced++)
            sink(ctx, '0');
    }
    for (size_t i = 0; i < len; i++, produced++)
        sink(ctx, text[i]);
    if (sp->left) {
        for (size_t i = 0; i < pad; i++, produced++)
            sink(ctx, ' ');
    }
    return produced;
}

/* Renders v in the given base into the end of buf; returns the digit count. */
static size_t render_unsigned(char *buf_end, uint64_t v, unsigned base, bool upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    size_t n = 0;

    do {
        *--buf_end = digits[v % base];
        v /= base;
        n++;
    } while (v != 0);
    return n;
}

size_t format_v(format_sink_fn sink, void *ctx, const char *fmt, va_list ap)
{
    size_t produced = 0;

    for (const char *p = fmt; *p != '\0'; p++) {
        if (*p != '%') {
            sink(ctx, *p);
            produced++;
            continue;
        }
        const char *start = p++;
        struct spec sp = { false, false, 0 };

        for (;; p++) {
            if (*p == '-')
                sp.left = true;
            else if (*p == '0')
                sp.zero = true;
            else
                break;
        }
        if (*p == '*') {
            int w = va_arg(ap, int);
            /* Magnitude in unsigned arithmetic: negating INT_MIN is undefined. */
            unsigned mag = w < 0 ? 0u - (unsigned)w : (unsigned)w;
            if (w < 0)
                sp.left = true;
            sp.width = mag;
            p++;
        } else {
            while (*p >= '0' && *p <= '9') {
                if (sp.width <= FORMAT_MAX_WIDTH)  /* stop growing: no wrap-around */
                    sp.width = sp.width * 10u + (unsigned)(*p - '0');
                p++;
            }
        }
        if (sp.width > FORMAT_MAX_WIDTH)
            sp.width = FORMAT_MAX_WIDTH;  /* a hostile width cannot stall the console */

        int longs = 0;
        bool size_t_len = false;
        while (*p == 'l') {
            longs++;
            p++;
        }
        if (*p == 'z') {
            size_t_len = true;
            p++;
        }

        char numbuf[24];
        char *end = numbuf + sizeof(numbuf);
        switch (*p) {
        case '%':
            sink(ctx, '%');
            produced++;
            break;
        case 'c': {
            char c = (char)va_arg(ap, int);
            produced += emit_padded(sink, ctx, &sp, &c, 1, 0);
            break;
        }
        case 's': {
            const char *s = va_arg(ap, const char *);
            size_t len = 0;
            if (s == NULL)
                s = "(null)";
            while (s[len] != '\0')
                len++;
            struct spec str_sp = sp;
            str_sp.zero = false;
            produced += emit_padded(sink, ctx, &str_sp, s, len, 0);
            break;
        }
        case 'd':
        case 'i': {
            int64_t v;
            /* long, long long and size_t are all 64-bit on x86-64. */
            if (longs > 0 || size_t_len)
                v = (int64_t)va_arg(ap, long long);
            else
                v = va_arg(ap, int);
            /* Negate in unsigned arithmetic so INT64_MIN is well defined. */
            uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
            size_t n = render_unsigned(end, mag, 10, false);
            produced += emit_padded(sink, ctx, &sp, end - n, n, v < 0 ? '-' : 0);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            uint64_t v;
            if (longs > 0 || size_t_len) // NOLINT(bugprone-branch-clone): va_arg types differ
                v = va_arg(ap, unsigned long long);
            else
                v = va_arg(ap, unsigned int);
            unsigned base = *p == 'u' ? 10u : 16u;
            size_t n = render_unsigned(end, v, base, *p == 'X');
            produced += emit_padded(sink, ctx, &sp, end - n, n, 0);
            break;
        }
        case 'p': {
            uintptr_t v = (uintptr_t)va_arg(ap, void *);
            size_t n = render_unsigned(end, v, 16, false);
            /* The "0x" prefix counts towards the width, as in C's printf. */
            *(end - n - 1) = 'x';
            *(end - n - 2) = '0';
            struct spec ptr_sp = sp;
            ptr_sp.zero = false;
            produced += emit_padded(sink, ctx, &ptr_sp, end - n - 2, n + 2, 0);
            break;
        }
        default:
            /* Unknown conversion: print it as written. */
            for (const char *q = start; q <= p && *q != '\0'; q++, produced++)
                sink(ctx, *q);
            if (*p == '\0')
                return produced;
            break;
        }
    }
    return produced;
}

struct buf_sink {
    char *buf;
    size_t size;
    size_t pos;
};

static void buf_put(void *ctx, char c)
{
    struct buf_sink *b = ctx;
    if (b->pos + 1 < b->size)
        b->buf[b->pos] = c;
    b->pos++;
}

size_t format_buf_v(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct buf_sink b = { buf, size, 0 };
    size_t n = format_v(buf_put, &b, fmt, ap);
    if (size > 0)
        buf[b.pos < size ? b.pos : size - 1] = '\0';
    return n;
}

size_t format_buf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = format_buf_v(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
