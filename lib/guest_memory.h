// Guest RAM: host mappings, checked guest-physical -> host translation,
// the guest's memory map, and regions added and removed at run time.
#ifndef HVBIOS_LIB_GUEST_MEMORY_H_
#define HVBIOS_LIB_GUEST_MEMORY_H_

#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <type_traits>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "common/memmap.h"
#include "hvbios/abi/boot.h"
#include "hvbios/internal/mutex.h"
#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
extern "C" void AnnotateIgnoreWritesBegin(const char* file, int line);
extern "C" void AnnotateIgnoreWritesEnd(const char* file, int line);
#endif
#include "lib/unique_fd.h"

namespace hvbios {

// Owns a VM's RAM. Every access from the host goes through Translate(),
// which accepts a range only if it lies entirely inside one region; the
// checks cannot overflow whatever the guest passes. Buffers a guest names
// in hypercalls go through GuestBuffer(), which also requires them to be
// the guest's own RAM by the memory map (docs/abi.md 3.1): never the
// platform's pages, page 0, a hole or a read-only region.
//
// Regions: the RAM the VM was created with (ids 0 and 1: below 3 GiB and
// from 4 GiB), and regions the embedder adds and removes while the guest
// runs (AddRegion / RemoveRegion).
//
// Thread-safety: every method may be called from any thread. Whoever uses
// a host pointer into guest memory, or calls the accessors below, holds an
// Access for as long as it does: adding or removing a region waits for
// every Access to end, so no host thread ever touches memory that is gone.
// The bytes themselves are shared with the running guest.
class GuestMemory {
 public:
  struct Region {
    uint32_t id = 0;  // also the backend's slot
    uint64_t gpa = 0;
    uint64_t size = 0;
    uint8_t* host = nullptr;
  };

  // What an added region is, as AddRegion() takes it.
  struct NewRegion {
    uint64_t gpa = 0;
    uint64_t size = 0;
    uint8_t* host = nullptr;         // its bytes, for as long as it is added
    bool read_only = false;          // the guest can read it only
    uint32_t type = HVB_MEM_USABLE;  // in the guest's memory map
    MappedRegion owned;              // freed when the region goes
  };

  // Shared access to guest memory (see the class comment).
  class ABSL_SCOPED_LOCKABLE Access {
   public:
    explicit Access(const GuestMemory& memory)
        ABSL_SHARED_LOCK_FUNCTION(memory.mu_)
        : lock_(&memory.mu_) {}
    ~Access() ABSL_UNLOCK_FUNCTION() = default;

   private:
    ReaderLock lock_;
  };

  // OK if `ram_bytes` is a RAM size Create() accepts.
  static absl::Status ValidateSize(uint64_t ram_bytes);

  // Lays out `ram_bytes` of RAM (a multiple of 2 MiB, within
  // [layout::kMinRam, layout::kMaxRam]) as docs/architecture.md describes,
  // with kGuardBytes of inaccessible host address space on either side.
  static absl::StatusOr<std::unique_ptr<GuestMemory>> Create(
      uint64_t ram_bytes);
  static constexpr uint64_t kGuardBytes = 64 << 10;

  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;

  // Host address of [gpa, gpa + length), or nullptr if any byte of it is
  // outside one region or the range wraps. length 0 yields nullptr too.
  uint8_t* Translate(uint64_t gpa,
                     uint64_t length) const ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return TranslateIn(slots_, gpa, length);
  }

  // As Translate(), for the RAM the VM was created with only, which never
  // goes away: needs no Access (for the platform's own pages, from callers
  // that hold locks an Access must not be taken under).
  uint8_t* TranslateBase(uint64_t gpa, uint64_t length) const {
    return TranslateIn(base_, gpa, length);
  }

  bool Contains(uint64_t gpa, uint64_t length) const {
    return Translate(gpa, length) != nullptr;
  }

  // Whether `gpa` lies in a read-only region (whose guest writes the
  // hypervisor hands to the host, to be dropped).
  bool InReadOnlyRegion(uint64_t gpa) const ABSL_NO_THREAD_SAFETY_ANALYSIS {
    for (const Slot& r : slots_) {
      if (gpa >= r.gpa && gpa - r.gpa < r.size) return r.read_only;
    }
    return false;
  }

  // The memory map guests see (sorted). Until a guest is loaded, all of
  // RAM is usable. Set once, before any vCPU runs; regions added later
  // join it, removed ones leave it, and each change bumps generation().
  void SetMemoryMap(std::vector<hvb_mem_region> map) ABSL_LOCKS_EXCLUDED(mu_);
  // The map entries of the regions added so far (the boot map includes
  // them).
  std::vector<hvb_mem_region> AddedRegionsMap() const ABSL_LOCKS_EXCLUDED(mu_);
  const std::vector<hvb_mem_region>& memory_map() const
      ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return map_;
  }
  uint64_t generation() const ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return generation_;
  }

  // Whether [gpa, gpa + length) is the guest's own RAM (USABLE, BOOT,
  // IMAGE or SHARED in the memory map), the rule for every buffer a
  // hypercall names.
  bool GuestOwns(uint64_t gpa,
                 uint64_t length) const ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return hvb_memmap_guest_owns(map_.data(),
                                 static_cast<uint32_t>(map_.size()), gpa,
                                 length) != 0;
  }
  // Host address of a guest buffer that GuestOwns(), or nullptr: one the
  // host reads, and one it writes (marking its pages dirty, see
  // StartDirtyLog).
  const uint8_t* GuestBuffer(uint64_t gpa, uint64_t length) const {
    return GuestOwns(gpa, length) ? Translate(gpa, length) : nullptr;
  }
  uint8_t* GuestBufferToWrite(uint64_t gpa, uint64_t length) const {
    if (!GuestOwns(gpa, length)) return nullptr;
    uint8_t* host = Translate(gpa, length);
    if (host != nullptr) MarkWritten(gpa, length);
    return host;
  }
  // Writes a struct to a buffer the guest owns; false (nothing written) if
  // it does not.
  template <typename T>
  bool WriteToGuest(uint64_t gpa, const T& value) const {
    static_assert(std::is_trivially_copyable_v<T>);
    uint8_t* dst = GuestBufferToWrite(gpa, sizeof(T));
    if (dst == nullptr) return false;
    std::memcpy(dst, &value, sizeof(T));
    return true;
  }

  // Copies from/to guest memory (any region); false (and nothing copied)
  // if out of range.
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
    MarkWritten(gpa, length);
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

  // Records that the host wrote [gpa, gpa + length) (for dirty logs; the
  // hypervisor sees only the guest's own writes). Under an Access.
  void MarkWritten(uint64_t gpa,
                   uint64_t length) const ABSL_NO_THREAD_SAFETY_ANALYSIS {
    if (dirty_logs_ != 0) MarkWrittenSlow(gpa, length);
  }

  // Copies of data between guest buffers and the host on the guest's
  // behalf (block reads and writes, random bytes, console bytes): to the
  // guest they are a device's DMA, which may race with anything the guest
  // arranges (a sync read aimed at a buffer a ring is writing to disk, say:
  // two host threads, one buffer). The host copies such bytes once and
  // never acts on them, so those races cannot hurt it; ThreadSanitizer
  // would still report them, as it would the guest's own stores, which it
  // cannot see. Within this scope the thread's memory accesses are hidden
  // from TSan as the guest's are. Keep it around the copy alone.
  class DeviceAccess {
   public:
    DeviceAccess() {
#if defined(__SANITIZE_THREAD__)
      AnnotateIgnoreWritesBegin(__FILE__, __LINE__);
#endif
    }
    ~DeviceAccess() {
#if defined(__SANITIZE_THREAD__)
      AnnotateIgnoreWritesEnd(__FILE__, __LINE__);
#endif
    }
    DeviceAccess(const DeviceAccess&) = delete;
    DeviceAccess& operator=(const DeviceAccess&) = delete;
  };

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

  // The regions the VM was created with (never removed).
  const std::vector<Region>& base_regions() const { return base_; }
  uint64_t ram_bytes() const { return ram_bytes_; }
  // One past the highest guest-physical address of the base RAM.
  uint64_t top() const { return base_.back().gpa + base_.back().size; }

  // Run-time regions (the embedder's). Each takes the exclusive side of
  // the lock: it waits for every Access to end.
  //
  // Adds `region` with id `id`: InvalidArgument if it is empty, not
  // 4 KiB-aligned, beyond the guest-physical limit (kMaxAddress), in the
  // 3-4 GiB hole, or overlaps RAM, a region or an entry of the memory map.
  static constexpr uint64_t kMaxAddress = 1ull << 39;  // 512 GiB
  absl::Status AddRegion(uint32_t id, NewRegion region)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Checks AddRegion() would accept it (without adding).
  absl::Status CheckNewRegion(uint64_t gpa, uint64_t size) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Removes region `id` from the map and from host view; `before_free`
  // runs (lock held, no Access in progress) before its memory is freed,
  // to take it from the hypervisor. NotFound / FailedPrecondition (a base
  // region, or one holding a ring: Pin()).
  absl::Status RemoveRegion(uint32_t id,
                            const std::function<absl::Status()>& before_free)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Keeps the region holding [gpa, +length) from being removed (a ring the
  // library keeps a pointer to lives there). Under an Access.
  void Pin(uint64_t gpa, uint64_t length) const;

  // Dirty-page logs of region `id`: the host's own writes since the last
  // fetch, one bit per 4 KiB page (the hypervisor logs the guest's).
  absl::Status StartDirtyLog(uint32_t id) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status StopDirtyLog(uint32_t id) ABSL_LOCKS_EXCLUDED(mu_);
  // ORs region `id`'s host-written bits into `bitmap` (its pages, rounded
  // up to 64) and clears them; `fetch_backend` (lock held exclusively, no
  // host write in progress) adds the hypervisor's.
  absl::Status FetchDirtyLog(
      uint32_t id, std::vector<uint64_t>* bitmap,
      const std::function<absl::Status(std::vector<uint64_t>*)>& fetch_backend)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The region with `id`, if any (its size, for bitmaps).
  absl::StatusOr<Region> FindRegion(uint32_t id) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // The host address of [gpa, gpa + length) in the one of `regions` (with
  // gpa, size, host) that holds all of it; overflow-safe.
  template <typename Regions>
  static uint8_t* TranslateIn(const Regions& regions, uint64_t gpa,
                              uint64_t length) {
    for (const auto& r : regions) {
      if (gpa >= r.gpa && length != 0 && length <= r.size &&
          gpa - r.gpa <= r.size - length) {
        return r.host + (gpa - r.gpa);
      }
    }
    return nullptr;
  }

  // What Translate() searches: base and added regions alike.
  struct Slot {
    uint64_t gpa;
    uint64_t size;
    uint8_t* host;
    uint32_t id;
    bool read_only;
  };
  struct Added {
    uint32_t id;
    NewRegion region;
    std::atomic<int> pins{0};
    // While logging: one bit per page, set by host writes.
    std::unique_ptr<std::atomic<uint64_t>[]> dirty;
  };

  GuestMemory(MappedRegion mapping, std::vector<Region> regions,
              uint64_t ram_bytes);
  void MarkWrittenSlow(uint64_t gpa, uint64_t length) const;
  void RebuildSlotsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CheckNewRegionLocked(uint64_t gpa, uint64_t size) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  Added* FindAddedLocked(uint32_t id) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Base regions' dirty bits live here too (id 0 and 1).
  std::atomic<uint64_t>* DirtyBitsLocked(uint32_t id, uint64_t* pages) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const MappedRegion mapping_;
  const std::vector<Region> base_;
  const uint64_t ram_bytes_;
  mutable SharedMutex mu_;
  std::vector<Slot> slots_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Added>> added_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<std::atomic<uint64_t>[]>> base_dirty_
      ABSL_GUARDED_BY(mu_);
  int dirty_logs_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<hvb_mem_region> map_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  [[maybe_unused]] char tsan_token_ =
      0;  // the guest as TSan's synchronisation object
};

}  // namespace hvbios

#endif  // HVBIOS_LIB_GUEST_MEMORY_H_
