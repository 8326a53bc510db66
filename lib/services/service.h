// What a hypercall service is on the host (docs/adding-a-service.md): a
// module of handlers, one per row of its service in the ABI's function
// table (hvbios/abi/functions.h), and the small context every handler
// gets. The dispatcher (services.h) only looks functions up and calls.
#ifndef HVBIOS_LIB_SERVICES_SERVICE_H_
#define HVBIOS_LIB_SERVICES_SERVICE_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "hvbios/abi/functions.h"
#include "hvbios/abi/hypercall.h"
#include "hvbios/abi/status.h"
#include "hvbios/backend.h"
#include "hvbios/trace.h"
#include "lib/guest_memory.h"

namespace hvbios {

class Services;
struct VmExit;

struct HypercallResult {
  int64_t status;  // HVB_OK or HVB_ERR_*; the guest's rax
  uint64_t value;  // the guest's rdx
};
constexpr HypercallResult Ok(uint64_t value = 0) { return {HVB_OK, value}; }
constexpr HypercallResult Error(int64_t status) { return {status, 0}; }
// A status that is a value when not negative (counts, queue ids).
constexpr HypercallResult OkOrError(int64_t status) {
  return status < 0 ? Error(status) : Ok(static_cast<uint64_t>(status));
}

// What the services need from the VM that runs them. Vm implements it; the
// core's unit tests use one fake (tests/fake_service_context.h). Called on
// vCPU and library threads, concurrently: implementations are thread-safe.
class ServiceContext {
 public:
  virtual ~ServiceContext() = default;
  virtual const GuestMemory& memory() const = 0;
  virtual BackendVm& backend() = 0;
  virtual uint32_t vcpu_count() const = 0;
  // CLOCK_MONOTONIC (ns) when the VM was created: clock.monotonic's zero.
  virtual uint64_t epoch_ns() const = 0;
  // Ends the VM (the first reason wins); the caller's vCPU does not
  // re-enter the guest.
  virtual void RequestExit(const VmExit& exit) = 0;
  // The calling vCPU's registers, formatted (FormatRegisters); "" if they
  // cannot be read. On the caller's own thread, during its hypercall.
  virtual std::string CallerRegisters(uint32_t caller) = 0;
  // vCPU lifecycle, with arguments already checked (common/vcpu.c):
  // HVB_OK, HVB_ERR_STATE (running or paused), HVB_ERR_NODEV (destroyed),
  // HVB_ERR_NOMEM (the hypervisor could not create it).
  virtual int64_t StartVcpu(uint32_t id, const LongModeEntry& entry) = 0;
  // The caller stops once this call is answered.
  virtual void StopVcpu(uint32_t caller) = 0;
  // HVB_VCPU_* of vCPU `id` (< vcpu_count()), or HVB_ERR_NODEV (destroyed).
  virtual int64_t VcpuStateOf(uint32_t id) = 0;
  // Whether vCPU `id` exists and can take events (created, not destroyed).
  virtual bool VcpuCanTakeEvents(uint32_t id) = 0;
  // Where events raised are recorded (VmOptions::trace); null: nowhere.
  virtual Tracer* tracer() { return nullptr; }
};

// One hypercall as its handler sees it.
struct ServiceCall {
  ServiceContext& ctx;
  Services& services;
  uint32_t caller;      // the calling vCPU's id
  const uint64_t* arg;  // rdi, rsi, rdx, rcx, r8, r9
};

using Handler = HypercallResult (*)(ServiceCall& call);

// Ring queue ids: one space for every ring of the machine, block and net
// alike, since the hypercall page's notify entry names a queue by its id
// alone (docs/abi.md 5.10). Thread-safe.
inline constexpr uint32_t kMaxQueues = 16;
class QueueIds {
 public:
  // The next id, or -1 once kMaxQueues are in use.
  int64_t Allocate() {
    uint32_t id = next_.load(std::memory_order_relaxed);
    do {
      if (id >= kMaxQueues) return -1;
    } while (!next_.compare_exchange_weak(id, id + 1));
    return id;
  }

 private:
  std::atomic<uint32_t> next_{0};
};

// The handler of function `kFid`: each service's module defines those of
// its rows (a row without one does not link).
template <uint32_t kFid>
HypercallResult Handle(ServiceCall& call);
#define HVB_DECLARE_HANDLER(SVC, svc, FN, fn, number) \
  template <>                                         \
  HypercallResult Handle<HVB_FN_##SVC##_##FN>(ServiceCall & call);
HVB_FUNCTIONS(HVB_DECLARE_HANDLER)
#undef HVB_DECLARE_HANDLER

// A service module: its id and its handlers, indexed by function number.
struct ServiceModule {
  const char* name;
  uint32_t id;
  const Handler* functions;
  size_t function_count;
};

// Builds a module's handler table from its rows in the function table,
// indexed by the numbers the rows give. Evaluated at compile time: a gap
// or a duplicate number fails the build (a throw in a constant expression).
struct HandlerRow {
  uint32_t number;
  Handler handler;
};
template <size_t N>
constexpr std::array<Handler, N> HandlerTable(const HandlerRow (&rows)[N]) {
  std::array<Handler, N> table{};
  for (const HandlerRow& row : rows) {
    if (row.number >= N || table[row.number] != nullptr) {
      throw "the function table's numbers must be 0..n-1, each once";
    }
    table[row.number] = row.handler;
  }
  return table;
}

// The rows of one service, for HandlerTable():
//   constexpr HandlerRow kRows[] = {HVB_FUNCTIONS_RNG(HVB_HANDLER_ROW)};
#define HVB_HANDLER_ROW(SVC, svc, FN, fn, number) \
  {number, &::hvbios::Handle<HVB_FN_##SVC##_##FN>},

// Each built-in service's module, defined in lib/services/<service>.cc.
template <uint32_t kService>
const ServiceModule& Module();
#define HVB_DECLARE_MODULE(SVC, svc, id) \
  template <>                            \
  const ServiceModule& Module<HVB_SVC_##SVC>();
HVB_SERVICES(HVB_DECLARE_MODULE)
#undef HVB_DECLARE_MODULE

// Defines service SVC's module from its rows of the function table.
#define HVB_DEFINE_MODULE(SVC, name)                                         \
  template <>                                                                \
  const ServiceModule& Module<HVB_SVC_##SVC>() {                             \
    static constexpr HandlerRow kRows[] = {                                  \
        HVB_FUNCTIONS_##SVC(HVB_HANDLER_ROW)};                               \
    static constexpr auto kTable = HandlerTable(kRows);                      \
    static constexpr ServiceModule kModule = {name, HVB_SVC_##SVC,           \
                                              kTable.data(), kTable.size()}; \
    return kModule;                                                          \
  }

}  // namespace hvbios

#endif  // HVBIOS_LIB_SERVICES_SERVICE_H_
