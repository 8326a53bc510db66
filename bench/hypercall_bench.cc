// hvbios-bench: the cost of the hypercall path, next to two floors measured
// in the same run, both on raw KVM with no hvbios code on the exit path:
//
//   exit floor       a real-mode guest's `out; jmp`: the cheapest exit there
//                    is. floor_ratio, in every case, is the total cost
//                    against it.
//   same-code floor  the call_loop guest's null hypercall, exactly the
//                    SDK's instructions in long mode with paging, each exit
//                    a bare KVM_RUN. host_ratio, in the hypercall cases, is
//                    the cost against it: what hvbios's host side adds.
//
// Report ratios, not absolute numbers: on the machines this project runs on
// KVM emulates ring-0 guest code (see docs/architecture.md), which inflates
// guest instructions far more than exits.
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bench/bench_vms.h"
#include "benchmark/benchmark.h"
#include "hvbios/abi/hypercall.h"
#include "hvbios/abi/status.h"
#include "hvbios/block.h"
#include "hvbios/internal/mutex.h"
#include "hvbios/kvm.h"
#include "hvbios/net.h"
#include "lib/status_macros.h"

namespace hvbios::bench {
namespace {

// ---- The floors: raw KVM --------------------------------------------------

void BM_RawPioExitFloor(benchmark::State& state) {
  RawExitVm vm;
  if (!vm.ok()) return state.SkipWithError("no /dev/kvm");
  for (auto _ : state) {
    if (!vm.Exit()) return state.SkipWithError("unexpected exit");
  }
}
BENCHMARK(BM_RawPioExitFloor)->UseRealTime();

// The median over 5 rounds of 2000 of `exit()`, in ns per call (0 when it
// fails): the floors and yardsticks once per run, for the ratio counters.
template <typename Exit>
double MedianNsPerExit(Exit exit) {
  std::vector<double> rounds;
  for (int r = 0; r < 5; ++r) {
    const absl::Time start = absl::Now();
    for (int i = 0; i < 2000; ++i) {
      if (!exit()) return 0;
    }
    rounds.push_back(absl::ToDoubleNanoseconds(absl::Now() - start) / 2000);
  }
  std::sort(rounds.begin(), rounds.end());
  return rounds[2];
}

double FloorNs() {
  static const double ns = [] {
    RawExitVm vm;
    return vm.ok() ? MedianNsPerExit([&] { return vm.Exit(); }) : 0.0;
  }();
  return ns;
}

// call_loop's null hypercall, warmed up, through the library (`raw`
// false) or on bare KVM_RUN: the median ns per call, 0 without KVM.
double NullCallMedianNs(bool raw) {
  DrivenVm d;
  if (!d.Boot("null").ok()) return 0.0;
  for (int i = 0; i < 100; ++i) d.Step();
  return raw ? MedianNsPerExit([&] { return d.RawExit(); })
             : MedianNsPerExit([&] { return d.Step(); });
}

double SameCodeFloorNs() {
  static const double ns = NullCallMedianNs(/*raw=*/true);
  return ns;
}

// Times the benchmark loop itself so that the ratio counters, (time per
// iteration) / floor, can be reported when the loop ends: floor_ratio
// always, host_ratio for a hypercall (against the same-code floor).
class FloorRatio {
 public:
  explicit FloorRatio(benchmark::State& state, bool hypercall = false)
      : state_(state), hypercall_(hypercall), start_(absl::Now()) {}
  ~FloorRatio() {
    if (state_.iterations() == 0 || state_.error_occurred()) return;
    const double ns = absl::ToDoubleNanoseconds(absl::Now() - start_) /
                      static_cast<double>(state_.iterations());
    if (FloorNs() > 0) state_.counters["floor_ratio"] = ns / FloorNs();
    if (hypercall_ && SameCodeFloorNs() > 0) {
      state_.counters["host_ratio"] = ns / SameCodeFloorNs();
    }
  }

 private:
  benchmark::State& state_;
  const bool hypercall_;
  const absl::Time start_;
};

// The null hypercall loop of call_loop on bare KVM_RUN (DrivenVm::RawExit).
void BM_RawSameCodeFloor(benchmark::State& state) {
  DrivenVm d;
  if (absl::Status s = d.Boot("null"); !s.ok()) {
    return state.SkipWithError(std::string(s.message()).c_str());
  }
  for (int i = 0; i < 3; ++i) d.Step();  // past the guest's start code
  FloorRatio ratio(state);  // what the guest's instructions cost here
  for (auto _ : state) {
    if (!d.RawExit()) return state.SkipWithError("unexpected exit");
  }
}
BENCHMARK(BM_RawSameCodeFloor)->UseRealTime();

// ---- Hypercalls through the hypercall page and the core's path -----------

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
  FloorRatio ratio(state, /*hypercall=*/true);
  for (auto _ : state) {
    if (!d.Step()) return state.SkipWithError("unexpected exit or status");
  }
}
BENCHMARK(BM_Hypercall)->UseRealTime()->ArgName("call")->DenseRange(0, 3);

// debug.null with --trace's recording on (hvbios/trace.h), into a file in
// $TMPDIR that the tracer's own thread writes: compare with
// BM_Hypercall/call:0 of the same run. Off, tracing costs one branch.
void BM_HypercallTraced(benchmark::State& state) {
  DrivenVm d;
  if (absl::Status s = d.Boot("null"); !s.ok()) {
    return state.SkipWithError(std::string(s.message()).c_str());
  }
  const char* tmp = getenv("TMPDIR");
  const std::string path =
      absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/hvbios-bench.trace");
  absl::StatusOr<std::shared_ptr<Tracer>> tracer = Tracer::Create(path);
  if (!tracer.ok()) {
    return state.SkipWithError(std::string(tracer.status().message()).c_str());
  }
  for (int i = 0; i < 3; ++i) d.Step();
  {
    FloorRatio ratio(state, /*hypercall=*/true);
    for (auto _ : state) {
      if (!d.Step(tracer->get())) {
        return state.SkipWithError("unexpected exit or status");
      }
    }
  }
  state.counters["dropped"] = static_cast<double>((*tracer)->dropped());
  tracer->reset();
  unlink(path.c_str());
}
BENCHMARK(BM_HypercallTraced)->UseRealTime();

// A null hypercall's cost once per run, the clock page's yardstick.
double NullHypercallNs() {
  static const double ns = NullCallMedianNs(/*raw=*/false);
  return ns;
}

// Exit-free clock reads, timed in the guest and reported next to a null
// hypercall: `mode` "clockpage" times 17 reads of the clock page (rdtsc and
// the conversion) per exit, "clockcoarse" 16 loads of its coarse word (net
// of the timing read).
void ClockRead(benchmark::State& state, const char* mode, int reads_per_exit) {
  DrivenVm d;
  if (absl::Status s = d.Boot(mode); !s.ok()) {
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
    state.SetIterationTime(static_cast<double>(ns) * 1e-9 / reads_per_exit);
    total_ns += static_cast<double>(ns);
    reads += reads_per_exit;
  }
  if (reads > 0 && NullHypercallNs() > 0 && FloorNs() > 0) {
    state.counters["hypercall_ratio"] = total_ns / reads / NullHypercallNs();
    state.counters["floor_ratio"] = total_ns / reads / FloorNs();
  }
}
void BM_ClockPageRead(benchmark::State& state) {
  ClockRead(state, "clockpage", 17);
}
void BM_ClockCoarseRead(benchmark::State& state) {
  ClockRead(state, "clockcoarse", 16);
}
// A fixed count: each iteration runs 16 or 17 reads, but reports the time
// of one.
BENCHMARK(BM_ClockPageRead)->UseManualTime()->Iterations(2000);
BENCHMARK(BM_ClockCoarseRead)->UseManualTime()->Iterations(2000);

// The CPU time of the whole process (every thread), in ns.
double ProcessCpuNs() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e9 + static_cast<double>(t.tv_nsec);
}

// A minimal KVM VM from nothing to its first exit and back to nothing: the
// floor of the boot case below.
void BM_RawVmBoot(benchmark::State& state) {
  for (auto _ : state) {
    RawExitVm vm;
    if (!vm.ok() || !vm.Exit()) return state.SkipWithError("no /dev/kvm");
  }
}
BENCHMARK(BM_RawVmBoot)
    ->MeasureProcessCPUTime()
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// Its process CPU per boot once per run: the median of 5 rounds of 20.
double RawBootCpuNs() {
  static const double ns = [] {
    std::vector<double> rounds;
    for (int r = 0; r < 5; ++r) {
      const double start = ProcessCpuNs();
      for (int i = 0; i < 20; ++i) {
        RawExitVm vm;
        if (!vm.ok() || !vm.Exit()) return 0.0;
      }
      rounds.push_back((ProcessCpuNs() - start) / 20);
    }
    std::sort(rounds.begin(), rounds.end());
    return rounds[2];
  }();
  return ns;
}

// From nothing to the guest's first hypercall, then teardown: VM, RAM,
// image load, boot environment, vCPU, first entry. raw_boot_ratio: its
// process CPU against a minimal KVM VM's (BM_RawVmBoot).
void BM_VmCreateBootToFirstHypercallDestroy(benchmark::State& state) {
  FloorRatio ratio(state);
  const double cpu_start = ProcessCpuNs();
  for (auto _ : state) {
    DrivenVm d;
    absl::Status s = d.Boot("null");
    if (!s.ok()) return state.SkipWithError(std::string(s.message()).c_str());
    absl::StatusOr<VcpuExit> exit = d.vcpu->Run();
    if (!exit.ok() || exit->kind != VcpuExit::Kind::kHypercall) {
      return state.SkipWithError("the guest did not reach a hypercall");
    }
  }
  const double cpu_per_boot =
      (ProcessCpuNs() - cpu_start) / static_cast<double>(state.iterations());
  if (RawBootCpuNs() > 0) {
    state.counters["raw_boot_ratio"] = cpu_per_boot / RawBootCpuNs();
  }
}
BENCHMARK(BM_VmCreateBootToFirstHypercallDestroy)
    ->MeasureProcessCPUTime()
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

// Boots `guest` with `options` and feeds the "round NS" lines it prints
// (one round: `per_round` requests timed in the guest) to `state` as
// manual iteration times; round 0 warms up. Sets ns_per_request and
// floor_ratio per request. False (state skipped) if the guest fails.
bool RunGuestRounds(benchmark::State& state, VmOptions options,
                    const char* guest, int per_round) {
  Mutex mu;
  std::vector<uint64_t> rounds;  // guarded by mu
  std::string partial;           // console bytes not yet a whole line
  options.memory_bytes = 64 << 20;
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
  if (!vm.ok()) {
    state.SkipWithError(std::string(vm.status().message()).c_str());
    return false;
  }
  absl::Status s = (*vm)->LoadGuestFile(GuestPath(guest));
  absl::StatusOr<Vcpu*> vcpu = (*vm)->CreateVcpu(0);
  if (!s.ok() || !vcpu.ok() || !(*vcpu)->Start().ok()) {
    state.SkipWithError("cannot boot the benchmark guest");
    return false;
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
        state.SkipWithError("the guest stopped reporting");
        return false;
      }
      ns = rounds[next++];
    }
    state.SetIterationTime(static_cast<double>(ns) * 1e-9);
    total_ns += static_cast<double>(ns);
  }
  (*vm)->Stop();
  state.SetItemsProcessed(state.iterations() * per_round);
  const double per_request =
      total_ns / static_cast<double>(state.iterations() * per_round);
  state.counters["ns_per_request"] = per_request;
  if (FloorNs() > 0) state.counters["floor_ratio"] = per_request / FloorNs();
  return true;
}

// args: path (0 synchronous calls, 1 ring with the SDK's post and reap, 2
// ring with its lean path), sectors per request (8: 4 KiB,
// 128: 64 KiB), batch (ring). One iteration is a round of 64 reads timed in
// the guest (bench/guests/blk_bench.c); items/s is IOPS, bytes/s the
// throughput, ns_per_request and floor_ratio per request.
void BM_BlockRead(benchmark::State& state) {
  constexpr int kRequests = 64;
  const int64_t sectors = state.range(1), batch = state.range(2);
  absl::StatusOr<std::unique_ptr<BlockDevice>> disk = TemporaryDisk(8 << 20);
  if (!disk.ok()) return state.SkipWithError("cannot make a temporary disk");
  VmOptions options;
  static const char* const kPaths[] = {"sync ", "ring ", "lean "};
  options.cmdline = absl::StrCat(kPaths[state.range(0)], sectors, " ", batch);
  options.disks.push_back(*std::move(disk));
  if (RunGuestRounds(state, std::move(options), "blk_bench.elf", kRequests)) {
    state.SetBytesProcessed(state.iterations() * kRequests * sectors * 512);
  }
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
    ->Args({2, 8, 1})
    ->Args({2, 8, 8})
    ->Args({2, 8, 32})
    ->UseManualTime()
    ->Iterations(20)
    ->Unit(benchmark::kMicrosecond);

// args: path (0 net.send per frame, 1 a transmit ring), frame bytes (64,
// 1514), batch (ring). One iteration is a round of 64 frames sent, timed
// in the guest (bench/guests/net_bench.c), to a link that only counts
// them: the cost of the path, not of a network. items/s is packets/s,
// bytes/s the throughput (x 8: Mbit/s), floor_ratio per frame.
void BM_NetTransmit(benchmark::State& state) {
  constexpr int kFrames = 64;
  const int64_t bytes = state.range(1), batch = state.range(2);
  auto sent = std::make_shared<std::atomic<uint64_t>>(0);
  absl::StatusOr<std::shared_ptr<NetCallbackLink>> link =
      MakeCallbackNetLink({.send = [sent](absl::Span<const uint8_t>) {
        sent->fetch_add(1, std::memory_order_relaxed);
        return absl::OkStatus();
      }});
  if (!link.ok()) return state.SkipWithError("no callback link");
  VmOptions options;
  options.cmdline =
      absl::StrCat(state.range(0) == 0 ? "sync " : "ring ", bytes, " ", batch);
  options.nets.push_back({.link = *link});
  if (RunGuestRounds(state, std::move(options), "net_bench.elf", kFrames)) {
    state.SetBytesProcessed(state.iterations() * kFrames * bytes);
    if (sent->load() < static_cast<uint64_t>(state.iterations() * kFrames)) {
      state.SkipWithError("the link got fewer frames than the guest sent");
    }
  }
}
BENCHMARK(BM_NetTransmit)
    ->ArgNames({"ring", "bytes", "batch"})
    ->Args({0, 64, 1})
    ->Args({0, 1514, 1})
    ->Args({1, 64, 1})
    ->Args({1, 64, 8})
    ->Args({1, 64, 32})
    ->Args({1, 1514, 1})
    ->Args({1, 1514, 8})
    ->Args({1, 1514, 32})
    ->UseManualTime()
    ->Iterations(20)
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace hvbios::bench

BENCHMARK_MAIN();
