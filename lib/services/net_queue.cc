// The net service's rings (docs/abi.md 5.15): transmit rings served when
// their doorbell rings, receive rings whose buffers wait for frames. The
// ring engine is common/block.c's, the one block rings use.
#include <cstring>

#include "hvbios/abi/hypercall.h"
#include "hvbios/abi/ring.h"
#include "hvbios/abi/status.h"
#include "lib/services/event.h"
#include "lib/services/net.h"

namespace hvbios {

int64_t NetService::SetupQueue(uint64_t dev, uint64_t ring_gpa,
                               uint32_t entries, uint64_t direction) {
  if (dev >= devices_.size()) return HVB_ERR_NODEV;
  if (direction != HVB_NET_QUEUE_TX && direction != HVB_NET_QUEUE_RX) {
    return HVB_ERR_INVAL;
  }
  Device& device = *devices_[dev];
  std::atomic<Ring*>& slot =
      direction == HVB_NET_QUEUE_RX ? device.rx_ring : device.tx_ring;
  MutexLock lock(&rings_mu_);
  if (slot.load() != nullptr) return HVB_ERR_BUSY;
  const int64_t id = queue_ids_.Allocate();
  if (id < 0) return HVB_ERR_NOMEM;
  if (!events_.AddSource(HVB_EVENT_SRC_QUEUE(id), {}, /*irqfd=*/true).ok()) {
    return HVB_ERR_NOMEM;
  }
  auto ring = std::make_unique<Ring>();
  ring->id = static_cast<uint32_t>(id);
  ring->dev = static_cast<uint32_t>(dev);
  ring->rx = direction == HVB_NET_QUEUE_RX;
  ring->gpa = ring_gpa;
  ring->bytes = HVB_RING_BYTES(entries);
  // Checked by the caller: all of it the guest's RAM. Pinned: its region
  // stays while the VM lives.
  const GuestMemory& memory = ctx_.memory();
  memory.Pin(ring_gpa, ring->bytes);
  {
    MutexLock ring_lock(&ring->mu);
    hvb_ring_server_init(&ring->server, memory.Translate(ring_gpa, ring->bytes),
                         entries);
    memory.MarkWritten(ring_gpa, sizeof(hvb_ring_header));
  }
  slot.store(ring.get(), std::memory_order_release);
  rings_[ring->id] = std::move(ring);
  return id;
}

void NetService::Doorbell(uint64_t queue) {
  Ring* ring;
  {
    MutexLock lock(&rings_mu_);
    auto it = rings_.find(queue);
    if (it == rings_.end()) return;
    ring = it->second.get();
  }
  Device& device = *devices_[ring->dev];
  // Lock order: guest memory, then the ring (as Receive() takes them).
  GuestMemory::Access access(ctx_.memory());
  ctx_.memory().ObserveGuest();
  MutexLock lock(&ring->mu);
  if (!ring->rx) {
    ServeTransmit(device, *ring);
    return;
  }
  const uint32_t free_slots =
      HVB_RING_MAX_ENTRIES - (ring->buffers_tail - ring->buffers_head);
  hvb_ring_request taken[HVB_RING_MAX_ENTRIES];
  const uint32_t n = hvb_ring_take(&ring->server, taken, free_slots);
  for (uint32_t i = 0; i < n; ++i) {
    ring->buffers[ring->buffers_tail++ % HVB_RING_MAX_ENTRIES] = taken[i];
  }
  FillBuffers(device, *ring, {});
}

void NetService::ServeTransmit(Device& device, Ring& ring) {
  struct Batch {
    NetLink* link;
    const GuestMemory* memory;
  } batch = {device.config.link.get(), &ctx_.memory()};
  hvb_ring_request requests[HVB_RING_MAX_ENTRIES];
  const uint32_t completed = hvb_ring_serve_batch(
      &ring.server,
      [](void* context, const hvb_ring_request* requests, int64_t* statuses,
         uint32_t count) {
        const Batch& b = *static_cast<const Batch*>(context);
        for (uint32_t i = 0; i < count; ++i) {
          const hvb_ring_request& r = requests[i];
          int64_t st = r.op == HVB_RING_OP_NET_SEND
                           ? hvb_net_check_send(r.count)
                           : HVB_ERR_INVAL;
          const uint8_t* frame =
              st == HVB_OK ? b.memory->GuestBuffer(r.buf, r.count) : nullptr;
          if (st == HVB_OK && frame == nullptr) st = HVB_ERR_FAULT;
          if (st == HVB_OK) {
            absl::Status sent;
            {
              GuestMemory::DeviceAccess dma;
              sent = b.link->Send(absl::MakeConstSpan(frame, r.count));
            }
            st = sent.ok()                   ? static_cast<int64_t>(r.count)
                 : absl::IsUnavailable(sent) ? HVB_ERR_AGAIN
                                             : HVB_ERR_IO;
          }
          statuses[i] = st;
        }
      },
      &batch, requests, ring.statuses.data(), HVB_RING_MAX_ENTRIES);
  if (completed == 0) return;
  ctx_.memory().MarkWritten(ring.gpa, ring.bytes);
  ctx_.memory().PublishToGuest();
  events_.Trigger(HVB_EVENT_SRC_QUEUE(ring.id));
}

bool NetService::FillBuffers(Device& device, Ring& ring,
                             absl::Span<const uint8_t> frame) {
  const GuestMemory& memory = ctx_.memory();
  bool completed = false, frame_in = frame.empty();
  while (ring.buffers_head != ring.buffers_tail) {
    const hvb_ring_request& b =
        ring.buffers[ring.buffers_head % HVB_RING_MAX_ENTRIES];
    int64_t st = b.op == HVB_RING_OP_NET_RECV ? HVB_OK : HVB_ERR_INVAL;
    uint8_t* dst = nullptr;
    if (st == HVB_OK && b.count != 0) {
      dst = memory.GuestBufferToWrite(b.buf, b.count);
      if (dst == nullptr) st = HVB_ERR_FAULT;
    }
    if (st == HVB_OK) {
      // Frames that waited first, then this one.
      st = device.rx.Pop(dst, b.count);
      if (st == HVB_ERR_AGAIN) {
        if (frame_in) break;  // nothing more to give this buffer
        st = hvb_net_check_recv(b.count, static_cast<uint32_t>(frame.size()));
        if (st == HVB_OK) {
          GuestMemory::DeviceAccess dma;
          std::memcpy(dst, frame.data(), frame.size());
          st = static_cast<int64_t>(frame.size());
          frame_in = true;
        }
      }
    }
    // A buffer that cannot take the next frame completes with why; the
    // frame goes to the next one.
    hvb_ring_complete(&ring.server, b.tag, st);
    ++ring.buffers_head;
    completed = true;
  }
  if (completed) {
    memory.MarkWritten(ring.gpa, ring.bytes);
    memory.PublishToGuest();
    events_.Trigger(HVB_EVENT_SRC_QUEUE(ring.id));
  }
  return frame_in && !frame.empty();
}

}  // namespace hvbios
