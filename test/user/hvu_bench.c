/* SPDX-License-Identifier: MIT */
/* hvu_bench: command-line tokens and batch series for the timing programs (also built for the host test). */
#include "hvu_bench.h"

#include "lib/kstring.h"

bool hvu_cmdline_has(const char *cmdline, const char *token)
{
    size_t len = strlen(token);
    if (len == 0)
        return false;
    for (const char *p = cmdline; *p != '\0'; p++) {
        if ((p == cmdline || p[-1] == ' ') && strncmp(p, token, len) == 0 && (p[len] == ' ' || p[len] == '\0'))
            return true;
    }
    return false;
}

void hvu_series_add(struct hvu_series *s, uint64_t ticks)
{
    s->total += ticks;
    if (ticks < s->min)
        s->min = ticks;
    s->n++;
}

uint64_t hvu_series_mean(const struct hvu_series *s, unsigned per)
{
    uint64_t ops = (uint64_t)s->n * per;
    return ops == 0 ? 0 : s->total / ops;
}
