// A scripted stand-in for a hypervisor, so the core's unit tests run
// anywhere: each fake vCPU replays a list of exits and records what the core
// answered. Not a hypervisor: nothing executes guest code.
#ifndef HVBIOS_TESTS_FAKE_BACKEND_H_
#define HVBIOS_TESTS_FAKE_BACKEND_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "hvbios/backend.h"
#include "hvbios/internal/mutex.h"
#include "lib/services/service.h"

namespace hvbios::testing {

// One step of a script: what the "guest" does on its vCPU thread (write
// guest memory, say), then the exit that ends it.
struct ScriptedExit : VcpuExit {
  std::function<void()> guest_code;  // may be empty
};

// Shared between a test and one fake vCPU.
struct FakeVcpuScript {
  hvbios::Mutex mu;
  // Exits Run() returns in order, each after running its guest_code on the
  // vCPU's thread (under `mu`). Once empty, Run() blocks (like a guest
  // spinning) until kicked, then returns kCanceled.
  std::deque<ScriptedExit> exits ABSL_GUARDED_BY(mu);
  // What CompleteHypercall() received, in order.
  std::vector<HypercallResult> completions ABSL_GUARDED_BY(mu);
  std::optional<LongModeEntry> entry ABSL_GUARDED_BY(mu);
  bool kicked ABSL_GUARDED_BY(mu) = false;
  int runs ABSL_GUARDED_BY(mu) = 0;
  int interrupt_resets ABSL_GUARDED_BY(mu) = 0;
  Registers registers ABSL_GUARDED_BY(mu) = {};
  // What SetGuestDebug() received, in order.
  std::vector<GuestDebug> debug ABSL_GUARDED_BY(mu);

  // The guest runs `guest_code`, then makes hypercall `fid`.
  void AddHypercall(uint64_t fid, std::vector<uint64_t> args = {},
                    std::function<void()> guest_code = {}) {
    ScriptedExit exit = {};
    exit.kind = VcpuExit::Kind::kHypercall;
    exit.hypercall.fid = fid;
    for (size_t i = 0; i < args.size() && i < 6; ++i) {
      exit.hypercall.arg[i] = args[i];
    }
    exit.guest_code = std::move(guest_code);
    hvbios::MutexLock lock(&mu);
    exits.push_back(std::move(exit));
  }
  // The guest completes an instruction under a debugger: a kDebug exit
  // with rip = `rip` (also in `registers`).
  void AddDebugStep(uint64_t rip) {
    ScriptedExit exit = {};
    exit.kind = VcpuExit::Kind::kDebug;
    exit.address = rip;
    exit.guest_code = [this, rip]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      registers.rip = rip;  // Run() holds mu
    };
    hvbios::MutexLock lock(&mu);
    exits.push_back(std::move(exit));
  }
  void AddExit(VcpuExit::Kind kind) {
    VcpuExit exit = {};
    exit.kind = kind;
    hvbios::MutexLock lock(&mu);
    exits.push_back({exit});
  }
  // The guest runs `guest_code`, then rings queue `queue`'s doorbell.
  void AddNotify(uint64_t queue, std::function<void()> guest_code = {}) {
    ScriptedExit exit = {};
    exit.kind = VcpuExit::Kind::kNotify;
    exit.address = queue;
    exit.guest_code = std::move(guest_code);
    hvbios::MutexLock lock(&mu);
    exits.push_back(std::move(exit));
  }
  std::vector<HypercallResult> Completions() {
    hvbios::MutexLock lock(&mu);
    return completions;
  }
};

class FakeBackendVm : public BackendVm {
 public:
  struct Mapping {
    uint32_t slot;
    uint64_t gpa;
    void* host;
    uint64_t size;
    MemoryFlags flags;
  };

  // The script vCPU `id` will follow (created on first use).
  std::shared_ptr<FakeVcpuScript> Script(uint32_t id);
  std::vector<Mapping> mappings() const;

  using BackendVm::MapMemory;
  absl::Status MapMemory(uint32_t slot, uint64_t gpa, void* host, uint64_t size,
                         MemoryFlags flags) override;
  absl::Status UnmapMemory(uint32_t slot) override;
  // The fake logs nothing: only the host's writes show.
  absl::Status GetDirtyLog(uint32_t, absl::Span<uint64_t>) override {
    return absl::OkStatus();
  }
  absl::StatusOr<std::unique_ptr<BackendVcpu>> CreateVcpu(uint32_t id) override;
  void WriteHypercallPage(absl::Span<uint8_t> page) const override;
  absl::Status RaiseInterrupt(uint32_t vcpu_id, uint8_t vector) override;
  // Records the binding; the fake does not watch the eventfd.
  absl::Status BindInterruptFd(int eventfd, uint32_t vcpu_id,
                               uint8_t vector) override {
    hvbios::MutexLock lock(&mu_);
    interrupt_fds_[eventfd] = {vcpu_id, vector};
    return absl::OkStatus();
  }
  absl::Status UnbindInterruptFd(int eventfd) override {
    hvbios::MutexLock lock(&mu_);
    return interrupt_fds_.erase(eventfd) == 1
               ? absl::OkStatus()
               : absl::NotFoundError("not bound");
  }
  std::map<int, std::pair<uint32_t, uint8_t>> interrupt_fds() const {
    hvbios::MutexLock lock(&mu_);
    return interrupt_fds_;
  }
  // Records nothing: the fake's doorbells and io eventfds never fire.
  absl::Status BindIoEventFd(const IoEventFd&) override {
    return absl::OkStatus();
  }
  // Records nothing: the fake's doorbells arrive as kNotify exits.
  absl::Status BindDoorbell(uint32_t, int) override { return absl::OkStatus(); }
  // What RaiseInterrupt() received, in order.
  std::vector<std::pair<uint32_t, uint8_t>> interrupts() const;
  // Room for `n` interrupts, so that recording them allocates nothing.
  void ReserveInterrupts(size_t n) {
    hvbios::MutexLock lock(&mu_);
    interrupts_.reserve(n);
  }
  uint32_t implementation_id() const override { return 1; }
  // As many as set_hardware_breakpoints() said (0 at first).
  uint32_t hardware_breakpoints() override {
    hvbios::MutexLock lock(&mu_);
    return hardware_breakpoints_;
  }
  void set_hardware_breakpoints(uint32_t n) {
    hvbios::MutexLock lock(&mu_);
    hardware_breakpoints_ = n;
  }
  uint64_t tsc_frequency_hz() const override { return 1'000'000'000; }

  // Bytes WriteHypercallPage() fills the page with.
  static constexpr uint8_t kPageFill = 0x5a;

 private:
  mutable hvbios::Mutex mu_;
  std::map<uint32_t, std::shared_ptr<FakeVcpuScript>> scripts_
      ABSL_GUARDED_BY(mu_);
  std::vector<Mapping> mappings_ ABSL_GUARDED_BY(mu_);
  uint32_t hardware_breakpoints_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::pair<uint32_t, uint8_t>> interrupts_ ABSL_GUARDED_BY(mu_);
  std::map<int, std::pair<uint32_t, uint8_t>> interrupt_fds_
      ABSL_GUARDED_BY(mu_);
};

// Waits until the script's vCPU has answered `n` hypercalls.
void AwaitCompletions(FakeVcpuScript& script, size_t n);

// Waits (bounded: 30 s) until the backend has seen `n` interrupts.
bool AwaitInterrupts(FakeBackendVm& backend, size_t n);

}  // namespace hvbios::testing

#endif  // HVBIOS_TESTS_FAKE_BACKEND_H_
