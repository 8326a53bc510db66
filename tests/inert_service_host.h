// A ServiceHost whose services do nothing observable, for benchmarks and
// tests that exercise the dispatcher's path itself. Subclasses override
// what they measure. (ServiceHost stays pure virtual so that the real
// VmServices can never inherit a silent no-op.)
#ifndef HVBIOS_TESTS_INERT_SERVICE_HOST_H_
#define HVBIOS_TESTS_INERT_SERVICE_HOST_H_

#include "hvbios/abi/hypercall.h"
#include "hvbios/abi/status.h"
#include "lib/hypercall.h"

namespace hvbios::testing {

class InertServiceHost : public ServiceHost {
 public:
  uint32_t implementation_id() const override { return 1; }
  size_t ConsoleWrite(absl::string_view b) override { return b.size(); }
  size_t ConsoleRead(uint8_t*, size_t) override { return 0; }
  uint64_t MonotonicNs() const override { return 0; }
  uint64_t WallclockNs() const override { return 0; }
  void RequestShutdown(uint8_t) override {}
  void RequestReboot() override {}
  uint32_t vcpu_count() const override { return 1; }
  int64_t StartVcpu(uint32_t, const LongModeEntry&) override {
    return HVB_ERR_STATE;
  }
  void StopVcpu(uint32_t) override {}
  int64_t VcpuStatusOf(uint32_t) override { return HVB_VCPU_RUNNING; }
  void SetTimer(uint32_t, uint64_t, uint8_t) override {}
  void CancelTimer(uint32_t) override {}
  int64_t RouteEvent(uint32_t, uint32_t, uint8_t) override { return HVB_OK; }
  void MaskEvent(uint32_t, bool) override {}
  int64_t RaiseEvent(uint32_t, uint8_t) override { return HVB_OK; }
  bool EventSourceExists(uint32_t source) override { return source == 0; }
  BlockDevice* block_device(uint32_t) override { return nullptr; }
  int64_t SetupQueue(uint32_t, uint64_t, uint32_t) override {
    return HVB_ERR_NOMEM;
  }
  size_t RandomBytes(uint8_t*, size_t) override { return 0; }
};

}  // namespace hvbios::testing

#endif  // HVBIOS_TESTS_INERT_SERVICE_HOST_H_
