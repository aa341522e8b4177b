/* SPDX-License-Identifier: MIT */
/* manifest_check: decodes the boot manifest and validates it semantically (names, slots, device authority). */
#include "hv/manifest_check.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <pb_decode.h>

#include "hv/ipc_codec.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

typedef hv_manifest_Manifest Manifest;
typedef hv_manifest_Server Server;
typedef hv_manifest_Capability Capability;
typedef hv_manifest_Vm Vm;

bool manifest_decode(const uint8_t *buf, size_t len, Manifest *m, const char **detail)
{
    if (detail != NULL) {
        *detail = NULL;
    }
    pb_istream_t in = pb_istream_from_buffer(buf, len);
    if (!pb_decode(&in, hv_manifest_Manifest_fields, m)) {
        if (detail != NULL) {
            *detail = PB_GET_ERROR(&in);
        }
        hv_ipc_reset(hv_manifest_Manifest_fields, m);
        return false;
    }
    return true;
}

/* --- helpers ------------------------------------------------------------------------- */

struct ctx {
    const Manifest *m;
    char *err;
    size_t err_size;
};

/* Formats the problem into ctx->err and returns it (for `return fail(...)`). */
__attribute__((format(printf, 2, 3)))
static const char *fail(const struct ctx *c, const char *fmt, ...)
{
    if (c->err_size == 0) {
        return "manifest_check: no room for the error message";
    }
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(c->err, c->err_size, fmt, ap);
    va_end(ap);
    return c->err;
}

static bool terminated(const char *s, size_t size)
{
    return memchr(s, '\0', size) != NULL;
}

#define TERMINATED(field) terminated((field), sizeof(field))

static bool name_ok(const char *s)
{
    if (s[0] == '\0') {
        return false;
    }
    for (const char *p = s; *p != '\0'; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

static const Server *find_server(const Manifest *m, const char *name)
{
    for (pb_size_t i = 0; i < m->servers_count; i++) {
        if (strcmp(m->servers[i].name, name) == 0) {
            return &m->servers[i];
        }
    }
    return NULL;
}

static const Vm *find_vm(const Manifest *m, const char *name)
{
    for (pb_size_t i = 0; i < m->vms_count; i++) {
        if (strcmp(m->vms[i].name, name) == 0) {
            return &m->vms[i];
        }
    }
    return NULL;
}

static bool vm_exists(const Manifest *m, const char *name)
{
    return find_vm(m, name) != NULL;
}

static bool has_service(const Server *s)
{
    for (pb_size_t j = 0; j < s->caps_count; j++) {
        if (s->caps[j].which_kind == hv_manifest_Capability_service_tag) {
            return true;
        }
    }
    return false;
}

static bool ranges_overlap(uint64_t a, uint64_t a_len, uint64_t b, uint64_t b_len)
{
    return a < b + b_len && b < a + a_len;
}

/* --- structure: what manifest_decode always guarantees, for structs built by hand ------ */

static const char *check_structure(const struct ctx *c)
{
    const Manifest *m = c->m;
    if (m->servers_count > ARRAY_LEN(m->servers)) {
        return fail(c, "manifest: %u servers, at most %u", (unsigned)m->servers_count,
                    (unsigned)ARRAY_LEN(m->servers));
    }
    if (m->vms_count > ARRAY_LEN(m->vms)) {
        return fail(c, "manifest: %u VMs, at most %u", (unsigned)m->vms_count,
                    (unsigned)ARRAY_LEN(m->vms));
    }
    for (pb_size_t i = 0; i < m->servers_count; i++) {
        const Server *s = &m->servers[i];
        if (!TERMINATED(s->name) || !TERMINATED(s->module) || !TERMINATED(s->args)) {
            return fail(c, "server #%u: unterminated string", (unsigned)i);
        }
        if (s->cpus_count > ARRAY_LEN(s->cpus) || s->caps_count > ARRAY_LEN(s->caps)) {
            return fail(c, "server #%u: count beyond its array", (unsigned)i);
        }
        for (pb_size_t j = 0; j < s->caps_count; j++) {
            const Capability *cap = &s->caps[j];
            bool ok = true;
            switch (cap->which_kind) {
            case hv_manifest_Capability_endpoint_tag:
                ok = TERMINATED(cap->kind.endpoint.server);
                break;
            case hv_manifest_Capability_guest_memory_tag:
                ok = TERMINATED(cap->kind.guest_memory.vm);
                break;
            case hv_manifest_Capability_vm_control_tag:
                ok = TERMINATED(cap->kind.vm_control.vm);
                break;
            default:
                break;
            }
            if (!ok) {
                return fail(c, "server #%u capability #%u: unterminated string", (unsigned)i,
                            (unsigned)j);
            }
        }
    }
    for (pb_size_t i = 0; i < m->vms_count; i++) {
        const Vm *v = &m->vms[i];
        if (!TERMINATED(v->name) || !TERMINATED(v->kernel_module) ||
            !TERMINATED(v->initrd_module) || !TERMINATED(v->cmdline)) {
            return fail(c, "VM #%u: unterminated string", (unsigned)i);
        }
    }
    return NULL;
}

/* --- VMs ------------------------------------------------------------------------------ */

static const char *check_vm(const struct ctx *c, pb_size_t i)
{
    const Vm *v = &c->m->vms[i];
    if (!name_ok(v->name)) {
        return fail(c, "VM #%u: name must be 1-31 characters of [A-Za-z0-9._-]", (unsigned)i);
    }
    for (pb_size_t k = 0; k < i; k++) {
        if (strcmp(c->m->vms[k].name, v->name) == 0) {
            return fail(c, "VM \"%s\": name used twice (VMs #%u and #%u)", v->name,
                        (unsigned)k, (unsigned)i);
        }
    }
    if (v->kernel_module[0] == '\0') {
        return fail(c, "VM \"%s\": no kernel_module", v->name);
    }
    if (v->memory_mib == 0) {
        return fail(c, "VM \"%s\": memory_mib is 0", v->name);
    }
    if (v->vcpus < 1 || v->vcpus > HV_MANIFEST_MAX_VCPUS) {
        return fail(c, "VM \"%s\": vcpus %u out of range 1..%u", v->name, (unsigned)v->vcpus,
                    HV_MANIFEST_MAX_VCPUS);
    }
    if (v->paging != hv_manifest_PagingMode_PAGING_NESTED &&
        v->paging != hv_manifest_PagingMode_PAGING_SHADOW) {
        return fail(c, "VM \"%s\": paging must be PAGING_NESTED or PAGING_SHADOW (is %d)",
                    v->name, (int)v->paging);
    }
    uint64_t total = 0;
    for (pb_size_t k = 0; k <= i; k++) {
        total += c->m->vms[k].memory_mib;
    }
    if (total > HV_MANIFEST_VM_RAM_MIB_MAX) {
        return fail(c,
                    "VM \"%s\": guest RAM of the VMs up to it is %llu MiB, above the %u MiB "
                    "one appliance's VMs may have",
                    v->name, (unsigned long long)total, HV_MANIFEST_VM_RAM_MIB_MAX);
    }
    return NULL;
}

/* --- capabilities -------------------------------------------------------------------- */

/*
 * Checks capability j of server i against every capability before it (earlier servers,
 * then earlier capabilities of the same server) for authority granted twice.
 */
static const char *check_cap_exclusive(const struct ctx *c, pb_size_t i, pb_size_t j)
{
    const Server *s = &c->m->servers[i];
    const Capability *cap = &s->caps[j];
    for (pb_size_t oi = 0; oi <= i; oi++) {
        const Server *os = &c->m->servers[oi];
        pb_size_t end = oi == i ? j : os->caps_count;
        for (pb_size_t oj = 0; oj < end; oj++) {
            const Capability *o = &os->caps[oj];
            if (o->which_kind != cap->which_kind) {
                continue;
            }
            switch (cap->which_kind) {
            case hv_manifest_Capability_endpoint_tag:
                if (strcmp(o->kind.endpoint.server, cap->kind.endpoint.server) == 0 &&
                    o->kind.endpoint.badge == cap->kind.endpoint.badge) {
                    return fail(c,
                                "server \"%s\" slot %u: badge %llu to server \"%s\" is "
                                "already used by server \"%s\" slot %u",
                                s->name, (unsigned)cap->slot,
                                (unsigned long long)cap->kind.endpoint.badge,
                                cap->kind.endpoint.server, os->name, (unsigned)o->slot);
                }
                break;
            case hv_manifest_Capability_irq_tag:
                if (o->kind.irq.line == cap->kind.irq.line) {
                    return fail(c,
                                "server \"%s\" slot %u: irq line %u is already granted to "
                                "server \"%s\" slot %u",
                                s->name, (unsigned)cap->slot, (unsigned)cap->kind.irq.line,
                                os->name, (unsigned)o->slot);
                }
                break;
            case hv_manifest_Capability_io_ports_tag:
                if (ranges_overlap(o->kind.io_ports.base, o->kind.io_ports.count,
                                   cap->kind.io_ports.base, cap->kind.io_ports.count)) {
                    return fail(c,
                                "server \"%s\" slot %u: io ports 0x%x+%u overlap server "
                                "\"%s\" slot %u (0x%x+%u)",
                                s->name, (unsigned)cap->slot, (unsigned)cap->kind.io_ports.base,
                                (unsigned)cap->kind.io_ports.count, os->name,
                                (unsigned)o->slot, (unsigned)o->kind.io_ports.base,
                                (unsigned)o->kind.io_ports.count);
                }
                break;
            case hv_manifest_Capability_device_memory_tag:
                if (ranges_overlap(o->kind.device_memory.base, o->kind.device_memory.size,
                                   cap->kind.device_memory.base, cap->kind.device_memory.size)) {
                    return fail(c,
                                "server \"%s\" slot %u: device memory 0x%llx+0x%llx overlaps "
                                "server \"%s\" slot %u",
                                s->name, (unsigned)cap->slot,
                                (unsigned long long)cap->kind.device_memory.base,
                                (unsigned long long)cap->kind.device_memory.size, os->name,
                                (unsigned)o->slot);
                }
                break;
            case hv_manifest_Capability_vm_control_tag:
                if (strcmp(o->kind.vm_control.vm, cap->kind.vm_control.vm) == 0) {
                    return fail(c,
                                "server \"%s\" slot %u: VM \"%s\" is already controlled by "
                                "server \"%s\" slot %u",
                                s->name, (unsigned)cap->slot, cap->kind.vm_control.vm,
                                os->name, (unsigned)o->slot);
                }
                break;
            case hv_manifest_Capability_sched_control_tag:
                return fail(c,
                            "server \"%s\" slot %u: sched_control is already granted to "
                            "server \"%s\" slot %u",
                            s->name, (unsigned)cap->slot, os->name, (unsigned)o->slot);
            case hv_manifest_Capability_service_tag:
                if (oi == i) {
                    return fail(c, "server \"%s\" slot %u: a second service capability",
                                s->name, (unsigned)cap->slot);
                }
                break;
            default:
                break;
            }
        }
    }
    return NULL;
}

/* The checks of one capability that need nothing but itself and the names. */
static const char *check_cap_kind(const struct ctx *c, const Server *s, const Capability *cap)
{
    unsigned slot = (unsigned)cap->slot;
    switch (cap->which_kind) {
    case hv_manifest_Capability_untyped_tag: {
        uint64_t n = cap->kind.untyped.size_bytes;
        if (n < HV_MANIFEST_UNTYPED_MIN || n > HV_MANIFEST_UNTYPED_MAX || (n & (n - 1)) != 0) {
            return fail(c,
                        "server \"%s\" slot %u: untyped size %llu is not a power of two "
                        "from 4 KiB to 2^47",
                        s->name, slot, (unsigned long long)n);
        }
        return NULL;
    }
    case hv_manifest_Capability_endpoint_tag: {
        const char *peer = cap->kind.endpoint.server;
        const Server *target = find_server(c->m, peer);
        if (target == NULL) {
            return fail(c, "server \"%s\" slot %u: endpoint to unknown server \"%s\"", s->name,
                        slot, peer);
        }
        if (target == s) {
            return fail(c, "server \"%s\" slot %u: endpoint to itself", s->name, slot);
        }
        if (!has_service(target)) {
            return fail(c,
                        "server \"%s\" slot %u: endpoint to server \"%s\", which has no "
                        "service capability",
                        s->name, slot, peer);
        }
        if (!cap->has_rights || !cap->rights.write) {
            return fail(c, "server \"%s\" slot %u: endpoint to \"%s\" without the write right",
                        s->name, slot, peer);
        }
        return NULL;
    }
    case hv_manifest_Capability_irq_tag:
        if (cap->kind.irq.line > HV_MANIFEST_MAX_IRQ) {
            return fail(c, "server \"%s\" slot %u: irq line %u above %u", s->name, slot,
                        (unsigned)cap->kind.irq.line, HV_MANIFEST_MAX_IRQ);
        }
        return NULL;
    case hv_manifest_Capability_io_ports_tag: {
        uint64_t base = cap->kind.io_ports.base;
        uint64_t count = cap->kind.io_ports.count;
        if (count == 0) {
            return fail(c, "server \"%s\" slot %u: io port range of 0 ports", s->name, slot);
        }
        if (base + count > HV_MANIFEST_IOPORT_LIMIT) {
            return fail(c, "server \"%s\" slot %u: io ports 0x%llx+%llu run past 0xffff",
                        s->name, slot, (unsigned long long)base, (unsigned long long)count);
        }
        return NULL;
    }
    case hv_manifest_Capability_device_memory_tag: {
        uint64_t base = cap->kind.device_memory.base;
        uint64_t size = cap->kind.device_memory.size;
        if (size == 0 || base % HV_MANIFEST_PAGE_SIZE != 0 || size % HV_MANIFEST_PAGE_SIZE != 0) {
            return fail(c,
                        "server \"%s\" slot %u: device memory 0x%llx+0x%llx is empty or not "
                        "page-aligned",
                        s->name, slot, (unsigned long long)base, (unsigned long long)size);
        }
        if (base >= HV_MANIFEST_PHYS_LIMIT || size > HV_MANIFEST_PHYS_LIMIT - base) {
            return fail(c,
                        "server \"%s\" slot %u: device memory 0x%llx+0x%llx runs past "
                        "physical address 2^52",
                        s->name, slot, (unsigned long long)base, (unsigned long long)size);
        }
        return NULL;
    }
    case hv_manifest_Capability_guest_memory_tag:
        if (!vm_exists(c->m, cap->kind.guest_memory.vm)) {
            return fail(c, "server \"%s\" slot %u: guest memory of unknown VM \"%s\"", s->name,
                        slot, cap->kind.guest_memory.vm);
        }
        return NULL;
    case hv_manifest_Capability_vm_control_tag: {
        const Vm *v = find_vm(c->m, cap->kind.vm_control.vm);
        if (v == NULL) {
            return fail(c, "server \"%s\" slot %u: control of unknown VM \"%s\"", s->name, slot,
                        cap->kind.vm_control.vm);
        }
        uint64_t end = (uint64_t)slot + HV_MANIFEST_VM_SLOTS(v->vcpus);
        if (end > HV_MANIFEST_SLOT_LIMIT) {
            return fail(c,
                        "server \"%s\" slot %u: control of VM \"%s\" fills slots %u..%llu, "
                        "past %u",
                        s->name, slot, v->name, slot, (unsigned long long)end - 1,
                        HV_MANIFEST_SLOT_LIMIT - 1);
        }
        for (pb_size_t k = 0; k < s->caps_count; k++) {
            uint32_t o = s->caps[k].slot;
            if (o > slot && o < end) {
                return fail(c,
                            "server \"%s\" slot %u: inside slots %u..%llu, which its control "
                            "of VM \"%s\" fills",
                            s->name, (unsigned)o, slot, (unsigned long long)end - 1, v->name);
            }
        }
        return NULL;
    }
    case hv_manifest_Capability_service_tag:
    case hv_manifest_Capability_notification_tag:
    case hv_manifest_Capability_sched_control_tag:
        return NULL;
    default:
        return fail(c, "server \"%s\" slot %u: capability of no kind", s->name, slot);
    }
}

/* --- servers ------------------------------------------------------------------------- */

/*
 * Server i's console port: COM1..COM4, and one that is not COM1 is this server's alone (two
 * writers on one UART cut each other's lines). check_cap_console keeps drivers off them.
 */
static const char *check_console(const struct ctx *c, pb_size_t i)
{
    const Server *s = &c->m->servers[i];
    if (hv_serial_base(s->console) == 0) {
        return fail(c, "server \"%s\": unknown console port %d (SERIAL_COM1..SERIAL_COM4)",
                    s->name, (int)s->console);
    }
    for (pb_size_t k = 0; k < i; k++) {
        const Server *o = &c->m->servers[k];
        if (s->console != hv_manifest_SerialPort_SERIAL_COM1 && o->console == s->console) {
            return fail(c, "server \"%s\": console COM%d is already server \"%s\"'s", s->name,
                        (int)s->console + 1, o->name);
        }
    }
    return NULL;
}

/* An io_ports grant reaches into no server's console UART (a driver there would garble it
 * and take its input). */
static const char *check_cap_console(const struct ctx *c, const Server *s, const Capability *cap)
{
    if (cap->which_kind != hv_manifest_Capability_io_ports_tag) {
        return NULL;
    }
    for (pb_size_t k = 0; k < c->m->servers_count; k++) {
        const Server *o = &c->m->servers[k];
        uint32_t base = hv_serial_base(o->console);
        if (base != 0 && ranges_overlap(cap->kind.io_ports.base, cap->kind.io_ports.count, base,
                                        HV_SERIAL_PORT_COUNT)) {
            return fail(c,
                        "server \"%s\" slot %u: io ports 0x%x+%u overlap server \"%s\"'s "
                        "console (COM%d, 0x%x+%u)",
                        s->name, (unsigned)cap->slot, (unsigned)cap->kind.io_ports.base,
                        (unsigned)cap->kind.io_ports.count, o->name, (int)o->console + 1,
                        (unsigned)base, HV_SERIAL_PORT_COUNT);
        }
    }
    return NULL;
}

/* Names first, for every server, so a bad name is reported as such and not as a dangling
 * connection to it. */
static const char *check_server_name(const struct ctx *c, pb_size_t i)
{
    const Server *s = &c->m->servers[i];
    if (!name_ok(s->name)) {
        return fail(c, "server #%u: name must be 1-31 characters of [A-Za-z0-9._-]",
                    (unsigned)i);
    }
    for (pb_size_t k = 0; k < i; k++) {
        if (strcmp(c->m->servers[k].name, s->name) == 0) {
            return fail(c, "server \"%s\": name used twice (servers #%u and #%u)", s->name,
                        (unsigned)k, (unsigned)i);
        }
    }
    return NULL;
}

static const char *check_server(const struct ctx *c, pb_size_t i)
{
    const Server *s = &c->m->servers[i];
    if (s->module[0] == '\0') {
        return fail(c, "server \"%s\": no module", s->name);
    }
    if (s->priority > HV_MANIFEST_MAX_PRIORITY) {
        return fail(c, "server \"%s\": priority %u above %u", s->name, (unsigned)s->priority,
                    HV_MANIFEST_MAX_PRIORITY);
    }
    if (s->budget_us == 0 || s->period_us == 0) {
        return fail(c, "server \"%s\": budget_us and period_us must be nonzero", s->name);
    }
    if (s->budget_us > s->period_us) {
        return fail(c, "server \"%s\": budget_us %u exceeds period_us %u", s->name,
                    (unsigned)s->budget_us, (unsigned)s->period_us);
    }
    for (pb_size_t k = 0; k < s->cpus_count; k++) {
        if (s->cpus[k] >= HV_MANIFEST_MAX_CPUS) {
            return fail(c, "server \"%s\": cpu %u out of range 0..%u", s->name,
                        (unsigned)s->cpus[k], HV_MANIFEST_MAX_CPUS - 1);
        }
        for (pb_size_t l = 0; l < k; l++) {
            if (s->cpus[l] == s->cpus[k]) {
                return fail(c, "server \"%s\": cpu %u listed twice", s->name,
                            (unsigned)s->cpus[k]);
            }
        }
    }
    if (s->restart != hv_manifest_RestartPolicy_RESTART_NEVER &&
        s->restart != hv_manifest_RestartPolicy_RESTART_ON_FAILURE &&
        s->restart != hv_manifest_RestartPolicy_RESTART_ALWAYS) {
        return fail(c, "server \"%s\": unknown restart policy %d", s->name, (int)s->restart);
    }
    const char *e = check_console(c, i);
    if (e != NULL) {
        return e;
    }
    for (pb_size_t j = 0; j < s->caps_count; j++) {
        const Capability *cap = &s->caps[j];
        if (cap->slot < HV_MANIFEST_FIRST_SLOT || cap->slot >= HV_MANIFEST_SLOT_LIMIT) {
            return fail(c, "server \"%s\" capability #%u: slot %u outside %u..%u", s->name,
                        (unsigned)j, (unsigned)cap->slot, HV_MANIFEST_FIRST_SLOT,
                        HV_MANIFEST_SLOT_LIMIT - 1);
        }
        for (pb_size_t k = 0; k < j; k++) {
            if (s->caps[k].slot == cap->slot) {
                return fail(c, "server \"%s\": slot %u used twice (capabilities #%u and #%u)",
                            s->name, (unsigned)cap->slot, (unsigned)k, (unsigned)j);
            }
            if (s->caps[k].which_kind == hv_manifest_Capability_vm_control_tag &&
                cap->which_kind == hv_manifest_Capability_vm_control_tag) {
                return fail(c,
                            "server \"%s\" slot %u: a second vm_control (slot %u has one): a "
                            "server controls one VM",
                            s->name, (unsigned)cap->slot, (unsigned)s->caps[k].slot);
            }
        }
        e = check_cap_kind(c, s, cap);
        if (e == NULL) {
            e = check_cap_exclusive(c, i, j);
        }
        if (e == NULL) {
            e = check_cap_console(c, s, cap);
        }
        if (e != NULL) {
            return e;
        }
    }
    return NULL;
}

/* --- the whole manifest -------------------------------------------------------------- */

static const char *check_vm_controlled(const struct ctx *c, const Vm *v)
{
    for (pb_size_t i = 0; i < c->m->servers_count; i++) {
        const Server *s = &c->m->servers[i];
        for (pb_size_t j = 0; j < s->caps_count; j++) {
            if (s->caps[j].which_kind == hv_manifest_Capability_vm_control_tag &&
                strcmp(s->caps[j].kind.vm_control.vm, v->name) == 0) {
                return NULL;
            }
        }
    }
    return fail(c, "VM \"%s\": no server controls it (no vm_control capability)", v->name);
}

const char *manifest_check(const Manifest *m, char *err, size_t err_size)
{
    const struct ctx c = { .m = m, .err = err, .err_size = err_size };
    if (err_size > 0) {
        err[0] = '\0';
    }
    const char *e = check_structure(&c);
    if (e != NULL) {
        return e;
    }
    if (m->servers_count == 0) {
        return fail(&c, "manifest: no servers");
    }
    for (pb_size_t i = 0; i < m->vms_count; i++) {
        if ((e = check_vm(&c, i)) != NULL) {
            return e;
        }
    }
    for (pb_size_t i = 0; i < m->servers_count; i++) {
        if ((e = check_server_name(&c, i)) != NULL) {
            return e;
        }
    }
    for (pb_size_t i = 0; i < m->servers_count; i++) {
        if ((e = check_server(&c, i)) != NULL) {
            return e;
        }
    }
    for (pb_size_t i = 0; i < m->vms_count; i++) {
        if ((e = check_vm_controlled(&c, &m->vms[i])) != NULL) {
            return e;
        }
    }
    return NULL;
}
