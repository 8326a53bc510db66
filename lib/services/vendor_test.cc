// Vendor services (hvbios/service.h) through the dispatcher, on a fake VM:
// registration rules, dispatch and probe, the guest-memory helpers, and
// what a handler's reply may be.
#include <cstring>
#include <string>

#include "gtest/gtest.h"
#include "hvbios/abi/hypercall.h"
#include "hvbios/abi/status.h"
#include "hvbios/service.h"
#include "lib/services/services.h"
#include "lib/threads.h"
#include "tests/fake_service_context.h"
#include "tests/test_util.h"

namespace hvbios {
namespace {

constexpr uint64_t kRam = 2 << 20;
constexpr uint32_t kEcho = HVB_SVC_VENDOR_FIRST + 7;

// Function 0 copies args[1] bytes from args[0] to args[2] through the
// host (with a transformation, to prove it went through), and answers the
// caller's id; function 1 answers whatever status args[0] holds.
VendorService EchoService() {
  VendorService s;
  s.id = kEcho;
  s.name = "echo";
  s.function_count = 2;
  s.handler = [](const ServiceRequest& r) -> ServiceReply {
    if (r.function() == 1) {
      return {static_cast<int64_t>(r.arg(0)), 99};
    }
    EXPECT_TRUE(CallbackScope::Active()) << "a handler is a callback";
    char buffer[64];
    if (r.arg(1) > sizeof(buffer)) return {HVB_ERR_RANGE, 0};
    if (!r.CopyFromGuest(r.arg(0), buffer, r.arg(1))) return {HVB_ERR_FAULT, 0};
    for (size_t i = 0; i < r.arg(1); ++i) buffer[i] ^= 0x20;
    if (!r.CopyToGuest(r.arg(2), buffer, r.arg(1))) return {HVB_ERR_FAULT, 0};
    return {HVB_OK, r.vcpu_id()};
  };
  return s;
}

class VendorServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<GuestMemory> mem_owner,
                         GuestMemory::Create(kRam));
    ctx_ =
        std::make_unique<testing::FakeServiceContext>(std::move(mem_owner), 2);
    ServicesOptions options;
    options.vendor_services.push_back(EchoService());
    services_ = std::make_unique<Services>(*ctx_, std::move(options));
  }
  HypercallResult Call(uint64_t fid, std::vector<uint64_t> args = {}) {
    HypercallArgs a = {};
    a.fid = fid;
    for (size_t i = 0; i < args.size(); ++i) a.arg[i] = args[i];
    return services_->Dispatch(1, a);
  }

  std::unique_ptr<testing::FakeServiceContext> ctx_;
  std::unique_ptr<Services> services_;
};

TEST_F(VendorServiceTest, AGuestCallsItThroughTheHost) {
  ASSERT_TRUE(ctx_->memory().Write(0x5000, "hello", 5));
  const HypercallResult r = Call(HVB_FID(kEcho, 0), {0x5000, 5, 0x6000});
  EXPECT_EQ(r.status, HVB_OK);
  EXPECT_EQ(r.value, 1u) << "the caller's id";
  char out[6] = {};
  ASSERT_TRUE(ctx_->memory().Read(0x6000, out, 5));
  EXPECT_STREQ(out, "HELLO");
}

TEST_F(VendorServiceTest, ProbeAnswersForItsFunctionsOnly) {
  EXPECT_TRUE(services_->Implemented(HVB_FID(kEcho, 0)));
  EXPECT_TRUE(services_->Implemented(HVB_FID(kEcho, 1)));
  EXPECT_FALSE(services_->Implemented(HVB_FID(kEcho, 2)));
  EXPECT_FALSE(services_->Implemented(HVB_FID(kEcho + 1, 0)));
  EXPECT_FALSE(services_->Implemented((1ull << 32) | HVB_FID(kEcho, 0)));
  EXPECT_EQ(Call(HVB_FN_BASE_PROBE, {HVB_FID(kEcho, 1)}).value, 1u);
  EXPECT_EQ(Call(HVB_FID(kEcho, 2)).status, HVB_ERR_NOSYS);
  EXPECT_EQ(Call(HVB_FID(HVB_SVC_VENDOR_FIRST, 0)).status, HVB_ERR_NOSYS);
  EXPECT_EQ(Call(HVB_FID(HVB_SVC_VENDOR_LAST, 0)).status, HVB_ERR_NOSYS);
  EXPECT_EQ(Call((1ull << 32) | HVB_FID(kEcho, 1)).status, HVB_ERR_NOSYS);
}

TEST_F(VendorServiceTest, BuffersOutsideTheGuestsRamAreRefused) {
  for (uint64_t gpa : {kRam - 2, uint64_t{1} << 40, UINT64_MAX - 1}) {
    EXPECT_EQ(Call(HVB_FID(kEcho, 0), {gpa, 5, 0x6000}).status, HVB_ERR_FAULT)
        << std::hex << gpa;
    EXPECT_EQ(Call(HVB_FID(kEcho, 0), {0x5000, 5, gpa}).status, HVB_ERR_FAULT)
        << std::hex << gpa;
  }
}

TEST_F(VendorServiceTest, RepliesAreStatusesTheAbiDefines) {
  HypercallResult r = Call(HVB_FID(kEcho, 1), {HVB_OK});
  EXPECT_EQ(r.status, HVB_OK);
  EXPECT_EQ(r.value, 99u);
  r = Call(HVB_FID(kEcho, 1), {static_cast<uint64_t>(HVB_ERR_BUSY)});
  EXPECT_EQ(r.status, HVB_ERR_BUSY);
  EXPECT_EQ(r.value, 0u) << "a failed call returns no value";
  for (int64_t bad : {int64_t{1}, int64_t{-12}, INT64_MIN, INT64_MAX}) {
    r = Call(HVB_FID(kEcho, 1), {static_cast<uint64_t>(bad)});
    EXPECT_EQ(r.status, HVB_ERR_IO) << bad;
    EXPECT_EQ(r.value, 0u);
  }
}

TEST(VendorServiceRegistrationTest, BadDescriptorsAreRejected) {
  const auto with = [](auto change) {
    std::vector<VendorService> services = {EchoService()};
    change(services);
    return ValidateVendorServices(services);
  };
  EXPECT_OK(with([](auto&) {}));
  for (uint32_t id : {0u, 0x0bu, 0x7fffu, 0xffffu, 0x10000u}) {
    EXPECT_FALSE(with([id](auto& v) { v[0].id = id; }).ok()) << id;
  }
  EXPECT_FALSE(with([](auto& v) { v.push_back(EchoService()); }).ok())
      << "an id used twice";
  EXPECT_FALSE(with([](auto& v) { v[0].function_count = 0; }).ok());
  EXPECT_FALSE(with([](auto& v) { v[0].function_count = 0x10001; }).ok());
  EXPECT_FALSE(with([](auto& v) { v[0].handler = nullptr; }).ok());
  const absl::Status s = with([](auto& v) { v[0].id = 5; });
  EXPECT_NE(std::string(s.message()).find("echo"), std::string::npos) << s;
}

}  // namespace
}  // namespace hvbios
