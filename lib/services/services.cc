#include "lib/services/services.h"

#include <algorithm>
#include <array>
#include <chrono>

#include "absl/strings/str_format.h"
#include "lib/threads.h"

namespace hvbios {
namespace {

// The built-in modules by service id (ids without a service stay null).
constexpr uint32_t kMaxBuiltinService = 0x0f;
std::array<const ServiceModule*, kMaxBuiltinService + 1> BuiltinModules() {
  std::array<const ServiceModule*, kMaxBuiltinService + 1> modules{};
#define HVB_MODULE_ENTRY(SVC, svc, id)     \
  static_assert(id <= kMaxBuiltinService); \
  modules[id] = &Module<HVB_SVC_##SVC>();
  HVB_SERVICES(HVB_MODULE_ENTRY)
#undef HVB_MODULE_ENTRY
  return modules;
}
const std::array<const ServiceModule*, kMaxBuiltinService + 1> kModules =
    BuiltinModules();

// The handler of a built-in `fid`, or nullptr.
Handler BuiltinHandler(uint64_t fid) {
  if (fid > UINT32_MAX) return nullptr;
  const uint32_t service = HVB_FID_SERVICE(fid);
  const uint32_t function = HVB_FID_FUNCTION(fid);
  if (service > kMaxBuiltinService || kModules[service] == nullptr ||
      function >= kModules[service]->function_count) {
    return nullptr;
  }
  return kModules[service]->functions[function];
}

}  // namespace

bool ServiceRequest::CopyFromGuest(uint64_t gpa, void* dst,
                                   size_t length) const {
  if (length == 0) return true;
  GuestMemory::Access access(memory_);
  const uint8_t* src = memory_.GuestBuffer(gpa, length);
  if (src == nullptr) return false;
  std::memcpy(dst, src, length);
  return true;
}

bool ServiceRequest::CopyToGuest(uint64_t gpa, const void* src,
                                 size_t length) const {
  if (length == 0) return true;
  GuestMemory::Access access(memory_);
  uint8_t* dst = memory_.GuestBufferToWrite(gpa, length);
  if (dst == nullptr) return false;
  std::memcpy(dst, src, length);
  return true;
}

absl::Status ValidateVendorServices(
    const std::vector<VendorService>& services) {
  std::vector<uint32_t> ids;
  for (const VendorService& s : services) {
    if (s.id < HVB_SVC_VENDOR_FIRST || s.id > HVB_SVC_VENDOR_LAST) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "vendor service '%s': id 0x%x is outside 0x%x..0x%x", s.name, s.id,
          HVB_SVC_VENDOR_FIRST, HVB_SVC_VENDOR_LAST));
    }
    if (std::find(ids.begin(), ids.end(), s.id) != ids.end()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("vendor service id 0x%x is used twice", s.id));
    }
    ids.push_back(s.id);
    if (s.function_count == 0 || s.function_count > 0x10000 || !s.handler) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "vendor service '%s' needs 1 to 65536 functions and a handler",
          s.name));
    }
  }
  return absl::OkStatus();
}

Services::Services(ServiceContext& ctx, ServicesOptions options)
    : ctx_(ctx),
      vendors_([&] {
        std::vector<VendorService> v = std::move(options.vendor_services);
        std::sort(v.begin(), v.end(),
                  [](const auto& a, const auto& b) { return a.id < b.id; });
        return v;
      }()),
      events_(ctx),
      console_(std::move(options.console_output), events_),
      timers_(std::chrono::steady_clock::time_point(
                  std::chrono::nanoseconds(ctx.epoch_ns())),
              ctx.vcpu_count(),
              [this](uint32_t vcpu, uint8_t vector) {
                (void)events_.Raise(vcpu, vector);
              }),
      block_(ctx, events_, queue_ids_, std::move(options.disks)),
      net_(ctx, events_, queue_ids_, std::move(options.nets)) {
  // Raised by the VM when the embedder changes the memory map.
  (void)events_.AddSource(HVB_EVENT_SRC_MEMORY_MAP, {});
}

Services::~Services() = default;

const VendorService* Services::FindVendor(uint32_t id) const {
  auto it = std::lower_bound(
      vendors_.begin(), vendors_.end(), id,
      [](const VendorService& s, uint32_t v) { return s.id < v; });
  return it != vendors_.end() && it->id == id ? &*it : nullptr;
}

bool Services::Implemented(uint64_t fid) const {
  if (BuiltinHandler(fid) != nullptr) return true;
  if (fid > UINT32_MAX) return false;
  const VendorService* vendor = FindVendor(HVB_FID_SERVICE(fid));
  return vendor != nullptr && HVB_FID_FUNCTION(fid) < vendor->function_count;
}

HypercallResult Services::Dispatch(uint32_t caller, const HypercallArgs& args) {
  if (Handler handler = BuiltinHandler(args.fid)) {
    // Built-in handlers use guest memory throughout; vendor handlers hold
    // it only while they copy (they may block: see RemoveRegion).
    GuestMemory::Access access(ctx_.memory());
    ServiceCall call{ctx_, *this, caller, args.arg};
    return handler(call);
  }
  if (args.fid > UINT32_MAX) return Error(HVB_ERR_NOSYS);
  const VendorService* vendor = FindVendor(HVB_FID_SERVICE(args.fid));
  const uint32_t function = HVB_FID_FUNCTION(args.fid);
  if (vendor == nullptr || function >= vendor->function_count) {
    return Error(HVB_ERR_NOSYS);
  }
  const ServiceRequest request(ctx_.memory(), caller, function, args.arg);
  ServiceReply reply;
  {
    CallbackScope in_callback;
    reply = vendor->handler(request);
  }
  // A reply must be a status the ABI defines.
  if (reply.status > 0 || reply.status < HVB_ERR_NOMEM) {
    return Error(HVB_ERR_IO);
  }
  return reply.status == HVB_OK ? Ok(reply.value) : Error(reply.status);
}

}  // namespace hvbios
