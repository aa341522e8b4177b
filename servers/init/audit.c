/* SPDX-License-Identifier: MIT */
/* audit: init's audit record: one line per capability a server holds, and its scheduling terms. */
#include "init.h"
#include "lib/format.h"

/* "rwgG" with '-' for each right not held. */
static void rights_str(const hv_manifest_Capability *c, char out[5])
{
    const hv_manifest_Rights *r = &c->rights;
    bool has = c->has_rights;
    out[0] = has && r->read ? 'r' : '-';
    out[1] = has && r->write ? 'w' : '-';
    out[2] = has && r->grant ? 'g' : '-';
    out[3] = has && r->grant_reply ? 'G' : '-';
    out[4] = '\0';
}

/* The audit record of one manifest capability. */
static void audit_cap(const hv_manifest_Server *s, const hv_manifest_Capability *c)
{
    char rights[5];
    rights_str(c, rights);
    const char *name = s->name;
    unsigned slot = c->slot;
    switch (c->which_kind) {
    case hv_manifest_Capability_untyped_tag:
        hvu_printf("init: audit %s slot %u untyped %lu-bytes rights %s badge 0\n", name, slot,
                   (unsigned long)c->kind.untyped.size_bytes, rights);
        break;
    case hv_manifest_Capability_endpoint_tag:
        hvu_printf("init: audit %s slot %u endpoint %s rights %s badge %lu\n", name, slot,
                   c->kind.endpoint.server, rights, (unsigned long)c->kind.endpoint.badge);
        break;
    case hv_manifest_Capability_service_tag:
        hvu_printf("init: audit %s slot %u service %s rights %s badge 0\n", name, slot, name, rights);
        break;
    case hv_manifest_Capability_notification_tag:
        hvu_printf("init: audit %s slot %u notification new rights %s badge %lu\n", name, slot, rights,
                   (unsigned long)c->kind.notification.badge);
        break;
    case hv_manifest_Capability_irq_tag:
        hvu_printf("init: audit %s slot %u irq line-%u rights %s badge 0\n", name, slot,
                   (unsigned)c->kind.irq.line, rights);
        break;
    case hv_manifest_Capability_io_ports_tag:
        hvu_printf("init: audit %s slot %u io_ports 0x%x+%u rights %s badge 0\n", name, slot,
                   (unsigned)c->kind.io_ports.base, (unsigned)c->kind.io_ports.count, rights);
        break;
    case hv_manifest_Capability_device_memory_tag:
        hvu_printf("init: audit %s slot %u device_memory 0x%lx+0x%lx%s rights %s badge 0\n", name, slot,
                   (unsigned long)c->kind.device_memory.base, (unsigned long)c->kind.device_memory.size,
                   c->kind.device_memory.uncached ? "-uncached" : "", rights);
        break;
    case hv_manifest_Capability_guest_memory_tag:
        hvu_printf("init: audit %s slot %u guest_memory %s rights %s badge 0\n", name, slot,
                   c->kind.guest_memory.vm, rights);
        break;
    case hv_manifest_Capability_vm_control_tag: {
        /* The rights are vm_abi.h's, per slot: exits r (receive), VCPU and TCB rwgG, Reply. */
        const struct vm *v = vm_named(c->kind.vm_control.vm);
        unsigned vcpus = v != NULL ? (unsigned)v->m->vcpus : 0;
        hvu_printf("init: audit %s slot %u vm_control %s slots %u..%u: exits r, %u x (vcpu rwgG, tcb rwgG, reply) "
                   "badges 1..%u\n",
                   name, slot, c->kind.vm_control.vm, slot, slot + HV_MANIFEST_VM_SLOTS(vcpus) - 1, vcpus, vcpus);
        break;
    }
    case hv_manifest_Capability_sched_control_tag:
        hvu_printf("init: audit %s slot %u sched_control all rights %s badge 0\n", name, slot, rights);
        break;
    default:
        hvu_printf("init: audit %s slot %u unknown - rights %s badge 0\n", name, slot, rights);
        break;
    }
}

static const char *restart_name(hv_manifest_RestartPolicy p)
{
    switch (p) {
    case hv_manifest_RestartPolicy_RESTART_ON_FAILURE:
        return "on-failure";
    case hv_manifest_RestartPolicy_RESTART_ALWAYS:
        return "always";
    default:
        return "never";
    }
}

/* The server's scheduling and restart terms: one line, not a capability. */
static void audit_terms(const hv_manifest_Server *s)
{
    char cpus[4 * 16 + 4] = "any";
    unsigned at = 0;
    for (pb_size_t i = 0; i < s->cpus_count && at < sizeof(cpus); i++)
        at += (unsigned)format_buf(cpus + at, sizeof(cpus) - at, "%s%u", i == 0 ? "" : ",", (unsigned)s->cpus[i]);
    unsigned limit = s->restart_limit != 0 ? s->restart_limit : INIT_RESTART_LIMIT;
    unsigned window = s->restart_window_ms != 0 ? s->restart_window_ms : INIT_RESTART_WINDOW_MS;
    hvu_printf("init: audit %s priority %u budget %u/%u us cpus %s restart %s limit %u per %u ms\n", s->name,
               (unsigned)s->priority, (unsigned)s->budget_us, (unsigned)s->period_us, cpus,
               restart_name(s->restart), limit, window);
}

unsigned audit_server(const hv_manifest_Server *s)
{
    audit_terms(s);
    /* The runtime's fixed slots (libhvrt/include/hv/hvrt.h), filled by init itself. */
    hvu_printf("init: audit %s slot 1 tcb %s rights rwgG badge 0\n", s->name, s->name);
    hvu_printf("init: audit %s slot 2 io_ports 0x%x+%u rights rw-- badge 0 (console COM%d)\n", s->name,
               (unsigned)hv_serial_base(s->console), HV_SERIAL_PORT_COUNT, (int)s->console + 1);
    hvu_printf("init: audit %s slot 3 notification exit rights -w-- badge 0\n", s->name);
    hvu_printf("init: audit %s slot 4 reply %s rights rwgG badge 0\n", s->name, s->name);
    for (pb_size_t i = 0; i < s->caps_count; i++)
        audit_cap(s, &s->caps[i]);
    return INIT_FIXED_CAPS + s->caps_count;
}

