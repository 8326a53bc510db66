#include "lib/elf_loader.h"

#include <elf.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"
#include "hvbios/abi/boot.h"

namespace hvbios {
namespace {

absl::Status Invalid(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("guest image: ", what));
}

// a + b without wrapping, or false.
bool AddNoOverflow(uint64_t a, uint64_t b, uint64_t* sum) {
  return !__builtin_add_overflow(a, b, sum);
}

}  // namespace

absl::StatusOr<ElfImage> ParseElf(absl::Span<const uint8_t> file) {
  if (file.empty()) return Invalid("file is empty");
  if (file.size() < SELFMAG || std::memcmp(file.data(), ELFMAG, SELFMAG) != 0) {
    return Invalid("not an ELF file (bad magic)");
  }
  if (file.size() < sizeof(Elf64_Ehdr)) {
    return Invalid("truncated ELF header");
  }
  Elf64_Ehdr ehdr;
  std::memcpy(&ehdr, file.data(), sizeof(ehdr));
  if (ehdr.e_ident[EI_CLASS] != ELFCLASS64) {
    return Invalid("not a 64-bit ELF (32-bit images are not supported)");
  }
  if (ehdr.e_ident[EI_DATA] != ELFDATA2LSB) {
    return Invalid("not a little-endian ELF");
  }
  if (ehdr.e_machine != EM_X86_64) {
    return Invalid(
        absl::StrFormat("not an x86-64 ELF (e_machine %d)", ehdr.e_machine));
  }
  if (ehdr.e_type == ET_DYN) {
    return Invalid(
        "position-independent or shared ELF (ET_DYN); link a static "
        "executable (-static -no-pie)");
  }
  if (ehdr.e_type != ET_EXEC) {
    return Invalid(
        absl::StrFormat("not an executable ELF (e_type %d)", ehdr.e_type));
  }
  if (ehdr.e_phnum == 0) return Invalid("no program headers");
  if (ehdr.e_phentsize != sizeof(Elf64_Phdr)) {
    return Invalid(
        absl::StrFormat("unexpected program header size %d", ehdr.e_phentsize));
  }
  uint64_t ph_end;
  if (!AddNoOverflow(ehdr.e_phoff, uint64_t{ehdr.e_phnum} * sizeof(Elf64_Phdr),
                     &ph_end) ||
      ph_end > file.size()) {
    return Invalid("program headers extend past the end of the file");
  }

  if (ehdr.e_phnum > kMaxProgramHeaders) {
    return Invalid(absl::StrFormat("too many program headers (%d, at most %d)",
                                   ehdr.e_phnum, kMaxProgramHeaders));
  }

  ElfImage image;
  bool entry_found = false;
  for (uint16_t i = 0; i < ehdr.e_phnum; ++i) {
    Elf64_Phdr ph;
    std::memcpy(&ph, file.data() + ehdr.e_phoff + i * sizeof(Elf64_Phdr),
                sizeof(ph));
    if (ph.p_type == PT_INTERP || ph.p_type == PT_DYNAMIC) {
      return Invalid(
          "dynamically linked ELF (has PT_INTERP/PT_DYNAMIC); link a static "
          "executable");
    }
    if (ph.p_type != PT_LOAD || ph.p_memsz == 0) continue;
    uint64_t file_end, mem_end;
    if (ph.p_filesz > ph.p_memsz) {
      return Invalid(
          absl::StrFormat("segment %d: file size 0x%x exceeds memory size 0x%x",
                          i, ph.p_filesz, ph.p_memsz));
    }
    if (!AddNoOverflow(ph.p_offset, ph.p_filesz, &file_end) ||
        file_end > file.size()) {
      return Invalid(absl::StrFormat(
          "segment %d: data at file offset 0x%x + 0x%x is past the end of the "
          "file (%d bytes): truncated image?",
          i, ph.p_offset, ph.p_filesz, file.size()));
    }
    if (!AddNoOverflow(ph.p_paddr, ph.p_memsz, &mem_end)) {
      return Invalid(
          absl::StrFormat("segment %d: physical range 0x%x + 0x%x wraps around",
                          i, ph.p_paddr, ph.p_memsz));
    }
    image.segments.push_back({ph.p_paddr, ph.p_memsz, ph.p_offset, ph.p_filesz,
                              (ph.p_flags & PF_X) != 0});
    // The entry point is a virtual address; translate it through the
    // segment that contains it (identity mapping makes them equal for
    // ordinary images, a higher-half kernel's differ).
    if (ehdr.e_entry >= ph.p_vaddr && ehdr.e_entry - ph.p_vaddr < ph.p_memsz) {
      if ((ph.p_flags & PF_X) == 0) {
        return Invalid(absl::StrFormat(
            "entry point 0x%x is in a non-executable segment", ehdr.e_entry));
      }
      image.entry = ph.p_paddr + (ehdr.e_entry - ph.p_vaddr);
      entry_found = true;
    }
  }
  if (image.segments.empty()) return Invalid("no loadable segments");
  if (!entry_found) {
    return Invalid(absl::StrFormat(
        "entry point 0x%x is not inside any loadable segment", ehdr.e_entry));
  }
  std::sort(image.segments.begin(), image.segments.end(),
            [](const ElfSegment& a, const ElfSegment& b) {
              return a.paddr < b.paddr;
            });
  for (size_t i = 1; i < image.segments.size(); ++i) {
    const ElfSegment& prev = image.segments[i - 1];
    if (prev.paddr + prev.memory_size > image.segments[i].paddr) {
      return Invalid(absl::StrFormat(
          "segments overlap: [0x%x, 0x%x) and [0x%x, 0x%x)", prev.paddr,
          prev.paddr + prev.memory_size, image.segments[i].paddr,
          image.segments[i].paddr + image.segments[i].memory_size));
    }
  }
  return image;
}

absl::Status LoadElf(const ElfImage& image, absl::Span<const uint8_t> file,
                     const GuestMemory& memory) {
  for (const ElfSegment& seg : image.segments) {
    if (seg.paddr < HVB_GUEST_LOAD_MIN) {
      return Invalid(absl::StrFormat(
          "segment at 0x%x overlaps the platform area below 0x%x (boot "
          "structures and hypercall page); link the image at 0x%x or above",
          seg.paddr, HVB_GUEST_LOAD_MIN, HVB_GUEST_LOAD_MIN));
    }
    uint8_t* host = memory.Translate(seg.paddr, seg.memory_size);
    if (host == nullptr) {
      return Invalid(absl::StrFormat(
          "segment [0x%x, 0x%x) does not fit in guest RAM (%d MiB); give the "
          "VM more memory",
          seg.paddr, seg.paddr + seg.memory_size, memory.ram_bytes() >> 20));
    }
  }
  for (const ElfSegment& seg : image.segments) {
    uint8_t* host = memory.Translate(seg.paddr, seg.memory_size);
    std::memcpy(host, file.data() + seg.file_offset, seg.file_size);
    std::memset(host + seg.file_size, 0, seg.memory_size - seg.file_size);
  }
  return absl::OkStatus();
}

}  // namespace hvbios
