/* SPDX-License-Identifier: MIT */
/* elf: validation of the static ELF64 executables the core loads (the root task only). */
#ifndef HV_KERNEL_ELF_H
#define HV_KERNEL_ELF_H

#include <stddef.h>
#include <stdint.h>

#define ELF_MAX_SEGMENTS 16

#define ELF_PF_X 1u
#define ELF_PF_W 2u
#define ELF_PF_R 4u

struct elf_segment {
    uint64_t vaddr;
    uint64_t memsz;
    uint64_t offset;
    uint64_t filesz;
    uint32_t flags;     /* ELF_PF_* */
};

struct elf_image {
    uint64_t entry;
    unsigned segment_count;
    struct elf_segment segments[ELF_MAX_SEGMENTS];
};

enum elf_error {
    ELF_OK = 0,
    ELF_ERR_TOO_SMALL,
    ELF_ERR_MAGIC,
    ELF_ERR_NOT_X86_64_EXEC,    /* class, data, machine or type */
    ELF_ERR_PHDRS,              /* program headers outside the file or malformed */
    ELF_ERR_SEGMENT,            /* a loadable segment is malformed or outside [va_min, va_end) */
    ELF_ERR_TOO_MANY_SEGMENTS,
    ELF_ERR_OVERLAP,            /* two segments share a page */
    ELF_ERR_ENTRY,              /* entry point not inside an executable segment */
};

/* Checks everything the loader relies on; loadable segments must lie in [va_min, va_end). */
enum elf_error elf_parse(const void *file, size_t size, uint64_t va_min, uint64_t va_end,
                         struct elf_image *out);
const char *elf_strerror(enum elf_error err);

#endif
