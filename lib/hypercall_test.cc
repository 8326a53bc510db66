#include "lib/hypercall.h"

#include <cstring>
#include <optional>
#include <string>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "hvbios/abi/hypercall.h"
#include "hvbios/abi/ring.h"
#include "hvbios/abi/status.h"
#include "lib/version.h"
#include "tests/test_util.h"

namespace hvbios {
namespace {

constexpr uint64_t kRam = 2 << 20;

class RecordingHost : public ServiceHost {
 public:
  explicit RecordingHost(GuestMemory memory) : memory_(std::move(memory)) {}
  const GuestMemory& memory() const override { return memory_; }
  uint32_t implementation_id() const override { return 42; }
  size_t ConsoleWrite(absl::string_view bytes) override {
    absl::StrAppend(&output_, bytes);
    return bytes.size();
  }
  size_t ConsoleRead(uint8_t* dst, size_t capacity) override {
    const size_t n = std::min(capacity, input_.size());
    std::memcpy(dst, input_.data(), n);
    input_.erase(0, n);
    return n;
  }
  uint64_t MonotonicNs() const override { return 1234; }
  uint64_t WallclockNs() const override { return 5678; }
  void RequestShutdown(uint8_t code) override { shutdown_ = code; }
  void RequestReboot() override { reboot_ = true; }
  uint32_t vcpu_count() const override { return 4; }
  int64_t StartVcpu(uint32_t id, const LongModeEntry& entry) override {
    started_.push_back({id, entry});
    return start_status_;
  }
  void StopVcpu(uint32_t caller) override { stopped_.push_back(caller); }
  int64_t VcpuStatusOf(uint32_t id) override {
    if (id == 3) return HVB_ERR_NODEV;
    return HVB_VCPU_RUNNING;
  }
  void SetTimer(uint32_t vcpu, uint64_t deadline, uint8_t vector) override {
    timer_ = {vcpu, deadline, vector};
  }
  void CancelTimer(uint32_t vcpu) override { cancelled_.push_back(vcpu); }
  int64_t RouteEvent(uint32_t source, uint32_t vcpu, uint8_t vector) override {
    routes_.push_back({source, vcpu, vector});
    return HVB_OK;
  }
  void MaskEvent(uint32_t source, bool masked) override {
    masks_.push_back({source, masked});
  }
  int64_t RaiseEvent(uint32_t vcpu, uint8_t vector) override {
    events_.push_back({vcpu, vector});
    return vcpu == 2 ? HVB_ERR_NODEV : HVB_OK;
  }
  bool EventSourceExists(uint32_t source) override {
    return source == HVB_EVENT_SRC_CONSOLE_INPUT ||
           source == HVB_EVENT_SRC_QUEUE(0);
  }
  BlockDevice* block_device(uint32_t id) override {
    return id < disks_.size() ? disks_[id].get() : nullptr;
  }
  int64_t SetupQueue(uint32_t dev, uint64_t ring, uint32_t entries) override {
    queues_.push_back({dev, ring, entries});
    return static_cast<int64_t>(queues_.size() - 1);
  }
  size_t RandomBytes(uint8_t* dst, size_t length) override {
    std::memset(dst, 0xa5, length);
    return length;
  }

  std::string output_;
  std::string input_;
  std::optional<int> shutdown_;
  bool reboot_ = false;
  int64_t start_status_ = HVB_OK;
  std::vector<std::pair<uint32_t, LongModeEntry>> started_;
  std::vector<uint32_t> stopped_;
  std::optional<std::tuple<uint32_t, uint64_t, uint8_t>> timer_;
  std::vector<uint32_t> cancelled_;
  std::vector<std::tuple<uint32_t, uint32_t, uint8_t>> routes_;
  std::vector<std::pair<uint32_t, bool>> masks_;
  std::vector<std::pair<uint32_t, uint8_t>> events_;
  std::vector<std::unique_ptr<BlockDevice>> disks_;
  std::vector<std::tuple<uint32_t, uint64_t, uint32_t>> queues_;

 private:
  GuestMemory memory_;
};

class HypercallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(GuestMemory mem, GuestMemory::Create(kRam));
    host_ = std::make_unique<RecordingHost>(std::move(mem));
  }
  HypercallResult Call(uint64_t fid, std::vector<uint64_t> args = {}) {
    HypercallArgs a = {};
    a.fid = fid;
    for (size_t i = 0; i < args.size(); ++i) a.arg[i] = args[i];
    return DispatchHypercall(*host_, caller_, a);
  }
  void Poke(uint64_t gpa, absl::string_view bytes) {
    ASSERT_TRUE(host_->memory().Write(gpa, bytes.data(), bytes.size()));
  }
  std::unique_ptr<RecordingHost> host_;
  uint32_t caller_ = 1;
};

TEST_F(HypercallTest, UnknownFunctionsAreNosys) {
  EXPECT_EQ(Call(HVB_FID(0xffff, 0)).status, HVB_ERR_NOSYS);
  EXPECT_EQ(Call(HVB_FID(HVB_SVC_BASE, 0xffff)).status, HVB_ERR_NOSYS);
  EXPECT_EQ(Call(HVB_FID(HVB_SVC_DEBUG, 2)).status, HVB_ERR_NOSYS);
  for (uint32_t svc : {HVB_SVC_NET, HVB_SVC_MEM, 0x0cu, 0x100u}) {
    EXPECT_EQ(Call(HVB_FID(svc, 0)).status, HVB_ERR_NOSYS) << svc;
  }
  EXPECT_EQ(Call(HVB_FID(HVB_SVC_BLOCK, 6)).status, HVB_ERR_NOSYS);
  EXPECT_EQ(Call(HVB_FID(HVB_SVC_RNG, 1)).status, HVB_ERR_NOSYS);
  EXPECT_EQ(Call((1ull << 32) | HVB_FN_DEBUG_NULL).status, HVB_ERR_NOSYS);
  EXPECT_EQ(Call(UINT64_MAX).status, HVB_ERR_NOSYS);
}

TEST_F(HypercallTest, Base) {
  EXPECT_EQ(Call(HVB_FN_BASE_GET_ABI_VERSION).value, HVB_ABI_VERSION);
  EXPECT_EQ(Call(HVB_FN_BASE_GET_IMPL_ID).value, 42u);
  EXPECT_EQ(Call(HVB_FN_BASE_GET_IMPL_VERSION).value, kImplementationVersion);
  EXPECT_EQ(Call(HVB_FN_BASE_PROBE, {HVB_FN_CONSOLE_READ}).value, 1u);
  EXPECT_EQ(Call(HVB_FN_BASE_PROBE, {HVB_FID(HVB_SVC_CONSOLE, 2)}).value, 0u);
  EXPECT_EQ(Call(HVB_FN_BASE_PROBE, {(1ull << 33) | HVB_FN_DEBUG_NULL}).value,
            0u);
  EXPECT_EQ(Call(HVB_FN_BASE_PROBE, {HVB_FID(HVB_SVC_BLOCK, 0)}).status,
            HVB_OK);
}

TEST_F(HypercallTest, ProbeAgreesWithDispatch) {
  for (uint32_t svc = 0; svc < 16; ++svc) {
    for (uint32_t fn = 0; fn < 8; ++fn) {
      const uint32_t fid = HVB_FID(svc, fn);
      if (fid == HVB_FN_POWER_SHUTDOWN || fid == HVB_FN_POWER_REBOOT ||
          fid == HVB_FN_VCPU_STOP) {
        continue;
      }
      EXPECT_EQ(IsHypercallImplemented(fid),
                Call(fid, {0, 0, 0, 0, 0, 0}).status != HVB_ERR_NOSYS)
          << std::hex << fid;
    }
  }
}

TEST_F(HypercallTest, ConsoleWrite) {
  Poke(0x1000, "hello");
  HypercallResult r = Call(HVB_FN_CONSOLE_WRITE, {0x1000, 5});
  EXPECT_EQ(r.status, HVB_OK);
  EXPECT_EQ(r.value, 5u);
  EXPECT_EQ(host_->output_, "hello");
  r = Call(HVB_FN_CONSOLE_WRITE, {0xdead0000, 0});
  EXPECT_EQ(r.status, HVB_OK);
  EXPECT_EQ(r.value, 0u);
}

TEST_F(HypercallTest, ConsoleWriteIsShortAboveTheMaximum) {
  HypercallResult r = Call(HVB_FN_CONSOLE_WRITE, {0, UINT64_MAX});
  EXPECT_EQ(r.status, HVB_OK);
  EXPECT_EQ(r.value, HVB_CONSOLE_MAX_IO);
  EXPECT_EQ(host_->output_.size(), HVB_CONSOLE_MAX_IO);
}

TEST_F(HypercallTest, ConsoleWriteRejectsBuffersOutsideRam) {
  const std::vector<std::pair<uint64_t, uint64_t>> bad = {
      {kRam, 1},       {kRam - 1, 2},
      {UINT64_MAX, 1}, {UINT64_MAX - 1, 16},
      {1ull << 40, 8}, {kRam - HVB_CONSOLE_MAX_IO + 1, UINT64_MAX}};
  for (auto [gpa, length] : bad) {
    EXPECT_EQ(Call(HVB_FN_CONSOLE_WRITE, {gpa, length}).status, HVB_ERR_FAULT)
        << gpa << " " << length;
  }
  EXPECT_EQ(host_->output_, "");
}

TEST_F(HypercallTest, ConsoleRead) {
  host_->input_ = "abcdef";
  HypercallResult r = Call(HVB_FN_CONSOLE_READ, {0x2000, 4});
  EXPECT_EQ(r.status, HVB_OK);
  EXPECT_EQ(r.value, 4u);
  EXPECT_EQ(std::memcmp(host_->memory().Translate(0x2000, 4), "abcd", 4), 0);
  r = Call(HVB_FN_CONSOLE_READ, {0x2000, 100});
  EXPECT_EQ(r.value, 2u);
  r = Call(HVB_FN_CONSOLE_READ, {0x2000, 100});
  EXPECT_EQ(r.status, HVB_OK);
  EXPECT_EQ(r.value, 0u);
}

TEST_F(HypercallTest, ConsoleReadRejectsBuffersOutsideRamAndKeepsInput) {
  host_->input_ = "xyz";
  EXPECT_EQ(Call(HVB_FN_CONSOLE_READ, {kRam - 1, 2}).status, HVB_ERR_FAULT);
  EXPECT_EQ(Call(HVB_FN_CONSOLE_READ, {UINT64_MAX, 2}).status, HVB_ERR_FAULT);
  EXPECT_EQ(host_->input_, "xyz");
}

TEST_F(HypercallTest, Clock) {
  EXPECT_EQ(Call(HVB_FN_CLOCK_MONOTONIC).value, 1234u);
  EXPECT_EQ(Call(HVB_FN_CLOCK_WALLCLOCK).value, 5678u);
}

TEST_F(HypercallTest, PowerShutdownValidatesTheCode) {
  EXPECT_EQ(Call(HVB_FN_POWER_SHUTDOWN, {256}).status, HVB_ERR_INVAL);
  EXPECT_EQ(Call(HVB_FN_POWER_SHUTDOWN, {1ull << 32}).status, HVB_ERR_INVAL);
  EXPECT_FALSE(host_->shutdown_.has_value());
  EXPECT_EQ(Call(HVB_FN_POWER_SHUTDOWN, {255}).status, HVB_OK);
  EXPECT_EQ(host_->shutdown_, 255);
}

TEST_F(HypercallTest, PowerReboot) {
  EXPECT_EQ(Call(HVB_FN_POWER_REBOOT).status, HVB_OK);
  EXPECT_TRUE(host_->reboot_);
}

TEST_F(HypercallTest, Debug) {
  HypercallResult r = Call(HVB_FN_DEBUG_NULL, {1, 2, 3});
  EXPECT_EQ(r.status, HVB_OK);
  EXPECT_EQ(r.value, 0u);
  r = Call(HVB_FN_DEBUG_ECHO, {1, 2, 4, 8, 16, 1ull << 63});
  EXPECT_EQ(r.value, 31u | (1ull << 63));
}

TEST_F(HypercallTest, VcpuCountSelfAndStatus) {
  EXPECT_EQ(Call(HVB_FN_VCPU_COUNT).value, 4u);
  EXPECT_EQ(Call(HVB_FN_VCPU_SELF).value, 1u);
  EXPECT_EQ(Call(HVB_FN_VCPU_STATUS, {0}).value, HVB_VCPU_RUNNING);
  EXPECT_EQ(Call(HVB_FN_VCPU_STATUS, {3}).status, HVB_ERR_NODEV);
  EXPECT_EQ(Call(HVB_FN_VCPU_STATUS, {4}).status, HVB_ERR_NODEV);
  EXPECT_EQ(Call(HVB_FN_VCPU_STATUS, {UINT64_MAX}).status, HVB_ERR_NODEV);
}

TEST_F(HypercallTest, VcpuStartChecksEverythingBeforeStarting) {
  const uint64_t rip = 0x100000, rsp = 0x180000;
  struct Case {
    std::vector<uint64_t> args;
    int64_t status;
  };
  const Case cases[] = {
      {{4, rip, rsp, 0, 0}, HVB_ERR_NODEV},
      {{1ull << 32, rip, rsp, 0, 0}, HVB_ERR_NODEV},
      {{2, kRam, rsp, 0, 0}, HVB_ERR_FAULT},
      {{2, UINT64_MAX, rsp, 0, 0}, HVB_ERR_FAULT},
      {{2, rip, rsp + 8, 0, 0}, HVB_ERR_INVAL},
      {{2, rip, 0, 0, 0}, HVB_ERR_FAULT},
      {{2, rip, kRam + 16, 0, 0}, HVB_ERR_FAULT},
      {{2, rip, rsp, 0, 0x1234}, HVB_ERR_INVAL},
      {{2, rip, rsp, 0, kRam}, HVB_ERR_INVAL},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Call(HVB_FN_VCPU_START, c.args).status, c.status)
        << c.args[0] << " " << c.args[1] << " " << c.args[2] << " "
        << c.args[4];
  }
  EXPECT_TRUE(host_->started_.empty()) << "nothing started on bad input";
  EXPECT_EQ(Call(HVB_FN_VCPU_START, {2, rip, kRam, 7, 0x10000}).status, HVB_OK)
      << "a stack may end exactly at the top of RAM";
  ASSERT_EQ(host_->started_.size(), 1u);
  EXPECT_EQ(host_->started_[0].first, 2u);
  EXPECT_EQ(host_->started_[0].second.rip, rip);
  EXPECT_EQ(host_->started_[0].second.rsp, kRam);
  EXPECT_EQ(host_->started_[0].second.rdi, 7u);
  EXPECT_EQ(host_->started_[0].second.cr3, 0x10000u);
  host_->start_status_ = HVB_ERR_STATE;
  EXPECT_EQ(Call(HVB_FN_VCPU_START, {2, rip, rsp, 0, 0}).status, HVB_ERR_STATE);
}

TEST_F(HypercallTest, VcpuStopStopsTheCaller) {
  EXPECT_EQ(Call(HVB_FN_VCPU_STOP).status, HVB_OK);
  EXPECT_EQ(host_->stopped_, std::vector<uint32_t>{1});
}

TEST_F(HypercallTest, Timer) {
  EXPECT_EQ(Call(HVB_FN_TIMER_SET, {1000, 31}).status, HVB_ERR_INVAL);
  EXPECT_EQ(Call(HVB_FN_TIMER_SET, {1000, 255}).status, HVB_ERR_INVAL);
  EXPECT_EQ(Call(HVB_FN_TIMER_SET, {1000, 1ull << 40}).status, HVB_ERR_INVAL);
  EXPECT_FALSE(host_->timer_.has_value());
  EXPECT_EQ(Call(HVB_FN_TIMER_SET, {UINT64_MAX, 32}).status, HVB_OK);
  EXPECT_EQ(host_->timer_, std::make_tuple(1u, UINT64_MAX, uint8_t{32}));
  EXPECT_EQ(Call(HVB_FN_TIMER_CANCEL).status, HVB_OK);
  EXPECT_EQ(host_->cancelled_, std::vector<uint32_t>{1});
}

TEST_F(HypercallTest, EventRouting) {
  EXPECT_EQ(Call(HVB_FN_EVENT_ROUTE, {1, 0, 40}).status, HVB_ERR_NODEV);
  EXPECT_EQ(Call(HVB_FN_EVENT_ROUTE, {0, 4, 40}).status, HVB_ERR_NODEV);
  EXPECT_EQ(Call(HVB_FN_EVENT_ROUTE, {0, 0, 7}).status, HVB_ERR_INVAL);
  EXPECT_TRUE(host_->routes_.empty());
  EXPECT_EQ(Call(HVB_FN_EVENT_ROUTE, {0, 3, 40}).status, HVB_OK);
  EXPECT_EQ(host_->routes_.size(), 1u);
  EXPECT_EQ(Call(HVB_FN_EVENT_MASK, {1}).status, HVB_ERR_NODEV);
  EXPECT_EQ(Call(HVB_FN_EVENT_MASK, {0}).status, HVB_OK);
  EXPECT_EQ(Call(HVB_FN_EVENT_UNMASK, {0}).status, HVB_OK);
  EXPECT_EQ(host_->masks_,
            (std::vector<std::pair<uint32_t, bool>>{{0, true}, {0, false}}));
}

TEST_F(HypercallTest, SendIpi) {
  EXPECT_EQ(Call(HVB_FN_EVENT_SEND_IPI, {4, 40}).status, HVB_ERR_NODEV);
  EXPECT_EQ(Call(HVB_FN_EVENT_SEND_IPI, {0, 0}).status, HVB_ERR_INVAL);
  EXPECT_EQ(Call(HVB_FN_EVENT_SEND_IPI, {0, 40}).status, HVB_OK);
  EXPECT_EQ(Call(HVB_FN_EVENT_SEND_IPI, {2, 40}).status, HVB_ERR_NODEV)
      << "the host's answer passes through";
}

// A 64 KiB in-memory disk (ids 0 writable, 1 read-only).
class BlockHypercallTest : public HypercallTest {
 protected:
  void SetUp() override {
    HypercallTest::SetUp();
    for (bool read_only : {false, true}) {
      BlockCallbacks callbacks;
      callbacks.size_bytes = storage_.size();
      callbacks.read_only = read_only;
      callbacks.read = [this](uint64_t offset, absl::Span<uint8_t> dst) {
        std::memcpy(dst.data(), storage_.data() + offset, dst.size());
        return absl::OkStatus();
      };
      callbacks.write = [this](uint64_t offset, absl::Span<const uint8_t> src) {
        if (fail_writes_) return absl::UnavailableError("disk gone");
        std::memcpy(storage_.data() + offset, src.data(), src.size());
        return absl::OkStatus();
      };
      callbacks.flush = [this] {
        ++flushes_;
        return absl::OkStatus();
      };
      ASSERT_OK_AND_ASSIGN(auto disk, MakeCallbackBlockDevice(callbacks));
      host_->disks_.push_back(std::move(disk));
    }
  }
  std::vector<uint8_t> storage_ = std::vector<uint8_t>(64 << 10, 0);
  bool fail_writes_ = false;
  int flushes_ = 0;
};

TEST_F(BlockHypercallTest, InfoDescribesTheDisk) {
  ASSERT_EQ(Call(HVB_FN_BLOCK_INFO, {1, 0x1000}).status, HVB_OK);
  hvb_block_info info;
  ASSERT_TRUE(host_->memory().ReadObject(0x1000, &info));
  EXPECT_EQ(info.sectors, 128u);
  EXPECT_EQ(info.sector_size, 512u);
  EXPECT_EQ(info.flags, HVB_BLOCK_F_READ_ONLY);
  EXPECT_GE(info.max_sectors, info.optimal_sectors);
  EXPECT_EQ(Call(HVB_FN_BLOCK_INFO, {2, 0x1000}).status, HVB_ERR_NODEV);
  EXPECT_EQ(Call(HVB_FN_BLOCK_INFO, {1ull << 32, 0x1000}).status,
            HVB_ERR_NODEV);
  EXPECT_EQ(Call(HVB_FN_BLOCK_INFO, {0, kRam - 8}).status, HVB_ERR_FAULT);
}

TEST_F(BlockHypercallTest, ReadWriteMoveDataBetweenDiskAndGuest) {
  Poke(0x8000, std::string(1024, 'w'));
  HypercallResult r = Call(HVB_FN_BLOCK_WRITE, {0, 3, 2, 0x8000});
  EXPECT_EQ(r.status, HVB_OK);
  EXPECT_EQ(r.value, 2u);
  EXPECT_EQ(storage_[3 * 512], 'w');
  EXPECT_EQ(storage_[5 * 512 - 1], 'w');
  EXPECT_EQ(storage_[5 * 512], 0);
  r = Call(HVB_FN_BLOCK_READ, {0, 2, 3, 0x9000});
  EXPECT_EQ(r.value, 3u);
  const uint8_t* p = host_->memory().Translate(0x9000, 1536);
  EXPECT_EQ(p[0], 0);
  EXPECT_EQ(p[512], 'w');
  EXPECT_EQ(Call(HVB_FN_BLOCK_FLUSH, {0}).status, HVB_OK);
  EXPECT_EQ(flushes_, 1);
  EXPECT_EQ(Call(HVB_FN_BLOCK_DISCARD, {0, 0, 4}).status, HVB_OK);
}

TEST_F(BlockHypercallTest, EveryBadRequestGetsItsStatusAndTouchesNothing) {
  struct Case {
    uint32_t fid;
    std::vector<uint64_t> args;
    int64_t status;
  };
  const Case cases[] = {
      {HVB_FN_BLOCK_READ, {7, 0, 1, 0x8000}, HVB_ERR_NODEV},
      {HVB_FN_BLOCK_WRITE, {1, 0, 1, 0x8000}, HVB_ERR_PERM},
      {HVB_FN_BLOCK_DISCARD, {1, 0, 1}, HVB_ERR_PERM},
      {HVB_FN_BLOCK_READ, {0, 0, 0, 0x8000}, HVB_ERR_RANGE},
      {HVB_FN_BLOCK_READ, {0, 0, 2049, 0x8000}, HVB_ERR_RANGE},
      {HVB_FN_BLOCK_READ, {0, 127, 2, 0x8000}, HVB_ERR_RANGE},
      {HVB_FN_BLOCK_READ, {0, 128, 1, 0x8000}, HVB_ERR_RANGE},
      {HVB_FN_BLOCK_WRITE, {0, UINT64_MAX, 2, 0x8000}, HVB_ERR_RANGE},
      {HVB_FN_BLOCK_WRITE, {0, 1, UINT64_MAX, 0x8000}, HVB_ERR_RANGE},
      {HVB_FN_BLOCK_DISCARD, {0, 120, 9}, HVB_ERR_RANGE},
      {HVB_FN_BLOCK_READ, {0, 0, 2, kRam - 512}, HVB_ERR_FAULT},
      {HVB_FN_BLOCK_WRITE, {0, 0, 1, UINT64_MAX - 100}, HVB_ERR_FAULT},
      {HVB_FN_BLOCK_FLUSH, {9}, HVB_ERR_NODEV},
  };
  storage_.assign(storage_.size(), 0x5a);
  for (const Case& c : cases) {
    EXPECT_EQ(Call(c.fid, c.args).status, c.status)
        << std::hex << c.fid << " " << c.args[0] << " " << c.args[1] << " "
        << c.args[2];
  }
  EXPECT_EQ(std::count(storage_.begin(), storage_.end(), 0x5a),
            static_cast<long>(storage_.size()));
  fail_writes_ = true;
  EXPECT_EQ(Call(HVB_FN_BLOCK_WRITE, {0, 0, 1, 0x8000}).status, HVB_ERR_IO);
}

TEST_F(BlockHypercallTest, QueueSetupChecksThePlacement) {
  EXPECT_EQ(Call(HVB_FN_BLOCK_QUEUE_SETUP, {5, 0x10000, 8}).status,
            HVB_ERR_NODEV);
  for (uint64_t entries : {0ull, 3ull, 512ull, 1ull << 40}) {
    EXPECT_EQ(Call(HVB_FN_BLOCK_QUEUE_SETUP, {0, 0x10000, entries}).status,
              HVB_ERR_INVAL)
        << entries;
  }
  EXPECT_EQ(Call(HVB_FN_BLOCK_QUEUE_SETUP, {0, 0x10800, 8}).status,
            HVB_ERR_INVAL);
  EXPECT_EQ(Call(HVB_FN_BLOCK_QUEUE_SETUP, {0, kRam - 4096, 256}).status,
            HVB_ERR_FAULT);
  EXPECT_TRUE(host_->queues_.empty());
  HypercallResult r = Call(HVB_FN_BLOCK_QUEUE_SETUP, {0, 0x10000, 256});
  EXPECT_EQ(r.status, HVB_OK);
  EXPECT_EQ(host_->queues_.size(), 1u);
}

TEST_F(HypercallTest, RngFill) {
  HypercallResult r = Call(HVB_FN_RNG_FILL, {0x3000, 100});
  EXPECT_EQ(r.status, HVB_OK);
  EXPECT_EQ(r.value, 100u);
  EXPECT_EQ(host_->memory().Translate(0x3000, 1)[0], 0xa5);
  EXPECT_EQ(Call(HVB_FN_RNG_FILL, {0, UINT64_MAX}).value, HVB_RNG_MAX_FILL);
  EXPECT_EQ(Call(HVB_FN_RNG_FILL, {0x3000, 0}).value, 0u);
  EXPECT_EQ(Call(HVB_FN_RNG_FILL, {kRam - 10, 20}).status, HVB_ERR_FAULT);
}

}  // namespace
}  // namespace hvbios
