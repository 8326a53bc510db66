// Guest RAM: host mappings and checked guest-physical -> host translation.
#ifndef HVBIOS_LIB_GUEST_MEMORY_H_
#define HVBIOS_LIB_GUEST_MEMORY_H_

#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "absl/status/statusor.h"
#include "common/memmap.h"
#include "hvbios/abi/boot.h"
#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#endif
#include "lib/unique_fd.h"

namespace hvbios {

// Owns a VM's RAM. Every access from the host goes through Translate(),
// which accepts a range only if it lies entirely inside one RAM region; the
// checks cannot overflow whatever the guest passes. Buffers a guest names
// in hypercalls go through GuestBuffer(), which also requires them to be
// the guest's own RAM by the memory map (docs/abi.md 3.1): never the
// platform's pages, page 0 or a hole.
//
// Thread-safety: immutable after Create() and SetMemoryMap(); all methods
// may be called from any thread. The bytes themselves are shared with the
// running guest.
class GuestMemory {
 public:
  struct Region {
    uint64_t gpa;
    uint64_t size;
    uint8_t* host;
  };

  // OK if `ram_bytes` is a RAM size Create() accepts.
  static absl::Status ValidateSize(uint64_t ram_bytes);

  // Lays out `ram_bytes` of RAM (a multiple of 2 MiB, within
  // [layout::kMinRam, layout::kMaxRam]) as docs/architecture.md describes,
  // with kGuardBytes of inaccessible host address space on either side.
  static absl::StatusOr<GuestMemory> Create(uint64_t ram_bytes);
  static constexpr uint64_t kGuardBytes = 64 << 10;

  GuestMemory(GuestMemory&&) = default;
  GuestMemory& operator=(GuestMemory&&) = default;

  // Host address of [gpa, gpa + length), or nullptr if any byte of it is
  // outside RAM or the range wraps. length 0 yields nullptr too.
  uint8_t* Translate(uint64_t gpa, uint64_t length) const {
    for (const Region& r : regions_) {
      if (gpa >= r.gpa && length != 0 && length <= r.size &&
          gpa - r.gpa <= r.size - length) {
        return r.host + (gpa - r.gpa);
      }
    }
    return nullptr;
  }

  bool Contains(uint64_t gpa, uint64_t length) const {
    return Translate(gpa, length) != nullptr;
  }

  // The memory map guests see (sorted). Until a guest is loaded, all of
  // RAM is usable. Set before any vCPU runs.
  void SetMemoryMap(std::vector<hvb_mem_region> map) { map_ = std::move(map); }
  const std::vector<hvb_mem_region>& memory_map() const { return map_; }

  // Whether [gpa, gpa + length) is the guest's own RAM (USABLE, BOOT or
  // IMAGE in the memory map), the rule for every buffer a hypercall names.
  bool GuestOwns(uint64_t gpa, uint64_t length) const {
    return hvb_memmap_guest_owns(map_.data(),
                                 static_cast<uint32_t>(map_.size()), gpa,
                                 length) != 0;
  }
  // Host address of a guest buffer that GuestOwns(), or nullptr.
  uint8_t* GuestBuffer(uint64_t gpa, uint64_t length) const {
    return GuestOwns(gpa, length) ? Translate(gpa, length) : nullptr;
  }
  // Writes a struct to a buffer the guest owns; false (nothing written) if
  // it does not.
  template <typename T>
  bool WriteToGuest(uint64_t gpa, const T& value) const {
    static_assert(std::is_trivially_copyable_v<T>);
    uint8_t* dst = GuestBuffer(gpa, sizeof(T));
    if (dst == nullptr) return false;
    std::memcpy(dst, &value, sizeof(T));
    return true;
  }

  // Copies from/to guest RAM; false (and nothing copied) if out of range.
  bool Read(uint64_t gpa, void* dst, uint64_t length) const {
    if (length == 0) return true;
    const uint8_t* src = Translate(gpa, length);
    if (src == nullptr) return false;
    std::memcpy(dst, src, length);
    return true;
  }
  bool Write(uint64_t gpa, const void* src, uint64_t length) const {
    if (length == 0) return true;
    uint8_t* dst = Translate(gpa, length);
    if (dst == nullptr) return false;
    std::memcpy(dst, src, length);
    return true;
  }

  // Copies a whole struct once (guest memory can change under us: callers
  // validate the copy, never the original).
  template <typename T>
  bool ReadObject(uint64_t gpa, T* out) const {
    static_assert(std::is_trivially_copyable_v<T>);
    return Read(gpa, out, sizeof(T));
  }
  template <typename T>
  bool WriteObject(uint64_t gpa, const T& value) const {
    static_assert(std::is_trivially_copyable_v<T>);
    return Write(gpa, &value, sizeof(T));
  }

  // ThreadSanitizer cannot see the guest. Host threads that touch guest
  // RAM on the guest's behalf (a vCPU thread serving a hypercall, an I/O
  // thread serving a ring) are ordered by what the guest does in between:
  // it sees one thread's completion in memory, then asks another thread
  // for more. These two calls state exactly that ordering: a thread that
  // hands control to the guest publishes its writes, a thread that gets
  // control back from it observes them. No-ops outside TSan builds.
  void PublishToGuest() const {
#if defined(__SANITIZE_THREAD__)
    __tsan_release(const_cast<char*>(&tsan_token_));
#endif
  }
  void ObserveGuest() const {
#if defined(__SANITIZE_THREAD__)
    __tsan_acquire(const_cast<char*>(&tsan_token_));
#endif
  }

  const std::vector<Region>& regions() const { return regions_; }
  uint64_t ram_bytes() const { return ram_bytes_; }
  // One past the highest guest-physical RAM address.
  uint64_t top() const { return regions_.back().gpa + regions_.back().size; }

 private:
  GuestMemory(MappedRegion mapping, std::vector<Region> regions,
              uint64_t ram_bytes);

  MappedRegion mapping_;
  std::vector<Region> regions_;
  std::vector<hvb_mem_region> map_;
  uint64_t ram_bytes_;
  char tsan_token_ = 0;  // the guest as TSan's synchronisation object
};

}  // namespace hvbios

#endif  // HVBIOS_LIB_GUEST_MEMORY_H_
