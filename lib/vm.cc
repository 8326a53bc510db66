#include "hvbios/vm.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <iterator>
#include <utility>

#include "absl/strings/str_format.h"
#include "lib/boot_setup.h"
#include "lib/elf_loader.h"
#include "lib/guest_memory.h"
#include "lib/hypercall.h"
#include "lib/status_macros.h"
#include "lib/unique_fd.h"

namespace hvbios {
namespace {

constexpr size_t kConsoleInputCapacity = 64 * 1024;
constexpr uint32_t kMaxVcpus = 256;
// Largest image file read at all; larger ones cannot fit any VM anyway.
constexpr uint64_t kMaxImageFileBytes = 1ull << 30;

uint64_t ClockNs(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<uint64_t>(ts.tv_nsec);
}

std::string DescribeExit(const VcpuExit& exit) {
  switch (exit.kind) {
    case VcpuExit::Kind::kHalt:
      return "halted (hlt) with no event source that could wake it";
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
      break;
  }
  return "unexpected exit";
}

}  // namespace

absl::StatusOr<std::vector<uint8_t>> ReadGuestImage(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return ErrnoStatus(errno,
                       absl::StrFormat("cannot open guest image '%s'", path));
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0) {
    return ErrnoStatus(errno, absl::StrFormat("cannot stat '%s'", path));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("guest image '%s' is not a regular file", path));
  }
  if (static_cast<uint64_t>(st.st_size) > kMaxImageFileBytes) {
    return absl::InvalidArgumentError(
        absl::StrFormat("guest image '%s' is larger than 1 GiB", path));
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = read(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return ErrnoStatus(errno, absl::StrFormat("cannot read '%s'", path));
    }
    if (n == 0) break;  // shrank while reading: parse what is there
    done += static_cast<size_t>(n);
  }
  bytes.resize(done);
  return bytes;
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

// The services' view of a Vm.
class VmServices final : public ServiceHost {
 public:
  explicit VmServices(Vm* vm) : vm_(vm) {}

  const GuestMemory& memory() const override { return *vm_->memory_; }
  uint32_t implementation_id() const override {
    return vm_->backend_->implementation_id();
  }
  void ConsoleWrite(absl::string_view bytes) override {
    if (vm_->options_.console_output) vm_->options_.console_output(bytes);
  }
  size_t ConsoleRead(uint8_t* dst, size_t capacity) override {
    absl::MutexLock lock(&vm_->console_mu_);
    const size_t n = std::min(capacity, vm_->console_input_.size());
    std::copy_n(vm_->console_input_.data(), n, dst);
    vm_->console_input_.erase(0, n);
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

 private:
  Vm* const vm_;
};

// ---- Vcpu ------------------------------------------------------------------

Vcpu::Vcpu(Vm* vm, uint32_t id, std::unique_ptr<BackendVcpu> backend)
    : vm_(vm), id_(id), backend_(std::move(backend)) {}

Vcpu::~Vcpu() = default;

VcpuState Vcpu::state() const {
  absl::MutexLock lock(&vm_->mu_);
  return vm_->vcpu_states_[id_];
}

absl::Status Vcpu::Start() {
  absl::MutexLock lock(&vm_->mu_);
  if (id_ != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "vCPU %d: only the boot vCPU (0) starts at the guest's entry; the "
        "guest brings up the others",
        id_));
  }
  if (vm_->vcpu_states_[id_] != VcpuState::kCreated) {
    return absl::FailedPreconditionError(
        absl::StrFormat("vCPU %d was already started", id_));
  }
  if (vm_->exit_.has_value()) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "the VM has stopped (%s)", VmExitReasonName(vm_->exit_->reason)));
  }
  if (!vm_->boot_entry_.has_value()) {
    return absl::FailedPreconditionError(
        "no guest loaded: call LoadGuest() before starting the boot vCPU");
  }
  vm_->vcpu_states_[id_] = VcpuState::kRunning;
  ++vm_->running_vcpus_;
  thread_ = std::thread(&Vcpu::ThreadMain, this, *vm_->boot_entry_);
  return absl::OkStatus();
}

absl::StatusOr<Registers> Vcpu::GetRegisters() const {
  if (state() == VcpuState::kRunning) {
    return absl::FailedPreconditionError(
        absl::StrFormat("vCPU %d is running; stop the VM first", id_));
  }
  return backend_->GetRegisters();
}

void Vcpu::RequestStop() {
  stop_requested_.store(true, std::memory_order_release);
  backend_->Kick();
}

void Vcpu::ThreadMain(LongModeEntry entry) {
  pthread_setname_np(pthread_self(),
                     absl::StrFormat("hvbios-vcpu%d", id_).c_str());
  absl::Status setup = backend_->BindToCurrentThread();
  if (setup.ok()) setup = backend_->SetEntryState(entry);
  if (!setup.ok()) {
    vm_->RequestExit({.reason = VmExit::Reason::kHostError,
                      .vcpu_id = id_,
                      .message = std::string(setup.message())});
  }
  // The flag is read before every entry; a stop request sets it before
  // kicking, so a kick that lands between this check and KVM_RUN still
  // makes the entry return at once (backend contract).
  while (setup.ok() && !stop_requested_.load(std::memory_order_acquire)) {
    absl::StatusOr<VcpuExit> exit = backend_->Run();
    if (!exit.ok()) {
      vm_->RequestExit({.reason = VmExit::Reason::kHostError,
                        .vcpu_id = id_,
                        .message = std::string(exit.status().message())});
      break;
    }
    if (exit->kind == VcpuExit::Kind::kHypercall) {
      const HypercallResult result =
          DispatchHypercall(*vm_->services_, exit->hypercall);
      backend_->CompleteHypercall(result.status, result.value);
      continue;
    }
    if (exit->kind == VcpuExit::Kind::kCanceled) continue;

    std::string message =
        absl::StrFormat("vCPU %d: %s", id_, DescribeExit(*exit));
    if (absl::StatusOr<Registers> regs = backend_->GetRegisters(); regs.ok()) {
      absl::StrAppend(&message, "\n", FormatRegisters(*regs));
    }
    vm_->RequestExit({.reason = VmExit::Reason::kGuestFault,
                      .vcpu_id = id_,
                      .message = std::move(message)});
    break;
  }
  vm_->OnVcpuThreadExit(id_);
}

// ---- Vm --------------------------------------------------------------------

Vm::Vm(std::unique_ptr<BackendVm> backend, std::unique_ptr<GuestMemory> memory,
       VmOptions options)
    : memory_(std::move(memory)),
      backend_(std::move(backend)),
      options_(std::move(options)),
      created_monotonic_ns_(ClockNs(CLOCK_MONOTONIC)),
      services_(std::make_unique<VmServices>(this)),
      vcpus_(options_.vcpu_count),
      vcpu_states_(options_.vcpu_count, VcpuState::kCreated) {}

absl::Status ValidateVmOptions(const VmOptions& options) {
  RETURN_IF_ERROR(GuestMemory::ValidateSize(options.memory_bytes));
  RETURN_IF_ERROR(ValidateBootParams(
      {.vcpu_count = options.vcpu_count, .cmdline = options.cmdline}));
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
  RequestExit({.reason = VmExit::Reason::kStopped});
  std::vector<Vcpu*> vcpus;
  {
    absl::MutexLock lock(&mu_);
    for (auto& v : vcpus_) {
      if (v != nullptr) vcpus.push_back(v.get());
    }
  }
  for (Vcpu* v : vcpus) {
    if (v->thread_.joinable()) v->thread_.join();
  }
}

absl::Status Vm::LoadGuest(absl::Span<const uint8_t> elf) {
  ASSIGN_OR_RETURN(ElfImage image, ParseElf(elf));
  absl::MutexLock lock(&mu_);
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
                            .tsc_frequency_hz = backend_->tsc_frequency_hz()},
                           *backend_));
  boot_entry_ = entry;
  return absl::OkStatus();
}

absl::Status Vm::LoadGuestFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, ReadGuestImage(path));
  return LoadGuest(bytes);
}

absl::StatusOr<Vcpu*> Vm::CreateVcpu(uint32_t id) {
  absl::MutexLock lock(&mu_);
  if (id >= options_.vcpu_count) {
    return absl::OutOfRangeError(
        absl::StrFormat("vCPU id %d out of range: this VM has %d vCPU(s)", id,
                        options_.vcpu_count));
  }
  if (vcpus_[id] != nullptr) {
    return absl::AlreadyExistsError(
        absl::StrFormat("vCPU %d already exists", id));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<BackendVcpu> backend,
                   backend_->CreateVcpu(id));
  vcpus_[id] = std::unique_ptr<Vcpu>(new Vcpu(this, id, std::move(backend)));
  return vcpus_[id].get();
}

Vcpu* Vm::vcpu(uint32_t id) const {
  absl::MutexLock lock(&mu_);
  return id < vcpus_.size() ? vcpus_[id].get() : nullptr;
}

absl::StatusOr<VmExit> Vm::Wait(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  if (running_vcpus_ == 0 && !exit_.has_value()) {
    return absl::FailedPreconditionError(
        "no vCPU is running: start the boot vCPU before waiting");
  }
  auto stopped = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return exit_.has_value() && running_vcpus_ == 0;
  };
  if (!mu_.AwaitWithTimeout(absl::Condition(&stopped), timeout)) {
    return absl::DeadlineExceededError(absl::StrFormat(
        "the VM is still running after %s", absl::FormatDuration(timeout)));
  }
  return *exit_;
}

void Vm::Stop() { RequestExit({.reason = VmExit::Reason::kStopped}); }

size_t Vm::PushConsoleInput(absl::string_view bytes) {
  absl::MutexLock lock(&console_mu_);
  const size_t n =
      std::min(bytes.size(), kConsoleInputCapacity - console_input_.size());
  console_input_.append(bytes.data(), n);
  return n;
}

void Vm::RequestExit(VmExit exit) {
  absl::MutexLock lock(&mu_);
  if (!exit_.has_value()) exit_ = std::move(exit);
  StopAllVcpusLocked();
}

void Vm::StopAllVcpusLocked() {
  for (size_t id = 0; id < vcpus_.size(); ++id) {
    if (vcpu_states_[id] == VcpuState::kRunning) vcpus_[id]->RequestStop();
  }
}

void Vm::OnVcpuThreadExit(uint32_t id) {
  absl::MutexLock lock(&mu_);
  vcpu_states_[id] = VcpuState::kStopped;
  --running_vcpus_;
  // A vCPU thread ends only when the VM stops (ABI 0.1 has no vcpu.stop).
  if (!exit_.has_value()) exit_ = VmExit{.reason = VmExit::Reason::kStopped};
}

}  // namespace hvbios
