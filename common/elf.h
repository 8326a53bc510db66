/*
 * Guest image acceptance (docs/abi.md 2.1), written once for every
 * platform: the host library and the bare-metal firmware both compile
 * common/elf.c. Freestanding C: no allocation, no library.
 */
#ifndef HVBIOS_COMMON_ELF_H_
#define HVBIOS_COMMON_ELF_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* More program headers than any sensible guest has; bounds the memory map
 * and the work done on a hostile image. */
#define HVB_ELF_MAX_PHDRS 32

struct hvb_elf_segment {
  uint64_t paddr;       /* guest-physical load address */
  uint64_t memory_size; /* bytes in memory (>= file_size; the rest zero) */
  uint64_t file_offset;
  uint64_t file_size;
  uint32_t executable;
  uint32_t reserved;
};

struct hvb_elf_image {
  uint64_t entry; /* guest-physical entry point */
  uint32_t segment_count;
  uint32_t reserved;
  /* PT_LOAD segments with a non-zero memory size, sorted by paddr,
   * non-overlapping */
  struct hvb_elf_segment segments[HVB_ELF_MAX_PHDRS];
};

/* Why an image was refused. `index` and the values say where, for the
 * platform's message (hvb_elf_describe). */
enum hvb_elf_error_code {
  HVB_ELF_OK = 0,
  HVB_ELF_EMPTY,
  HVB_ELF_BAD_MAGIC,
  HVB_ELF_TRUNCATED_HEADER,
  HVB_ELF_NOT_64_BIT,
  HVB_ELF_NOT_LITTLE_ENDIAN,
  HVB_ELF_NOT_X86_64,           /* a = e_machine */
  HVB_ELF_POSITION_INDEPENDENT, /* ET_DYN */
  HVB_ELF_NOT_EXECUTABLE,       /* a = e_type */
  HVB_ELF_NO_PROGRAM_HEADERS,
  HVB_ELF_BAD_PHENTSIZE, /* a = e_phentsize */
  HVB_ELF_PHDRS_PAST_END,
  HVB_ELF_TOO_MANY_PHDRS,       /* a = e_phnum */
  HVB_ELF_DYNAMIC,              /* PT_INTERP or PT_DYNAMIC at index */
  HVB_ELF_FILESZ_ABOVE_MEMSZ,   /* index; a = p_filesz, b = p_memsz */
  HVB_ELF_SEGMENT_PAST_END,     /* index; a = p_offset, b = p_filesz */
  HVB_ELF_SEGMENT_WRAPS,        /* index; a = p_paddr, b = p_memsz */
  HVB_ELF_ENTRY_NOT_EXECUTABLE, /* a = e_entry */
  HVB_ELF_NOTHING_TO_LOAD,
  HVB_ELF_ENTRY_OUTSIDE,    /* a = e_entry */
  HVB_ELF_SEGMENTS_OVERLAP, /* a, b = the two segments' paddrs */
  HVB_ELF_BELOW_LOAD_MIN,   /* a = paddr */
  HVB_ELF_OUTSIDE_RAM,      /* a = paddr, b = memory size */
};

struct hvb_elf_error {
  int code; /* enum hvb_elf_error_code */
  uint32_t index;
  uint64_t a, b;
};

/* Parses and checks `file` without touching guest memory: ELF64,
 * little-endian, x86-64, ET_EXEC, static (no PT_INTERP or PT_DYNAMIC), at
 * most HVB_ELF_MAX_PHDRS program headers, PT_LOAD data inside the file,
 * no wrap-around, non-overlapping segments, the entry point inside an
 * executable PT_LOAD segment (translated to its physical address). */
struct hvb_elf_error hvb_elf_parse(const uint8_t *file, uint64_t size,
                                   struct hvb_elf_image *image);

/* A platform's RAM, for placement checks: [base, end). */
struct hvb_ram_range {
  uint64_t base, end;
};

/* Checks that every segment lies at or above HVB_GUEST_LOAD_MIN and
 * entirely inside one of `ram`. */
struct hvb_elf_error hvb_elf_check_placement(const struct hvb_elf_image *image,
                                             const struct hvb_ram_range *ram,
                                             uint32_t ram_count);

/* A one-line description of `error` (without a trailing newline) in
 * `buf`, for the platform's report. */
void hvb_elf_describe(struct hvb_elf_error error, char *buf, uint64_t size);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* HVBIOS_COMMON_ELF_H_ */
