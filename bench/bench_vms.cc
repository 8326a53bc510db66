// hvbios-bench's VMs (bench_vms.h).
#include "bench/bench_vms.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "hvbios/kvm_backend.h"
#include "lib/boot_setup.h"
#include "lib/clock.h"
#include "lib/elf_loader.h"
#include "lib/guest_memory.h"
#include "lib/status_macros.h"

namespace hvbios::bench {
namespace {

// The fds of this process's KVM vCPUs (anon_inode:kvm-vcpu:N).
std::set<int> KvmVcpuFds() {
  std::set<int> fds;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return fds;
  while (const dirent* entry = readdir(dir)) {
    char target[64];
    const std::string link = absl::StrCat("/proc/self/fd/", entry->d_name);
    const ssize_t n = readlink(link.c_str(), target, sizeof(target) - 1);
    if (n > 0 && std::string_view(target, static_cast<size_t>(n))
                     .starts_with("anon_inode:kvm-vcpu:")) {
      fds.insert(atoi(entry->d_name));
    }
  }
  closedir(dir);
  return fds;
}

}  // namespace

// The bench's guests: installed, they sit at HVBIOS_BENCH_GUESTS_FROM_BIN
// relative to the binary; in the build tree, in HVBIOS_GUEST_DIR.
std::string GuestPath(absl::string_view name) {
  char exe[4096];
  ssize_t length = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (length > 0) {
    std::string dir(exe, static_cast<size_t>(length));
    dir.resize(dir.rfind('/') + 1);
    std::string installed =
        absl::StrCat(dir, HVBIOS_BENCH_GUESTS_FROM_BIN, "/", name);
    if (access(installed.c_str(), R_OK) == 0) return installed;
  }
  return absl::StrCat(HVBIOS_GUEST_DIR, "/", name);
}

// A read-only disk of `bytes` zeros in an already unlinked temporary file.
absl::StatusOr<std::unique_ptr<BlockDevice>> TemporaryDisk(uint64_t bytes) {
  char path[] = "/tmp/hvbios-bench-disk-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return absl::InternalError("mkstemp failed");
  const bool sized = ftruncate(fd, static_cast<off_t>(bytes)) == 0;
  close(fd);
  absl::StatusOr<std::unique_ptr<BlockDevice>> disk =
      sized ? OpenDiskImage(path, /*read_only=*/true)
            : absl::InternalError("ftruncate failed");
  unlink(path);
  return disk;
}

RawExitVm::RawExitVm() {
  kvm_ = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm_ < 0) return;
  vm_ = ioctl(kvm_, KVM_CREATE_VM, 0);
  mem_ = mmap(nullptr, kMemSize, PROT_READ | PROT_WRITE,
              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  const uint8_t code[] = {0xe6, 0x10, 0xeb, 0xfc};  // out 0x10,al; jmp -4
  std::memcpy(static_cast<uint8_t*>(mem_) + 0x1000, code, sizeof(code));
  kvm_userspace_memory_region region = {};
  region.memory_size = kMemSize;
  region.userspace_addr = reinterpret_cast<uint64_t>(mem_);
  ioctl(vm_, KVM_SET_USER_MEMORY_REGION, &region);
  vcpu_ = ioctl(vm_, KVM_CREATE_VCPU, 0);
  run_size_ = ioctl(kvm_, KVM_GET_VCPU_MMAP_SIZE, 0);
  void* run =
      mmap(nullptr, run_size_, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_, 0);
  if (run == MAP_FAILED) return;
  run_ = static_cast<kvm_run*>(run);
  kvm_sregs sregs;
  ioctl(vcpu_, KVM_GET_SREGS, &sregs);
  sregs.cs.base = 0;
  sregs.cs.selector = 0;
  ioctl(vcpu_, KVM_SET_SREGS, &sregs);
  kvm_regs regs = {};
  regs.rip = 0x1000;
  regs.rflags = 0x2;
  ioctl(vcpu_, KVM_SET_REGS, &regs);
}

RawExitVm::~RawExitVm() {
  if (run_ != nullptr) munmap(run_, run_size_);
  if (mem_ != nullptr) munmap(mem_, kMemSize);
  for (int fd : {vcpu_, vm_, kvm_}) {
    if (fd >= 0) close(fd);
  }
}

bool RawExitVm::Exit() {
  return ioctl(vcpu_, KVM_RUN, 0) == 0 && run_->exit_reason == KVM_EXIT_IO;
}

absl::Status DrivenVm::Boot(const std::string& cmdline) {
  ASSIGN_OR_RETURN(vm, kvm::CreateKvmBackendVm());
  ASSIGN_OR_RETURN(std::unique_ptr<GuestMemory> mem_owner,
                   GuestMemory::Create(16 << 20));
  ctx = std::make_unique<testing::FakeServiceContext>(std::move(mem_owner), 1,
                                                      vm.get());
  GuestMemory* memory = &ctx->mutable_memory();
  RETURN_IF_ERROR(vm->MapMemory(0, 0, memory->Translate(0, 1), 16 << 20));
  // Disk 0 for the block case only: the others measure no disk's set-up.
  const bool with_disk = cmdline == "block";
  ASSIGN_OR_RETURN(std::vector<uint8_t> image,
                   ReadGuestImage(GuestPath("call_loop.elf")));
  ASSIGN_OR_RETURN(ElfImage elf, ParseElf(image));
  RETURN_IF_ERROR(LoadElf(elf, image, *memory));
  ASSIGN_OR_RETURN(LongModeEntry entry,
                   BuildBootEnvironment(
                       *memory, elf,
                       {.cmdline = cmdline,
                        .tsc_frequency_hz = vm->tsc_frequency_hz(),
                        .disks_read_only = with_disk ? std::vector<bool>{true}
                                                     : std::vector<bool>{}},
                       *vm));
  const std::set<int> fds_before = KvmVcpuFds();
  ASSIGN_OR_RETURN(vcpu, vm->CreateVcpu(0));
  for (int fd : KvmVcpuFds()) {
    if (!fds_before.contains(fd)) vcpu_fd_ = fd;
  }
  absl::StatusOr<std::unique_ptr<CoarseClockWord>> coarse =
      PublishClockPage(*memory, *vcpu, vm->tsc_frequency_hz(),
                       ClockNs(CLOCK_MONOTONIC), /*coarse_clock=*/true);
  if (coarse.ok()) coarse_clock = *std::move(coarse);
  RETURN_IF_ERROR(vcpu->BindToCurrentThread());
  RETURN_IF_ERROR(vcpu->SetEntryState(entry));
  ServicesOptions options;
  options.console_output = [](absl::string_view bytes) {
    benchmark::DoNotOptimize(bytes.data());
  };
  if (with_disk) {
    ASSIGN_OR_RETURN(std::unique_ptr<BlockDevice> disk, TemporaryDisk(1 << 20));
    options.disks.push_back(std::move(disk));
  }
  services = std::make_unique<Services>(*ctx, std::move(options));
  return absl::OkStatus();
}

bool DrivenVm::Step(Tracer* tracer) {
  absl::StatusOr<VcpuExit> exit = vcpu->Run();
  if (!exit.ok() || exit->kind != VcpuExit::Kind::kHypercall) return false;
  // What the library's vCPU loop adds when a VM is traced (lib/vcpu.cc).
  const uint64_t at = tracer != nullptr ? Tracer::NowNs() : 0;
  const HypercallResult r = services->Dispatch(0, exit->hypercall);
  vcpu->CompleteHypercall(r.status, r.value);
  if (tracer != nullptr) {
    const HypercallArgs& h = exit->hypercall;
    tracer->RecordExit(at, 0, TraceKind::kHypercall, h.fid,
                       {h.arg[0], h.arg[1], h.arg[2], h.arg[3]}, r.status);
  }
  return r.status == HVB_OK;
}

DrivenVm::~DrivenVm() {
  if (raw_run_ != nullptr) munmap(raw_run_, raw_run_size_);
}

bool DrivenVm::RawExit() {
  if (raw_run_ == nullptr) {
    const int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0 || vcpu_fd_ < 0) return false;
    const int size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    close(kvm);
    if (size <= 0) return false;
    void* run = mmap(nullptr, static_cast<size_t>(size), PROT_READ | PROT_WRITE,
                     MAP_SHARED, vcpu_fd_, 0);
    if (run == MAP_FAILED) return false;
    raw_run_ = static_cast<kvm_run*>(run);
    raw_run_size_ = static_cast<size_t>(size);
    // The library asks KVM to copy the registers out on every exit
    // (KVM_SYNC_X86_REGS: api.rst, "The kvm_run structure", kvm_valid_regs);
    // bare exits do not.
    raw_run_->kvm_valid_regs = 0;
    raw_run_->kvm_dirty_regs = 0;
  }
  return ioctl(vcpu_fd_, KVM_RUN, 0) == 0 &&
         raw_run_->exit_reason == KVM_EXIT_IO;
}

}  // namespace hvbios::bench
