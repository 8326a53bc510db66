// hyperv_bios_sandbox_install (hvbios.h): the KVM backend's seccomp sandbox
// (hvbios/sandbox.h) for C VMMs, with the KVM device opened beforehand and
// kept for the VMs created inside it.
#include <fcntl.h>

#include <atomic>
#include <cerrno>
#include <mutex>

#include "capi/c_api_internal.h"
#include "hvbios/kvm_backend.h"
#include "hvbios/sandbox.h"
#include "lib/status_macros.h"
#include "lib/unique_fd.h"

namespace hvbios::capi {
namespace {

// The KVM device VMs are created from once the sandbox is in place: opened
// by the installation, never closed (the sandbox is for good too).
std::atomic<int> sandbox_kvm_device{-1};
// Serialises installations: a second one must fail before it opens
// anything, for the first forbids open().
std::mutex install_mu;

}  // namespace

int SandboxKvmDevice() { return sandbox_kvm_device.load(); }

}  // namespace hvbios::capi

extern "C" {

using hvbios::capi::Fail;
using hvbios::capi::Guard;

int hyperv_bios_sandbox_install(const hyperv_bios_sandbox_config* config) {
  return Guard(__func__, [&]() -> int {
    hyperv_bios_sandbox_config c = {};
    if (config != nullptr) {
      if (absl::Status s = hvbios::capi::CopyIn(
              config, sizeof(hyperv_bios_sandbox_config), "config", &c);
          !s.ok()) {
        return Fail(s.code(),
                    absl::StrCat("hyperv_bios_sandbox_install: ", s.message()));
      }
    }
    hvbios::kvm::SandboxOptions options;
    if (c.program != nullptr) options.program = c.program;
    if (c.exit_status != 0) options.exit_status = c.exit_status;
    if (c.extra_syscall_count > 0 && c.extra_syscalls == nullptr) {
      return Fail(absl::StatusCode::kInvalidArgument,
                  "hyperv_bios_sandbox_install: extra_syscalls is NULL");
    }
    for (uint32_t i = 0; i < c.extra_syscall_count; ++i) {
      if (c.extra_syscalls[i] == nullptr) {
        return Fail(absl::StatusCode::kInvalidArgument,
                    "hyperv_bios_sandbox_install: a NULL extra_syscalls name");
      }
      options.extra_syscalls.emplace_back(c.extra_syscalls[i]);
    }
    std::lock_guard<std::mutex> lock(hvbios::capi::install_mu);
    std::string why;
    if (!hvbios::kvm::SandboxAvailable(&why)) {
      return Fail(absl::StatusCode::kFailedPrecondition,
                  absl::StrCat("hyperv_bios_sandbox_install: ", why));
    }
    if (hvbios::capi::SandboxKvmDevice() >= 0) {
      return Fail(absl::StatusCode::kFailedPrecondition,
                  "hyperv_bios_sandbox_install: the sandbox is already "
                  "installed");
    }
    const hvbios::kvm::KvmOptions defaults;
    hvbios::UniqueFd device(open(defaults.device.c_str(), O_RDWR | O_CLOEXEC));
    if (!device.valid()) {
      return Fail(hvbios::ErrnoStatus(
          errno,
          absl::StrCat("hyperv_bios_sandbox_install: open ", defaults.device)));
    }
    if (absl::Status s = hvbios::kvm::InstallSandbox(options); !s.ok()) {
      return Fail(s.code(),
                  absl::StrCat("hyperv_bios_sandbox_install: ", s.message()));
    }
    hvbios::capi::sandbox_kvm_device.store(device.release());
    return hvbios::capi::Succeed();
  });
}

}  // extern "C"
