// The clock page's coarse time word (docs/abi.md, "The clock page"): one
// thread per process keeps every registered word at clock.monotonic,
// refreshed every kCoarseClockPeriod, so that guests read the time with a
// single load and no exit.
#ifndef HVBIOS_LIB_COARSE_CLOCK_H_
#define HVBIOS_LIB_COARSE_CLOCK_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace hvbios {

// How often the words are refreshed. A guest sees it in the page
// (coarse_period_ns). 1 ms: Linux's CLOCK_MONOTONIC_COARSE ticks every
// 1-4 ms; one wake-up per millisecond serves every VM of the process.
inline constexpr absl::Duration kCoarseClockPeriod = absl::Milliseconds(1);

class CoarseClockWord {
 public:
  // Keeps `*word` at CLOCK_MONOTONIC minus `epoch_ns` (the VM's
  // clock.monotonic), stored with single 8-byte writes, never decreasing,
  // until the returned object is destroyed; after its destructor returns,
  // `word` is not written again. ResourceExhausted if the thread cannot be
  // started. `word` must be 8-byte aligned and outlive the registration.
  static absl::StatusOr<std::unique_ptr<CoarseClockWord>> Register(
      uint64_t* word, uint64_t epoch_ns);
  ~CoarseClockWord();

  CoarseClockWord(const CoarseClockWord&) = delete;
  CoarseClockWord& operator=(const CoarseClockWord&) = delete;

 private:
  CoarseClockWord(uint64_t* word, uint64_t epoch_ns)
      : word_(word), epoch_ns_(epoch_ns) {}
  friend class CoarseClockTicker;
  uint64_t* const word_;
  const uint64_t epoch_ns_;
};

}  // namespace hvbios

#endif  // HVBIOS_LIB_COARSE_CLOCK_H_
