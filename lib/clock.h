// Reading the host's clocks in nanoseconds.
#ifndef HVBIOS_LIB_CLOCK_H_
#define HVBIOS_LIB_CLOCK_H_

#include <time.h>

#include <cstdint>

namespace hvbios {

// `clock` (CLOCK_MONOTONIC, CLOCK_REALTIME, ...) in nanoseconds.
inline uint64_t ClockNs(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace hvbios

#endif  // HVBIOS_LIB_CLOCK_H_
