// The debugger behind hvbios/debug.h: breakpoints in debug registers or
// by single-stepping, the all-stop protocol on top of the vCPUs' pause
// park, and guest-virtual memory through the guest's page tables.
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_format.h"
#include "common/page_tables.h"
#include "lib/status_macros.h"
#include "lib/threads.h"
#include "lib/vm_impl.h"

namespace hvbios {
namespace {
constexpr uint64_t kResumeFlag = 1u << 16;  // rflags.RF
}  // namespace

// ---- vCPU side --------------------------------------------------------------

GuestDebug VcpuImpl::WantedDebugLocked() const {
  GuestDebug want;
  want.single_step = step_pending_;
  const VmImpl::DebugState& debug = vm_->debug_;
  if (!debug.attached || debug.breakpoints.empty()) return want;
  if (debug.breakpoints.size() <= debug.hardware_slots) {
    for (uint64_t address : debug.breakpoints) {
      want.breakpoints[want.breakpoint_count++] = address;
    }
  } else {
    want.single_step = true;  // find them among single-step exits
  }
  return want;
}

bool VcpuImpl::ApplyGuestDebugLocked() {
  const GuestDebug want = WantedDebugLocked();
  if (want == applied_debug_) return true;
  if (absl::Status s = backend_->SetGuestDebug(want); !s.ok()) {
    vm_->RequestExitLocked({.reason = VmExit::Reason::kHostError,
                            .vcpu_id = id_,
                            .message = std::string(s.message())});
    return false;
  }
  applied_debug_ = want;
  return true;
}

void VcpuImpl::OnDebugExit(uint64_t rip) {
  MutexLock lock(&vm_->mu_);
  DebugStop stop = {.vcpu_id = id_, .address = rip};
  if (step_pending_) {
    step_pending_ = false;
    stop.reason = DebugStop::Reason::kStep;
  } else if (vm_->debug_.attached && vm_->debug_.breakpoints.contains(rip)) {
    stop.reason = DebugStop::Reason::kBreakpoint;
  } else {
    // Stepping towards a breakpoint, or a step nobody wants any more: let
    // the next entry re-check whether to step at all.
    attention_.store(true, std::memory_order_relaxed);
    return;
  }
  vm_->ReportDebugStopLocked(stop);
}

// ---- VM side ----------------------------------------------------------------

void VmImpl::ReportDebugStopLocked(const DebugStop& stop) {
  if (!debug_.attached) return;
  debug_.stops.push_back(stop);
  // All-stop: this vCPU and every other park before their next entry, and
  // vCPUs the guest starts meanwhile start paused. Paused ones too: one
  // that a resume just released may not have left its park yet (its state
  // says paused until its thread runs), and must park again rather than
  // run on.
  paused_ = true;
  for (auto& v : vcpus_) {
    if (v != nullptr &&
        (v->state_ == VcpuState::kRunning || v->state_ == VcpuState::kPaused)) {
      v->RequestPauseLocked();
    }
  }
  WakeDebuggerLocked();
}

void VmImpl::WakeDebuggerLocked() {
  if (!debug_.attached) return;
  const uint64_t one = 1;
  // The counter cannot overflow from wakes; EAGAIN would mean it is
  // readable already, which is all a wake is for.
  (void)!write(debug_.stop_fd, &one, sizeof(one));
}

class DebuggerImpl final : public Debugger {
 public:
  DebuggerImpl(VmImpl* vm, UniqueFd stop_fd)
      : vm_(vm), stop_fd_(std::move(stop_fd)) {}

  ~DebuggerImpl() override {
    MutexLock lock(&vm_->mu_);
    vm_->debug_ = {};
    for (auto& v : vm_->vcpus_) {
      if (v == nullptr) continue;
      v->step_pending_ = false;
      if (v->thread_running_) v->NotifyLocked();  // stop stepping
    }
  }

  absl::Status InsertBreakpoint(uint64_t address) override {
    MutexLock lock(&vm_->mu_);
    if (vm_->debug_.breakpoints.insert(address).second) {
      NotifyAllLocked();  // each vCPU re-arms before its next entry
    }
    return absl::OkStatus();
  }

  absl::Status RemoveBreakpoint(uint64_t address) override {
    MutexLock lock(&vm_->mu_);
    if (vm_->debug_.breakpoints.erase(address) == 0) {
      return absl::NotFoundError(
          absl::StrFormat("no breakpoint at 0x%x", address));
    }
    // A stop at it not yet reported is moot now.
    std::erase_if(vm_->debug_.stops, [&](const DebugStop& s) {
      return s.reason == DebugStop::Reason::kBreakpoint && s.address == address;
    });
    NotifyAllLocked();
    return absl::OkStatus();
  }

  absl::Status Resume(std::optional<uint32_t> step, bool others_run) override {
    RETURN_IF_ERROR(RefuseInsideCallback("Debugger::Resume"));
    MutexLock lock(&vm_->mu_);
    if (vm_->exit_.has_value()) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "the VM has stopped (%s)", VmExitReasonName(vm_->exit_->reason)));
    }
    VcpuImpl* stepping = nullptr;
    if (step.has_value()) {
      if (*step >= vm_->vcpus_.size() || vm_->vcpus_[*step] == nullptr) {
        return absl::NotFoundError(absl::StrFormat("no vCPU %d", *step));
      }
      stepping = vm_->vcpus_[*step].get();
      if (stepping->state_ != VcpuState::kPaused) {
        return absl::FailedPreconditionError(
            absl::StrFormat("vCPU %d is %s, not paused", *step,
                            VcpuStateName(stepping->state_)));
      }
    }
    if (!vm_->debug_.stops.empty()) {  // report it before anything runs
      vm_->WakeDebuggerLocked();
      return absl::OkStatus();
    }
    for (auto& v : vm_->vcpus_) {
      if (v == nullptr) continue;
      v->step_pending_ = false;
      if (v->state_ == VcpuState::kPaused &&
          (others_run || v.get() == stepping)) {
        RETURN_IF_ERROR(StepOffHardwareBreakpointLocked(*v));
      }
    }
    if (stepping != nullptr) stepping->step_pending_ = true;
    if (others_run) {
      vm_->ResumeLocked(std::nullopt);
    } else if (stepping != nullptr) {
      vm_->ResumeLocked(stepping->id_);
    }
    return absl::OkStatus();
  }

  absl::Status Interrupt() override {
    MutexLock lock(&vm_->mu_);
    if (vm_->exit_.has_value()) {
      vm_->WakeDebuggerLocked();  // TakeStop() reports the end
      return absl::OkStatus();
    }
    uint32_t first = 0;
    for (auto& v : vm_->vcpus_) {
      if (v != nullptr && v->state_ != VcpuState::kDestroyed) {
        first = v->id_;
        break;
      }
    }
    vm_->ReportDebugStopLocked(
        {.reason = DebugStop::Reason::kInterrupt, .vcpu_id = first});
    return absl::OkStatus();
  }

  int stop_fd() const override { return stop_fd_.get(); }

  uint32_t hardware_breakpoints() const override {
    MutexLock lock(&vm_->mu_);
    return vm_->debug_.hardware_slots;
  }

  absl::StatusOr<std::optional<DebugStop>> TakeStop() override {
    RETURN_IF_ERROR(RefuseInsideCallback("Debugger::TakeStop"));
    uint64_t count;
    (void)!read(stop_fd_.get(), &count, sizeof(count));  // nonblocking
    MutexLock lock(&vm_->mu_);
    if (vm_->debug_.stops.empty()) {
      if (!vm_->exit_.has_value() || vm_->debug_.exit_reported) {
        return std::nullopt;
      }
      vm_->debug_.exit_reported = true;
      // Every vCPU thread gone (as Vm::Wait waits for), so each vCPU is
      // stopped and its registers readable when the debugger asks.
      vm_->mu_.Await([this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return vm_->live_threads_ == 0;
      });
      return DebugStop{.reason = DebugStop::Reason::kVmExit,
                       .vcpu_id = vm_->exit_->vcpu_id,
                       .exit = *vm_->exit_};
    }
    // All-stop: every vCPU out of the guest before the stop is told.
    vm_->mu_.Await([this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return vm_->exit_.has_value() ||
             std::none_of(
                 vm_->vcpus_.begin(), vm_->vcpus_.end(), [](const auto& v) {
                   return v != nullptr && v->state_ == VcpuState::kRunning &&
                          v->thread_running_;
                 });
    });
    DebugStop stop = vm_->debug_.stops.front();
    vm_->debug_.stops.pop_front();
    if (!vm_->debug_.stops.empty()) vm_->WakeDebuggerLocked();
    return stop;
  }

  absl::StatusOr<size_t> ReadVirtual(uint32_t vcpu_id, uint64_t address,
                                     absl::Span<uint8_t> out) override {
    return CopyVirtual(vcpu_id, address, out.size(),
                       [&](uint64_t gpa, size_t done, size_t n) {
                         return vm_->ReadGuestMemory(gpa, out.data() + done, n);
                       });
  }

  absl::StatusOr<size_t> WriteVirtual(uint32_t vcpu_id, uint64_t address,
                                      absl::Span<const uint8_t> in) override {
    return CopyVirtual(vcpu_id, address, in.size(),
                       [&](uint64_t gpa, size_t done, size_t n) {
                         return vm_->WriteGuestMemory(gpa, in.data() + done, n);
                       });
  }

 private:
  // Page by page, as each may map anywhere. `copy(gpa, done, n)` moves n
  // bytes at offset `done` of the caller's buffer.
  template <typename Copy>
  absl::StatusOr<size_t> CopyVirtual(uint32_t vcpu_id, uint64_t address,
                                     size_t length, Copy copy) {
    Vcpu* vcpu = vm_->vcpu(vcpu_id);
    if (vcpu == nullptr) {
      return absl::NotFoundError(absl::StrFormat("no vCPU %d", vcpu_id));
    }
    ASSIGN_OR_RETURN(const Registers regs, vcpu->GetRegisters());
    const ReadPhysical64 read = [this](uint64_t gpa, uint64_t* value) {
      return vm_->ReadGuestMemory(gpa, value, sizeof(*value)).ok();
    };
    size_t done = 0;
    while (done < length) {
      const uint64_t va = address + done;
      const std::optional<uint64_t> gpa = TranslateGuestVirtual(regs, read, va);
      if (!gpa.has_value()) break;
      const size_t n = std::min<uint64_t>(length - done, 4096 - va % 4096);
      if (!copy(*gpa, done, n).ok()) break;
      done += n;
    }
    return done;
  }

  // A vCPU about to go on from an instruction a debug register breaks at
  // would break there again at once (an instruction breakpoint is a
  // fault): rflags.RF lets that one instruction run (SDM Vol. 3A,
  // 18.3.1.1). Paused vCPUs only: their threads are parked.
  absl::Status StepOffHardwareBreakpointLocked(VcpuImpl& v)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(vm_->mu_) {
    const VmImpl::DebugState& debug = vm_->debug_;
    if (debug.breakpoints.empty() ||
        debug.breakpoints.size() > debug.hardware_slots) {
      return absl::OkStatus();  // single-stepping: nothing to skip
    }
    ASSIGN_OR_RETURN(Registers regs, v.backend_->GetRegisters());
    if (!debug.breakpoints.contains(regs.rip)) return absl::OkStatus();
    regs.rflags |= kResumeFlag;
    return v.backend_->SetRegisters(regs);
  }

  void NotifyAllLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(vm_->mu_) {
    for (auto& v : vm_->vcpus_) {
      if (v != nullptr && v->thread_running_) v->NotifyLocked();
    }
  }

  VmImpl* const vm_;
  const UniqueFd stop_fd_;
};

absl::StatusOr<std::unique_ptr<Debugger>> VmImpl::AttachDebugger() {
  // Probed once per backend VM, outside the lock (KVM runs a scratch VM).
  const uint32_t hardware_slots =
      std::min(backend_->hardware_breakpoints(), 4u);
  UniqueFd fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!fd.valid()) {
    return ErrnoStatus(errno, "eventfd for the debugger");
  }
  MutexLock lock(&mu_);
  if (debug_.attached) {
    return absl::FailedPreconditionError("a debugger is attached already");
  }
  debug_ = {
      .attached = true, .stop_fd = fd.get(), .hardware_slots = hardware_slots};
  return std::make_unique<DebuggerImpl>(this, std::move(fd));
}

// ---- Page tables ------------------------------------------------------------

std::optional<uint64_t> TranslateGuestVirtual(const Registers& regs,
                                              const ReadPhysical64& read,
                                              uint64_t address) {
  // One walk for both platforms: common/page_tables.c.
  auto read_entry = [](void* context, uint64_t gpa, uint64_t* value) -> int {
    return (*static_cast<const ReadPhysical64*>(context))(gpa, value) ? 1 : 0;
  };
  uint64_t gpa;
  if (!hvb_guest_virtual_to_physical(regs.cr0, regs.cr3, address, read_entry,
                                     const_cast<ReadPhysical64*>(&read),
                                     &gpa)) {
    return std::nullopt;
  }
  return gpa;
}

}  // namespace hvbios
