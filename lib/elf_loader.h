// Validating loader for guest images (boot protocol, docs/abi.md): ELF64,
// little-endian, x86-64, ET_EXEC, static; PT_LOAD segments placed at their
// physical addresses.
#ifndef HVBIOS_LIB_ELF_LOADER_H_
#define HVBIOS_LIB_ELF_LOADER_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/elf.h"
#include "lib/guest_memory.h"

namespace hvbios {

// More program headers than any sensible guest has; bounds the memory map.
inline constexpr int kMaxProgramHeaders = HVB_ELF_MAX_PHDRS;

struct ElfSegment {
  uint64_t paddr;        // guest-physical load address
  uint64_t memory_size;  // bytes in memory (>= file_size; the rest is zeroed)
  uint64_t file_offset;
  uint64_t file_size;
  bool executable;
};

struct ElfImage {
  uint64_t entry;                    // guest-physical entry point
  std::vector<ElfSegment> segments;  // sorted by paddr, non-overlapping
  hvb_elf_image parsed;              // the same, as the shared check made it
};

// Parses and checks `file` without touching guest memory, by the rules
// every platform shares (common/elf.c). Every error is an InvalidArgument
// status whose message is one line that names the defect.
absl::StatusOr<ElfImage> ParseElf(absl::Span<const uint8_t> file);

// Checks that every segment lies in RAM at or above HVB_GUEST_LOAD_MIN, then
// copies the segments' file bytes into `memory`, which must be fresh (all
// zero): the rest of each segment (.bss) is left untouched.
absl::Status LoadElf(const ElfImage& image, absl::Span<const uint8_t> file,
                     const GuestMemory& memory);

}  // namespace hvbios

#endif  // HVBIOS_LIB_ELF_LOADER_H_
