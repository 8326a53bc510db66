#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include "absl/base/call_once.h"
#include "absl/strings/str_format.h"
#include "hvbios/abi/hypercall.h"
#include "hvbios/abi/status.h"
#include "hvbios/kvm.h"
#include "lib/status_macros.h"
#include "lib/unique_fd.h"

namespace hvbios::kvm {
namespace {

// The port the hypercall page's call entry writes (`out imm8, al`): this
// backend's business, not ABI. Clear of the PIC (0x20/0x21, 0xa0/0xa1) and
// ELCR (0x4d0/0x4d1) ports the in-kernel irqchip claims.
constexpr uint16_t kHypercallPort = 0xe8;
// The notify entry writes the queue id, 4 bytes, to this port; each
// queue's eventfd is bound to it with a data match (KVM_IOEVENTFD).
constexpr uint16_t kNotifyPort = 0xea;

// ---- Structs the C++ build of the KVM header gets wrong ------------------
// linux-libc-dev 6.1 declares flexible arrays with __DECLARE_FLEX_ARRAY,
// which wraps them next to an empty struct: 0 bytes in C, 1 byte in C++. In
// C++ kvm_cpuid2::entries lands at offset 12 instead of 8 and
// sizeof(kvm_cpuid2), which KVM_GET_SUPPORTED_CPUID and KVM_SET_CPUID2
// encode, is 12 instead of 8: the kernel rejects them with EINVAL. Use the
// C layout: an 8-byte header followed by the entries.
// The same holds for kvm_msrs and kvm_irq_routing: all three are a count,
// a 32-bit field that must be 0, then the entries.
struct KvmArrayHeader {
  uint32_t count;
  uint32_t reserved;
};
static_assert(sizeof(KvmArrayHeader) == 8);
constexpr unsigned long kKvmGetSupportedCpuid =
    _IOWR(KVMIO, 0x05, KvmArrayHeader);
constexpr unsigned long kKvmSetCpuid2 = _IOW(KVMIO, 0x90, KvmArrayHeader);
constexpr unsigned long kKvmGetMsrs = _IOWR(KVMIO, 0x88, KvmArrayHeader);
constexpr unsigned long kKvmSetMsrs = _IOW(KVMIO, 0x89, KvmArrayHeader);
constexpr unsigned long kKvmSetGsiRouting = _IOW(KVMIO, 0x6a, KvmArrayHeader);
// The values the C header produces.
static_assert(kKvmGetSupportedCpuid == 0xc008ae05);
static_assert(kKvmSetCpuid2 == 0x4008ae90);
static_assert(kKvmGetMsrs == 0xc008ae88);
static_assert(kKvmSetMsrs == 0x4008ae89);
static_assert(kKvmSetGsiRouting == 0x4008ae6a);

// A kvm_cpuid2 / kvm_msrs / kvm_irq_routing in the C layout.
template <typename Entry>
class KvmArray {
 public:
  explicit KvmArray(uint32_t count)
      : bytes_(sizeof(KvmArrayHeader) + count * sizeof(Entry)) {
    header()->count = count;
  }
  // The kernel may lower the count (KVM_GET_SUPPORTED_CPUID).
  uint32_t count() const {
    return reinterpret_cast<const KvmArrayHeader*>(bytes_.data())->count;
  }
  Entry& operator[](size_t i) {
    return reinterpret_cast<Entry*>(bytes_.data() + sizeof(KvmArrayHeader))[i];
  }
  void* data() { return bytes_.data(); }
  // Drops the space of entries past count().
  void Shrink() {
    bytes_.resize(sizeof(KvmArrayHeader) + count() * sizeof(Entry));
  }

 private:
  KvmArrayHeader* header() {
    return reinterpret_cast<KvmArrayHeader*>(bytes_.data());
  }
  std::vector<uint8_t> bytes_;  // new[] alignment suits every Entry here
};
using CpuidTable = KvmArray<kvm_cpuid_entry2>;

// The MSI that raises `vector` on the APIC whose id is `vcpu_id`: fixed,
// edge-triggered, physical destination (SDM Vol. 3A, 11.11).
void FillMsi(uint32_t vcpu_id, uint8_t vector, uint32_t* address_lo,
             uint32_t* data) {
  *address_lo = 0xfee00000u | (vcpu_id << 12);
  *data = vector;
}

// ---- Kicking a vCPU thread out of KVM_RUN ----------------------------------
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

// ---- Hypercall page
// -----------------------------------------------------------

void FillHypercallPage(absl::Span<uint8_t> page) {
  // int3 everywhere else: a stray jump into the page faults visibly.
  std::memset(page.data(), 0xcc, page.size());
  // call: out kHypercallPort, al; ret. The exit hands rax..r9 to the VMM
  // through the sync regs; it writes rax and rdx back before re-entry.
  const uint8_t call[] = {0xe6, static_cast<uint8_t>(kHypercallPort), 0xc3};
  std::memcpy(page.data() + HVB_HCPAGE_CALL, call, sizeof(call));
  // eoi: write 0 to the x2APIC EOI MSR (0x80b), which the in-kernel APIC
  // handles without an exit. mov (not xor) keeps rflags intact.
  const uint8_t eoi[] = {
      0x50, 0x51, 0x52,              // push rax; push rcx; push rdx
      0xb9, 0x0b, 0x08, 0x00, 0x00,  // mov ecx, 0x80b
      0xb8, 0x00, 0x00, 0x00, 0x00,  // mov eax, 0
      0xba, 0x00, 0x00, 0x00, 0x00,  // mov edx, 0
      0x0f, 0x30,                    // wrmsr
      0x5a, 0x59, 0x58,              // pop rdx; pop rcx; pop rax
      0xc3,                          // ret
  };
  std::memcpy(page.data() + HVB_HCPAGE_EOI, eoi, sizeof(eoi));
  // halt: sti; hlt; ret. The STI shadow covers the hlt, so an event that
  // is already pending wakes it at once: no lost wake-up. With the
  // in-kernel irqchip the halt blocks inside KVM_RUN, no exit.
  const uint8_t halt[] = {0xfb, 0xf4, 0xc3};
  std::memcpy(page.data() + HVB_HCPAGE_HALT, halt, sizeof(halt));
  // notify: push rax; mov eax, edi; out kNotifyPort, eax; pop rax; ret.
  // A bound ioeventfd completes the write in the kernel: no exit.
  const uint8_t notify[] = {
      0x50, 0x89, 0xf8, 0xe7, static_cast<uint8_t>(kNotifyPort), 0x58, 0xc3};
  std::memcpy(page.data() + HVB_HCPAGE_NOTIFY, notify, sizeof(notify));
}

// ---- vCPU
// ----------------------------------------------------------------------

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
    return absl::OkStatus();
  }

  absl::StatusOr<VcpuExit> Run() override {
    VcpuExit exit = {};
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
        if (io.port == kHypercallPort && io.direction == KVM_EXIT_IO_OUT &&
            io.size == 1 && io.count == 1) {
          const kvm_regs& r = run_->s.regs.regs;
          exit.kind = VcpuExit::Kind::kHypercall;
          exit.hypercall = {r.rax, {r.rdi, r.rsi, r.rdx, r.rcx, r.r8, r.r9}};
          return exit;
        }
        if (io.port == kNotifyPort && io.direction == KVM_EXIT_IO_OUT &&
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
        return exit;
      }
      case KVM_EXIT_MMIO:
        exit.kind = VcpuExit::Kind::kMmio;
        exit.address = run_->mmio.phys_addr;
        exit.size = run_->mmio.len;
        exit.is_write = run_->mmio.is_write;
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
    return Registers{r.rax, r.rbx, r.rcx,    r.rdx,         r.rsi,
                     r.rdi, r.rsp, r.rbp,    r.r8,          r.r9,
                     r.r10, r.r11, r.r12,    r.r13,         r.r14,
                     r.r15, r.rip, r.rflags, s.cr0,         s.cr2,
                     s.cr3, s.cr4, s.efer,   s.cs.selector, s.ss.selector};
  }

 private:
  const uint32_t id_;
  const UniqueFd fd_;
  const MappedRegion run_mapping_;
  kvm_run* const run_;
  const int kick_signal_;
  const kvm_lapic_state initial_lapic_;  // as CreateVcpu left it
  std::atomic<bool> bound_{false};
  pthread_t thread_{};  // written once before bound_ is set
};

// ---- VM
// ------------------------------------------------------------------------

class KvmVm final : public BackendVm {
 public:
  static absl::StatusOr<std::unique_ptr<KvmVm>> Create(
      const KvmOptions& options) {
    const int kick_signal =
        options.kick_signal != 0 ? options.kick_signal : SIGRTMIN;
    RETURN_IF_ERROR(InstallKickHandler(kick_signal));

    UniqueFd kvm(open(options.device.c_str(), O_RDWR | O_CLOEXEC));
    if (!kvm.valid()) {
      return ErrnoStatus(errno, absl::StrFormat("open %s", options.device));
    }
    const int api = ioctl(kvm.get(), KVM_GET_API_VERSION, 0);
    if (api != KVM_API_VERSION) {
      return absl::FailedPreconditionError(
          absl::StrFormat("KVM API version %d, need %d", api, KVM_API_VERSION));
    }
    const int sync = ioctl(kvm.get(), KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS);
    if (sync <= 0 || (sync & KVM_SYNC_X86_REGS) == 0) {
      return absl::FailedPreconditionError(
          "KVM lacks KVM_CAP_SYNC_REGS for x86 registers");
    }
    if (ioctl(kvm.get(), KVM_CHECK_EXTENSION, KVM_CAP_IMMEDIATE_EXIT) <= 0) {
      return absl::FailedPreconditionError("KVM lacks KVM_CAP_IMMEDIATE_EXIT");
    }
    const int mmap_size = ioctl(kvm.get(), KVM_GET_VCPU_MMAP_SIZE, 0);
    if (mmap_size < static_cast<int>(sizeof(kvm_run))) {
      return ErrnoStatus(errno, "KVM_GET_VCPU_MMAP_SIZE");
    }
    ASSIGN_OR_RETURN(CpuidTable cpuid, SupportedCpuid(kvm.get()));

    UniqueFd vm(ioctl(kvm.get(), KVM_CREATE_VM, 0));
    if (!vm.valid()) return ErrnoStatus(errno, "KVM_CREATE_VM");
    // The in-kernel local APICs deliver events; it must exist before any
    // vCPU (api.rst, KVM_CREATE_IRQCHIP). It also claims the PIC ports.
    if (ioctl(vm.get(), KVM_CREATE_IRQCHIP, 0) != 0) {
      return ErrnoStatus(errno, "KVM_CREATE_IRQCHIP");
    }
    // Intel VMX needs a TSS area for real-mode emulation (api.rst,
    // KVM_SET_TSS_ADDR); put it in the hole below 4 GiB where no RAM is.
    // Other implementations may not need it, so a failure is not fatal.
    (void)ioctl(vm.get(), KVM_SET_TSS_ADDR, 0xfffbd000ul);
    // KVM_GET_TSC_KHZ on the VM (KVM_CAP_VM_TSC_CONTROL); 0 = unknown.
    const int tsc_khz = ioctl(vm.get(), KVM_GET_TSC_KHZ, 0);
    return std::unique_ptr<KvmVm>(
        new KvmVm(std::move(kvm), std::move(vm), mmap_size, std::move(cpuid),
                  tsc_khz > 0 ? uint64_t{1000} * tsc_khz : 0, kick_signal));
  }

  absl::Status MapMemory(uint32_t slot, uint64_t gpa, void* host,
                         uint64_t size) override {
    kvm_userspace_memory_region region = {};
    region.slot = slot;
    region.guest_phys_addr = gpa;
    region.memory_size = size;
    region.userspace_addr = reinterpret_cast<uint64_t>(host);
    if (ioctl(vm_.get(), KVM_SET_USER_MEMORY_REGION, &region) != 0) {
      return ErrnoStatus(errno, "KVM_SET_USER_MEMORY_REGION");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<BackendVcpu>> CreateVcpu(
      uint32_t id) override {
    UniqueFd fd(ioctl(vm_.get(), KVM_CREATE_VCPU, id));
    if (!fd.valid()) {
      return ErrnoStatus(errno, absl::StrFormat("KVM_CREATE_VCPU %d", id));
    }
    void* run = mmap(nullptr, vcpu_mmap_size_, PROT_READ | PROT_WRITE,
                     MAP_SHARED, fd.get(), 0);
    if (run == MAP_FAILED) return ErrnoStatus(errno, "mmap of kvm_run");
    MappedRegion run_mapping(run, vcpu_mmap_size_);
    RETURN_IF_ERROR(SetCpuid(fd.get(), id));
    ASSIGN_OR_RETURN(const kvm_lapic_state lapic, EnableX2Apic(fd.get(), id));
    return std::make_unique<KvmVcpu>(id, std::move(fd), std::move(run_mapping),
                                     kick_signal_, lapic);
  }

  absl::Status RaiseInterrupt(uint32_t vcpu_id, uint8_t vector) override {
    // A fixed, edge-triggered MSI in physical destination mode to the APIC
    // whose id is the vCPU id (SDM Vol. 3A, 11.11 "Message Signalled
    // Interrupts").
    kvm_msi msi = {};
    FillMsi(vcpu_id, vector, &msi.address_lo, &msi.data);
    if (ioctl(vm_.get(), KVM_SIGNAL_MSI, &msi) < 0) {
      return ErrnoStatus(errno, "KVM_SIGNAL_MSI");
    }
    return absl::OkStatus();
  }

  absl::Status BindInterruptFd(int eventfd, uint32_t vcpu_id,
                               uint8_t vector) override {
    std::lock_guard<std::mutex> lock(routes_mu_);
    auto [it, is_new] = gsi_of_fd_.try_emplace(eventfd, next_gsi_);
    if (is_new) ++next_gsi_;
    kvm_irq_routing_entry& route = msi_routes_[it->second];
    route = {};
    route.gsi = it->second;
    route.type = KVM_IRQ_ROUTING_MSI;
    FillMsi(vcpu_id, vector, &route.u.msi.address_lo, &route.u.msi.data);
    // The table replaces the whole routing (api.rst, KVM_SET_GSI_ROUTING);
    // nothing here uses the default irqchip pin routes.
    KvmArray<kvm_irq_routing_entry> table(
        static_cast<uint32_t>(msi_routes_.size()));
    size_t i = 0;
    for (const auto& [gsi, entry] : msi_routes_) table[i++] = entry;
    if (ioctl(vm_.get(), kKvmSetGsiRouting, table.data()) != 0) {
      return ErrnoStatus(errno, "KVM_SET_GSI_ROUTING");
    }
    if (is_new) {
      kvm_irqfd irqfd = {};
      irqfd.fd = static_cast<uint32_t>(eventfd);
      irqfd.gsi = it->second;
      if (ioctl(vm_.get(), KVM_IRQFD, &irqfd) != 0) {
        return ErrnoStatus(errno, "KVM_IRQFD");
      }
    }
    return absl::OkStatus();
  }

  absl::Status BindDoorbell(uint32_t queue, int eventfd) override {
    kvm_ioeventfd ioeventfd = {};
    ioeventfd.datamatch = queue;
    ioeventfd.addr = kNotifyPort;
    ioeventfd.len = 4;
    ioeventfd.fd = eventfd;
    ioeventfd.flags = KVM_IOEVENTFD_FLAG_PIO | KVM_IOEVENTFD_FLAG_DATAMATCH;
    if (ioctl(vm_.get(), KVM_IOEVENTFD, &ioeventfd) != 0) {
      return ErrnoStatus(errno, "KVM_IOEVENTFD");
    }
    return absl::OkStatus();
  }

  void WriteHypercallPage(absl::Span<uint8_t> page) const override {
    FillHypercallPage(page);
  }
  uint32_t implementation_id() const override { return HVB_IMPL_HVBIOS_KVM; }
  uint64_t tsc_frequency_hz() const override { return tsc_hz_; }

 private:
  KvmVm(UniqueFd kvm, UniqueFd vm, int vcpu_mmap_size, CpuidTable cpuid,
        uint64_t tsc_hz, int kick_signal)
      : kvm_(std::move(kvm)),
        vm_(std::move(vm)),
        vcpu_mmap_size_(vcpu_mmap_size),
        cpuid_(std::move(cpuid)),
        tsc_hz_(tsc_hz),
        kick_signal_(kick_signal) {}

  // KVM_GET_SUPPORTED_CPUID, with the table grown on E2BIG.
  static absl::StatusOr<CpuidTable> SupportedCpuid(int kvm_fd) {
    for (uint32_t capacity = 64; capacity <= 4096; capacity *= 2) {
      CpuidTable table(capacity);
      if (ioctl(kvm_fd, kKvmGetSupportedCpuid, table.data()) == 0) {
        table.Shrink();
        return table;
      }
      if (errno != E2BIG) {
        return ErrnoStatus(errno, "KVM_GET_SUPPORTED_CPUID");
      }
    }
    return absl::InternalError("KVM_GET_SUPPORTED_CPUID: too many entries");
  }

  // The supported CPUID with this vCPU's APIC id filled in (leaf 1 EBX
  // bits 31..24, leaves 0xb/0x1f EDX), as a guest expects to find it.
  absl::Status SetCpuid(int vcpu_fd, uint32_t id) const {
    CpuidTable table = cpuid_;
    for (uint32_t i = 0; i < table.count(); ++i) {
      kvm_cpuid_entry2& e = table[i];
      if (e.function == 1) e.ebx = (e.ebx & 0x00ffffff) | (id << 24);
      if (e.function == 0xb || e.function == 0x1f) e.edx = id;
    }
    if (ioctl(vcpu_fd, kKvmSetCpuid2, table.data()) != 0) {
      return ErrnoStatus(errno, "KVM_SET_CPUID2");
    }
    return absl::OkStatus();
  }

  // Puts the vCPU's local APIC in x2APIC mode, software-enabled, so that
  // the EOI entry (an x2APIC MSR write) works and events are accepted
  // without the guest ever touching the APIC (docs/abi.md, section 3).
  static absl::StatusOr<kvm_lapic_state> EnableX2Apic(int vcpu_fd,
                                                      uint32_t id) {
    constexpr uint32_t kApicBaseMsr = 0x1b;
    constexpr uint64_t kApicBase = 0xfee00000;
    constexpr uint64_t kApicBaseBsp = 1 << 8, kApicBaseExtd = 1 << 10,
                       kApicBaseEnable = 1 << 11;
    KvmArray<kvm_msr_entry> msrs(1);
    msrs[0].index = kApicBaseMsr;
    msrs[0].data = kApicBase | kApicBaseEnable | kApicBaseExtd |
                   (id == 0 ? kApicBaseBsp : 0);
    if (ioctl(vcpu_fd, kKvmSetMsrs, msrs.data()) != 1) {
      return ErrnoStatus(errno, "KVM_SET_MSRS (IA32_APIC_BASE, x2APIC)");
    }
    // Spurious-interrupt vector register (offset 0xf0): bit 8 enables the
    // APIC, vector 0xff is the spurious vector (SDM Vol. 3A, 11.9).
    kvm_lapic_state lapic;
    if (ioctl(vcpu_fd, KVM_GET_LAPIC, &lapic) != 0) {
      return ErrnoStatus(errno, "KVM_GET_LAPIC");
    }
    const uint32_t svr = 0x1ff;
    std::memcpy(&lapic.regs[0xf0], &svr, sizeof(svr));
    if (ioctl(vcpu_fd, KVM_SET_LAPIC, &lapic) != 0) {
      return ErrnoStatus(errno, "KVM_SET_LAPIC");
    }
    return lapic;
  }

  const UniqueFd kvm_;
  const UniqueFd vm_;
  const int vcpu_mmap_size_;
  const CpuidTable cpuid_;
  const uint64_t tsc_hz_;
  const int kick_signal_;
  // MSI routes of the eventfds bound with BindInterruptFd, by GSI. GSIs
  // start above the 24 pins of the in-kernel I/O APIC.
  std::mutex routes_mu_;
  std::map<int, uint32_t> gsi_of_fd_;  // guarded by routes_mu_
  std::map<uint32_t, kvm_irq_routing_entry>
      msi_routes_;          // guarded by routes_mu_
  uint32_t next_gsi_ = 24;  // guarded by routes_mu_
};

}  // namespace

bool KvmAvailable(const std::string& device, std::string* why) {
  UniqueFd fd(open(device.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd.valid()) {
    if (why != nullptr) {
      *why = absl::StrFormat("cannot open %s: %s", device, strerror(errno));
    }
    return false;
  }
  return true;
}

absl::StatusOr<std::unique_ptr<BackendVm>> CreateKvmBackendVm(
    const KvmOptions& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<KvmVm> vm, KvmVm::Create(options));
  return vm;
}

}  // namespace hvbios::kvm

namespace hvbios {

absl::StatusOr<std::unique_ptr<Vm>> CreateKvmVm(
    VmOptions options, const kvm::KvmOptions& kvm_options) {
  ASSIGN_OR_RETURN(std::unique_ptr<BackendVm> backend,
                   kvm::CreateKvmBackendVm(kvm_options));
  return Vm::Create(std::move(backend), std::move(options));
}

}  // namespace hvbios
