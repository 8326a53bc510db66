#include "lib/hypercall.h"

#include <algorithm>
#include <iterator>

#include "hvbios/abi/hypercall.h"
#include "hvbios/abi/status.h"
#include "lib/version.h"

namespace hvbios {
namespace {

using Handler = HypercallResult (*)(ServiceHost&, const HypercallArgs&);

constexpr HypercallResult Ok(uint64_t value = 0) { return {HVB_OK, value}; }
constexpr HypercallResult Error(int64_t status) { return {status, 0}; }

// ---- base ----------------------------------------------------------------

HypercallResult BaseGetAbiVersion(ServiceHost&, const HypercallArgs&) {
  return Ok(HVB_ABI_VERSION);
}
HypercallResult BaseGetImplId(ServiceHost& host, const HypercallArgs&) {
  return Ok(host.implementation_id());
}
HypercallResult BaseGetImplVersion(ServiceHost&, const HypercallArgs&) {
  return Ok(kImplementationVersion);
}
HypercallResult BaseProbe(ServiceHost&, const HypercallArgs& a) {
  return Ok(IsHypercallImplemented(a.arg[0]) ? 1 : 0);
}

// ---- console -------------------------------------------------------------

HypercallResult ConsoleWrite(ServiceHost& host, const HypercallArgs& a) {
  const uint64_t gpa = a.arg[0];
  const uint64_t length = std::min<uint64_t>(a.arg[1], HVB_CONSOLE_MAX_IO);
  if (length == 0) return Ok(0);
  const uint8_t* bytes = host.memory().Translate(gpa, length);
  if (bytes == nullptr) return Error(HVB_ERR_FAULT);
  host.ConsoleWrite(
      absl::string_view(reinterpret_cast<const char*>(bytes), length));
  return Ok(length);
}

HypercallResult ConsoleRead(ServiceHost& host, const HypercallArgs& a) {
  const uint64_t gpa = a.arg[0];
  const uint64_t length = std::min<uint64_t>(a.arg[1], HVB_CONSOLE_MAX_IO);
  if (length == 0) return Ok(0);
  uint8_t* dst = host.memory().Translate(gpa, length);
  if (dst == nullptr) return Error(HVB_ERR_FAULT);
  return Ok(host.ConsoleRead(dst, length));
}

// ---- clock ---------------------------------------------------------------

HypercallResult ClockMonotonic(ServiceHost& host, const HypercallArgs&) {
  return Ok(host.MonotonicNs());
}
HypercallResult ClockWallclock(ServiceHost& host, const HypercallArgs&) {
  return Ok(host.WallclockNs());
}

// ---- power ---------------------------------------------------------------

HypercallResult PowerShutdown(ServiceHost& host, const HypercallArgs& a) {
  if (a.arg[0] > 255) return Error(HVB_ERR_INVAL);
  host.RequestShutdown(static_cast<uint8_t>(a.arg[0]));
  return Ok();
}
HypercallResult PowerReboot(ServiceHost& host, const HypercallArgs&) {
  host.RequestReboot();
  return Ok();
}

// ---- debug ---------------------------------------------------------------

HypercallResult DebugNull(ServiceHost&, const HypercallArgs&) { return Ok(); }
HypercallResult DebugEcho(ServiceHost&, const HypercallArgs& a) {
  return Ok(a.arg[0] ^ a.arg[1] ^ a.arg[2] ^ a.arg[3] ^ a.arg[4] ^ a.arg[5]);
}

// ---- tables --------------------------------------------------------------
// Indexed by function number, in the order of hvbios/abi/hypercall.h.

constexpr Handler kBase[] = {BaseGetAbiVersion, BaseGetImplId,
                             BaseGetImplVersion, BaseProbe};
constexpr Handler kConsole[] = {ConsoleWrite, ConsoleRead};
constexpr Handler kClock[] = {ClockMonotonic, ClockWallclock};
constexpr Handler kPower[] = {PowerShutdown, PowerReboot};
constexpr Handler kDebug[] = {DebugNull, DebugEcho};

struct Service {
  const Handler* functions;
  size_t count;
};
template <size_t N>
constexpr Service MakeService(const Handler (&functions)[N]) {
  return {functions, N};
}

// Indexed by service id.
constexpr Service kServices[] = {
    MakeService(kBase),  MakeService(kConsole), MakeService(kClock),
    MakeService(kPower), MakeService(kDebug),
};
static_assert(std::size(kServices) == HVB_SVC_DEBUG + 1);

Handler Lookup(uint64_t fid) {
  if (fid > UINT32_MAX) return nullptr;
  const uint32_t service = HVB_FID_SERVICE(fid);
  const uint32_t function = HVB_FID_FUNCTION(fid);
  if (service >= std::size(kServices)) return nullptr;
  if (function >= kServices[service].count) return nullptr;
  return kServices[service].functions[function];
}

}  // namespace

bool IsHypercallImplemented(uint64_t fid) { return Lookup(fid) != nullptr; }

HypercallResult DispatchHypercall(ServiceHost& host,
                                  const HypercallArgs& args) {
  Handler handler = Lookup(args.fid);
  if (handler == nullptr) return Error(HVB_ERR_NOSYS);
  return handler(host, args);
}

}  // namespace hvbios
