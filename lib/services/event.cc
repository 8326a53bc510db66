#include "lib/services/event.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <optional>

#include "absl/strings/str_format.h"
#include "lib/services/services.h"
#include "lib/status_macros.h"

namespace hvbios {

absl::Status EventService::AddSource(uint32_t source,
                                     std::function<bool()> work_waiting,
                                     bool irqfd) {
  Source s;
  s.work_waiting = std::move(work_waiting);
  if (irqfd) {
    s.irqfd.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!s.irqfd.valid()) return ErrnoStatus(errno, "eventfd for an irqfd");
  }
  MutexLock lock(&mu_);
  if (!sources_.try_emplace(source, std::move(s)).second) {
    return absl::AlreadyExistsError(
        absl::StrFormat("event source 0x%x exists already", source));
  }
  return absl::OkStatus();
}

bool EventService::SourceExists(uint32_t source) const {
  MutexLock lock(&mu_);
  return sources_.count(source) != 0;
}

int64_t EventService::Route(uint32_t source, uint32_t vcpu, uint8_t vector) {
  std::optional<Delivery> deliver;
  {
    MutexLock lock(&mu_);
    Source& s = sources_.at(source);
    if (s.irqfd.valid() &&
        !ctx_.backend().BindInterruptFd(s.irqfd.get(), vcpu, vector).ok()) {
      return HVB_ERR_NOMEM;
    }
    const bool waiting = s.work_waiting && s.work_waiting();
    if (hvb_event_route(&s.route, vcpu, vector, waiting)) {
      deliver = DeliveryOf(source, s);
    }
  }
  if (deliver) Deliver(*deliver);
  return HVB_OK;
}

void EventService::Mask(uint32_t source, bool masked) {
  std::optional<Delivery> deliver;
  {
    MutexLock lock(&mu_);
    Source& s = sources_.at(source);
    if (masked) {
      hvb_event_mask(&s.route);
    } else if (hvb_event_unmask(&s.route, s.work_waiting && s.work_waiting())) {
      deliver = DeliveryOf(source, s);
    }
  }
  if (deliver) Deliver(*deliver);
}

void EventService::Trigger(uint32_t source) {
  std::optional<Delivery> deliver;
  {
    MutexLock lock(&mu_);
    auto it = sources_.find(source);
    if (it == sources_.end()) return;
    if (hvb_event_trigger(&it->second.route)) {
      deliver = DeliveryOf(source, it->second);
    }
  }
  if (deliver) Deliver(*deliver);
}

int64_t EventService::Raise(uint32_t vcpu, uint8_t vector, uint32_t source) {
  if (!ctx_.VcpuCanTakeEvents(vcpu)) return HVB_ERR_NODEV;
  if (Tracer* tracer = ctx_.tracer(); tracer != nullptr) {
    tracer->RecordEvent(vcpu, vector, source);
  }
  return ctx_.backend().RaiseInterrupt(vcpu, vector).ok() ? HVB_OK : HVB_ERR_IO;
}

void EventService::Deliver(const Delivery& delivery) {
  if (delivery.irqfd < 0) {
    (void)Raise(delivery.vcpu, delivery.vector, delivery.source);
    return;
  }
  if (Tracer* tracer = ctx_.tracer(); tracer != nullptr) {
    tracer->RecordEvent(delivery.vcpu, delivery.vector, delivery.source);
  }
  const uint64_t one = 1;
  (void)!write(delivery.irqfd, &one, sizeof(one));
}

// ---- The event service's hypercalls ---------------------------------------

namespace {
bool KnownSource(ServiceCall& call, uint64_t source) {
  return source <= UINT32_MAX &&
         call.services.events().SourceExists(static_cast<uint32_t>(source));
}
}  // namespace

template <>
HypercallResult Handle<HVB_FN_EVENT_ROUTE>(ServiceCall& call) {
  const uint64_t source = call.arg[0], vcpu = call.arg[1], vector = call.arg[2];
  if (const int64_t st = hvb_event_check_route(KnownSource(call, source), vcpu,
                                               call.ctx.vcpu_count(), vector);
      st != HVB_OK) {
    return Error(st);
  }
  const int64_t st = call.services.events().Route(static_cast<uint32_t>(source),
                                                  static_cast<uint32_t>(vcpu),
                                                  static_cast<uint8_t>(vector));
  return st == HVB_OK ? Ok() : Error(st);
}
template <>
HypercallResult Handle<HVB_FN_EVENT_MASK>(ServiceCall& call) {
  if (!KnownSource(call, call.arg[0])) return Error(HVB_ERR_NODEV);
  call.services.events().Mask(static_cast<uint32_t>(call.arg[0]), true);
  return Ok();
}
template <>
HypercallResult Handle<HVB_FN_EVENT_UNMASK>(ServiceCall& call) {
  if (!KnownSource(call, call.arg[0])) return Error(HVB_ERR_NODEV);
  call.services.events().Mask(static_cast<uint32_t>(call.arg[0]), false);
  return Ok();
}
template <>
HypercallResult Handle<HVB_FN_EVENT_SEND_IPI>(ServiceCall& call) {
  if (const int64_t st =
          hvb_event_check_ipi(call.arg[0], call.ctx.vcpu_count(), call.arg[1]);
      st != HVB_OK) {
    return Error(st);
  }
  const int64_t st = call.services.events().Raise(
      static_cast<uint32_t>(call.arg[0]), static_cast<uint8_t>(call.arg[1]));
  return st == HVB_OK ? Ok() : Error(st);
}

HVB_DEFINE_MODULE(EVENT, "event")

}  // namespace hvbios
