#include "lib/boot_setup.h"

#include <optional>

#include "gtest/gtest.h"
#include "hvbios/abi/hypercall.h"
#include "lib/layout.h"
#include "tests/elf_builder.h"
#include "tests/fake_backend.h"
#include "tests/test_util.h"

namespace hvbios {
namespace {

using testing::ElfBuilder;

struct Mapping {
  uint64_t phys;
  bool writable;
};

// Walks the 4-level tables at `cr3` like the MMU (SDM Vol. 3A, 4.5).
std::optional<Mapping> Walk(const GuestMemory& mem, uint64_t cr3, uint64_t va) {
  uint64_t table = cr3;
  bool writable = true;
  for (int level = 3; level >= 0; --level) {
    uint64_t entry;
    if (!mem.ReadObject(table + ((va >> (12 + 9 * level)) & 511) * 8, &entry)) {
      return std::nullopt;
    }
    if (!(entry & 1)) return std::nullopt;
    writable = writable && (entry & 2);
    const uint64_t frame = entry & 0x000ffffffffff000ull;
    if (level == 1 && (entry & 0x80)) {
      return Mapping{frame + (va & ((2ull << 20) - 1)), writable};
    }
    if (level == 0) return Mapping{frame + (va & 0xfff), writable};
    table = frame;
  }
  return std::nullopt;
}

class BootSetupTest : public ::testing::Test {
 protected:
  void Build(uint64_t ram, BootParams params = {}) {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<GuestMemory> mem_owner,
                         GuestMemory::Create(ram));
    memory_ = std::move(mem_owner);
    bytes_ = ElfBuilder::Simple(0x100000, std::vector<uint8_t>(0x1800, 0x90))
                 .Build();
    ASSERT_OK_AND_ASSIGN(image_, ParseElf(bytes_));
    ASSERT_OK(LoadElf(image_, bytes_, *memory_));
    ASSERT_OK_AND_ASSIGN(
        entry_, BuildBootEnvironment(*memory_, image_, params, backend_));
    ASSERT_TRUE(memory_->ReadObject(entry_.rdi, &info_));
  }
  testing::FakeBackendVm backend_;
  std::unique_ptr<GuestMemory> memory_;
  std::vector<uint8_t> bytes_;
  ElfImage image_;
  LongModeEntry entry_;
  hvb_boot_info info_;
};

TEST_F(BootSetupTest, EntryStateFollowsTheBootProtocol) {
  Build(
      64 << 20,
      {.vcpu_count = 3, .cmdline = "a b=c", .tsc_frequency_hz = 2'000'000'000});
  EXPECT_EQ(entry_.rip, 0x100000u);
  EXPECT_EQ(entry_.rsp % 16, 0u);
  EXPECT_EQ(info_.magic, HVB_BOOT_MAGIC);
  EXPECT_EQ(info_.abi_version, HVB_ABI_VERSION);
  EXPECT_EQ(info_.size, sizeof(hvb_boot_info));
  EXPECT_EQ(info_.vcpu_count, 3u);
  EXPECT_EQ(info_.tsc_frequency_hz, 2'000'000'000u);
  EXPECT_EQ(info_.cmdline_length, 5u);
  EXPECT_STREQ(
      reinterpret_cast<const char*>(memory_->Translate(info_.cmdline, 6)),
      "a b=c");
  EXPECT_EQ(memory_->Translate(info_.hypercall_page, 1)[0],
            testing::FakeBackendVm::kPageFill);
  EXPECT_EQ(info_.device_count, 1u);
}

TEST_F(BootSetupTest, PageTablesIdentityMapRamWithGuards) {
  Build(64 << 20);
  const uint64_t cr3 = entry_.cr3;
  EXPECT_FALSE(Walk(*memory_, cr3, 0).has_value()) << "page 0 is a guard";
  auto hc = Walk(*memory_, cr3, info_.hypercall_page);
  ASSERT_TRUE(hc.has_value());
  EXPECT_EQ(hc->phys, info_.hypercall_page);
  EXPECT_FALSE(hc->writable) << "the hypercall page is read-only";
  for (uint64_t va :
       std::vector<uint64_t>{0x1000, entry_.rdi, entry_.rsp - 8, 0x100000,
                             0x1fffff, 0x200000, (64ull << 20) - 1}) {
    auto m = Walk(*memory_, cr3, va);
    ASSERT_TRUE(m.has_value()) << std::hex << va;
    EXPECT_EQ(m->phys, va);
    EXPECT_TRUE(m->writable) << std::hex << va;
  }
  EXPECT_FALSE(Walk(*memory_, cr3, 64ull << 20).has_value());
}

TEST_F(BootSetupTest, PageTablesSkipTheHoleAndMapHighRam) {
  Build(4 * layout::kGiB);
  EXPECT_TRUE(Walk(*memory_, entry_.cr3, 3 * layout::kGiB - 1).has_value());
  EXPECT_FALSE(Walk(*memory_, entry_.cr3, 3 * layout::kGiB).has_value());
  EXPECT_FALSE(Walk(*memory_, entry_.cr3, 4 * layout::kGiB - 1).has_value());
  auto high = Walk(*memory_, entry_.cr3, 5 * layout::kGiB - 8);
  ASSERT_TRUE(high.has_value());
  EXPECT_EQ(high->phys, 5 * layout::kGiB - 8);
}

TEST_F(BootSetupTest, MemoryMapCoversRamExactlyOnce) {
  Build(4 * layout::kGiB);
  std::vector<hvb_mem_region> map(info_.mem_map_count);
  ASSERT_TRUE(memory_->Read(info_.mem_map, map.data(),
                            map.size() * sizeof(hvb_mem_region)));
  uint64_t total = 0;
  bool image = false, platform = false;
  for (size_t i = 0; i < map.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(map[i].base % 4096, 0u);
    EXPECT_EQ(map[i].length % 4096, 0u);
    EXPECT_GT(map[i].length, 0u);
    if (i > 0) {
      EXPECT_GE(map[i].base, map[i - 1].base + map[i - 1].length);
    }
    EXPECT_TRUE(memory_->Contains(map[i].base, map[i].length));
    total += map[i].length;
    image |= map[i].type == HVB_MEM_IMAGE && map[i].base == 0x100000 &&
             map[i].length == 0x2000;
    platform |=
        map[i].type == HVB_MEM_PLATFORM && map[i].base == info_.hypercall_page;
  }
  EXPECT_EQ(total, 4 * layout::kGiB);
  EXPECT_TRUE(image);
  EXPECT_TRUE(platform);
}

TEST(BootParamsTest, RejectsBadCommandLinesAndVcpuCounts) {
  EXPECT_EQ(ValidateBootParams({.cmdline = std::string(4096, 'x')}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_OK(ValidateBootParams({.cmdline = std::string(4095, 'x')}));
  EXPECT_EQ(ValidateBootParams({.cmdline = std::string("a\0b", 3)}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateBootParams({.vcpu_count = 0}).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace hvbios
