#include "lib/hypercall.h"

#include <algorithm>
#include <iterator>

#include "hvbios/abi/hypercall.h"
#include "hvbios/abi/status.h"
#include "lib/block.h"
#include "lib/block_queue.h"
#include "lib/boot_setup.h"
#include "lib/version.h"

namespace hvbios {
namespace {

using Handler = HypercallResult (*)(ServiceHost&, uint32_t caller,
                                    const HypercallArgs&);

constexpr HypercallResult Ok(uint64_t value = 0) { return {HVB_OK, value}; }
constexpr HypercallResult Error(int64_t status) { return {status, 0}; }

// ---- base ----------------------------------------------------------------

HypercallResult BaseGetAbiVersion(ServiceHost&, uint32_t,
                                  const HypercallArgs&) {
  return Ok(HVB_ABI_VERSION);
}
HypercallResult BaseGetImplId(ServiceHost& host, uint32_t,
                              const HypercallArgs&) {
  return Ok(host.implementation_id());
}
HypercallResult BaseGetImplVersion(ServiceHost&, uint32_t,
                                   const HypercallArgs&) {
  return Ok(kImplementationVersion);
}
HypercallResult BaseProbe(ServiceHost&, uint32_t, const HypercallArgs& a) {
  return Ok(IsHypercallImplemented(a.arg[0]) ? 1 : 0);
}

// ---- console -------------------------------------------------------------

HypercallResult ConsoleWrite(ServiceHost& host, uint32_t,
                             const HypercallArgs& a) {
  const uint64_t gpa = a.arg[0];
  const uint64_t length = std::min<uint64_t>(a.arg[1], HVB_CONSOLE_MAX_IO);
  if (length == 0) return Ok(0);
  const uint8_t* bytes = host.memory().GuestBuffer(gpa, length);
  if (bytes == nullptr) return Error(HVB_ERR_FAULT);
  const size_t written = host.ConsoleWrite(
      absl::string_view(reinterpret_cast<const char*>(bytes), length));
  return written > 0 ? Ok(written) : Error(HVB_ERR_AGAIN);
}

HypercallResult ConsoleRead(ServiceHost& host, uint32_t,
                            const HypercallArgs& a) {
  const uint64_t gpa = a.arg[0];
  const uint64_t length = std::min<uint64_t>(a.arg[1], HVB_CONSOLE_MAX_IO);
  if (length == 0) return Ok(0);
  uint8_t* dst = host.memory().GuestBuffer(gpa, length);
  if (dst == nullptr) return Error(HVB_ERR_FAULT);
  return Ok(host.ConsoleRead(dst, length));
}

// ---- clock ---------------------------------------------------------------

HypercallResult ClockMonotonic(ServiceHost& host, uint32_t,
                               const HypercallArgs&) {
  return Ok(host.MonotonicNs());
}
HypercallResult ClockWallclock(ServiceHost& host, uint32_t,
                               const HypercallArgs&) {
  return Ok(host.WallclockNs());
}

// ---- power ---------------------------------------------------------------

HypercallResult PowerShutdown(ServiceHost& host, uint32_t,
                              const HypercallArgs& a) {
  if (a.arg[0] > 255) return Error(HVB_ERR_INVAL);
  host.RequestShutdown(static_cast<uint8_t>(a.arg[0]));
  return Ok();
}
HypercallResult PowerReboot(ServiceHost& host, uint32_t, const HypercallArgs&) {
  host.RequestReboot();
  return Ok();
}

// ---- debug ---------------------------------------------------------------

HypercallResult DebugNull(ServiceHost&, uint32_t, const HypercallArgs&) {
  return Ok();
}
HypercallResult DebugEcho(ServiceHost&, uint32_t, const HypercallArgs& a) {
  return Ok(a.arg[0] ^ a.arg[1] ^ a.arg[2] ^ a.arg[3] ^ a.arg[4] ^ a.arg[5]);
}

// ---- vcpu ----------------------------------------------------------------

bool ValidVector(uint64_t v) {
  return v >= HVB_VECTOR_MIN && v <= HVB_VECTOR_MAX;
}

HypercallResult VcpuCount(ServiceHost& host, uint32_t, const HypercallArgs&) {
  return Ok(host.vcpu_count());
}
HypercallResult VcpuSelf(ServiceHost&, uint32_t caller, const HypercallArgs&) {
  return Ok(caller);
}
HypercallResult VcpuStart(ServiceHost& host, uint32_t, const HypercallArgs& a) {
  const uint64_t id = a.arg[0], rip = a.arg[1], rsp = a.arg[2], arg = a.arg[3],
                 cr3 = a.arg[4];
  if (id >= host.vcpu_count()) return Error(HVB_ERR_NODEV);
  if (int64_t st = CheckVcpuEntry(host.memory(), rip, rsp, cr3); st != HVB_OK) {
    return Error(st);
  }
  const int64_t st = host.StartVcpu(static_cast<uint32_t>(id),
                                    MakeApEntry(rip, rsp, arg, cr3));
  return st == HVB_OK ? Ok() : Error(st);
}
HypercallResult VcpuStop(ServiceHost& host, uint32_t caller,
                         const HypercallArgs&) {
  host.StopVcpu(caller);
  return Ok();
}
HypercallResult VcpuStatus(ServiceHost& host, uint32_t,
                           const HypercallArgs& a) {
  if (a.arg[0] >= host.vcpu_count()) return Error(HVB_ERR_NODEV);
  const int64_t st = host.VcpuStatusOf(static_cast<uint32_t>(a.arg[0]));
  return st >= 0 ? Ok(static_cast<uint64_t>(st)) : Error(st);
}

// ---- timer ---------------------------------------------------------------

HypercallResult TimerSet(ServiceHost& host, uint32_t caller,
                         const HypercallArgs& a) {
  if (!ValidVector(a.arg[1])) return Error(HVB_ERR_INVAL);
  host.SetTimer(caller, a.arg[0], static_cast<uint8_t>(a.arg[1]));
  return Ok();
}
HypercallResult TimerCancel(ServiceHost& host, uint32_t caller,
                            const HypercallArgs&) {
  host.CancelTimer(caller);
  return Ok();
}

// ---- event ---------------------------------------------------------------

bool SourceExists(ServiceHost& host, uint64_t source) {
  return source <= UINT32_MAX &&
         host.EventSourceExists(static_cast<uint32_t>(source));
}

HypercallResult EventRoute(ServiceHost& host, uint32_t,
                           const HypercallArgs& a) {
  if (!SourceExists(host, a.arg[0])) return Error(HVB_ERR_NODEV);
  if (a.arg[1] >= host.vcpu_count()) return Error(HVB_ERR_NODEV);
  if (!ValidVector(a.arg[2])) return Error(HVB_ERR_INVAL);
  const int64_t st = host.RouteEvent(static_cast<uint32_t>(a.arg[0]),
                                     static_cast<uint32_t>(a.arg[1]),
                                     static_cast<uint8_t>(a.arg[2]));
  return st == HVB_OK ? Ok() : Error(st);
}
HypercallResult EventMask(ServiceHost& host, uint32_t, const HypercallArgs& a) {
  if (!SourceExists(host, a.arg[0])) return Error(HVB_ERR_NODEV);
  host.MaskEvent(static_cast<uint32_t>(a.arg[0]), true);
  return Ok();
}
HypercallResult EventUnmask(ServiceHost& host, uint32_t,
                            const HypercallArgs& a) {
  if (!SourceExists(host, a.arg[0])) return Error(HVB_ERR_NODEV);
  host.MaskEvent(static_cast<uint32_t>(a.arg[0]), false);
  return Ok();
}
HypercallResult EventSendIpi(ServiceHost& host, uint32_t,
                             const HypercallArgs& a) {
  if (a.arg[0] >= host.vcpu_count()) return Error(HVB_ERR_NODEV);
  if (!ValidVector(a.arg[1])) return Error(HVB_ERR_INVAL);
  const int64_t st = host.RaiseEvent(static_cast<uint32_t>(a.arg[0]),
                                     static_cast<uint8_t>(a.arg[1]));
  return st == HVB_OK ? Ok() : Error(st);
}

// ---- block ---------------------------------------------------------------

BlockDevice* Disk(ServiceHost& host, uint64_t id) {
  return id > UINT32_MAX ? nullptr
                         : host.block_device(static_cast<uint32_t>(id));
}

HypercallResult BlockInfo(ServiceHost& host, uint32_t, const HypercallArgs& a) {
  BlockDevice* disk = Disk(host, a.arg[0]);
  if (disk == nullptr) return Error(HVB_ERR_NODEV);
  if (!host.memory().WriteToGuest(a.arg[1], BlockInfoOf(*disk))) {
    return Error(HVB_ERR_FAULT);
  }
  return Ok();
}

template <uint32_t kOp>
HypercallResult BlockTransfer(ServiceHost& host, uint32_t,
                              const HypercallArgs& a) {
  BlockDevice* disk = Disk(host, a.arg[0]);
  if (disk == nullptr) return Error(HVB_ERR_NODEV);
  const int64_t st =
      ExecuteBlockRequest(*disk, host.memory(), kOp, a.arg[1], a.arg[2],
                          kOp == HVB_RING_OP_DISCARD ? 0 : a.arg[3]);
  return st >= 0 ? Ok(static_cast<uint64_t>(st)) : Error(st);
}

HypercallResult BlockFlush(ServiceHost& host, uint32_t,
                           const HypercallArgs& a) {
  BlockDevice* disk = Disk(host, a.arg[0]);
  if (disk == nullptr) return Error(HVB_ERR_NODEV);
  const int64_t st =
      ExecuteBlockRequest(*disk, host.memory(), HVB_RING_OP_FLUSH, 0, 0, 0);
  return st == HVB_OK ? Ok() : Error(st);
}

HypercallResult BlockQueueSetup(ServiceHost& host, uint32_t,
                                const HypercallArgs& a) {
  if (Disk(host, a.arg[0]) == nullptr) return Error(HVB_ERR_NODEV);
  if (int64_t st = BlockQueue::CheckRing(host.memory(), a.arg[1], a.arg[2]);
      st != HVB_OK) {
    return Error(st);
  }
  const int64_t queue =
      host.SetupQueue(static_cast<uint32_t>(a.arg[0]), a.arg[1],
                      static_cast<uint32_t>(a.arg[2]));
  return queue >= 0 ? Ok(static_cast<uint64_t>(queue)) : Error(queue);
}

// ---- rng -----------------------------------------------------------------

HypercallResult RngFill(ServiceHost& host, uint32_t, const HypercallArgs& a) {
  const uint64_t length = std::min<uint64_t>(a.arg[1], HVB_RNG_MAX_FILL);
  if (length == 0) return Ok(0);
  uint8_t* dst = host.memory().GuestBuffer(a.arg[0], length);
  if (dst == nullptr) return Error(HVB_ERR_FAULT);
  const size_t n = host.RandomBytes(dst, length);
  return n > 0 ? Ok(n) : Error(HVB_ERR_IO);
}

// ---- tables --------------------------------------------------------------
// Indexed by function number, in the order of hvbios/abi/hypercall.h.

constexpr Handler kBase[] = {BaseGetAbiVersion, BaseGetImplId,
                             BaseGetImplVersion, BaseProbe};
constexpr Handler kConsole[] = {ConsoleWrite, ConsoleRead};
constexpr Handler kClock[] = {ClockMonotonic, ClockWallclock};
constexpr Handler kPower[] = {PowerShutdown, PowerReboot};
constexpr Handler kDebug[] = {DebugNull, DebugEcho};
constexpr Handler kVcpu[] = {VcpuCount, VcpuSelf, VcpuStart, VcpuStop,
                             VcpuStatus};
constexpr Handler kTimer[] = {TimerSet, TimerCancel};
constexpr Handler kEvent[] = {EventRoute, EventMask, EventUnmask, EventSendIpi};
constexpr Handler kBlock[] = {BlockInfo,
                              BlockTransfer<HVB_RING_OP_READ>,
                              BlockTransfer<HVB_RING_OP_WRITE>,
                              BlockFlush,
                              BlockTransfer<HVB_RING_OP_DISCARD>,
                              BlockQueueSetup};
constexpr Handler kRng[] = {RngFill};

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
    MakeService(kPower), MakeService(kDebug),   MakeService(kVcpu),
    MakeService(kTimer), MakeService(kEvent),   MakeService(kBlock),
    Service{nullptr, 0},  // net: reserved
    MakeService(kRng),
};
static_assert(std::size(kServices) == HVB_SVC_RNG + 1);

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

HypercallResult DispatchHypercall(ServiceHost& host, uint32_t caller,
                                  const HypercallArgs& args) {
  Handler handler = Lookup(args.fid);
  if (handler == nullptr) return Error(HVB_ERR_NOSYS);
  return handler(host, caller, args);
}

int64_t CheckVcpuEntry(const GuestMemory& memory, uint64_t rip, uint64_t rsp,
                       uint64_t cr3) {
  if (!memory.GuestOwns(rip, 1)) return HVB_ERR_FAULT;
  if (rsp % 16 != 0) return HVB_ERR_INVAL;
  // The first push writes the 8 bytes below rsp.
  if (rsp < 8 || !memory.GuestOwns(rsp - 8, 8)) return HVB_ERR_FAULT;
  if (cr3 != 0 && (cr3 % 4096 != 0 || !memory.GuestOwns(cr3, 4096))) {
    return HVB_ERR_INVAL;
  }
  return HVB_OK;
}

}  // namespace hvbios
