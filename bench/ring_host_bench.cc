// The host's side of a block ring, without a hypervisor: what the I/O
// thread costs per request (process CPU), with the host batching adjacent
// reads into one vectored read and without (each request its own pread),
// measured in the same run. Needs no /dev/kvm: the guest is a test thread
// writing the ring in guest memory as a guest would.
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "bench/bench_vms.h"
#include "benchmark/benchmark.h"
#include "hvbios/abi/ring.h"
#include "hvbios/block.h"
#include "lib/guest_memory.h"
#include "lib/services/block_queue.h"

namespace hvbios::bench {
namespace {

// Forwards to a disk but leaves ReadV to BlockDevice's default: one Read,
// one pread, per request, as the I/O thread did before it batched.
class OneReadPerRequest final : public BlockDevice {
 public:
  explicit OneReadPerRequest(BlockDevice& disk) : disk_(disk) {}
  uint64_t size_bytes() const override { return disk_.size_bytes(); }
  bool read_only() const override { return disk_.read_only(); }
  absl::Status Read(uint64_t offset, absl::Span<uint8_t> dst) override {
    return disk_.Read(offset, dst);
  }
  absl::Status Write(uint64_t offset, absl::Span<const uint8_t> src) override {
    return disk_.Write(offset, src);
  }
  absl::Status Flush() override { return disk_.Flush(); }
  absl::Status Discard(uint64_t offset, uint64_t length) override {
    return disk_.Discard(offset, length);
  }

 private:
  BlockDevice& disk_;
};

// The id of this process's thread named `name` (/proc/self/task), or 0.
pid_t ThreadNamed(absl::string_view name) {
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return 0;
  pid_t found = 0;
  while (const dirent* entry = readdir(dir)) {
    std::ifstream comm(
        absl::StrCat("/proc/self/task/", entry->d_name, "/comm"));
    std::string line;
    if (std::getline(comm, line) && line == name) found = atoi(entry->d_name);
  }
  closedir(dir);
  return found;
}

// The CPU time thread `tid` has used, in ns: its per-thread CPU clock, the
// clock id Linux derives from a thread id (what pthread_getcpuclockid
// returns; include/linux/posix-timers.h, MAKE_THREAD_CPUCLOCK).
double ThreadCpuNs(pid_t tid) {
  const clockid_t clock = (~static_cast<clockid_t>(tid) << 3) | 6;
  timespec t;
  if (clock_gettime(clock, &t) != 0) return 0;
  return static_cast<double>(t.tv_sec) * 1e9 + static_cast<double>(t.tv_nsec);
}

// args: batch (requests per doorbell, each 4 KiB, sequential), host
// batching (1) or one pread per request (0). Reports io_cpu_ns_per_request:
// the I/O thread's CPU time per request (the posting thread's spinning is
// not counted).
void BM_RingHostCpu(benchmark::State& state) {
  constexpr uint64_t kRing = 0x10000, kBuffers = 0x100000;
  constexpr uint32_t kEntries = 32, kSectors = 8;
  const uint32_t batch = static_cast<uint32_t>(state.range(0));
  absl::StatusOr<std::unique_ptr<BlockDevice>> file = TemporaryDisk(8 << 20);
  absl::StatusOr<std::unique_ptr<GuestMemory>> memory =
      GuestMemory::Create(4 << 20);
  if (!file.ok() || !memory.ok()) {
    return state.SkipWithError("no temporary disk or guest memory");
  }
  OneReadPerRequest unbatched(**file);
  BlockDevice* disk = state.range(1) ? file->get() : &unbatched;
  absl::StatusOr<std::unique_ptr<BlockQueue>> queue = BlockQueue::Create(
      0, disk, memory->get(), kRing, kEntries, [](uint32_t) {});
  if (!queue.ok()) return state.SkipWithError("cannot set up the queue");
  auto* header =
      reinterpret_cast<hvb_ring_header*>((*memory)->Translate(kRing, 64));
  auto* sq = reinterpret_cast<hvb_ring_request*>(
      (*memory)->Translate(kRing + HVB_RING_SQ_OFFSET, 32 * kEntries));
  const uint64_t disk_sectors = (8 << 20) / 512;
  uint32_t tail = 0;
  uint64_t sector = 0;
  pid_t io_thread = 0;  // it names itself once running
  for (int i = 0; i < 1000 && io_thread == 0; ++i) {
    io_thread = ThreadNamed("hvbios-blkq0");
    if (io_thread == 0) usleep(1000);
  }
  if (io_thread == 0) return state.SkipWithError("no I/O thread found");
  const double cpu_start = ThreadCpuNs(io_thread);
  for (auto _ : state) {
    for (uint32_t i = 0; i < batch; ++i, ++tail) {
      sq[tail % kEntries] = {HVB_RING_OP_READ,
                             0,
                             0,
                             kSectors,
                             sector,
                             kBuffers + (tail % kEntries) * 4096,
                             tail};
      sector = (sector + kSectors) % disk_sectors;
    }
    __atomic_store_n(&header->sq_tail, tail, __ATOMIC_RELEASE);
    (*queue)->Ring();
    while (__atomic_load_n(&header->cq_tail, __ATOMIC_ACQUIRE) != tail) {
    }
    __atomic_store_n(&header->cq_head, tail, __ATOMIC_RELEASE);
  }
  const double requests = static_cast<double>(state.iterations() * batch);
  state.counters["io_cpu_ns_per_request"] =
      (ThreadCpuNs(io_thread) - cpu_start) / requests;
  state.SetItemsProcessed(static_cast<int64_t>(requests));
  state.SetLabel(state.range(1) ? "host batches" : "pread per request");
}
BENCHMARK(BM_RingHostCpu)
    ->ArgNames({"batch", "host_batching"})
    ->ArgsProduct({{1, 8, 32}, {0, 1}})
    ->UseRealTime();

}  // namespace
}  // namespace hvbios::bench
