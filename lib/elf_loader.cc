#include "lib/elf_loader.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/elf.h"

namespace hvbios {
namespace {

// The shared check's verdict as this library's error: InvalidArgument with
// the one-line description both platforms give.
absl::Status Invalid(const hvb_elf_error& error) {
  char description[256];
  hvb_elf_describe(error, description, sizeof(description));
  return absl::InvalidArgumentError(absl::StrCat("guest image: ", description));
}

}  // namespace

absl::StatusOr<ElfImage> ParseElf(absl::Span<const uint8_t> file) {
  hvb_elf_image parsed;
  const hvb_elf_error error = hvb_elf_parse(file.data(), file.size(), &parsed);
  if (error.code != HVB_ELF_OK) return Invalid(error);
  ElfImage image;
  image.entry = parsed.entry;
  image.parsed = parsed;
  for (uint32_t i = 0; i < parsed.segment_count; ++i) {
    const hvb_elf_segment& s = parsed.segments[i];
    image.segments.push_back({s.paddr, s.memory_size, s.file_offset,
                              s.file_size, s.executable != 0});
  }
  return image;
}

absl::Status LoadElf(const ElfImage& image, absl::Span<const uint8_t> file,
                     const GuestMemory& memory) {
  std::vector<hvb_ram_range> ram;
  for (const GuestMemory::Region& r : memory.base_regions()) {
    ram.push_back({r.gpa, r.gpa + r.size});
  }
  const hvb_elf_error error = hvb_elf_check_placement(
      &image.parsed, ram.data(), static_cast<uint32_t>(ram.size()));
  if (error.code != HVB_ELF_OK) {
    if (error.code != HVB_ELF_OUTSIDE_RAM) return Invalid(error);
    return absl::InvalidArgumentError(absl::StrCat(
        Invalid(error).message(), " (", memory.ram_bytes() >> 20, " MiB)"));
  }
  // Only the file's bytes are written: guest RAM is fresh anonymous memory,
  // all zero already, so a .bss costs nothing until the guest touches it
  // (an 8 KiB image with a 2 GiB .bss used to cost 2 GiB of host memory).
  for (const ElfSegment& seg : image.segments) {
    std::memcpy(memory.Translate(seg.paddr, seg.memory_size),
                file.data() + seg.file_offset, seg.file_size);
  }
  return absl::OkStatus();
}

}  // namespace hvbios
