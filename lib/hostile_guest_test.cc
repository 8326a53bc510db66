// A hostile guest against the real services, on the scripted fake backend:
// thousands of hypercalls whose arguments aim at the edges of guest RAM (its
// last bytes, the 3-4 GiB hole, wrap-around, huge lengths), unknown function
// ids, and request rings whose headers and slots the guest scribbles over
// while the host's I/O threads serve them. Whatever it does, every call is
// answered once with HVB_OK or a defined HVB_ERR_*, the VMM keeps serving up
// to the guest's final shutdown, a read-only disk is unchanged, no image
// grows, and the host touches no memory it does not own (guest RAM sits
// between guard areas; CI runs this under ASan+UBSan and TSan as well).
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "hvbios/abi/hypercall.h"
#include "hvbios/abi/ring.h"
#include "hvbios/abi/status.h"
#include "hvbios/block.h"
#include "hvbios/vm.h"
#include "lib/guest_memory.h"
#include "tests/elf_builder.h"
#include "tests/fake_backend.h"
#include "tests/test_util.h"

#if defined(__SANITIZE_THREAD__)
// On KVM a guest's stores are invisible to ThreadSanitizer; here the "guest"
// is host code, so its stores are hidden the same way. The host must cope
// with them racing its own reads, which it does by copying what it reads
// once; TSan would report the race the guest commits on purpose.
extern "C" void AnnotateIgnoreWritesBegin(const char* file, int line);
extern "C" void AnnotateIgnoreWritesEnd(const char* file, int line);
#define GUEST_STORES_BEGIN() AnnotateIgnoreWritesBegin(__FILE__, __LINE__)
#define GUEST_STORES_END() AnnotateIgnoreWritesEnd(__FILE__, __LINE__)
#else
#define GUEST_STORES_BEGIN()
#define GUEST_STORES_END()
#endif

namespace hvbios {
namespace {

using testing::FakeBackendVm;
using testing::FakeVcpuScript;
using testing::ScopedTempDir;

constexpr uint64_t kRam = 16 << 20;
constexpr uint64_t kWritableDiskBytes = 1 << 20;
constexpr uint64_t kReadOnlyDiskBytes = 256 << 10;
// The guest works in phases; each registers two fresh rings (one on each
// disk) in its own 1 MiB of RAM from kRingArea on, then abuses them.
constexpr int kPhases = 4;
constexpr int kStepsPerPhase = 1500;
constexpr uint64_t kRingArea = 0x400000;
constexpr uint32_t kRingEntries[2] = {8, 256};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Draws arguments the way a fuzzer aimed at a hypercall ABI would: mostly
// edges, some plain values, some noise.
class Adversary {
 public:
  explicit Adversary(uint32_t seed) : rng_(seed) {}

  uint64_t Bits() { return (uint64_t{rng_()} << 32) | rng_(); }
  uint64_t Below(uint64_t n) { return Bits() % n; }
  bool OneIn(uint64_t n) { return Below(n) == 0; }

  uint64_t Address() {
    if (OneIn(2)) return Below(kRam);  // plain RAM
    switch (Below(10)) {
      case 0:
        return 0;
      case 1:
        return kRam - 1 - Below(64);
      case 2:
        return kRam - 4096;
      case 3:
        return kRam;
      case 4:
        return 0xc0000000 + Below(0x40000000);  // the hole below 4 GiB
      case 5:
        return 0x100000000ull;
      case 6:
        return ~0ull - Below(8192);
      case 7:
        return 1ull << (32 + Below(32));
      case 8:
        return Bits();
      default:
        return kRam - 4096 * (1 + Below(16)) - Below(16);  // near the end
    }
  }
  uint64_t Length() {
    switch (Below(8)) {
      case 0:
        return 0;
      case 1:
        return 1 + Below(16);
      case 2:
        return 4096;
      case 3:
        return kRam;
      case 4:
        return ~0ull - Below(16);
      case 5:
        return 1ull << Below(64);
      case 6:
        return Bits();
      default:
        return Below(70000);
    }
  }
  // Device, vCPU, queue and source ids, counts, vectors: small numbers,
  // their edges, and noise.
  uint64_t Small() {
    switch (Below(6)) {
      case 0:
        return Below(4);
      case 1:
        return Below(300);
      case 2:
        return 0x100 + Below(4);  // queue event sources
      case 3:
        return 0xffffffffull + Below(2);
      case 4:
        return Bits();
      default:
        return Below(64);
    }
  }
  uint64_t Device() { return OneIn(4) ? Small() : Below(2); }
  uint64_t Vector() { return OneIn(4) ? Small() : 32 + Below(223); }
  uint64_t Count() { return OneIn(4) ? Small() : 1 + Below(16); }
  uint64_t Sector(uint64_t sectors) {
    switch (Below(5)) {
      case 0:
        return sectors - Below(4);
      case 1:
        return ~0ull - Below(4);
      case 2:
        return Bits();
      default:
        return Below(sectors);
    }
  }
  uint64_t Time() {
    return OneIn(2) ? Below(1'000'000'000) : Bits();  // past and far future
  }

 private:
  std::mt19937 rng_;
};

// Every function of the ABI (hvbios/abi/functions.h: a new one is drawn
// too) but those that end the guest's own run (power.* and vcpu.stop; the
// conformance guest covers their checks). Queue setup is not drawn at
// random: the phases register rings themselves, so that queue ids stay
// predictable, and add setups that must fail.
#define HVB_FID_ROW(SVC, svc, FN, fn, number) HVB_FN_##SVC##_##FN,
constexpr uint64_t kAbiFids[] = {HVB_FUNCTIONS(HVB_FID_ROW)};
#undef HVB_FID_ROW
// Calls the random phases leave out: those that can end the run (or stop
// the caller), and queue set-up, which the phases do themselves.
bool LeftOut(uint64_t fid) {
  return fid == HVB_FN_POWER_SHUTDOWN || fid == HVB_FN_POWER_REBOOT ||
         fid == HVB_FN_VCPU_STOP || fid == HVB_FN_DEBUG_PANIC ||
         fid == HVB_FN_BLOCK_QUEUE_SETUP;
}
const std::vector<uint64_t> kFids = [] {
  std::vector<uint64_t> fids;
  for (uint64_t fid : kAbiFids) {
    if (!LeftOut(fid)) fids.push_back(fid);
  }
  return fids;
}();

std::vector<uint64_t> ArgumentsFor(uint64_t fid, Adversary& a) {
  const uint64_t sectors = kWritableDiskBytes / HVB_BLOCK_SECTOR_SIZE;
  switch (fid) {
    case HVB_FN_CONSOLE_WRITE:
    case HVB_FN_CONSOLE_READ:
    case HVB_FN_RNG_FILL:
      return {a.Address(), a.Length()};
    case HVB_FN_BASE_PROBE:
      return {a.OneIn(2) ? kFids[a.Below(kFids.size())] : a.Bits()};
    case HVB_FN_VCPU_START:
      return {a.Small(), a.Address(), a.Address() & ~uint64_t{a.Below(2) * 15},
              a.Bits(), a.OneIn(2) ? 0 : a.Address() & ~uint64_t{0xfff}};
    case HVB_FN_VCPU_STATUS:
    case HVB_FN_EVENT_MASK:
    case HVB_FN_EVENT_UNMASK:
      return {a.Small()};
    case HVB_FN_TIMER_SET:
      return {a.Time(), a.Vector()};
    case HVB_FN_EVENT_ROUTE:
      return {a.Small(), a.Small(), a.Vector()};
    case HVB_FN_EVENT_SEND_IPI:
      return {a.Small(), a.Vector()};
    case HVB_FN_BLOCK_INFO:
      return {a.Device(), a.Address()};
    case HVB_FN_BLOCK_READ:
    case HVB_FN_BLOCK_WRITE:
      return {a.Device(), a.Sector(sectors), a.Count(), a.Address()};
    case HVB_FN_BLOCK_FLUSH:
      return {a.Device()};
    case HVB_FN_BLOCK_DISCARD:
      return {a.Device(), a.Sector(sectors), a.Count()};
    default:
      return {a.Small(), a.Address(), a.Length(),
              a.Bits(),  a.Small(),   a.Bits()};
  }
}

// Arguments for block.queue_setup that every implementation must refuse.
std::vector<uint64_t> BadQueueSetup(Adversary& a) {
  const uint64_t free_page = kRingArea + (kPhases + 1) * 0x100000;
  switch (a.Below(5)) {
    case 0:
      return {2 + a.Below(100), free_page, 8};  // no such device
    case 1:
      return {0, free_page + 1 + a.Below(0xfff), 8};  // misaligned
    case 2:  // runs past the end of RAM, or wraps
      return {0, a.OneIn(2) ? kRam - 4096 : ~0ull & ~uint64_t{0xfff}, 256};
    case 3:  // not a power of two
      return {0, free_page, a.OneIn(2) ? 0 : 3 + 2 * a.Below(100)};
    default:  // too many entries
      return {0, free_page, uint64_t{512} << a.Below(20)};
  }
}

// The guest's side of one ring: what it last posted, so it can post more.
struct GuestRing {
  uint64_t address;
  uint32_t entries;
  uint32_t sq_tail = 0;
  uint32_t cq_head = 0;
  int good_reads = 0;  // well-formed reads that completed correctly
};

constexpr uint64_t kGoodReadTag = 0x600d;

// Guest code: posts one well-formed 1-sector read of sector 0 into `buf`
// (the caller rings the doorbell next).
void PostGoodRead(GuestRing& ring, const GuestMemory& memory, uint64_t buf) {
  auto* header = reinterpret_cast<hvb_ring_header*>(
      memory.Translate(ring.address, sizeof(hvb_ring_header)));
  auto* slot = reinterpret_cast<hvb_ring_request*>(memory.Translate(
      ring.address + HVB_RING_SQ_OFFSET +
          (ring.sq_tail % ring.entries) * sizeof(hvb_ring_request),
      sizeof(hvb_ring_request)));
  GUEST_STORES_BEGIN();
  *slot = {.op = HVB_RING_OP_READ,
           .count = 1,
           .sector = 0,
           .buf = buf,
           .tag = kGoodReadTag};
  __atomic_store_n(&header->sq_tail, ++ring.sq_tail, __ATOMIC_RELEASE);
  GUEST_STORES_END();
}

// Guest code: polls (for at most 30 s) for the completion of PostGoodRead's
// request on a ring nobody has abused yet, and checks it and the data.
void AwaitGoodRead(GuestRing& ring, const GuestMemory& memory, uint64_t buf,
                   const std::string& sector0) {
  auto* header = reinterpret_cast<hvb_ring_header*>(
      memory.Translate(ring.address, sizeof(hvb_ring_header)));
  const absl::Time limit = absl::Now() + absl::Seconds(30);
  while (__atomic_load_n(&header->cq_tail, __ATOMIC_ACQUIRE) == ring.cq_head &&
         absl::Now() < limit) {
    absl::SleepFor(absl::Microseconds(100));
  }
  hvb_ring_completion completion = {};
  std::string data(HVB_BLOCK_SECTOR_SIZE, '\0');
  if (memory.ReadObject(ring.address + HVB_RING_CQ_OFFSET(ring.entries) +
                            (ring.cq_head % ring.entries) * sizeof(completion),
                        &completion) &&
      memory.Read(buf, data.data(), data.size()) &&
      completion.tag == kGoodReadTag && completion.status == 1 &&
      data == sector0) {
    ++ring.good_reads;
  }
}

// Guest code run on vCPU 0 before it rings a doorbell: posts a few requests
// (mostly plausible, some absurd), consumes completions, and now and then
// scribbles over fields only the platform may write, or over the indices.
void AbuseRing(GuestRing& ring, Adversary& a, const GuestMemory& memory) {
  auto* header = reinterpret_cast<hvb_ring_header*>(
      memory.Translate(ring.address, sizeof(hvb_ring_header)));
  auto* slots = reinterpret_cast<hvb_ring_request*>(
      memory.Translate(ring.address + HVB_RING_SQ_OFFSET,
                       ring.entries * sizeof(hvb_ring_request)));
  GUEST_STORES_BEGIN();
  // Mostly a few requests; now and then more than the ring holds.
  const uint32_t posts = static_cast<uint32_t>(
      a.OneIn(50) ? ring.entries + 1 : a.Below(std::min(ring.entries, 8u) + 1));
  for (uint32_t i = 0; i < posts; ++i) {
    hvb_ring_request& r = slots[(ring.sq_tail + i) % ring.entries];
    r.op = a.OneIn(8) ? static_cast<uint8_t>(a.Bits())
                      : static_cast<uint8_t>(1 + a.Below(4));
    r.count = static_cast<uint32_t>(a.Count());
    r.sector = a.Sector(kWritableDiskBytes / HVB_BLOCK_SECTOR_SIZE);
    r.buf = a.Address();
    r.tag = a.Bits();
  }
  ring.sq_tail += posts;
  __atomic_store_n(&header->sq_tail, ring.sq_tail, __ATOMIC_RELEASE);
  // Consume every completion.
  ring.cq_head = __atomic_load_n(&header->cq_tail, __ATOMIC_ACQUIRE);
  __atomic_store_n(&header->cq_head, ring.cq_head, __ATOMIC_RELEASE);
  if (a.OneIn(40)) {
    switch (a.Below(4)) {
      case 0:
        ring.sq_tail = static_cast<uint32_t>(a.Bits());
        __atomic_store_n(&header->sq_tail, ring.sq_tail, __ATOMIC_RELEASE);
        break;
      case 1:
        __atomic_store_n(&header->cq_head, static_cast<uint32_t>(a.Bits()),
                         __ATOMIC_RELEASE);
        break;
      case 2:
        __atomic_store_n(&header->sq_head, static_cast<uint32_t>(a.Bits()),
                         __ATOMIC_RELEASE);
        __atomic_store_n(&header->cq_tail, static_cast<uint32_t>(a.Bits()),
                         __ATOMIC_RELEASE);
        break;
      default:
        header->entries = static_cast<uint32_t>(a.Bits());
    }
  }
  GUEST_STORES_END();
}

class HostileGuestTest : public ::testing::TestWithParam<uint32_t> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(temp_.Create("hostile_guest"));
    writable_path_ = temp_.path() + "/rw.img";
    read_only_path_ = temp_.path() + "/ro.img";
    std::string pattern(kWritableDiskBytes, '\0');
    for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = char(i * 7);
    std::ofstream(writable_path_, std::ios::binary) << pattern;
    pattern.resize(kReadOnlyDiskBytes);
    std::ofstream(read_only_path_, std::ios::binary) << pattern;
    read_only_contents_ = ReadFile(read_only_path_);
    sector0_ = read_only_contents_.substr(0, HVB_BLOCK_SECTOR_SIZE);
  }

  ScopedTempDir temp_;
  std::string writable_path_, read_only_path_, read_only_contents_;
  std::string sector0_;  // the same on both disks
};

TEST_P(HostileGuestTest, EveryCallIsAnsweredAndNothingEscapes) {
  Adversary a(GetParam());
  ASSERT_OK_AND_ASSIGN(auto writable, OpenDiskImage(writable_path_, false));
  ASSERT_OK_AND_ASSIGN(auto read_only, OpenDiskImage(read_only_path_, true));
  auto backend = std::make_unique<FakeBackendVm>();
  FakeBackendVm* fake = backend.get();
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<Vm> vm,
      Vm::Create(std::move(backend),
                 {.memory_bytes = kRam,
                  .vcpu_count = 2,
                  .disks = {std::move(writable), std::move(read_only)}}));
  const GuestMemory& memory = vm->memory();

  // The script, and for each call its function id.
  std::shared_ptr<FakeVcpuScript> script = fake->Script(0);
  std::vector<uint64_t> calls;
  auto call = [&](uint64_t fid, std::vector<uint64_t> args) {
    script->AddHypercall(fid, std::move(args));
    calls.push_back(fid);
  };
  std::vector<GuestRing> rings;
  rings.reserve(2 * kPhases);  // guest code holds references into it
  for (int phase = 0; phase < kPhases; ++phase) {
    for (uint32_t dev = 0; dev < 2; ++dev) {
      const GuestRing& ring = rings.emplace_back(GuestRing{
          kRingArea + phase * 0x100000 + dev * 0x80000, kRingEntries[dev]});
      call(HVB_FN_BLOCK_QUEUE_SETUP, {dev, ring.address, ring.entries});
      call(HVB_FN_EVENT_ROUTE,
           {HVB_EVENT_SRC_QUEUE(rings.size() - 1), a.Below(2), a.Vector()});
    }
    // Before abusing them, the guest checks that its fresh ring on the
    // read-only disk serves a well-formed request.
    GuestRing& fresh = rings[2 * phase + 1];
    const uint64_t buf = kRingArea + phase * 0x100000 + 0x40000;
    script->AddNotify(2 * phase + 1, [&fresh, &memory, buf] {
      PostGoodRead(fresh, memory, buf);
    });
    script->AddHypercall(HVB_FN_DEBUG_NULL, {}, [&fresh, &memory, buf, this] {
      AwaitGoodRead(fresh, memory, buf, sector0_);
    });
    calls.push_back(HVB_FN_DEBUG_NULL);
    for (int step = 0; step < kStepsPerPhase; ++step) {
      if (a.OneIn(5)) {
        const size_t queue = 2 * phase + a.Below(2);
        GuestRing& ring = rings[queue];
        script->AddNotify(a.OneIn(10) ? a.Small() : queue,
                          [&ring, &a, &memory] { AbuseRing(ring, a, memory); });
      } else if (a.OneIn(50)) {
        call(HVB_FN_BLOCK_QUEUE_SETUP, BadQueueSetup(a));
      } else if (a.OneIn(20)) {  // an unknown id, never one that ends the run
        uint64_t fid =
            a.OneIn(2) ? HVB_FID(a.Below(256), a.Below(16)) : a.Bits();
        if (LeftOut(fid)) fid = HVB_FN_DEBUG_NULL;
        call(fid, ArgumentsFor(fid, a));
      } else {
        const uint64_t fid = kFids[a.Below(kFids.size())];
        call(fid, ArgumentsFor(fid, a));
      }
    }
  }
  call(HVB_FN_POWER_SHUTDOWN, {42});  // answered HVB_OK, then the VM ends

  ASSERT_OK(vm->LoadGuest(testing::ElfBuilder::Simple().Build()));
  ASSERT_OK_AND_ASSIGN(Vcpu * boot, vm->CreateVcpu(0));
  ASSERT_OK(boot->Start());
  ASSERT_OK_AND_ASSIGN(VmExit exit, vm->Wait(absl::Seconds(120)));
  EXPECT_EQ(exit.reason, VmExit::Reason::kShutdown) << exit.message;
  EXPECT_EQ(exit.exit_code, 42);

  const std::vector<HypercallResult> done = script->Completions();
  ASSERT_EQ(done.size(), calls.size()) << "each call answered exactly once";
  int queues = 0, block_io = 0;
  for (size_t i = 0; i < calls.size(); ++i) {
    const int64_t status = done[i].status;
    EXPECT_TRUE(status >= HVB_ERR_NOMEM && status <= HVB_OK)
        << "call " << i << " (fid " << calls[i] << "): " << status;
    if (calls[i] == HVB_FN_BLOCK_QUEUE_SETUP && status == HVB_OK) {
      EXPECT_EQ(done[i].value, static_cast<uint64_t>(queues))
          << "only the phases' own setups succeed";
      ++queues;
    }
    block_io += status == HVB_OK && (calls[i] == HVB_FN_BLOCK_READ ||
                                     calls[i] == HVB_FN_BLOCK_WRITE);
  }
  EXPECT_EQ(queues, 2 * kPhases);
  for (int phase = 0; phase < kPhases; ++phase) {
    EXPECT_EQ(rings[2 * phase + 1].good_reads, 1) << "phase " << phase;
  }
  EXPECT_GT(block_io, 0) << "the adversary should land some valid I/O";
  vm.reset();  // joins the vCPU, timer and I/O threads

  EXPECT_EQ(ReadFile(read_only_path_), read_only_contents_);
  struct stat st = {};
  ASSERT_EQ(stat(writable_path_.c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), kWritableDiskBytes);
}

INSTANTIATE_TEST_SUITE_P(Seeds, HostileGuestTest, ::testing::Range(1u, 9u),
                         [](const auto& info) {
                           return absl::StrCat("seed", info.param);
                         });

}  // namespace
}  // namespace hvbios
