// The core's Vm/Vcpu on the scripted fake backend: lifecycle rules,
// hypercall plumbing, exit reporting. No KVM needed.
#include "hvbios/vm.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "hvbios/abi/boot.h"
#include "hvbios/abi/hypercall.h"
#include "hvbios/abi/status.h"
#include "hvbios/internal/mutex.h"
#include "hvbios/trace.h"
#include "lib/guest_memory.h"
#include "tests/elf_builder.h"
#include "tests/fake_backend.h"
#include "tests/test_util.h"
#include "tools/hvbios-trace/report.h"

namespace hvbios {
namespace {

using testing::AwaitCompletions;
using testing::AwaitInterrupts;
using testing::FakeBackendVm;
using testing::FakeVcpuScript;

class VmTest : public ::testing::Test {
 protected:
  void Create(VmOptions options = {}) {
    options.console_output = [this](absl::string_view bytes) {
      hvbios::MutexLock lock(&mu_);
      absl::StrAppend(&console_, bytes);
    };
    auto backend = std::make_unique<FakeBackendVm>();
    backend_ = backend.get();
    ASSERT_OK_AND_ASSIGN(vm_, Vm::Create(std::move(backend), options));
  }
  void LoadAndStart() {
    ASSERT_OK(vm_->LoadGuest(testing::ElfBuilder::Simple().Build()));
    ASSERT_OK_AND_ASSIGN(Vcpu * vcpu, vm_->CreateVcpu(0));
    ASSERT_OK(vcpu->Start());
  }
  std::string console() {
    hvbios::MutexLock lock(&mu_);
    return console_;
  }

  FakeBackendVm* backend_ = nullptr;
  std::unique_ptr<Vm> vm_;
  hvbios::Mutex mu_;
  std::string console_ ABSL_GUARDED_BY(mu_);
};

TEST_F(VmTest, CreateMapsRamIntoTheBackend) {
  Create({.memory_bytes = 64 << 20});
  auto mappings = backend_->mappings();
  ASSERT_EQ(mappings.size(), 1u);
  EXPECT_EQ(mappings[0].gpa, 0u);
  EXPECT_EQ(mappings[0].size, 64u << 20);
  EXPECT_EQ(mappings[0].host, vm_->memory().Translate(0, 1));
}

TEST_F(VmTest, CreateRejectsBadOptions) {
  EXPECT_EQ(CodeOf(Vm::Create(nullptr, {})),
            absl::StatusCode::kInvalidArgument);
  for (VmOptions bad :
       {VmOptions{.memory_bytes = 3 << 20}, VmOptions{.vcpu_count = 0},
        VmOptions{.vcpu_count = 257},
        VmOptions{.cmdline = std::string(5000, 'x')}}) {
    EXPECT_EQ(CodeOf(Vm::Create(std::make_unique<FakeBackendVm>(), bad)),
              absl::StatusCode::kInvalidArgument);
  }
}

TEST_F(VmTest, VcpuLifecycleMisuseIsReported) {
  Create({.vcpu_count = 2});
  EXPECT_EQ(CodeOf(vm_->Wait(absl::ZeroDuration())),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(CodeOf(vm_->CreateVcpu(2)), absl::StatusCode::kOutOfRange);
  ASSERT_OK_AND_ASSIGN(Vcpu * boot, vm_->CreateVcpu(0));
  EXPECT_EQ(CodeOf(vm_->CreateVcpu(0)), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(vm_->vcpu(0), boot);
  EXPECT_EQ(vm_->vcpu(1), nullptr);
  EXPECT_EQ(boot->state(), VcpuState::kCreated);
  EXPECT_EQ(boot->Start().code(), absl::StatusCode::kFailedPrecondition)
      << "no guest loaded yet";
  ASSERT_OK(vm_->LoadGuest(testing::ElfBuilder::Simple().Build()));
  EXPECT_EQ(vm_->LoadGuest(testing::ElfBuilder::Simple().Build()).code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_OK_AND_ASSIGN(Vcpu * ap, vm_->CreateVcpu(1));
  EXPECT_EQ(ap->Start().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_OK(boot->Start());
  EXPECT_EQ(boot->state(), VcpuState::kRunning);
  EXPECT_EQ(boot->Start().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(CodeOf(boot->GetRegisters()),
            absl::StatusCode::kFailedPrecondition);
  vm_->Stop();
  ASSERT_OK_AND_ASSIGN(VmExit exit, vm_->Wait());
  EXPECT_EQ(exit.reason, VmExit::Reason::kStopped);
  EXPECT_EQ(boot->state(), VcpuState::kStopped);
  EXPECT_OK(boot->GetRegisters().status());
}

TEST_F(VmTest, BootVcpuStartsAtTheEntryWithTheBootInfo) {
  Create();
  std::shared_ptr<FakeVcpuScript> script = backend_->Script(0);
  script->AddHypercall(HVB_FN_POWER_SHUTDOWN, {0});
  LoadAndStart();
  ASSERT_OK(vm_->Wait().status());
  hvbios::MutexLock lock(&script->mu);
  ASSERT_TRUE(script->entry.has_value());
  EXPECT_EQ(script->entry->rip, 0x100000u);
  hvb_boot_info info;
  ASSERT_TRUE(vm_->memory().ReadObject(script->entry->rdi, &info));
  EXPECT_EQ(info.magic, HVB_BOOT_MAGIC);
}

TEST_F(VmTest, ServesHypercallsUntilShutdown) {
  Create();
  const char kText[] = "guest says hi";
  ASSERT_TRUE(vm_->memory().Write(0x8000, kText, sizeof(kText) - 1));
  std::shared_ptr<FakeVcpuScript> script = backend_->Script(0);
  script->AddHypercall(HVB_FN_CONSOLE_WRITE, {0x8000, sizeof(kText) - 1});
  script->AddHypercall(HVB_FN_CONSOLE_WRITE, {UINT64_MAX, 4});
  script->AddHypercall(HVB_FID(0x99, 0));
  script->AddHypercall(HVB_FN_POWER_SHUTDOWN, {300});
  script->AddHypercall(HVB_FN_POWER_SHUTDOWN, {7});
  script->AddHypercall(HVB_FN_DEBUG_NULL);  // never reached
  LoadAndStart();
  ASSERT_OK_AND_ASSIGN(VmExit exit, vm_->Wait());
  EXPECT_EQ(exit.reason, VmExit::Reason::kShutdown);
  EXPECT_EQ(exit.exit_code, 7);
  EXPECT_EQ(console(), kText);
  std::vector<HypercallResult> done = script->Completions();
  ASSERT_EQ(done.size(), 5u);
  EXPECT_EQ(done[0].status, HVB_OK);
  EXPECT_EQ(done[0].value, sizeof(kText) - 1);
  EXPECT_EQ(done[1].status, HVB_ERR_FAULT);
  EXPECT_EQ(done[2].status, HVB_ERR_NOSYS);
  EXPECT_EQ(done[3].status, HVB_ERR_INVAL);
  hvbios::MutexLock lock(&script->mu);
  EXPECT_EQ(script->exits.size(), 1u) << "the vCPU stopped at shutdown";
}

TEST_F(VmTest, ConsoleInputReachesTheGuestAndIsBounded) {
  Create();
  EXPECT_EQ(vm_->PushConsoleInput("typed"), 5u);
  EXPECT_EQ(vm_->PushConsoleInput(std::string(70000, 'x')), 65536u - 5);
  EXPECT_EQ(vm_->PushConsoleInput("more"), 0u);
  std::shared_ptr<FakeVcpuScript> script = backend_->Script(0);
  script->AddHypercall(HVB_FN_CONSOLE_READ, {0x9000, 3});
  script->AddHypercall(HVB_FN_POWER_SHUTDOWN, {0});
  LoadAndStart();
  ASSERT_OK(vm_->Wait().status());
  EXPECT_EQ(std::memcmp(vm_->memory().Translate(0x9000, 3), "typ", 3), 0);
  EXPECT_EQ(vm_->PushConsoleInput("abc"), 3u) << "reading made room";
}

TEST_F(VmTest, RebootIsReported) {
  Create();
  backend_->Script(0)->AddHypercall(HVB_FN_POWER_REBOOT);
  LoadAndStart();
  ASSERT_OK_AND_ASSIGN(VmExit exit, vm_->Wait());
  EXPECT_EQ(exit.reason, VmExit::Reason::kReboot);
}

TEST_F(VmTest, GuestFaultsStopTheVmWithRegisters) {
  const std::pair<VcpuExit::Kind, const char*> cases[] = {
      {VcpuExit::Kind::kShutdown, "triple fault"},
      {VcpuExit::Kind::kHalt, "halted"},
      {VcpuExit::Kind::kIo, "I/O port"},
      {VcpuExit::Kind::kMmio, "neither RAM nor"},
      {VcpuExit::Kind::kInternalError, "could not execute"},
      {VcpuExit::Kind::kFailEntry, "refused to enter"},
      {VcpuExit::Kind::kOther, "unexpected exit"},
  };
  for (auto [kind, text] : cases) {
    SCOPED_TRACE(text);
    Create();
    backend_->Script(0)->AddExit(kind);
    LoadAndStart();
    ASSERT_OK_AND_ASSIGN(VmExit exit, vm_->Wait());
    EXPECT_EQ(exit.reason, VmExit::Reason::kGuestFault);
    EXPECT_EQ(exit.vcpu_id, 0u);
    EXPECT_NE(exit.message.find(text), std::string::npos) << exit.message;
    EXPECT_NE(exit.message.find("rip 0000000000100000"), std::string::npos)
        << exit.message;
    vm_.reset();
  }
}

TEST_F(VmTest, WaitTimesOutOnARunningGuestAndStopEndsIt) {
  Create();
  LoadAndStart();  // empty script: the fake vCPU "spins" until kicked
  EXPECT_EQ(CodeOf(vm_->Wait(absl::Milliseconds(20))),
            absl::StatusCode::kDeadlineExceeded);
  vm_->Stop();
  ASSERT_OK_AND_ASSIGN(VmExit exit, vm_->Wait());
  EXPECT_EQ(exit.reason, VmExit::Reason::kStopped);
  EXPECT_EQ(CodeOf(vm_->vcpu(0)->Start()),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(VmTest, DestroyingARunningVmStopsItsVcpus) {
  Create();
  std::shared_ptr<FakeVcpuScript> script = backend_->Script(0);
  LoadAndStart();
  {
    hvbios::MutexLock lock(&script->mu);
    auto running = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(script->mu) {
      return script->runs > 0;
    };
    script->mu.Await(running);  // inside the "guest" now
  }
  vm_.reset();  // must kick and join the spinning vCPU thread, not hang
  hvbios::MutexLock lock(&script->mu);
  EXPECT_GE(script->runs, 1);
  EXPECT_FALSE(script->kicked) << "the kick ended the run it interrupted";
}

TEST_F(VmTest, FirstExitReasonWins) {
  Create();
  std::shared_ptr<FakeVcpuScript> script = backend_->Script(0);
  script->AddHypercall(HVB_FN_POWER_SHUTDOWN, {3});
  LoadAndStart();
  ASSERT_OK_AND_ASSIGN(VmExit exit, vm_->Wait());
  vm_->Stop();
  ASSERT_OK_AND_ASSIGN(VmExit again, vm_->Wait());
  EXPECT_EQ(again.reason, VmExit::Reason::kShutdown);
  EXPECT_EQ(again.exit_code, 3);
}

TEST_F(VmTest, ConsoleInputRaisesTheRoutedEventUnlessMasked) {
  Create();
  std::shared_ptr<FakeVcpuScript> script = backend_->Script(0);
  EXPECT_EQ(vm_->PushConsoleInput("x"), 1u);  // unrouted: no event
  script->AddHypercall(HVB_FN_EVENT_ROUTE,
                       {HVB_EVENT_SRC_CONSOLE_INPUT, 0, 0x44});
  LoadAndStart();
  AwaitCompletions(*script, 1);
  // Input was pending when the source was routed: one event says so.
  ASSERT_TRUE(AwaitInterrupts(*backend_, 1));
  EXPECT_EQ(backend_->interrupts()[0], (std::pair<uint32_t, uint8_t>{0, 0x44}));
  vm_->PushConsoleInput("a");
  ASSERT_TRUE(AwaitInterrupts(*backend_, 2));
  script->AddHypercall(HVB_FN_EVENT_MASK, {HVB_EVENT_SRC_CONSOLE_INPUT});
  AwaitCompletions(*script, 2);
  vm_->PushConsoleInput("b");
  vm_->PushConsoleInput("c");
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(backend_->interrupts().size(), 2u) << "held while masked";
  script->AddHypercall(HVB_FN_EVENT_UNMASK, {HVB_EVENT_SRC_CONSOLE_INPUT});
  AwaitCompletions(*script, 3);
  ASSERT_TRUE(AwaitInterrupts(*backend_, 3));
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(backend_->interrupts().size(), 3u) << "one pending event";
}

TEST_F(VmTest, TimerRaisesItsVectorOnTheCaller) {
  Create({.vcpu_count = 2});
  std::shared_ptr<FakeVcpuScript> script = backend_->Script(0);
  script->AddHypercall(HVB_FN_TIMER_SET, {0, 0x45});  // already due
  LoadAndStart();
  ASSERT_TRUE(AwaitInterrupts(*backend_, 1));
  EXPECT_EQ(backend_->interrupts()[0], (std::pair<uint32_t, uint8_t>{0, 0x45}));
  script->AddHypercall(HVB_FN_TIMER_SET, {UINT64_MAX, 0x46});
  script->AddHypercall(HVB_FN_TIMER_CANCEL);
  AwaitCompletions(*script, 3);
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(backend_->interrupts().size(), 1u);
}

// With a tracer, every event raised is recorded on its target vCPU: a
// routed source's with the source, a timer's with none.
TEST_F(VmTest, RaisedEventsAreTraced) {
  const std::string path = ::testing::TempDir() + "/events.trace";
  {
    ASSERT_OK_AND_ASSIGN(std::shared_ptr<Tracer> tracer, Tracer::Create(path));
    Create({.trace = tracer});
    std::shared_ptr<FakeVcpuScript> script = backend_->Script(0);
    script->AddHypercall(HVB_FN_EVENT_ROUTE,
                         {HVB_EVENT_SRC_CONSOLE_INPUT, 0, 0x44});
    script->AddHypercall(HVB_FN_TIMER_SET, {0, 0x45});
    LoadAndStart();
    AwaitCompletions(*script, 2);
    vm_->PushConsoleInput("a");
    ASSERT_TRUE(AwaitInterrupts(*backend_, 2));
    vm_->Stop();
    ASSERT_OK(vm_->Wait().status());
    vm_.reset();
    ASSERT_OK(tracer->Flush());
  }
  std::ifstream in(path, std::ios::binary);
  ASSERT_OK_AND_ASSIGN(
      const trace::TraceFile file,
      trace::ParseTrace(std::string(std::istreambuf_iterator<char>(in), {})));
  std::vector<std::pair<uint64_t, uint64_t>> events;  // vector, source
  for (const TraceRecord& r : file.records) {
    if (r.kind != TraceKind::kEvent) continue;
    EXPECT_EQ(r.vcpu, 0u);
    events.push_back({r.code, r.args[0]});
  }
  // The timer's thread and the console race: in either order.
  std::sort(events.begin(), events.end());
  EXPECT_EQ(events,
            (std::vector<std::pair<uint64_t, uint64_t>>{
                {0x44, HVB_EVENT_SRC_CONSOLE_INPUT}, {0x45, kTraceNoSource}}));
}

TEST_F(VmTest, GuestStartsAndStopsVcpus) {
  Create({.vcpu_count = 2});
  std::shared_ptr<FakeVcpuScript> boot = backend_->Script(0);
  std::shared_ptr<FakeVcpuScript> ap = backend_->Script(1);
  ap->AddHypercall(HVB_FN_VCPU_SELF);
  ap->AddHypercall(HVB_FN_VCPU_STOP);
  boot->AddHypercall(HVB_FN_VCPU_START, {1, 0x100000, 0x200000, 42, 0});
  boot->AddHypercall(HVB_FN_VCPU_START, {1, 0x100000, 0x200000, 42, 0});
  LoadAndStart();
  AwaitCompletions(*ap, 2);
  EXPECT_EQ(ap->Completions()[0].value, 1u) << "vcpu.self on vCPU 1";
  {
    hvbios::MutexLock lock(&ap->mu);
    ASSERT_TRUE(ap->entry.has_value());
    EXPECT_EQ(ap->entry->rdi, 42u);
    EXPECT_EQ(ap->entry->rsp, 0x200000u);
  }
  // The second start raced the first: running (STATE) or restarted (OK).
  AwaitCompletions(*boot, 2);
  const int64_t second = boot->Completions()[1].status;
  EXPECT_TRUE(second == HVB_OK || second == HVB_ERR_STATE) << second;
  {
    hvbios::MutexLock lock(&ap->mu);
    EXPECT_EQ(ap->interrupt_resets, second == HVB_OK ? 2 : 1)
        << "every start begins with no events pending";
  }
  // Now the boot vCPU stops too: nothing is left running.
  boot->AddHypercall(HVB_FN_VCPU_STOP);
  ap->AddHypercall(HVB_FN_VCPU_STOP);  // in case the second start restarted
  ASSERT_OK_AND_ASSIGN(VmExit exit, vm_->Wait(absl::Seconds(30)));
  EXPECT_EQ(exit.reason, VmExit::Reason::kGuestFault);
  EXPECT_NE(exit.message.find("no vCPU is left running"), std::string::npos)
      << exit.message;
}

TEST_F(VmTest, QueueEventsAreBoundToAnIrqfd) {
  BlockCallbacks callbacks;
  callbacks.size_bytes = 64 << 10;
  callbacks.read_only = true;
  callbacks.read = [](uint64_t, absl::Span<uint8_t> dst) {
    std::fill(dst.begin(), dst.end(), 0);
    return absl::OkStatus();
  };
  ASSERT_OK_AND_ASSIGN(auto disk, MakeCallbackBlockDevice(callbacks));
  Create({.disks = {std::move(disk)}});
  std::shared_ptr<FakeVcpuScript> script = backend_->Script(0);
  script->AddHypercall(HVB_FN_BLOCK_QUEUE_SETUP, {0, 0x200000, 8});
  script->AddHypercall(HVB_FN_EVENT_ROUTE, {HVB_EVENT_SRC_QUEUE(0), 0, 0x48});
  script->AddHypercall(HVB_FN_EVENT_ROUTE, {HVB_EVENT_SRC_QUEUE(1), 0, 0x48});
  LoadAndStart();
  AwaitCompletions(*script, 3);
  const std::vector<HypercallResult> done = script->Completions();
  EXPECT_EQ(done[0].status, HVB_OK);
  EXPECT_EQ(done[0].value, 0u) << "first queue id";
  EXPECT_EQ(done[1].status, HVB_OK);
  EXPECT_EQ(done[2].status, HVB_ERR_NODEV) << "queue 1 does not exist";
  const auto fds = backend_->interrupt_fds();
  ASSERT_EQ(fds.size(), 1u);
  EXPECT_EQ(fds.begin()->second, (std::pair<uint32_t, uint8_t>{0, 0x48}));
  EXPECT_TRUE(backend_->interrupts().empty())
      << "queue events never go through RaiseInterrupt";
}

}  // namespace
}  // namespace hvbios
