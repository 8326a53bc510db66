// Debugging a Vm: the all-stop model of gdb's remote protocol, built on
// the backend's single-step exits, and guest-virtual memory through the
// guest's own page tables. hvbios/gdb.h serves gdb with it; a VMM may
// drive it directly.
//
// All-stop: when one vCPU stops (a breakpoint, a finished step, an
// interrupt, the VM's end), every vCPU is paused before the stop is
// reported, and all of them stay paused until Resume().
//
// Breakpoints are instruction addresses (rip values, guest-virtual). The
// guest's memory is never patched (no int3), so breakpoints work in
// read-only code and in code the guest copies or checks. Up to
// hardware_breakpoints() of them go into every vCPU's debug registers,
// where the hypervisor honours them (probed when the debugger attaches);
// with more, or where it does not (this machine's KVM, a nested KVM under
// TCG: ../shared/platform.md), every vCPU single-steps while any is set,
// and they are found among the steps: an exit per instruction.
#ifndef HVBIOS_DEBUG_H_
#define HVBIOS_DEBUG_H_

#include <cstdint>
#include <functional>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "hvbios/backend.h"
#include "hvbios/vm.h"

namespace hvbios {

// Why the VM stopped under the debugger.
struct DebugStop {
  enum class Reason {
    kStep,        // `vcpu_id` ran the one instruction Resume() asked for
    kBreakpoint,  // `vcpu_id` is about to run a breakpoint's instruction
    kInterrupt,   // Interrupt() stopped the VM; `vcpu_id` is the lowest
    kVmExit,      // the VM stopped (`exit`); registers and memory stay
                  // readable until the Vm is destroyed
  };
  Reason reason = Reason::kInterrupt;
  uint32_t vcpu_id = 0;
  uint64_t address = 0;  // kStep, kBreakpoint: the vCPU's rip
  VmExit exit;           // kVmExit
};

// A debugger attached to a Vm (Vm::AttachDebugger); destroying it detaches:
// its breakpoints go, vCPUs stop stepping, and the VM stays as it is
// (paused, if the debugger left it stopped). The Vm must outlive it. Any
// thread, but not from a callback: Resume() and TakeStop() wait for vCPUs.
class Debugger {
 public:
  virtual ~Debugger() = default;

  // Adds or removes an instruction breakpoint. Adding one twice is one
  // breakpoint; NotFound removing an address that is none.
  virtual absl::Status InsertBreakpoint(uint64_t address) = 0;
  virtual absl::Status RemoveBreakpoint(uint64_t address) = 0;

  // Lets the stopped VM go on: vCPU `step` (if set) runs one instruction
  // and stops; the other paused vCPUs run too if `others_run`, else stay
  // paused. A stop not yet taken is reported first (stop_fd() becomes
  // readable again) and nothing resumes. FailedPrecondition once the VM
  // has stopped or if `step` is not paused; NotFound for no such vCPU.
  virtual absl::Status Resume(std::optional<uint32_t> step,
                              bool others_run) = 0;

  // Asks every vCPU to stop (gdb's Ctrl-C). Returns at once; the stop
  // arrives through stop_fd() and TakeStop().
  virtual absl::Status Interrupt() = 0;

  // Breakpoints the backend holds in debug registers (0: all are found by
  // single-stepping), as probed when the debugger attached.
  virtual uint32_t hardware_breakpoints() const = 0;

  // An eventfd, readable while a stop may be waiting for TakeStop(). Owned
  // by the debugger.
  virtual int stop_fd() const = 0;

  // The next stop, once every vCPU is paused (all-stop); nullopt if none
  // is waiting. The VM's end is reported once, as kVmExit.
  virtual absl::StatusOr<std::optional<DebugStop>> TakeStop() = 0;

  // Copies guest-virtual memory as vCPU `vcpu_id` sees it now (through its
  // page tables; the vCPU must not be running). Stops at the first byte
  // that is not mapped to RAM and returns how many were copied. Writes
  // ignore the page tables' permissions, as a debugger's do.
  virtual absl::StatusOr<size_t> ReadVirtual(uint32_t vcpu_id, uint64_t address,
                                             absl::Span<uint8_t> out) = 0;
  virtual absl::StatusOr<size_t> WriteVirtual(uint32_t vcpu_id,
                                              uint64_t address,
                                              absl::Span<const uint8_t> in) = 0;
};

// Reads 8 bytes of guest-physical memory; false if it is not RAM.
using ReadPhysical64 = std::function<bool(uint64_t gpa, uint64_t* value)>;

// Translates guest-virtual `address` through the 4-level page tables at
// regs.cr3 (SDM Vol. 3A, 4.5), 2 MiB and 1 GiB pages included; identity
// while paging is off (cr0.PG clear). nullopt if not mapped.
std::optional<uint64_t> TranslateGuestVirtual(const Registers& regs,
                                              const ReadPhysical64& read,
                                              uint64_t address);

}  // namespace hvbios

#endif  // HVBIOS_DEBUG_H_
