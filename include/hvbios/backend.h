// The backend interface: what the backend-neutral core (lib/) needs from a
// hypervisor. The KVM implementation lives in backends/kvm/, a scripted fake
// for unit tests in tests/fake_backend.h. The core never includes
// <linux/kvm.h>; everything hypervisor-specific stays behind this interface.
//
// Threading: a BackendVm may be called from any thread. A BackendVcpu is
// driven by one thread (the one that called BindToCurrentThread()); only
// Kick() may be called from other threads, and Get/SetRegisters() once
// that thread no longer runs the vCPU.
#ifndef HVBIOS_BACKEND_H_
#define HVBIOS_BACKEND_H_

#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace hvbios {

// General-purpose, segment and control registers, for diagnostics,
// debuggers and entry state.
struct Registers {
  uint64_t rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
  uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
  uint64_t rip, rflags;
  uint64_t cr0, cr2, cr3, cr4, efer;
  uint16_t cs, ss;
  uint16_t ds, es, fs, gs;
  uint64_t fs_base, gs_base;
};

// How a debugger watches a vCPU (KVM: KVM_SET_GUEST_DEBUG); the guest's own
// debug registers and TF are untouched.
struct GuestDebug {
  // A kDebug exit after every instruction the guest completes.
  bool single_step = false;
  // Instruction breakpoints in the debug registers (at most
  // BackendVm::hardware_breakpoints()): a kDebug exit before the
  // instruction at each runs. Entering with rflags.RF set skips them for
  // one instruction (SDM Vol. 3A, 18.3.1.1), to go on from one.
  uint32_t breakpoint_count = 0;
  uint64_t breakpoints[4] = {};

  bool operator==(const GuestDebug&) const = default;
};

// The 64-bit entry state the core asks a vCPU to start in (boot protocol,
// docs/abi.md): long mode with paging through `cr3`, a flat GDT at
// `gdt_base`, interrupts off.
struct LongModeEntry {
  uint64_t cr3;
  uint64_t gdt_base;
  uint16_t gdt_limit;
  uint16_t code_selector;
  uint16_t data_selector;
  uint64_t rip;
  uint64_t rsp;
  uint64_t rdi;
};

// A hypercall as the guest made it through the hypercall page.
struct HypercallArgs {
  uint64_t fid;     // rax
  uint64_t arg[6];  // rdi, rsi, rdx, rcx, r8, r9
};

// Why Run() returned. Everything but kHypercall and kCanceled means the
// guest did something the platform does not serve.
struct VcpuExit {
  enum class Kind {
    kHypercall,      // `hypercall` is valid; answer with CompleteHypercall().
    kCanceled,       // Kick() or a signal interrupted the run.
    kHalt,           // hlt with no in-kernel interrupt controller.
    kShutdown,       // triple fault (SDM Vol. 3A, 6.15 "double fault").
    kIo,             // port access nobody serves: `address` = port.
    kMmio,           // access to guest-physical address without RAM.
    kInternalError,  // the hypervisor could not run or emulate an instruction.
    kFailEntry,      // the hypervisor refused to enter the guest.
    kOther,          // any other exit; `code` holds the backend's number.
    kNotify,         // the guest rang queue `address`'s doorbell and no
                     // bound eventfd took it (see BindDoorbell).
    kDebug,          // a debug event SetGuestDebug asked for: `address` =
                     // rip of the next instruction to run.
  };
  Kind kind;
  HypercallArgs hypercall;
  uint64_t address;  // kIo: port; kMmio: guest-physical address.
  uint32_t size;     // kIo / kMmio: access size in bytes.
  bool is_write;     // kIo / kMmio.
  uint64_t code;     // kInternalError / kFailEntry / kOther: backend code.
  // kIo / kMmio: `count` accesses of `size` bytes each (more than one only
  // for a string port instruction, rep ins/outs), their bytes at `data`:
  // a write's to read, a read's for the core to fill before the next Run(),
  // which completes the access with them. Owned by the backend vCPU.
  uint32_t count;
  uint8_t* data;
};

class BackendVcpu {
 public:
  virtual ~BackendVcpu() = default;

  // Binds the vCPU to the calling thread: later Run() calls and kicks go to
  // it. Call once, on the thread that will call Run().
  virtual absl::Status BindToCurrentThread() = 0;

  // Puts the vCPU into `entry`'s state, runnable, dropping whatever it was
  // doing (a pending hypercall completion included). Bound thread, between
  // runs: used for the first start and for restarts after vcpu.stop.
  virtual absl::Status SetEntryState(const LongModeEntry& entry) = 0;

  // Discards every interrupt pending on or in service at the vCPU's local
  // interrupt controller, leaving it as it was at creation, so that a
  // (re)started vCPU begins afresh. Any thread, while the vCPU is not
  // running (never started, or parked after vcpu.stop).
  virtual absl::Status ResetInterruptState() = 0;

  // Runs the guest until the next exit. Bound thread only. Returns an error
  // only if the hypervisor itself failed (not for guest misbehaviour, which
  // is an exit kind). Allocates nothing.
  virtual absl::StatusOr<VcpuExit> Run() = 0;

  // Answers the hypercall of the last kHypercall exit: the guest sees
  // rax = status, rdx = value when it resumes. Bound thread only.
  virtual void CompleteHypercall(int64_t status, uint64_t value) = 0;

  // Any thread, async-signal-safe in spirit (never blocks): makes the
  // current Run() return kCanceled promptly, or the next one if the bound
  // thread is not in the guest now. A kick is never lost.
  virtual void Kick() = 0;

  // The vCPU's time-stamp counter (what rdtsc returns in the guest). Any
  // thread while the vCPU is not running (e.g. before its first Run()).
  virtual absl::StatusOr<uint64_t> ReadGuestTsc() = 0;

  // Reads the registers. The bound thread, or any thread once the bound
  // thread stopped calling Run().
  virtual absl::StatusOr<Registers> GetRegisters() = 0;

  // Makes later Run()s report the debug events `debug` asks for as kDebug
  // exits; replaces the previous setting. Bound thread, between runs.
  virtual absl::Status SetGuestDebug(const GuestDebug& debug) = 0;

  // Writes the general-purpose registers, rip and rflags (the control
  // registers, efer and the segments in `regs` are ignored). A hypercall
  // answered but not yet seen by the guest is overridden. Same threads as
  // GetRegisters().
  virtual absl::Status SetRegisters(const Registers& regs) = 0;
};

class BackendVm {
 public:
  virtual ~BackendVm() = default;

  // Makes [host, host + size) guest memory at guest-physical `gpa`, in
  // `slot` (a free one, or the same slot with the same range to change
  // `log_dirty`). `host` stays owned by the caller and mapped until the
  // slot is unmapped or the BackendVm is gone. A `read_only` slot's guest
  // writes arrive as kMmio exits (KVM: KVM_MEM_READONLY).
  struct MemoryFlags {
    bool read_only = false;
    bool log_dirty = false;  // track the guest's writes (GetDirtyLog)
  };
  virtual absl::Status MapMemory(uint32_t slot, uint64_t gpa, void* host,
                                 uint64_t size, MemoryFlags flags) = 0;
  absl::Status MapMemory(uint32_t slot, uint64_t gpa, void* host,
                         uint64_t size) {
    return MapMemory(slot, gpa, host, size, MemoryFlags{});
  }
  // Removes `slot`: once this returns, no vCPU reads or writes its memory
  // (KVM synchronises with running vCPUs itself; api.rst,
  // KVM_SET_USER_MEMORY_REGION).
  virtual absl::Status UnmapMemory(uint32_t slot) = 0;
  // ORs the pages of `slot` the guest wrote since the last call into
  // `bitmap` (bit i: page i of the slot) and clears the log. The slot
  // must log dirty pages.
  virtual absl::Status GetDirtyLog(uint32_t slot,
                                   absl::Span<uint64_t> bitmap) = 0;

  // Creates vCPU `id`. Each id at most once.
  virtual absl::StatusOr<std::unique_ptr<BackendVcpu>> CreateVcpu(
      uint32_t id) = 0;

  // Fills the hypercall page (HVB_HCPAGE_SIZE bytes) with this backend's
  // entry code at the offsets docs/abi.md fixes.
  virtual void WriteHypercallPage(absl::Span<uint8_t> page) const = 0;

  // Raises interrupt `vector` (32..255) on vCPU `vcpu_id`'s local APIC as
  // an edge-triggered fixed MSI. Any thread. The vCPU must exist.
  virtual absl::Status RaiseInterrupt(uint32_t vcpu_id, uint8_t vector) = 0;

  // Makes writes to `eventfd` raise `vector` on vCPU `vcpu_id` without a
  // call into the hypervisor per event (KVM: an MSI route plus KVM_IRQFD).
  // Binding the same eventfd again moves it to the new target. `eventfd`
  // stays owned by the caller and open while the BackendVm lives.
  virtual absl::Status BindInterruptFd(int eventfd, uint32_t vcpu_id,
                                       uint8_t vector) = 0;
  // Undoes BindInterruptFd: writes to `eventfd` raise nothing from now on.
  virtual absl::Status UnbindInterruptFd(int eventfd) = 0;

  // Makes the guest's doorbell for `queue` (the hypercall page's notify
  // entry) signal `eventfd` directly, without a vCPU exit where the
  // hypervisor can (KVM: KVM_IOEVENTFD). Doorbells it cannot bind arrive
  // as kNotify exits. `eventfd` stays owned by the caller and open while
  // the BackendVm lives.
  virtual absl::Status BindDoorbell(uint32_t queue, int eventfd) = 0;

  // Makes guest writes of `length` bytes at port / guest-physical
  // `address` (equal to `datamatch`, if set) signal `eventfd` instead of
  // exiting (KVM: KVM_IOEVENTFD). `eventfd` stays owned by the caller and
  // open while the BackendVm lives.
  struct IoEventFd {
    bool pio = false;
    uint64_t address = 0;
    uint32_t length = 0;  // 1, 2, 4 or 8
    bool match_data = false;
    uint64_t datamatch = 0;
    int eventfd = -1;
  };
  virtual absl::Status BindIoEventFd(const IoEventFd& binding) = 0;

  // HVB_IMPL_* reported by base.get_impl_id.
  virtual uint32_t implementation_id() const = 0;

  // Guest TSC frequency in Hz, 0 if unknown.
  virtual uint64_t tsc_frequency_hz() const = 0;

  // How many GuestDebug::breakpoints this hypervisor honours: 0 where it
  // cannot (then debuggers find breakpoints by single-stepping). Any
  // thread; may take a moment the first time (KVM: a probe VM).
  virtual uint32_t hardware_breakpoints() { return 0; }
};

}  // namespace hvbios

#endif  // HVBIOS_BACKEND_H_
