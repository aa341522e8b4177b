/* SPDX-License-Identifier: MIT */
/* bootinfo: multiboot2 information parsing and queries over the result. */
#include "bootinfo.h"

#include "../lib/kstring.h"
#include "../lib/unaligned.h"

#define MB2_TAG_ALIGN 8u
#define MB2_HEADER_BYTES 8u         /* total_size + reserved */
#define MB2_TAG_HEADER_BYTES 8u     /* type + size */
#define MB2_MMAP_ENTRY_MIN 24u      /* base, length, type, reserved */
#define MB2_MAX_TOTAL_SIZE (1u << 20)  /* far above anything a loader produces */

/* Copies a string that must end inside [src, src+avail); truncates to the destination. */
static void copy_bounded_string(char *dst, size_t dst_size, const uint8_t *src, size_t avail)
{
    size_t n = 0;
    while (n < avail && src[n] != '\0' && n + 1 < dst_size) {
        dst[n] = (char)src[n];
        n++;
    }
    dst[n] = '\0';
}

static enum mb2_error parse_mmap(const uint8_t *tag, uint32_t size, struct boot_info *out)
{
    if (size < 16)
        return MB2_ERR_BAD_MMAP;
    uint32_t entry_size = rd32(tag + 8);
    if (entry_size < MB2_MMAP_ENTRY_MIN || entry_size % 8 != 0)
        return MB2_ERR_BAD_MMAP;
    /* entry_size <= size - off: written so a huge entry_size cannot wrap the sum. */
    for (uint32_t off = 16; off <= size && entry_size <= size - off; off += entry_size) {
        if (out->region_count == BOOTINFO_MAX_REGIONS) {
            out->regions_truncated = true;
            break;
        }
        struct mem_region *r = &out->regions[out->region_count++];
        r->base = rd64(tag + off);
        r->length = rd64(tag + off + 8);
        r->type = rd32(tag + off + 16);
        if (r->length != 0 && r->base + r->length < r->base)
            return MB2_ERR_BAD_MMAP;   /* wraps the address space */
    }
    return MB2_OK;
}

static enum mb2_error parse_module(const uint8_t *tag, uint32_t size, struct boot_info *out)
{
    if (size < 16)
        return MB2_ERR_BAD_MODULE;
    if (out->module_count == BOOTINFO_MAX_MODULES)
        return MB2_ERR_TOO_MANY_MODULES;
    struct boot_module *m = &out->modules[out->module_count];
    m->start = rd32(tag + 8);
    m->end = rd32(tag + 12);
    if (m->end < m->start)
        return MB2_ERR_BAD_MODULE;
    copy_bounded_string(m->cmdline, sizeof(m->cmdline), tag + 16, size - 16);
    out->module_count++;
    return MB2_OK;
}

static enum mb2_error parse_tags(const uint8_t *base, uint32_t total, struct boot_info *out)
{
    uint32_t off = MB2_HEADER_BYTES;
    bool have_mmap = false;

    while (off + MB2_TAG_HEADER_BYTES <= total) {
        const uint8_t *tag = base + off;
        uint32_t type = rd32(tag);
        uint32_t size = rd32(tag + 4);
        if (size < MB2_TAG_HEADER_BYTES || size > total - off)
            return MB2_ERR_BAD_TAG_SIZE;

        enum mb2_error err = MB2_OK;
        switch (type) {
        case MB2_TAG_END:
            if (size != MB2_TAG_HEADER_BYTES)
                return MB2_ERR_BAD_TAG_SIZE;
            return have_mmap ? MB2_OK : MB2_ERR_NO_MMAP;
        case MB2_TAG_CMDLINE:
            copy_bounded_string(out->cmdline, sizeof(out->cmdline), tag + 8, size - 8);
            break;
        case MB2_TAG_BOOTLOADER_NAME:
            copy_bounded_string(out->loader_name, sizeof(out->loader_name), tag + 8, size - 8);
            break;
        case MB2_TAG_MODULE:
            err = parse_module(tag, size, out);
            break;
        case MB2_TAG_BASIC_MEMINFO:
            if (size < 16)
                return MB2_ERR_BAD_TAG_SIZE;
            out->mem_lower_kib = rd32(tag + 8);
            out->mem_upper_kib = rd32(tag + 12);
            break;
        case MB2_TAG_MMAP:
            err = parse_mmap(tag, size, out);
            have_mmap = err == MB2_OK;
            break;
        default:
            break;  /* tags we do not use are skipped */
        }
        if (err != MB2_OK)
            return err;
        /* Next tag starts at the next 8-byte boundary; guard the rounding overflow. */
        uint32_t step = (size + MB2_TAG_ALIGN - 1) & ~(MB2_TAG_ALIGN - 1);
        if (step > total - off)
            return MB2_ERR_NO_END_TAG;
        off += step;
    }
    return MB2_ERR_NO_END_TAG;
}

enum mb2_error mb2_parse(uint32_t magic, const void *info, size_t avail, struct boot_info *out)
{
    memset(out, 0, sizeof(*out));
    if (magic != MB2_BOOTLOADER_MAGIC)
        return MB2_ERR_BAD_MAGIC;
    if (info == NULL || ((uintptr_t)info % MB2_TAG_ALIGN) != 0)
        return MB2_ERR_MISALIGNED;
    if (avail < MB2_HEADER_BYTES + MB2_TAG_HEADER_BYTES)
        return MB2_ERR_BAD_TOTAL_SIZE;
    const uint8_t *base = info;
    uint32_t total = rd32(base);
    if (total < MB2_HEADER_BYTES + MB2_TAG_HEADER_BYTES || total > avail ||
        total > MB2_MAX_TOTAL_SIZE)
        return MB2_ERR_BAD_TOTAL_SIZE;

    enum mb2_error err = parse_tags(base, total, out);
    if (err != MB2_OK)
        memset(out, 0, sizeof(*out));
    return err;
}

const char *mb2_strerror(enum mb2_error err)
{
    switch (err) {
    case MB2_OK: return "ok";
    case MB2_ERR_BAD_MAGIC: return "bad multiboot2 magic (not loaded by a multiboot2 loader)";
    case MB2_ERR_MISALIGNED: return "information structure missing or not 8-byte aligned";
    case MB2_ERR_BAD_TOTAL_SIZE: return "total_size out of range";
    case MB2_ERR_BAD_TAG_SIZE: return "tag size out of range";
    case MB2_ERR_NO_END_TAG: return "no end tag inside total_size";
    case MB2_ERR_BAD_MMAP: return "malformed memory map tag";
    case MB2_ERR_BAD_MODULE: return "malformed module tag";
    case MB2_ERR_TOO_MANY_MODULES: return "more boot modules than the core accepts";
    case MB2_ERR_NO_MMAP: return "no memory map tag";
    }
    return "unknown error";
}

/* Insertion-sorts the usable regions (by base) into `tmp`; returns how many. */
static size_t sorted_usable(const struct boot_info *bi, struct mem_region *tmp)
{
    size_t n = 0;
    for (size_t i = 0; i < bi->region_count; i++) {
        const struct mem_region *r = &bi->regions[i];
        if (r->type != MEM_USABLE || r->length == 0)
            continue;
        size_t j = n++;
        while (j > 0 && tmp[j - 1].base > r->base) {
            tmp[j] = tmp[j - 1];
            j--;
        }
        tmp[j] = *r;
    }
    return n;
}

uint64_t bootinfo_usable_bytes(const struct boot_info *bi)
{
    struct mem_region tmp[BOOTINFO_MAX_REGIONS];
    size_t n = sorted_usable(bi, tmp);
    uint64_t total = 0;
    uint64_t covered_to = 0;    /* end of the union of the regions seen so far */

    for (size_t i = 0; i < n; i++) {
        uint64_t start = tmp[i].base;
        uint64_t end = tmp[i].base + tmp[i].length;
        if (start < covered_to)
            start = covered_to;
        if (end > start)
            total += end - start;
        if (end > covered_to)
            covered_to = end;
    }
    return total;
}

uint64_t bootinfo_usable_top(const struct boot_info *bi)
{
    uint64_t top = 0;
    for (size_t i = 0; i < bi->region_count; i++) {
        const struct mem_region *r = &bi->regions[i];
        if (r->type == MEM_USABLE && r->length != 0 && r->base + r->length > top)
            top = r->base + r->length;
    }
    return top;
}

bool bootinfo_cmdline_get(const struct boot_info *bi, const char *key, char *buf, size_t size)
{
    size_t klen = strlen(key);
    const char *p = bi->cmdline;

    while (*p != '\0') {
        while (*p == ' ')
            p++;
        const char *word = p;
        while (*p != '\0' && *p != ' ')
            p++;
        size_t wlen = (size_t)(p - word);
        if (wlen > klen && strncmp(word, key, klen) == 0 && word[klen] == '=') {
            size_t vlen = wlen - klen - 1;
            if (size > 0) {
                size_t n = vlen < size - 1 ? vlen : size - 1;
                memcpy(buf, word + klen + 1, n);
                buf[n] = '\0';
            }
            return true;
        }
    }
    return false;
}

const struct boot_module *bootinfo_find_module(const struct boot_info *bi, const char *name)
{
    for (size_t i = 0; i < bi->module_count; i++) {
        if (strcmp(bi->modules[i].cmdline, name) == 0)
            return &bi->modules[i];
    }
    return NULL;
}

const char *mem_type_name(uint32_t type)
{
    switch (type) {
    case MEM_USABLE: return "usable";
    case MEM_RESERVED: return "reserved";
    case MEM_ACPI_RECLAIMABLE: return "acpi-reclaimable";
    case MEM_ACPI_NVS: return "acpi-nvs";
    case MEM_BAD: return "bad";
    default: return "unknown";
    }
}
