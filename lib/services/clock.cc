// clock (docs/abi.md 5.3). The clock page (5.12) is the boot set-up's.
#include "lib/clock.h"

#include <time.h>

#include "lib/services/services.h"

namespace hvbios {

template <>
HypercallResult Handle<HVB_FN_CLOCK_MONOTONIC>(ServiceCall& call) {
  return Ok(ClockNs(CLOCK_MONOTONIC) - call.ctx.epoch_ns());
}
template <>
HypercallResult Handle<HVB_FN_CLOCK_WALLCLOCK>(ServiceCall&) {
  return Ok(ClockNs(CLOCK_REALTIME));
}

HVB_DEFINE_MODULE(CLOCK, "clock")

}  // namespace hvbios
