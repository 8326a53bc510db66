// A Vm on the KVM backend: the composition of the backend-neutral Vm
// (hvbios/vm.h) and the KVM backend (hvbios/kvm_backend.h). Neither knows
// the other; this is where they meet.
#ifndef HVBIOS_KVM_H_
#define HVBIOS_KVM_H_

#include <memory>
#include <utility>

#include "absl/status/statusor.h"
#include "hvbios/kvm_backend.h"
#include "hvbios/vm.h"

namespace hvbios {

// A Vm on a new KVM VM.
inline absl::StatusOr<std::unique_ptr<Vm>> CreateKvmVm(
    VmOptions options, const kvm::KvmOptions& kvm_options = {}) {
  absl::StatusOr<std::unique_ptr<BackendVm>> backend =
      kvm::CreateKvmBackendVm(kvm_options);
  if (!backend.ok()) return backend.status();
  return Vm::Create(*std::move(backend), std::move(options));
}

}  // namespace hvbios

#endif  // HVBIOS_KVM_H_
