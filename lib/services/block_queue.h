// A block request ring (docs/abi.md, "Rings"; hvbios/abi/ring.h) served on
// its own I/O thread: the guest's doorbell signals an eventfd, the thread
// runs the shared ring engine (common/block.c) over every posted request.
#ifndef HVBIOS_LIB_SERVICES_BLOCK_QUEUE_H_
#define HVBIOS_LIB_SERVICES_BLOCK_QUEUE_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>

#include "absl/status/statusor.h"
#include "common/block.h"
#include "hvbios/block.h"
#include "lib/guest_memory.h"
#include "lib/unique_fd.h"

namespace hvbios {

class BlockQueue {
 public:
  // Called on the I/O thread after a batch of completions was posted.
  using CompletionFn = std::function<void(uint32_t queue_id)>;

  // Initialises the ring's header and starts the I/O thread. The ring must
  // have passed hvb_ring_check_placement() (common/block.h). `device` and
  // `memory` outlive the queue.
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
             CompletionFn on_completions, UniqueFd doorbell, UniqueFd stop);
  void Loop();
  // hvb_ring_serve_batch's executor: see block_queue.cc.
  static void ExecuteBatch(void* queue, const hvb_ring_request* requests,
                           int64_t* statuses, uint32_t count);
  // A run of reads of adjacent sectors as one ReadV; false (nothing
  // reported) if any of them would fail or the device fails.
  bool ReadRun(const hvb_ring_request* requests, int64_t* statuses,
               uint32_t count);

  const uint32_t id_;
  BlockDevice* const device_;
  const GuestMemory* const memory_;
  const CompletionFn on_completions_;
  const UniqueFd doorbell_;
  const UniqueFd stop_;
  hvb_ring_server server_;  // I/O thread only, once started, and:
  std::array<hvb_ring_request, HVB_RING_MAX_ENTRIES> batch_;
  std::array<int64_t, HVB_RING_MAX_ENTRIES> statuses_;
  uint64_t ring_gpa_ = 0;  // set before the thread starts
  uint64_t ring_bytes_ = 0;
  std::thread thread_;
};

}  // namespace hvbios

#endif  // HVBIOS_LIB_SERVICES_BLOCK_QUEUE_H_
