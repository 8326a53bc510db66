// The net service (docs/abi.md 5.15): network devices, each a link
// (hvbios/net.h) and a bounded receive queue the link's thread fills and
// net.recv empties. The checks are common/net.c's, shared with the
// firmware.
#ifndef HVBIOS_LIB_SERVICES_NET_H_
#define HVBIOS_LIB_SERVICES_NET_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "common/net.h"
#include "hvbios/internal/mutex.h"
#include "hvbios/net.h"
#include "lib/guest_memory.h"

namespace hvbios {

class EventService;

// Frames a device holds for the guest before it drops new ones.
inline constexpr uint32_t kNetRxQueueFrames = 256;

// One device's frames from the link, waiting for net.recv: a ring of
// fixed slots allocated once, so that neither side allocates per frame.
class NetRxQueue {
 public:
  NetRxQueue();
  // Copies `frame` (HVB_NET_MIN_FRAME .. HVB_NET_MAX_FRAME bytes) in.
  // Returns whether the queue was empty before (an event is due), or
  // std::nullopt if it is full (the frame is dropped and counted).
  std::optional<bool> Push(absl::Span<const uint8_t> frame);
  // net.recv's core, atomic: checks `capacity` against the oldest frame
  // (hvb_net_check_recv) and, if it fits, copies it to `dst` and removes
  // it. Returns its length, HVB_ERR_AGAIN (none waiting) or HVB_ERR_RANGE
  // (it stays).
  int64_t Pop(uint8_t* dst, uint64_t capacity);
  bool empty() const;
  uint64_t dropped() const;

 private:
  mutable Mutex mu_;
  std::vector<uint8_t> slots_;  // kNetRxQueueFrames x HVB_NET_MAX_FRAME
  std::array<uint16_t, kNetRxQueueFrames> lengths_ ABSL_GUARDED_BY(mu_);
  uint32_t head_ ABSL_GUARDED_BY(mu_) = 0;  // free-running
  uint32_t tail_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
};

class NetService {
 public:
  NetService(EventService& events, std::vector<NetDeviceConfig> devices);
  NetService(const NetService&) = delete;
  NetService& operator=(const NetService&) = delete;
  // Detaches every link: no frame arrives after it returns.
  ~NetService();

  // Registers the devices' event sources and attaches their links.
  absl::Status Start();

  size_t device_count() const { return devices_.size(); }
  // net.info / net.send / net.recv on device `dev`, its arguments checked
  // here (HVB_ERR_NODEV for a device that does not exist).
  int64_t Info(uint64_t dev, hvb_net_info* info) const;
  int64_t Send(uint64_t dev, const GuestMemory& memory, uint64_t gpa,
               uint64_t len);
  int64_t Recv(uint64_t dev, const GuestMemory& memory, uint64_t gpa,
               uint64_t capacity);
  // Frames device `dev` dropped because the guest did not take them.
  uint64_t rx_dropped(uint64_t dev) const;

 private:
  struct Device {
    NetDeviceConfig config;
    NetRxQueue rx;
  };
  void Receive(uint32_t dev, absl::Span<const uint8_t> frame);

  EventService& events_;
  std::vector<std::unique_ptr<Device>> devices_;
  std::vector<NetLink*> attached_;
};

}  // namespace hvbios

#endif  // HVBIOS_LIB_SERVICES_NET_H_
