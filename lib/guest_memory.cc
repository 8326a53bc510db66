#include "lib/guest_memory.h"

#include <sys/mman.h>

#include <cerrno>

#include "absl/strings/str_format.h"
#include "lib/layout.h"
#include "lib/status_macros.h"

namespace hvbios {

absl::Status GuestMemory::ValidateSize(uint64_t ram_bytes) {
  if (ram_bytes < layout::kMinRam || ram_bytes > layout::kMaxRam ||
      ram_bytes % layout::kLargePageSize != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "guest memory must be a multiple of 2 MiB between %d MiB and %d GiB, "
        "got %d bytes",
        layout::kMinRam >> 20, layout::kMaxRam >> 30, ram_bytes));
  }
  return absl::OkStatus();
}

GuestMemory::GuestMemory(MappedRegion mapping, std::vector<Region> regions,
                         uint64_t ram_bytes)
    : mapping_(std::move(mapping)),
      regions_(std::move(regions)),
      ram_bytes_(ram_bytes) {
  for (const Region& r : regions_) {
    map_.push_back({r.gpa, r.size, HVB_MEM_USABLE, 0});
  }
}

absl::StatusOr<GuestMemory> GuestMemory::Create(uint64_t ram_bytes) {
  RETURN_IF_ERROR(ValidateSize(ram_bytes));
  // MAP_NORESERVE: the guest touches only what it uses; untouched RAM costs
  // neither RSS nor commit charge. The RAM sits between two inaccessible
  // guard areas, so a host bug that runs off either end of guest RAM faults
  // at once instead of reading or corrupting a neighbouring mapping.
  const uint64_t mapped_bytes = ram_bytes + 2 * kGuardBytes;
  void* data = ::mmap(nullptr, mapped_bytes, PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (data == MAP_FAILED) {
    return ErrnoStatus(errno, "mmap of guest RAM");
  }
  MappedRegion mapping(data, mapped_bytes);
  auto* host = static_cast<uint8_t*>(data) + kGuardBytes;
  if (::mprotect(host, ram_bytes, PROT_READ | PROT_WRITE) != 0) {
    return ErrnoStatus(errno, "mprotect of guest RAM");
  }
  std::vector<Region> regions;
  const uint64_t low = std::min(ram_bytes, layout::kLowRamMax);
  regions.push_back({0, low, host});
  if (ram_bytes > low) {
    regions.push_back({layout::kHighRamBase, ram_bytes - low, host + low});
  }
  return GuestMemory(std::move(mapping), std::move(regions), ram_bytes);
}

}  // namespace hvbios
