/* Guest image acceptance (docs/abi.md 2.1): common/elf.h. */
#include "common/elf.h"

#include "common/format.h"
#include "hvbios/abi/boot.h"

/* ELF64 layout (System V gABI), by offset: this file reads the fields it
 * needs from the bytes, so it needs no <elf.h> (firmware has none). */
enum {
  kEhdrSize = 64,
  kPhdrSize = 56,
  kEiClass = 4,
  kEiData = 5,
  kClass64 = 2,
  kDataLsb = 1,
  kTypeExec = 2,
  kTypeDyn = 3,
  kMachineX86_64 = 62,
  kPtLoad = 1,
  kPtDynamic = 2,
  kPtInterp = 3,
  kPfX = 1,
};

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p) {
  return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static struct hvb_elf_error error(int code, uint32_t index, uint64_t a,
                                  uint64_t b) {
  struct hvb_elf_error e = {code, index, a, b};
  return e;
}

struct hvb_elf_error hvb_elf_parse(const uint8_t *file, uint64_t size,
                                   struct hvb_elf_image *image) {
  image->entry = 0;
  image->segment_count = 0;
  if (size == 0) return error(HVB_ELF_EMPTY, 0, 0, 0);
  if (size < 4 || file[0] != 0x7f || file[1] != 'E' || file[2] != 'L' ||
      file[3] != 'F') {
    return error(HVB_ELF_BAD_MAGIC, 0, 0, 0);
  }
  if (size < kEhdrSize) return error(HVB_ELF_TRUNCATED_HEADER, 0, 0, 0);
  if (file[kEiClass] != kClass64) return error(HVB_ELF_NOT_64_BIT, 0, 0, 0);
  if (file[kEiData] != kDataLsb) {
    return error(HVB_ELF_NOT_LITTLE_ENDIAN, 0, 0, 0);
  }
  const uint16_t type = get16(file + 16), machine = get16(file + 18);
  const uint64_t entry = get64(file + 24), phoff = get64(file + 32);
  const uint16_t phentsize = get16(file + 54), phnum = get16(file + 56);
  if (machine != kMachineX86_64) {
    return error(HVB_ELF_NOT_X86_64, 0, machine, 0);
  }
  if (type == kTypeDyn) return error(HVB_ELF_POSITION_INDEPENDENT, 0, 0, 0);
  if (type != kTypeExec) return error(HVB_ELF_NOT_EXECUTABLE, 0, type, 0);
  if (phnum == 0) return error(HVB_ELF_NO_PROGRAM_HEADERS, 0, 0, 0);
  if (phentsize != kPhdrSize) {
    return error(HVB_ELF_BAD_PHENTSIZE, 0, phentsize, 0);
  }
  if (phoff > size || (uint64_t)phnum * kPhdrSize > size - phoff) {
    return error(HVB_ELF_PHDRS_PAST_END, 0, 0, 0);
  }
  if (phnum > HVB_ELF_MAX_PHDRS) {
    return error(HVB_ELF_TOO_MANY_PHDRS, 0, phnum, 0);
  }
  int entry_found = 0;
  for (uint32_t i = 0; i < phnum; ++i) {
    const uint8_t *ph = file + phoff + (uint64_t)i * kPhdrSize;
    const uint32_t ptype = get32(ph), flags = get32(ph + 4);
    const uint64_t offset = get64(ph + 8), vaddr = get64(ph + 16),
                   paddr = get64(ph + 24), filesz = get64(ph + 32),
                   memsz = get64(ph + 40);
    if (ptype == kPtInterp || ptype == kPtDynamic) {
      return error(HVB_ELF_DYNAMIC, i, 0, 0);
    }
    if (ptype != kPtLoad || memsz == 0) continue;
    if (filesz > memsz) {
      return error(HVB_ELF_FILESZ_ABOVE_MEMSZ, i, filesz, memsz);
    }
    if (offset > size || filesz > size - offset) {
      return error(HVB_ELF_SEGMENT_PAST_END, i, offset, filesz);
    }
    if (paddr + memsz < paddr)
      return error(HVB_ELF_SEGMENT_WRAPS, i, paddr, memsz);
    /* The entry point is a virtual address; it is translated through the
     * segment holding it (equal for identity-linked images, not for a
     * higher-half kernel). */
    if (entry >= vaddr && entry - vaddr < memsz) {
      if (!(flags & kPfX)) {
        return error(HVB_ELF_ENTRY_NOT_EXECUTABLE, 0, entry, 0);
      }
      image->entry = paddr + (entry - vaddr);
      entry_found = 1;
    }
    /* Insertion by paddr keeps the segments sorted. */
    uint32_t at = image->segment_count++;
    for (; at > 0 && image->segments[at - 1].paddr > paddr; --at) {
      image->segments[at] = image->segments[at - 1];
    }
    struct hvb_elf_segment *s = &image->segments[at];
    s->paddr = paddr;
    s->memory_size = memsz;
    s->file_offset = offset;
    s->file_size = filesz;
    s->executable = (flags & kPfX) != 0;
    s->reserved = 0;
  }
  if (image->segment_count == 0) return error(HVB_ELF_NOTHING_TO_LOAD, 0, 0, 0);
  if (!entry_found) return error(HVB_ELF_ENTRY_OUTSIDE, 0, entry, 0);
  for (uint32_t i = 1; i < image->segment_count; ++i) {
    const struct hvb_elf_segment *prev = &image->segments[i - 1];
    if (prev->paddr + prev->memory_size > image->segments[i].paddr) {
      return error(HVB_ELF_SEGMENTS_OVERLAP, i, prev->paddr,
                   image->segments[i].paddr);
    }
  }
  return error(HVB_ELF_OK, 0, 0, 0);
}

struct hvb_elf_error hvb_elf_check_placement(const struct hvb_elf_image *image,
                                             const struct hvb_ram_range *ram,
                                             uint32_t ram_count) {
  for (uint32_t i = 0; i < image->segment_count; ++i) {
    const struct hvb_elf_segment *s = &image->segments[i];
    if (s->paddr < HVB_GUEST_LOAD_MIN) {
      return error(HVB_ELF_BELOW_LOAD_MIN, i, s->paddr, 0);
    }
    int inside = 0;
    for (uint32_t r = 0; r < ram_count && !inside; ++r) {
      inside = s->paddr >= ram[r].base && s->paddr < ram[r].end &&
               s->memory_size <= ram[r].end - s->paddr;
    }
    if (!inside) return error(HVB_ELF_OUTSIDE_RAM, i, s->paddr, s->memory_size);
  }
  return error(HVB_ELF_OK, 0, 0, 0);
}

void hvb_elf_describe(struct hvb_elf_error e, char *buf, uint64_t size) {
  const unsigned long long a = e.a, b = e.b;
  const unsigned i = e.index;
  switch (e.code) {
    case HVB_ELF_OK:
      hvb_snprintf(buf, size, "accepted");
      return;
    case HVB_ELF_EMPTY:
      hvb_snprintf(buf, size, "file is empty");
      return;
    case HVB_ELF_BAD_MAGIC:
      hvb_snprintf(buf, size, "not an ELF file (bad magic)");
      return;
    case HVB_ELF_TRUNCATED_HEADER:
      hvb_snprintf(buf, size, "truncated ELF header");
      return;
    case HVB_ELF_NOT_64_BIT:
      hvb_snprintf(buf, size,
                   "not a 64-bit ELF (32-bit images are not supported)");
      return;
    case HVB_ELF_NOT_LITTLE_ENDIAN:
      hvb_snprintf(buf, size, "not a little-endian ELF");
      return;
    case HVB_ELF_NOT_X86_64:
      hvb_snprintf(buf, size, "not an x86-64 ELF (e_machine %llu)", a);
      return;
    case HVB_ELF_POSITION_INDEPENDENT:
      hvb_snprintf(buf, size,
                   "position-independent or shared ELF (ET_DYN); link a "
                   "static executable (-static -no-pie)");
      return;
    case HVB_ELF_NOT_EXECUTABLE:
      hvb_snprintf(buf, size, "not an executable ELF (e_type %llu)", a);
      return;
    case HVB_ELF_NO_PROGRAM_HEADERS:
      hvb_snprintf(buf, size, "no program headers");
      return;
    case HVB_ELF_BAD_PHENTSIZE:
      hvb_snprintf(buf, size, "unexpected program header size %llu", a);
      return;
    case HVB_ELF_PHDRS_PAST_END:
      hvb_snprintf(buf, size,
                   "program headers extend past the end of the file");
      return;
    case HVB_ELF_TOO_MANY_PHDRS:
      hvb_snprintf(buf, size, "too many program headers (%llu, at most %d)", a,
                   HVB_ELF_MAX_PHDRS);
      return;
    case HVB_ELF_DYNAMIC:
      hvb_snprintf(buf, size,
                   "dynamically linked ELF (program header %u is "
                   "PT_INTERP or PT_DYNAMIC); link a static executable",
                   i);
      return;
    case HVB_ELF_FILESZ_ABOVE_MEMSZ:
      hvb_snprintf(buf, size,
                   "segment %u: file size 0x%llx exceeds memory size 0x%llx", i,
                   a, b);
      return;
    case HVB_ELF_SEGMENT_PAST_END:
      hvb_snprintf(buf, size,
                   "segment %u: data at file offset 0x%llx + 0x%llx is past "
                   "the end of the file: truncated image?",
                   i, a, b);
      return;
    case HVB_ELF_SEGMENT_WRAPS:
      hvb_snprintf(buf, size,
                   "segment %u: physical range 0x%llx + 0x%llx wraps around", i,
                   a, b);
      return;
    case HVB_ELF_ENTRY_NOT_EXECUTABLE:
      hvb_snprintf(buf, size,
                   "entry point 0x%llx is in a non-executable segment", a);
      return;
    case HVB_ELF_NOTHING_TO_LOAD:
      hvb_snprintf(buf, size, "no loadable segments");
      return;
    case HVB_ELF_ENTRY_OUTSIDE:
      hvb_snprintf(buf, size,
                   "entry point 0x%llx is not inside any loadable segment", a);
      return;
    case HVB_ELF_SEGMENTS_OVERLAP:
      hvb_snprintf(buf, size, "segments at 0x%llx and 0x%llx overlap", a, b);
      return;
    case HVB_ELF_BELOW_LOAD_MIN:
      hvb_snprintf(buf, size,
                   "segment at 0x%llx overlaps the platform area below "
                   "0x%llx (boot structures and hypercall page); link the "
                   "image at 0x%llx or above",
                   a, (unsigned long long)HVB_GUEST_LOAD_MIN,
                   (unsigned long long)HVB_GUEST_LOAD_MIN);
      return;
    case HVB_ELF_OUTSIDE_RAM:
      hvb_snprintf(buf, size,
                   "segment [0x%llx, 0x%llx) does not fit in guest RAM; give "
                   "the machine more memory",
                   a, a + b);
      return;
  }
  hvb_snprintf(buf, size, "rejected (code %d)", e.code);
}
