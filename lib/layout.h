// The guest-physical layout hvbios builds for a VM (KVM backend). Guests do
// not depend on these numbers: they find every platform structure through
// the boot info and the memory map (docs/abi.md). Documented in
// docs/architecture.md, "Guest-physical layout".
#ifndef HVBIOS_LIB_LAYOUT_H_
#define HVBIOS_LIB_LAYOUT_H_

#include <cstdint>

namespace hvbios::layout {

inline constexpr uint64_t kPageSize = 4096;
inline constexpr uint64_t kLargePageSize = 2ull << 20;
inline constexpr uint64_t kGiB = 1ull << 30;

// Page 0 stays unmapped so that a guest's null dereference faults.
inline constexpr uint64_t kGdt = 0x1000;
inline constexpr uint64_t kBootInfo = 0x2000;  // boot info + map + devices
inline constexpr uint64_t kCmdline = 0x3000;   // one page, NUL-terminated
inline constexpr uint64_t kCmdlineMax = kPageSize - 1;
inline constexpr uint64_t kHypercallPage = 0x4000;
inline constexpr uint64_t kClockPage = 0x5000;
inline constexpr uint64_t kPageTables = 0x10000;
inline constexpr uint64_t kBootStackBottom = 0x70000;
inline constexpr uint64_t kBootStackTop = 0x80000;

// RAM: [0, min(size, 3 GiB)), the rest from 4 GiB up. The gap keeps the
// range where PCs put the local APIC, the I/O APIC and MMIO free of RAM.
inline constexpr uint64_t kLowRamMax = 3 * kGiB;
inline constexpr uint64_t kHighRamBase = 4 * kGiB;

inline constexpr uint64_t kMinRam = kLargePageSize;
inline constexpr uint64_t kMaxRam = 64 * kGiB;

// Page tables (common/page_tables.c): PML4, PDPT, one PD per GiB with RAM,
// a PT for each 2 MiB range that maps unevenly (the first: page 0 absent,
// the platform's pages read-only). 64 GiB of RAM above the hole need 2 +
// 65 + 1 pages of the 96 below the boot stack.
inline constexpr uint64_t kMaxPageDirectories = (kMaxRam + kGiB) / kGiB;
static_assert(kPageTables + (4 + kMaxPageDirectories) * kPageSize <=
              kBootStackBottom);

// GDT selectors installed at entry.
inline constexpr uint16_t kCodeSelector = 0x08;
inline constexpr uint16_t kDataSelector = 0x10;

}  // namespace hvbios::layout

#endif  // HVBIOS_LIB_LAYOUT_H_
