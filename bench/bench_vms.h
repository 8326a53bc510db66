// The VMs hvbios-bench measures: raw KVM ones (the floors, no hvbios code
// on their exit paths) and one the library sets up whose vCPU the benchmark
// thread drives.
#ifndef HVBIOS_BENCH_BENCH_VMS_H_
#define HVBIOS_BENCH_BENCH_VMS_H_

#include <linux/kvm.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "hvbios/backend.h"
#include "hvbios/block.h"
#include "hvbios/trace.h"
#include "lib/coarse_clock.h"
#include "lib/services/services.h"
#include "tests/fake_service_context.h"

namespace hvbios::bench {

// The bench's guests: installed next to hvbios-bench, or in the build tree.
std::string GuestPath(absl::string_view name);

// A read-only disk of `bytes` zeros in an already unlinked temporary file.
absl::StatusOr<std::unique_ptr<BlockDevice>> TemporaryDisk(uint64_t bytes);

// A minimal VM made with raw ioctls: a real-mode guest `out 0x10, al;
// jmp $-2` in 64 KiB of RAM, nothing else. Constructing one is the whole of
// a minimal KVM VM's boot (the raw boot case); Exit() is the exit floor.
class RawExitVm {
 public:
  RawExitVm();
  ~RawExitVm();
  RawExitVm(const RawExitVm&) = delete;
  RawExitVm& operator=(const RawExitVm&) = delete;

  bool ok() const { return run_ != nullptr; }
  // One guest exit and back.
  bool Exit();

 private:
  static constexpr size_t kMemSize = 0x10000;
  int kvm_ = -1, vm_ = -1, vcpu_ = -1;
  void* mem_ = nullptr;
  kvm_run* run_ = nullptr;
  int run_size_ = 0;
};

// A VM with the call_loop guest whose vCPU the benchmark thread drives:
// exactly the library's path (Run, Services::Dispatch, CompleteHypercall),
// without the vCPU thread's bookkeeping. The services are the real ones,
// console output discarded, disk 0 a 1 MiB temporary file.
class DrivenVm {
 public:
  DrivenVm() = default;
  ~DrivenVm();
  DrivenVm(const DrivenVm&) = delete;
  DrivenVm& operator=(const DrivenVm&) = delete;

  absl::Status Boot(const std::string& cmdline);
  // One hypercall round trip, recorded into `tracer` if there is one, as
  // a traced VM's vCPU records it; false on anything else.
  bool Step(Tracer* tracer = nullptr);
  // The same vCPU run with bare KVM_RUN ioctls on its own fd and kvm_run
  // mapping, register sync off: the guest's code on raw KVM, no hvbios code
  // on the exit path. Each call is one exit; false on anything but a port
  // write. After the first call, Step() may no longer be used.
  bool RawExit();

  // Declared so that the services go first, then the vCPU and the VM, and
  // the guest memory (in the context) last.
  std::unique_ptr<testing::FakeServiceContext> ctx;
  std::unique_ptr<CoarseClockWord> coarse_clock;  // as VmImpl keeps it
  std::unique_ptr<BackendVm> vm;
  std::unique_ptr<BackendVcpu> vcpu;
  std::unique_ptr<Services> services;

 private:
  int vcpu_fd_ = -1;  // the library's (found in /proc/self/fd), not owned
  kvm_run* raw_run_ = nullptr;
  size_t raw_run_size_ = 0;
};

}  // namespace hvbios::bench

#endif  // HVBIOS_BENCH_BENCH_VMS_H_
