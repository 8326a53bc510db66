// power (docs/abi.md 5.4): the guest leaves the machine.
#include "hvbios/vm.h"
#include "lib/services/services.h"

namespace hvbios {

template <>
HypercallResult Handle<HVB_FN_POWER_SHUTDOWN>(ServiceCall& call) {
  if (call.arg[0] > 255) return Error(HVB_ERR_INVAL);
  call.ctx.RequestExit({.reason = VmExit::Reason::kShutdown,
                        .exit_code = static_cast<int>(call.arg[0])});
  return Ok();
}
template <>
HypercallResult Handle<HVB_FN_POWER_REBOOT>(ServiceCall& call) {
  call.ctx.RequestExit({.reason = VmExit::Reason::kReboot});
  return Ok();
}

HVB_DEFINE_MODULE(POWER, "power")

}  // namespace hvbios
