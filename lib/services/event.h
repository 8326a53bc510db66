// The event service (docs/abi.md 5.8): the one owner of event routing.
// Sources (console input, block queues, ...) are registered here; their
// owners raise events through Trigger(), IPIs and timers through Raise().
// The routing rules are common/events.c's, shared with the firmware.
#ifndef HVBIOS_LIB_SERVICES_EVENT_H_
#define HVBIOS_LIB_SERVICES_EVENT_H_

#include <cstdint>
#include <functional>
#include <map>

#include "absl/status/status.h"
#include "common/events.h"
#include "hvbios/internal/mutex.h"
#include "hvbios/trace.h"
#include "lib/services/service.h"
#include "lib/unique_fd.h"

namespace hvbios {

class EventService {
 public:
  explicit EventService(ServiceContext& ctx) : ctx_(ctx) {}
  EventService(const EventService&) = delete;
  EventService& operator=(const EventService&) = delete;

  // Registers `source`. `work_waiting` (may be empty) says whether the
  // source has work the guest has not taken (unread console input): a
  // route or an unmask then raises one event. With `irqfd`, its events
  // travel through an eventfd bound to an MSI route (KVM_IRQFD): raising
  // one is a write, no hypervisor call, from any thread.
  absl::Status AddSource(uint32_t source,
                         std::function<bool()> work_waiting = {},
                         bool irqfd = false);
  bool SourceExists(uint32_t source) const;

  // event.route/mask/unmask, arguments checked. Route: HVB_OK, or
  // HVB_ERR_NOMEM if the hypervisor could not move the MSI route.
  int64_t Route(uint32_t source, uint32_t vcpu, uint8_t vector);
  void Mask(uint32_t source, bool masked);

  // An event from `source`: delivered, held while masked, dropped while
  // unrouted. Any thread.
  void Trigger(uint32_t source);

  // Raises `vector` on `vcpu`: HVB_OK, HVB_ERR_NODEV (the vCPU cannot take
  // events: never created, or destroyed), HVB_ERR_IO (the hypervisor
  // failed). Any thread. `source` names it in a trace (kTraceNoSource: an
  // IPI, a timer, the embedder's Vm::RaiseEvent).
  int64_t Raise(uint32_t vcpu, uint8_t vector,
                uint32_t source = kTraceNoSource);

 private:
  struct Source {
    hvb_event_source route = {};
    std::function<bool()> work_waiting;
    UniqueFd irqfd;
  };
  // Where one event goes, decided under the lock, delivered outside it.
  struct Delivery {
    int irqfd;  // -1: none
    uint32_t vcpu;
    uint8_t vector;
    uint32_t source;
  };
  static Delivery DeliveryOf(uint32_t source, const Source& s) {
    return {s.irqfd.get(), s.route.vcpu, static_cast<uint8_t>(s.route.vector),
            source};
  }
  void Deliver(const Delivery& delivery);

  ServiceContext& ctx_;
  mutable Mutex mu_;
  std::map<uint32_t, Source> sources_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hvbios

#endif  // HVBIOS_LIB_SERVICES_EVENT_H_
