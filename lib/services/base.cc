// base (docs/abi.md 5.1): discovering the platform.
#include "hvbios/version.h"
#include "lib/services/services.h"

namespace hvbios {

template <>
HypercallResult Handle<HVB_FN_BASE_GET_ABI_VERSION>(ServiceCall&) {
  return Ok(HVB_ABI_VERSION);
}
template <>
HypercallResult Handle<HVB_FN_BASE_GET_IMPL_ID>(ServiceCall& call) {
  return Ok(call.ctx.backend().implementation_id());
}
template <>
HypercallResult Handle<HVB_FN_BASE_GET_IMPL_VERSION>(ServiceCall&) {
  return Ok(HVBIOS_IMPLEMENTATION_VERSION);
}
// Never fails: any 64-bit argument is a question with an answer.
template <>
HypercallResult Handle<HVB_FN_BASE_PROBE>(ServiceCall& call) {
  return Ok(call.services.Implemented(call.arg[0]) ? 1 : 0);
}

HVB_DEFINE_MODULE(BASE, "base")

}  // namespace hvbios
