#include "lib/services/block_queue.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_format.h"
#include "hvbios/abi/ring.h"
#include "hvbios/abi/status.h"
#include "lib/services/block.h"
#include "lib/status_macros.h"
#include "lib/threads.h"

namespace hvbios {

absl::StatusOr<std::unique_ptr<BlockQueue>> BlockQueue::Create(
    uint32_t id, BlockDevice* device, const GuestMemory* memory,
    uint64_t ring_gpa, uint32_t entries, CompletionFn on_completions) {
  UniqueFd doorbell(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  UniqueFd stop(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!doorbell.valid() || !stop.valid()) {
    return ErrnoStatus(errno, "eventfd for a block queue");
  }
  auto queue = std::unique_ptr<BlockQueue>(
      new BlockQueue(id, device, memory, std::move(on_completions),
                     std::move(doorbell), std::move(stop)));
  // Checked at setup: the whole ring lies in the guest's RAM for the VM's
  // lifetime.
  // Pinned: the region it lies in stays until the VM goes.
  memory->Pin(ring_gpa, HVB_RING_BYTES(entries));
  queue->ring_gpa_ = ring_gpa;
  queue->ring_bytes_ = HVB_RING_BYTES(entries);
  hvb_ring_server_init(&queue->server_,
                       memory->Translate(ring_gpa, HVB_RING_BYTES(entries)),
                       entries);
  ASSIGN_OR_RETURN(
      queue->thread_,
      StartThread("block queue", [q = queue.get()] { q->Loop(); }));
  return queue;
}

BlockQueue::BlockQueue(uint32_t id, BlockDevice* device,
                       const GuestMemory* memory, CompletionFn on_completions,
                       UniqueFd doorbell, UniqueFd stop)
    : id_(id),
      device_(device),
      memory_(memory),
      on_completions_(std::move(on_completions)),
      doorbell_(std::move(doorbell)),
      stop_(std::move(stop)) {}

BlockQueue::~BlockQueue() {
  const uint64_t one = 1;
  (void)!write(stop_.get(), &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
}

void BlockQueue::Ring() {
  const uint64_t one = 1;
  (void)!write(doorbell_.get(), &one, sizeof(one));
}

void BlockQueue::Loop() {
  pthread_setname_np(pthread_self(),
                     absl::StrFormat("hvbios-blkq%d", id_).c_str());
  pollfd fds[2] = {{doorbell_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    uint64_t rings;
    if (read(doorbell_.get(), &rings, sizeof(rings)) == sizeof(rings)) {
      memory_->ObserveGuest();
      uint32_t completed;
      {
        GuestMemory::Access access(*memory_);
        completed = hvb_ring_serve(&server_, &Execute, this);
        // The completions the ring engine wrote (dirty logs).
        memory_->MarkWritten(ring_gpa_, ring_bytes_);
      }
      if (completed > 0) on_completions_(id_);
    }
  }
}

int64_t BlockQueue::Execute(void* queue, const hvb_ring_request* request) {
  auto* q = static_cast<BlockQueue*>(queue);
  const int64_t status =
      ExecuteBlockRequest(*q->device_, *q->memory_, request->op,
                          request->sector, request->count, request->buf);
  // Published before its completion is: the guest may act on it (ask a
  // vCPU thread to read what this wrote) as soon as it sees cq_tail move.
  q->memory_->PublishToGuest();
  return status;
}

}  // namespace hvbios
