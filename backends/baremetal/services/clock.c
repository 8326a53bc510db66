/* clock (docs/abi.md 5.3): both clocks on the TSC (time.c). */
#include "firmware.h"
#include "services/services.h"

struct fw_result fw_clock_monotonic(const uint64_t *args) {
  (void)args;
  return fw_ok(clock_monotonic_ns());
}
struct fw_result fw_clock_wallclock(const uint64_t *args) {
  (void)args;
  return fw_ok(clock_wall_ns());
}
