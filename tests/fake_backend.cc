#include "tests/fake_backend.h"

#include <time.h>

#include <cstring>

#include "hvbios/internal/mutex.h"
#include "lib/clock.h"

namespace hvbios::testing {
namespace {

class FakeBackendVcpu : public BackendVcpu {
 public:
  explicit FakeBackendVcpu(std::shared_ptr<FakeVcpuScript> script)
      : script_(std::move(script)) {}

  absl::Status BindToCurrentThread() override { return absl::OkStatus(); }

  absl::Status ResetInterruptState() override {
    hvbios::MutexLock lock(&script_->mu);
    ++script_->interrupt_resets;
    return absl::OkStatus();
  }

  absl::Status SetEntryState(const LongModeEntry& entry) override {
    hvbios::MutexLock lock(&script_->mu);
    script_->entry = entry;
    script_->registers.rip = entry.rip;
    script_->registers.rsp = entry.rsp;
    script_->registers.rdi = entry.rdi;
    return absl::OkStatus();
  }

  absl::StatusOr<VcpuExit> Run() override {
    hvbios::MutexLock lock(&script_->mu);
    ++script_->runs;
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(script_->mu) {
      return script_->kicked || !script_->exits.empty();
    };
    script_->mu.Await(ready);
    if (script_->kicked) {
      script_->kicked = false;
      VcpuExit exit = {};
      exit.kind = VcpuExit::Kind::kCanceled;
      return exit;
    }
    ScriptedExit exit = std::move(script_->exits.front());
    script_->exits.pop_front();
    if (exit.guest_code) exit.guest_code();
    return static_cast<VcpuExit>(exit);
  }

  void CompleteHypercall(int64_t status, uint64_t value) override {
    hvbios::MutexLock lock(&script_->mu);
    script_->completions.push_back({status, value});
  }

  void Kick() override {
    hvbios::MutexLock lock(&script_->mu);
    script_->kicked = true;
  }

  // A TSC that advances with host time at the fake's 1 GHz.
  absl::StatusOr<uint64_t> ReadGuestTsc() override {
    return ClockNs(CLOCK_MONOTONIC);
  }

  absl::StatusOr<Registers> GetRegisters() override {
    hvbios::MutexLock lock(&script_->mu);
    return script_->registers;
  }

  absl::Status SetRegisters(const Registers& regs) override {
    hvbios::MutexLock lock(&script_->mu);
    Registers& r = script_->registers;
    const Registers control = r;
    r = regs;
    r.cr0 = control.cr0, r.cr2 = control.cr2, r.cr3 = control.cr3;
    r.cr4 = control.cr4, r.efer = control.efer;
    r.cs = control.cs, r.ss = control.ss, r.ds = control.ds;
    r.es = control.es, r.fs = control.fs, r.gs = control.gs;
    r.fs_base = control.fs_base, r.gs_base = control.gs_base;
    return absl::OkStatus();
  }

  absl::Status SetGuestDebug(const GuestDebug& debug) override {
    hvbios::MutexLock lock(&script_->mu);
    script_->debug.push_back(debug);
    return absl::OkStatus();
  }

 private:
  std::shared_ptr<FakeVcpuScript> script_;
};

}  // namespace

std::shared_ptr<FakeVcpuScript> FakeBackendVm::Script(uint32_t id) {
  hvbios::MutexLock lock(&mu_);
  auto& script = scripts_[id];
  if (script == nullptr) script = std::make_shared<FakeVcpuScript>();
  return script;
}

std::vector<FakeBackendVm::Mapping> FakeBackendVm::mappings() const {
  hvbios::MutexLock lock(&mu_);
  return mappings_;
}

absl::Status FakeBackendVm::MapMemory(uint32_t slot, uint64_t gpa, void* host,
                                      uint64_t size, MemoryFlags flags) {
  hvbios::MutexLock lock(&mu_);
  for (Mapping& m : mappings_) {
    if (m.slot != slot) continue;
    if (m.gpa != gpa || m.size != size || m.host != host) {
      return absl::InvalidArgumentError("slot in use for another range");
    }
    m.flags = flags;
    return absl::OkStatus();
  }
  mappings_.push_back({slot, gpa, host, size, flags});
  return absl::OkStatus();
}

absl::Status FakeBackendVm::UnmapMemory(uint32_t slot) {
  hvbios::MutexLock lock(&mu_);
  for (auto it = mappings_.begin(); it != mappings_.end(); ++it) {
    if (it->slot == slot) {
      mappings_.erase(it);
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError("no such slot");
}

absl::StatusOr<std::unique_ptr<BackendVcpu>> FakeBackendVm::CreateVcpu(
    uint32_t id) {
  return std::make_unique<FakeBackendVcpu>(Script(id));
}

absl::Status FakeBackendVm::RaiseInterrupt(uint32_t vcpu_id, uint8_t vector) {
  hvbios::MutexLock lock(&mu_);
  interrupts_.push_back({vcpu_id, vector});
  return absl::OkStatus();
}

std::vector<std::pair<uint32_t, uint8_t>> FakeBackendVm::interrupts() const {
  hvbios::MutexLock lock(&mu_);
  return interrupts_;
}

void FakeBackendVm::WriteHypercallPage(absl::Span<uint8_t> page) const {
  std::memset(page.data(), kPageFill, page.size());
}

void AwaitCompletions(FakeVcpuScript& script, size_t n) {
  hvbios::MutexLock lock(&script.mu);
  script.mu.Await([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return script.completions.size() >= n;
  });
}

bool AwaitInterrupts(FakeBackendVm& backend, size_t n) {
  const absl::Time limit = absl::Now() + absl::Seconds(30);
  while (backend.interrupts().size() < n) {
    if (absl::Now() > limit) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

}  // namespace hvbios::testing
