// What the fuzz targets share: an in-memory disk, and the check that a
// status is one the ABI defines.
#ifndef HVBIOS_TESTS_FUZZ_FUZZ_UTIL_H_
#define HVBIOS_TESTS_FUZZ_FUZZ_UTIL_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "hvbios/abi/status.h"
#include "hvbios/block.h"
#include "hvbios/internal/mutex.h"

namespace hvbios::fuzz {

// An invariant the target asserts, not a crash the sanitizers find: abort
// with a message, which libFuzzer reports (and saves the input).
#define FUZZ_CHECK(cond, ...)                                 \
  do {                                                        \
    if (!(cond)) {                                            \
      std::fprintf(stderr, "FUZZ_CHECK failed: " #cond ": "); \
      std::fprintf(stderr, __VA_ARGS__);                      \
      std::fprintf(stderr, "\n");                             \
      std::abort();                                           \
    }                                                         \
  } while (0)

inline bool IsAbiStatus(int64_t status) {
  return status == HVB_OK ||
         (status <= HVB_ERR_NOSYS && status >= HVB_ERR_NOMEM);
}

// A disk in memory, safe for the block service's I/O threads.
class MemoryDisk : public BlockDevice {
 public:
  MemoryDisk(uint64_t bytes, bool read_only, uint8_t fill)
      : bytes_(bytes, fill), read_only_(read_only) {}

  uint64_t size_bytes() const override { return bytes_.size(); }
  bool read_only() const override { return read_only_; }
  absl::Status Read(uint64_t offset, absl::Span<uint8_t> dst) override {
    MutexLock lock(&mu_);
    if (offset > bytes_.size() || dst.size() > bytes_.size() - offset) {
      return absl::OutOfRangeError("past the end");
    }
    std::memcpy(dst.data(), bytes_.data() + offset, dst.size());
    return absl::OkStatus();
  }
  absl::Status Write(uint64_t offset, absl::Span<const uint8_t> src) override {
    FUZZ_CHECK(!read_only_, "a write reached a read-only disk");
    MutexLock lock(&mu_);
    if (offset > bytes_.size() || src.size() > bytes_.size() - offset) {
      return absl::OutOfRangeError("past the end");
    }
    std::memcpy(bytes_.data() + offset, src.data(), src.size());
    return absl::OkStatus();
  }
  absl::Status Flush() override { return absl::OkStatus(); }
  absl::Status Discard(uint64_t offset, uint64_t length) override {
    FUZZ_CHECK(!read_only_, "a discard reached a read-only disk");
    MutexLock lock(&mu_);
    if (offset > bytes_.size() || length > bytes_.size() - offset) {
      return absl::OutOfRangeError("past the end");
    }
    std::memset(bytes_.data() + offset, 0, length);
    return absl::OkStatus();
  }
  std::vector<uint8_t> contents() {
    MutexLock lock(&mu_);
    return bytes_;
  }

 private:
  Mutex mu_;
  std::vector<uint8_t> bytes_ ABSL_GUARDED_BY(mu_);
  const bool read_only_;
};

}  // namespace hvbios::fuzz

#endif  // HVBIOS_TESTS_FUZZ_FUZZ_UTIL_H_
