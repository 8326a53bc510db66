#include "lib/services/net.h"

#include <cstring>

#include "hvbios/abi/hypercall.h"
#include "hvbios/abi/status.h"
#include "lib/services/event.h"
#include "lib/services/services.h"
#include "lib/status_macros.h"

namespace hvbios {

NetRxQueue::NetRxQueue()
    : slots_(static_cast<size_t>(kNetRxQueueFrames) * HVB_NET_MAX_FRAME) {}

std::optional<bool> NetRxQueue::Push(absl::Span<const uint8_t> frame) {
  MutexLock lock(&mu_);
  if (tail_ - head_ == kNetRxQueueFrames) {
    ++dropped_;
    return std::nullopt;
  }
  const uint32_t slot = tail_ % kNetRxQueueFrames;
  std::memcpy(&slots_[static_cast<size_t>(slot) * HVB_NET_MAX_FRAME],
              frame.data(), frame.size());
  lengths_[slot] = static_cast<uint16_t>(frame.size());
  return tail_++ == head_;
}

int64_t NetRxQueue::Pop(uint8_t* dst, uint64_t capacity) {
  MutexLock lock(&mu_);
  const uint32_t slot = head_ % kNetRxQueueFrames;
  const uint32_t length = head_ == tail_ ? 0 : lengths_[slot];
  if (const int64_t st = hvb_net_check_recv(capacity, length); st != HVB_OK) {
    return st;
  }
  {
    GuestMemory::DeviceAccess dma;
    std::memcpy(dst, &slots_[static_cast<size_t>(slot) * HVB_NET_MAX_FRAME],
                length);
  }
  ++head_;
  return length;
}

bool NetRxQueue::empty() const {
  MutexLock lock(&mu_);
  return head_ == tail_;
}

uint64_t NetRxQueue::dropped() const {
  MutexLock lock(&mu_);
  return dropped_;
}

NetService::NetService(ServiceContext& ctx, EventService& events,
                       QueueIds& queue_ids,
                       std::vector<NetDeviceConfig> devices)
    : ctx_(ctx), events_(events), queue_ids_(queue_ids) {
  for (NetDeviceConfig& config : devices) {
    devices_.push_back(std::make_unique<Device>());
    devices_.back()->config = std::move(config);
  }
}

NetService::~NetService() {
  for (NetLink* link : attached_) link->Detach();
}

absl::Status NetService::Start() {
  for (uint32_t dev = 0; dev < devices_.size(); ++dev) {
    NetRxQueue* rx = &devices_[dev]->rx;
    // A route or unmask raises an event for frames already waiting. The
    // events travel through an irqfd: the link's thread raises them with
    // one write.
    RETURN_IF_ERROR(events_.AddSource(
        HVB_EVENT_SRC_NET_RX(dev), [rx] { return !rx->empty(); },
        /*irqfd=*/true));
  }
  for (uint32_t dev = 0; dev < devices_.size(); ++dev) {
    NetLink* link = devices_[dev]->config.link.get();
    RETURN_IF_ERROR(link->Attach(
        [this, dev](absl::Span<const uint8_t> frame) { Receive(dev, frame); }));
    attached_.push_back(link);
  }
  return absl::OkStatus();
}

void NetService::Receive(uint32_t dev, absl::Span<const uint8_t> frame) {
  Device& device = *devices_[dev];
  // With a receive ring, a frame goes straight into its oldest buffer
  // (unless frames already wait: they go first, in order).
  if (Ring* ring = device.rx_ring.load(std::memory_order_acquire)) {
    GuestMemory::Access access(ctx_.memory());  // before the ring's lock
    MutexLock lock(&ring->mu);
    if (!FillBuffers(device, *ring, frame)) (void)device.rx.Push(frame);
    return;
  }
  const std::optional<bool> was_empty = device.rx.Push(frame);
  if (was_empty.value_or(false)) events_.Trigger(HVB_EVENT_SRC_NET_RX(dev));
}

int64_t NetService::Info(uint64_t dev, hvb_net_info* info) const {
  if (dev >= devices_.size()) return HVB_ERR_NODEV;
  const NetDeviceConfig& config = devices_[dev]->config;
  hvb_nic_shape shape = {};
  std::memcpy(shape.mac, config.mac.data(), sizeof(shape.mac));
  shape.link_up = config.link->link_up() ? 1 : 0;
  *info = hvb_net_info_of(&shape);
  return HVB_OK;
}

int64_t NetService::Send(uint64_t dev, const GuestMemory& memory, uint64_t gpa,
                         uint64_t len) {
  if (dev >= devices_.size()) return HVB_ERR_NODEV;
  if (const int64_t st = hvb_net_check_send(len); st != HVB_OK) return st;
  const uint8_t* frame = memory.GuestBuffer(gpa, len);
  if (frame == nullptr) return HVB_ERR_FAULT;
  absl::Status sent;
  {
    GuestMemory::DeviceAccess dma;
    sent = devices_[dev]->config.link->Send(absl::MakeConstSpan(frame, len));
  }
  if (sent.ok()) return HVB_OK;
  return absl::IsUnavailable(sent) ? HVB_ERR_AGAIN : HVB_ERR_IO;
}

int64_t NetService::Recv(uint64_t dev, const GuestMemory& memory, uint64_t gpa,
                         uint64_t capacity) {
  if (dev >= devices_.size()) return HVB_ERR_NODEV;
  // The whole buffer, whatever the frame's length: the same answer
  // whether or not a frame is waiting.
  uint8_t* dst =
      capacity == 0 ? nullptr : memory.GuestBufferToWrite(gpa, capacity);
  if (capacity != 0 && dst == nullptr) return HVB_ERR_FAULT;
  return devices_[dev]->rx.Pop(dst, capacity);
}

uint64_t NetService::rx_dropped(uint64_t dev) const {
  return dev < devices_.size() ? devices_[dev]->rx.dropped() : 0;
}

// ---- The net service's hypercalls -----------------------------------------

template <>
HypercallResult Handle<HVB_FN_NET_INFO>(ServiceCall& call) {
  hvb_net_info info;
  if (const int64_t st = call.services.net().Info(call.arg[0], &info);
      st != HVB_OK) {
    return Error(st);
  }
  return call.ctx.memory().WriteToGuest(call.arg[1], info)
             ? Ok()
             : Error(HVB_ERR_FAULT);
}
template <>
HypercallResult Handle<HVB_FN_NET_SEND>(ServiceCall& call) {
  return OkOrError(call.services.net().Send(call.arg[0], call.ctx.memory(),
                                            call.arg[1], call.arg[2]));
}
template <>
HypercallResult Handle<HVB_FN_NET_RECV>(ServiceCall& call) {
  return OkOrError(call.services.net().Recv(call.arg[0], call.ctx.memory(),
                                            call.arg[1], call.arg[2]));
}

template <>
HypercallResult Handle<HVB_FN_NET_QUEUE_SETUP>(ServiceCall& call) {
  if (call.arg[0] >= call.services.net().device_count()) {
    return Error(HVB_ERR_NODEV);
  }
  if (const int64_t st = CheckRingPlacement(call.ctx, call.arg[1], call.arg[2]);
      st != HVB_OK) {
    return Error(st);
  }
  return OkOrError(call.services.net().SetupQueue(
      call.arg[0], call.arg[1], static_cast<uint32_t>(call.arg[2]),
      call.arg[3]));
}

HVB_DEFINE_MODULE(NET, "net")

}  // namespace hvbios
