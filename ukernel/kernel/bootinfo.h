/* SPDX-License-Identifier: MIT */
/* bootinfo: what the bootloader told us (multiboot2), validated and copied into fixed storage. */
#ifndef HV_KERNEL_BOOTINFO_H
#define HV_KERNEL_BOOTINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MB2_BOOTLOADER_MAGIC 0x36d76289u

/* Multiboot2 tag types we consume (multiboot2 specification, section 3.6). */
enum mb2_tag_type {
    MB2_TAG_END = 0,
    MB2_TAG_CMDLINE = 1,
    MB2_TAG_BOOTLOADER_NAME = 2,
    MB2_TAG_MODULE = 3,
    MB2_TAG_BASIC_MEMINFO = 4,
    MB2_TAG_MMAP = 6,
};

/* Memory-map entry types as multiboot2 reports them (E820 semantics). */
enum mem_type {
    MEM_USABLE = 1,
    MEM_RESERVED = 2,
    MEM_ACPI_RECLAIMABLE = 3,
    MEM_ACPI_NVS = 4,
    MEM_BAD = 5,
};

#define BOOTINFO_MAX_REGIONS 64
#define BOOTINFO_MAX_MODULES 16
#define BOOTINFO_CMDLINE_MAX 256
#define BOOTINFO_NAME_MAX 64

struct mem_region {
    uint64_t base;
    uint64_t length;
    uint32_t type;      /* enum mem_type; unknown values are kept and treated as reserved */
};

struct boot_module {
    uint64_t start;     /* physical, inclusive */
    uint64_t end;       /* physical, exclusive */
    char cmdline[BOOTINFO_NAME_MAX];
};

struct boot_info {
    char cmdline[BOOTINFO_CMDLINE_MAX];
    char loader_name[BOOTINFO_NAME_MAX];
    uint32_t mem_lower_kib;     /* from the basic meminfo tag, 0 if absent */
    uint32_t mem_upper_kib;
    size_t region_count;
    struct mem_region regions[BOOTINFO_MAX_REGIONS];
    size_t module_count;
    struct boot_module modules[BOOTINFO_MAX_MODULES];
    bool regions_truncated;     /* more regions than fit: the rest were dropped */
};

enum mb2_error {
    MB2_OK = 0,
    MB2_ERR_BAD_MAGIC,
    MB2_ERR_MISALIGNED,
    MB2_ERR_BAD_TOTAL_SIZE,
    MB2_ERR_BAD_TAG_SIZE,
    MB2_ERR_NO_END_TAG,
    MB2_ERR_BAD_MMAP,
    MB2_ERR_BAD_MODULE,
    MB2_ERR_TOO_MANY_MODULES,
    MB2_ERR_NO_MMAP,
};

/*
 * Parses the multiboot2 information structure at `info`, at most `avail` bytes
 * readable there. Every length is checked against the structure's own total size
 * and `avail` before it is used, so a corrupt structure yields an error, never a
 * read out of bounds. On error `out` is left zeroed.
 */
enum mb2_error mb2_parse(uint32_t magic, const void *info, size_t avail, struct boot_info *out);
const char *mb2_strerror(enum mb2_error err);

/* Sum of usable bytes in the map, with overlapping usable regions counted once. */
uint64_t bootinfo_usable_bytes(const struct boot_info *bi);
/* End (exclusive) of the highest usable region; 0 if none. */
uint64_t bootinfo_usable_top(const struct boot_info *bi);
/* Value of "key=value" in the command line, copied into buf; false if absent. */
bool bootinfo_cmdline_get(const struct boot_info *bi, const char *key, char *buf, size_t size);
const struct boot_module *bootinfo_find_module(const struct boot_info *bi, const char *name);
const char *mem_type_name(uint32_t type);

#endif
