// The hvbios C++ API: a VM that boots a guest image and serves its
// hypercalls (docs/abi.md) on library-owned vCPU threads.
//
// Typical use (see tools/hvbios-run and examples/vmm):
//
//   ASSIGN_OR_RETURN(std::unique_ptr<hvbios::Vm> vm,
//                    hvbios::CreateKvmVm(options));   // hvbios/kvm.h
//   RETURN_IF_ERROR(vm->LoadGuestFile("hello.elf"));
//   ASSIGN_OR_RETURN(hvbios::Vcpu* boot, vm->CreateVcpu(0));
//   RETURN_IF_ERROR(boot->Start());
//   ASSIGN_OR_RETURN(hvbios::VmExit exit, vm->Wait());
//
// Thread-safety: every method of Vm and Vcpu may be called from any thread.
// Lifetime: a Vm owns its Vcpus; Vcpu pointers are valid until the Vm is
// destroyed. Destroying a Vm stops its vCPUs and joins their threads.
#ifndef HVBIOS_VM_H_
#define HVBIOS_VM_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "hvbios/backend.h"

namespace hvbios {

class GuestMemory;
class VmServices;

struct VmOptions {
  // Guest RAM in bytes: a multiple of 2 MiB, from 2 MiB to 64 GiB.
  uint64_t memory_bytes = 128ull << 20;
  // vCPUs the guest is told about (boot info); ids 0 .. vcpu_count - 1.
  uint32_t vcpu_count = 1;
  // The guest's command line (boot info), at most 4095 bytes, no NUL.
  std::string cmdline;
  // Receives the guest's console output. Called on vCPU threads, possibly
  // from several at once: must be thread-safe. Unset: output is discarded.
  std::function<void(absl::string_view)> console_output;
};

// InvalidArgument, with a one-line message, if Vm::Create() would reject
// `options` (before any hypervisor resource is touched).
absl::Status ValidateVmOptions(const VmOptions& options);

enum class VcpuState {
  kCreated,  // exists, never started
  kRunning,  // its thread is running (in the guest or serving an exit)
  kStopped,  // its thread has ended; the vCPU will not run again
};

// Why a VM stopped.
struct VmExit {
  enum class Reason {
    kShutdown,    // the guest called power.shutdown; see exit_code
    kReboot,      // the guest called power.reboot
    kGuestFault,  // the guest did something the platform cannot serve
                  // (triple fault, unemulatable instruction, unknown port,
                  // halt with nothing to wake it); see vcpu_id, message
    kStopped,     // the host called Vm::Stop()
    kHostError,   // the hypervisor failed; see message
  };
  Reason reason = Reason::kStopped;
  int exit_code = 0;     // kShutdown: 0..255
  uint32_t vcpu_id = 0;  // kGuestFault / kHostError
  // kGuestFault / kHostError: the reason on the first line, then the
  // faulting vCPU's registers.
  std::string message;
};

absl::string_view VmExitReasonName(VmExit::Reason reason);

// Reads a guest image file (at most 1 GiB). NotFound / PermissionDenied /
// InvalidArgument with a one-line message naming the file.
absl::StatusOr<std::vector<uint8_t>> ReadGuestImage(const std::string& path);

// Formats registers for diagnostics, several lines.
std::string FormatRegisters(const Registers& regs);

class Vm;

// One virtual CPU. Owned by its Vm.
class Vcpu {
 public:
  Vcpu(const Vcpu&) = delete;
  Vcpu& operator=(const Vcpu&) = delete;
  ~Vcpu();

  uint32_t id() const { return id_; }

  // Starts the boot vCPU (id 0) on a new thread named "hvbios-vcpu0", at
  // the loaded guest's entry with the boot protocol's register state.
  // Errors: FailedPrecondition if no guest is loaded, the vCPU was already
  // started, or the VM has stopped; InvalidArgument for another id (other
  // vCPUs are brought up by the guest, docs/abi.md).
  absl::Status Start();

  VcpuState state() const;

  // The vCPU's registers. FailedPrecondition while it runs.
  absl::StatusOr<Registers> GetRegisters() const;

 private:
  friend class Vm;
  Vcpu(Vm* vm, uint32_t id, std::unique_ptr<BackendVcpu> backend);

  // Body of the vCPU thread: enter the guest, serve exits, until asked to
  // stop or the guest faults.
  void ThreadMain(LongModeEntry entry);
  // Makes the thread leave the guest and end. Vm::mu_ held.
  void RequestStop();

  Vm* const vm_;
  const uint32_t id_;
  const std::unique_ptr<BackendVcpu> backend_;
  // Checked by the vCPU thread before every guest entry; set before kicking.
  std::atomic<bool> stop_requested_{false};
  std::thread thread_;  // started once, joined by ~Vm
};

class Vm {
 public:
  // Creates a VM on `backend` (e.g. hvbios::kvm::CreateKvmBackendVm(), or
  // use hvbios::CreateKvmVm() from hvbios/kvm.h) with `options.memory_bytes`
  // of RAM mapped into it.
  static absl::StatusOr<std::unique_ptr<Vm>> Create(
      std::unique_ptr<BackendVm> backend, VmOptions options);

  Vm(const Vm&) = delete;
  Vm& operator=(const Vm&) = delete;
  // Stops every vCPU and joins its thread.
  ~Vm();

  // Loads a guest image (boot protocol, docs/abi.md) and builds the boot
  // environment. Once per VM, before starting the boot vCPU.
  // InvalidArgument, with a one-line message, for an image that is not a
  // static x86-64 ELF executable fitting in this VM's RAM above 1 MiB.
  absl::Status LoadGuest(absl::Span<const uint8_t> elf);
  // Same, reading the image from a file (NotFound etc. if unreadable).
  absl::Status LoadGuestFile(const std::string& path);

  // Creates vCPU `id` (0 .. vcpu_count - 1), once per id.
  absl::StatusOr<Vcpu*> CreateVcpu(uint32_t id);
  // The vCPU with this id, or nullptr if not created.
  Vcpu* vcpu(uint32_t id) const;

  // Blocks until the VM has stopped and all its vCPU threads have left the
  // guest, then says why. DeadlineExceeded if still running after
  // `timeout` (the VM keeps running); FailedPrecondition if no vCPU runs
  // and the VM never stopped (nothing to wait for).
  absl::StatusOr<VmExit> Wait(
      absl::Duration timeout = absl::InfiniteDuration());

  // Stops the VM (reason kStopped unless it already stopped). Returns at
  // once; Wait() tells when every vCPU is out.
  void Stop();

  // Queues bytes for the guest's console.read. Returns how many were
  // accepted (the queue holds at most 64 KiB).
  size_t PushConsoleInput(absl::string_view bytes);

  const GuestMemory& memory() const { return *memory_; }
  const VmOptions& options() const { return options_; }

 private:
  friend class Vcpu;
  friend class VmServices;

  Vm(std::unique_ptr<BackendVm> backend, std::unique_ptr<GuestMemory> memory,
     VmOptions options);

  // Records why the VM stops (the first reason wins) and stops all vCPUs.
  void RequestExit(VmExit exit) ABSL_LOCKS_EXCLUDED(mu_);
  void StopAllVcpusLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnVcpuThreadExit(uint32_t id) ABSL_LOCKS_EXCLUDED(mu_);

  // Guest RAM is declared first so it is unmapped last: the backend maps it
  // and must be gone before it (BackendVm::MapMemory contract).
  const std::unique_ptr<GuestMemory> memory_;
  const std::unique_ptr<BackendVm> backend_;
  const VmOptions options_;
  const uint64_t created_monotonic_ns_;  // clock.monotonic counts from here
  std::unique_ptr<VmServices> services_;

  mutable absl::Mutex mu_;
  std::optional<LongModeEntry> boot_entry_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Vcpu>> vcpus_ ABSL_GUARDED_BY(mu_);
  std::vector<VcpuState> vcpu_states_ ABSL_GUARDED_BY(mu_);
  int running_vcpus_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<VmExit> exit_ ABSL_GUARDED_BY(mu_);

  absl::Mutex console_mu_;
  std::string console_input_ ABSL_GUARDED_BY(console_mu_);
};

}  // namespace hvbios

#endif  // HVBIOS_VM_H_
