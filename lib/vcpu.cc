// hvbios::Vcpu: the vCPU state machine and its thread's run loop
// (docs/architecture.md, "vCPU lifecycle").
#include <pthread.h>

#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/status_macros.h"
#include "lib/threads.h"
#include "lib/vm_impl.h"

namespace hvbios {
namespace {

std::string DescribeExit(const VcpuExit& exit) {
  switch (exit.kind) {
    case VcpuExit::Kind::kHalt:
      return "halted (hlt) and the hypervisor has no interrupt controller "
             "to wake it";
    case VcpuExit::Kind::kShutdown:
      return "triple fault (an exception with no usable handler)";
    case VcpuExit::Kind::kIo:
      return absl::StrFormat(
          "%s of %d byte(s) at I/O port 0x%x, which no device serves",
          exit.is_write ? "write" : "read", exit.size, exit.address);
    case VcpuExit::Kind::kMmio:
      return absl::StrFormat(
          "%s of %d byte(s) at guest-physical 0x%x, which is neither RAM nor "
          "a device",
          exit.is_write ? "write" : "read", exit.size, exit.address);
    case VcpuExit::Kind::kInternalError:
      return absl::StrFormat(
          "the hypervisor could not execute the guest's instruction "
          "(internal error, suberror %d; SSE or another unsupported "
          "instruction?)",
          exit.code);
    case VcpuExit::Kind::kFailEntry:
      return absl::StrFormat(
          "the hypervisor refused to enter the guest (hardware reason 0x%x)",
          exit.code);
    case VcpuExit::Kind::kOther:
      return absl::StrFormat("unexpected exit (backend code %d)", exit.code);
    case VcpuExit::Kind::kHypercall:
    case VcpuExit::Kind::kCanceled:
    case VcpuExit::Kind::kNotify:
    case VcpuExit::Kind::kDebug:
      break;
  }
  return "unexpected exit";
}

}  // namespace

VcpuImpl::VcpuImpl(VmImpl* vm, uint32_t id,
                   std::unique_ptr<BackendVcpu> backend)
    : vm_(vm), id_(id), backend_(std::move(backend)) {}

VcpuImpl::~VcpuImpl() = default;

VcpuState VcpuImpl::state() const {
  MutexLock lock(&vm_->mu_);
  return state_;
}

VcpuStatus VcpuImpl::status() const {
  MutexLock lock(&vm_->mu_);
  return {state_, last_exit_.load(std::memory_order_relaxed),
          exits_.load(std::memory_order_relaxed)};
}

absl::Status VcpuImpl::Start() {
  MutexLock lock(&vm_->mu_);
  if (state_ == VcpuState::kDestroyed) {
    return absl::FailedPreconditionError(
        absl::StrFormat("vCPU %d is destroyed", id_));
  }
  if (id_ != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "vCPU %d: only the boot vCPU (0) starts at the guest's entry; start "
        "others with StartAt() or let the guest start them",
        id_));
  }
  if (state_ != VcpuState::kCreated) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "vCPU %d is %s: it was already started", id_, VcpuStateName(state_)));
  }
  if (!vm_->boot_entry_.has_value()) {
    return absl::FailedPreconditionError(
        "no guest loaded: call LoadGuest() before starting the boot vCPU");
  }
  vm_->InitClockPageLocked(*backend_);
  return StartLocked(*vm_->boot_entry_);
}

absl::Status VcpuImpl::StartAt(const VcpuEntry& entry) {
  ASSIGN_OR_RETURN(LongModeEntry mode_entry, vm_->EntryFor(entry));
  MutexLock lock(&vm_->mu_);
  return StartLocked(mode_entry);
}

absl::Status VcpuImpl::StartLocked(const LongModeEntry& entry) {
  if (state_ != VcpuState::kCreated && state_ != VcpuState::kStopped) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "vCPU %d is %s: only a created or stopped vCPU can start", id_,
        VcpuStateName(state_)));
  }
  if (vm_->exit_.has_value()) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "the VM has stopped (%s)", VmExitReasonName(vm_->exit_->reason)));
  }
  // The whole entry state is in place before the start is visible: its
  // thread is parked (stopped) or not running yet, so the backend may be
  // driven from this one. The interrupt reset comes last: a start is a
  // fresh CPU, so events raised while it was stopped are dropped here and
  // none raised once this returns can be (docs/abi.md, vcpu.start).
  RETURN_IF_ERROR(backend_->SetEntryState(entry));
  RETURN_IF_ERROR(backend_->ResetInterruptState());
  start_pending_ = true;
  // A VM-wide pause holds vCPUs started while it lasts, too.
  pause_requested_ = vm_->paused_;
  state_ = vm_->paused_ ? VcpuState::kPaused : VcpuState::kRunning;
  vm_->ever_started_ = true;
  if (thread_running_) {
    NotifyLocked();  // parked after vcpu.stop: wake it
    return absl::OkStatus();
  }
  // Its first look at the mailbox must see the start (and a pause).
  attention_.store(true, std::memory_order_release);
  thread_running_ = true;
  ++vm_->live_threads_;
  absl::StatusOr<std::thread> thread =
      StartThread(absl::StrFormat("vCPU %d", id_), [this] { ThreadMain(); });
  if (!thread.ok()) {
    thread_running_ = false;
    --vm_->live_threads_;
    state_ = VcpuState::kStopped;
    return thread.status();
  }
  thread_ = *std::move(thread);
  return absl::OkStatus();
}

absl::Status VcpuImpl::Pause() {
  RETURN_IF_ERROR(RefuseInsideCallback("VcpuImpl::Pause"));
  MutexLock lock(&vm_->mu_);
  if (state_ != VcpuState::kRunning) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "vCPU %d is %s, not running", id_, VcpuStateName(state_)));
  }
  const uint64_t parks = RequestPauseLocked();
  vm_->mu_.Await([this, parks]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return PauseServedLocked(parks);
  });
  if (parks_ == parks) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "vCPU %d became %s before it could pause", id_, VcpuStateName(state_)));
  }
  return absl::OkStatus();  // it paused (another thread may resume it)
}

absl::Status VcpuImpl::Resume() {
  RETURN_IF_ERROR(RefuseInsideCallback("VcpuImpl::Resume"));
  MutexLock lock(&vm_->mu_);
  if (state_ != VcpuState::kPaused) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "vCPU %d is %s, not paused", id_, VcpuStateName(state_)));
  }
  if (!parked_) {  // started while the VM was paused, not parked yet
    pause_requested_ = false;
    state_ = VcpuState::kRunning;
    return absl::OkStatus();
  }
  const uint64_t unparks = RequestResumeLocked();
  vm_->mu_.Await([this, unparks]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return ResumeServedLocked(unparks);
  });
  return absl::OkStatus();
}

uint64_t VcpuImpl::RequestPauseLocked() {
  pause_requested_ = true;
  NotifyLocked();
  return parks_;
}

bool VcpuImpl::PauseServedLocked(uint64_t parks) const {
  // Parked since the request (perhaps resumed since by another caller), or
  // it can no longer park.
  return parks_ != parks || !thread_running_ || state_ == VcpuState::kStopped ||
         state_ == VcpuState::kDestroyed;
}

uint64_t VcpuImpl::RequestResumeLocked() {
  pause_requested_ = false;
  ++resume_gen_;
  return unparks_;
}

bool VcpuImpl::ResumeServedLocked(uint64_t unparks) const {
  return unparks_ != unparks || !thread_running_;
}

absl::Status VcpuImpl::Destroy() {
  RETURN_IF_ERROR(RefuseInsideCallback("VcpuImpl::Destroy"));
  std::thread thread;
  {
    MutexLock lock(&vm_->mu_);
    if (state_ == VcpuState::kDestroyed) {
      return absl::FailedPreconditionError(
          absl::StrFormat("vCPU %d is already destroyed", id_));
    }
    state_ = VcpuState::kDestroyed;
    start_pending_ = false;
    stop_requested_ = false;
    pause_requested_ = false;
    exit_requested_ = true;
    NotifyLocked();
    thread = std::move(thread_);
  }
  if (thread.joinable()) thread.join();
  return absl::OkStatus();
}

absl::StatusOr<Registers> VcpuImpl::GetRegisters() const {
  MutexLock lock(&vm_->mu_);
  if (state_ == VcpuState::kRunning || state_ == VcpuState::kDestroyed) {
    return absl::FailedPreconditionError(
        absl::StrFormat("vCPU %d is %s; pause it or stop the VM first", id_,
                        VcpuStateName(state_)));
  }
  // Its thread is parked, not yet in the guest or gone: the backend is
  // ours to query.
  return backend_->GetRegisters();
}

absl::Status VcpuImpl::SetRegisters(const Registers& regs) {
  MutexLock lock(&vm_->mu_);
  if (state_ != VcpuState::kPaused) {
    return absl::FailedPreconditionError(
        absl::StrFormat("vCPU %d is %s; only a paused vCPU's registers can "
                        "be set",
                        id_, VcpuStateName(state_)));
  }
  // Paused means parked: its thread waits for mu_, not in the guest.
  return backend_->SetRegisters(regs);
}

void VcpuImpl::NotifyLocked() {
  attention_.store(true, std::memory_order_release);
  if (thread_running_) backend_->Kick();
  // It may be waiting inside a service (for console room): wake it.
  vm_->services_->InterruptWaits();
}

bool VcpuImpl::ServeRequests() {
  // The fast path of every entry: one load.
  if (!attention_.load(std::memory_order_acquire)) return true;
  MutexLock lock(&vm_->mu_);
  for (;;) {
    // Requests are made under the lock, so clearing here loses none.
    attention_.store(false, std::memory_order_relaxed);
    if (exit_requested_) return false;
    if (stop_requested_) {
      // It stopped itself (vcpu.stop), and its call is answered: from now
      // on its backend vCPU is free for the next start to set up. Park
      // until that start.
      stop_requested_ = false;
      pause_requested_ = false;
      state_ = VcpuState::kStopped;
      vm_->mu_.Await([this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return start_pending_ || exit_requested_;
      });
      continue;
    }
    start_pending_ = false;
    if (pause_requested_) {
      state_ = VcpuState::kPaused;
      parked_ = true;
      ++parks_;
      const uint64_t generation = resume_gen_;
      vm_->mu_.Await([this, generation]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return resume_gen_ != generation || exit_requested_;
      });
      parked_ = false;
      if (state_ == VcpuState::kPaused) state_ = VcpuState::kRunning;
      ++unparks_;
      continue;  // a pause requested meanwhile parks it again
    }
    return ApplyGuestDebugLocked();
  }
}

bool VcpuImpl::ServeIo(const VcpuExit& exit) {
  if (exit.kind == VcpuExit::Kind::kMmio && exit.is_write) {
    GuestMemory::Access access(*vm_->memory_);
    // A write to a read-only region: dropped, as ROM does.
    if (vm_->memory_->InReadOnlyRegion(exit.address)) return true;
  }
  if (exit.data != nullptr && vm_->ServeDeviceAccess(exit)) return true;
  if (!vm_->options_.open_bus) return false;
  if (!exit.is_write && exit.data != nullptr) {
    std::memset(exit.data, 0xff, uint64_t{exit.size} * exit.count);
  }
  return true;
}

void VcpuImpl::ThreadMain() {
  pthread_setname_np(pthread_self(),
                     absl::StrFormat("hvbios-vcpu%d", id_).c_str());
  if (absl::Status s = backend_->BindToCurrentThread(); !s.ok()) {
    vm_->RequestExit({.reason = VmExit::Reason::kHostError,
                      .vcpu_id = id_,
                      .message = std::string(s.message())});
  }
  Tracer* const tracer = vm_->options_.trace.get();
  while (ServeRequests()) {
    vm_->memory_->PublishToGuest();
    absl::StatusOr<VcpuExit> exit = backend_->Run();
    vm_->memory_->ObserveGuest();
    if (!exit.ok()) {
      vm_->RequestExit({.reason = VmExit::Reason::kHostError,
                        .vcpu_id = id_,
                        .message = std::string(exit.status().message())});
      continue;  // ServeRequests() ends the thread
    }
    exits_.fetch_add(1, std::memory_order_relaxed);
    last_exit_.store(exit->kind, std::memory_order_relaxed);
    // Traced: when it returned, and the host's time serving it. Off, one
    // branch on a null pointer.
    const uint64_t traced_at = tracer != nullptr ? Tracer::NowNs() : 0;
    if (exit->kind == VcpuExit::Kind::kHypercall) {
      const HypercallResult result =
          vm_->services_->Dispatch(id_, exit->hypercall);
      backend_->CompleteHypercall(result.status, result.value);
      if (tracer != nullptr) {
        const HypercallArgs& h = exit->hypercall;
        tracer->RecordExit(traced_at, id_, TraceKind::kHypercall, h.fid,
                           {h.arg[0], h.arg[1], h.arg[2], h.arg[3]},
                           result.status);
      }
      continue;
    }
    if (exit->kind == VcpuExit::Kind::kCanceled) continue;
    if (exit->kind == VcpuExit::Kind::kDebug) {
      OnDebugExit(exit->address);
      continue;
    }
    if (exit->kind == VcpuExit::Kind::kNotify) {
      vm_->services_->Doorbell(exit->address);
      if (tracer != nullptr) {
        tracer->RecordExit(traced_at, id_, TraceKind::kDoorbell, exit->address,
                           {}, 0);
      }
      continue;
    }
    if ((exit->kind == VcpuExit::Kind::kIo ||
         exit->kind == VcpuExit::Kind::kMmio) &&
        ServeIo(*exit)) {
      if (tracer != nullptr) {
        tracer->RecordExit(
            traced_at, id_,
            exit->kind == VcpuExit::Kind::kIo ? TraceKind::kPortIo
                                              : TraceKind::kMmio,
            exit->address, {exit->size, exit->is_write ? 1u : 0u}, 0);
      }
      continue;
    }

    std::string message =
        absl::StrFormat("vCPU %d: %s", id_, DescribeExit(*exit));
    if (absl::StatusOr<Registers> regs = backend_->GetRegisters(); regs.ok()) {
      // A vCPU KVM reset at a triple fault (IsResetState) kept none of
      // the guest's registers.
      const bool reset =
          exit->kind == VcpuExit::Kind::kShutdown && IsResetState(*regs);
      absl::StrAppend(&message, "\n",
                      reset ? "  (registers lost: the hypervisor reset the "
                              "vCPU at the triple fault, as KVM on AMD "
                              "SVM does)"
                            : FormatRegisters(*regs));
    }
    vm_->RequestExit({.reason = VmExit::Reason::kGuestFault,
                      .vcpu_id = id_,
                      .message = std::move(message)});
  }
  MutexLock lock(&vm_->mu_);
  thread_running_ = false;
  --vm_->live_threads_;
  if (state_ != VcpuState::kDestroyed) state_ = VcpuState::kStopped;
}

}  // namespace hvbios
