// vcpu (docs/abi.md 5.6): bringing vCPUs up and down. The checks are
// common/vcpu.c's; the vCPUs' states are the VM's (ServiceContext).
#include "common/vcpu.h"

#include "lib/boot_setup.h"
#include "lib/services/services.h"

namespace hvbios {

template <>
HypercallResult Handle<HVB_FN_VCPU_COUNT>(ServiceCall& call) {
  return Ok(call.ctx.vcpu_count());
}
template <>
HypercallResult Handle<HVB_FN_VCPU_SELF>(ServiceCall& call) {
  return Ok(call.caller);
}
template <>
HypercallResult Handle<HVB_FN_VCPU_START>(ServiceCall& call) {
  const uint64_t id = call.arg[0], rip = call.arg[1], rsp = call.arg[2],
                 arg = call.arg[3], cr3 = call.arg[4];
  const std::vector<hvb_mem_region>& map = call.ctx.memory().memory_map();
  if (const int64_t st =
          hvb_vcpu_check_start(map.data(), static_cast<uint32_t>(map.size()),
                               call.ctx.vcpu_count(), id, rip, rsp, cr3);
      st != HVB_OK) {
    return Error(st);
  }
  const int64_t st = call.ctx.StartVcpu(static_cast<uint32_t>(id),
                                        MakeApEntry(rip, rsp, arg, cr3));
  return st == HVB_OK ? Ok() : Error(st);
}
template <>
HypercallResult Handle<HVB_FN_VCPU_STOP>(ServiceCall& call) {
  // A stopped vCPU has no timer (docs/abi.md 5.6).
  call.services.timers().Cancel(call.caller);
  call.ctx.StopVcpu(call.caller);
  return Ok();
}
template <>
HypercallResult Handle<HVB_FN_VCPU_STATUS>(ServiceCall& call) {
  if (call.arg[0] >= call.ctx.vcpu_count()) return Error(HVB_ERR_NODEV);
  return OkOrError(call.ctx.VcpuStateOf(static_cast<uint32_t>(call.arg[0])));
}

HVB_DEFINE_MODULE(VCPU, "vcpu")

}  // namespace hvbios
