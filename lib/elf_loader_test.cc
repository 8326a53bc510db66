#include "lib/elf_loader.h"

#include <elf.h>
#include <sys/mman.h>

#include "gtest/gtest.h"
#include "tests/elf_builder.h"
#include "tests/test_util.h"

namespace hvbios {
namespace {

using testing::ElfBuilder;
using testing::TestSegment;

// The parse error message for `bytes`, or "" if it parses.
std::string ParseError(const std::vector<uint8_t>& bytes) {
  absl::StatusOr<ElfImage> image = ParseElf(bytes);
  if (image.ok()) return "";
  EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(image.status().message()).find('\n'), std::string::npos)
      << "messages are one line";
  return std::string(image.status().message());
}

TEST(ParseElfTest, AcceptsAStaticExecutable) {
  ElfBuilder b = ElfBuilder::Simple(0x200000, {0x90, 0xf4});
  b.Add({.paddr = 0x300000,
         .vaddr = 0,
         .data = {1, 2, 3},
         .memory_size = 0x2000,
         .flags = PF_R | PF_W});
  ASSERT_OK_AND_ASSIGN(ElfImage image, ParseElf(b.Build()));
  EXPECT_EQ(image.entry, 0x200000u);
  ASSERT_EQ(image.segments.size(), 2u);
  EXPECT_TRUE(image.segments[0].executable);
  EXPECT_EQ(image.segments[1].memory_size, 0x2000u);
  EXPECT_EQ(image.segments[1].file_size, 3u);
}

TEST(ParseElfTest, TranslatesAHigherHalfEntry) {
  ElfBuilder b;
  b.header().e_entry = 0xffffffff80100010;
  b.Add({.paddr = 0x100000,
         .vaddr = 0xffffffff80100000,
         .data = std::vector<uint8_t>(32, 0x90),
         .memory_size = 0});
  ASSERT_OK_AND_ASSIGN(ElfImage image, ParseElf(b.Build()));
  EXPECT_EQ(image.entry, 0x100010u);
}

TEST(ParseElfTest, RejectsWhatIsNotAStaticX8664Executable) {
  EXPECT_NE(ParseError({}).find("empty"), std::string::npos);
  EXPECT_NE(ParseError({'M', 'Z', 0, 0, 0, 0}).find("bad magic"),
            std::string::npos);
  std::vector<uint8_t> good = ElfBuilder::Simple().Build();
  EXPECT_NE(ParseError({good.begin(), good.begin() + 20}).find("truncated"),
            std::string::npos);

  ElfBuilder b32 = ElfBuilder::Simple();
  b32.header().e_ident[EI_CLASS] = ELFCLASS32;
  EXPECT_NE(ParseError(b32.Build()).find("32-bit"), std::string::npos);

  ElfBuilder be = ElfBuilder::Simple();
  be.header().e_ident[EI_DATA] = ELFDATA2MSB;
  EXPECT_NE(ParseError(be.Build()).find("little-endian"), std::string::npos);

  ElfBuilder arm = ElfBuilder::Simple();
  arm.header().e_machine = EM_AARCH64;
  EXPECT_NE(ParseError(arm.Build()).find("x86-64"), std::string::npos);

  ElfBuilder pie = ElfBuilder::Simple();
  pie.header().e_type = ET_DYN;
  EXPECT_NE(ParseError(pie.Build()).find("ET_DYN"), std::string::npos);

  ElfBuilder rel = ElfBuilder::Simple();
  rel.header().e_type = ET_REL;
  EXPECT_NE(ParseError(rel.Build()).find("not an executable"),
            std::string::npos);

  ElfBuilder interp = ElfBuilder::Simple();
  interp.Add({.paddr = 0,
              .vaddr = 0,
              .data = {'/', 0},
              .memory_size = 0,
              .type = PT_INTERP});
  EXPECT_NE(ParseError(interp.Build()).find("dynamically linked"),
            std::string::npos);
}

TEST(ParseElfTest, RejectsMalformedProgramHeaders) {
  ElfBuilder none;
  EXPECT_NE(ParseError(none.Build()).find("no program headers"),
            std::string::npos);

  ElfBuilder size = ElfBuilder::Simple();
  size.header().e_phentsize = 32;
  EXPECT_NE(ParseError(size.Build()).find("program header size"),
            std::string::npos);

  ElfBuilder past = ElfBuilder::Simple();
  past.header().e_phoff = 1ull << 40;
  EXPECT_NE(ParseError(past.Build()).find("past the end"), std::string::npos);

  ElfBuilder wrap = ElfBuilder::Simple();
  wrap.header().e_phoff = UINT64_MAX - 8;
  EXPECT_NE(ParseError(wrap.Build()).find("past the end"), std::string::npos);

  ElfBuilder many = ElfBuilder::Simple();
  for (int i = 0; i < kMaxProgramHeaders; ++i) {
    many.Add({.paddr = 0x200000 + i * 0x1000u,
              .vaddr = 0,
              .data = {1},
              .memory_size = 0});
  }
  EXPECT_NE(ParseError(many.Build()).find("too many"), std::string::npos);
}

TEST(ParseElfTest, RejectsBadSegments) {
  std::vector<uint8_t> truncated =
      ElfBuilder::Simple(0x100000, std::vector<uint8_t>(0x3000, 0x90)).Build();
  truncated.resize(0x2000);
  EXPECT_NE(ParseError(truncated).find("truncated"), std::string::npos);

  ElfBuilder bss = ElfBuilder::Simple();
  bss.Add({.paddr = 0x200000, .vaddr = 0, .data = {1, 2, 3}, .memory_size = 0});
  std::vector<uint8_t> bytes = bss.Build();
  // Make the second segment's file size exceed its memory size.
  auto* ph = reinterpret_cast<Elf64_Phdr*>(bytes.data() + sizeof(Elf64_Ehdr) +
                                           sizeof(Elf64_Phdr));
  ph->p_memsz = 1;
  EXPECT_NE(ParseError(bytes).find("exceeds memory size"), std::string::npos);

  ElfBuilder wraps = ElfBuilder::Simple();
  wraps.Add({.paddr = UINT64_MAX - 0x10,
             .vaddr = 0,
             .data = {1},
             .memory_size = 0x100});
  EXPECT_NE(ParseError(wraps.Build()).find("wraps"), std::string::npos);

  ElfBuilder overlap =
      ElfBuilder::Simple(0x100000, std::vector<uint8_t>(0x2000, 0x90));
  overlap.Add({.paddr = 0x101000, .vaddr = 0, .data = {1}, .memory_size = 0});
  EXPECT_NE(ParseError(overlap.Build()).find("overlap"), std::string::npos);

  ElfBuilder outside = ElfBuilder::Simple();
  outside.header().e_entry = 0x500000;
  EXPECT_NE(ParseError(outside.Build()).find("not inside"), std::string::npos);

  ElfBuilder noexec;
  noexec.Add({.paddr = 0x100000,
              .vaddr = 0,
              .data = {0xf4},
              .memory_size = 0,
              .flags = PF_R | PF_W});
  EXPECT_NE(ParseError(noexec.Build()).find("non-executable"),
            std::string::npos);

  ElfBuilder notload;
  notload.Add({.paddr = 0x100000,
               .vaddr = 0,
               .data = {1},
               .memory_size = 0,
               .type = PT_NOTE});
  EXPECT_NE(ParseError(notload.Build()).find("no loadable"), std::string::npos);
}

TEST(LoadElfTest, CopiesTheFileBytesIntoFreshMemory) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<GuestMemory> mem_owner,
                       GuestMemory::Create(4 << 20));
  GuestMemory& mem = *mem_owner;
  ElfBuilder b = ElfBuilder::Simple(0x100000, {0xaa, 0xbb});
  b.Add({.paddr = 0x101000,
         .vaddr = 0,
         .data = {0xcc},
         .memory_size = 0x2000,
         .flags = PF_R | PF_W});
  std::vector<uint8_t> bytes = b.Build();
  ASSERT_OK_AND_ASSIGN(ElfImage image, ParseElf(bytes));
  ASSERT_OK(LoadElf(image, bytes, mem));
  const uint8_t* p = mem.Translate(0x100000, 0x3000);
  EXPECT_EQ(p[0], 0xaa);
  EXPECT_EQ(p[1], 0xbb);
  EXPECT_EQ(p[0x1000], 0xcc);
  EXPECT_EQ(p[0x1001], 0);
  EXPECT_EQ(p[0x2fff], 0);
}

// Resident pages of guest RAM, by mincore(2).
size_t ResidentPages(const GuestMemory& mem) {
  size_t resident = 0;
  for (const GuestMemory::Region& r : mem.base_regions()) {
    std::vector<unsigned char> pages(r.size / 4096);
    EXPECT_EQ(mincore(r.host, r.size, pages.data()), 0);
    for (unsigned char page : pages) resident += page & 1;
  }
  return resident;
}

// Guest RAM starts zero: the loader writes what the file holds and leaves
// .bss alone. It used to zero it: 2 GiB of host memory for this image.
TEST(LoadElfTest, AHugeBssCostsNoHostMemory) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<GuestMemory> mem_owner,
                       GuestMemory::Create(4ull << 30));
  GuestMemory& mem = *mem_owner;
  ElfBuilder b = ElfBuilder::Simple(0x100000, std::vector<uint8_t>(8192, 0x90));
  b.Add({.paddr = 0x200000,
         .vaddr = 0,
         .data = {1},
         .memory_size = 2ull << 30,
         .flags = PF_R | PF_W});
  std::vector<uint8_t> bytes = b.Build();
  ASSERT_OK_AND_ASSIGN(ElfImage image, ParseElf(bytes));
  ASSERT_OK(LoadElf(image, bytes, mem));
  EXPECT_LE(ResidentPages(mem), 16u) << "only the pages the file fills";
  EXPECT_EQ(*mem.Translate(0x200000, 1), 1);
}

TEST(LoadElfTest, RejectsSegmentsOutsideTheGuestArea) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<GuestMemory> mem_owner,
                       GuestMemory::Create(4 << 20));
  GuestMemory& mem = *mem_owner;
  for (uint64_t paddr : {uint64_t{0x4000}, uint64_t{0xff000},
                         uint64_t{0x3ff000}, uint64_t{1} << 32}) {
    std::vector<uint8_t> bytes =
        ElfBuilder::Simple(paddr, std::vector<uint8_t>(0x2000, 0x90)).Build();
    ASSERT_OK_AND_ASSIGN(ElfImage image, ParseElf(bytes));
    absl::Status s = LoadElf(image, bytes, mem);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << paddr;
  }
}

}  // namespace
}  // namespace hvbios
