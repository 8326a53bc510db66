// Run-time memory on the fake backend: which regions are refused, what
// the backend and the library's view see as regions come and go, the
// boot memory map, and dirty logs of the library's own writes.
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "hvbios/abi/boot.h"
#include "hvbios/vm.h"
#include "lib/guest_memory.h"
#include "lib/layout.h"
#include "tests/elf_builder.h"
#include "tests/fake_backend.h"
#include "tests/test_util.h"

namespace hvbios {
namespace {

using testing::FakeBackendVm;

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kGiB = 1ull << 30;

class VmMemoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto backend = std::make_unique<FakeBackendVm>();
    backend_ = backend.get();
    ASSERT_OK_AND_ASSIGN(
        vm_, Vm::Create(std::move(backend), {.memory_bytes = 64 * kMiB}));
  }
  std::vector<hvb_mem_region> Map() {
    GuestMemory::Access access(vm_->memory());
    return vm_->memory().memory_map();
  }

  FakeBackendVm* backend_ = nullptr;
  std::unique_ptr<Vm> vm_;
};

TEST_F(VmMemoryTest, BadRegionsAreRefusedWithAReason) {
  struct Case {
    MemoryRegionSpec spec;
    const char* why;
  };
  alignas(4096) static uint8_t page[4096];
  const Case cases[] = {
      {{.gpa = 128 * kMiB, .size = 0}, "multiples of 4 KiB"},
      {{.gpa = 128 * kMiB + 1, .size = 4096}, "multiples of 4 KiB"},
      {{.gpa = 128 * kMiB, .size = 4095}, "multiples of 4 KiB"},
      {{.gpa = 32 * kMiB, .size = 64 * kMiB}, "overlaps the VM's RAM"},
      {{.gpa = 3 * kGiB - 4096, .size = 8192}, "hole"},
      {{.gpa = 3 * kGiB + 4096, .size = 4096}, "hole"},
      {{.gpa = 512 * kGiB - 4096, .size = 8192}, "limit"},
      {{.gpa = ~0ull & ~4095ull, .size = 8192}, "limit"},
      {{.gpa = 128 * kMiB, .size = 4096, .host = page + 1}, "aligned"},
      {{.gpa = 128 * kMiB, .size = 4096, .host = page, .fd = 0}, "not both"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<uint32_t> id = vm_->MapMemory(c.spec);
    EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument) << c.why;
    EXPECT_NE(id.status().message().find(c.why), absl::string_view::npos)
        << id.status();
  }
  EXPECT_EQ(backend_->mappings().size(), 1u);  // only the VM's RAM
  EXPECT_EQ(vm_->UnmapMemory(0).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(vm_->UnmapMemory(7).code(), absl::StatusCode::kNotFound);
}

TEST_F(VmMemoryTest, ARegionIsMemoryUntilItIsUnmapped) {
  ASSERT_OK_AND_ASSIGN(uint32_t id,
                       vm_->MapMemory({.gpa = 4 * kGiB, .size = 2 * kMiB}));
  EXPECT_EQ(id, 1u);  // the first id after the VM's RAM
  ASSERT_OK_AND_ASSIGN(uint32_t next,
                       vm_->MapMemory({.gpa = 8 * kGiB, .size = 4096}));
  EXPECT_EQ(next, 2u);
  const auto mappings = backend_->mappings();
  ASSERT_EQ(mappings.size(), 3u);
  EXPECT_EQ(mappings[1].slot, id);
  EXPECT_EQ(mappings[1].gpa, 4 * kGiB);
  EXPECT_EQ(mappings[1].size, 2 * kMiB);
  EXPECT_FALSE(mappings[1].flags.read_only);
  // Fresh memory reads as zeros and takes writes, up to its last byte.
  uint64_t word = 1;
  ASSERT_OK(vm_->ReadGuestMemory(4 * kGiB + 2 * kMiB - 8, &word, 8));
  EXPECT_EQ(word, 0u);
  word = 0x1122334455667788;
  ASSERT_OK(vm_->WriteGuestMemory(4 * kGiB + 8, &word, 8));
  EXPECT_EQ(vm_->ReadGuestMemory(4 * kGiB + 2 * kMiB - 4, &word, 8).code(),
            absl::StatusCode::kOutOfRange);
  // Regions do not overlap each other.
  EXPECT_EQ(vm_->MapMemory({.gpa = 4 * kGiB + kMiB, .size = 2 * kMiB})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);

  ASSERT_OK(vm_->UnmapMemory(id));
  EXPECT_EQ(backend_->mappings().size(), 2u);
  EXPECT_EQ(vm_->ReadGuestMemory(4 * kGiB + 8, &word, 8).code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(vm_->UnmapMemory(id).code(), absl::StatusCode::kNotFound);
  // Its id and its range can be used again.
  ASSERT_OK_AND_ASSIGN(uint32_t again,
                       vm_->MapMemory({.gpa = 4 * kGiB, .size = 4096}));
  EXPECT_EQ(again, id);
  ASSERT_OK(vm_->ReadGuestMemory(4 * kGiB + 8, &word, 8));
  EXPECT_EQ(word, 0u) << "a new region starts zeroed";
}

TEST_F(VmMemoryTest, RegionsMappedBeforeBootAreInTheBootMap) {
  const int fd = memfd_create("shared", 0);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, 3 * 4096), 0);
  ASSERT_OK(
      vm_->MapMemory(
             {.gpa = 5 * kGiB, .size = 2 * 4096, .fd = fd, .fd_offset = 4096})
          .status());
  ASSERT_OK(vm_->MapMemory(
                   {.gpa = 6 * kGiB, .size = 4096, .fd = fd, .read_only = true})
                .status());
  ASSERT_OK(vm_->MapMemory({.gpa = 7 * kGiB, .size = 4096}).status());
  // The region shows the fd's bytes, at the offset given.
  const char kText[] = "device model";
  ASSERT_EQ(pwrite(fd, kText, sizeof(kText), 4096 + 100),
            static_cast<ssize_t>(sizeof(kText)));
  close(fd);
  char seen[sizeof(kText)] = {};
  ASSERT_OK(vm_->ReadGuestMemory(5 * kGiB + 100, seen, sizeof(seen)));
  EXPECT_STREQ(seen, kText);
  EXPECT_TRUE(backend_->mappings()[2].flags.read_only);

  ASSERT_OK(vm_->LoadGuest(testing::ElfBuilder::Simple().Build()));
  std::vector<hvb_mem_region> map = Map();
  auto type_at = [&](uint64_t gpa) -> uint32_t {
    for (const hvb_mem_region& r : map) {
      if (r.base == gpa) return r.type;
    }
    return 0;
  };
  EXPECT_EQ(type_at(5 * kGiB), HVB_MEM_SHARED);
  EXPECT_EQ(type_at(6 * kGiB), HVB_MEM_ROM);
  EXPECT_EQ(type_at(7 * kGiB), HVB_MEM_USABLE);
  for (size_t i = 1; i < map.size(); ++i) {
    EXPECT_LE(map[i - 1].base + map[i - 1].length, map[i].base);
  }
  // Hypercall buffers: shared memory is the guest's, ROM is not.
  GuestMemory::Access access(vm_->memory());
  EXPECT_TRUE(vm_->memory().GuestOwns(5 * kGiB, 4096));
  EXPECT_FALSE(vm_->memory().GuestOwns(6 * kGiB, 16));
  EXPECT_TRUE(vm_->memory().InReadOnlyRegion(6 * kGiB + 8));
  EXPECT_FALSE(vm_->memory().InReadOnlyRegion(5 * kGiB));
}

TEST_F(VmMemoryTest, DirtyLogsHoldTheLibrarysOwnWrites) {
  EXPECT_EQ(vm_->FetchDirtyLog(0).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_OK(vm_->StartDirtyLog(0));
  EXPECT_TRUE(backend_->mappings()[0].flags.log_dirty);
  EXPECT_EQ(vm_->StartDirtyLog(0).code(),
            absl::StatusCode::kFailedPrecondition);
  const uint32_t value = 7;
  ASSERT_OK(vm_->WriteGuestMemory(5 * 4096 + 10, &value, sizeof(value)));
  // Across a page boundary: both pages.
  ASSERT_OK(vm_->WriteGuestMemory(70 * 4096 - 2, &value, sizeof(value)));
  ASSERT_OK_AND_ASSIGN(std::vector<uint64_t> log, vm_->FetchDirtyLog(0));
  ASSERT_EQ(log.size(), (64 * kMiB / 4096) / 64);
  EXPECT_EQ(log[0], uint64_t{1} << 5);
  EXPECT_EQ(log[1], uint64_t{3} << (69 - 64));
  for (size_t i = 2; i < log.size(); ++i) ASSERT_EQ(log[i], 0u) << i;
  uint32_t read = 0;
  ASSERT_OK(vm_->ReadGuestMemory(5 * 4096 + 10, &read, sizeof(read)));
  ASSERT_OK_AND_ASSIGN(log, vm_->FetchDirtyLog(0));
  EXPECT_EQ(log[0], 0u) << "fetching clears; reading dirties nothing";
  ASSERT_OK(vm_->StopDirtyLog(0));
  EXPECT_FALSE(backend_->mappings()[0].flags.log_dirty);
  EXPECT_EQ(vm_->FetchDirtyLog(0).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace hvbios
