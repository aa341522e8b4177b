/* SPDX-License-Identifier: MIT */
/* elf: ELF64 header and program-header checks (pure logic, host-tested). */
#include "elf.h"

#include "../lib/kstring.h"

#define EI_NIDENT 16
#define ELFCLASS64 2
#define ELFDATA2LSB 1
#define ET_EXEC 2
#define EM_X86_64 62
#define PT_LOAD 1
#define PAGE 4096ull

struct elf64_ehdr {
    unsigned char ident[EI_NIDENT];
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff, shoff;
    uint32_t flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};

struct elf64_phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

_Static_assert(sizeof(struct elf64_ehdr) == 64, "ELF64 header");
_Static_assert(sizeof(struct elf64_phdr) == 56, "ELF64 program header");

static enum elf_error check_segment(const struct elf64_phdr *ph, size_t size, uint64_t va_min,
                                    uint64_t va_end)
{
    if (ph->filesz > ph->memsz || ph->offset > size || ph->filesz > size - ph->offset)
        return ELF_ERR_SEGMENT;
    if (ph->memsz == 0 || ph->vaddr < va_min || ph->vaddr >= va_end ||
        ph->memsz > va_end - ph->vaddr)
        return ELF_ERR_SEGMENT;
    /* File offset and address must agree modulo the page size so pages can be copied. */
    if ((ph->offset & (PAGE - 1)) != (ph->vaddr & (PAGE - 1)) && ph->filesz != 0)
        return ELF_ERR_SEGMENT;
    return ELF_OK;
}

enum elf_error elf_parse(const void *file, size_t size, uint64_t va_min, uint64_t va_end,
                         struct elf_image *out)
{
    struct elf64_ehdr eh;
    memset(out, 0, sizeof(*out));
    if (size < sizeof(eh))
        return ELF_ERR_TOO_SMALL;
    memcpy(&eh, file, sizeof(eh));
    if (eh.ident[0] != 0x7f || eh.ident[1] != 'E' || eh.ident[2] != 'L' || eh.ident[3] != 'F')
        return ELF_ERR_MAGIC;
    if (eh.ident[4] != ELFCLASS64 || eh.ident[5] != ELFDATA2LSB || eh.machine != EM_X86_64 ||
        eh.type != ET_EXEC)
        return ELF_ERR_NOT_X86_64_EXEC;
    if (eh.phentsize != sizeof(struct elf64_phdr) || eh.phoff > size ||
        (uint64_t)eh.phnum * sizeof(struct elf64_phdr) > size - eh.phoff)
        return ELF_ERR_PHDRS;

    for (unsigned i = 0; i < eh.phnum; i++) {
        struct elf64_phdr ph;
        memcpy(&ph, (const uint8_t *)file + eh.phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
        if (ph.type != PT_LOAD)
            continue;
        enum elf_error err = check_segment(&ph, size, va_min, va_end);
        if (err != ELF_OK)
            return err;
        if (out->segment_count == ELF_MAX_SEGMENTS)
            return ELF_ERR_TOO_MANY_SEGMENTS;
        uint64_t first = ph.vaddr & ~(PAGE - 1);
        uint64_t last = (ph.vaddr + ph.memsz - 1) & ~(PAGE - 1);
        for (unsigned j = 0; j < out->segment_count; j++) {
            const struct elf_segment *o = &out->segments[j];
            uint64_t ofirst = o->vaddr & ~(PAGE - 1);
            uint64_t olast = (o->vaddr + o->memsz - 1) & ~(PAGE - 1);
            if (first <= olast && ofirst <= last)
                return ELF_ERR_OVERLAP;
        }
        struct elf_segment *s = &out->segments[out->segment_count++];
        s->vaddr = ph.vaddr;
        s->memsz = ph.memsz;
        s->offset = ph.offset;
        s->filesz = ph.filesz;
        s->flags = ph.flags & (ELF_PF_R | ELF_PF_W | ELF_PF_X);
    }
    for (unsigned j = 0; j < out->segment_count; j++) {
        const struct elf_segment *s = &out->segments[j];
        if ((s->flags & ELF_PF_X) && eh.entry >= s->vaddr && eh.entry - s->vaddr < s->memsz) {
            out->entry = eh.entry;
            return ELF_OK;
        }
    }
    out->segment_count = 0;
    return ELF_ERR_ENTRY;
}

const char *elf_strerror(enum elf_error err)
{
    switch (err) {
    case ELF_OK: return "ok";
    case ELF_ERR_TOO_SMALL: return "file smaller than an ELF header";
    case ELF_ERR_MAGIC: return "not an ELF file";
    case ELF_ERR_NOT_X86_64_EXEC: return "not a little-endian x86-64 ELF64 executable";
    case ELF_ERR_PHDRS: return "program headers malformed or outside the file";
    case ELF_ERR_SEGMENT: return "a loadable segment is malformed or outside user space";
    case ELF_ERR_TOO_MANY_SEGMENTS: return "too many loadable segments";
    case ELF_ERR_OVERLAP: return "loadable segments overlap";
    case ELF_ERR_ENTRY: return "entry point not in an executable segment";
    }
    return "unknown error";
}
