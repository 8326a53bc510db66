// The hypercall dispatcher and every built-in service, as a hostile guest
// drives them: any function id (the ABI's and raw ones), any vCPU, any
// arguments (aimed at the edges of guest RAM, or anything), any bytes in
// the guest's buffers. Asserted: every call is answered with HVB_OK or an
// HVB_ERR_* the ABI defines; no write reaches a read-only disk; nothing
// outside guest RAM is touched (ASan, and guard areas around the RAM).
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "hvbios/abi/functions.h"
#include "hvbios/abi/hypercall.h"
#include "hvbios/abi/net.h"
#include "hvbios/net.h"
#include "lib/guest_memory.h"
#include "lib/services/services.h"
#include "tests/fake_service_context.h"
#include "tests/fuzz/fuzz_util.h"

namespace hvbios::fuzz {
namespace {

constexpr uint64_t kRam = 4 << 20;
constexpr uint32_t kVcpus = 4;
constexpr uint64_t kBufferArea = 1 << 20;  // where inputs put their bytes

constexpr uint64_t kFunctions[] = {
#define HVB_FUZZ_FID(SVC, svc, FN, fn, number) HVB_FN_##SVC##_##FN,
    HVB_FUNCTIONS(HVB_FUZZ_FID)
#undef HVB_FUZZ_FID
};

struct World {
  World() {
    auto memory = GuestMemory::Create(kRam);
    FUZZ_CHECK(memory.ok(), "guest memory: %s",
               std::string(memory.status().message()).c_str());
    ctx = std::make_unique<testing::FakeServiceContext>(*std::move(memory),
                                                        kVcpus);
    ServicesOptions options;
    options.console_output = [](absl::string_view) {};
    options.disks.push_back(std::make_shared<MemoryDisk>(64 << 10, false, 1));
    options.disks.push_back(std::make_shared<MemoryDisk>(64 << 10, true, 2));
    // A network device whose link checks every frame the guest gets out.
    auto link = MakeCallbackNetLink({.send = [](absl::Span<const uint8_t> f) {
      FUZZ_CHECK(f.size() >= HVB_NET_MIN_FRAME && f.size() <= HVB_NET_MAX_FRAME,
                 "a %zu-byte frame reached the link", f.size());
      return absl::OkStatus();
    }});
    FUZZ_CHECK(link.ok(), "callback link");
    net = *link;
    options.nets.push_back({.link = net});
    services = std::make_unique<Services>(*ctx, std::move(options));
    FUZZ_CHECK(services->Start().ok(), "services start");
  }
  std::unique_ptr<testing::FakeServiceContext> ctx;
  std::shared_ptr<NetCallbackLink> net;
  std::unique_ptr<Services> services;
};

uint64_t Argument(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange<int>(0, 5)) {
    case 0:  // small: counts, ids, vectors, flags
      return in.ConsumeIntegralInRange<uint64_t>(0, 300);
    case 1:  // the last bytes of RAM, and just past them
      return kRam - in.ConsumeIntegralInRange<uint64_t>(0, 8192) +
             in.ConsumeIntegralInRange<uint64_t>(0, 16);
    case 2:  // the buffer area the input filled
      return kBufferArea + in.ConsumeIntegralInRange<uint64_t>(0, 65536);
    case 3:  // lengths around pages and sectors
      return in.ConsumeIntegralInRange<uint64_t>(0, 4) * 4096 +
             in.ConsumeIntegralInRange<uint64_t>(0, 1024) - 512;
    case 4:  // wrap-around
      return UINT64_MAX - in.ConsumeIntegralInRange<uint64_t>(0, 4096);
    default:
      return in.ConsumeIntegral<uint64_t>();
  }
}

}  // namespace
}  // namespace hvbios::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hvbios;
  using namespace hvbios::fuzz;
  static World* const world = new World;  // serves every input, like a VM
  FuzzedDataProvider in(data, size);
  // The guest's buffers: a ring header, a string, a memory-map request...
  const std::vector<uint8_t> bytes =
      in.ConsumeBytes<uint8_t>(in.ConsumeIntegralInRange<size_t>(0, 65536));
  if (!bytes.empty()) {
    world->ctx->mutable_memory().Write(
        kBufferArea + in.ConsumeIntegralInRange<uint64_t>(0, 4096),
        bytes.data(), bytes.size());
  }
  for (int call = 0; call < 64 && in.remaining_bytes() > 0; ++call) {
    HypercallArgs args;
    args.fid = in.ConsumeBool()
                   ? in.PickValueInArray(kFunctions)
                   : HVB_FID(in.ConsumeIntegralInRange<uint32_t>(0, 0x10),
                             in.ConsumeIntegralInRange<uint32_t>(0, 0x20));
    if (in.ConsumeProbability<float>() < 0.02f) {
      args.fid = in.ConsumeIntegral<uint64_t>();
    }
    for (uint64_t& arg : args.arg) arg = Argument(in);
    // Now and then a doorbell (rings of any service) or a frame arriving
    // from the network, between the calls.
    if (in.ConsumeProbability<float>() < 0.1f) {
      world->services->Doorbell(in.ConsumeIntegralInRange<uint64_t>(0, 20));
    }
    if (in.ConsumeProbability<float>() < 0.1f) {
      const size_t length = in.ConsumeIntegralInRange<size_t>(0, 1600);
      std::vector<uint8_t> frame(length, 0x5a);
      world->net->Deliver(frame);
    }
    const uint32_t caller = in.ConsumeIntegralInRange<uint32_t>(0, kVcpus - 1);
    const HypercallResult r = world->services->Dispatch(caller, args);
    FUZZ_CHECK(IsAbiStatus(r.status), "fid 0x%lx answered %ld", args.fid,
               r.status);
  }
  return 0;
}
