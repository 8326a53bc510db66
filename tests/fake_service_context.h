// The one test double of what services need from a VM (ServiceContext,
// lib/services/service.h): guest memory, a backend (a fake one that
// records interrupts, or a real one the benchmarks drive), and a record of
// what the services asked of the VM.
#ifndef HVBIOS_TESTS_FAKE_SERVICE_CONTEXT_H_
#define HVBIOS_TESTS_FAKE_SERVICE_CONTEXT_H_

#include <time.h>

#include <optional>
#include <utility>
#include <vector>

#include "hvbios/abi/status.h"
#include "hvbios/internal/mutex.h"
#include "hvbios/vm.h"
#include "lib/clock.h"
#include "lib/guest_memory.h"
#include "lib/services/service.h"
#include "tests/fake_backend.h"

namespace hvbios::testing {

class FakeServiceContext : public ServiceContext {
 public:
  // With `backend` null, the fake backend serves.
  FakeServiceContext(std::unique_ptr<GuestMemory> memory, uint32_t vcpu_count,
                     BackendVm* backend = nullptr)
      : memory_(std::move(memory)),
        backend_override_(backend),
        vcpu_count_(vcpu_count),
        epoch_ns_(ClockNs(CLOCK_MONOTONIC)) {}

  const GuestMemory& memory() const override { return *memory_; }
  GuestMemory& mutable_memory() { return *memory_; }
  FakeBackendVm& fake_backend() { return backend_; }
  BackendVm& backend() override {
    return backend_override_ != nullptr ? *backend_override_ : backend_;
  }
  uint32_t vcpu_count() const override { return vcpu_count_; }
  uint64_t epoch_ns() const override { return epoch_ns_; }

  void RequestExit(const VmExit& exit) override {
    MutexLock lock(&mu_);
    if (!exit_) exit_ = exit;
  }
  std::string CallerRegisters(uint32_t caller) override {
    return absl::StrCat("registers of vCPU ", caller);
  }
  int64_t StartVcpu(uint32_t id, const LongModeEntry& entry) override {
    MutexLock lock(&mu_);
    started_.push_back({id, entry});
    return start_status_;
  }
  void StopVcpu(uint32_t caller) override {
    MutexLock lock(&mu_);
    stopped_.push_back(caller);
  }
  // vCPU `destroyed` (if set) answers NODEV; the others run.
  int64_t VcpuStateOf(uint32_t id) override {
    if (id == destroyed_) return HVB_ERR_NODEV;
    return HVB_VCPU_RUNNING;
  }
  bool VcpuCanTakeEvents(uint32_t id) override {
    return id < vcpu_count_ && id != destroyed_;
  }

  std::optional<VmExit> exit() {
    MutexLock lock(&mu_);
    return exit_;
  }
  std::vector<std::pair<uint32_t, LongModeEntry>> started() {
    MutexLock lock(&mu_);
    return started_;
  }
  std::vector<uint32_t> stopped() {
    MutexLock lock(&mu_);
    return stopped_;
  }
  void set_start_status(int64_t status) {
    MutexLock lock(&mu_);
    start_status_ = status;
  }
  void set_destroyed(uint32_t id) { destroyed_ = id; }

 private:
  std::unique_ptr<GuestMemory> memory_;
  FakeBackendVm backend_;
  BackendVm* const backend_override_;
  const uint32_t vcpu_count_;
  const uint64_t epoch_ns_;
  std::atomic<uint32_t> destroyed_{UINT32_MAX};
  Mutex mu_;
  std::optional<VmExit> exit_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<uint32_t, LongModeEntry>> started_ ABSL_GUARDED_BY(mu_);
  std::vector<uint32_t> stopped_ ABSL_GUARDED_BY(mu_);
  int64_t start_status_ ABSL_GUARDED_BY(mu_) = HVB_OK;
};

}  // namespace hvbios::testing

#endif  // HVBIOS_TESTS_FAKE_SERVICE_CONTEXT_H_
