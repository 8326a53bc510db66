#include "lib/block_queue.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_format.h"
#include "hvbios/abi/ring.h"
#include "hvbios/abi/status.h"
#include "lib/block.h"
#include "lib/status_macros.h"

namespace hvbios {

int64_t BlockQueue::CheckRing(const GuestMemory& memory, uint64_t ring_gpa,
                              uint64_t entries) {
  if (entries == 0 || entries > HVB_RING_MAX_ENTRIES ||
      (entries & (entries - 1)) != 0 || ring_gpa % 4096 != 0) {
    return HVB_ERR_INVAL;
  }
  return memory.GuestOwns(ring_gpa, HVB_RING_BYTES(entries)) ? HVB_OK
                                                             : HVB_ERR_FAULT;
}

absl::StatusOr<std::unique_ptr<BlockQueue>> BlockQueue::Create(
    uint32_t id, BlockDevice* device, const GuestMemory* memory,
    uint64_t ring_gpa, uint32_t entries, CompletionFn on_completions) {
  UniqueFd doorbell(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  UniqueFd stop(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!doorbell.valid() || !stop.valid()) {
    return ErrnoStatus(errno, "eventfd for a block queue");
  }
  hvb_ring_header header = {};
  header.entries = entries;
  memory->WriteObject(ring_gpa, header);
  auto queue = std::unique_ptr<BlockQueue>(new BlockQueue(
      id, device, memory, ring_gpa, entries, std::move(on_completions),
      std::move(doorbell), std::move(stop)));
  queue->thread_ = std::thread(&BlockQueue::Loop, queue.get());
  return queue;
}

BlockQueue::BlockQueue(uint32_t id, BlockDevice* device,
                       const GuestMemory* memory, uint64_t ring_gpa,
                       uint32_t entries, CompletionFn on_completions,
                       UniqueFd doorbell, UniqueFd stop)
    : id_(id),
      device_(device),
      memory_(memory),
      ring_(ring_gpa),
      entries_(entries),
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
      Process();
      memory_->PublishToGuest();
    }
  }
}

void BlockQueue::Process() {
  if (broken_) return;
  // Checked at setup: the whole ring lies in RAM for the VM's lifetime.
  auto* header =
      reinterpret_cast<hvb_ring_header*>(memory_->Translate(ring_, 64));
  const uint32_t mask = entries_ - 1;
  const uint32_t sq_tail = __atomic_load_n(&header->sq_tail, __ATOMIC_ACQUIRE);
  bool completed = false;
  auto broken = [&] {
    broken_ = true;
    __atomic_store_n(&header->error, 1u, __ATOMIC_RELEASE);
  };
  if (sq_tail - sq_head_ > entries_) return broken();
  while (sq_head_ != sq_tail) {
    // The guest keeps at most `entries` requests outstanding; more would
    // overflow the completion queue.
    const uint32_t cq_head =
        __atomic_load_n(&header->cq_head, __ATOMIC_ACQUIRE);
    if (cq_tail_ - cq_head >= entries_) {
      broken();
      break;
    }
    hvb_ring_request request;  // copied once, then only the copy is used
    memory_->ReadObject(
        ring_ + HVB_RING_SQ_OFFSET + (sq_head_ & mask) * sizeof(request),
        &request);
    const hvb_ring_completion completion = {
        request.tag,
        ExecuteBlockRequest(*device_, *memory_, request.op, request.sector,
                            request.count, request.buf)};
    memory_->WriteObject(ring_ + HVB_RING_CQ_OFFSET(entries_) +
                             (cq_tail_ & mask) * sizeof(completion),
                         completion);
    __atomic_store_n(&header->cq_tail, ++cq_tail_, __ATOMIC_RELEASE);
    __atomic_store_n(&header->sq_head, ++sq_head_, __ATOMIC_RELEASE);
    completed = true;
  }
  if (completed) on_completions_(id_);
}

}  // namespace hvbios
