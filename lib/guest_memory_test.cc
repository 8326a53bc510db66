#include "lib/guest_memory.h"

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "lib/layout.h"
#include "tests/test_util.h"

namespace hvbios {
namespace {

constexpr uint64_t kMiB = 1ull << 20;

// The permissions /proc/self/maps gives the page holding `address`
// ("rw-p", "---p", ...), or "" if nothing is mapped there.
std::string PermissionsAt(const void* address) {
  std::ifstream maps("/proc/self/maps");
  const auto target = reinterpret_cast<uintptr_t>(address);
  std::string line;
  while (std::getline(maps, line)) {
    uintptr_t begin = 0, end = 0;
    char perms[5] = {};
    if (std::sscanf(line.c_str(), "%lx-%lx %4s", &begin, &end, perms) == 3 &&
        begin <= target && target < end) {
      return perms;
    }
  }
  return "";
}

TEST(GuestMemoryTest, RamIsFencedByGuardAreas) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<GuestMemory> mem_owner,
                       GuestMemory::Create(6 * kMiB));
  GuestMemory& mem = *mem_owner;
  const uint8_t* first = mem.Translate(0, 1);
  const uint8_t* last = mem.Translate(mem.top() - 1, 1);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(PermissionsAt(first), "rw-p");
  EXPECT_EQ(PermissionsAt(last), "rw-p");
  EXPECT_EQ(PermissionsAt(first - 1), "---p");
  EXPECT_EQ(PermissionsAt(first - GuestMemory::kGuardBytes), "---p");
  EXPECT_EQ(PermissionsAt(last + 1), "---p");
  EXPECT_EQ(PermissionsAt(last + GuestMemory::kGuardBytes), "---p");
}

// The VmFlags line /proc/self/smaps gives the mapping holding `address`.
std::string VmFlagsAt(const void* address) {
  std::ifstream smaps("/proc/self/smaps");
  const auto target = reinterpret_cast<uintptr_t>(address);
  std::string line;
  bool in_target = false;
  while (std::getline(smaps, line)) {
    uintptr_t begin = 0, end = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &begin, &end) == 2) {
      in_target = begin <= target && target < end;
    } else if (in_target && line.rfind("VmFlags:", 0) == 0) {
      return line + " ";
    }
  }
  return "";
}

// KVM can map guest memory with 2 MiB pages only where guest-physical and
// host addresses agree modulo 2 MiB; the first 2 MiB is never a THP.
TEST(GuestMemoryTest, RamIsAlignedForLargePagesButTheFirst2MiBIsSmall) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<GuestMemory> mem,
                       GuestMemory::Create(layout::kLowRamMax + 4 * kMiB));
  for (uint64_t gpa : {uint64_t{0}, 6 * kMiB, layout::kHighRamBase}) {
    const uint8_t* host = mem->Translate(gpa, 1);
    ASSERT_NE(host, nullptr) << gpa;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(host) % (2 * kMiB), gpa % (2 * kMiB))
        << gpa;
  }
  EXPECT_NE(VmFlagsAt(mem->Translate(0, 1)).find(" nh "), std::string::npos)
      << VmFlagsAt(mem->Translate(0, 1));
  const uint8_t* above = mem->Translate(2 * kMiB, 1);
  EXPECT_NE(VmFlagsAt(above), "");
  EXPECT_EQ(VmFlagsAt(above).find(" nh "), std::string::npos)
      << VmFlagsAt(above);
}

TEST(GuestMemoryTest, RejectsBadSizes) {
  for (uint64_t size : {uint64_t{0}, kMiB, 3 * kMiB, 2 * kMiB + 4096,
                        layout::kMaxRam + 2 * kMiB}) {
    EXPECT_EQ(CodeOf(GuestMemory::Create(size)),
              absl::StatusCode::kInvalidArgument)
        << size;
  }
}

TEST(GuestMemoryTest, SmallRamIsOneRegionAtZero) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<GuestMemory> mem_owner,
                       GuestMemory::Create(64 * kMiB));
  GuestMemory& mem = *mem_owner;
  ASSERT_EQ(mem.base_regions().size(), 1u);
  EXPECT_EQ(mem.base_regions()[0].gpa, 0u);
  EXPECT_EQ(mem.base_regions()[0].size, 64 * kMiB);
  EXPECT_EQ(mem.top(), 64 * kMiB);
}

TEST(GuestMemoryTest, LargeRamSkipsTheHoleBelow4GiB) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<GuestMemory> mem_owner,
                       GuestMemory::Create(4 * layout::kGiB));
  GuestMemory& mem = *mem_owner;
  ASSERT_EQ(mem.base_regions().size(), 2u);
  EXPECT_EQ(mem.base_regions()[0].size, 3 * layout::kGiB);
  EXPECT_EQ(mem.base_regions()[1].gpa, 4 * layout::kGiB);
  EXPECT_EQ(mem.base_regions()[1].size, layout::kGiB);
  EXPECT_EQ(mem.Translate(3 * layout::kGiB, 1), nullptr);
  EXPECT_EQ(mem.Translate(3 * layout::kGiB - 1, 2), nullptr);
  EXPECT_NE(mem.Translate(4 * layout::kGiB, 1), nullptr);
  EXPECT_NE(mem.Translate(5 * layout::kGiB - 1, 1), nullptr);
  EXPECT_EQ(mem.Translate(5 * layout::kGiB - 1, 2), nullptr);
}

TEST(GuestMemoryTest, TranslateChecksEveryByteAndNeverWraps) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<GuestMemory> mem_owner,
                       GuestMemory::Create(2 * kMiB));
  GuestMemory& mem = *mem_owner;
  const uint64_t top = 2 * kMiB;
  EXPECT_EQ(mem.Translate(0, top), mem.base_regions()[0].host);
  EXPECT_NE(mem.Translate(top - 1, 1), nullptr);
  EXPECT_EQ(mem.Translate(top - 1, 2), nullptr);
  EXPECT_EQ(mem.Translate(top, 1), nullptr);
  EXPECT_EQ(mem.Translate(0, top + 1), nullptr);
  EXPECT_EQ(mem.Translate(0, 0), nullptr);
  EXPECT_EQ(mem.Translate(UINT64_MAX, 1), nullptr);
  EXPECT_EQ(mem.Translate(UINT64_MAX, 2), nullptr);  // would wrap to 0
  EXPECT_EQ(mem.Translate(1, UINT64_MAX), nullptr);
  EXPECT_EQ(mem.Translate(top - 16, UINT64_MAX - top + 17), nullptr);
}

TEST(GuestMemoryTest, ReadWriteRoundTripAndRefuseOutOfRange) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<GuestMemory> mem_owner,
                       GuestMemory::Create(2 * kMiB));
  GuestMemory& mem = *mem_owner;
  const uint64_t value = 0x1122334455667788;
  ASSERT_TRUE(mem.WriteObject(0x1000, value));
  uint64_t back = 0;
  ASSERT_TRUE(mem.ReadObject(0x1000, &back));
  EXPECT_EQ(back, value);
  EXPECT_FALSE(mem.WriteObject(2 * kMiB - 4, value));
  back = 7;
  EXPECT_FALSE(mem.ReadObject(2 * kMiB - 4, &back));
  EXPECT_EQ(back, 7u);                          // untouched on failure
  EXPECT_TRUE(mem.Read(UINT64_MAX, &back, 0));  // empty copies succeed
}

}  // namespace
}  // namespace hvbios
