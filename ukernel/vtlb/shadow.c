/* SPDX-License-Identifier: MIT */
/* shadow: the shadow page-table manager — a per-VCPU virtual TLB over guest page tables. */
#include "shadow.h"

#include <stddef.h>

#include "../kernel/assert.h"
#include "../lib/kstring.h"

#define SPAGE 4096ull
#define SENTRIES 512u
#define L1_SPAN 0x200000ull       /* gva range one level-1 table maps */
#define FOUR_GIB 0x100000000ull

_Static_assert(SENTRIES * sizeof(uint64_t) == SPAGE, "a shadow table fills one page");

/* ---- pool pages ---- */

static uint64_t page_hpa(const struct shadow *s, unsigned idx)
{
    kassert(idx < s->pool_pages);
    return s->pool_hpa + idx * SPAGE;
}

static unsigned page_index(const struct shadow *s, uint64_t hpa)
{
    kassert(hpa >= s->pool_hpa && (hpa - s->pool_hpa) / SPAGE < s->pool_pages);
    return (unsigned)((hpa - s->pool_hpa) / SPAGE);
}

static uint64_t *table(const struct shadow *s, unsigned idx)
{
    return s->env->page_ptr(s->env->ctx, page_hpa(s, idx));
}

static void tlb_gva(struct shadow *s, uint64_t gva)
{
    if (s->tlb == SHADOW_TLB_NONE) {
        s->tlb = SHADOW_TLB_GVA;
        s->tlb_gva = gva;
    } else if (s->tlb == SHADOW_TLB_GVA && s->tlb_gva != gva) {
        s->tlb = SHADOW_TLB_ALL;
    }
}

static void l1_link(struct shadow *s, unsigned idx)
{
    struct shadow_page *p = &s->pages[idx];
    struct shadow_root *r = &s->roots[p->root];
    p->prev = SHADOW_NONE;
    p->next = r->l1_head;
    if (r->l1_head != SHADOW_NONE)
        s->pages[r->l1_head].prev = (uint16_t)idx;
    r->l1_head = (uint16_t)idx;
}

static void l1_unlink(struct shadow *s, unsigned idx)
{
    struct shadow_page *p = &s->pages[idx];
    if (p->prev != SHADOW_NONE)
        s->pages[p->prev].next = p->next;
    else
        s->roots[p->root].l1_head = p->next;
    if (p->next != SHADOW_NONE)
        s->pages[p->next].prev = p->prev;
}

static void page_free(struct shadow *s, unsigned idx)
{
    struct shadow_page *p = &s->pages[idx];
    kassert(p->used);
    if (p->level == 1)
        l1_unlink(s, idx);
    p->used = false;
    p->next = s->free_head;
    s->free_head = (uint16_t)idx;
    s->free_count++;
}

/* Frees every page of root slot r; the slot becomes invalid. */
static void evict_root(struct shadow *s, unsigned r)
{
    for (unsigned i = 0; i < s->pool_pages; i++)
        if (s->pages[i].used && s->pages[i].root == r)
            page_free(s, i);
    s->roots[r].valid = false;
    s->tlb = SHADOW_TLB_ALL;
}

/* Least recently used valid root other than `keep` (SHADOW_ROOTS: none kept). */
static unsigned lru_root(const struct shadow *s, unsigned keep)
{
    unsigned best = SHADOW_ROOTS;
    for (unsigned r = 0; r < SHADOW_ROOTS; r++) {
        if (!s->roots[r].valid || r == keep)
            continue;
        if (best == SHADOW_ROOTS || s->roots[r].last_used < s->roots[best].last_used)
            best = r;
    }
    return best;
}

/* A zeroed page for root slot `owner`, evicting other roots (LRU first) when the
 * pool is empty; SHADOW_NONE when only `owner`'s own tables are left. */
static unsigned page_alloc(struct shadow *s, unsigned owner, unsigned level, unsigned parent,
                           unsigned slot)
{
    while (s->free_head == SHADOW_NONE) {
        unsigned victim = lru_root(s, owner);
        if (victim == SHADOW_ROOTS)
            return SHADOW_NONE;
        evict_root(s, victim);
        s->stats.root_evictions++;
    }
    unsigned idx = s->free_head;
    struct shadow_page *p = &s->pages[idx];
    s->free_head = p->next;
    s->free_count--;
    *p = (struct shadow_page){.parent = (uint16_t)parent, .slot = (uint16_t)slot,
                              .next = SHADOW_NONE, .prev = SHADOW_NONE,
                              .level = (uint8_t)level, .root = (uint8_t)owner, .used = true};
    memset(table(s, idx), 0, SPAGE);
    if (level == 1)
        l1_link(s, idx);
    return idx;
}

/* ---- walking the shadow tables ---- */

static unsigned sidx(bool pae, unsigned level, uint64_t gva)
{
    if (pae && level == 3)
        return (unsigned)(gva >> 30) & 3;
    return (unsigned)(gva >> (12 + 9 * (level - 1))) & (SENTRIES - 1);
}

/* The table at `stop` (1 = PT, 2 = PD) on gva's path in root r; created (with its
 * parents) if `create`. SHADOW_NONE if absent, or if creating needed a page the pool
 * could not give. */
static unsigned find_table(struct shadow *s, unsigned r, uint64_t gva, unsigned stop,
                           bool create)
{
    const struct shadow_root *root = &s->roots[r];
    kassert(root->valid);
    unsigned page = root->page;
    for (unsigned level = root->pae ? 3 : 4; level > stop; level--) {
        unsigned i = sidx(root->pae, level, gva);
        uint64_t e = table(s, page)[i];
        if (!(e & SPTE_P)) {
            if (!create)
                return SHADOW_NONE;
            unsigned child = page_alloc(s, r, level - 1, page, i);
            if (child == SHADOW_NONE)
                return SHADOW_NONE;
            e = page_hpa(s, child) | (root->pae && level == 3 ? SPTE_PAE_PDPTE : SPTE_TABLE);
            table(s, page)[i] = e;
            s->pages[page].present++;
        }
        page = page_index(s, e & SPTE_ADDR_MASK);
        kassert(s->pages[page].used && s->pages[page].root == r &&
                s->pages[page].level == level - 1);
    }
    return page;
}

static unsigned find_l1(struct shadow *s, unsigned r, uint64_t gva, bool create)
{
    return find_table(s, r, gva, 1, create);
}

/* Frees idx and then its ancestors while they are empty (never the root). */
static void release_if_empty(struct shadow *s, unsigned idx)
{
    while (s->pages[idx].parent != SHADOW_NONE && s->pages[idx].present == 0) {
        unsigned parent = s->pages[idx].parent;
        table(s, parent)[s->pages[idx].slot] = 0;
        kassert(s->pages[parent].present > 0);
        s->pages[parent].present--;
        page_free(s, idx);
        idx = parent;
    }
}

/* Clears entry i of level-1 table l1 (present) and keeps its counters. */
static void clear_spte(struct shadow *s, unsigned l1, unsigned i)
{
    uint64_t *t = table(s, l1);
    struct shadow_page *p = &s->pages[l1];
    kassert(t[i] & SPTE_P);
    if (!(t[i] & SPTE_SW_GLOBAL))
        p->nonglobal--;
    if (t[i] & SPTE_SW_LARGE)
        p->large--;
    p->present--;
    t[i] = 0;
}

/* The current root's spte for gva, 0 if none. */
static uint64_t current_spte(struct shadow *s, uint64_t gva)
{
    unsigned l1 = find_l1(s, s->current, gva, false);
    return l1 == SHADOW_NONE ? 0 : table(s, l1)[sidx(false, 1, gva)];
}

static bool set_spte(struct shadow *s, unsigned r, uint64_t gva, uint64_t spte)
{
    unsigned l1 = find_l1(s, r, gva, true);
    if (l1 == SHADOW_NONE)
        return false;
    unsigned i = sidx(false, 1, gva);
    if (table(s, l1)[i] & SPTE_P) {
        clear_spte(s, l1, i);
        tlb_gva(s, gva);    /* replaced, narrowed, or the hardware had a stale entry */
    }
    struct shadow_page *p = &s->pages[l1];
    table(s, l1)[i] = spte;
    p->present++;
    p->nonglobal += !(spte & SPTE_SW_GLOBAL);
    p->large += (spte & SPTE_SW_LARGE) != 0;
    return true;
}

/* Frees every table of root r below the root page. */
static void zap_root_tables(struct shadow *s, unsigned r)
{
    unsigned rootpage = s->roots[r].page;
    for (unsigned i = 0; i < s->pool_pages; i++)
        if (s->pages[i].used && s->pages[i].root == r && i != rootpage)
            page_free(s, i);
    memset(table(s, rootpage), 0, SPAGE);
    s->pages[rootpage].present = 0;
    kassert(s->roots[r].l1_head == SHADOW_NONE);
    s->tlb = SHADOW_TLB_ALL;
}

/* Drops the non-global sptes of root r (the CR3 write flush). */
static void flush_nonglobal(struct shadow *s, unsigned r)
{
    unsigned idx = s->roots[r].l1_head;
    while (idx != SHADOW_NONE) {
        unsigned next = s->pages[idx].next;
        if (s->pages[idx].nonglobal != 0) {
            const uint64_t *t = table(s, idx);
            for (unsigned i = 0; i < SENTRIES; i++)
                if ((t[i] & SPTE_P) && !(t[i] & SPTE_SW_GLOBAL))
                    clear_spte(s, idx, i);
            kassert(s->pages[idx].nonglobal == 0);
            release_if_empty(s, idx);   /* frees idx and emptied parents, no other l1 */
        }
        idx = next;
    }
}

/* The largest guest page in the current mode: the span an INVLPG may cover. */
static uint64_t guest_large_span(const struct shadow *s)
{
    switch (gw_paging_mode(&s->regs)) {
    case GW_PAGING_32:
        return (s->regs.cr4 & GW_CR4_PSE) ? 0x400000ull : 0;
    case GW_PAGING_PAE:
        return 0x200000ull;
    case GW_PAGING_4LEVEL:
        return s->env->guest.gbpages ? 0x40000000ull : 0x200000ull;
    case GW_PAGING_OFF:
        break;
    }
    return 0;
}

/* Drops, in root r, the spte for gva and every spte from a guest large page that
 * could contain gva (INVLPG drops the whole large translation). True if it dropped
 * sptes of a large page (the hardware then needs more than one address flushed). */
static bool invalidate_gva(struct shadow *s, unsigned r, uint64_t gva)
{
    bool dropped_large = false;
    unsigned l1 = find_l1(s, r, gva, false);
    if (l1 != SHADOW_NONE && (table(s, l1)[sidx(false, 1, gva)] & SPTE_P)) {
        clear_spte(s, l1, sidx(false, 1, gva));
        release_if_empty(s, l1);
    }
    uint64_t span = guest_large_span(s);
    if (span == 0)
        return false;
    /* The span (at most 1 GiB, aligned) lies inside one PD: look there. Counted, not
     * compared with base + span, which wraps to 0 at the top of the address space. */
    uint64_t base = gva & ~(span - 1);
    unsigned pd = find_table(s, r, base, 2, false);
    if (pd == SHADOW_NONE)
        return false;
    for (uint64_t k = 0; k < span / L1_SPAN; k++) {
        uint64_t pde = table(s, pd)[sidx(false, 2, base) + k];
        if (!(pde & SPTE_P))
            continue;
        l1 = page_index(s, pde & SPTE_ADDR_MASK);
        if (s->pages[l1].large == 0)
            continue;
        const uint64_t *t = table(s, l1);
        for (unsigned i = 0; i < SENTRIES; i++)
            if ((t[i] & SPTE_P) && (t[i] & SPTE_SW_LARGE))
                clear_spte(s, l1, i);
        if (s->pages[l1].present == 0) {    /* the PD itself stays until the loop ends */
            table(s, pd)[s->pages[l1].slot] = 0;
            s->pages[pd].present--;
            page_free(s, l1);
        }
        dropped_large = true;
    }
    release_if_empty(s, pd);
    return dropped_large;
}

/* ---- roots ---- */

static uint64_t cr3_key(const struct gw_regs *regs)
{
    switch (gw_paging_mode(regs)) {
    case GW_PAGING_32:
        return regs->cr3 & GPTE32_ADDR_MASK;
    case GW_PAGING_PAE:
        return regs->cr3 & GW_CR3_PAE_MASK;
    case GW_PAGING_4LEVEL:
        return regs->cr3 & GPTE_ADDR_MASK;
    case GW_PAGING_OFF:
        break;
    }
    return SHADOW_KEY_PAGING_OFF;
}

/* Makes the root for the guest's current CR3 current, as a CR3 load does to a TLB. */
static void switch_root(struct shadow *s)
{
    uint64_t key = cr3_key(&s->regs);
    bool pae = !(s->regs.efer & GW_EFER_LMA);
    s->tlb = SHADOW_TLB_ALL;
    for (unsigned r = 0; r < SHADOW_ROOTS; r++) {
        if (s->roots[r].valid && s->roots[r].key == key && s->roots[r].pae == pae) {
            flush_nonglobal(s, r);
            s->current = r;
            s->roots[r].last_used = ++s->clock;
            s->stats.root_hits++;
            return;
        }
    }
    unsigned slot = SHADOW_ROOTS;
    for (unsigned r = 0; r < SHADOW_ROOTS && slot == SHADOW_ROOTS; r++)
        if (!s->roots[r].valid)
            slot = r;
    if (slot == SHADOW_ROOTS) {
        slot = lru_root(s, SHADOW_ROOTS);
        evict_root(s, slot);
        s->stats.root_evictions++;
    }
    /* An invalid slot owns no page, so the pool empty means another root has some. */
    s->roots[slot] = (struct shadow_root){.valid = true, .pae = pae, .l1_head = SHADOW_NONE,
                                          .key = key, .last_used = ++s->clock};
    unsigned page = page_alloc(s, slot, pae ? 3 : 4, SHADOW_NONE, 0);
    kassert(page != SHADOW_NONE);
    s->roots[slot].page = (uint16_t)page;
    s->current = slot;
    s->stats.root_misses++;
}

static void drop_all(struct shadow *s)
{
    for (unsigned r = 0; r < SHADOW_ROOTS; r++)
        if (s->roots[r].valid)
            evict_root(s, r);
    kassert(s->free_count == s->pool_pages);
}

/* ---- the interface ---- */

bool shadow_pool_ok(uint64_t pool_hpa, unsigned pool_pages)
{
    return pool_hpa % SPAGE == 0 && pool_pages >= SHADOW_POOL_MIN &&
           pool_pages <= SHADOW_POOL_MAX && pool_hpa < FOUR_GIB &&
           pool_pages * SPAGE <= FOUR_GIB - pool_hpa;
}

static void outcome(struct shadow_outcome *out, enum shadow_action a)
{
    *out = (struct shadow_outcome){.action = a};
}

/* PAE paging: load the PDPTEs at cr3 as the CPU does; false with *out set if not. */
static bool load_pdptes(struct shadow *s, const struct gw_regs *regs, uint64_t cr3,
                        uint64_t pdptes[4], struct shadow_outcome *out)
{
    if (gw_paging_mode(regs) != GW_PAGING_PAE)
        return true;
    uint64_t missing = 0;
    switch (gw_load_pdptes(&s->env->guest, cr3, pdptes, &missing)) {
    case GW_OK:
        return true;
    case GW_GPA_MISSING:
        outcome(out, SHADOW_GPA_EXIT);
        out->gpa = missing;
        out->gpa_access = SHADOW_MEM_R;
        return false;
    default:
        outcome(out, SHADOW_INJECT_GP);
        return false;
    }
}

void shadow_init(struct shadow *s, const struct shadow_env *env, uint64_t pool_hpa,
                 unsigned pool_pages, uint64_t cr0, uint64_t cr3, uint64_t cr4, uint64_t efer,
                 struct shadow_outcome *out)
{
    kassert(shadow_pool_ok(pool_hpa, pool_pages));
    memset(s, 0, sizeof(*s));
    s->env = env;
    s->pool_hpa = pool_hpa;
    s->pool_pages = pool_pages;
    s->free_head = SHADOW_NONE;
    for (unsigned i = pool_pages; i-- > 0;) {
        s->pages[i].next = s->free_head;
        s->free_head = (uint16_t)i;
    }
    s->free_count = pool_pages;
    s->regs = (struct gw_regs){.cr0 = cr0, .cr3 = cr3, .cr4 = cr4, .efer = efer,
                               .pdptes = s->pdptes};
    outcome(out, SHADOW_RESUME);
    uint64_t pdptes[4] = {0};
    if (load_pdptes(s, &s->regs, cr3, pdptes, out))
        memcpy(s->pdptes, pdptes, sizeof(pdptes));
    switch_root(s);
}

uint64_t shadow_root_hpa(const struct shadow *s)
{
    kassert(s->roots[s->current].valid);
    return page_hpa(s, s->roots[s->current].page);
}

bool shadow_root_pae(const struct shadow *s)
{
    return s->roots[s->current].pae;
}

unsigned shadow_access(uint32_t hw_error_code, bool eflags_ac)
{
    unsigned a = 0;
    if (hw_error_code & GW_PFEC_W)
        a |= GW_ACC_WRITE;
    if (hw_error_code & GW_PFEC_ID)
        a |= GW_ACC_FETCH;
    if (hw_error_code & GW_PFEC_U)
        a |= GW_ACC_USER;
    if (eflags_ac)
        a |= GW_ACC_AC;
    return a;
}

/* The right an access needs from GuestMemory. */
static unsigned needed_right(unsigned access)
{
    return (access & GW_ACC_WRITE) ? SHADOW_MEM_W : (access & GW_ACC_FETCH) ? SHADOW_MEM_X
                                                                            : SHADOW_MEM_R;
}

void shadow_page_fault(struct shadow *s, uint64_t gva, unsigned access,
                       struct shadow_outcome *out)
{
    struct gw_result w;
    s->stats.faults++;
    if (gw_paging_mode(&s->regs) != GW_PAGING_4LEVEL)
        gva &= 0xffffffffull;   /* linear addresses are 32 bits outside long mode */
    gw_walk(&s->env->guest, &s->regs, gva, access, &w);
    switch (w.status) {
    case GW_OK:
        break;
    case GW_FAULT:
        /* The #PF invalidates the guest's translations for this address. */
        shadow_invlpg(s, gva);
        outcome(out, SHADOW_INJECT_PF);
        out->error_code = w.error_code;
        out->cr2 = w.cr2;
        s->stats.injected++;
        return;
    case GW_GPA_MISSING:
        outcome(out, SHADOW_GPA_EXIT);
        out->gpa = w.missing_gpa;
        out->gpa_access = w.missing_write ? SHADOW_MEM_W : SHADOW_MEM_R;
        s->stats.gpa_exits++;
        return;
    case GW_NONCANONICAL:
        outcome(out, SHADOW_INJECT_GP);
        return;
    case GW_RETRY:
        outcome(out, SHADOW_RESUME);
        return;
    }

    uint64_t hpa = 0;
    unsigned rights = 0;
    unsigned need = needed_right(access);
    if (!s->env->gfn_to_hpa(s->env->ctx, w.gpa >> 12, &hpa, &rights) ||
        !(rights & SHADOW_MEM_R) || !(rights & need)) {
        outcome(out, SHADOW_GPA_EXIT);
        out->gpa = w.gpa;
        out->gpa_access = need;
        s->stats.gpa_exits++;
        return;
    }
    kassert(hpa % SPAGE == 0);

    /* Guest rights AND GuestMemory rights; D clear keeps a writable page read-only. */
    bool writable = w.writable && w.dirty && (rights & SHADOW_MEM_W);
    bool user = w.user;
    bool nx = !w.executable || !(rights & SHADOW_MEM_X);
    bool supervisor = !(access & GW_ACC_USER) || (access & GW_ACC_IMPLICIT);
    if ((access & GW_ACC_WRITE) && supervisor && !w.writable) {
        /* Guest CR0.WP = 0 (the walk allowed it): writable, supervisor-only. */
        kassert(!(s->regs.cr0 & GW_CR0_WP) && w.dirty);
        writable = true;
        user = false;
        if (s->regs.cr4 & GW_CR4_SMEP)
            nx = true;
    }
    uint64_t spte = hpa | SPTE_P | SPTE_A | SPTE_D | (writable ? SPTE_RW : 0) |
                    (user ? SPTE_US : 0) | (nx ? SPTE_NX : 0) |
                    (w.global ? SPTE_SW_GLOBAL : 0) | (w.page_size > SPAGE ? SPTE_SW_LARGE : 0);
    if (spte == current_spte(s, gva) && supervisor && !(access & GW_ACC_FETCH) &&
        (s->regs.cr4 & GW_CR4_SMAP) && !(access & GW_ACC_IMPLICIT)) {
        /* The hardware refused an access this very spte allows to an explicit access
         * with the guest's EFLAGS.AC: it was an implicit supervisor access, which SMAP
         * refuses whatever AC says and which the error code does not tell apart. */
        gw_walk(&s->env->guest, &s->regs, gva, access | GW_ACC_IMPLICIT, &w);
        if (w.status == GW_FAULT) {
            shadow_invlpg(s, gva);
            outcome(out, SHADOW_INJECT_PF);
            out->error_code = w.error_code;
            out->cr2 = w.cr2;
            s->stats.injected++;
            return;
        }
    }
    if (!set_spte(s, s->current, gva, spte)) {
        /* Only the current root's tables are left: start it over. */
        zap_root_tables(s, s->current);
        s->stats.self_evictions++;
        bool ok = set_spte(s, s->current, gva, spte);
        kassert(ok);
    }
    s->stats.installs++;
    outcome(out, SHADOW_RESUME);
}

void shadow_write_cr3(struct shadow *s, uint64_t cr3, struct shadow_outcome *out)
{
    uint64_t pdptes[4];
    outcome(out, SHADOW_RESUME);
    if (!load_pdptes(s, &s->regs, cr3, pdptes, out))
        return;
    if (gw_paging_mode(&s->regs) == GW_PAGING_PAE)
        memcpy(s->pdptes, pdptes, sizeof(pdptes));
    s->regs.cr3 = cr3;
    if (gw_paging_mode(&s->regs) != GW_PAGING_OFF)
        switch_root(s);
}

#define CTRL_CR0 (GW_CR0_PG | GW_CR0_WP)
#define CTRL_CR4 (GW_CR4_PAE | GW_CR4_PSE | GW_CR4_PGE | GW_CR4_SMEP | GW_CR4_SMAP)
#define CTRL_EFER (GW_EFER_NXE | GW_EFER_LMA)

void shadow_write_ctrl(struct shadow *s, uint64_t cr0, uint64_t cr4, uint64_t efer,
                       struct shadow_outcome *out)
{
    struct gw_regs next = s->regs;
    next.cr0 = cr0;
    next.cr4 = cr4;
    next.efer = efer;
    outcome(out, SHADOW_RESUME);
    bool changed = ((cr0 ^ s->regs.cr0) & CTRL_CR0) || ((cr4 ^ s->regs.cr4) & CTRL_CR4) ||
                   ((efer ^ s->regs.efer) & CTRL_EFER);
    if (!changed) {
        s->regs = next;
        return;
    }
    uint64_t pdptes[4];
    if (!load_pdptes(s, &next, next.cr3, pdptes, out))
        return;
    if (gw_paging_mode(&next) == GW_PAGING_PAE)
        memcpy(s->pdptes, pdptes, sizeof(pdptes));
    s->regs = next;
    shadow_flush_all(s);
}

void shadow_invlpg(struct shadow *s, uint64_t gva)
{
    if (gw_paging_mode(&s->regs) != GW_PAGING_4LEVEL)
        gva &= 0xffffffffull;
    bool large = false;
    for (unsigned r = 0; r < SHADOW_ROOTS; r++)
        if (s->roots[r].valid && invalidate_gva(s, r, gva))
            large = true;
    if (large)
        s->tlb = SHADOW_TLB_ALL;    /* a large translation spans many 4 KiB entries */
    else
        tlb_gva(s, gva);
}

void shadow_flush_all(struct shadow *s)
{
    drop_all(s);
    s->stats.flush_all++;
    switch_root(s);
}

enum shadow_tlb shadow_tlb_take(struct shadow *s, uint64_t *gva)
{
    enum shadow_tlb t = s->tlb;
    *gva = s->tlb_gva;
    s->tlb = SHADOW_TLB_NONE;
    s->tlb_gva = 0;
    return t;
}
