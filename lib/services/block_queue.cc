#include "lib/services/block_queue.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_format.h"
#include "hvbios/abi/hypercall.h"
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
        // One batch takes everything posted (a guest keeps at most
        // `entries` <= HVB_RING_MAX_ENTRIES outstanding); what it posts
        // later comes with a doorbell of its own.
        completed = hvb_ring_serve_batch(&server_, &ExecuteBatch, this,
                                         batch_.data(), statuses_.data(),
                                         static_cast<uint32_t>(batch_.size()));
        // The completions the ring engine wrote (dirty logs).
        memory_->MarkWritten(ring_gpa_, ring_bytes_);
      }
      if (completed > 0) on_completions_(id_);
    }
  }
}

namespace {

bool AdjacentReads(const hvb_ring_request& a, const hvb_ring_request& b) {
  return a.op == HVB_RING_OP_READ && b.op == HVB_RING_OP_READ &&
         a.count <= UINT64_MAX - a.sector && b.sector == a.sector + a.count;
}

}  // namespace

// Host-side batching: a run of reads of adjacent sectors (what sequential
// I/O posts) goes to the device as one ReadV, one preadv for an image file,
// instead of a pread per request. Everything else, and any run with a
// request that would fail, is executed one request at a time, exactly as
// the synchronous call is.
void BlockQueue::ExecuteBatch(void* queue, const hvb_ring_request* requests,
                              int64_t* statuses, uint32_t count) {
  auto* q = static_cast<BlockQueue*>(queue);
  for (uint32_t i = 0; i < count;) {
    uint32_t end = i + 1;
    while (end < count && AdjacentReads(requests[end - 1], requests[end])) {
      ++end;
    }
    if (end - i < 2 || !q->ReadRun(&requests[i], &statuses[i], end - i)) {
      for (uint32_t k = i; k < end; ++k) {
        const hvb_ring_request& r = requests[k];
        statuses[k] = ExecuteBlockRequest(*q->device_, *q->memory_, r.op,
                                          r.sector, r.count, r.buf);
      }
    }
    i = end;
  }
  // Published before the completions are: the guest may act on them (ask
  // a vCPU thread to read what this wrote) as soon as it sees cq_tail move.
  q->memory_->PublishToGuest();
}

bool BlockQueue::ReadRun(const hvb_ring_request* requests, int64_t* statuses,
                         uint32_t count) {
  const hvb_disk_shape shape = DiskShapeOf(*device_);
  std::array<absl::Span<uint8_t>, HVB_RING_MAX_ENTRIES> dsts;
  for (uint32_t k = 0; k < count; ++k) {
    const hvb_ring_request& r = requests[k];
    if (hvb_block_check(&shape, r.op, r.sector, r.count) != HVB_OK) {
      return false;
    }
    const uint64_t length = r.count * HVB_BLOCK_SECTOR_SIZE;
    uint8_t* dst = memory_->GuestBufferToWrite(r.buf, length);
    if (dst == nullptr) return false;
    dsts[k] = absl::MakeSpan(dst, length);
  }
  absl::Status s;
  {
    GuestMemory::DeviceAccess dma;
    s = device_->ReadV(requests[0].sector * HVB_BLOCK_SECTOR_SIZE,
                       absl::MakeConstSpan(dsts.data(), count));
  }
  if (!s.ok()) return false;  // each again on its own, for its own status
  for (uint32_t k = 0; k < count; ++k) statuses[k] = requests[k].count;
  return true;
}

}  // namespace hvbios
