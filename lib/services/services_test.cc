// The built-in services through the dispatcher, on a fake VM
// (tests/fake_service_context.h): every function, its checks in the
// specification's order, and what it asks of the VM.
#include "lib/services/services.h"

#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "hvbios/abi/hypercall.h"
#include "hvbios/abi/ring.h"
#include "hvbios/abi/status.h"
#include "hvbios/version.h"
#include "tests/fake_service_context.h"
#include "tests/test_util.h"

namespace hvbios {
namespace {

using testing::FakeServiceContext;

constexpr uint64_t kRam = 2 << 20;

class HypercallTest : public ::testing::Test {
 protected:
  void SetUp() override { Create({}); }
  void Create(std::vector<std::shared_ptr<BlockDevice>> disks) {
    services_.reset();
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<GuestMemory> mem_owner,
                         GuestMemory::Create(kRam));
    ctx_ = std::make_unique<FakeServiceContext>(std::move(mem_owner), 4);
    ServicesOptions options;
    options.console_output = [this](absl::string_view bytes) {
      MutexLock lock(&mu_);
      absl::StrAppend(&output_, bytes);
    };
    options.disks = std::move(disks);
    services_ = std::make_unique<Services>(*ctx_, std::move(options));
  }
  HypercallResult Call(uint64_t fid, std::vector<uint64_t> args = {}) {
    HypercallArgs a = {};
    a.fid = fid;
    for (size_t i = 0; i < args.size(); ++i) a.arg[i] = args[i];
    return services_->Dispatch(caller_, a);
  }
  void Poke(uint64_t gpa, absl::string_view bytes) {
    ASSERT_TRUE(ctx_->memory().Write(gpa, bytes.data(), bytes.size()));
  }
  std::string Output() {
    EXPECT_TRUE(services_->console().AwaitDelivered(absl::Seconds(30)));
    MutexLock lock(&mu_);
    return output_;
  }
  const GuestMemory& memory() { return ctx_->memory(); }

  std::unique_ptr<FakeServiceContext> ctx_;
  std::unique_ptr<Services> services_;
  uint32_t caller_ = 1;
  Mutex mu_;
  std::string output_ ABSL_GUARDED_BY(mu_);
};

TEST_F(HypercallTest, UnknownFunctionsAreNosys) {
  EXPECT_EQ(Call(HVB_FID(0xffff, 0)).status, HVB_ERR_NOSYS);
  EXPECT_EQ(Call(HVB_FID(HVB_SVC_BASE, 0xffff)).status, HVB_ERR_NOSYS);
  for (uint32_t svc : {0x0cu, 0x100u, 0x8000u, 0xfffeu}) {
    EXPECT_EQ(Call(HVB_FID(svc, 0)).status, HVB_ERR_NOSYS) << svc;
  }
  // One past each service's last function, by the function table.
#define HVB_COUNT_ROW(SVC, svc, FN, fn, number) +1
#define HVB_PAST_LAST(SVC, svc, id)                                         \
  EXPECT_EQ(Call(HVB_FID(id, 0 HVB_FUNCTIONS_##SVC(HVB_COUNT_ROW))).status, \
            HVB_ERR_NOSYS)                                                  \
      << #svc;
  HVB_SERVICES(HVB_PAST_LAST)
#undef HVB_PAST_LAST
#undef HVB_COUNT_ROW
  EXPECT_EQ(Call((1ull << 32) | HVB_FN_DEBUG_NULL).status, HVB_ERR_NOSYS);
  EXPECT_EQ(Call(UINT64_MAX).status, HVB_ERR_NOSYS);
}

TEST_F(HypercallTest, Base) {
  EXPECT_EQ(Call(HVB_FN_BASE_GET_ABI_VERSION).value, HVB_ABI_VERSION);
  EXPECT_EQ(Call(HVB_FN_BASE_GET_IMPL_ID).value, 1u) << "the backend's";
  EXPECT_EQ(Call(HVB_FN_BASE_GET_IMPL_VERSION).value,
            uint64_t{HVBIOS_IMPLEMENTATION_VERSION});
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
          fid == HVB_FN_VCPU_STOP || fid == HVB_FN_DEBUG_PANIC) {
        continue;
      }
      EXPECT_EQ(services_->Implemented(fid),
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
  EXPECT_EQ(Output(), "hello");
  r = Call(HVB_FN_CONSOLE_WRITE, {0xdead0000, 0});
  EXPECT_EQ(r.status, HVB_OK);
  EXPECT_EQ(r.value, 0u);
}

TEST_F(HypercallTest, ConsoleWriteIsShortAboveTheMaximum) {
  HypercallResult r = Call(HVB_FN_CONSOLE_WRITE, {0x1000, UINT64_MAX});
  EXPECT_EQ(r.status, HVB_OK);
  EXPECT_EQ(r.value, HVB_CONSOLE_MAX_IO);
  EXPECT_EQ(Output().size(), HVB_CONSOLE_MAX_IO);
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
  EXPECT_EQ(Output(), "");
}

TEST_F(HypercallTest, ConsoleRead) {
  services_->console().PushInput("abcdef");
  HypercallResult r = Call(HVB_FN_CONSOLE_READ, {0x2000, 4});
  EXPECT_EQ(r.status, HVB_OK);
  EXPECT_EQ(r.value, 4u);
  EXPECT_EQ(std::memcmp(memory().Translate(0x2000, 4), "abcd", 4), 0);
  r = Call(HVB_FN_CONSOLE_READ, {0x2000, 100});
  EXPECT_EQ(r.value, 2u);
  r = Call(HVB_FN_CONSOLE_READ, {0x2000, 100});
  EXPECT_EQ(r.status, HVB_OK);
  EXPECT_EQ(r.value, 0u);
}

TEST_F(HypercallTest, ConsoleReadRejectsBuffersOutsideRamAndKeepsInput) {
  services_->console().PushInput("xyz");
  EXPECT_EQ(Call(HVB_FN_CONSOLE_READ, {kRam - 1, 2}).status, HVB_ERR_FAULT);
  EXPECT_EQ(Call(HVB_FN_CONSOLE_READ, {UINT64_MAX, 2}).status, HVB_ERR_FAULT);
  EXPECT_EQ(Call(HVB_FN_CONSOLE_READ, {0x2000, 8}).value, 3u) << "kept";
}

TEST_F(HypercallTest, Clock) {
  const uint64_t a = Call(HVB_FN_CLOCK_MONOTONIC).value;
  const uint64_t b = Call(HVB_FN_CLOCK_MONOTONIC).value;
  EXPECT_LE(a, b);
  EXPECT_LT(b, uint64_t{3600} * 1000000000) << "counts from the VM's start";
  EXPECT_GT(Call(HVB_FN_CLOCK_WALLCLOCK).value,
            uint64_t{1577836800} * 1000000000);  // 2020
}

TEST_F(HypercallTest, PowerShutdownValidatesTheCode) {
  EXPECT_EQ(Call(HVB_FN_POWER_SHUTDOWN, {256}).status, HVB_ERR_INVAL);
  EXPECT_EQ(Call(HVB_FN_POWER_SHUTDOWN, {1ull << 32}).status, HVB_ERR_INVAL);
  EXPECT_FALSE(ctx_->exit().has_value());
  EXPECT_EQ(Call(HVB_FN_POWER_SHUTDOWN, {255}).status, HVB_OK);
  ASSERT_TRUE(ctx_->exit().has_value());
  EXPECT_EQ(ctx_->exit()->reason, VmExit::Reason::kShutdown);
  EXPECT_EQ(ctx_->exit()->exit_code, 255);
}

// debug.panic (ABI 0.9): refusals return and change nothing; a panic
// copies the message once, on one line, with the caller's registers.
TEST_F(HypercallTest, DebugPanicValidatesThenReportsTheCaller) {
  Poke(0x5000, "on fire\nand\033more");
  EXPECT_EQ(Call(HVB_FN_DEBUG_PANIC, {256, 0x5000, 7}).status, HVB_ERR_INVAL);
  EXPECT_EQ(
      Call(HVB_FN_DEBUG_PANIC, {1, 0x5000, HVB_PANIC_MAX_MESSAGE + 1}).status,
      HVB_ERR_INVAL);
  EXPECT_EQ(Call(HVB_FN_DEBUG_PANIC, {1, 1ull << 50, 1}).status, HVB_ERR_FAULT);
  EXPECT_FALSE(ctx_->exit().has_value());
  EXPECT_EQ(Call(HVB_FN_DEBUG_PANIC, {9, 0x5000, 16}).status, HVB_OK);
  ASSERT_TRUE(ctx_->exit().has_value());
  EXPECT_EQ(ctx_->exit()->reason, VmExit::Reason::kPanic);
  EXPECT_EQ(ctx_->exit()->exit_code, 9);
  EXPECT_EQ(ctx_->exit()->vcpu_id, caller_);
  EXPECT_EQ(ctx_->exit()->message,
            absl::StrCat("on fire and more\nregisters of vCPU ", caller_))
      << "control characters become spaces";
}

TEST_F(HypercallTest, PowerReboot) {
  EXPECT_EQ(Call(HVB_FN_POWER_REBOOT).status, HVB_OK);
  ASSERT_TRUE(ctx_->exit().has_value());
  EXPECT_EQ(ctx_->exit()->reason, VmExit::Reason::kReboot);
}

TEST_F(HypercallTest, Debug) {
  HypercallResult r = Call(HVB_FN_DEBUG_NULL, {1, 2, 3});
  EXPECT_EQ(r.status, HVB_OK);
  EXPECT_EQ(r.value, 0u);
  r = Call(HVB_FN_DEBUG_ECHO, {1, 2, 4, 8, 16, 1ull << 63});
  EXPECT_EQ(r.value, 31u | (1ull << 63));
}

TEST_F(HypercallTest, VcpuCountSelfAndStatus) {
  ctx_->set_destroyed(3);
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
  EXPECT_TRUE(ctx_->started().empty()) << "nothing started on bad input";
  EXPECT_EQ(Call(HVB_FN_VCPU_START, {2, rip, kRam, 7, 0x10000}).status, HVB_OK)
      << "a stack may end exactly at the top of RAM";
  ASSERT_EQ(ctx_->started().size(), 1u);
  EXPECT_EQ(ctx_->started()[0].first, 2u);
  EXPECT_EQ(ctx_->started()[0].second.rip, rip);
  EXPECT_EQ(ctx_->started()[0].second.rsp, kRam);
  EXPECT_EQ(ctx_->started()[0].second.rdi, 7u);
  EXPECT_EQ(ctx_->started()[0].second.cr3, 0x10000u);
  ctx_->set_start_status(HVB_ERR_STATE);
  EXPECT_EQ(Call(HVB_FN_VCPU_START, {2, rip, rsp, 0, 0}).status, HVB_ERR_STATE);
}

TEST_F(HypercallTest, VcpuStopStopsTheCaller) {
  EXPECT_EQ(Call(HVB_FN_VCPU_STOP).status, HVB_OK);
  EXPECT_EQ(ctx_->stopped(), std::vector<uint32_t>{1});
}

TEST_F(HypercallTest, Timer) {
  EXPECT_EQ(Call(HVB_FN_TIMER_SET, {1000, 31}).status, HVB_ERR_INVAL);
  EXPECT_EQ(Call(HVB_FN_TIMER_SET, {1000, 255}).status, HVB_ERR_INVAL);
  EXPECT_EQ(Call(HVB_FN_TIMER_SET, {1000, 1ull << 40}).status, HVB_ERR_INVAL);
  EXPECT_EQ(Call(HVB_FN_TIMER_SET, {UINT64_MAX, 32}).status, HVB_OK);
  EXPECT_EQ(Call(HVB_FN_TIMER_CANCEL).status, HVB_OK);
  // A deadline already past fires at once, on the caller.
  EXPECT_EQ(Call(HVB_FN_TIMER_SET, {0, 33}).status, HVB_OK);
  ASSERT_TRUE(testing::AwaitInterrupts(ctx_->fake_backend(), 1));
  EXPECT_EQ(ctx_->fake_backend().interrupts()[0],
            (std::pair<uint32_t, uint8_t>{1, 33}));
}

TEST_F(HypercallTest, EventRouting) {
  EXPECT_EQ(Call(HVB_FN_EVENT_ROUTE, {2, 0, 40}).status, HVB_ERR_NODEV);
  EXPECT_EQ(Call(HVB_FN_EVENT_ROUTE, {0, 4, 40}).status, HVB_ERR_NODEV);
  EXPECT_EQ(Call(HVB_FN_EVENT_ROUTE, {0, 0, 7}).status, HVB_ERR_INVAL);
  EXPECT_EQ(Call(HVB_FN_EVENT_ROUTE, {HVB_EVENT_SRC_QUEUE(0), 0, 40}).status,
            HVB_ERR_NODEV)
      << "no queue yet";
  EXPECT_EQ(Call(HVB_FN_EVENT_ROUTE, {0, 3, 40}).status, HVB_OK);
  EXPECT_EQ(Call(HVB_FN_EVENT_MASK, {2}).status, HVB_ERR_NODEV);
  EXPECT_EQ(Call(HVB_FN_EVENT_MASK, {0}).status, HVB_OK);
  services_->console().PushInput("x");
  EXPECT_TRUE(ctx_->fake_backend().interrupts().empty()) << "masked";
  EXPECT_EQ(Call(HVB_FN_EVENT_UNMASK, {0}).status, HVB_OK);
  ASSERT_EQ(ctx_->fake_backend().interrupts().size(), 1u);
  EXPECT_EQ(ctx_->fake_backend().interrupts()[0],
            (std::pair<uint32_t, uint8_t>{3, 40}));
}

TEST_F(HypercallTest, SendIpi) {
  ctx_->set_destroyed(2);
  EXPECT_EQ(Call(HVB_FN_EVENT_SEND_IPI, {4, 40}).status, HVB_ERR_NODEV);
  EXPECT_EQ(Call(HVB_FN_EVENT_SEND_IPI, {0, 0}).status, HVB_ERR_INVAL);
  EXPECT_EQ(Call(HVB_FN_EVENT_SEND_IPI, {0, 40}).status, HVB_OK);
  EXPECT_EQ(Call(HVB_FN_EVENT_SEND_IPI, {2, 40}).status, HVB_ERR_NODEV)
      << "a destroyed vCPU takes no events";
}

// A 64 KiB in-memory disk (ids 0 writable, 1 read-only).
class BlockHypercallTest : public HypercallTest {
 protected:
  void SetUp() override {
    std::vector<std::shared_ptr<BlockDevice>> disks;
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
      disks.push_back(std::move(disk));
    }
    Create(std::move(disks));
  }
  std::vector<uint8_t> storage_ = std::vector<uint8_t>(64 << 10, 0);
  bool fail_writes_ = false;
  int flushes_ = 0;
};

TEST_F(BlockHypercallTest, InfoDescribesTheDisk) {
  ASSERT_EQ(Call(HVB_FN_BLOCK_INFO, {1, 0x1000}).status, HVB_OK);
  hvb_block_info info;
  ASSERT_TRUE(memory().ReadObject(0x1000, &info));
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
  const uint8_t* p = memory().Translate(0x9000, 1536);
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
  HypercallResult r = Call(HVB_FN_BLOCK_QUEUE_SETUP, {0, 0x10000, 256});
  EXPECT_EQ(r.status, HVB_OK);
  EXPECT_EQ(r.value, 0u) << "the first queue";
  EXPECT_EQ(Call(HVB_FN_EVENT_ROUTE, {HVB_EVENT_SRC_QUEUE(0), 0, 40}).status,
            HVB_OK)
      << "its event source exists";
}

TEST_F(HypercallTest, RngFill) {
  HypercallResult r = Call(HVB_FN_RNG_FILL, {0x3000, 100});
  EXPECT_EQ(r.status, HVB_OK);
  EXPECT_EQ(r.value, 100u);
  EXPECT_EQ(Call(HVB_FN_RNG_FILL, {0x1000, UINT64_MAX}).value,
            HVB_RNG_MAX_FILL);
  EXPECT_EQ(Call(HVB_FN_RNG_FILL, {0x3000, 0}).value, 0u);
  EXPECT_EQ(Call(HVB_FN_RNG_FILL, {kRam - 10, 20}).status, HVB_ERR_FAULT);
}

}  // namespace
}  // namespace hvbios
