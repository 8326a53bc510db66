// The KVM backend's vCPU (Documentation/virt/kvm/api.rst): entry state,
// the run loop's exits, hypercall completion through the sync regs, and
// the kick out of KVM_RUN.
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "absl/strings/str_format.h"
#include "backends/kvm/kvm_internal.h"
#include "backends/kvm/ports.h"
#include "lib/status_macros.h"

namespace hvbios::kvm {
namespace {

// Kicking a vCPU thread out of KVM_RUN.
// api.rst, "immediate_exit": a signal handler on the vCPU thread sets
// kvm_run->immediate_exit; a KVM_RUN in progress returns EINTR because a
// signal is pending, and one about to start returns EINTR at once. The
// handler touches only this thread-local (initial-exec: no allocation on
// first access inside a signal handler).
__attribute__((
    tls_model("initial-exec"))) thread_local kvm_run* tls_kick_target = nullptr;

void KickHandler(int) {
  kvm_run* run = tls_kick_target;
  if (run != nullptr)
    __atomic_store_n(&run->immediate_exit, 1, __ATOMIC_SEQ_CST);
}

class KvmVcpu final : public BackendVcpu {
 public:
  KvmVcpu(uint32_t id, UniqueFd fd, MappedRegion run_mapping, int kick_signal,
          const kvm_lapic_state& initial_lapic)
      : id_(id),
        fd_(std::move(fd)),
        run_mapping_(std::move(run_mapping)),
        run_(static_cast<kvm_run*>(run_mapping_.data())),
        kick_signal_(kick_signal),
        initial_lapic_(initial_lapic) {
    // Ask KVM to store the GPRs in kvm_run on every exit (api.rst,
    // KVM_CAP_SYNC_REGS): reading hypercall arguments costs no ioctl.
    run_->kvm_valid_regs = KVM_SYNC_X86_REGS;
  }

  absl::Status BindToCurrentThread() override {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, kick_signal_);
    if (int err = pthread_sigmask(SIG_UNBLOCK, &set, nullptr); err != 0) {
      return ErrnoStatus(err, "pthread_sigmask unblocking the kick signal");
    }
    tls_kick_target = run_;
    thread_ = pthread_self();
    bound_.store(true, std::memory_order_release);
    return absl::OkStatus();
  }

  absl::Status ResetInterruptState() override {
    // Loading the APIC state saved at creation clears IRR and ISR (api.rst,
    // KVM_SET_LAPIC), as INIT would (SDM Vol. 3A, 11.4.7.3).
    if (ioctl(fd_.get(), KVM_SET_LAPIC, &initial_lapic_) != 0) {
      return ErrnoStatus(errno, "KVM_SET_LAPIC (reset)");
    }
    return absl::OkStatus();
  }

  absl::Status SetEntryState(const LongModeEntry& e) override {
    // Drop register writes of an answered hypercall: a stopped vCPU that
    // restarts must begin at its new entry, not resume the old call.
    run_->kvm_dirty_regs = 0;
    // With the in-kernel irqchip every vCPU but the BSP waits for
    // INIT-SIPI (api.rst, KVM_SET_MP_STATE); we start it directly.
    kvm_mp_state mp_state = {KVM_MP_STATE_RUNNABLE};
    if (ioctl(fd_.get(), KVM_SET_MP_STATE, &mp_state) != 0) {
      return ErrnoStatus(errno, "KVM_SET_MP_STATE");
    }
    kvm_sregs sregs;
    if (ioctl(fd_.get(), KVM_GET_SREGS, &sregs) != 0) {
      return ErrnoStatus(errno, "KVM_GET_SREGS");
    }
    // Long mode with paging (SDM Vol. 3A, 9.8.5 "Initializing IA-32e
    // Mode"): flat 64-bit code segment, flat data segments.
    kvm_segment code = {};
    code.base = 0;
    code.limit = 0xffffffff;
    code.selector = e.code_selector;
    code.type = 0xb;  // execute/read, accessed
    code.present = 1;
    code.s = 1;
    code.l = 1;
    code.g = 1;
    kvm_segment data = code;
    data.selector = e.data_selector;
    data.type = 0x3;  // read/write, accessed
    data.l = 0;
    data.db = 1;
    sregs.cs = code;
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
    sregs.gdt.base = e.gdt_base;
    sregs.gdt.limit = e.gdt_limit;
    sregs.idt.base = 0;
    sregs.idt.limit = 0;  // no IDT: the guest installs its own
    sregs.cr3 = e.cr3;
    // CR0: PE, MP, ET, NE, WP (read-only pages hold at CPL 0), PG.
    sregs.cr0 = 0x80010033;
    // CR4: PAE, OSFXSR, OSXMMEXCPT (SSE usable per the boot protocol).
    sregs.cr4 = 0x620;
    // EFER: LME, LMA, NXE.
    sregs.efer = 0xd00;
    if (ioctl(fd_.get(), KVM_SET_SREGS, &sregs) != 0) {
      return ErrnoStatus(errno, "KVM_SET_SREGS (long-mode entry state)");
    }
    kvm_regs regs = {};
    regs.rip = e.rip;
    regs.rsp = e.rsp;
    regs.rdi = e.rdi;
    regs.rflags = 0x2;  // reserved bit 1; IF clear
    if (ioctl(fd_.get(), KVM_SET_REGS, &regs) != 0) {
      return ErrnoStatus(errno, "KVM_SET_REGS");
    }
    return debug_.single_step ? ApplyGuestDebug() : absl::OkStatus();
  }

  absl::StatusOr<VcpuExit> Run() override {
    VcpuExit exit = {};
    if (debug_.single_step && (run_->kvm_dirty_regs & KVM_SYNC_X86_REGS)) {
      RETURN_IF_ERROR(ApplyGuestDebug());
    }
    const int r = ioctl(fd_.get(), KVM_RUN, 0);
    if (r != 0) {
      if (errno == EINTR || errno == EAGAIN) {
        // Kicked (or interrupted): clear the request only now, after the
        // run returned, so a kick between the caller's flag check and
        // KVM_RUN is never lost.
        __atomic_store_n(&run_->immediate_exit, 0, __ATOMIC_SEQ_CST);
        exit.kind = VcpuExit::Kind::kCanceled;
        return exit;
      }
      return ErrnoStatus(errno, absl::StrFormat("KVM_RUN on vCPU %d", id_));
    }
    switch (run_->exit_reason) {
      case KVM_EXIT_IO: {
        const auto& io = run_->io;
        if (io.port == HVB_KVM_HYPERCALL_PORT &&
            io.direction == KVM_EXIT_IO_OUT && io.size == 1 && io.count == 1) {
          const kvm_regs& r = run_->s.regs.regs;
          exit.kind = VcpuExit::Kind::kHypercall;
          exit.hypercall = {r.rax, {r.rdi, r.rsi, r.rdx, r.rcx, r.r8, r.r9}};
          return exit;
        }
        if (io.port == HVB_KVM_NOTIFY_PORT && io.direction == KVM_EXIT_IO_OUT &&
            io.size == 4 && io.count == 1) {
          exit.kind = VcpuExit::Kind::kNotify;
          uint32_t queue;
          std::memcpy(&queue, reinterpret_cast<uint8_t*>(run_) + io.data_offset,
                      sizeof(queue));
          exit.address = queue;
          return exit;
        }
        exit.kind = VcpuExit::Kind::kIo;
        exit.address = io.port;
        exit.size = io.size;
        exit.is_write = io.direction == KVM_EXIT_IO_OUT;
        exit.count = io.count;
        exit.data = reinterpret_cast<uint8_t*>(run_) + io.data_offset;
        return exit;
      }
      case KVM_EXIT_MMIO:
        exit.kind = VcpuExit::Kind::kMmio;
        exit.address = run_->mmio.phys_addr;
        exit.size = run_->mmio.len;
        exit.is_write = run_->mmio.is_write;
        exit.count = 1;
        exit.data = run_->mmio.data;
        return exit;
      case KVM_EXIT_HLT:
        exit.kind = VcpuExit::Kind::kHalt;
        return exit;
      case KVM_EXIT_SHUTDOWN:
        exit.kind = VcpuExit::Kind::kShutdown;
        return exit;
      case KVM_EXIT_INTR:
        exit.kind = VcpuExit::Kind::kCanceled;
        return exit;
      case KVM_EXIT_DEBUG:
        exit.kind = VcpuExit::Kind::kDebug;
        exit.address = run_->debug.arch.pc;
        exit.code = run_->debug.arch.exception;
        return exit;
      case KVM_EXIT_INTERNAL_ERROR:
        exit.kind = VcpuExit::Kind::kInternalError;
        exit.code = run_->internal.suberror;
        return exit;
      case KVM_EXIT_FAIL_ENTRY:
        exit.kind = VcpuExit::Kind::kFailEntry;
        exit.code = run_->fail_entry.hardware_entry_failure_reason;
        return exit;
      default:
        exit.kind = VcpuExit::Kind::kOther;
        exit.code = run_->exit_reason;
        return exit;
    }
  }

  void CompleteHypercall(int64_t status, uint64_t value) override {
    // KVM re-executes nothing: the `out` completes on the next KVM_RUN,
    // which first loads these registers (sync_regs precedes the PIO
    // completion that advances rip past the instruction).
    run_->s.regs.regs.rax = static_cast<uint64_t>(status);
    run_->s.regs.regs.rdx = value;
    run_->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
  }

  void Kick() override {
    // Request the exit ourselves first: a KVM_RUN about to start returns at
    // once. The signal then interrupts one already in progress (api.rst,
    // immediate_exit). Relying on the handler alone can lose a kick: a
    // handler may run late (ThreadSanitizer defers them to its next safe
    // point), after the thread has entered KVM_RUN with a spinning guest.
    // The vCPU clears the flag only after a run returns and re-checks its
    // mailbox afterwards, so the clear cannot lose a request either.
    __atomic_store_n(&run_->immediate_exit, 1, __ATOMIC_SEQ_CST);
    if (bound_.load(std::memory_order_acquire)) {
      pthread_kill(thread_, kick_signal_);
    }
  }

  absl::StatusOr<uint64_t> ReadGuestTsc() override {
    constexpr uint32_t kTscMsr = 0x10;  // IA32_TIME_STAMP_COUNTER
    KvmArray<kvm_msr_entry> msrs(1);
    msrs[0].index = kTscMsr;
    if (ioctl(fd_.get(), kKvmGetMsrs, msrs.data()) != 1) {
      return ErrnoStatus(errno, "KVM_GET_MSRS (IA32_TSC)");
    }
    return msrs[0].data;
  }

  absl::StatusOr<Registers> GetRegisters() override {
    kvm_regs r;
    kvm_sregs s;
    if (ioctl(fd_.get(), KVM_GET_REGS, &r) != 0) {
      return ErrnoStatus(errno, "KVM_GET_REGS");
    }
    // Results written into the sync regs but not yet loaded by a KVM_RUN
    // are part of the vCPU's state as the guest will see it.
    if (run_->kvm_dirty_regs & KVM_SYNC_X86_REGS) r = run_->s.regs.regs;
    if (ioctl(fd_.get(), KVM_GET_SREGS, &s) != 0) {
      return ErrnoStatus(errno, "KVM_GET_SREGS");
    }
    return Registers{r.rax,         r.rbx,         r.rcx,         r.rdx,
                     r.rsi,         r.rdi,         r.rsp,         r.rbp,
                     r.r8,          r.r9,          r.r10,         r.r11,
                     r.r12,         r.r13,         r.r14,         r.r15,
                     r.rip,         r.rflags,      s.cr0,         s.cr2,
                     s.cr3,         s.cr4,         s.efer,        s.cs.selector,
                     s.ss.selector, s.ds.selector, s.es.selector, s.fs.selector,
                     s.gs.selector, s.fs.base,     s.gs.base};
  }

  absl::Status SetGuestDebug(const GuestDebug& debug) override {
    // api.rst, KVM_SET_GUEST_DEBUG: with SINGLESTEP, KVM keeps TF set for
    // the guest (hidden from KVM_GET_REGS) and exits with KVM_EXIT_DEBUG
    // after each instruction; with USE_HW_BP, the debug registers are
    // ours while the guest runs.
    debug_ = debug;
    return ApplyGuestDebug();
  }

  // KVM keeps the guest's TF set for single-stepping only while rip is
  // where KVM_SET_GUEST_DEBUG last saw it: writing rflags at another rip
  // (KVM_SET_REGS, or the sync regs of an answered hypercall, loaded at
  // the `out` instruction) drops it (x86.c, __kvm_set_rflags), and the
  // guest would run free. So the setting is made again after every
  // register write while stepping, as QEMU does after putting registers.
  absl::Status ApplyGuestDebug() {
    kvm_guest_debug control = GuestDebugControl(debug_);
    if (ioctl(fd_.get(), KVM_SET_GUEST_DEBUG, &control) != 0) {
      return ErrnoStatus(errno, "KVM_SET_GUEST_DEBUG");
    }
    return absl::OkStatus();
  }

  absl::Status SetRegisters(const Registers& in) override {
    kvm_regs r = {in.rax, in.rbx, in.rcx, in.rdx, in.rsi, in.rdi,
                  in.rsp, in.rbp, in.r8,  in.r9,  in.r10, in.r11,
                  in.r12, in.r13, in.r14, in.r15, in.rip, in.rflags};
    // An answered hypercall's registers wait in the sync area for the next
    // KVM_RUN, which would load them over KVM_SET_REGS: replace them there.
    // KVM completes the pending `out` only if rip is unchanged (api.rst,
    // KVM_EXIT_IO; x86 complete_fast_pio_out), so a new rip takes effect.
    if (run_->kvm_dirty_regs & KVM_SYNC_X86_REGS) {
      run_->s.regs.regs = r;
      return absl::OkStatus();  // Run() re-arms single-stepping
    }
    if (ioctl(fd_.get(), KVM_SET_REGS, &r) != 0) {
      return ErrnoStatus(errno, "KVM_SET_REGS");
    }
    return debug_.single_step ? ApplyGuestDebug() : absl::OkStatus();
  }

 private:
  const uint32_t id_;
  const UniqueFd fd_;
  const MappedRegion run_mapping_;
  kvm_run* const run_;
  const int kick_signal_;
  const kvm_lapic_state initial_lapic_;  // as CreateVcpu left it
  GuestDebug debug_;  // SetGuestDebug's, re-applied after register writes
  std::atomic<bool> bound_{false};
  pthread_t thread_{};  // written once before bound_ is set
};

}  // namespace

absl::Status InstallKickHandler(int signo) {
  static std::mutex mu;
  static bool installed[_NSIG] = {};  // guarded by mu
  if (signo <= 0 || signo >= _NSIG) {
    return absl::InvalidArgumentError(
        absl::StrFormat("invalid kick signal %d", signo));
  }
  std::lock_guard<std::mutex> lock(mu);
  if (installed[signo]) return absl::OkStatus();
  struct sigaction action = {};
  action.sa_handler = KickHandler;
  action.sa_flags = SA_RESTART;  // other syscalls on vCPU threads restart
  sigemptyset(&action.sa_mask);
  if (sigaction(signo, &action, nullptr) != 0) {
    return ErrnoStatus(errno, "sigaction for the vCPU kick signal");
  }
  installed[signo] = true;
  return absl::OkStatus();
}

std::unique_ptr<BackendVcpu> MakeKvmVcpu(uint32_t id, UniqueFd fd,
                                         MappedRegion run_mapping,
                                         int kick_signal,
                                         const kvm_lapic_state& initial_lapic) {
  return std::make_unique<KvmVcpu>(id, std::move(fd), std::move(run_mapping),
                                   kick_signal, initial_lapic);
}

}  // namespace hvbios::kvm
