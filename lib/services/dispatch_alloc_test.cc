// The hypercall hot path allocates nothing: every service's common calls
// are dispatched many times through the real services, with a counting
// operator new installed for this test binary alone. (Exact and
// repeatable, unlike a timing.)
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "gtest/gtest.h"
#include "hvbios/abi/hypercall.h"
#include "hvbios/abi/ring.h"
#include "hvbios/abi/status.h"
#include "lib/services/services.h"
#include "tests/fake_service_context.h"
#include "tests/test_util.h"

namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
}  // namespace

void* operator new(size_t size) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
// These pair with the operator new above, which allocates with malloc.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace hvbios {
namespace {

TEST(HypercallAllocationTest, TheCounterSeesAllocations) {
  allocations = 0;
  counting = true;
  auto* p = new std::vector<int>(3);
  counting = false;
  delete p;
  EXPECT_GE(allocations.load(), 2) << "the vector and its elements";
  allocations = 0;
}

TEST(HypercallAllocationTest, TheHotPathAllocatesNothing) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<GuestMemory> memory_owner,
                       GuestMemory::Create(4 << 20));
  auto storage = std::make_shared<std::vector<uint8_t>>(1 << 20);
  BlockCallbacks callbacks;
  callbacks.size_bytes = storage->size();
  callbacks.read = [storage](uint64_t offset, absl::Span<uint8_t> dst) {
    std::memcpy(dst.data(), storage->data() + offset, dst.size());
    return absl::OkStatus();
  };
  callbacks.write = [storage](uint64_t offset, absl::Span<const uint8_t> src) {
    std::memcpy(storage->data() + offset, src.data(), src.size());
    return absl::OkStatus();
  };
  ASSERT_OK_AND_ASSIGN(auto disk, MakeCallbackBlockDevice(callbacks));
  testing::FakeServiceContext ctx(std::move(memory_owner), 1);
  ctx.fake_backend().ReserveInterrupts(20000);
  std::atomic<size_t> written{0};
  ServicesOptions options;
  options.console_output = [&written](absl::string_view bytes) {
    written += bytes.size();
  };
  options.disks.push_back(std::move(disk));
  Services services(ctx, std::move(options));
  const HypercallArgs calls[] = {
      {HVB_FN_DEBUG_NULL, {}},
      {HVB_FN_DEBUG_ECHO, {1, 2, 3, 4, 5, 6}},
      {HVB_FN_BASE_PROBE, {HVB_FN_BLOCK_READ}},
      {HVB_FN_CONSOLE_WRITE, {0x10000, 1}},
      {HVB_FN_CONSOLE_WRITE, {0x10000, 4096}},
      {HVB_FN_CONSOLE_READ, {0x10000, 64}},
      {HVB_FN_CLOCK_MONOTONIC, {}},
      {HVB_FN_CLOCK_WALLCLOCK, {}},
      {HVB_FN_VCPU_SELF, {}},
      {HVB_FN_TIMER_SET, {100, 40}},
      {HVB_FN_EVENT_SEND_IPI, {0, 40}},
      {HVB_FN_BLOCK_READ, {0, 8, 8, 0x20000}},
      {HVB_FN_BLOCK_WRITE, {0, 8, 8, 0x20000}},
      {HVB_FN_BLOCK_INFO, {0, 0x30000}},
      {HVB_FN_RNG_FILL, {0x30000, 64}},
      {HVB_FID(0x77, 0), {}},                   // NOSYS
      {HVB_FN_CONSOLE_WRITE, {1ull << 50, 8}},  // FAULT
  };
  // One round first: the console and timer threads start on first use.
  for (const HypercallArgs& call : calls) services.Dispatch(0, call);
  ASSERT_TRUE(services.console().AwaitDelivered(absl::Seconds(30)));
  int64_t status_sum = 0;
  counting = true;
  for (int i = 0; i < 1000; ++i) {
    for (const HypercallArgs& call : calls) {
      status_sum += services.Dispatch(0, call).status;
    }
  }
  counting = false;
  EXPECT_EQ(allocations.load(), 0)
      << "allocations across 17000 hypercalls of 17 kinds";
  EXPECT_EQ(status_sum, 1000 * (HVB_ERR_NOSYS + HVB_ERR_FAULT))
      << "every other call succeeded";
  EXPECT_TRUE(services.console().AwaitDelivered(absl::Seconds(30)));
  EXPECT_GT(written.load(), 0u);
}

}  // namespace
}  // namespace hvbios
