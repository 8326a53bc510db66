// The KVM backend's VM (Documentation/virt/kvm/api.rst): capabilities,
// memory slots, the in-kernel APICs, MSIs, irqfd routes, ioeventfd
// doorbells and the hypercall page (hcpage.S).
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>

#include "absl/strings/str_format.h"
#include "backends/kvm/kvm_internal.h"
#include "backends/kvm/ports.h"
#include "hvbios/abi/hypercall.h"
#include "hvbios/internal/mutex.h"
#include "hvbios/kvm_backend.h"
#include "lib/status_macros.h"

// The hypercall page's code (hcpage.S).
extern "C" const uint8_t hvb_kvm_hcpage[], hvb_kvm_hcpage_end[];

namespace hvbios::kvm {
namespace {

// The hypercall page: hcpage.S's entries, int3 everywhere else (a stray
// jump into the page faults visibly).
void FillHypercallPage(absl::Span<uint8_t> page) {
  const size_t code = static_cast<size_t>(hvb_kvm_hcpage_end - hvb_kvm_hcpage);
  std::memset(page.data(), 0xcc, page.size());
  std::memcpy(page.data(), hvb_kvm_hcpage, std::min(code, page.size()));
}

class KvmVm final : public BackendVm {
 public:
  static absl::StatusOr<std::unique_ptr<KvmVm>> Create(
      const KvmOptions& options) {
    const int kick_signal =
        options.kick_signal != 0 ? options.kick_signal : SIGRTMIN;
    RETURN_IF_ERROR(InstallKickHandler(kick_signal));

    UniqueFd kvm(options.device_fd >= 0
                     ? fcntl(options.device_fd, F_DUPFD_CLOEXEC, 0)
                     : open(options.device.c_str(), O_RDWR | O_CLOEXEC));
    if (!kvm.valid()) {
      return ErrnoStatus(errno,
                         options.device_fd >= 0
                             ? "duplicating KvmOptions::device_fd"
                             : absl::StrFormat("open %s", options.device));
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

  absl::Status MapMemory(uint32_t slot, uint64_t gpa, void* host, uint64_t size,
                         MemoryFlags flags) override {
    kvm_userspace_memory_region region = {};
    region.slot = slot;
    region.guest_phys_addr = gpa;
    region.memory_size = size;
    region.userspace_addr = reinterpret_cast<uint64_t>(host);
    if (flags.read_only) region.flags |= KVM_MEM_READONLY;
    if (flags.log_dirty) region.flags |= KVM_MEM_LOG_DIRTY_PAGES;
    if (ioctl(vm_.get(), KVM_SET_USER_MEMORY_REGION, &region) != 0) {
      return ErrnoStatus(errno, "KVM_SET_USER_MEMORY_REGION");
    }
    return absl::OkStatus();
  }

  absl::Status UnmapMemory(uint32_t slot) override {
    // A size of 0 deletes the slot (api.rst, KVM_SET_USER_MEMORY_REGION).
    kvm_userspace_memory_region region = {};
    region.slot = slot;
    if (ioctl(vm_.get(), KVM_SET_USER_MEMORY_REGION, &region) != 0) {
      return ErrnoStatus(errno, "KVM_SET_USER_MEMORY_REGION (delete)");
    }
    return absl::OkStatus();
  }

  absl::Status GetDirtyLog(uint32_t slot,
                           absl::Span<uint64_t> bitmap) override {
    // Without KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 enabled, the ioctl fetches
    // and clears in one step (api.rst, KVM_GET_DIRTY_LOG).
    std::vector<uint64_t> log(bitmap.size());
    kvm_dirty_log request = {};
    request.slot = slot;
    request.dirty_bitmap = log.data();
    if (ioctl(vm_.get(), KVM_GET_DIRTY_LOG, &request) != 0) {
      return ErrnoStatus(errno, "KVM_GET_DIRTY_LOG");
    }
    for (size_t i = 0; i < log.size(); ++i) bitmap[i] |= log[i];
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
    return MakeKvmVcpu(id, std::move(fd), std::move(run_mapping), kick_signal_,
                       lapic);
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
    RETURN_IF_ERROR(SetRoutingLocked());
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

  absl::Status UnbindInterruptFd(int eventfd) override {
    std::lock_guard<std::mutex> lock(routes_mu_);
    auto it = gsi_of_fd_.find(eventfd);
    if (it == gsi_of_fd_.end()) {
      return absl::NotFoundError("the eventfd is not bound");
    }
    kvm_irqfd irqfd = {};
    irqfd.fd = static_cast<uint32_t>(eventfd);
    irqfd.gsi = it->second;
    irqfd.flags = KVM_IRQFD_FLAG_DEASSIGN;
    if (ioctl(vm_.get(), KVM_IRQFD, &irqfd) != 0) {
      return ErrnoStatus(errno, "KVM_IRQFD (deassign)");
    }
    msi_routes_.erase(it->second);
    gsi_of_fd_.erase(it);
    return SetRoutingLocked();
  }

  absl::Status BindIoEventFd(const IoEventFd& b) override {
    kvm_ioeventfd ioeventfd = {};
    ioeventfd.addr = b.address;
    ioeventfd.len = b.length;
    ioeventfd.fd = b.eventfd;
    ioeventfd.datamatch = b.datamatch;
    if (b.pio) ioeventfd.flags |= KVM_IOEVENTFD_FLAG_PIO;
    if (b.match_data) ioeventfd.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
    if (ioctl(vm_.get(), KVM_IOEVENTFD, &ioeventfd) != 0) {
      return ErrnoStatus(errno, "KVM_IOEVENTFD");
    }
    return absl::OkStatus();
  }

  absl::Status BindDoorbell(uint32_t queue, int eventfd) override {
    kvm_ioeventfd ioeventfd = {};
    ioeventfd.datamatch = queue;
    ioeventfd.addr = HVB_KVM_NOTIFY_PORT;
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

  uint32_t hardware_breakpoints() override {
    std::call_once(breakpoints_probed_, [this] {
      hardware_breakpoints_ = ProbeHardwareBreakpoints(kvm_.get());
    });
    return hardware_breakpoints_;
  }

 private:
  // Installs msi_routes_ as the VM's whole GSI routing table: the table
  // replaces the routing (api.rst, KVM_SET_GSI_ROUTING); nothing here uses
  // the default irqchip pin routes. routes_mu_ held.
  absl::Status SetRoutingLocked() {
    KvmArray<kvm_irq_routing_entry> table(
        static_cast<uint32_t>(msi_routes_.size()));
    size_t i = 0;
    for (const auto& [gsi, entry] : msi_routes_) table[i++] = entry;
    if (ioctl(vm_.get(), kKvmSetGsiRouting, table.data()) != 0) {
      return ErrnoStatus(errno, "KVM_SET_GSI_ROUTING");
    }
    return absl::OkStatus();
  }

  KvmVm(UniqueFd kvm, UniqueFd vm, int vcpu_mmap_size, CpuidTable cpuid,
        uint64_t tsc_hz, int kick_signal)
      : kvm_(std::move(kvm)),
        vm_(std::move(vm)),
        vcpu_mmap_size_(vcpu_mmap_size),
        cpuid_(std::move(cpuid)),
        tsc_hz_(tsc_hz),
        kick_signal_(kick_signal) {}

  // KVM_GET_SUPPORTED_CPUID, with the table grown on E2BIG, once per
  // process: it describes the host CPU and this kernel's KVM, neither of
  // which changes while the process runs, and asking again cost 7.5% of
  // booting hello (docs/performance.md). Only a success is kept.
  static absl::StatusOr<CpuidTable> SupportedCpuid(int kvm_fd) {
    static Mutex mu;
    static CpuidTable* cached ABSL_GUARDED_BY(mu) = nullptr;  // never freed
    MutexLock lock(&mu);
    if (cached != nullptr) return *cached;
    for (uint32_t capacity = 64; capacity <= 4096; capacity *= 2) {
      CpuidTable table(capacity);
      if (ioctl(kvm_fd, kKvmGetSupportedCpuid, table.data()) == 0) {
        table.Shrink();
        cached = new CpuidTable(table);
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
  std::once_flag breakpoints_probed_;
  uint32_t hardware_breakpoints_ = 0;  // written once, under the flag
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
