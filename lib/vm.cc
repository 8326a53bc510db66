#include "hvbios/vm.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <iterator>
#include <utility>

#include "absl/strings/str_format.h"
#include "hvbios/abi/hypercall.h"
#include "hvbios/abi/status.h"
#include "lib/block_queue.h"
#include "lib/boot_setup.h"
#include "lib/clock.h"
#include "lib/console_output.h"
#include "lib/elf_loader.h"
#include "lib/file_util.h"
#include "lib/guest_memory.h"
#include "lib/hypercall.h"
#include "lib/status_macros.h"
#include "lib/threads.h"
#include "lib/timer_service.h"
#include "lib/unique_fd.h"

namespace hvbios {
namespace {

constexpr size_t kConsoleInputCapacity = 64 * 1024;
// MSI destinations are 8-bit xAPIC ids and 255 is broadcast.
constexpr uint32_t kMaxVcpus = 254;
constexpr size_t kMaxDisks = 16;
constexpr size_t kMaxQueues = 16;
// Largest image file read at all; larger ones cannot fit any VM anyway.
constexpr uint64_t kMaxImageFileBytes = 1ull << 30;

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
      break;
  }
  return "unexpected exit";
}

}  // namespace

absl::StatusOr<std::vector<uint8_t>> ReadGuestImage(const std::string& path) {
  return ReadUserFile(path, kMaxImageFileBytes, "guest image");
}

absl::string_view VcpuStateName(VcpuState state) {
  switch (state) {
    case VcpuState::kCreated:
      return "created";
    case VcpuState::kRunning:
      return "running";
    case VcpuState::kPaused:
      return "paused";
    case VcpuState::kStopped:
      return "stopped";
    case VcpuState::kDestroyed:
      return "destroyed";
  }
  return "unknown";
}

absl::string_view VmExitReasonName(VmExit::Reason reason) {
  switch (reason) {
    case VmExit::Reason::kShutdown:
      return "shutdown";
    case VmExit::Reason::kReboot:
      return "reboot";
    case VmExit::Reason::kGuestFault:
      return "guest fault";
    case VmExit::Reason::kStopped:
      return "stopped";
    case VmExit::Reason::kHostError:
      return "host error";
  }
  return "unknown";
}

std::string FormatRegisters(const Registers& r) {
  return absl::StrFormat(
      "  rip %016x  rsp %016x  rflags %08x  cs %04x ss %04x\n"
      "  rax %016x  rbx %016x  rcx %016x  rdx %016x\n"
      "  rsi %016x  rdi %016x  rbp %016x  r8  %016x\n"
      "  r9  %016x  r10 %016x  r11 %016x  r12 %016x\n"
      "  r13 %016x  r14 %016x  r15 %016x\n"
      "  cr0 %016x  cr2 %016x  cr3 %016x  cr4 %016x  efer %x",
      r.rip, r.rsp, r.rflags, r.cs, r.ss, r.rax, r.rbx, r.rcx, r.rdx, r.rsi,
      r.rdi, r.rbp, r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.cr0,
      r.cr2, r.cr3, r.cr4, r.efer);
}

// The services' view of a Vm: console, clocks, power, vCPUs, timers and
// event routing.
class VmServices final : public ServiceHost {
 public:
  explicit VmServices(Vm* vm)
      : vm_(vm),
        console_output_(vm->options_.console_output),
        timers_(std::chrono::steady_clock::time_point(
                    std::chrono::nanoseconds(vm->created_monotonic_ns_)),
                [this](uint32_t vcpu, uint8_t vector) {
                  (void)RaiseEvent(vcpu, vector);
                }) {}

  const GuestMemory& memory() const override { return *vm_->memory_; }
  uint32_t implementation_id() const override {
    return vm_->backend_->implementation_id();
  }
  size_t ConsoleWrite(absl::string_view bytes) override {
    // Waits a little for room when the sink lags, so that a guest printing
    // faster than it drains is slowed down rather than made to spin.
    return console_output_.Write(bytes, absl::Milliseconds(50));
  }
  // Wakes vCPU threads waiting inside a service (for console room), so
  // that a pause or stop request reaches them at once.
  void InterruptWaits() { console_output_.Interrupt(); }
  bool AwaitConsoleDelivered(absl::Duration timeout) {
    return console_output_.AwaitDelivered(timeout);
  }
  size_t ConsoleRead(uint8_t* dst, size_t capacity) override {
    MutexLock lock(&console_mu_);
    const size_t n = std::min(capacity, console_input_.size());
    std::copy_n(console_input_.data(), n, dst);
    console_input_.erase(0, n);
    return n;
  }
  size_t PushConsoleInput(absl::string_view bytes) {
    size_t n;
    {
      MutexLock lock(&console_mu_);
      n = std::min(bytes.size(), kConsoleInputCapacity - console_input_.size());
      console_input_.append(bytes.data(), n);
    }
    if (n > 0) TriggerSource(HVB_EVENT_SRC_CONSOLE_INPUT);
    return n;
  }
  uint64_t MonotonicNs() const override {
    return ClockNs(CLOCK_MONOTONIC) - vm_->created_monotonic_ns_;
  }
  uint64_t WallclockNs() const override { return ClockNs(CLOCK_REALTIME); }
  void RequestShutdown(uint8_t code) override {
    vm_->RequestExit({.reason = VmExit::Reason::kShutdown, .exit_code = code});
  }
  void RequestReboot() override {
    vm_->RequestExit({.reason = VmExit::Reason::kReboot});
  }

  uint32_t vcpu_count() const override { return vm_->options_.vcpu_count; }

  int64_t StartVcpu(uint32_t id, const LongModeEntry& entry) override {
    MutexLock lock(&vm_->mu_);
    absl::StatusOr<Vcpu*> vcpu = vm_->GetOrCreateVcpuLocked(id);
    if (!vcpu.ok()) return HVB_ERR_NOMEM;
    if ((*vcpu)->state_ == VcpuState::kDestroyed) return HVB_ERR_NODEV;
    const absl::Status s = (*vcpu)->StartLocked(entry);
    if (s.ok()) return HVB_OK;
    return absl::IsFailedPrecondition(s) ? HVB_ERR_STATE : HVB_ERR_NOMEM;
  }

  void StopVcpu(uint32_t caller) override {
    // A stopped vCPU has no timer: one armed before would otherwise fire on
    // it after its next start (docs/abi.md, vcpu.stop).
    timers_.Cancel(caller);
    MutexLock lock(&vm_->mu_);
    // The thread stops itself once this call is answered (ServeRequests):
    // until then it still owns its backend vCPU, so a vcpu.start of it
    // meanwhile gets HVB_ERR_STATE, as for any running vCPU.
    Vcpu* vcpu = vm_->vcpus_[caller].get();
    vcpu->stop_requested_ = true;
    vcpu->attention_.store(true, std::memory_order_release);
    if (!vm_->AnyVcpuActiveLocked(/*except=*/caller)) {
      vm_->RequestExitLocked(
          {.reason = VmExit::Reason::kGuestFault,
           .vcpu_id = caller,
           .message = absl::StrFormat(
               "vCPU %d stopped itself (vcpu.stop) and no vCPU is left "
               "running",
               caller)});
    }
  }

  int64_t VcpuStatusOf(uint32_t id) override {
    MutexLock lock(&vm_->mu_);
    const Vcpu* vcpu = vm_->vcpus_[id].get();
    if (vcpu == nullptr) return HVB_VCPU_STOPPED;
    switch (vcpu->state_) {
      case VcpuState::kCreated:
      case VcpuState::kStopped:
        return HVB_VCPU_STOPPED;
      case VcpuState::kRunning:
        return HVB_VCPU_RUNNING;
      case VcpuState::kPaused:
        return HVB_VCPU_PAUSED;
      case VcpuState::kDestroyed:
        break;
    }
    return HVB_ERR_NODEV;
  }

  void SetTimer(uint32_t vcpu, uint64_t deadline_ns, uint8_t vector) override {
    timers_.Set(vcpu, deadline_ns, vector);
  }
  void CancelTimer(uint32_t vcpu) override { timers_.Cancel(vcpu); }

  int64_t RouteEvent(uint32_t source, uint32_t vcpu, uint8_t vector) override {
    const size_t index = *RouteIndex(source);
    std::optional<Target> deliver;
    {
      MutexLock lock(&events_mu_);
      Route& route = routes_[index];
      // Queue events travel through an eventfd bound to an MSI route (irqfd):
      // the I/O thread raises them with a write, no hypervisor call.
      if (route.irqfd.valid() &&
          !vm_->backend_->BindInterruptFd(route.irqfd.get(), vcpu, vector)
               .ok()) {
        return HVB_ERR_NOMEM;
      }
      route.routed = true;
      route.vcpu = vcpu;
      route.vector = vector;
      // Routing a source that has work pending raises one event for it, so a
      // guest that routes late still hears of input that came before.
      if (!route.masked && HasPendingWork(source)) deliver = route.target();
    }
    if (deliver) Deliver(*deliver);
    return HVB_OK;
  }

  void MaskEvent(uint32_t source, bool masked) override {
    const size_t index = *RouteIndex(source);
    std::optional<Target> deliver;
    {
      MutexLock lock(&events_mu_);
      Route& route = routes_[index];
      route.masked = masked;
      if (!masked && (route.pending || HasPendingWork(source))) {
        route.pending = false;
        if (route.routed) deliver = route.target();
      }
    }
    if (deliver) Deliver(*deliver);
  }

  bool EventSourceExists(uint32_t source) override {
    return RouteIndex(source).has_value();
  }

  BlockDevice* block_device(uint32_t id) override {
    return id < vm_->options_.disks.size() ? vm_->options_.disks[id].get()
                                           : nullptr;
  }

  int64_t SetupQueue(uint32_t dev, uint64_t ring_gpa,
                     uint32_t entries) override {
    MutexLock lock(&queues_mu_);
    if (queues_.size() >= kMaxQueues) return HVB_ERR_NOMEM;
    const uint32_t id = static_cast<uint32_t>(queues_.size());
    absl::StatusOr<std::unique_ptr<BlockQueue>> queue = BlockQueue::Create(
        id, block_device(dev), vm_->memory_.get(), ring_gpa, entries,
        [this](uint32_t q) { TriggerSource(HVB_EVENT_SRC_QUEUE(q)); });
    if (!queue.ok() ||
        !vm_->backend_->BindDoorbell(id, (*queue)->doorbell_fd()).ok()) {
      return HVB_ERR_NOMEM;
    }
    UniqueFd irqfd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!irqfd.valid()) return HVB_ERR_NOMEM;
    {
      MutexLock events_lock(&events_mu_);  // order: queues_mu_, events_mu_
      routes_[1 + id].irqfd = std::move(irqfd);
    }
    queues_.push_back(*std::move(queue));
    return id;
  }

  // A doorbell that reached user space (not taken by a bound eventfd).
  void Doorbell(uint64_t queue) {
    MutexLock lock(&queues_mu_);
    if (queue < queues_.size()) queues_[queue]->Ring();
  }

  size_t RandomBytes(uint8_t* dst, size_t length) override {
    size_t done = 0;
    while (done < length) {
      const ssize_t n = getrandom(dst + done, length - done, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    return done;
  }

  int64_t RaiseEvent(uint32_t vcpu, uint8_t vector) override {
    {
      MutexLock lock(&vm_->mu_);
      const Vcpu* target = vm_->vcpus_[vcpu].get();
      if (target == nullptr || target->state_ == VcpuState::kDestroyed) {
        return HVB_ERR_NODEV;
      }
    }
    return vm_->backend_->RaiseInterrupt(vcpu, vector).ok() ? HVB_OK
                                                            : HVB_ERR_IO;
  }

  // An event from `source`: delivered, held while masked, dropped while
  // unrouted (the guest can still poll).
  void TriggerSource(uint32_t source) {
    const std::optional<size_t> index = RouteIndex(source);
    if (!index) return;
    std::optional<Target> deliver;
    {
      MutexLock lock(&events_mu_);
      Route& route = routes_[*index];
      if (route.masked) {
        route.pending = true;
      } else if (route.routed) {
        deliver = route.target();
      }
    }
    if (deliver) Deliver(*deliver);
  }

 private:
  // Whether `source` has something the guest has not taken yet, which a
  // route or an unmask reports with one event (docs/abi.md, event.route).
  bool HasPendingWork(uint32_t source) {
    if (source != HVB_EVENT_SRC_CONSOLE_INPUT) return false;
    MutexLock lock(&console_mu_);
    return !console_input_.empty();
  }

  // Index into routes_: console input, then one per queue.
  std::optional<size_t> RouteIndex(uint32_t source) {
    if (source == HVB_EVENT_SRC_CONSOLE_INPUT) return 0;
    const uint32_t queue = source - HVB_EVENT_SRC_QUEUE(0);
    if (source < HVB_EVENT_SRC_QUEUE(0)) return std::nullopt;
    MutexLock lock(&queues_mu_);
    if (queue >= queues_.size()) return std::nullopt;
    return 1 + queue;
  }

  // Where an event goes: an irqfd to write, or a vCPU and vector to raise.
  struct Target {
    int irqfd;  // -1: none
    uint32_t vcpu;
    uint8_t vector;
  };
  struct Route {
    bool routed = false;
    bool masked = false;
    bool pending = false;
    uint32_t vcpu = 0;
    uint8_t vector = 0;
    UniqueFd irqfd;  // queue sources: bound to the route's MSI
    Target target() const { return {irqfd.get(), vcpu, vector}; }
  };
  void Deliver(const Target& target) {
    if (target.irqfd >= 0) {
      const uint64_t one = 1;
      (void)!write(target.irqfd, &one, sizeof(one));
    } else {
      (void)RaiseEvent(target.vcpu, target.vector);
    }
  }

  Vm* const vm_;
  ConsoleOutput console_output_;
  Mutex console_mu_;
  std::string console_input_ ABSL_GUARDED_BY(console_mu_);
  Mutex events_mu_;
  Route routes_[1 + kMaxQueues] ABSL_GUARDED_BY(events_mu_);
  TimerService timers_;  // its thread calls into the above
  Mutex queues_mu_;
  // Last: their I/O threads call into the above; destroyed first.
  std::vector<std::unique_ptr<BlockQueue>> queues_ ABSL_GUARDED_BY(queues_mu_);
};

// ---- Vcpu ------------------------------------------------------------------

Vcpu::Vcpu(Vm* vm, uint32_t id, std::unique_ptr<BackendVcpu> backend)
    : vm_(vm), id_(id), backend_(std::move(backend)) {}

Vcpu::~Vcpu() = default;

VcpuState Vcpu::state() const {
  MutexLock lock(&vm_->mu_);
  return state_;
}

VcpuStatus Vcpu::status() const {
  MutexLock lock(&vm_->mu_);
  return {state_, last_exit_.load(std::memory_order_relaxed),
          exits_.load(std::memory_order_relaxed)};
}

absl::Status Vcpu::Start() {
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

absl::Status Vcpu::StartAt(const VcpuEntry& entry) {
  ASSIGN_OR_RETURN(LongModeEntry mode_entry, vm_->EntryFor(entry));
  MutexLock lock(&vm_->mu_);
  return StartLocked(mode_entry);
}

absl::Status Vcpu::StartLocked(const LongModeEntry& entry) {
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
  absl::StatusOr<std::thread> thread = StartThread(
      absl::StrFormat("vCPU %d", id_), [this] { ThreadMain(); });
  if (!thread.ok()) {
    thread_running_ = false;
    --vm_->live_threads_;
    state_ = VcpuState::kStopped;
    return thread.status();
  }
  thread_ = *std::move(thread);
  return absl::OkStatus();
}

absl::Status Vcpu::Pause() {
  RETURN_IF_ERROR(RefuseInsideCallback("Vcpu::Pause"));
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

absl::Status Vcpu::Resume() {
  RETURN_IF_ERROR(RefuseInsideCallback("Vcpu::Resume"));
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

uint64_t Vcpu::RequestPauseLocked() {
  pause_requested_ = true;
  NotifyLocked();
  return parks_;
}

bool Vcpu::PauseServedLocked(uint64_t parks) const {
  // Parked since the request (perhaps resumed since by another caller), or
  // it can no longer park.
  return parks_ != parks || !thread_running_ || state_ == VcpuState::kStopped ||
         state_ == VcpuState::kDestroyed;
}

uint64_t Vcpu::RequestResumeLocked() {
  pause_requested_ = false;
  ++resume_gen_;
  return unparks_;
}

bool Vcpu::ResumeServedLocked(uint64_t unparks) const {
  return unparks_ != unparks || !thread_running_;
}

absl::Status Vcpu::Destroy() {
  RETURN_IF_ERROR(RefuseInsideCallback("Vcpu::Destroy"));
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

absl::StatusOr<Registers> Vcpu::GetRegisters() const {
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

void Vcpu::NotifyLocked() {
  attention_.store(true, std::memory_order_release);
  if (thread_running_) backend_->Kick();
  // It may be waiting inside a service (for console room): wake it.
  vm_->services_->InterruptWaits();
}

bool Vcpu::ServeRequests() {
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
    return true;
  }
}

void Vcpu::ThreadMain() {
  pthread_setname_np(pthread_self(),
                     absl::StrFormat("hvbios-vcpu%d", id_).c_str());
  if (absl::Status s = backend_->BindToCurrentThread(); !s.ok()) {
    vm_->RequestExit({.reason = VmExit::Reason::kHostError,
                      .vcpu_id = id_,
                      .message = std::string(s.message())});
  }
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
    if (exit->kind == VcpuExit::Kind::kHypercall) {
      const HypercallResult result =
          DispatchHypercall(*vm_->services_, id_, exit->hypercall);
      backend_->CompleteHypercall(result.status, result.value);
      continue;
    }
    if (exit->kind == VcpuExit::Kind::kCanceled) continue;
    if (exit->kind == VcpuExit::Kind::kNotify) {
      vm_->services_->Doorbell(exit->address);
      continue;
    }

    std::string message =
        absl::StrFormat("vCPU %d: %s", id_, DescribeExit(*exit));
    if (absl::StatusOr<Registers> regs = backend_->GetRegisters(); regs.ok()) {
      absl::StrAppend(&message, "\n", FormatRegisters(*regs));
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

// ---- Vm --------------------------------------------------------------------

Vm::Vm(std::unique_ptr<BackendVm> backend, std::unique_ptr<GuestMemory> memory,
       VmOptions options)
    : memory_(std::move(memory)),
      backend_(std::move(backend)),
      options_(std::move(options)),
      created_monotonic_ns_(ClockNs(CLOCK_MONOTONIC)),
      services_(std::make_unique<VmServices>(this)),
      vcpus_(options_.vcpu_count) {}

absl::Status ValidateVmOptions(const VmOptions& options) {
  RETURN_IF_ERROR(GuestMemory::ValidateSize(options.memory_bytes));
  RETURN_IF_ERROR(ValidateBootParams(
      {.vcpu_count = options.vcpu_count, .cmdline = options.cmdline}));
  if (options.disks.size() > kMaxDisks) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%d disks, at most %d supported", options.disks.size(), kMaxDisks));
  }
  for (const auto& disk : options.disks) {
    if (disk == nullptr || disk->size_bytes() == 0 ||
        disk->size_bytes() % HVB_BLOCK_SECTOR_SIZE != 0) {
      return absl::InvalidArgumentError(
          "every disk must exist and hold a whole number of 512-byte "
          "sectors");
    }
  }
  if (options.vcpu_count > kMaxVcpus) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%d vCPUs requested, at most %d supported",
                        options.vcpu_count, kMaxVcpus));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Vm>> Vm::Create(
    std::unique_ptr<BackendVm> backend, VmOptions options) {
  if (backend == nullptr) {
    return absl::InvalidArgumentError("Vm::Create: no backend");
  }
  RETURN_IF_ERROR(ValidateVmOptions(options));
  ASSIGN_OR_RETURN(GuestMemory memory,
                   GuestMemory::Create(options.memory_bytes));
  uint32_t slot = 0;
  for (const GuestMemory::Region& region : memory.regions()) {
    RETURN_IF_ERROR(
        backend->MapMemory(slot++, region.gpa, region.host, region.size));
  }
  return std::unique_ptr<Vm>(new Vm(
      std::move(backend), std::make_unique<GuestMemory>(std::move(memory)),
      std::move(options)));
}

Vm::~Vm() {
  std::vector<std::thread> threads;
  {
    MutexLock lock(&mu_);
    RequestExitLocked({.reason = VmExit::Reason::kStopped});
    for (auto& v : vcpus_) {
      if (v != nullptr && v->thread_.joinable()) {
        threads.push_back(std::move(v->thread_));
      }
    }
  }
  for (std::thread& t : threads) t.join();
  services_.reset();  // stops the timer thread before the vCPUs go
}

absl::Status Vm::LoadGuest(absl::Span<const uint8_t> elf) {
  ASSIGN_OR_RETURN(ElfImage image, ParseElf(elf));
  MutexLock lock(&mu_);
  if (boot_entry_.has_value()) {
    return absl::FailedPreconditionError(
        "a guest is already loaded in this VM; create a new VM");
  }
  RETURN_IF_ERROR(LoadElf(image, elf, *memory_));
  ASSIGN_OR_RETURN(
      LongModeEntry entry,
      BuildBootEnvironment(*memory_, image,
                           {.vcpu_count = options_.vcpu_count,
                            .cmdline = options_.cmdline,
                            .tsc_frequency_hz = backend_->tsc_frequency_hz(),
                            .disks_read_only = DisksReadOnly()},
                           *backend_));
  boot_entry_ = entry;
  return absl::OkStatus();
}

void Vm::InitClockPageLocked(BackendVcpu& vcpu) {
  // A failure leaves the page invalid: guests fall back to the hypercall.
  (void)PublishClockPage(*memory_, vcpu, backend_->tsc_frequency_hz(),
                         created_monotonic_ns_);
}

std::vector<bool> Vm::DisksReadOnly() const {
  std::vector<bool> read_only;
  for (const auto& disk : options_.disks)
    read_only.push_back(disk->read_only());
  return read_only;
}

absl::Status Vm::LoadGuestFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, ReadGuestImage(path));
  return LoadGuest(bytes);
}

absl::StatusOr<Vcpu*> Vm::GetOrCreateVcpuLocked(uint32_t id) {
  if (vcpus_[id] == nullptr) {
    ASSIGN_OR_RETURN(std::unique_ptr<BackendVcpu> backend,
                     backend_->CreateVcpu(id));
    vcpus_[id] = std::unique_ptr<Vcpu>(new Vcpu(this, id, std::move(backend)));
  }
  return vcpus_[id].get();
}

absl::StatusOr<Vcpu*> Vm::CreateVcpu(uint32_t id) {
  MutexLock lock(&mu_);
  if (id >= options_.vcpu_count) {
    return absl::OutOfRangeError(
        absl::StrFormat("vCPU id %d out of range: this VM has %d vCPU(s)", id,
                        options_.vcpu_count));
  }
  if (vcpus_[id] != nullptr) {
    return absl::AlreadyExistsError(
        absl::StrFormat("vCPU %d already exists", id));
  }
  return GetOrCreateVcpuLocked(id);
}

Vcpu* Vm::vcpu(uint32_t id) const {
  MutexLock lock(&mu_);
  return id < vcpus_.size() ? vcpus_[id].get() : nullptr;
}

absl::StatusOr<LongModeEntry> Vm::EntryFor(const VcpuEntry& entry) const {
  switch (CheckVcpuEntry(*memory_, entry.rip, entry.rsp, entry.cr3)) {
    case HVB_OK:
      return MakeApEntry(entry.rip, entry.rsp, entry.arg, entry.cr3);
    case HVB_ERR_FAULT:
      return absl::InvalidArgumentError(
          absl::StrFormat("entry 0x%x or stack 0x%x is not in guest RAM",
                          entry.rip, entry.rsp));
    default:
      return absl::InvalidArgumentError(absl::StrFormat(
          "stack 0x%x must be 16-byte aligned and cr3 0x%x 0 or a page of "
          "guest RAM",
          entry.rsp, entry.cr3));
  }
}

bool Vm::AnyVcpuActiveLocked(uint32_t except) const {
  for (const auto& v : vcpus_) {
    if (v != nullptr && v->id_ != except && !v->stop_requested_ &&
        (v->state_ == VcpuState::kRunning || v->state_ == VcpuState::kPaused)) {
      return true;
    }
  }
  return false;
}

absl::Status Vm::Pause() {
  RETURN_IF_ERROR(RefuseInsideCallback("Vm::Pause"));
  MutexLock lock(&mu_);
  if (exit_.has_value()) {
    return absl::FailedPreconditionError("the VM has stopped");
  }
  // From here until Resume(), vCPUs that start (a vcpu.start being served
  // right now included) start paused: no vCPU escapes the pause.
  paused_ = true;
  // Ask them all first, then wait: the pauses overlap.
  std::vector<std::pair<Vcpu*, uint64_t>> pausing;
  for (auto& v : vcpus_) {
    if (v != nullptr && v->state_ == VcpuState::kRunning) {
      pausing.push_back({v.get(), v->RequestPauseLocked()});
    }
  }
  mu_.Await([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return std::all_of(pausing.begin(), pausing.end(), [](const auto& p) {
      return p.first->PauseServedLocked(p.second);
    });
  });
  return absl::OkStatus();
}

absl::Status Vm::Resume() {
  RETURN_IF_ERROR(RefuseInsideCallback("Vm::Resume"));
  MutexLock lock(&mu_);
  if (exit_.has_value()) {
    return absl::FailedPreconditionError("the VM has stopped");
  }
  paused_ = false;
  std::vector<std::pair<Vcpu*, uint64_t>> resuming;
  for (auto& v : vcpus_) {
    if (v == nullptr || v->state_ != VcpuState::kPaused) continue;
    if (!v->parked_) {  // started during the pause, not parked yet
      v->pause_requested_ = false;
      v->state_ = VcpuState::kRunning;
      continue;
    }
    resuming.push_back({v.get(), v->RequestResumeLocked()});
  }
  mu_.Await([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return std::all_of(resuming.begin(), resuming.end(), [](const auto& p) {
      return p.first->ResumeServedLocked(p.second);
    });
  });
  return absl::OkStatus();
}

absl::Status Vm::RaiseEvent(uint32_t vcpu_id, uint8_t vector) {
  if (vcpu_id >= options_.vcpu_count) {
    return absl::OutOfRangeError(
        absl::StrFormat("vCPU id %d out of range: this VM has %d vCPU(s)",
                        vcpu_id, options_.vcpu_count));
  }
  if (vector < HVB_VECTOR_MIN || vector > HVB_VECTOR_MAX) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "vector %d outside %d..%d", vector, HVB_VECTOR_MIN, HVB_VECTOR_MAX));
  }
  switch (services_->RaiseEvent(vcpu_id, vector)) {
    case HVB_OK:
      return absl::OkStatus();
    case HVB_ERR_NODEV:
      return absl::FailedPreconditionError(absl::StrFormat(
          "vCPU %d does not exist (not created, or destroyed)", vcpu_id));
    default:
      return absl::InternalError("the hypervisor failed to raise the event");
  }
}

absl::StatusOr<VmExit> Vm::Wait(absl::Duration timeout) {
  RETURN_IF_ERROR(RefuseInsideCallback("Vm::Wait"));
  const absl::Time deadline = absl::Now() + timeout;  // saturates
  VmExit exit;
  {
    MutexLock lock(&mu_);
    if (!ever_started_ && !exit_.has_value()) {
      return absl::FailedPreconditionError(
          "no vCPU was started: start the boot vCPU before waiting");
    }
    if (!mu_.AwaitWithTimeout(
            [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
              return exit_.has_value() && live_threads_ == 0;
            },
            deadline - absl::Now())) {
      return absl::DeadlineExceededError(absl::StrFormat(
          "the VM is still running after %s", absl::FormatDuration(timeout)));
    }
    exit = *exit_;
  }
  // Everything the guest wrote reaches the console sink before Wait says
  // the VM is over (the sink runs unlocked: it may call Stop(), say).
  if (!services_->AwaitConsoleDelivered(deadline - absl::Now())) {
    return absl::DeadlineExceededError(absl::StrFormat(
        "the VM has stopped, but the console output sink has not taken all "
        "of its output after %s",
        absl::FormatDuration(timeout)));
  }
  return exit;
}

absl::Status Vm::ReadGuestMemory(uint64_t gpa, void* dst, size_t length) const {
  if (!memory_->Read(gpa, dst, length)) {
    return absl::OutOfRangeError(absl::StrFormat(
        "guest range [0x%x, +0x%x) is not entirely in RAM", gpa, length));
  }
  return absl::OkStatus();
}

absl::Status Vm::WriteGuestMemory(uint64_t gpa, const void* src,
                                  size_t length) {
  if (!memory_->Write(gpa, src, length)) {
    return absl::OutOfRangeError(absl::StrFormat(
        "guest range [0x%x, +0x%x) is not entirely in RAM", gpa, length));
  }
  return absl::OkStatus();
}

void Vm::Stop() { RequestExit({.reason = VmExit::Reason::kStopped}); }

size_t Vm::PushConsoleInput(absl::string_view bytes) {
  return services_->PushConsoleInput(bytes);
}

void Vm::RequestExit(VmExit exit) {
  MutexLock lock(&mu_);
  RequestExitLocked(std::move(exit));
}

void Vm::RequestExitLocked(VmExit exit) {
  if (!exit_.has_value()) exit_ = std::move(exit);
  for (auto& v : vcpus_) {
    if (v != nullptr && v->thread_running_) {
      v->exit_requested_ = true;
      v->NotifyLocked();
    }
  }
}

}  // namespace hvbios
