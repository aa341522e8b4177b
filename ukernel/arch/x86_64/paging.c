/* SPDX-License-Identifier: MIT */
/* paging: building and walking x86-64 4-level page tables (pure logic, host-tested). */
#include "paging.h"

#include <stddef.h>

static uint64_t level_size(unsigned level)
{
    return 1ull << (PAGE_SHIFT + 9 * (level - 1));
}

/* Largest leaf level usable at this point of the range. */
static unsigned leaf_level_for(const struct pt_env *env, uint64_t va, uint64_t pa, uint64_t left)
{
    if (env->allow_1g && ((va | pa) & (LARGE_PAGE_SIZE_1G - 1)) == 0 && left >= LARGE_PAGE_SIZE_1G)
        return 3;
    if (((va | pa) & (LARGE_PAGE_SIZE_2M - 1)) == 0 && left >= LARGE_PAGE_SIZE_2M)
        return 2;
    return 1;
}

/* Returns the table below `entry`, allocating it if the entry is empty. */
static enum pt_error next_table(const struct pt_env *env, uint64_t *entry, uint64_t user,
                                uint64_t **out)
{
    if (*entry & PTE_P) {
        if (*entry & PTE_PS)
            return PT_ERR_EXISTS;   /* a large page already covers this address */
        *entry |= user;
        *out = env->table_ptr(env->ctx, *entry & PTE_ADDR_MASK);
        return PT_OK;
    }
    uint64_t table_pa = env->alloc_table(env->ctx);
    if (table_pa == 0)
        return PT_ERR_NOMEM;
    *entry = table_pa | PTE_P | PTE_W | user;
    *out = env->table_ptr(env->ctx, table_pa);
    return PT_OK;
}

enum pt_error pt_map_range(const struct pt_env *env, uint64_t root_pa, uint64_t va,
                           uint64_t pa, uint64_t size, uint64_t flags)
{
    if (((va | pa | size) & (PAGE_SIZE - 1)) != 0)
        return PT_ERR_ALIGN;
    if ((flags & ~PTE_LEAF_FLAGS) != 0)
        return PT_ERR_FLAGS;
    if (size == 0)
        return PT_OK;
    /* The range must not wrap past 2^64 and must stay in the canonical half it starts in. */
    if (size - 1 > UINT64_MAX - va || !va_is_canonical(va) || !va_is_canonical(va + size - 1) ||
        (va >> 47) != ((va + size - 1) >> 47))
        return PT_ERR_NONCANONICAL;
    if (size - 1 > PT_MAX_PHYS_ADDR - pa || pa > PT_MAX_PHYS_ADDR)
        return PT_ERR_BAD_PHYS;

    uint64_t user = flags & PTE_U;
    uint64_t done = 0;
    while (done < size) {
        uint64_t cur_va = va + done;
        uint64_t cur_pa = pa + done;
        unsigned leaf = leaf_level_for(env, cur_va, cur_pa, size - done);
        uint64_t *table = env->table_ptr(env->ctx, root_pa);

        for (unsigned level = PT_LEVELS; level > leaf; level--) {
            enum pt_error err = next_table(env, &table[pt_index(cur_va, level)], user, &table);
            if (err != PT_OK)
                return err;
        }
        uint64_t *slot = &table[pt_index(cur_va, leaf)];
        if (*slot & PTE_P)
            return PT_ERR_EXISTS;
        *slot = cur_pa | flags | PTE_P | (leaf > 1 ? PTE_PS : 0);
        done += level_size(leaf);
    }
    return PT_OK;
}

bool pt_translate(const struct pt_env *env, uint64_t root_pa, uint64_t va,
                  uint64_t *pa_out, uint64_t *leaf_out)
{
    if (!va_is_canonical(va))
        return false;
    uint64_t *table = env->table_ptr(env->ctx, root_pa);
    for (unsigned level = PT_LEVELS; level >= 1; level--) {
        uint64_t e = table[pt_index(va, level)];
        if (!(e & PTE_P))
            return false;
        if (level == 1 || (level <= 3 && (e & PTE_PS))) {
            uint64_t offset_mask = level_size(level) - 1;
            *pa_out = ((e & PTE_ADDR_MASK) & ~offset_mask) | (va & offset_mask);
            *leaf_out = e;
            return true;
        }
        table = env->table_ptr(env->ctx, e & PTE_ADDR_MASK);
    }
    return false;
}

const char *pt_strerror(enum pt_error err)
{
    switch (err) {
    case PT_OK: return "ok";
    case PT_ERR_ALIGN: return "address or size not page aligned";
    case PT_ERR_NONCANONICAL: return "range is not canonical";
    case PT_ERR_NOMEM: return "out of page-table memory";
    case PT_ERR_EXISTS: return "range already mapped";
    case PT_ERR_FLAGS: return "invalid leaf flags";
    case PT_ERR_BAD_PHYS: return "physical range beyond the 52-bit limit";
    }
    return "unknown error";
}
