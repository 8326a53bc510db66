// The KVM backend (backends/kvm/): hvbios::BackendVm over /dev/kvm
// (Documentation/virt/kvm/api.rst). A Vm on it: hvbios/kvm.h.
#ifndef HVBIOS_KVM_BACKEND_H_
#define HVBIOS_KVM_BACKEND_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "hvbios/backend.h"

namespace hvbios::kvm {

struct KvmOptions {
  std::string device = "/dev/kvm";
  // An open KVM device to use instead of opening `device`: the VM keeps a
  // duplicate, the caller keeps its own. For a VMM that creates VMs after
  // it can no longer open files (a sandbox, hvbios/sandbox.h).
  int device_fd = -1;
  // Signal used to kick vCPU threads out of KVM_RUN; 0 picks SIGRTMIN. The
  // backend installs its own handler for it (process-wide, SA_RESTART) and
  // unblocks it on vCPU threads: an embedding VMM must not use it otherwise.
  int kick_signal = 0;
};

// Whether `device` can be opened read-write; if not, `why` says why.
bool KvmAvailable(const std::string& device = "/dev/kvm",
                  std::string* why = nullptr);

absl::StatusOr<std::unique_ptr<BackendVm>> CreateKvmBackendVm(
    const KvmOptions& options = {});

}  // namespace hvbios::kvm

#endif  // HVBIOS_KVM_BACKEND_H_
