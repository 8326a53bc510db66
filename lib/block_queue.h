// A block request ring (docs/abi.md, "Rings"; hvbios/abi/ring.h) served on
// its own I/O thread: the guest's doorbell signals an eventfd, the thread
// executes every posted request and posts completions.
#ifndef HVBIOS_LIB_BLOCK_QUEUE_H_
#define HVBIOS_LIB_BLOCK_QUEUE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <thread>

#include "absl/status/statusor.h"
#include "hvbios/block.h"
#include "lib/guest_memory.h"
#include "lib/unique_fd.h"

namespace hvbios {

class BlockQueue {
 public:
  // Called on the I/O thread after a batch of completions was posted.
  using CompletionFn = std::function<void(uint32_t queue_id)>;

  // HVB status of checking a ring's placement: HVB_OK, HVB_ERR_INVAL
  // (entries not a power of two in 1..256, ring not 4 KiB aligned) or
  // HVB_ERR_FAULT (not entirely in RAM).
  static int64_t CheckRing(const GuestMemory& memory, uint64_t ring_gpa,
                           uint64_t entries);

  // Initialises the ring's header and starts the I/O thread. The ring must
  // have passed CheckRing(). `device` and `memory` outlive the queue.
  static absl::StatusOr<std::unique_ptr<BlockQueue>> Create(
      uint32_t id, BlockDevice* device, const GuestMemory* memory,
      uint64_t ring_gpa, uint32_t entries, CompletionFn on_completions);

  BlockQueue(const BlockQueue&) = delete;
  BlockQueue& operator=(const BlockQueue&) = delete;
  // Stops and joins the I/O thread.
  ~BlockQueue();

  // The eventfd a doorbell signals (a backend binds it to the guest's
  // notify write, e.g. with KVM_IOEVENTFD).
  int doorbell_fd() const { return doorbell_.get(); }
  // Rings the doorbell from the host (for doorbells that arrive as exits).
  void Ring();

 private:
  BlockQueue(uint32_t id, BlockDevice* device, const GuestMemory* memory,
             uint64_t ring_gpa, uint32_t entries, CompletionFn on_completions,
             UniqueFd doorbell, UniqueFd stop);
  void Loop();
  // Serves every request posted so far. I/O thread only.
  void Process();

  const uint32_t id_;
  BlockDevice* const device_;
  const GuestMemory* const memory_;
  const uint64_t ring_;
  const uint32_t entries_;
  const CompletionFn on_completions_;
  const UniqueFd doorbell_;
  const UniqueFd stop_;
  // The platform's own copies of the indices it owns: never re-read from
  // guest memory, which the guest could change.
  uint32_t sq_head_ = 0;
  uint32_t cq_tail_ = 0;
  bool broken_ = false;
  std::thread thread_;
};

}  // namespace hvbios

#endif  // HVBIOS_LIB_BLOCK_QUEUE_H_
