#include "lib/services/block.h"

#include "hvbios/abi/hypercall.h"
#include "hvbios/abi/status.h"
#include "lib/services/services.h"

namespace hvbios {
namespace {

constexpr uint64_t kSector = HVB_BLOCK_SECTOR_SIZE;

// A device's failure as the guest sees it: "no space" (the device changed
// nothing, docs/abi.md) apart from every other I/O error.
int64_t DeviceError(const absl::Status& status) {
  return absl::IsResourceExhausted(status) ? HVB_ERR_NOMEM : HVB_ERR_IO;
}

}  // namespace

int64_t CheckRingPlacement(const ServiceContext& ctx, uint64_t ring,
                           uint64_t entries) {
  const std::vector<hvb_mem_region>& map = ctx.memory().memory_map();
  return hvb_ring_check_placement(map.data(), static_cast<uint32_t>(map.size()),
                                  ring, entries);
}

hvb_disk_shape DiskShapeOf(const BlockDevice& device) {
  return {device.size_bytes() / kSector, device.read_only() ? 1u : 0u,
          kBlockMaxSectors, kBlockOptimalSectors};
}

int64_t ExecuteBlockRequest(BlockDevice& device, const GuestMemory& memory,
                            uint32_t op, uint64_t sector, uint64_t count,
                            uint64_t buf) {
  const hvb_disk_shape shape = DiskShapeOf(device);
  if (const int64_t st = hvb_block_check(&shape, op, sector, count);
      st != HVB_OK) {
    return st;
  }
  if (op == HVB_RING_OP_FLUSH) {
    if (device.read_only()) return HVB_OK;
    return device.Flush().ok() ? HVB_OK : HVB_ERR_IO;
  }
  const uint64_t offset = sector * kSector, length = count * kSector;
  if (op == HVB_RING_OP_DISCARD) {
    const absl::Status s = device.Discard(offset, length);
    return s.ok() ? HVB_OK : DeviceError(s);
  }
  if (op == HVB_RING_OP_READ) {
    uint8_t* dst = memory.GuestBufferToWrite(buf, length);
    if (dst == nullptr) return HVB_ERR_FAULT;
    absl::Status s;
    {
      GuestMemory::DeviceAccess dma;
      s = device.Read(offset, absl::MakeSpan(dst, length));
    }
    return s.ok() ? static_cast<int64_t>(count) : DeviceError(s);
  }
  const uint8_t* src = memory.GuestBuffer(buf, length);
  if (src == nullptr) return HVB_ERR_FAULT;
  absl::Status s;
  {
    GuestMemory::DeviceAccess dma;
    s = device.Write(offset, absl::MakeConstSpan(src, length));
  }
  return s.ok() ? static_cast<int64_t>(count) : DeviceError(s);
}

BlockService::BlockService(ServiceContext& ctx, EventService& events,
                           QueueIds& queue_ids,
                           std::vector<std::shared_ptr<BlockDevice>> disks)
    : ctx_(ctx),
      events_(events),
      queue_ids_(queue_ids),
      disks_(std::move(disks)) {}

BlockService::~BlockService() {
  MutexLock lock(&mu_);
  queues_.clear();  // joins the I/O threads, which raise events
}

int64_t BlockService::SetupQueue(uint32_t dev, uint64_t ring,
                                 uint32_t entries) {
  MutexLock lock(&mu_);
  const int64_t allocated = queue_ids_.Allocate();
  if (allocated < 0) return HVB_ERR_NOMEM;
  const uint32_t id = static_cast<uint32_t>(allocated);
  // The queue's event source exists from its creation on, its events
  // traveling through an irqfd.
  if (!events_.AddSource(HVB_EVENT_SRC_QUEUE(id), {}, /*irqfd=*/true).ok()) {
    return HVB_ERR_NOMEM;
  }
  absl::StatusOr<std::unique_ptr<BlockQueue>> queue = BlockQueue::Create(
      id, disks_[dev].get(), &ctx_.memory(), ring, entries,
      [this](uint32_t q) { events_.Trigger(HVB_EVENT_SRC_QUEUE(q)); });
  if (!queue.ok() ||
      !ctx_.backend().BindDoorbell(id, (*queue)->doorbell_fd()).ok()) {
    return HVB_ERR_NOMEM;
  }
  queues_[id] = *std::move(queue);
  return id;
}

void BlockService::Doorbell(uint64_t queue) {
  MutexLock lock(&mu_);
  if (auto it = queues_.find(queue); it != queues_.end()) it->second->Ring();
}

// ---- The block service's hypercalls ---------------------------------------

namespace {

template <uint32_t kOp>
HypercallResult Transfer(ServiceCall& call) {
  BlockDevice* disk = call.services.block().disk(call.arg[0]);
  if (disk == nullptr) return Error(HVB_ERR_NODEV);
  return OkOrError(ExecuteBlockRequest(
      *disk, call.ctx.memory(), kOp, call.arg[1], call.arg[2],
      kOp == HVB_RING_OP_DISCARD ? 0 : call.arg[3]));
}

}  // namespace

template <>
HypercallResult Handle<HVB_FN_BLOCK_INFO>(ServiceCall& call) {
  BlockDevice* disk = call.services.block().disk(call.arg[0]);
  if (disk == nullptr) return Error(HVB_ERR_NODEV);
  const hvb_disk_shape shape = DiskShapeOf(*disk);
  return call.ctx.memory().WriteToGuest(call.arg[1], hvb_block_info_of(&shape))
             ? Ok()
             : Error(HVB_ERR_FAULT);
}
template <>
HypercallResult Handle<HVB_FN_BLOCK_READ>(ServiceCall& call) {
  return Transfer<HVB_RING_OP_READ>(call);
}
template <>
HypercallResult Handle<HVB_FN_BLOCK_WRITE>(ServiceCall& call) {
  return Transfer<HVB_RING_OP_WRITE>(call);
}
template <>
HypercallResult Handle<HVB_FN_BLOCK_FLUSH>(ServiceCall& call) {
  return Transfer<HVB_RING_OP_FLUSH>(call);
}
template <>
HypercallResult Handle<HVB_FN_BLOCK_DISCARD>(ServiceCall& call) {
  return Transfer<HVB_RING_OP_DISCARD>(call);
}
template <>
HypercallResult Handle<HVB_FN_BLOCK_QUEUE_SETUP>(ServiceCall& call) {
  if (call.services.block().disk(call.arg[0]) == nullptr) {
    return Error(HVB_ERR_NODEV);
  }
  if (const int64_t st = CheckRingPlacement(call.ctx, call.arg[1], call.arg[2]);
      st != HVB_OK) {
    return Error(st);
  }
  return OkOrError(call.services.block().SetupQueue(
      static_cast<uint32_t>(call.arg[0]), call.arg[1],
      static_cast<uint32_t>(call.arg[2])));
}

HVB_DEFINE_MODULE(BLOCK, "block")

}  // namespace hvbios
