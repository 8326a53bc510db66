// debug (docs/abi.md 5.5): measuring and checking the call path.
#include "lib/services/services.h"

namespace hvbios {

template <>
HypercallResult Handle<HVB_FN_DEBUG_NULL>(ServiceCall&) {
  return Ok();
}
template <>
HypercallResult Handle<HVB_FN_DEBUG_ECHO>(ServiceCall& call) {
  const uint64_t* a = call.arg;
  return Ok(a[0] ^ a[1] ^ a[2] ^ a[3] ^ a[4] ^ a[5]);
}

HVB_DEFINE_MODULE(DEBUG, "debug")

}  // namespace hvbios
