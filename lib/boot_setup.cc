#include "lib/boot_setup.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"
#include "common/boot_info.h"
#include "common/memmap.h"
#include "common/page_tables.h"
#include "hvbios/abi/clock.h"
#include "hvbios/abi/hypercall.h"
#include "hvbios/abi/ring.h"
#include "lib/clock.h"
#include "lib/layout.h"
#include "lib/status_macros.h"

namespace hvbios {
namespace {

using layout::kPageSize;

// The boot info page (common/boot_info.c) holds the struct, the memory map
// and the device list; these bound the map and the list so both fit.
constexpr uint64_t kMaxMemMapEntries = 100;
constexpr uint32_t kMaxDevices = 32;
static_assert(HVB_BOOT_INFO_MAP_OFFSET +
                  kMaxMemMapEntries * sizeof(hvb_mem_region) +
                  kMaxDevices * sizeof(hvb_device) <=
              kPageSize);

// Flat 64-bit code and data descriptors (SDM Vol. 3A, 3.4.5 and 5.2.1):
// base 0, limit 4 GiB, present, DPL 0; code has L=1.
constexpr uint64_t kGdtEntries[] = {
    0,
    0x00af9a000000ffffull,  // 0x08: code, execute/read, 64-bit
    0x00cf92000000ffffull,  // 0x10: data, read/write
};

uint64_t PageAlignDown(uint64_t v) { return v & ~(kPageSize - 1); }
uint64_t PageAlignUp(uint64_t v) { return PageAlignDown(v + kPageSize - 1); }

}  // namespace

LongModeEntry MakeApEntry(uint64_t rip, uint64_t rsp, uint64_t arg,
                          uint64_t cr3) {
  return LongModeEntry{
      .cr3 = cr3 != 0 ? cr3 : layout::kPageTables,  // the PML4 comes first
      .gdt_base = layout::kGdt,
      .gdt_limit = sizeof(kGdtEntries) - 1,
      .code_selector = layout::kCodeSelector,
      .data_selector = layout::kDataSelector,
      .rip = rip,
      .rsp = rsp,
      .rdi = arg,
  };
}

absl::Status ValidateBootParams(const BootParams& params) {
  if (params.cmdline.size() > layout::kCmdlineMax) {
    return absl::InvalidArgumentError(
        absl::StrFormat("command line is %d bytes, at most %d are supported",
                        params.cmdline.size(), layout::kCmdlineMax));
  }
  if (params.cmdline.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("command line contains a NUL byte");
  }
  if (params.vcpu_count == 0) {
    return absl::InvalidArgumentError("a VM needs at least one vCPU");
  }
  return absl::OkStatus();
}

namespace {

// The memory map of `memory` with `claims` added to the platform's own.
std::vector<hvb_mem_region> MapWith(const GuestMemory& memory,
                                    std::vector<hvb_memmap_claim> claims) {
  std::vector<hvb_ram_range> ram;
  for (const GuestMemory::Region& r : memory.base_regions()) {
    ram.push_back({r.gpa, r.gpa + r.size});
  }
  // At most one entry per claim and one usable run around each, per RAM
  // region: enough room whatever the image.
  std::vector<hvb_mem_region> map(2 * (claims.size() + 1) * ram.size());
  const int n =
      hvb_memmap_build(ram.data(), static_cast<uint32_t>(ram.size()),
                       claims.data(), static_cast<uint32_t>(claims.size()),
                       map.data(), static_cast<uint32_t>(map.size()));
  map.resize(n < 0 ? 0 : static_cast<size_t>(n));
  // Regions the embedder added before the guest was loaded: theirs as
  // they are (they overlap nothing, GuestMemory::AddRegion checked).
  for (const hvb_mem_region& added : memory.AddedRegionsMap()) {
    map.insert(
        std::upper_bound(map.begin(), map.end(), added,
                         [](const hvb_mem_region& a, const hvb_mem_region& b) {
                           return a.base < b.base;
                         }),
        added);
  }
  return map;
}

constexpr uint64_t kPageTablesCapacity =
    layout::kBootStackBottom - layout::kPageTables;

}  // namespace

std::vector<hvb_mem_region> BuildMemoryMap(const GuestMemory& memory,
                                           const ElfImage& image) {
  std::vector<hvb_memmap_claim> claims = {
      {0, kPageSize, HVB_MEM_RESERVED, 0},
      {layout::kGdt, layout::kHypercallPage, HVB_MEM_BOOT, 0},
      {layout::kHypercallPage, layout::kClockPage + kPageSize, HVB_MEM_PLATFORM,
       0},
      {layout::kBootStackBottom, layout::kBootStackTop, HVB_MEM_BOOT, 0},
  };
  for (const ElfSegment& seg : image.segments) {
    claims.push_back({PageAlignDown(seg.paddr),
                      PageAlignUp(seg.paddr + seg.memory_size), HVB_MEM_IMAGE,
                      0});
  }
  // The page tables' size depends on the map, and the map claims their
  // space: size them on the map without them (their region would be usable
  // there, mapped read-write all the same), then claim that much.
  const std::vector<hvb_mem_region> draft = MapWith(memory, claims);
  const uint64_t tables =
      hvb_page_tables_build(nullptr, layout::kPageTables, kPageTablesCapacity,
                            draft.data(), static_cast<uint32_t>(draft.size()));
  claims.push_back(
      {layout::kPageTables, layout::kPageTables + tables, HVB_MEM_BOOT, 0});
  return MapWith(memory, std::move(claims));
}

absl::StatusOr<LongModeEntry> BuildBootEnvironment(GuestMemory& memory,
                                                   const ElfImage& image,
                                                   const BootParams& params,
                                                   const BackendVm& backend) {
  RETURN_IF_ERROR(ValidateBootParams(params));
  memory.Write(layout::kGdt, kGdtEntries, sizeof(kGdtEntries));

  uint8_t* hcpage = memory.Translate(layout::kHypercallPage, HVB_HCPAGE_SIZE);
  backend.WriteHypercallPage(absl::MakeSpan(hcpage, HVB_HCPAGE_SIZE));

  std::vector<hvb_mem_region> map = BuildMemoryMap(memory, image);
  if (map.size() > kMaxMemMapEntries) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "guest image: memory map needs %d entries, at most %d fit", map.size(),
        kMaxMemMapEntries));
  }
  if (hvb_page_tables_build(
          memory.Translate(layout::kPageTables, kPageTablesCapacity),
          layout::kPageTables, kPageTablesCapacity, map.data(),
          static_cast<uint32_t>(map.size())) == 0) {
    return absl::InternalError("the boot page tables do not fit their area");
  }
  // From now on the services hold guest buffers to this map.
  memory.SetMemoryMap(map);

  std::vector<uint8_t> read_only(params.disks_read_only.begin(),
                                 params.disks_read_only.end());
  std::vector<hvb_device> devices(kMaxDevices);
  int device_count = hvb_devices_fill(devices.data(), kMaxDevices,
                                      static_cast<uint32_t>(read_only.size()),
                                      read_only.data(), params.net_count);
  if (device_count < 0 ||
      params.vendor_devices.size() > kMaxDevices - device_count) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%d disks, %d network devices and %d devices, more than fit in the "
        "boot info",
        read_only.size(), params.net_count, params.vendor_devices.size()));
  }
  for (const hvb_device& d : params.vendor_devices) devices[device_count++] = d;
  std::memset(memory.Translate(layout::kCmdline, kPageSize), 0, kPageSize);
  memory.Write(layout::kCmdline, params.cmdline.data(), params.cmdline.size());
  // The clock page is filled when the boot vCPU starts (it needs a vCPU's
  // TSC); until then it is zero, which reads as "not valid".
  std::memset(memory.Translate(layout::kClockPage, kPageSize), 0, kPageSize);
  const hvb_boot_params boot = {
      .page_gpa = layout::kBootInfo,
      .hypercall_page = layout::kHypercallPage,
      .clock_page = params.tsc_frequency_hz != 0 ? layout::kClockPage : 0,
      .tsc_frequency_hz = params.tsc_frequency_hz,
      .cmdline = layout::kCmdline,
      .cmdline_length = static_cast<uint32_t>(params.cmdline.size()),
      .vcpu_count = params.vcpu_count,
      .map = map.data(),
      .map_count = static_cast<uint32_t>(map.size()),
      .device_count = static_cast<uint32_t>(device_count),
      .devices = devices.data(),
      .map_generation = memory.generation(),
  };
  if (hvb_boot_info_write(memory.Translate(layout::kBootInfo, kPageSize),
                          &boot) != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "guest image: a memory map of %d entries does not fit the boot info",
        map.size()));
  }

  return MakeApEntry(image.entry, layout::kBootStackTop, layout::kBootInfo,
                     /*cr3=*/0);
}

absl::StatusOr<std::unique_ptr<CoarseClockWord>> PublishClockPage(
    const GuestMemory& memory, BackendVcpu& vcpu, uint64_t tsc_frequency_hz,
    uint64_t epoch_ns, bool coarse_clock) {
  if (tsc_frequency_hz == 0) {
    return absl::FailedPreconditionError("the TSC frequency is unknown");
  }
  // Pair a TSC reading with clock.monotonic: the TSC read between two
  // clock reads, the tightest of three tries, at the midpoint.
  uint64_t best_window = UINT64_MAX, tsc_base = 0, ns_base = 0;
  for (int i = 0; i < 3; ++i) {
    const uint64_t before = ClockNs(CLOCK_MONOTONIC);
    ASSIGN_OR_RETURN(const uint64_t tsc, vcpu.ReadGuestTsc());
    const uint64_t after = ClockNs(CLOCK_MONOTONIC);
    if (after - before < best_window) {
      best_window = after - before;
      tsc_base = tsc;
      ns_base = before + (after - before) / 2 - epoch_ns;
    }
  }
  // The platform's own page, in the RAM the VM was created with: no
  // Access needed (the caller holds the VM's lock, which comes after it).
  auto* live = reinterpret_cast<hvb_clock_page*>(
      memory.TranslateBase(layout::kClockPage, sizeof(hvb_clock_page)));
  hvb_clock_page page =
      hvb_clock_page_make(tsc_frequency_hz, tsc_base, ns_base);
  // The coarse word is kept current from before the page says so; without
  // a ticker thread the page just does not offer it.
  std::unique_ptr<CoarseClockWord> coarse;
  if (coarse_clock) {
    absl::StatusOr<std::unique_ptr<CoarseClockWord>> word =
        CoarseClockWord::Register(const_cast<uint64_t*>(&live->coarse_ns),
                                  epoch_ns);
    if (word.ok()) {
      coarse = *std::move(word);
      page.flags |= HVB_CLOCK_F_COARSE;
      page.coarse_period_ns = absl::ToInt64Nanoseconds(kCoarseClockPeriod);
    }
  }
  hvb_clock_page_publish(live, &page);
  return coarse;
}

}  // namespace hvbios
