// The hvbios C++ API: a VM that boots a guest image and serves its
// hypercalls (docs/abi.md) on library-owned vCPU threads.
//
// Typical use (see tools/hvbios-run and examples/vmm):
//
//   ASSIGN_OR_RETURN(std::unique_ptr<hvbios::Vm> vm,
//                    hvbios::CreateKvmVm(options));   // hvbios/kvm.h
//   RETURN_IF_ERROR(vm->LoadGuestFile("hello.elf"));
//   ASSIGN_OR_RETURN(hvbios::Vcpu* boot, vm->CreateVcpu(0));
//   RETURN_IF_ERROR(boot->Start());
//   ASSIGN_OR_RETURN(hvbios::VmExit exit, vm->Wait());
//
// Thread-safety: every method of Vm and Vcpu may be called from any thread.
// Lifetime: a Vm owns its Vcpus; Vcpu pointers are valid until the Vm is
// destroyed. Destroying a Vm stops its vCPUs and joins their threads.
//
// Callbacks: the embedder's code the library runs (the console sink, a
// callback disk's functions) runs on library threads: the console thread,
// vCPU threads and I/O threads. Calls that wait for vCPUs or library
// threads would wait for the caller there: Vm::Pause, Vm::Resume, Vm::Wait,
// Vcpu::Pause, Vcpu::Resume and Vcpu::Destroy fail with FailedPrecondition
// inside a callback, and destroying the Vm there is not allowed. Every other
// call works: Stop(), RaiseEvent(), PushConsoleInput(), guest memory
// access, starts, status queries. Callbacks must not throw.
#ifndef HVBIOS_VM_H_
#define HVBIOS_VM_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "hvbios/backend.h"
#include "hvbios/block.h"
#include "hvbios/net.h"
#include "hvbios/service.h"

namespace hvbios {

class Debugger;
class GuestMemory;
class Tracer;

struct VmOptions {
  // Guest RAM in bytes: a multiple of 2 MiB, from 2 MiB to 64 GiB.
  uint64_t memory_bytes = 128ull << 20;
  // vCPUs the guest is told about (boot info); ids 0 .. vcpu_count - 1.
  uint32_t vcpu_count = 1;
  // The guest's command line (boot info), at most 4095 bytes, no NUL.
  std::string cmdline;
  // Disks for the block service, device ids 0, 1, ... in this order (at
  // most 16). Shared: the VM keeps them until it is destroyed.
  std::vector<std::shared_ptr<BlockDevice>> disks;
  // Network devices for the net service, device ids 0, 1, ... in this
  // order (at most 8). The VM attaches each link when it is created and
  // detaches it when destroyed; a link serves one VM at a time.
  std::vector<NetDeviceConfig> nets;
  // Receives the guest's console output: copies of its bytes, in order,
  // one call at a time, on the VM's console thread (buffered up to 64 KiB;
  // a sink slower than the guest holds the guest back, never the VM). It
  // is a callback: it may not make calls that wait (see "Callbacks"
  // below). Wait() returns once it has had all the output; destroying the
  // VM waits up to 2 s for it to take what is left, then leaves a sink that
  // has not returned behind. Unset: output is discarded.
  std::function<void(absl::string_view)> console_output;
  // A port or MMIO access nothing serves: false ends the VM (kGuestFault);
  // true reads all ones and drops writes, as a PC's open bus does (for
  // guests that probe for legacy hardware).
  bool open_bus = false;
  // The clock page's coarse time word (docs/abi.md 5.12): kept current by
  // one library thread for all VMs of the process, waking every 1 ms while
  // any VM with it runs. Off: the page does not offer it.
  bool coarse_clock = true;
  // The embedder's own hypercall services (hvbios/service.h), with ids in
  // the vendor range, each once.
  std::vector<VendorService> services;
  // Records every hypercall, doorbell and served port or MMIO access
  // (hvbios/trace.h); one tracer may serve many VMs. Unset: nothing is
  // recorded, at the cost of one branch per exit.
  std::shared_ptr<Tracer> trace;
};

// Parses a memory size in hvbios-run's --mem syntax: "2097152" (bytes),
// "64M", "1G", "512KiB", "64MB"; K, M and G are powers of 1024.
// InvalidArgument on anything else or on overflow.
absl::StatusOr<uint64_t> ParseMemorySize(absl::string_view text);

// InvalidArgument, with a one-line message, if Vm::Create() would reject
// `options` (before any hypervisor resource is touched).
absl::Status ValidateVmOptions(const VmOptions& options);

enum class VcpuState {
  kCreated,    // exists, never started
  kRunning,    // started: in the guest, serving an exit, or halted in hlt
  kPaused,     // held by Pause(); Resume() continues exactly where it was
  kStopped,    // stopped itself (vcpu.stop) or the VM stopped; the guest's
               // vcpu.start or StartAt() may start it again
  kDestroyed,  // Destroy()ed: every call on it fails from now on
};

absl::string_view VcpuStateName(VcpuState state);

// A vCPU's state and what made it leave the guest last.
struct VcpuStatus {
  VcpuState state = VcpuState::kCreated;
  VcpuExit::Kind last_exit = VcpuExit::Kind::kCanceled;
  uint64_t exits = 0;  // exits served since creation
};

// Where StartAt() starts a vCPU: 64-bit mode, interrupts off, the
// platform's GDT; rdi = `arg`.
struct VcpuEntry {
  uint64_t rip = 0;
  uint64_t rsp = 0;  // 16-byte aligned
  uint64_t arg = 0;
  uint64_t cr3 = 0;  // 0: the platform's boot identity map
};

// Why a VM stopped.
struct VmExit {
  enum class Reason {
    kShutdown,    // the guest called power.shutdown; see exit_code
    kReboot,      // the guest called power.reboot
    kGuestFault,  // the guest did something the platform cannot serve
                  // (triple fault, unemulatable instruction, unknown port,
                  // every vCPU stopped); see vcpu_id, message
    kStopped,     // the host called Vm::Stop() or destroyed the Vm
    kHostError,   // the hypervisor failed; see message
    kPanic,       // the guest called debug.panic (since ABI 0.9): its code
                  // in exit_code, the calling vCPU in vcpu_id, its message
                  // on the first line of message, then that vCPU's
                  // registers
  };
  Reason reason = Reason::kStopped;
  int exit_code = 0;     // kShutdown, kPanic: 0..255
  uint32_t vcpu_id = 0;  // kGuestFault / kHostError / kPanic
  // kGuestFault / kHostError: the reason on the first line, then the
  // faulting vCPU's registers.
  std::string message;
};

absl::string_view VmExitReasonName(VmExit::Reason reason);

// A device of the embedder's own (Vm::AddDevice): a window of ports or of
// MMIO whose accesses call its functions on the vCPU thread that made
// them. The guest finds it in the boot info's device list (HVB_DEV_VENDOR,
// docs/abi.md 2.3).
struct DeviceSpec {
  uint32_t id = 0;   // the embedder's device id, as the guest sees it
  bool pio = false;  // a window of ports (else MMIO)
  // Ports: within 0x1000..0xffff. MMIO: 4 KiB-aligned, within
  // [0xc0000000, 0xfec00000) (the 3-4 GiB hole below the I/O APIC).
  uint64_t base = 0;
  uint64_t size = 0;
  // The device's event source (an AddEventSource id), 0 for none: in the
  // device list, so that the guest knows what to route.
  uint32_t event_source = 0;
  // A read of `size` bytes (1, 2, 4 or 8) at `offset` into the window:
  // returns the value. A write. Both run on the calling vCPU's thread,
  // which waits meanwhile; they are callbacks (see "Callbacks"). Unset:
  // reads return all ones, writes are dropped.
  std::function<uint64_t(uint64_t offset, uint32_t size)> read;
  std::function<void(uint64_t offset, uint32_t size, uint64_t value)> write;
};

// Guest-physical memory an embedder adds while the VM lives (Vm::MapMemory).
struct MemoryRegionSpec {
  // Where: 4 KiB-aligned, outside the VM's RAM, other regions and the
  // 3-4 GiB hole, below 512 GiB.
  uint64_t gpa = 0;
  uint64_t size = 0;  // a multiple of 4 KiB
  // Its bytes: with neither `host` nor `fd`, fresh zeroed memory the
  // library owns (RAM added at run time; HVB_MEM_USABLE in the guest's
  // map). Or the embedder's memory at `host` (4 KiB-aligned, mapped until
  // UnmapMemory returns), or `fd` at `fd_offset` (mapped shared by the
  // library; e.g. a memfd a device model maps too; the fd may be closed
  // once MapMemory returns): HVB_MEM_SHARED.
  void* host = nullptr;
  int fd = -1;
  uint64_t fd_offset = 0;
  // The guest may only read it (HVB_MEM_ROM): its writes are dropped.
  bool read_only = false;
};

// Reads a guest image file (at most 1 GiB). NotFound / PermissionDenied /
// InvalidArgument with a one-line message naming the file.
absl::StatusOr<std::vector<uint8_t>> ReadGuestImage(const std::string& path);

// Formats registers for diagnostics, several lines.
std::string FormatRegisters(const Registers& regs);

// Whether `regs` are an x86 CPU's at reset (rip 0xfff0 in code segment
// 0xf000): what KVM on AMD SVM leaves of a vCPU that triple-faulted
// (svm.c, shutdown_interception), in place of the guest's registers.
bool IsResetState(const Registers& regs);

// One virtual CPU, run by a library-owned thread named "hvbios-vcpu<N>"
// from its first start until it is destroyed or the VM stops. Owned by its
// Vm; the pointer stays valid until the Vm is destroyed.
//
// Every method may be called from any thread, concurrently. Misuse (a call
// in the wrong state, on a destroyed vCPU, after the VM stopped) returns
// FailedPrecondition naming the state; nothing is undefined.
class Vcpu {
 public:
  virtual ~Vcpu() = default;

  virtual uint32_t id() const = 0;

  // Starts the boot vCPU (id 0) at the loaded guest's entry in the boot
  // protocol's state. FailedPrecondition if no guest is loaded or the vCPU
  // is not kCreated; InvalidArgument for another id.
  virtual absl::Status Start() = 0;

  // Starts a kCreated or kStopped vCPU at `entry`. InvalidArgument if rip,
  // the stack or cr3 are not the guest's RAM or misaligned. During a VM
  // pause (Vm::Pause) it starts paused.
  virtual absl::Status StartAt(const VcpuEntry& entry) = 0;

  // Takes a running vCPU out of the guest and parks it. Returns once it is
  // out of guest mode (also from hlt). FailedPrecondition unless kRunning.
  virtual absl::Status Pause() = 0;

  // Lets a paused vCPU continue exactly where it was. Returns once its
  // thread runs again. FailedPrecondition unless kPaused.
  virtual absl::Status Resume() = 0;

  // Stops the vCPU for good (pausing it first if it runs) and ends its
  // thread. KVM cannot free one vCPU: its kernel state goes with the VM.
  virtual absl::Status Destroy() = 0;

  virtual VcpuState state() const = 0;
  virtual VcpuStatus status() const = 0;

  // The vCPU's registers, while it is not running (kCreated, kPaused,
  // kStopped). FailedPrecondition while it runs or once destroyed.
  virtual absl::StatusOr<Registers> GetRegisters() const = 0;

  // Writes the general-purpose registers, rip and rflags of a kPaused vCPU
  // (the other fields of `regs` are read-only and ignored); Resume()
  // continues from them. FailedPrecondition in any other state.
  virtual absl::Status SetRegisters(const Registers& regs) = 0;
};

class Vm {
 public:
  // Creates a VM on `backend` (e.g. hvbios::kvm::CreateKvmBackendVm(), or
  // use hvbios::CreateKvmVm() from hvbios/kvm.h) with `options.memory_bytes`
  // of RAM mapped into it.
  static absl::StatusOr<std::unique_ptr<Vm>> Create(
      std::unique_ptr<BackendVm> backend, VmOptions options);

  // Stops every vCPU and joins its thread. Not from a callback.
  virtual ~Vm() = default;

  // Loads a guest image (boot protocol, docs/abi.md) and builds the boot
  // environment. Once per VM, before starting the boot vCPU.
  // InvalidArgument, with a one-line message, for an image that is not a
  // static x86-64 ELF executable fitting in this VM's RAM above 1 MiB.
  virtual absl::Status LoadGuest(absl::Span<const uint8_t> elf) = 0;
  // Same, reading the image from a file (NotFound etc. if unreadable).
  virtual absl::Status LoadGuestFile(const std::string& path) = 0;

  // Creates vCPU `id` (0 .. vcpu_count - 1), once per id. The guest's
  // vcpu.start creates the vCPUs the host did not.
  virtual absl::StatusOr<Vcpu*> CreateVcpu(uint32_t id) = 0;
  // The vCPU with this id, or nullptr if not created.
  virtual Vcpu* vcpu(uint32_t id) const = 0;

  // Pauses every running vCPU, and every vCPU started until Resume(); the
  // same guarantees as Vcpu::Pause. Resume() lets every paused one go on.
  // FailedPrecondition once the VM has stopped.
  virtual absl::Status Pause() = 0;
  virtual absl::Status Resume() = 0;

  // Raises interrupt `vector` (32..254) on vCPU `vcpu_id`, for a VMM's own
  // devices. OutOfRange / InvalidArgument / FailedPrecondition (vCPU not
  // created) on misuse.
  virtual absl::Status RaiseEvent(uint32_t vcpu_id, uint8_t vector) = 0;

  // Blocks until the VM has stopped, all its vCPU threads have left the
  // guest and the console sink has had all the output, then says why.
  // DeadlineExceeded if that has not happened after `timeout` (the VM
  // keeps running); FailedPrecondition if no vCPU was ever started and the
  // VM never stopped (nothing to wait for).
  virtual absl::StatusOr<VmExit> Wait(
      absl::Duration timeout = absl::InfiniteDuration()) = 0;

  // Stops the VM (reason kStopped unless it already stopped). Returns at
  // once; Wait() tells when every vCPU is out.
  virtual void Stop() = 0;

  // Queues bytes for the guest's console.read and raises the console-input
  // event if the guest routed it. Returns how many bytes were accepted (the
  // queue holds at most 64 KiB).
  virtual size_t PushConsoleInput(absl::string_view bytes) = 0;

  // Copies between guest memory and the host, for an embedder's own
  // devices. OutOfRange (nothing copied) unless [gpa, gpa + length) lies
  // in RAM or in one region MapMemory added.
  // The guest may be writing the same bytes concurrently.
  virtual absl::Status ReadGuestMemory(uint64_t gpa, void* dst,
                                       size_t length) const = 0;
  virtual absl::Status WriteGuestMemory(uint64_t gpa, const void* src,
                                        size_t length) = 0;

  // Adds guest-physical memory while the guest runs (or before it is
  // loaded: then it is in its boot memory map) and returns the region's
  // id. InvalidArgument for a bad spec (see MemoryRegionSpec),
  // ResourceExhausted past 64 regions. Waits for host threads that are
  // using guest memory (vCPUs serving hypercalls, I/O threads): not from
  // a callback (FailedPrecondition).
  virtual absl::StatusOr<uint32_t> MapMemory(const MemoryRegionSpec& spec) = 0;
  // Removes region `id` (one MapMemory returned). Once it returns, neither
  // the guest nor the library touches the region's memory. NotFound;
  // FailedPrecondition for the VM's own RAM, for a region holding a block
  // ring the library serves, and from a callback.
  virtual absl::Status UnmapMemory(uint32_t id) = 0;
  // Dirty-page logs, for live migration: region 0 is the RAM below 3 GiB,
  // region 1 (with more than 3 GiB) the RAM from 4 GiB, others as
  // MapMemory returned them. Start, then fetch (bit i of the bitmap: the
  // region's page i was written, by the guest or by the library, since
  // the previous fetch; the log is cleared), then stop. Not from a
  // callback.
  virtual absl::Status StartDirtyLog(uint32_t id) = 0;
  virtual absl::StatusOr<std::vector<uint64_t>> FetchDirtyLog(uint32_t id) = 0;
  virtual absl::Status StopDirtyLog(uint32_t id) = 0;

  // Adds a device, before the guest is loaded (FailedPrecondition after):
  // InvalidArgument for a window out of its range or overlapping another
  // device's, AlreadyExists for an id used twice; at most 16 devices. Not
  // from a callback (FailedPrecondition), nor BindDeviceDoorbell.
  virtual absl::Status AddDevice(DeviceSpec spec) = 0;
  // Makes the guest's writes of `size` bytes at `offset` into device
  // `id`'s window (only those of `value`, if set) signal `eventfd` without
  // a vCPU exit or a call to the device's write function (KVM_IOEVENTFD):
  // a doorbell for a device model's own I/O thread. `eventfd` stays the
  // embedder's and must stay open while the VM lives.
  virtual absl::Status BindDeviceDoorbell(uint32_t id, uint64_t offset,
                                          uint32_t size,
                                          std::optional<uint64_t> value,
                                          int eventfd) = 0;

  // Interrupt routes: an eventfd (the library's, nonblocking, close-on-
  // exec) whose every write raises `vector` (32..254) on vCPU `vcpu_id`
  // as an edge-triggered MSI, without a call into the library or the
  // hypervisor per interrupt (KVM: KVM_IRQFD with an MSI route), for an
  // embedder's device threads. Retarget moves it; Remove unbinds and
  // closes the fd (writes to a copy of it raise nothing). Level-triggered
  // routes are not offered: the ABI's events are edges acknowledged by
  // EOI (docs/abi.md 5.8), and KVM resamples only I/O APIC pins; a device
  // that stays asserted raises again when the guest acknowledges it
  // through the device.
  struct InterruptRoute {
    uint32_t id = 0;
    int eventfd = -1;  // owned by the VM until RemoveInterruptRoute
  };
  virtual absl::StatusOr<InterruptRoute> AddInterruptRoute(uint32_t vcpu_id,
                                                           uint8_t vector) = 0;
  virtual absl::Status RetargetInterruptRoute(uint32_t id, uint32_t vcpu_id,
                                              uint8_t vector) = 0;
  virtual absl::Status RemoveInterruptRoute(uint32_t id) = 0;

  // Event sources of the embedder's own (HVB_EVENT_SRC_VENDOR_FIRST ..
  // _LAST), which the guest routes, masks and unmasks with the event
  // service like the built-in ones (docs/abi.md 5.8). Add once each;
  // TriggerEvent (any thread, callbacks included) raises one event: as
  // routed, held while masked, dropped while unrouted.
  virtual absl::Status AddEventSource(uint32_t source) = 0;
  virtual absl::Status TriggerEvent(uint32_t source) = 0;

  // Attaches a debugger (hvbios/debug.h): one at a time, FailedPrecondition
  // while another is attached.
  virtual absl::StatusOr<std::unique_ptr<Debugger>> AttachDebugger() = 0;

  // The library's own view of guest RAM (lib/guest_memory.h).
  virtual const GuestMemory& memory() const = 0;
  virtual const VmOptions& options() const = 0;
};

}  // namespace hvbios

#endif  // HVBIOS_VM_H_
