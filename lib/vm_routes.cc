// hvbios::Vm's interrupt routes and the embedder's event sources
// (docs/architecture.md, "Interrupts (KVM)").
#include <sys/eventfd.h>

#include <cerrno>

#include "absl/strings/str_format.h"
#include "lib/status_macros.h"
#include "lib/vm_impl.h"

namespace hvbios {
namespace {

absl::Status CheckTarget(uint32_t vcpu_id, uint8_t vector,
                         uint32_t vcpu_count) {
  if (vcpu_id >= vcpu_count) {
    return absl::OutOfRangeError(absl::StrFormat(
        "vCPU %d does not exist (the VM has %d)", vcpu_id, vcpu_count));
  }
  if (vector < 32 || vector == 255) {
    return absl::InvalidArgumentError(
        absl::StrFormat("vector %d: events use vectors 32..254", vector));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Vm::InterruptRoute> VmImpl::AddInterruptRoute(uint32_t vcpu_id,
                                                             uint8_t vector) {
  RETURN_IF_ERROR(CheckTarget(vcpu_id, vector, options_.vcpu_count));
  UniqueFd fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!fd.valid()) return ErrnoStatus(errno, "eventfd for a route");
  MutexLock lock(&routes_mu_);
  RETURN_IF_ERROR(backend_->BindInterruptFd(fd.get(), vcpu_id, vector));
  const uint32_t id = next_route_id_++;
  const int raw = fd.get();
  routes_[id] = std::move(fd);
  return InterruptRoute{id, raw};
}

absl::Status VmImpl::RetargetInterruptRoute(uint32_t id, uint32_t vcpu_id,
                                            uint8_t vector) {
  RETURN_IF_ERROR(CheckTarget(vcpu_id, vector, options_.vcpu_count));
  MutexLock lock(&routes_mu_);
  auto it = routes_.find(id);
  if (it == routes_.end()) {
    return absl::NotFoundError(absl::StrFormat("no interrupt route %d", id));
  }
  // Binding a bound fd again moves its route (BackendVm::BindInterruptFd).
  return backend_->BindInterruptFd(it->second.get(), vcpu_id, vector);
}

absl::Status VmImpl::RemoveInterruptRoute(uint32_t id) {
  MutexLock lock(&routes_mu_);
  auto it = routes_.find(id);
  if (it == routes_.end()) {
    return absl::NotFoundError(absl::StrFormat("no interrupt route %d", id));
  }
  RETURN_IF_ERROR(backend_->UnbindInterruptFd(it->second.get()));
  routes_.erase(it);  // closes the fd
  return absl::OkStatus();
}

absl::Status VmImpl::AddEventSource(uint32_t source) {
  if (source < HVB_EVENT_SRC_VENDOR_FIRST ||
      source > HVB_EVENT_SRC_VENDOR_LAST) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "event source 0x%x is outside the embedder's 0x%x..0x%x", source,
        HVB_EVENT_SRC_VENDOR_FIRST, HVB_EVENT_SRC_VENDOR_LAST));
  }
  return services_->events().AddSource(source);
}

absl::Status VmImpl::TriggerEvent(uint32_t source) {
  EventService& events = services_->events();
  if (source < HVB_EVENT_SRC_VENDOR_FIRST ||
      source > HVB_EVENT_SRC_VENDOR_LAST || !events.SourceExists(source)) {
    return absl::NotFoundError(absl::StrFormat(
        "event source 0x%x is not one the embedder added", source));
  }
  events.Trigger(source);
  return absl::OkStatus();
}

}  // namespace hvbios
