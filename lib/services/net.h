// The net service (docs/abi.md 5.15): network devices, each a link
// (hvbios/net.h) and a bounded receive queue the link's thread fills and
// net.recv empties. The checks are common/net.c's, shared with the
// firmware.
#ifndef HVBIOS_LIB_SERVICES_NET_H_
#define HVBIOS_LIB_SERVICES_NET_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "common/block.h"
#include "common/net.h"
#include "hvbios/internal/mutex.h"
#include "hvbios/net.h"
#include "lib/guest_memory.h"
#include "lib/services/service.h"

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
  NetService(ServiceContext& ctx, EventService& events, QueueIds& queue_ids,
             std::vector<NetDeviceConfig> devices);
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

  // net.queue_setup with the ring's placement checked (net_queue.cc): the
  // queue id; HVB_ERR_NODEV, HVB_ERR_INVAL (direction), HVB_ERR_BUSY (the
  // device has a ring of that direction), HVB_ERR_NOMEM (no queue id).
  int64_t SetupQueue(uint64_t dev, uint64_t ring, uint32_t entries,
                     uint64_t direction);
  // A doorbell (a kNotify exit, on the ringing vCPU's thread): sends what a
  // transmit ring holds, or takes a receive ring's new buffers. Ignored
  // unless `queue` is a net queue.
  void Doorbell(uint64_t queue);

 private:
  // A ring of one device (docs/abi.md 5.15), in guest RAM pinned for the
  // VM's lifetime.
  struct Ring {
    uint32_t id = 0;
    uint32_t dev = 0;
    bool rx = false;
    uint64_t gpa = 0, bytes = 0;
    Mutex mu;  // one doorbell (or frame) at a time
    hvb_ring_server server ABSL_GUARDED_BY(mu);
    // Receive rings: buffers taken, waiting for frames, oldest first.
    std::array<hvb_ring_request, HVB_RING_MAX_ENTRIES> buffers
        ABSL_GUARDED_BY(mu);
    uint32_t buffers_head ABSL_GUARDED_BY(mu) = 0;  // free-running
    uint32_t buffers_tail ABSL_GUARDED_BY(mu) = 0;
    // Transmit rings: one batch's copies and statuses.
    std::array<int64_t, HVB_RING_MAX_ENTRIES> statuses ABSL_GUARDED_BY(mu);
  };
  struct Device {
    NetDeviceConfig config;
    NetRxQueue rx;
    // Set once by net.queue_setup, then constant.
    std::atomic<Ring*> tx_ring{nullptr};
    std::atomic<Ring*> rx_ring{nullptr};
  };
  void Receive(uint32_t dev, absl::Span<const uint8_t> frame);
  // Moves waiting frames (the queue's, then `frame` if any) into `ring`'s
  // buffers while both last; completions for buffers that cannot take one.
  // Returns whether `frame` went in, and raises the ring's event if it
  // completed anything. Under an Access of guest memory (taken before the
  // ring's lock), as ServeTransmit().
  bool FillBuffers(Device& device, Ring& ring, absl::Span<const uint8_t> frame)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(ring.mu);
  void ServeTransmit(Device& device, Ring& ring)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(ring.mu);

  ServiceContext& ctx_;
  EventService& events_;
  QueueIds& queue_ids_;
  std::vector<std::unique_ptr<Device>> devices_;
  std::vector<NetLink*> attached_;
  Mutex rings_mu_;
  std::map<uint32_t, std::unique_ptr<Ring>> rings_ ABSL_GUARDED_BY(rings_mu_);
};

}  // namespace hvbios

#endif  // HVBIOS_LIB_SERVICES_NET_H_
