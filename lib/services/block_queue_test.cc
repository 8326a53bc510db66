// The ring engine against guest memory directly (no hypervisor): requests
// posted as a guest would, the doorbell rung, completions checked.
#include "lib/services/block_queue.h"

#include <atomic>
#include <cstring>

#include "gtest/gtest.h"
#include "hvbios/abi/ring.h"
#include "hvbios/abi/status.h"
#include "tests/test_util.h"

namespace hvbios {
namespace {

constexpr uint64_t kRing = 0x10000;
constexpr uint32_t kEntries = 8;

class BlockQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<GuestMemory> mem_owner,
                         GuestMemory::Create(2 << 20));
    memory_ = std::move(mem_owner);
    BlockCallbacks callbacks;
    callbacks.size_bytes = disk_.size();
    callbacks.read = [this](uint64_t offset, absl::Span<uint8_t> dst) {
      std::memcpy(dst.data(), disk_.data() + offset, dst.size());
      return absl::OkStatus();
    };
    callbacks.write = [this](uint64_t offset, absl::Span<const uint8_t> src) {
      std::memcpy(disk_.data() + offset, src.data(), src.size());
      return absl::OkStatus();
    };
    ASSERT_OK_AND_ASSIGN(device_, MakeCallbackBlockDevice(callbacks));
    for (size_t i = 0; i < disk_.size(); ++i) disk_[i] = uint8_t(i / 512);
    ASSERT_EQ(
        hvb_ring_check_placement(memory_->memory_map().data(),
                                 memory_->memory_map().size(), kRing, kEntries),
        HVB_OK);
    ASSERT_OK_AND_ASSIGN(
        queue_, BlockQueue::Create(3, device_.get(), memory_.get(), kRing,
                                   kEntries, [this](uint32_t id) {
                                     EXPECT_EQ(id, 3u);
                                     batches_.fetch_add(1);
                                   }));
  }
  // Replaces the queue with one on `device` (the same ring, reset).
  void ServeWith(BlockDevice* device) {
    queue_.reset();
    ASSERT_OK_AND_ASSIGN(
        queue_, BlockQueue::Create(3, device, memory_.get(), kRing, kEntries,
                                   [](uint32_t) {}));
  }
  hvb_ring_header* header() {
    return reinterpret_cast<hvb_ring_header*>(memory_->Translate(kRing, 64));
  }
  void Post(uint8_t op, uint64_t sector, uint32_t count, uint64_t buf,
            uint64_t tag) {
    hvb_ring_request r = {op, 0, 0, count, sector, buf, tag};
    memory_->WriteObject(
        kRing + HVB_RING_SQ_OFFSET + (tail_ % kEntries) * sizeof(r), r);
    ++tail_;
  }
  void Submit() {
    __atomic_store_n(&header()->sq_tail, tail_, __ATOMIC_RELEASE);
    queue_->Ring();
  }
  // Waits (bounded) for cq_tail to reach `n`.
  bool AwaitCompletions(uint32_t n) {
    const absl::Time limit = absl::Now() + absl::Seconds(30);
    while (__atomic_load_n(&header()->cq_tail, __ATOMIC_ACQUIRE) < n) {
      if (absl::Now() > limit) return false;
      absl::SleepFor(absl::Microseconds(100));
    }
    return true;
  }
  // Waits (bounded) until the platform flags the ring broken; the flag.
  uint32_t AwaitError() {
    const absl::Time limit = absl::Now() + absl::Seconds(30);
    uint32_t error;
    while ((error = __atomic_load_n(&header()->error, __ATOMIC_ACQUIRE)) == 0 &&
           absl::Now() < limit) {
      absl::SleepFor(absl::Microseconds(100));
    }
    return error;
  }
  hvb_ring_completion Completion(uint32_t index) {
    hvb_ring_completion c = {};
    memory_->ReadObject(
        kRing + HVB_RING_CQ_OFFSET(kEntries) + (index % kEntries) * sizeof(c),
        &c);
    return c;
  }

  std::unique_ptr<GuestMemory> memory_;
  std::vector<uint8_t> disk_ = std::vector<uint8_t>(64 << 10);
  std::unique_ptr<BlockDevice> device_;
  std::unique_ptr<BlockQueue> queue_;
  std::atomic<int> batches_{0};
  uint32_t tail_ = 0;
};

TEST_F(BlockQueueTest, RingPlacementIsChecked) {
  const auto check = [&](uint64_t ring, uint64_t entries) {
    const auto& map = memory_->memory_map();
    return hvb_ring_check_placement(map.data(), map.size(), ring, entries);
  };
  EXPECT_EQ(check(kRing, 0), HVB_ERR_INVAL);
  EXPECT_EQ(check(kRing, 6), HVB_ERR_INVAL);
  EXPECT_EQ(check(kRing, 257), HVB_ERR_INVAL);
  EXPECT_EQ(check(kRing + 8, 8), HVB_ERR_INVAL);
  EXPECT_EQ(check((2 << 20) - 4096, 256), HVB_ERR_FAULT);
  EXPECT_EQ(check((2 << 20) - 4096, 8), HVB_OK);
}

TEST_F(BlockQueueTest, SetupInitialisesTheHeader) {
  EXPECT_EQ(header()->entries, kEntries);
  EXPECT_EQ(header()->sq_head, 0u);
  EXPECT_EQ(header()->cq_tail, 0u);
  EXPECT_EQ(header()->error, 0u);
}

TEST_F(BlockQueueTest, ABatchCompletesInOrderWithOneEvent) {
  for (uint32_t i = 0; i < kEntries; ++i) {
    Post(HVB_RING_OP_READ, i, 1, 0x20000 + i * 512, 1000 + i);
  }
  Submit();
  ASSERT_TRUE(AwaitCompletions(kEntries));
  for (uint32_t i = 0; i < kEntries; ++i) {
    const hvb_ring_completion c = Completion(i);
    EXPECT_EQ(c.tag, 1000u + i);
    EXPECT_EQ(c.status, 1);
    EXPECT_EQ(memory_->Translate(0x20000 + i * 512, 1)[0], i);
  }
  EXPECT_EQ(__atomic_load_n(&header()->sq_head, __ATOMIC_ACQUIRE), kEntries);
  // The event follows the batch's last completion.
  const absl::Time limit = absl::Now() + absl::Seconds(30);
  while (batches_.load() == 0 && absl::Now() < limit) {
    absl::SleepFor(absl::Microseconds(100));
  }
  absl::SleepFor(absl::Milliseconds(10));
  EXPECT_EQ(batches_.load(), 1) << "one doorbell, one batch, one event";
}

TEST_F(BlockQueueTest, BadRequestsCompleteWithTheirErrors) {
  Post(42, 0, 1, 0x20000, 1);
  Post(HVB_RING_OP_READ, 1000, 1, 0x20000, 2);
  Post(HVB_RING_OP_WRITE, 0, 1, (2 << 20) - 100, 3);
  Post(HVB_RING_OP_WRITE, 5, 1, 0x30000, 4);
  Submit();
  ASSERT_TRUE(AwaitCompletions(4));
  EXPECT_EQ(Completion(0).status, HVB_ERR_INVAL);
  EXPECT_EQ(Completion(1).status, HVB_ERR_RANGE);
  EXPECT_EQ(Completion(2).status, HVB_ERR_FAULT);
  EXPECT_EQ(Completion(3).status, 1);
  EXPECT_EQ(disk_[5 * 512], 0) << "sector 5 now holds guest RAM's zeros";
  EXPECT_EQ(header()->errors, 3u) << "the ring counts its failed completions";
  EXPECT_EQ(header()->features & HVB_RING_F_ERROR_COUNT,
            HVB_RING_F_ERROR_COUNT);
}

// A read-only disk over disk_ that counts how it is asked to read.
class CountingDevice final : public BlockDevice {
 public:
  explicit CountingDevice(const std::vector<uint8_t>& disk) : disk_(disk) {}
  uint64_t size_bytes() const override { return disk_.size(); }
  bool read_only() const override { return true; }
  absl::Status Read(uint64_t offset, absl::Span<uint8_t> dst) override {
    reads.fetch_add(1);
    std::memcpy(dst.data(), disk_.data() + offset, dst.size());
    return absl::OkStatus();
  }
  absl::Status ReadV(uint64_t offset,
                     absl::Span<const absl::Span<uint8_t>> dsts) override {
    vectored_reads.fetch_add(1);
    for (absl::Span<uint8_t> dst : dsts) {
      std::memcpy(dst.data(), disk_.data() + offset, dst.size());
      offset += dst.size();
    }
    return absl::OkStatus();
  }
  absl::Status Write(uint64_t, absl::Span<const uint8_t>) override {
    return absl::PermissionDeniedError("read-only");
  }
  absl::Status Flush() override { return absl::OkStatus(); }
  absl::Status Discard(uint64_t, uint64_t) override {
    return absl::PermissionDeniedError("read-only");
  }
  std::atomic<int> reads{0}, vectored_reads{0};

 private:
  const std::vector<uint8_t>& disk_;
};

TEST_F(BlockQueueTest, AdjacentReadsReachTheDeviceAsOneVectoredRead) {
  CountingDevice counting(disk_);
  ASSERT_NO_FATAL_FAILURE(ServeWith(&counting));
  // Sectors 4..11, adjacent, into scattered buffers: one run.
  for (uint32_t i = 0; i < 7; ++i) {
    Post(HVB_RING_OP_READ, 4 + i, 1, 0x40000 + (6 - i) * 4096, i);
  }
  Post(HVB_RING_OP_READ, 11, 1, 0x50000, 7);
  Submit();
  ASSERT_TRUE(AwaitCompletions(kEntries));
  for (uint32_t i = 0; i < kEntries; ++i) EXPECT_EQ(Completion(i).status, 1);
  for (uint32_t i = 0; i < 7; ++i) {
    EXPECT_EQ(memory_->Translate(0x40000 + (6 - i) * 4096, 1)[0], 4 + i);
  }
  EXPECT_EQ(memory_->Translate(0x50000, 1)[0], 11);
  EXPECT_EQ(counting.vectored_reads.load(), 1);
  EXPECT_EQ(counting.reads.load(), 0);
}

TEST_F(BlockQueueTest, ARunWithABadRequestIsServedOneByOne) {
  CountingDevice counting(disk_);
  ASSERT_NO_FATAL_FAILURE(ServeWith(&counting));
  Post(HVB_RING_OP_READ, 0, 1, 0x40000, 0);
  Post(HVB_RING_OP_READ, 1, 1, (2 << 20) - 100, 1);  // not the guest's RAM
  Post(HVB_RING_OP_READ, 2, 1, 0x41000, 2);
  Submit();
  ASSERT_TRUE(AwaitCompletions(3));
  EXPECT_EQ(Completion(0).status, 1);
  EXPECT_EQ(Completion(1).status, HVB_ERR_FAULT);
  EXPECT_EQ(Completion(2).status, 1);
  EXPECT_EQ(memory_->Translate(0x41000, 1)[0], 2);
  EXPECT_EQ(counting.vectored_reads.load(), 0);
  EXPECT_EQ(counting.reads.load(), 2);
}

TEST_F(BlockQueueTest, IndicesOutOfBoundsBreakOnlyThisRing) {
  tail_ = 1000;  // far beyond sq_head + entries
  Submit();
  EXPECT_NE(AwaitError(), 0u);
  EXPECT_EQ(header()->cq_tail, 0u) << "nothing was executed";
}

TEST_F(BlockQueueTest, TooManyOutstandingRequestsBreakTheRing) {
  // The guest never consumes completions (cq_head stays 0) but keeps
  // posting: the ninth request would overflow the completion queue.
  for (uint32_t i = 0; i < kEntries; ++i)
    Post(HVB_RING_OP_READ, 0, 1, 0x20000, i);
  Submit();
  ASSERT_TRUE(AwaitCompletions(kEntries));
  Post(HVB_RING_OP_READ, 0, 1, 0x20000, 99);
  Submit();
  EXPECT_NE(AwaitError(), 0u);
  EXPECT_EQ(header()->cq_tail, kEntries) << "no completion was overwritten";
}

}  // namespace
}  // namespace hvbios
