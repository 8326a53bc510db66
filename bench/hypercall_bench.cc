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

#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "hvbios/abi/hypercall.h"
#include "hvbios/abi/status.h"
#include "hvbios/block.h"
#include "hvbios/internal/mutex.h"
#include "hvbios/kvm.h"
#include "lib/boot_setup.h"
#include "lib/clock.h"
#include "lib/elf_loader.h"
#include "lib/guest_memory.h"
#include "lib/services/services.h"
#include "lib/status_macros.h"
#include "tests/fake_service_context.h"

namespace hvbios {
namespace {

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

// ---- The floor: raw KVM, a real-mode guest `out 0x10, al; jmp $-2` ------

// A minimal VM made with raw ioctls: no hvbios code on its exit path.
class RawExitVm {
 public:
  RawExitVm() {
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
    run_ = static_cast<kvm_run*>(
        mmap(nullptr, run_size_, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_, 0));
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
  ~RawExitVm() {
    if (run_ != nullptr) munmap(run_, run_size_);
    if (mem_ != nullptr) munmap(mem_, kMemSize);
    for (int fd : {vcpu_, vm_, kvm_}) {
      if (fd >= 0) close(fd);
    }
  }
  bool ok() const { return run_ != nullptr && run_ != MAP_FAILED; }
  // One guest exit and back.
  bool Exit() {
    return ioctl(vcpu_, KVM_RUN, 0) == 0 && run_->exit_reason == KVM_EXIT_IO;
  }

 private:
  static constexpr size_t kMemSize = 0x10000;
  int kvm_ = -1, vm_ = -1, vcpu_ = -1;
  void* mem_ = nullptr;
  kvm_run* run_ = nullptr;
  int run_size_ = 0;
};

void BM_RawPioExitFloor(benchmark::State& state) {
  RawExitVm vm;
  if (!vm.ok()) return state.SkipWithError("no /dev/kvm");
  for (auto _ : state) {
    if (!vm.Exit()) return state.SkipWithError("unexpected exit");
  }
}
BENCHMARK(BM_RawPioExitFloor)->UseRealTime();

// The floor once per run (median of 5 rounds of 2000 exits), for the
// floor_ratio counter of every other case: ratios, not absolute numbers,
// are what carry over to other hosts.
double FloorNs() {
  static const double floor = [] {
    RawExitVm vm;
    if (!vm.ok()) return 0.0;
    std::vector<double> rounds;
    for (int r = 0; r < 5; ++r) {
      const absl::Time start = absl::Now();
      for (int i = 0; i < 2000; ++i) vm.Exit();
      rounds.push_back(absl::ToDoubleNanoseconds(absl::Now() - start) / 2000);
    }
    std::sort(rounds.begin(), rounds.end());
    return rounds[2];
  }();
  return floor;
}

// Times the benchmark loop itself so that a plain floor_ratio counter,
// (time per iteration) / floor, can be reported when the loop ends.
class FloorRatio {
 public:
  explicit FloorRatio(benchmark::State& state)
      : state_(state), start_(absl::Now()) {}
  ~FloorRatio() {
    if (FloorNs() > 0 && state_.iterations() > 0 && !state_.error_occurred()) {
      state_.counters["floor_ratio"] =
          absl::ToDoubleNanoseconds(absl::Now() - start_) /
          static_cast<double>(state_.iterations()) / FloorNs();
    }
  }

 private:
  benchmark::State& state_;
  const absl::Time start_;
};

// ---- Hypercalls through the hypercall page and the core's path -----------

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

// A VM with tests' call_loop guest whose vCPU the benchmark thread drives:
// exactly the library's path (Run, Services::Dispatch, CompleteHypercall),
// without the vCPU thread's bookkeeping. The services are the real ones,
// console output discarded, disk 0 a 1 MiB temporary file.
struct DrivenVm {
  absl::Status Boot(const std::string& cmdline) {
    ASSIGN_OR_RETURN(vm, kvm::CreateKvmBackendVm());
    ASSIGN_OR_RETURN(std::unique_ptr<GuestMemory> mem_owner,
                     GuestMemory::Create(16 << 20));
    ctx = std::make_unique<testing::FakeServiceContext>(std::move(mem_owner), 1,
                                                        vm.get());
    GuestMemory* memory = &ctx->mutable_memory();
    RETURN_IF_ERROR(vm->MapMemory(0, 0, memory->Translate(0, 1), 16 << 20));
    ASSIGN_OR_RETURN(std::unique_ptr<BlockDevice> disk, TemporaryDisk(1 << 20));
    ASSIGN_OR_RETURN(std::vector<uint8_t> image,
                     ReadGuestImage(GuestPath("call_loop.elf")));
    ASSIGN_OR_RETURN(ElfImage elf, ParseElf(image));
    RETURN_IF_ERROR(LoadElf(elf, image, *memory));
    ASSIGN_OR_RETURN(
        LongModeEntry entry,
        BuildBootEnvironment(*memory, elf,
                             {.cmdline = cmdline,
                              .tsc_frequency_hz = vm->tsc_frequency_hz(),
                              .disks_read_only = {true}},
                             *vm));
    ASSIGN_OR_RETURN(vcpu, vm->CreateVcpu(0));
    (void)PublishClockPage(*memory, *vcpu, vm->tsc_frequency_hz(),
                           ClockNs(CLOCK_MONOTONIC));
    RETURN_IF_ERROR(vcpu->BindToCurrentThread());
    RETURN_IF_ERROR(vcpu->SetEntryState(entry));
    ServicesOptions options;
    options.console_output = [](absl::string_view bytes) {
      benchmark::DoNotOptimize(bytes.data());
    };
    options.disks.push_back(std::move(disk));
    services = std::make_unique<Services>(*ctx, std::move(options));
    return absl::OkStatus();
  }
  // One hypercall round trip; false on anything else.
  bool Step() {
    absl::StatusOr<VcpuExit> exit = vcpu->Run();
    if (!exit.ok() || exit->kind != VcpuExit::Kind::kHypercall) return false;
    const HypercallResult r = services->Dispatch(0, exit->hypercall);
    vcpu->CompleteHypercall(r.status, r.value);
    return r.status == HVB_OK;
  }

  // Declared so that the services go first, then the vCPU and the VM, and
  // the guest memory (in the context) last.
  std::unique_ptr<testing::FakeServiceContext> ctx;
  std::unique_ptr<BackendVm> vm;
  std::unique_ptr<BackendVcpu> vcpu;
  std::unique_ptr<Services> services;
};

// arg: 0 debug.null, 1 console.write of 1 byte, 2 clock.monotonic,
// 3 block.read of 4 KiB.
void BM_Hypercall(benchmark::State& state) {
  static const char* const kCalls[] = {"null", "console", "clock", "block"};
  DrivenVm d;
  if (absl::Status s = d.Boot(kCalls[state.range(0)]); !s.ok()) {
    return state.SkipWithError(std::string(s.message()).c_str());
  }
  // The first exits run the guest's start code: get past them.
  for (int i = 0; i < 3; ++i) d.Step();
  state.SetLabel(kCalls[state.range(0)]);
  FloorRatio ratio(state);
  for (auto _ : state) {
    if (!d.Step()) return state.SkipWithError("unexpected exit or status");
  }
}
BENCHMARK(BM_Hypercall)->UseRealTime()->ArgName("call")->DenseRange(0, 3);

// A null hypercall's cost once per run, the clock page's yardstick.
double NullHypercallNs() {
  static const double ns = [] {
    DrivenVm d;
    if (!d.Boot("null").ok()) return 0.0;
    for (int i = 0; i < 100; ++i) d.Step();
    const absl::Time start = absl::Now();
    for (int i = 0; i < 2000; ++i) d.Step();
    return absl::ToDoubleNanoseconds(absl::Now() - start) / 2000;
  }();
  return ns;
}

// One exit-free clock.monotonic read (rdtsc and the clock page), timed in
// the guest over batches of 16; reported next to a null hypercall.
void BM_ClockPageRead(benchmark::State& state) {
  DrivenVm d;
  if (absl::Status s = d.Boot("clockpage"); !s.ok()) {
    return state.SkipWithError(std::string(s.message()).c_str());
  }
  double total_ns = 0;
  int64_t reads = 0;
  for (auto _ : state) {
    absl::StatusOr<VcpuExit> exit = d.vcpu->Run();
    if (!exit.ok() || exit->kind != VcpuExit::Kind::kHypercall) {
      return state.SkipWithError("unexpected exit");
    }
    const uint64_t ns = exit->hypercall.arg[0];
    d.vcpu->CompleteHypercall(HVB_OK, 0);
    if (exit->hypercall.fid != HVB_FN_DEBUG_ECHO || ns == 0) {
      return state.SkipWithError("no valid clock page");
    }
    state.SetIterationTime(static_cast<double>(ns) * 1e-9 / 17);
    total_ns += static_cast<double>(ns);
    reads += 17;
  }
  if (reads > 0 && NullHypercallNs() > 0 && FloorNs() > 0) {
    state.counters["hypercall_ratio"] = total_ns / reads / NullHypercallNs();
    state.counters["floor_ratio"] = total_ns / reads / FloorNs();
  }
}
// A fixed count: each iteration runs 17 reads, but reports the time of one.
BENCHMARK(BM_ClockPageRead)->UseManualTime()->Iterations(2000);

// From nothing to the guest's first hypercall, then teardown: VM, RAM,
// image load, boot environment, vCPU, first entry.
void BM_VmCreateBootToFirstHypercallDestroy(benchmark::State& state) {
  FloorRatio ratio(state);
  for (auto _ : state) {
    DrivenVm d;
    absl::Status s = d.Boot("null");
    if (!s.ok()) return state.SkipWithError(std::string(s.message()).c_str());
    absl::StatusOr<VcpuExit> exit = d.vcpu->Run();
    if (!exit.ok() || exit->kind != VcpuExit::Kind::kHypercall) {
      return state.SkipWithError("the guest did not reach a hypercall");
    }
  }
}
BENCHMARK(BM_VmCreateBootToFirstHypercallDestroy)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

void BM_VcpuCreate(benchmark::State& state) {
  std::unique_ptr<BackendVm> vm;
  uint32_t next_id = 0;
  FloorRatio ratio(state);
  for (auto _ : state) {
    if (vm == nullptr || next_id == 254) {
      state.PauseTiming();
      absl::StatusOr<std::unique_ptr<BackendVm>> fresh =
          kvm::CreateKvmBackendVm();
      if (!fresh.ok()) {
        return state.SkipWithError(
            std::string(fresh.status().message()).c_str());
      }
      vm = *std::move(fresh);
      next_id = 0;
      state.ResumeTiming();
    }
    absl::StatusOr<std::unique_ptr<BackendVcpu>> vcpu =
        vm->CreateVcpu(next_id++);
    if (!vcpu.ok()) {
      return state.SkipWithError(std::string(vcpu.status().message()).c_str());
    }
    benchmark::DoNotOptimize(vcpu->get());
  }
}
BENCHMARK(BM_VcpuCreate)->UseRealTime()->Unit(benchmark::kMicrosecond);

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
    RETURN_IF_ERROR(vm->LoadGuestFile(GuestPath("counters.elf")));
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
  FloorRatio ratio(state);
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

// ---- Storage throughput through the library (vCPU and I/O threads) -------

// args: path (0 synchronous calls, 1 ring), sectors per request (8: 4 KiB,
// 128: 64 KiB), batch (ring). One iteration is a round of 64 reads timed in
// the guest (bench/guests/blk_bench.c); items/s is IOPS, bytes/s the
// throughput, ns_per_request and floor_ratio per request.
void BM_BlockRead(benchmark::State& state) {
  constexpr int kRequests = 64;
  const bool ring = state.range(0) == 1;
  const int64_t sectors = state.range(1), batch = state.range(2);
  absl::StatusOr<std::unique_ptr<BlockDevice>> disk = TemporaryDisk(8 << 20);
  if (!disk.ok()) return state.SkipWithError("cannot make a temporary disk");

  Mutex mu;
  std::vector<uint64_t> rounds;  // guarded by mu
  std::string partial;           // console bytes not yet a whole line
  VmOptions options;
  options.memory_bytes = 64 << 20;
  options.cmdline = absl::StrCat(ring ? "ring " : "sync ", sectors, " ", batch);
  options.disks.push_back(*std::move(disk));
  options.console_output = [&](absl::string_view bytes) {
    MutexLock lock(&mu);
    partial.append(bytes.data(), bytes.size());
    for (size_t nl; (nl = partial.find('\n')) != std::string::npos;) {
      uint64_t ns;
      if (partial.rfind("round ", 0) == 0 &&
          absl::SimpleAtoi(partial.substr(6, nl - 6), &ns)) {
        rounds.push_back(ns);
      }
      partial.erase(0, nl + 1);
    }
  };
  absl::StatusOr<std::unique_ptr<Vm>> vm = CreateKvmVm(std::move(options));
  if (!vm.ok())
    return state.SkipWithError(std::string(vm.status().message()).c_str());
  absl::Status s = (*vm)->LoadGuestFile(GuestPath("blk_bench.elf"));
  absl::StatusOr<Vcpu*> vcpu = (*vm)->CreateVcpu(0);
  if (!s.ok() || !vcpu.ok() || !(*vcpu)->Start().ok()) {
    return state.SkipWithError("cannot boot the benchmark guest");
  }
  size_t next = 1;  // round 0 warms up
  double total_ns = 0;
  for (auto _ : state) {
    uint64_t ns = 0;
    {
      MutexLock lock(&mu);
      if (!mu.AwaitWithTimeout(
              [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
                return rounds.size() > next;
              },
              absl::Seconds(60))) {
        return state.SkipWithError("the guest stopped reporting");
      }
      ns = rounds[next++];
    }
    state.SetIterationTime(static_cast<double>(ns) * 1e-9);
    total_ns += static_cast<double>(ns);
  }
  (*vm)->Stop();
  state.SetItemsProcessed(state.iterations() * kRequests);
  state.SetBytesProcessed(state.iterations() * kRequests * sectors * 512);
  const double per_request =
      total_ns / static_cast<double>(state.iterations() * kRequests);
  state.counters["ns_per_request"] = per_request;
  if (FloorNs() > 0) state.counters["floor_ratio"] = per_request / FloorNs();
}
BENCHMARK(BM_BlockRead)
    ->ArgNames({"ring", "sectors", "batch"})
    ->Args({0, 8, 1})
    ->Args({0, 128, 1})
    ->Args({1, 8, 1})
    ->Args({1, 8, 8})
    ->Args({1, 8, 32})
    ->Args({1, 128, 1})
    ->Args({1, 128, 8})
    ->Args({1, 128, 32})
    ->UseManualTime()
    ->Iterations(20)
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace hvbios

BENCHMARK_MAIN();
