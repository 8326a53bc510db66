#include "tools/hvbios-run/stack_walk.h"

#include <elf.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"
#include "common/stack_walk.h"

namespace hvbios::run {
namespace {

// A copy of the T at `offset` in `image`, if all of it is there.
template <typename T>
bool ReadAt(absl::Span<const uint8_t> image, uint64_t offset, T* out) {
  if (offset > image.size() || image.size() - offset < sizeof(T)) return false;
  std::memcpy(out, image.data() + offset, sizeof(T));
  return true;
}

}  // namespace

Symbols::Symbols(absl::Span<const uint8_t> image) {
  Elf64_Ehdr eh;
  if (!ReadAt(image, 0, &eh) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_shentsize != sizeof(Elf64_Shdr)) {
    return;
  }
  for (uint32_t i = 0; i < eh.e_shnum; ++i) {
    Elf64_Shdr symtab, strtab;
    if (!ReadAt(image, eh.e_shoff + uint64_t{i} * sizeof(Elf64_Shdr),
                &symtab) ||
        symtab.sh_type != SHT_SYMTAB ||
        symtab.sh_entsize != sizeof(Elf64_Sym) ||
        !ReadAt(image,
                eh.e_shoff + uint64_t{symtab.sh_link} * sizeof(Elf64_Shdr),
                &strtab)) {
      continue;
    }
    for (uint64_t at = 0; at + sizeof(Elf64_Sym) <= symtab.sh_size;
         at += sizeof(Elf64_Sym)) {
      Elf64_Sym sym;
      if (!ReadAt(image, symtab.sh_offset + at, &sym)) break;
      if (ELF64_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_value == 0 ||
          sym.st_name >= strtab.sh_size ||
          strtab.sh_offset + sym.st_name >= image.size()) {
        continue;
      }
      const char* name = reinterpret_cast<const char*>(
          image.data() + strtab.sh_offset + sym.st_name);
      const size_t max =
          std::min<uint64_t>(strtab.sh_size - sym.st_name,
                             image.size() - strtab.sh_offset - sym.st_name);
      functions_.push_back(
          {sym.st_value, sym.st_size, std::string(name, strnlen(name, max))});
    }
  }
  std::sort(
      functions_.begin(), functions_.end(),
      [](const Function& a, const Function& b) { return a.start < b.start; });
}

const Symbols::Function* Symbols::Find(uint64_t address) const {
  auto it = std::upper_bound(
      functions_.begin(), functions_.end(), address,
      [](uint64_t a, const Function& f) { return a < f.start; });
  if (it == functions_.begin()) return nullptr;
  --it;
  if (address - it->start >= std::max<uint64_t>(it->size, 1)) return nullptr;
  return &*it;
}

std::string Symbols::Describe(uint64_t address) const {
  const Function* f = Find(address);
  return f == nullptr ? ""
                      : absl::StrFormat("%s+0x%x", f->name, address - f->start);
}

std::string Symbols::DescribeReturn(uint64_t address) const {
  const Function* f = address == 0 ? nullptr : Find(address - 1);
  return f == nullptr ? ""
                      : absl::StrFormat("%s+0x%x", f->name, address - f->start);
}

std::string DescribeStack(const Registers& regs, const ReadPhysical& read,
                          const Symbols& symbols, int max_frames) {
  // The walk is common/stack_walk.c's, the firmware's too.
  struct Reader {
    const Registers& regs;
    const ReadPhysical& read;
  } reader{regs, read};
  auto read_virtual = [](void* context, uint64_t va, uint64_t* value) -> int {
    const Reader& r = *static_cast<const Reader*>(context);
    const std::optional<uint64_t> gpa =
        TranslateGuestVirtual(r.regs, r.read, va);
    return gpa.has_value() && r.read(*gpa, value) ? 1 : 0;
  };
  std::vector<uint64_t> returns(std::max(max_frames - 1, 1));
  returns.resize(hvb_stack_walk(regs.rsp, regs.rbp, read_virtual, &reader,
                                returns.data(), returns.size()));
  std::string out;
  int frame = 0;
  auto line = [&](uint64_t address, const std::string& name) {
    absl::StrAppendFormat(&out, "  #%d 0x%x %s\n", frame++, address, name);
  };
  const std::string at = symbols.Describe(regs.rip);
  line(regs.rip, at.empty() ? "(not in the guest image)" : at);
  for (size_t i = 0; i < returns.size(); ++i) {
    const std::string name = symbols.DescribeReturn(returns[i]);
    if (name.empty()) {
      if (i == 0) continue;  // nothing named on top: go on with the chain
      break;
    }
    line(returns[i], name);
  }
  return out;
}

}  // namespace hvbios::run
