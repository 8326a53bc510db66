// The block service (docs/abi.md 5.9, 5.10): disks, their synchronous
// calls and their request rings. The checks and the ring engine are
// common/block.c's, shared with the firmware; this file holds the host's
// I/O (BlockDevice: pread/pwrite or the embedder's functions).
#ifndef HVBIOS_LIB_SERVICES_BLOCK_H_
#define HVBIOS_LIB_SERVICES_BLOCK_H_

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "common/block.h"
#include "hvbios/abi/ring.h"
#include "hvbios/block.h"
#include "hvbios/internal/mutex.h"
#include "lib/guest_memory.h"
#include "lib/services/block_queue.h"
#include "lib/services/service.h"

namespace hvbios {

class EventService;
class ServiceContext;

// Largest transfer of one request, and a size that performs well.
inline constexpr uint32_t kBlockMaxSectors = 2048;     // 1 MiB
inline constexpr uint32_t kBlockOptimalSectors = 128;  // 64 KiB

// The disk as common/block.c's checks see it.
hvb_disk_shape DiskShapeOf(const BlockDevice& device);

// Checks (common/block.c, then the buffer against the guest's RAM) and
// executes one request (HVB_RING_OP_*) on `device`, moving data directly
// between the disk and guest RAM (no bounce copy). Returns the count
// (read/write), 0 (flush/discard) or an HVB_ERR_*: HVB_ERR_NOMEM when the
// device had no space (ResourceExhausted: nothing written), HVB_ERR_IO
// when it failed otherwise.
int64_t ExecuteBlockRequest(BlockDevice& device, const GuestMemory& memory,
                            uint32_t op, uint64_t sector, uint64_t count,
                            uint64_t buf);

// Where the ring of a queue_setup call (block's or net's: arg[1] the ring,
// arg[2] its entries, checked whole) may lie: hvb_ring_check_placement
// against the guest's memory map.
int64_t CheckRingPlacement(const ServiceContext& ctx, uint64_t ring,
                           uint64_t entries);

class BlockService {
 public:
  BlockService(ServiceContext& ctx, EventService& events, QueueIds& queue_ids,
               std::vector<std::shared_ptr<BlockDevice>> disks);
  BlockService(const BlockService&) = delete;
  BlockService& operator=(const BlockService&) = delete;
  // Stops every ring's I/O thread.
  ~BlockService();

  // Disk `id`, or nullptr.
  BlockDevice* disk(uint64_t id) const {
    return id < disks_.size() ? disks_[id].get() : nullptr;
  }
  // block.queue_setup with the ring's placement checked: the queue id, or
  // HVB_ERR_NOMEM (too many queues, or the host failed).
  int64_t SetupQueue(uint32_t dev, uint64_t ring, uint32_t entries);
  // A doorbell that reached user space (not taken by a bound eventfd);
  // ignored unless `queue` is a block queue.
  void Doorbell(uint64_t queue);

 private:
  ServiceContext& ctx_;
  EventService& events_;
  QueueIds& queue_ids_;
  const std::vector<std::shared_ptr<BlockDevice>> disks_;
  Mutex mu_;
  std::map<uint32_t, std::unique_ptr<BlockQueue>> queues_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hvbios

#endif  // HVBIOS_LIB_SERVICES_BLOCK_H_
