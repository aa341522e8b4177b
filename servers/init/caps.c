/* SPDX-License-Identifier: MIT */
/* caps: how init grants each kind of manifest capability (a table by kind), and which kinds it cannot. */
#include "hv/init_abi.h"
#include "init.h"
#include "lib/format.h"
#include "lib/kstring.h"

#define CORE_MAX_IRQ 63u    /* hv/objects.h: ISA IRQs 0-15, GSIs 16-63 */
_Static_assert(CORE_MAX_IRQ == HV_MANIFEST_MAX_IRQ, "the manifest allows exactly the core's IRQ numbers");

static uint64_t rights_of(const hv_manifest_Capability *c)
{
    if (!c->has_rights)
        return 0;
    return (c->rights.read ? HV_RIGHT_READ : 0) | (c->rights.write ? HV_RIGHT_WRITE : 0) |
           (c->rights.grant ? HV_RIGHT_GRANT : 0) | (c->rights.grant_reply ? HV_RIGHT_GRANT_REPLY : 0);
}

/* A copy (or a mint with `badge`) of init's cap `src` with the manifest's rights, into the server's slot. */
static uint64_t put(const struct server *s, const hv_manifest_Capability *c, uint64_t src, bool mint,
                    uint64_t badge)
{
    return mint ? hvu_give_mint(s->cnode, INIT_SERVER_CNODE_RADIX, c->slot, src, rights_of(c), badge)
                : hvu_give_copy(s->cnode, INIT_SERVER_CNODE_RADIX, c->slot, src, rights_of(c));
}

static uint64_t give_untyped(struct server *s, const hv_manifest_Capability *c)
{
    /* Made by server.c's largest-first pass; an untyped cap cannot be copied (two holders would retype the same memory): moved, all rights. */
    uint64_t obj = s->made[c - s->m->caps];
    return obj == 0 ? HV_ERR_NOT_ENOUGH_MEMORY : hvu_give_move(s->cnode, INIT_SERVER_CNODE_RADIX, c->slot, obj);
}

static uint64_t give_endpoint(struct server *s, const hv_manifest_Capability *c)
{
    int to = server_index(c->kind.endpoint.server);
    if (to < 0)
        return HV_ERR_INVALID_ARGUMENT;
    return put(s, c, servers[to].service, true, c->kind.endpoint.badge);
}

static uint64_t give_service(struct server *s, const hv_manifest_Capability *c)
{
    return put(s, c, s->service, false, 0);
}

static uint64_t give_notification(struct server *s, const hv_manifest_Capability *c)
{
    uint64_t err;
    uint64_t obj = hvu_retype(HV_OBJ_NOTIFICATION, 0, &err);
    return obj == 0 ? err : put(s, c, obj, true, c->kind.notification.badge);
}

/* The IRQ handler for the line, made from init's IRQControl; init keeps the original (in the pool's slots). */
static uint64_t give_irq(struct server *s, const hv_manifest_Capability *c)
{
    uint64_t slot = hvu_alloc_slot();
    uint64_t args[4] = { c->kind.irq.line, HV_ROOT_CNODE, slot, 64 };
    struct hv_msg out;
    uint64_t err = slot == 0 ? HV_ERR_NOT_ENOUGH_MEMORY
                             : hvu_invoke(HV_ROOT_IRQ_CONTROL, HV_INV_IRQ_CONTROL_GET, 4, args, &out);
    if (err != HV_OK)
        return err;
    hvu_printf("init: server %s slot %u: irq %u is GSI %lu\n", s->m->name, (unsigned)c->slot,
               (unsigned)c->kind.irq.line, (unsigned long)out.w[0]);
    return put(s, c, slot, false, 0);
}

static uint64_t give_io_ports(struct server *s, const hv_manifest_Capability *c)
{
    uint64_t slot = hvu_alloc_slot();
    uint64_t first = c->kind.io_ports.base, last = first + c->kind.io_ports.count - 1;
    uint64_t args[5] = { first, last, HV_ROOT_CNODE, slot, 64 };
    uint64_t err = slot == 0 ? HV_ERR_NOT_ENOUGH_MEMORY
                             : hvu_invoke(HV_ROOT_IOPORT_CONTROL, HV_INV_IOPORT_CONTROL_ISSUE, 5, args, NULL);
    return err != HV_OK ? err : put(s, c, slot, false, 0);
}

static uint64_t give_guest_memory(struct server *s, const hv_manifest_Capability *c)
{
    return vm_give_memory(s, c, rights_of(c));
}

/* Fills the slots hv/vm_abi.h names with fixed rights (the manifest's apply to no one cap there). */
static uint64_t give_vm_control(struct server *s, const hv_manifest_Capability *c)
{
    return vm_give_control(s, c);
}

/*
 * One entry per manifest kind (the oneof's field numbers 10..19). A NULL `give` is a kind
 * this core cannot grant; `why` says why, and caps_check rejects the manifest with it.
 */
struct kind {
    const char *name;
    uint64_t (*give)(struct server *s, const hv_manifest_Capability *c);
    const char *why;
};
#define KIND_FIRST hv_manifest_Capability_untyped_tag
static const struct kind kinds[] = {
    [hv_manifest_Capability_untyped_tag - KIND_FIRST] = { "untyped", give_untyped, NULL },
    [hv_manifest_Capability_endpoint_tag - KIND_FIRST] = { "endpoint", give_endpoint, NULL },
    [hv_manifest_Capability_service_tag - KIND_FIRST] = { "service", give_service, NULL },
    [hv_manifest_Capability_notification_tag - KIND_FIRST] = { "notification", give_notification, NULL },
    [hv_manifest_Capability_irq_tag - KIND_FIRST] = { "irq", give_irq, NULL },
    [hv_manifest_Capability_io_ports_tag - KIND_FIRST] = { "io_ports", give_io_ports, NULL },
    [hv_manifest_Capability_device_memory_tag - KIND_FIRST] = {
        "device_memory", NULL,
        "needs device memory, and the core hands init none (bootinfo has no device untyped)" },
    [hv_manifest_Capability_guest_memory_tag - KIND_FIRST] = { "guest_memory", give_guest_memory, NULL },
    [hv_manifest_Capability_vm_control_tag - KIND_FIRST] = { "vm_control", give_vm_control, NULL },
    [hv_manifest_Capability_sched_control_tag - KIND_FIRST] = {
        "sched_control", NULL,
        "names no core object: scheduling authority is a SchedContext or TCB cap (docs/architecture.md)" },
};
#define KIND_COUNT (sizeof(kinds) / sizeof(kinds[0]))

static const struct kind *kind_of(const hv_manifest_Capability *c)
{
    if (c->which_kind < KIND_FIRST || (size_t)(c->which_kind - KIND_FIRST) >= KIND_COUNT)
        return NULL;
    return &kinds[c->which_kind - KIND_FIRST];
}

const char *caps_check(const hv_manifest_Manifest *m, char *err, unsigned len)
{
    for (pb_size_t i = 0; i < m->servers_count; i++) {
        const hv_manifest_Server *s = &m->servers[i];
        for (pb_size_t j = 0; j < s->cpus_count; j++) {
            if (s->cpus[j] >= boot->cpu_count) {
                (void)format_buf(err, len, "server \"%s\": cpu %u is not online (this machine has %lu CPUs: 0..%lu)",
                                 s->name, (unsigned)s->cpus[j], (unsigned long)boot->cpu_count,
                                 (unsigned long)boot->cpu_count - 1);
                return err;
            }
        }
        for (pb_size_t j = 0; j < s->caps_count; j++) {
            const struct kind *k = kind_of(&s->caps[j]);
            if (k == NULL || k->give == NULL) {
                (void)format_buf(err, len, "server \"%s\" slot %u: %s %s", s->name, (unsigned)s->caps[j].slot,
                                 k != NULL ? k->name : "capability", k != NULL ? k->why : "of an unknown kind");
                return err;
            }
        }
    }
    return NULL;
}

uint64_t caps_install(struct server *s, const hv_manifest_Capability *c)
{
    const struct kind *k = kind_of(c);
    return k == NULL || k->give == NULL ? HV_ERR_INVALID_ARGUMENT : k->give(s, c);
}
