// The ring engine (common/block.c), shared by the host's I/O threads and
// the firmware: a ring whose header and slots a hostile guest rewrites
// between serving rounds, served in batches or one by one, and where a
// ring may lie. Asserted: the engine reads and writes only the ring (ASan:
// the ring is a heap block of exactly HVB_RING_BYTES), hands `execute` at
// most what it asked for, completes no more than was posted, and once a
// ring is broken serves nothing more.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "common/block.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

struct Batch {
  uint32_t max = 0;
  uint32_t executed = 0;
};

void ExecuteBatch(void* context, const hvb_ring_request* requests,
                  int64_t* statuses, uint32_t count) {
  auto* batch = static_cast<Batch*>(context);
  FUZZ_CHECK(count <= batch->max, "%u requests for a batch of %u", count,
             batch->max);
  const hvb_disk_shape disk = {
      .sectors = 128, .read_only = 0, .max_sectors = 64, .optimal_sectors = 8};
  for (uint32_t i = 0; i < count; ++i) {
    statuses[i] = hvb_block_check(&disk, requests[i].op, requests[i].sector,
                                  requests[i].count);
    FUZZ_CHECK(hvbios::fuzz::IsAbiStatus(statuses[i]), "status %ld",
               statuses[i]);
  }
  batch->executed += count;
}

int64_t ExecuteOne(void* context, const hvb_ring_request* request) {
  int64_t status = 0;
  Batch* batch = static_cast<Batch*>(context);
  const uint32_t max = batch->max;
  batch->max = 1;
  ExecuteBatch(context, request, &status, 1);
  batch->max = max;
  return status;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const uint64_t ring_gpa = in.ConsumeIntegral<uint64_t>();
  const uint64_t ring_entries = in.ConsumeIntegral<uint64_t>();
  // Placement: any ring address and size against a small memory map.
  const hvb_mem_region map[] = {{0x1000, 0x9f000, HVB_MEM_USABLE, 0},
                                {0x100000, 0x300000, HVB_MEM_USABLE, 0},
                                {0x400000, 0x1000, HVB_MEM_PLATFORM, 0}};
  const int64_t placed =
      hvb_ring_check_placement(map, 3, ring_gpa, ring_entries);
  FUZZ_CHECK(
      placed == HVB_OK || placed == HVB_ERR_INVAL || placed == HVB_ERR_FAULT,
      "placement %ld", placed);
  const uint32_t entries = 1u << in.ConsumeIntegralInRange<int>(0, 8);
  const size_t bytes = HVB_RING_BYTES(entries);
  std::unique_ptr<uint8_t[]> ring(new uint8_t[bytes]);
  std::memset(ring.get(), 0, bytes);
  hvb_ring_server server;
  hvb_ring_server_init(&server, ring.get(), entries);
  std::vector<hvb_ring_request> requests(HVB_RING_MAX_ENTRIES);
  std::vector<int64_t> statuses(HVB_RING_MAX_ENTRIES);
  while (in.remaining_bytes() > 0) {
    // The guest writes: anywhere in the ring, any bytes (indices included).
    const std::vector<uint8_t> scribble =
        in.ConsumeBytes<uint8_t>(in.ConsumeIntegralInRange<size_t>(0, 64));
    const size_t at = in.ConsumeIntegralInRange<size_t>(0, bytes - 1);
    if (!scribble.empty()) {
      std::memcpy(ring.get() + at, scribble.data(),
                  std::min(scribble.size(), bytes - at));
    }
    const bool was_broken = server.broken != 0;
    Batch batch;
    batch.max = in.ConsumeIntegralInRange<uint32_t>(1, HVB_RING_MAX_ENTRIES);
    const uint32_t done =
        in.ConsumeBool()
            ? hvb_ring_serve_batch(&server, ExecuteBatch, &batch,
                                   requests.data(), statuses.data(), batch.max)
            : hvb_ring_serve(&server, ExecuteOne, &batch);
    FUZZ_CHECK(done <= entries, "%u completions in a ring of %u", done,
               entries);
    FUZZ_CHECK(done == batch.executed, "%u completed, %u executed", done,
               batch.executed);
    FUZZ_CHECK(!was_broken || done == 0, "a broken ring was served");
  }
  return 0;
}
