// Builds small ELF images in memory, well-formed or deliberately broken,
// for loader and hvbios-run tests.
#ifndef HVBIOS_TESTS_ELF_BUILDER_H_
#define HVBIOS_TESTS_ELF_BUILDER_H_

#include <elf.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace hvbios::testing {

struct TestSegment {
  uint64_t paddr;
  uint64_t vaddr;  // 0: same as paddr
  std::vector<uint8_t> data;
  uint64_t memory_size;  // 0: data.size()
  uint32_t type = PT_LOAD;
  uint32_t flags = PF_R | PF_X;
};

// An ELF64 x86-64 ET_EXEC with the given segments; the header fields can be
// changed afterwards through header().
class ElfBuilder {
 public:
  ElfBuilder() {
    std::memset(&ehdr_, 0, sizeof(ehdr_));
    std::memcpy(ehdr_.e_ident, ELFMAG, SELFMAG);
    ehdr_.e_ident[EI_CLASS] = ELFCLASS64;
    ehdr_.e_ident[EI_DATA] = ELFDATA2LSB;
    ehdr_.e_ident[EI_VERSION] = EV_CURRENT;
    ehdr_.e_type = ET_EXEC;
    ehdr_.e_machine = EM_X86_64;
    ehdr_.e_version = EV_CURRENT;
    ehdr_.e_entry = 0x100000;
    ehdr_.e_phoff = sizeof(Elf64_Ehdr);
    ehdr_.e_ehsize = sizeof(Elf64_Ehdr);
    ehdr_.e_phentsize = sizeof(Elf64_Phdr);
  }

  ElfBuilder& Add(TestSegment segment) {
    segments_.push_back(std::move(segment));
    return *this;
  }
  Elf64_Ehdr& header() { return ehdr_; }

  // A code segment at `paddr` holding `code`, entry at its start.
  static ElfBuilder Simple(uint64_t paddr = 0x100000,
                           std::vector<uint8_t> code = {0xf4}) {
    ElfBuilder b;
    b.header().e_entry = paddr;
    b.Add({.paddr = paddr,
           .vaddr = 0,
           .data = std::move(code),
           .memory_size = 0});
    return b;
  }

  std::vector<uint8_t> Build() const {
    Elf64_Ehdr ehdr = ehdr_;
    ehdr.e_phnum = static_cast<uint16_t>(segments_.size());
    std::vector<uint8_t> out(sizeof(ehdr) +
                             segments_.size() * sizeof(Elf64_Phdr));
    uint64_t offset = (out.size() + 0xfff) & ~uint64_t{0xfff};
    std::vector<Elf64_Phdr> phdrs;
    for (const TestSegment& s : segments_) {
      Elf64_Phdr ph = {};
      ph.p_type = s.type;
      ph.p_flags = s.flags;
      ph.p_offset = offset;
      ph.p_paddr = s.paddr;
      ph.p_vaddr = s.vaddr != 0 ? s.vaddr : s.paddr;
      ph.p_filesz = s.data.size();
      ph.p_memsz = s.memory_size != 0 ? s.memory_size : s.data.size();
      ph.p_align = 0x1000;
      phdrs.push_back(ph);
      offset += (s.data.size() + 0xfff) & ~uint64_t{0xfff};
    }
    out.resize(offset);
    std::memcpy(out.data(), &ehdr, sizeof(ehdr));
    for (size_t i = 0; i < phdrs.size(); ++i) {
      std::memcpy(out.data() + sizeof(ehdr) + i * sizeof(Elf64_Phdr), &phdrs[i],
                  sizeof(Elf64_Phdr));
      std::memcpy(out.data() + phdrs[i].p_offset, segments_[i].data.data(),
                  segments_[i].data.size());
    }
    return out;
  }

 private:
  Elf64_Ehdr ehdr_;
  std::vector<TestSegment> segments_;
};

}  // namespace hvbios::testing

#endif  // HVBIOS_TESTS_ELF_BUILDER_H_
