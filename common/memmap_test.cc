// The memory map and the guest-buffer rule shared by every platform.
#include "common/memmap.h"

#include <vector>

#include "common/page_tables.h"
#include "gtest/gtest.h"

namespace hvbios {
namespace {

// Page 0 reserved, a boot page, two platform pages, usable RAM and an image
// up to 2 MiB, a hole, then usable RAM at 4 GiB.
const std::vector<hvb_mem_region> kMap = {
    {0x0, 0x1000, HVB_MEM_RESERVED, 0},
    {0x1000, 0x3000, HVB_MEM_BOOT, 0},
    {0x4000, 0x2000, HVB_MEM_PLATFORM, 0},
    {0x6000, 0xfa000, HVB_MEM_USABLE, 0},
    {0x100000, 0x2000, HVB_MEM_IMAGE, 0},
    {0x102000, 0xfe000, HVB_MEM_USABLE, 0},
    {0x100000000, 0x200000, HVB_MEM_USABLE, 0},
};

bool Owns(uint64_t base, uint64_t length) {
  return hvb_memmap_guest_owns(kMap.data(), kMap.size(), base, length);
}

TEST(MemmapTest, GuestBuffersMustBeTheGuestsOwnRam) {
  EXPECT_TRUE(Owns(0x1000, 8)) << "boot memory is the guest's";
  EXPECT_TRUE(Owns(0x6000, 0x100000)) << "across usable and image";
  EXPECT_TRUE(Owns(0x1fffff, 1));
  EXPECT_TRUE(Owns(0x100000000, 0x200000));
  EXPECT_FALSE(Owns(0, 8)) << "page 0";
  EXPECT_FALSE(Owns(8, 8)) << "page 0";
  EXPECT_FALSE(Owns(0x4000 + 0x800, 8)) << "the hypercall page";
  EXPECT_FALSE(Owns(0x5000, 72)) << "the clock page";
  EXPECT_FALSE(Owns(0x3ff8, 16)) << "straddles into the platform's";
  EXPECT_FALSE(Owns(0x5ff8, 16)) << "straddles out of the platform's";
  EXPECT_FALSE(Owns(0x1ffff8, 16)) << "runs into the hole";
  EXPECT_FALSE(Owns(0xc0000000, 1)) << "the hole";
  EXPECT_FALSE(Owns(0x100200000, 1)) << "past the top";
  EXPECT_FALSE(Owns(~0ull - 7, 16)) << "wraps";
  EXPECT_FALSE(Owns(0x6000, 0)) << "empty";
}

TEST(MemmapTest, BuildClaimsRamAndMergesNeighbours) {
  const hvb_ram_range ram[] = {{0, 0x200000}, {0x100000000, 0x100200000}};
  std::vector<hvb_memmap_claim> claims = {
      {0x100000, 0x101000, HVB_MEM_IMAGE, 0},
      {0x0, 0x1000, HVB_MEM_RESERVED, 0},
      {0x101000, 0x102000, HVB_MEM_IMAGE, 0},  // adjacent: merges
      {0x4000, 0x6000, HVB_MEM_PLATFORM, 0},
      {0x300000, 0x400000, HVB_MEM_BOOT, 0},  // not RAM: dropped
  };
  hvb_mem_region out[16];
  const int n = hvb_memmap_build(ram, 2, claims.data(), claims.size(), out, 16);
  ASSERT_EQ(n, 7);
  const hvb_mem_region want[] = {
      {0x0, 0x1000, HVB_MEM_RESERVED, 0},
      {0x1000, 0x3000, HVB_MEM_USABLE, 0},
      {0x4000, 0x2000, HVB_MEM_PLATFORM, 0},
      {0x6000, 0xfa000, HVB_MEM_USABLE, 0},
      {0x100000, 0x2000, HVB_MEM_IMAGE, 0},
      {0x102000, 0xfe000, HVB_MEM_USABLE, 0},
      {0x100000000, 0x200000, HVB_MEM_USABLE, 0},
  };
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(out[i].base, want[i].base) << i;
    EXPECT_EQ(out[i].length, want[i].length) << i;
    EXPECT_EQ(out[i].type, want[i].type) << i;
  }
  EXPECT_EQ(hvb_memmap_build(ram, 2, claims.data(), claims.size(), out, 3), -1)
      << "too small an output is refused, not overrun";
}

// Walks the tables for `va`: the physical address and writability, or
// nothing if unmapped.
struct Mapping {
  bool present = false, writable = false;
  uint64_t phys = 0;
};
Mapping Walk(const std::vector<uint64_t>& tables, uint64_t base, uint64_t va) {
  auto entry = [&](uint64_t table, uint64_t index) {
    return tables[(table - base) / 8 + index];
  };
  uint64_t e = entry(base, (va >> 39) & 511);
  if (!(e & 1)) return {};
  e = entry(e & ~0xfffull, (va >> 30) & 511);
  if (!(e & 1)) return {};
  e = entry(e & ~0xfffull, (va >> 21) & 511);
  if (!(e & 1)) return {};
  if (e & 0x80)
    return {true, (e & 2) != 0, (e & ~0x1fffffull) | (va & 0x1fffff)};
  e = entry(e & ~0xfffull, (va >> 12) & 511);
  if (!(e & 1)) return {};
  return {true, (e & 2) != 0, (e & ~0xfffull) | (va & 0xfff)};
}

TEST(PageTablesTest, MapRamByTypeAndNothingElse) {
  const uint64_t base = 0x10000;
  const uint64_t size =
      hvb_page_tables_build(nullptr, base, 1 << 20, kMap.data(), kMap.size());
  // PML4, PDPT, the PDs of GiB 0 and 4, the PT of the first 2 MiB.
  ASSERT_EQ(size, 5u * 4096);
  std::vector<uint64_t> tables(size / 8, 0xdead);
  ASSERT_EQ(hvb_page_tables_build(tables.data(), base, size, kMap.data(),
                                  kMap.size()),
            size);
  std::vector<uint64_t> small(size / 8);
  EXPECT_EQ(hvb_page_tables_build(small.data(), base, size - 1, kMap.data(),
                                  kMap.size()),
            0u)
      << "too little room is refused, not overrun";
  EXPECT_FALSE(Walk(tables, base, 0x10).present) << "page 0";
  const Mapping hc = Walk(tables, base, 0x4010);
  EXPECT_TRUE(hc.present && !hc.writable && hc.phys == 0x4010);
  for (uint64_t va : {0x1000ull, 0x6000ull, 0x100000ull, 0x1fffffull,
                      0x100000000ull, 0x1001ffff8ull}) {
    const Mapping m = Walk(tables, base, va);
    EXPECT_TRUE(m.present && m.writable && m.phys == va) << std::hex << va;
  }
  EXPECT_FALSE(Walk(tables, base, 0x200000).present) << "the hole";
  EXPECT_FALSE(Walk(tables, base, 0x100200000).present) << "past the top";
}

}  // namespace
}  // namespace hvbios
