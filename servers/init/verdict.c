/* SPDX-License-Identifier: MIT */
/* verdict: the checks a test boot asks init for (command line init.expect=...); none in a real boot. */
#include "init.h"
#include "lib/format.h"
#include "lib/kstring.h"

/*
 * init.expect=<server>:<what>[=<n>],... with <what> one of
 *   exit=<n>     it exits with code n (the test waits for its exit)
 *   crash_loop   init gives up on it at its crash-loop limit (the test waits for that)
 *   restarts=<n> it is restarted n times (the test waits for that) and no more by the end
 *   exits=<n>    it exited (through its runtime's exit) exactly n times by the end
 *   running      it is running at the end
 *   stopped      it is stopped at the end (and not for a crash loop)
 * The run ends when everything waited for has happened; with no such item it never ends.
 */
#define MAX_EXPECT 16u
#define NAME_MAX_LEN 32u

enum what { EXPECT_EXIT, EXPECT_CRASH_LOOP, EXPECT_RESTARTS, EXPECT_EXITS, EXPECT_RUNNING, EXPECT_STOPPED };
static const char *const what_names[] = { "exit", "crash_loop", "restarts", "exits", "running", "stopped" };

static struct expectation {
    char server[NAME_MAX_LEN];
    enum what what;
    int64_t n;
} expect[MAX_EXPECT];
static unsigned expect_count, waits;

static uint64_t base_bytes, base_slots, base_total_bytes, base_total_slots;
static unsigned restarts, leaks, failed_restarts;
static unsigned audit_lines, want_lines, started;

static bool parse_item(const char *p, unsigned len, struct expectation *e)
{
    unsigned colon = 0;
    while (colon < len && p[colon] != ':')
        colon++;
    if (colon == 0 || colon >= len || colon >= NAME_MAX_LEN)
        return false;
    memcpy(e->server, p, colon);
    e->server[colon] = '\0';
    const char *w = p + colon + 1;
    unsigned wl = len - colon - 1, name_len = 0;
    while (name_len < wl && w[name_len] != '=')
        name_len++;
    e->n = 0;
    for (unsigned i = name_len + 1; i < wl; i++) {
        if (w[i] < '0' || w[i] > '9')
            return false;
        e->n = e->n * 10 + (w[i] - '0');
    }
    for (unsigned k = 0; k < sizeof(what_names) / sizeof(what_names[0]); k++) {
        if (strlen(what_names[k]) == name_len && strncmp(w, what_names[k], name_len) == 0) {
            e->what = (enum what)k;
            return true;
        }
    }
    return false;
}

void verdict_init(const char *cmdline)
{
    static const char key[] = "init.expect=";
    const char *p = cmdline;
    while (*p != '\0' && strncmp(p, key, sizeof(key) - 1) != 0)
        p++;
    if (*p == '\0')
        return;
    p += sizeof(key) - 1;
    while (*p != '\0' && *p != ' ' && expect_count < MAX_EXPECT) {
        unsigned len = 0;
        while (p[len] != '\0' && p[len] != ' ' && p[len] != ',')
            len++;
        struct expectation *e = &expect[expect_count];
        if (parse_item(p, len, e)) {
            expect_count++;
            if (e->what == EXPECT_EXIT || e->what == EXPECT_CRASH_LOOP || e->what == EXPECT_RESTARTS)
                waits++;
        } else {
            char item[NAME_MAX_LEN * 2];
            kstrlcpy(item, p, len + 1 < sizeof(item) ? len + 1 : sizeof(item));
            hvu_check(false, "init.expect_parsed", "cannot read \"%s\"", item);
        }
        p += len;
        if (*p == ',')
            p++;
    }
}

void verdict_started(unsigned lines, unsigned want, unsigned count)
{
    audit_lines = lines;
    want_lines = want;
    started = count;
    base_bytes = hvu_free_bytes();
    base_slots = hvu_free_slots();
    base_total_bytes = server_free_bytes();
    base_total_slots = server_free_slots();
}

void verdict_restarted(const struct server *s, uint64_t err)
{
    restarts++;
    if (err != HV_OK) {
        failed_restarts++;
        return;
    }
    uint64_t used_slots = s->pool.slot_next - s->pool.slot_first;
    if (hvu_free_bytes() != base_bytes || hvu_free_slots() != base_slots || s->pool.used != s->first_used ||
        used_slots != s->first_slots) {
        leaks++;
        hvu_printf("init: restart %u of %s took more: init's own %lu/%lu bytes and %lu/%lu slots free, pool "
                   "%lu/%lu bytes and %lu/%lu slots used (now/first)\n",
                   s->restarts, s->m->name, (unsigned long)hvu_free_bytes(), (unsigned long)base_bytes,
                   (unsigned long)hvu_free_slots(), (unsigned long)base_slots, (unsigned long)s->pool.used,
                   (unsigned long)s->first_used, (unsigned long)used_slots, (unsigned long)s->first_slots);
    }
}

static const struct server *named(const char *name)
{
    int i = server_index(name);
    return i < 0 ? NULL : &servers[i];
}

static bool met(const struct expectation *e)
{
    const struct server *s = named(e->server);
    if (s == NULL)
        return false;
    switch (e->what) {
    case EXPECT_EXIT:
        return s->exits > 0 && s->last_exit == e->n;
    case EXPECT_CRASH_LOOP:
        return s->state == SERVER_CRASH_LOOP;
    case EXPECT_RESTARTS:
        return s->restarts == (unsigned)e->n;
    case EXPECT_EXITS:
        return s->exits == (unsigned)e->n;
    case EXPECT_RUNNING:
        return s->state == SERVER_RUNNING;
    default:
        return s->state == SERVER_STOPPED;
    }
}

bool verdict_done(void)
{
    if (waits == 0)
        return false;
    for (unsigned i = 0; i < expect_count; i++) {
        const struct expectation *e = &expect[i];
        const struct server *s = named(e->server);
        if (e->what == EXPECT_EXIT && (s == NULL || s->exits == 0))
            return false;
        if (e->what == EXPECT_CRASH_LOOP && (s == NULL || s->state != SERVER_CRASH_LOOP))
            return false;
        if (e->what == EXPECT_RESTARTS && (s == NULL || s->restarts < (unsigned)e->n))
            return false;
    }
    return true;
}

/*
 * Servers share init's console (COM1, one character per port write): stop them all
 * first so no PASS line is cut by their output, and start on a fresh line.
 */
static void quiet_servers(void)
{
    for (pb_size_t i = 0; i < manifest.servers_count; i++) {
        if (servers[i].state == SERVER_RUNNING)
            (void)hvu_invoke(servers[i].tcb, HV_INV_TCB_SUSPEND, 0, NULL, NULL);
    }
    hv_yield();     /* a server on another CPU stops at its next entry to the core */
    hvu_printf("\n");
}

void verdict_finish(void)
{
    quiet_servers();
    hvu_check(audit_lines == want_lines, "init.audit_printed", "%u audit lines, want %u", audit_lines, want_lines);
    /* A vmm whose VM was not built (said at boot: a module missing, memory short) does not start. */
    unsigned want = 0;
    for (pb_size_t i = 0; i < manifest.servers_count; i++) {
        const struct vm *v = vm_of_server(&servers[i]);
        want += v == NULL || v->built;
    }
    hvu_check(started == want, "init.servers_started", "%u of %u started (%u servers, %u vmm of a VM not built)", started,
              want, (unsigned)manifest.servers_count, (unsigned)manifest.servers_count - want);
    for (unsigned i = 0; i < expect_count; i++) {
        const struct expectation *e = &expect[i];
        const struct server *s = named(e->server);
        char name[80];
        (void)format_buf(name, sizeof(name), "init.expect.%s.%s", e->server, what_names[e->what]);
        hvu_check(met(e), name, "want %ld; %s: state %d, %u restarts, %u exits, last exit code %ld", (long)e->n,
                  s != NULL ? "found" : "no such server", s != NULL ? (int)s->state : -1,
                  s != NULL ? s->restarts : 0, s != NULL ? s->exits : 0, s != NULL ? (long)s->last_exit : -1L);
    }
    hvu_printf("init: %u restarts: init has %lu KiB and %lu slots free, %lu KiB and %lu slots after the first start\n",
               restarts, (unsigned long)server_free_bytes() >> 10, (unsigned long)server_free_slots(),
               (unsigned long)base_total_bytes >> 10, (unsigned long)base_total_slots);
    if (restarts > 0) {
        hvu_check(leaks == 0, "init.restarts_reuse_memory",
                  "%u of %u restarts took memory or slots the first start did not", leaks, restarts);
        hvu_check(failed_restarts == 0 && server_pool_failures() == 0, "init.pools_returned",
                  "%u restarts failed, %u pools not returned whole", failed_restarts, server_pool_failures());
    }
    hvu_finish();
}
