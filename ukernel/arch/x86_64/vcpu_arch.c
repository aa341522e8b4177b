/* SPDX-License-Identifier: MIT */
/* vcpu_arch: picks the virtualization backend (SVM or VMX) at boot and forwards to it. */
#include "vcpu_arch.h"

#include <stddef.h>

#include "cpu_features.h"
#include "../../kernel/assert.h"
#include "../../kernel/console.h"

/* Filled by VCPU_BACKEND() in each backend file (kernel.ld keeps the section). */
extern const struct vcpu_arch_ops *const __vcpu_backends_start[];
extern const struct vcpu_arch_ops *const __vcpu_backends_end[];

/* Chosen once on the boot CPU before any other CPU or any VCPU object exists. */
static const struct vcpu_arch_ops *backend;

bool vcpu_arch_init(void)
{
    const struct cpu_features *f = cpu_features();
    /* Count by address (entries are pointers): the linker bounds one array, which the compiler cannot know. */
    size_t count = ((uintptr_t)__vcpu_backends_end - (uintptr_t)__vcpu_backends_start) /
                   sizeof(uintptr_t);
    for (size_t i = 0; i < count; i++) {
        if (__vcpu_backends_start[i]->probe(f)) {
            backend = __vcpu_backends_start[i];
            kprintf("vcpu: backend %s, nested paging %s\n", backend->name,
                    backend->nested_paging() ? "yes" : "no");
            return true;
        }
    }
    kprintf("vcpu: no usable SVM or VMX: VCPU objects are unavailable\n");
    return false;
}

enum vcpu_backend vcpu_arch_backend(void) { return backend ? backend->backend : VCPU_BACKEND_NONE; }
const char *vcpu_arch_name(void) { return backend ? backend->name : "none"; }
bool vcpu_arch_nested_paging(void) { return backend && backend->nested_paging(); }
bool vcpu_arch_nested_2m_leaves(void) { return backend && backend->nested_2m_leaves(); }

bool vcpu_arch_cpu_enable(unsigned cpu)
{
    return backend && backend->cpu_enable(cpu);
}

/* The wrappers below are reached only through VCPU objects, which exist only with a backend. */
uint64_t vcpu_arch_pages(void)
{
    kassert(backend);
    return backend->pages();
}

void vcpu_arch_setup(struct vcpu_arch *v, uint64_t pages_pa, uint32_t tag)
{
    kassert(backend && tag != 0);
    backend->setup(v, pages_pa, tag);
}

void vcpu_arch_set_nested_root(struct vcpu_arch *v, uint64_t root_pa)
{
    kassert(backend);
    backend->set_nested_root(v, root_pa);
}

void vcpu_arch_set_shadow_root(struct vcpu_arch *v, uint64_t shadow_cr3)
{
    kassert(backend);
    backend->set_shadow_root(v, shadow_cr3);
}

void vcpu_arch_flush_tlb(struct vcpu_arch *v)
{
    kassert(backend && backend->flush_tlb);
    backend->flush_tlb(v);
}

void vcpu_arch_state_write(struct vcpu_arch *v, const struct hv_vcpu_state *s)
{
    kassert(backend);
    backend->state_write(v, s);
}

void vcpu_arch_state_read(struct vcpu_arch *v, uint64_t mtd, struct hv_vcpu_state *s)
{
    kassert(backend);
    backend->state_read(v, mtd, s);
}

void vcpu_arch_set_exception_intercepts(struct vcpu_arch *v, uint32_t vector_bitmap)
{
    kassert(backend);
    backend->set_exception_intercepts(v, vector_bitmap);
}

void vcpu_arch_run(struct vcpu_arch *v, struct vcpu_exit *exit)
{
    kassert(backend);
    backend->run(v, exit);
}

void vcpu_arch_release(struct vcpu_arch *v)
{
    kassert(backend);
    backend->release(v);
}

bool vcpu_arch_shadow_supported(void)
{
    return backend && backend->shadow_mode && backend->shadow_load && backend->flush_tlb_gva &&
           backend->inject_exception && backend->set_shadow_root;
}

void vcpu_arch_shadow_mode(struct vcpu_arch *v, bool on)
{
    kassert(vcpu_arch_shadow_supported());
    backend->shadow_mode(v, on);
}

void vcpu_arch_shadow_load(struct vcpu_arch *v, uint64_t cr0, uint64_t cr4, uint64_t efer,
                           uint64_t guest_cr0, uint64_t guest_cr4)
{
    kassert(vcpu_arch_shadow_supported());
    backend->shadow_load(v, cr0, cr4, efer, guest_cr0, guest_cr4);
}

void vcpu_arch_flush_tlb_gva(struct vcpu_arch *v, uint64_t gva)
{
    kassert(vcpu_arch_shadow_supported());
    backend->flush_tlb_gva(v, gva);
}

void vcpu_arch_inject_exception(struct vcpu_arch *v, unsigned vector, bool has_error,
                                uint32_t error_code, uint64_t cr2)
{
    kassert(vcpu_arch_shadow_supported());
    backend->inject_exception(v, vector, has_error, error_code, cr2);
}
