// Hypercall dispatch and the services of the ABI (docs/abi.md).
#ifndef HVBIOS_LIB_HYPERCALL_H_
#define HVBIOS_LIB_HYPERCALL_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "hvbios/backend.h"
#include "hvbios/block.h"
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
  // Console output; `bytes` points into guest RAM (copied before anyone
  // else sees it). Returns how many bytes were taken, 0 if the output is
  // congested (the guest gets HVB_ERR_AGAIN and retries).
  virtual size_t ConsoleWrite(absl::string_view bytes) = 0;
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

  // vcpu service. Arguments arrive checked (id < vcpu_count(), entry in
  // RAM); these answer for the vCPUs' states.
  virtual uint32_t vcpu_count() const = 0;
  // HVB_OK, HVB_ERR_STATE (running or paused), HVB_ERR_NODEV (destroyed),
  // HVB_ERR_NOMEM (the hypervisor could not create it).
  virtual int64_t StartVcpu(uint32_t id, const LongModeEntry& entry) = 0;
  // The caller stops after this hypercall.
  virtual void StopVcpu(uint32_t caller) = 0;
  // HVB_VCPU_* of vCPU `id`, or HVB_ERR_NODEV (destroyed).
  virtual int64_t VcpuStatusOf(uint32_t id) = 0;

  // timer service: `vector` checked, deadline on the clock.monotonic scale.
  virtual void SetTimer(uint32_t vcpu, uint64_t deadline_ns,
                        uint8_t vector) = 0;
  virtual void CancelTimer(uint32_t vcpu) = 0;

  // event service: source, vCPU id and vector checked. HVB_OK or
  // HVB_ERR_NODEV when the target vCPU does not exist (yet).
  virtual int64_t RouteEvent(uint32_t source, uint32_t vcpu,
                             uint8_t vector) = 0;
  virtual void MaskEvent(uint32_t source, bool masked) = 0;
  virtual int64_t RaiseEvent(uint32_t vcpu, uint8_t vector) = 0;
  // Whether `source` names an event source (console input, a queue).
  virtual bool EventSourceExists(uint32_t source) = 0;

  // block service: disk `id`, or nullptr.
  virtual BlockDevice* block_device(uint32_t id) = 0;
  // A ring on disk `dev`, checked by BlockQueue::CheckRing. Returns the
  // queue id, or HVB_ERR_NOMEM (too many queues / the host failed).
  virtual int64_t SetupQueue(uint32_t dev, uint64_t ring_gpa,
                             uint32_t entries) = 0;

  // rng service: fills `dst` with up to `length` random bytes; how many.
  virtual size_t RandomBytes(uint8_t* dst, size_t length) = 0;
};

// Validates and serves one hypercall made by vCPU `caller`. Never fails the
// host: every guest mistake becomes an HVB_ERR_* status. Allocates nothing.
HypercallResult DispatchHypercall(ServiceHost& host, uint32_t caller,
                                  const HypercallArgs& args);

// Checks a vCPU start address set against guest RAM: HVB_OK, HVB_ERR_FAULT
// (entry or stack not in RAM) or HVB_ERR_INVAL (stack not 16-byte aligned;
// cr3 neither 0 nor a page of RAM). Shared by vcpu.start and the host API.
int64_t CheckVcpuEntry(const GuestMemory& memory, uint64_t rip, uint64_t rsp,
                       uint64_t cr3);

// Whether `fid` names a function this implementation serves.
bool IsHypercallImplemented(uint64_t fid);

}  // namespace hvbios

#endif  // HVBIOS_LIB_HYPERCALL_H_
