#include "lib/hypercall.h"

#include <cstring>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "hvbios/abi/hypercall.h"
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
  void ConsoleWrite(absl::string_view bytes) override {
    absl::StrAppend(&output_, bytes);
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

  std::string output_;
  std::string input_;
  std::optional<int> shutdown_;
  bool reboot_ = false;

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
    return DispatchHypercall(*host_, a);
  }
  void Poke(uint64_t gpa, absl::string_view bytes) {
    ASSERT_TRUE(host_->memory().Write(gpa, bytes.data(), bytes.size()));
  }
  std::unique_ptr<RecordingHost> host_;
};

TEST_F(HypercallTest, UnknownFunctionsAreNosys) {
  EXPECT_EQ(Call(HVB_FID(0xffff, 0)).status, HVB_ERR_NOSYS);
  EXPECT_EQ(Call(HVB_FID(HVB_SVC_BASE, 0xffff)).status, HVB_ERR_NOSYS);
  EXPECT_EQ(Call(HVB_FID(HVB_SVC_DEBUG, 2)).status, HVB_ERR_NOSYS);
  for (uint32_t svc = HVB_SVC_VCPU; svc <= HVB_SVC_MEM; ++svc) {
    EXPECT_EQ(Call(HVB_FID(svc, 0)).status, HVB_ERR_NOSYS) << svc;
  }
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
      if (fid == HVB_FN_POWER_SHUTDOWN || fid == HVB_FN_POWER_REBOOT) continue;
      EXPECT_EQ(IsHypercallImplemented(fid),
                Call(fid, {0, 0}).status != HVB_ERR_NOSYS)
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

}  // namespace
}  // namespace hvbios
