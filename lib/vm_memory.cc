// hvbios::Vm's run-time memory: regions an embedder adds and removes, and
// dirty-page logs (docs/architecture.md, "Run-time memory").
#include <sys/mman.h>

#include <cerrno>

#include "absl/strings/str_format.h"
#include "lib/layout.h"
#include "lib/status_macros.h"
#include "lib/threads.h"
#include "lib/vm_impl.h"

namespace hvbios {
namespace {

constexpr uint32_t kMaxRegions = 64;

// The host memory behind `spec`: the embedder's, or a mapping made here.
absl::StatusOr<GuestMemory::NewRegion> HostMemoryFor(
    const MemoryRegionSpec& spec) {
  GuestMemory::NewRegion region;
  region.gpa = spec.gpa;
  region.size = spec.size;
  region.read_only = spec.read_only;
  if (spec.host != nullptr && spec.fd >= 0) {
    return absl::InvalidArgumentError(
        "a region's bytes are at host or in fd, not both");
  }
  if (spec.host != nullptr) {
    if (reinterpret_cast<uintptr_t>(spec.host) % layout::kPageSize != 0) {
      return absl::InvalidArgumentError(
          "a region's host memory must be 4 KiB-aligned");
    }
    region.host = static_cast<uint8_t*>(spec.host);
    region.type = spec.read_only ? HVB_MEM_ROM : HVB_MEM_SHARED;
    return region;
  }
  // Checked before mmap: a size that is not a page multiple would map
  // more than the region.
  if (spec.size == 0 || spec.size % layout::kPageSize != 0 ||
      spec.fd_offset % layout::kPageSize != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "region [0x%x, +0x%x): size and file offset must be multiples of "
        "4 KiB",
        spec.gpa, spec.size));
  }
  const int prot = PROT_READ | (spec.read_only ? 0 : PROT_WRITE);
  void* data = spec.fd >= 0
                   ? ::mmap(nullptr, spec.size, prot, MAP_SHARED, spec.fd,
                            static_cast<off_t>(spec.fd_offset))
                   : ::mmap(nullptr, spec.size, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (data == MAP_FAILED) {
    return ErrnoStatus(errno, spec.fd >= 0 ? "mmap of the region's fd"
                                           : "mmap of a RAM region");
  }
  region.owned = MappedRegion(data, spec.size);
  region.host = static_cast<uint8_t*>(data);
  region.type = spec.read_only ? HVB_MEM_ROM
                : spec.fd >= 0 ? HVB_MEM_SHARED
                               : HVB_MEM_USABLE;
  return region;
}

}  // namespace

absl::StatusOr<uint32_t> VmImpl::MapMemory(const MemoryRegionSpec& spec) {
  RETURN_IF_ERROR(RefuseInsideCallback("Vm::MapMemory"));
  MutexLock layout(&layout_mu_);
  uint32_t id = static_cast<uint32_t>(memory_->base_regions().size());
  while (id < kMaxRegions && (used_region_ids_ >> id & 1) != 0) ++id;
  if (id == kMaxRegions) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("a VM has at most %d memory regions", kMaxRegions));
  }
  RETURN_IF_ERROR(memory_->CheckNewRegion(spec.gpa, spec.size));
  ASSIGN_OR_RETURN(GuestMemory::NewRegion region, HostMemoryFor(spec));
  // The hypervisor first, then the library's view: until the region is in
  // the map, the guest has no reason to use it and hypercalls refuse it.
  RETURN_IF_ERROR(backend_->MapMemory(id, region.gpa, region.host, region.size,
                                      {.read_only = region.read_only}));
  if (absl::Status s = memory_->AddRegion(id, std::move(region)); !s.ok()) {
    (void)backend_->UnmapMemory(id);
    return s;
  }
  used_region_ids_ |= uint64_t{1} << id;
  services_->events().Trigger(HVB_EVENT_SRC_MEMORY_MAP);
  return id;
}

absl::Status VmImpl::UnmapMemory(uint32_t id) {
  RETURN_IF_ERROR(RefuseInsideCallback("Vm::UnmapMemory"));
  MutexLock layout(&layout_mu_);
  // Runs with every host access excluded: after it, the guest cannot
  // reach the memory either, and then it is freed.
  RETURN_IF_ERROR(
      memory_->RemoveRegion(id, [&] { return backend_->UnmapMemory(id); }));
  used_region_ids_ &= ~(uint64_t{1} << id);
  services_->events().Trigger(HVB_EVENT_SRC_MEMORY_MAP);
  return absl::OkStatus();
}

absl::Status VmImpl::StartDirtyLog(uint32_t id) {
  RETURN_IF_ERROR(RefuseInsideCallback("Vm::StartDirtyLog"));
  MutexLock layout(&layout_mu_);
  ASSIGN_OR_RETURN(GuestMemory::Region r, memory_->FindRegion(id));
  RETURN_IF_ERROR(memory_->StartDirtyLog(id));
  const bool read_only = memory_->InReadOnlyRegion(r.gpa);
  if (absl::Status s =
          backend_->MapMemory(id, r.gpa, r.host, r.size,
                              {.read_only = read_only, .log_dirty = true});
      !s.ok()) {
    (void)memory_->StopDirtyLog(id);
    return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint64_t>> VmImpl::FetchDirtyLog(uint32_t id) {
  RETURN_IF_ERROR(RefuseInsideCallback("Vm::FetchDirtyLog"));
  MutexLock layout(&layout_mu_);
  std::vector<uint64_t> bitmap;
  RETURN_IF_ERROR(
      memory_->FetchDirtyLog(id, &bitmap, [&](std::vector<uint64_t>* bits) {
        return backend_->GetDirtyLog(id, absl::MakeSpan(*bits));
      }));
  return bitmap;
}

absl::Status VmImpl::StopDirtyLog(uint32_t id) {
  RETURN_IF_ERROR(RefuseInsideCallback("Vm::StopDirtyLog"));
  MutexLock layout(&layout_mu_);
  ASSIGN_OR_RETURN(GuestMemory::Region r, memory_->FindRegion(id));
  RETURN_IF_ERROR(memory_->StopDirtyLog(id));
  return backend_->MapMemory(
      id, r.gpa, r.host, r.size,
      {.read_only = memory_->InReadOnlyRegion(r.gpa), .log_dirty = false});
}

}  // namespace hvbios
