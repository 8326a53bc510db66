// hvbios-bench: the cost of the hypercall path, next to the floor measured
// in the same run: a bare KVM PIO exit round trip from a minimal guest with
// no hvbios code on the path. Each benchmark iteration is one guest exit,
// driven from the benchmark thread.
//
// Report ratios, not absolute numbers: on the machines this project runs on
// KVM emulates ring-0 guest code (see docs/architecture.md), which inflates
// both figures alike.
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "benchmark/benchmark.h"
#include "hvbios/abi/hypercall.h"
#include "hvbios/abi/status.h"
#include "hvbios/kvm.h"
#include "lib/boot_setup.h"
#include "lib/elf_loader.h"
#include "lib/guest_memory.h"
#include "lib/hypercall.h"
#include "lib/status_macros.h"

namespace hvbios {
namespace {

// ---- The floor: raw KVM, a real-mode guest `out 0x10, al; jmp $-2` ------

void BM_RawPioExitFloor(benchmark::State& state) {
  const int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) return state.SkipWithError("no /dev/kvm");
  const int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  const size_t mem_size = 0x10000;
  void* mem = mmap(nullptr, mem_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  const uint8_t code[] = {0xe6, 0x10, 0xeb, 0xfc};  // out 0x10,al; jmp -4
  std::memcpy(static_cast<uint8_t*>(mem) + 0x1000, code, sizeof(code));
  kvm_userspace_memory_region region = {};
  region.memory_size = mem_size;
  region.userspace_addr = reinterpret_cast<uint64_t>(mem);
  ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region);
  const int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  const int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  auto* run = static_cast<kvm_run*>(
      mmap(nullptr, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0));
  kvm_sregs sregs;
  ioctl(vcpu, KVM_GET_SREGS, &sregs);
  sregs.cs.base = 0;
  sregs.cs.selector = 0;
  ioctl(vcpu, KVM_SET_SREGS, &sregs);
  kvm_regs regs = {};
  regs.rip = 0x1000;
  regs.rflags = 0x2;
  ioctl(vcpu, KVM_SET_REGS, &regs);
  for (auto _ : state) {
    if (ioctl(vcpu, KVM_RUN, 0) != 0 || run->exit_reason != KVM_EXIT_IO) {
      state.SkipWithError("unexpected exit");
      break;
    }
  }
  munmap(run, run_size);
  close(vcpu);
  close(vm);
  munmap(mem, mem_size);
  close(kvm);
}
BENCHMARK(BM_RawPioExitFloor)->UseRealTime();

// ---- The null hypercall through the hypercall page and the core's path ----

// The services' view for the benchmark: nothing but memory.
class BenchHost : public ServiceHost {
 public:
  explicit BenchHost(const GuestMemory* memory) : memory_(memory) {}
  const GuestMemory& memory() const override { return *memory_; }
  uint32_t implementation_id() const override { return 1; }
  void ConsoleWrite(absl::string_view) override {}
  size_t ConsoleRead(uint8_t*, size_t) override { return 0; }
  uint64_t MonotonicNs() const override { return 0; }
  uint64_t WallclockNs() const override { return 0; }
  void RequestShutdown(uint8_t) override {}
  void RequestReboot() override {}
  uint32_t vcpu_count() const override { return 1; }
  int64_t StartVcpu(uint32_t, const LongModeEntry&) override {
    return HVB_ERR_STATE;
  }
  void StopVcpu(uint32_t) override {}
  int64_t VcpuStatusOf(uint32_t) override { return HVB_VCPU_RUNNING; }
  void SetTimer(uint32_t, uint64_t, uint8_t) override {}
  void CancelTimer(uint32_t) override {}
  int64_t RouteEvent(uint32_t, uint32_t, uint8_t) override { return HVB_OK; }
  void MaskEvent(uint32_t, bool) override {}
  int64_t RaiseEvent(uint32_t, uint8_t) override { return HVB_OK; }
  bool EventSourceExists(uint32_t) override { return false; }
  BlockDevice* block_device(uint32_t) override { return nullptr; }
  int64_t SetupQueue(uint32_t, uint64_t, uint32_t) override {
    return HVB_ERR_NODEV;
  }
  size_t RandomBytes(uint8_t*, size_t) override { return 0; }

 private:
  const GuestMemory* memory_;
};

void BM_NullHypercall(benchmark::State& state) {
  auto fail = [&](const absl::Status& s) {
    state.SkipWithError(std::string(s.message()).c_str());
  };
  absl::StatusOr<std::unique_ptr<BackendVm>> vm = kvm::CreateKvmBackendVm();
  if (!vm.ok()) return fail(vm.status());
  absl::StatusOr<GuestMemory> memory = GuestMemory::Create(16 << 20);
  if (!memory.ok()) return fail(memory.status());
  if (absl::Status s =
          (*vm)->MapMemory(0, 0, memory->Translate(0, 1), 16 << 20);
      !s.ok()) {
    return fail(s);
  }
  absl::StatusOr<std::vector<uint8_t>> image =
      ReadGuestImage(std::string(HVBIOS_GUEST_DIR) + "/null_loop.elf");
  if (!image.ok()) return fail(image.status());
  absl::StatusOr<ElfImage> elf = ParseElf(*image);
  if (!elf.ok()) return fail(elf.status());
  if (absl::Status s = LoadElf(*elf, *image, *memory); !s.ok()) return fail(s);
  absl::StatusOr<LongModeEntry> entry =
      BuildBootEnvironment(*memory, *elf, {}, **vm);
  if (!entry.ok()) return fail(entry.status());
  absl::StatusOr<std::unique_ptr<BackendVcpu>> vcpu = (*vm)->CreateVcpu(0);
  if (!vcpu.ok()) return fail(vcpu.status());
  if (absl::Status s = (*vcpu)->BindToCurrentThread(); !s.ok()) return fail(s);
  if (absl::Status s = (*vcpu)->SetEntryState(*entry); !s.ok()) return fail(s);
  BenchHost host(&*memory);
  for (auto _ : state) {
    absl::StatusOr<VcpuExit> exit = (*vcpu)->Run();
    if (!exit.ok() || exit->kind != VcpuExit::Kind::kHypercall) {
      state.SkipWithError("unexpected exit");
      break;
    }
    const HypercallResult r = DispatchHypercall(host, 0, exit->hypercall);
    (*vcpu)->CompleteHypercall(r.status, r.value);
  }
}
BENCHMARK(BM_NullHypercall)->UseRealTime();

// ---- vCPU lifecycle and event delivery through the library ---------------

// A VM running tests/guests/counters.c: vCPU 0 spins counting in memory
// with interrupts on; vector 0x70 increments a second counter.
struct CountersVm {
  static constexpr uint64_t kCounter0 = 0x400000;
  static constexpr uint64_t kEvents = kCounter0 + 64 * 64;

  absl::Status Boot() {
    VmOptions options;
    options.memory_bytes = 16 << 20;
    ASSIGN_OR_RETURN(vm, CreateKvmVm(options));
    RETURN_IF_ERROR(
        vm->LoadGuestFile(std::string(HVBIOS_GUEST_DIR) + "/counters.elf"));
    ASSIGN_OR_RETURN(Vcpu * vcpu, vm->CreateVcpu(0));
    RETURN_IF_ERROR(vcpu->Start());
    // Running with its handler installed once the counter moves.
    while (Read(kCounter0) == 0) {
    }
    return absl::OkStatus();
  }
  uint64_t Read(uint64_t gpa) {
    return __atomic_load_n(
        reinterpret_cast<uint64_t*>(vm->memory().Translate(gpa, 8)),
        __ATOMIC_ACQUIRE);
  }
  std::unique_ptr<Vm> vm;
};

// Pause(): from the call until the vCPU is out of guest mode and parked.
void BM_VcpuPause(benchmark::State& state) {
  CountersVm c;
  if (absl::Status s = c.Boot(); !s.ok()) {
    return state.SkipWithError(std::string(s.message()).c_str());
  }
  Vcpu* vcpu = c.vm->vcpu(0);
  for (auto _ : state) {
    const absl::Time start = absl::Now();
    if (!vcpu->Pause().ok()) return state.SkipWithError("Pause failed");
    state.SetIterationTime(absl::ToDoubleSeconds(absl::Now() - start));
    if (!vcpu->Resume().ok()) return state.SkipWithError("Resume failed");
  }
}
BENCHMARK(BM_VcpuPause)->UseManualTime();

// Resume(): from the call until the vCPU's thread runs again.
void BM_VcpuResume(benchmark::State& state) {
  CountersVm c;
  if (absl::Status s = c.Boot(); !s.ok()) {
    return state.SkipWithError(std::string(s.message()).c_str());
  }
  Vcpu* vcpu = c.vm->vcpu(0);
  for (auto _ : state) {
    if (!vcpu->Pause().ok()) return state.SkipWithError("Pause failed");
    const absl::Time start = absl::Now();
    if (!vcpu->Resume().ok()) return state.SkipWithError("Resume failed");
    state.SetIterationTime(absl::ToDoubleSeconds(absl::Now() - start));
  }
}
BENCHMARK(BM_VcpuResume)->UseManualTime();

// Vm::RaiseEvent until the guest's handler has run (and acknowledged it),
// observed by the host polling guest memory; the vCPU is busy spinning.
void BM_EventToGuestHandler(benchmark::State& state) {
  CountersVm c;
  if (absl::Status s = c.Boot(); !s.ok()) {
    return state.SkipWithError(std::string(s.message()).c_str());
  }
  uint64_t seen = c.Read(CountersVm::kEvents);
  for (auto _ : state) {
    if (!c.vm->RaiseEvent(0, 0x70).ok()) {
      return state.SkipWithError("RaiseEvent failed");
    }
    while (c.Read(CountersVm::kEvents) == seen) {
    }
    ++seen;
  }
}
BENCHMARK(BM_EventToGuestHandler)->UseRealTime();

}  // namespace
}  // namespace hvbios

BENCHMARK_MAIN();
