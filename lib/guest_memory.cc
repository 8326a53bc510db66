#include "lib/guest_memory.h"

#include <sys/mman.h>

#include <algorithm>
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
      base_(std::move(regions)),
      ram_bytes_(ram_bytes) {
  WriterLock lock(&mu_);
  for (const Region& r : base_) {
    map_.push_back({r.gpa, r.size, HVB_MEM_USABLE, 0});
  }
  base_dirty_.resize(base_.size());
  RebuildSlotsLocked();
}

absl::StatusOr<std::unique_ptr<GuestMemory>> GuestMemory::Create(
    uint64_t ram_bytes) {
  RETURN_IF_ERROR(ValidateSize(ram_bytes));
  // MAP_NORESERVE: the guest touches only what it uses; untouched RAM costs
  // neither RSS nor commit charge. The RAM sits between inaccessible guard
  // areas (at least kGuardBytes each), so a host bug that runs off either
  // end of guest RAM faults at once instead of reading or corrupting a
  // neighbouring mapping.
  //
  // RAM starts on a 2 MiB boundary of the host's address space, so that
  // guest-physical and host-virtual addresses agree in their low 21 bits
  // (both regions: the high one starts at 4 GiB, after a multiple of 2 MiB
  // of low RAM). KVM backs guest memory with host large pages (2 MiB EPT/NPT
  // entries) only in slots aligned so (KVM API, KVM_SET_USER_MEMORY_REGION;
  // kvm_main.c disables large pages on a misaligned slot).
  const uint64_t mapped_bytes =
      ram_bytes + 2 * kGuardBytes + layout::kLargePageSize;
  void* data = ::mmap(nullptr, mapped_bytes, PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (data == MAP_FAILED) {
    return ErrnoStatus(errno, "mmap of guest RAM");
  }
  MappedRegion mapping(data, mapped_bytes);
  const uintptr_t start = reinterpret_cast<uintptr_t>(data) + kGuardBytes;
  auto* host =
      reinterpret_cast<uint8_t*>((start + layout::kLargePageSize - 1) &
                                 ~uintptr_t{layout::kLargePageSize - 1});
  if (::mprotect(host, ram_bytes, PROT_READ | PROT_WRITE) != 0) {
    return ErrnoStatus(errno, "mprotect of guest RAM");
  }
  // The first 2 MiB holds the platform's pages, and all of a small guest:
  // never a transparent huge page, so that a VM that touches a few hundred
  // KiB there costs that, not 2 MiB (Debian's kernels default to THP
  // "always"). Nothing is lost: the guest's own page tables map this range
  // with 4 KiB pages anyway (page 0 absent, platform pages read-only).
  // Best effort: without THP in the kernel, madvise says EINVAL.
  ::madvise(host, layout::kLargePageSize, MADV_NOHUGEPAGE);
  std::vector<Region> regions;
  const uint64_t low = std::min(ram_bytes, layout::kLowRamMax);
  regions.push_back({0, 0, low, host});
  if (ram_bytes > low) {
    regions.push_back({1, layout::kHighRamBase, ram_bytes - low, host + low});
  }
  return std::unique_ptr<GuestMemory>(
      new GuestMemory(std::move(mapping), std::move(regions), ram_bytes));
}

void GuestMemory::SetMemoryMap(std::vector<hvb_mem_region> map) {
  WriterLock lock(&mu_);
  map_ = std::move(map);
}

std::vector<hvb_mem_region> GuestMemory::AddedRegionsMap() const {
  ReaderLock lock(&mu_);
  std::vector<hvb_mem_region> entries;
  for (const auto& a : added_) {
    entries.push_back({a->region.gpa, a->region.size, a->region.type, 0});
  }
  return entries;
}

void GuestMemory::RebuildSlotsLocked() {
  slots_.clear();
  for (const Region& r : base_) {
    slots_.push_back({r.gpa, r.size, r.host, r.id, false});
  }
  for (const auto& a : added_) {
    const NewRegion& r = a->region;
    slots_.push_back({r.gpa, r.size, r.host, a->id, r.read_only});
  }
}

absl::Status GuestMemory::CheckNewRegion(uint64_t gpa, uint64_t size) const {
  ReaderLock lock(&mu_);
  return CheckNewRegionLocked(gpa, size);
}

absl::Status GuestMemory::CheckNewRegionLocked(uint64_t gpa,
                                               uint64_t size) const {
  constexpr uint64_t kPage = layout::kPageSize;
  if (size == 0 || gpa % kPage != 0 || size % kPage != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "region [0x%x, +0x%x): base and size must be non-zero multiples of "
        "4 KiB",
        gpa, size));
  }
  if (gpa >= kMaxAddress || size > kMaxAddress - gpa) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "region [0x%x, +0x%x) goes past the guest-physical limit 0x%x", gpa,
        size, kMaxAddress));
  }
  const uint64_t end = gpa + size;
  if (gpa < layout::kHighRamBase && end > layout::kLowRamMax) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "region [0x%x, 0x%x) reaches into the 3-4 GiB hole (local APIC, "
        "I/O APIC and devices)",
        gpa, end));
  }
  for (const Slot& s : slots_) {
    if (gpa < s.gpa + s.size && s.gpa < end) {
      return absl::InvalidArgumentError(
          absl::StrFormat("region [0x%x, 0x%x) overlaps %s [0x%x, 0x%x)", gpa,
                          end, s.id < base_.size() ? "the VM's RAM" : "region",
                          s.gpa, s.gpa + s.size));
    }
  }
  for (const hvb_mem_region& m : map_) {
    if (gpa < m.base + m.length && m.base < end) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "region [0x%x, 0x%x) overlaps the memory map's [0x%x, 0x%x)", gpa,
          end, m.base, m.base + m.length));
    }
  }
  return absl::OkStatus();
}

absl::Status GuestMemory::AddRegion(uint32_t id, NewRegion region) {
  WriterLock lock(&mu_);
  RETURN_IF_ERROR(CheckNewRegionLocked(region.gpa, region.size));
  auto added = std::make_unique<Added>();
  added->id = id;
  added->region = std::move(region);
  const NewRegion& r = added->region;
  hvb_mem_region entry = {r.gpa, r.size, r.type, 0};
  map_.insert(
      std::upper_bound(map_.begin(), map_.end(), entry,
                       [](const hvb_mem_region& a, const hvb_mem_region& b) {
                         return a.base < b.base;
                       }),
      entry);
  added_.push_back(std::move(added));
  RebuildSlotsLocked();
  ++generation_;
  return absl::OkStatus();
}

GuestMemory::Added* GuestMemory::FindAddedLocked(uint32_t id) const {
  for (const auto& a : added_) {
    if (a->id == id) return a.get();
  }
  return nullptr;
}

absl::Status GuestMemory::RemoveRegion(
    uint32_t id, const std::function<absl::Status()>& before_free) {
  WriterLock lock(&mu_);
  if (id < base_.size()) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "region %d is RAM the VM was created with; it cannot be removed", id));
  }
  Added* a = FindAddedLocked(id);
  if (a == nullptr) {
    return absl::NotFoundError(absl::StrFormat("no region %d", id));
  }
  if (a->pins.load() != 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "region %d holds a block ring the library serves; the guest set "
        "it up there",
        id));
  }
  RETURN_IF_ERROR(before_free());
  if (a->dirty != nullptr) --dirty_logs_;
  map_.erase(std::remove_if(map_.begin(), map_.end(),
                            [&](const hvb_mem_region& m) {
                              return m.base == a->region.gpa &&
                                     m.length == a->region.size;
                            }),
             map_.end());
  added_.erase(std::find_if(added_.begin(), added_.end(),
                            [&](const auto& p) { return p.get() == a; }));
  RebuildSlotsLocked();
  ++generation_;
  return absl::OkStatus();
}

void GuestMemory::Pin(uint64_t gpa,
                      uint64_t length) const ABSL_NO_THREAD_SAFETY_ANALYSIS {
  for (const auto& a : added_) {
    const NewRegion& r = a->region;
    if (gpa < r.gpa + r.size && r.gpa < gpa + length) a->pins.fetch_add(1);
  }
}

absl::StatusOr<GuestMemory::Region> GuestMemory::FindRegion(uint32_t id) const {
  ReaderLock lock(&mu_);
  for (const Slot& s : slots_) {
    if (s.id == id) return Region{s.id, s.gpa, s.size, s.host};
  }
  return absl::NotFoundError(absl::StrFormat("no region %d", id));
}

std::atomic<uint64_t>* GuestMemory::DirtyBitsLocked(uint32_t id,
                                                    uint64_t* pages) const {
  for (const Slot& s : slots_) {
    if (s.id != id) continue;
    *pages = s.size / layout::kPageSize;
    if (id < base_.size()) return base_dirty_[id].get();
    return FindAddedLocked(id)->dirty.get();
  }
  return nullptr;
}

absl::Status GuestMemory::StartDirtyLog(uint32_t id) {
  WriterLock lock(&mu_);
  uint64_t pages = 0;
  if (DirtyBitsLocked(id, &pages) != nullptr) {
    return absl::FailedPreconditionError(
        absl::StrFormat("region %d already logs dirty pages", id));
  }
  if (pages == 0)
    return absl::NotFoundError(absl::StrFormat("no region %d", id));
  auto bits = std::make_unique<std::atomic<uint64_t>[]>((pages + 63) / 64);
  for (uint64_t i = 0; i < (pages + 63) / 64; ++i) bits[i] = 0;
  if (id < base_.size()) {
    base_dirty_[id] = std::move(bits);
  } else {
    FindAddedLocked(id)->dirty = std::move(bits);
  }
  ++dirty_logs_;
  return absl::OkStatus();
}

absl::Status GuestMemory::StopDirtyLog(uint32_t id) {
  WriterLock lock(&mu_);
  uint64_t pages = 0;
  if (DirtyBitsLocked(id, &pages) == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrFormat("region %d does not log dirty pages", id));
  }
  if (id < base_.size()) {
    base_dirty_[id].reset();
  } else {
    FindAddedLocked(id)->dirty.reset();
  }
  --dirty_logs_;
  return absl::OkStatus();
}

absl::Status GuestMemory::FetchDirtyLog(
    uint32_t id, std::vector<uint64_t>* bitmap,
    const std::function<absl::Status(std::vector<uint64_t>*)>& fetch_backend) {
  WriterLock lock(&mu_);
  uint64_t pages = 0;
  std::atomic<uint64_t>* bits = DirtyBitsLocked(id, &pages);
  if (bits == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrFormat("region %d does not log dirty pages", id));
  }
  bitmap->assign((pages + 63) / 64, 0);
  RETURN_IF_ERROR(fetch_backend(bitmap));
  for (size_t i = 0; i < bitmap->size(); ++i) {
    (*bitmap)[i] |= bits[i].exchange(0);
  }
  return absl::OkStatus();
}

void GuestMemory::MarkWrittenSlow(uint64_t gpa, uint64_t length) const
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (length == 0) return;
  for (const Slot& s : slots_) {
    if (gpa < s.gpa || gpa - s.gpa >= s.size) continue;
    uint64_t pages = 0;
    std::atomic<uint64_t>* bits = DirtyBitsLocked(s.id, &pages);
    if (bits == nullptr) return;
    const uint64_t first = (gpa - s.gpa) / layout::kPageSize;
    const uint64_t last =
        std::min((gpa - s.gpa + length - 1) / layout::kPageSize, pages - 1);
    for (uint64_t p = first; p <= last; ++p) {
      bits[p / 64].fetch_or(uint64_t{1} << (p % 64));
    }
    return;
  }
}

}  // namespace hvbios
