// A VM's hypercall services: the built-in modules' state (console, event
// routing, timers, disks) and the embedder's vendor services, and the
// dispatcher, which only looks functions up in the tables generated from
// the ABI's function table (hvbios/abi/functions.h) and calls them.
#ifndef HVBIOS_LIB_SERVICES_SERVICES_H_
#define HVBIOS_LIB_SERVICES_SERVICES_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "hvbios/block.h"
#include "hvbios/net.h"
#include "hvbios/service.h"
#include "lib/console_output.h"
#include "lib/services/block.h"
#include "lib/services/console.h"
#include "lib/services/event.h"
#include "lib/services/net.h"
#include "lib/services/service.h"
#include "lib/services/timer.h"

namespace hvbios {

struct ServicesOptions {
  ConsoleOutput::Sink console_output;
  std::vector<std::shared_ptr<BlockDevice>> disks;
  std::vector<NetDeviceConfig> nets;
  std::vector<VendorService> vendor_services;
};

// InvalidArgument unless every vendor service has an id in the vendor
// range, used once, a function and a handler.
absl::Status ValidateVendorServices(const std::vector<VendorService>& services);

class Services {
 public:
  // `ctx` outlives this.
  Services(ServiceContext& ctx, ServicesOptions options);
  Services(const Services&) = delete;
  Services& operator=(const Services&) = delete;
  ~Services();

  // Attaches the network links: frames arrive from now on.
  absl::Status Start() { return net_.Start(); }

  // Validates and serves one hypercall made by vCPU `caller`. Every guest
  // mistake becomes an HVB_ERR_* status. Allocates nothing (built-in
  // services; a vendor handler does what it does).
  HypercallResult Dispatch(uint32_t caller, const HypercallArgs& args);
  // Whether `fid` names a function served here (base.probe).
  bool Implemented(uint64_t fid) const;

  EventService& events() { return events_; }
  ConsoleService& console() { return console_; }
  TimerService& timers() { return timers_; }
  BlockService& block() { return block_; }
  NetService& net() { return net_; }

  // A doorbell that reached user space: to the queue's service.
  void Doorbell(uint64_t queue) {
    block_.Doorbell(queue);
    net_.Doorbell(queue);
  }

  // Wakes vCPU threads waiting inside a service (console room), so that a
  // pause or stop request reaches them at once.
  void InterruptWaits() { console_.InterruptWaits(); }

 private:
  const VendorService* FindVendor(uint32_t id) const;

  ServiceContext& ctx_;
  const std::vector<VendorService> vendors_;  // sorted by id
  // Declared in dependency order: destroyed in reverse, the links', the
  // block queues' and the timer's threads (which raise events) first.
  QueueIds queue_ids_;
  EventService events_;
  ConsoleService console_;
  TimerService timers_;
  BlockService block_;
  NetService net_;
};

}  // namespace hvbios

#endif  // HVBIOS_LIB_SERVICES_SERVICES_H_
