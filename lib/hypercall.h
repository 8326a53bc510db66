// Hypercall dispatch and the services of ABI 0.1 (docs/abi.md).
#ifndef HVBIOS_LIB_HYPERCALL_H_
#define HVBIOS_LIB_HYPERCALL_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "hvbios/backend.h"
#include "lib/guest_memory.h"

namespace hvbios {

struct HypercallResult {
  int64_t status;  // HVB_OK or HVB_ERR_*; the guest's rax
  uint64_t value;  // the guest's rdx
};

// What the services need from the VM that runs them. The Vm implements it;
// unit tests substitute their own. Called on vCPU threads, concurrently from
// several: implementations are thread-safe.
class ServiceHost {
 public:
  virtual ~ServiceHost() = default;
  virtual const GuestMemory& memory() const = 0;
  virtual uint32_t implementation_id() const = 0;
  // Console output; `bytes` points into guest RAM.
  virtual void ConsoleWrite(absl::string_view bytes) = 0;
  // Moves up to `capacity` pending input bytes to `dst` (guest RAM);
  // returns how many. Never blocks.
  virtual size_t ConsoleRead(uint8_t* dst, size_t capacity) = 0;
  // Nanoseconds since the VM was created.
  virtual uint64_t MonotonicNs() const = 0;
  // Nanoseconds since the Unix epoch.
  virtual uint64_t WallclockNs() const = 0;
  // Ends the VM; the calling vCPU does not re-enter the guest.
  virtual void RequestShutdown(uint8_t code) = 0;
  virtual void RequestReboot() = 0;
};

// Validates and serves one hypercall. Never fails the host: every guest
// mistake becomes an HVB_ERR_* status. Allocates nothing.
HypercallResult DispatchHypercall(ServiceHost& host, const HypercallArgs& args);

// Whether `fid` names a function this implementation serves.
bool IsHypercallImplemented(uint64_t fid);

}  // namespace hvbios

#endif  // HVBIOS_LIB_HYPERCALL_H_
