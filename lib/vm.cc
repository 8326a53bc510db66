// hvbios::Vm: the VM's lifecycle (docs/architecture.md, "vCPU
// lifecycle", "Threads and stopping") and its ServiceContext.
#include <time.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_format.h"
#include "common/vcpu.h"
#include "hvbios/abi/hypercall.h"
#include "hvbios/abi/status.h"
#include "lib/boot_setup.h"
#include "lib/clock.h"
#include "lib/elf_loader.h"
#include "lib/status_macros.h"
#include "lib/threads.h"
#include "lib/vm_impl.h"

namespace hvbios {

VmImpl::VmImpl(std::unique_ptr<BackendVm> backend,
               std::unique_ptr<GuestMemory> memory, VmOptions options)
    : memory_(std::move(memory)),
      backend_(std::move(backend)),
      options_(std::move(options)),
      created_monotonic_ns_(ClockNs(CLOCK_MONOTONIC)),
      services_(std::make_unique<Services>(
          *this, ServicesOptions{.console_output = options_.console_output,
                                 .disks = options_.disks,
                                 .nets = options_.nets,
                                 .vendor_services = options_.services})),
      vcpus_(options_.vcpu_count) {}

absl::StatusOr<std::unique_ptr<VmImpl>> VmImpl::Create(
    std::unique_ptr<BackendVm> backend, VmOptions options) {
  if (backend == nullptr) {
    return absl::InvalidArgumentError("Vm::Create: no backend");
  }
  RETURN_IF_ERROR(ValidateVmOptions(options));
  ASSIGN_OR_RETURN(std::unique_ptr<GuestMemory> memory,
                   GuestMemory::Create(options.memory_bytes));
  for (const GuestMemory::Region& region : memory->base_regions()) {
    RETURN_IF_ERROR(
        backend->MapMemory(region.id, region.gpa, region.host, region.size));
  }
  for (NetDeviceConfig& net : options.nets) {
    if (net.mac == std::array<uint8_t, 6>{}) net.mac = RandomMacAddress();
  }
  auto vm = std::unique_ptr<VmImpl>(
      new VmImpl(std::move(backend), std::move(memory), std::move(options)));
  RETURN_IF_ERROR(vm->services_->Start());
  return vm;
}

absl::StatusOr<std::unique_ptr<Vm>> Vm::Create(
    std::unique_ptr<BackendVm> backend, VmOptions options) {
  ASSIGN_OR_RETURN(std::unique_ptr<VmImpl> vm,
                   VmImpl::Create(std::move(backend), std::move(options)));
  return vm;
}

VmImpl::~VmImpl() {
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
  services_.reset();  // stops the services' threads before the vCPUs go
}

absl::Status VmImpl::LoadGuest(absl::Span<const uint8_t> elf) {
  ASSIGN_OR_RETURN(ElfImage image, ParseElf(elf));
  // The layout lock keeps regions from coming and going meanwhile; the VM
  // mutex is not held while the memory map is replaced (that waits for
  // vCPUs inside hypercalls, which may need the VM mutex).
  MutexLock layout(&layout_mu_);
  {
    MutexLock lock(&mu_);
    if (boot_entry_.has_value()) {
      return absl::FailedPreconditionError(
          "a guest is already loaded in this VM; create a new VM");
    }
  }
  RETURN_IF_ERROR(LoadElf(image, elf, *memory_));
  ASSIGN_OR_RETURN(
      LongModeEntry entry,
      BuildBootEnvironment(
          *memory_, image,
          {.vcpu_count = options_.vcpu_count,
           .cmdline = options_.cmdline,
           .tsc_frequency_hz = backend_->tsc_frequency_hz(),
           .disks_read_only =
               [this] {
                 std::vector<bool> read_only;
                 for (const auto& disk : options_.disks) {
                   read_only.push_back(disk->read_only());
                 }
                 return read_only;
               }(),
           .net_count = static_cast<uint32_t>(options_.nets.size()),
           .vendor_devices = FreezeDevices()},
          *backend_));
  MutexLock lock(&mu_);
  boot_entry_ = entry;
  return absl::OkStatus();
}

void VmImpl::InitClockPageLocked(BackendVcpu& vcpu) {
  // A failure leaves the page invalid: guests use the hypercall.
  absl::StatusOr<std::unique_ptr<CoarseClockWord>> coarse =
      PublishClockPage(*memory_, vcpu, backend_->tsc_frequency_hz(),
                       created_monotonic_ns_, options_.coarse_clock);
  if (coarse.ok()) coarse_clock_ = *std::move(coarse);
}

absl::Status VmImpl::LoadGuestFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, ReadGuestImage(path));
  return LoadGuest(bytes);
}

absl::StatusOr<VcpuImpl*> VmImpl::GetOrCreateVcpuLocked(uint32_t id) {
  if (vcpus_[id] == nullptr) {
    ASSIGN_OR_RETURN(std::unique_ptr<BackendVcpu> backend,
                     backend_->CreateVcpu(id));
    vcpus_[id] = std::make_unique<VcpuImpl>(this, id, std::move(backend));
  }
  return vcpus_[id].get();
}

absl::StatusOr<Vcpu*> VmImpl::CreateVcpu(uint32_t id) {
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

Vcpu* VmImpl::vcpu(uint32_t id) const {
  MutexLock lock(&mu_);
  return id < vcpus_.size() ? vcpus_[id].get() : nullptr;
}

absl::StatusOr<LongModeEntry> VmImpl::EntryFor(const VcpuEntry& entry) const {
  GuestMemory::Access access(*memory_);
  const std::vector<hvb_mem_region>& map = memory_->memory_map();
  // The id check passes: the host names the vCPU through its handle.
  switch (hvb_vcpu_check_start(map.data(), static_cast<uint32_t>(map.size()), 1,
                               0, entry.rip, entry.rsp, entry.cr3)) {
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

bool VmImpl::AnyVcpuActiveLocked(uint32_t except) const {
  for (const auto& v : vcpus_) {
    if (v != nullptr && v->id_ != except && !v->stop_requested_ &&
        (v->state_ == VcpuState::kRunning || v->state_ == VcpuState::kPaused)) {
      return true;
    }
  }
  return false;
}

absl::Status VmImpl::Pause() {
  RETURN_IF_ERROR(RefuseInsideCallback("Vm::Pause"));
  MutexLock lock(&mu_);
  if (exit_.has_value()) {
    return absl::FailedPreconditionError("the VM has stopped");
  }
  // From here until Resume(), vCPUs that start (a vcpu.start being served
  // right now included) start paused: no vCPU escapes the pause.
  paused_ = true;
  // Ask them all first, then wait: the pauses overlap.
  std::vector<std::pair<VcpuImpl*, uint64_t>> pausing;
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

absl::Status VmImpl::Resume() {
  RETURN_IF_ERROR(RefuseInsideCallback("Vm::Resume"));
  MutexLock lock(&mu_);
  if (exit_.has_value()) {
    return absl::FailedPreconditionError("the VM has stopped");
  }
  ResumeLocked(std::nullopt);
  return absl::OkStatus();
}

void VmImpl::ResumeLocked(std::optional<uint32_t> only) {
  if (!only.has_value()) paused_ = false;
  std::vector<std::pair<VcpuImpl*, uint64_t>> resuming;
  for (auto& v : vcpus_) {
    if (v == nullptr || v->state_ != VcpuState::kPaused) continue;
    if (only.has_value() && v->id_ != *only) continue;
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
}

absl::Status VmImpl::RaiseEvent(uint32_t vcpu_id, uint8_t vector) {
  if (vcpu_id >= options_.vcpu_count) {
    return absl::OutOfRangeError(
        absl::StrFormat("vCPU id %d out of range: this VM has %d vCPU(s)",
                        vcpu_id, options_.vcpu_count));
  }
  if (vector < HVB_VECTOR_MIN || vector > HVB_VECTOR_MAX) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "vector %d outside %d..%d", vector, HVB_VECTOR_MIN, HVB_VECTOR_MAX));
  }
  switch (services_->events().Raise(vcpu_id, vector)) {
    case HVB_OK:
      return absl::OkStatus();
    case HVB_ERR_NODEV:
      return absl::FailedPreconditionError(absl::StrFormat(
          "vCPU %d does not exist (not created, or destroyed)", vcpu_id));
    default:
      return absl::InternalError("the hypervisor failed to raise the event");
  }
}

absl::StatusOr<VmExit> VmImpl::Wait(absl::Duration timeout) {
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
  if (!services_->console().AwaitDelivered(deadline - absl::Now())) {
    return absl::DeadlineExceededError(absl::StrFormat(
        "the VM has stopped, but the console output sink has not taken all "
        "of its output after %s",
        absl::FormatDuration(timeout)));
  }
  return exit;
}

absl::Status VmImpl::ReadGuestMemory(uint64_t gpa, void* dst,
                                     size_t length) const {
  GuestMemory::Access access(*memory_);
  if (!memory_->Read(gpa, dst, length)) {
    return absl::OutOfRangeError(absl::StrFormat(
        "guest range [0x%x, +0x%x) is not entirely in RAM", gpa, length));
  }
  return absl::OkStatus();
}

absl::Status VmImpl::WriteGuestMemory(uint64_t gpa, const void* src,
                                      size_t length) {
  GuestMemory::Access access(*memory_);
  if (!memory_->Write(gpa, src, length)) {
    return absl::OutOfRangeError(absl::StrFormat(
        "guest range [0x%x, +0x%x) is not entirely in RAM", gpa, length));
  }
  return absl::OkStatus();
}

void VmImpl::Stop() { RequestExit({.reason = VmExit::Reason::kStopped}); }

size_t VmImpl::PushConsoleInput(absl::string_view bytes) {
  return services_->console().PushInput(bytes);
}

void VmImpl::RequestExit(const VmExit& exit) {
  MutexLock lock(&mu_);
  RequestExitLocked(exit);
}

std::string VmImpl::CallerRegisters(uint32_t caller) {
  BackendVcpu* vcpu = nullptr;
  {
    MutexLock lock(&mu_);
    if (caller < vcpus_.size() && vcpus_[caller] != nullptr) {
      vcpu = vcpus_[caller]->backend_.get();  // alive: it is making the call
    }
  }
  if (vcpu == nullptr) return "";
  absl::StatusOr<Registers> regs = vcpu->GetRegisters();
  return regs.ok() ? FormatRegisters(*regs) : "";
}

void VmImpl::RequestExitLocked(const VmExit& exit) {
  if (!exit_.has_value()) exit_ = exit;
  WakeDebuggerLocked();
  for (auto& v : vcpus_) {
    if (v != nullptr && v->thread_running_) {
      v->exit_requested_ = true;
      v->NotifyLocked();
    }
  }
}

// ---- ServiceContext: what the services need of the VM ---------------------

int64_t VmImpl::StartVcpu(uint32_t id, const LongModeEntry& entry) {
  MutexLock lock(&mu_);
  absl::StatusOr<VcpuImpl*> vcpu = GetOrCreateVcpuLocked(id);
  if (!vcpu.ok()) return HVB_ERR_NOMEM;
  if ((*vcpu)->state_ == VcpuState::kDestroyed) return HVB_ERR_NODEV;
  const absl::Status s = (*vcpu)->StartLocked(entry);
  if (s.ok()) return HVB_OK;
  return absl::IsFailedPrecondition(s) ? HVB_ERR_STATE : HVB_ERR_NOMEM;
}

void VmImpl::StopVcpu(uint32_t caller) {
  MutexLock lock(&mu_);
  // The thread stops itself once this call is answered (ServeRequests):
  // until then it still owns its backend vCPU, so a vcpu.start of it
  // meanwhile gets HVB_ERR_STATE, as for any running vCPU.
  VcpuImpl* vcpu = vcpus_[caller].get();
  vcpu->stop_requested_ = true;
  vcpu->attention_.store(true, std::memory_order_release);
  if (!AnyVcpuActiveLocked(/*except=*/caller)) {
    RequestExitLocked(
        {.reason = VmExit::Reason::kGuestFault,
         .vcpu_id = caller,
         .message = absl::StrFormat(
             "vCPU %d stopped itself (vcpu.stop) and no vCPU is left running",
             caller)});
  }
}

int64_t VmImpl::VcpuStateOf(uint32_t id) {
  MutexLock lock(&mu_);
  const VcpuImpl* vcpu = vcpus_[id].get();
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

bool VmImpl::VcpuCanTakeEvents(uint32_t id) {
  MutexLock lock(&mu_);
  const VcpuImpl* target = id < vcpus_.size() ? vcpus_[id].get() : nullptr;
  return target != nullptr && target->state_ != VcpuState::kDestroyed;
}

}  // namespace hvbios
