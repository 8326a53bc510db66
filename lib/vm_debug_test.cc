// hvbios::Debugger (hvbios/debug.h) on the scripted fake backend: stepping
// only while wanted, breakpoints found among single-step exits, all-stop,
// steps, interrupts, the VM's end, and virtual memory through page tables.
#include <poll.h>

#include "gtest/gtest.h"
#include "hvbios/abi/hypercall.h"
#include "hvbios/debug.h"
#include "tests/elf_builder.h"
#include "tests/fake_backend.h"
#include "tests/test_util.h"

namespace hvbios {
namespace {

using testing::FakeBackendVm;
using testing::FakeVcpuScript;

class DebuggerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto backend = std::make_unique<FakeBackendVm>();
    backend_ = backend.get();
    ASSERT_OK_AND_ASSIGN(
        vm_, Vm::Create(std::move(backend),
                        {.memory_bytes = 16 << 20, .vcpu_count = 2}));
    ASSERT_OK(vm_->LoadGuest(testing::ElfBuilder::Simple().Build()));
    script0_ = backend_->Script(0);
    script1_ = backend_->Script(1);
    ASSERT_OK_AND_ASSIGN(debugger_, vm_->AttachDebugger());
  }
  void TearDown() override {
    debugger_.reset();
    vm_->Stop();
    (void)vm_->Wait(absl::Seconds(10));
  }

  // Starts both vCPUs held by a VM-wide pause, as a debugger attaching
  // before the guest's first instruction does.
  void StartPaused() {
    ASSERT_OK(vm_->Pause());
    ASSERT_OK_AND_ASSIGN(Vcpu * boot, vm_->CreateVcpu(0));
    ASSERT_OK(boot->Start());
    ASSERT_OK_AND_ASSIGN(Vcpu * second, vm_->CreateVcpu(1));
    ASSERT_OK(second->StartAt({.rip = 0x100000, .rsp = 0x200000}));
  }

  // The next stop, waiting for the stop fd as a debugger's loop does.
  DebugStop NextStop() {
    pollfd fd = {debugger_->stop_fd(), POLLIN, 0};
    for (int i = 0; i < 100; ++i) {
      if (poll(&fd, 1, 100) < 0) break;
      absl::StatusOr<std::optional<DebugStop>> stop = debugger_->TakeStop();
      EXPECT_OK(stop.status());
      if (stop.ok() && stop->has_value()) return **stop;
    }
    ADD_FAILURE() << "no stop within 10 s";
    return {};
  }

  std::vector<GuestDebug> DebugSettings(FakeVcpuScript& script) {
    hvbios::MutexLock lock(&script.mu);
    return script.debug;
  }

  FakeBackendVm* backend_ = nullptr;
  std::shared_ptr<FakeVcpuScript> script0_, script1_;
  std::unique_ptr<Vm> vm_;
  std::unique_ptr<Debugger> debugger_;
};

TEST_F(DebuggerTest, OneDebuggerAtATime) {
  EXPECT_EQ(vm_->AttachDebugger().status().code(),
            absl::StatusCode::kFailedPrecondition);
  debugger_.reset();
  EXPECT_OK(vm_->AttachDebugger().status());
}

TEST_F(DebuggerTest, BreakpointsStopEveryVcpuAndStepsRunOneInstruction) {
  StartPaused();
  ASSERT_OK(debugger_->InsertBreakpoint(0x100010));
  ASSERT_OK(debugger_->InsertBreakpoint(0x100010));  // the same one
  // vCPU 0 single-steps past addresses that are no breakpoint; vCPU 1
  // spins in the guest (no exits) until the all-stop kicks it.
  script0_->AddDebugStep(0x100004);
  script0_->AddDebugStep(0x100008);
  script0_->AddDebugStep(0x100010);
  script0_->AddDebugStep(0x100014);
  ASSERT_OK(debugger_->Resume(std::nullopt, true));
  DebugStop stop = NextStop();
  EXPECT_EQ(stop.reason, DebugStop::Reason::kBreakpoint);
  EXPECT_EQ(stop.vcpu_id, 0u);
  EXPECT_EQ(stop.address, 0x100010u);
  EXPECT_EQ(vm_->vcpu(0)->state(), VcpuState::kPaused);
  EXPECT_EQ(vm_->vcpu(1)->state(), VcpuState::kPaused) << "all-stop";
  ASSERT_OK_AND_ASSIGN(Registers regs, vm_->vcpu(0)->GetRegisters());
  EXPECT_EQ(regs.rip, 0x100010u);
  ASSERT_FALSE(DebugSettings(*script0_).empty());
  EXPECT_TRUE(DebugSettings(*script0_).back().single_step);

  // One instruction on vCPU 0 alone: vCPU 1 stays paused.
  ASSERT_OK(debugger_->RemoveBreakpoint(0x100010));
  EXPECT_EQ(debugger_->RemoveBreakpoint(0x100010).code(),
            absl::StatusCode::kNotFound);
  ASSERT_OK(debugger_->Resume(0, false));
  stop = NextStop();
  EXPECT_EQ(stop.reason, DebugStop::Reason::kStep);
  EXPECT_EQ(stop.address, 0x100014u);
  EXPECT_EQ(vm_->vcpu(1)->state(), VcpuState::kPaused);
  EXPECT_EQ(debugger_->Resume(7, false).code(), absl::StatusCode::kNotFound);

  // Now vCPU 1, alone.
  script1_->AddDebugStep(0x100100);
  ASSERT_OK(debugger_->Resume(1, false));
  stop = NextStop();
  EXPECT_EQ(stop.reason, DebugStop::Reason::kStep);
  EXPECT_EQ(stop.vcpu_id, 1u);
  EXPECT_EQ(stop.address, 0x100100u);
  EXPECT_EQ(vm_->vcpu(0)->state(), VcpuState::kPaused);
}

// Where the backend honours debug registers, up to that many breakpoints
// go there and nothing single-steps; going on from one sets rflags.RF so
// that it does not fire again at once; one more than fits and every vCPU
// single-steps instead.
TEST_F(DebuggerTest, BreakpointsUseDebugRegistersWhereTheyFit) {
  debugger_.reset();
  backend_->set_hardware_breakpoints(4);
  ASSERT_OK_AND_ASSIGN(debugger_, vm_->AttachDebugger());
  EXPECT_EQ(debugger_->hardware_breakpoints(), 4u);
  StartPaused();
  ASSERT_OK(debugger_->InsertBreakpoint(0x100010));
  ASSERT_OK(debugger_->InsertBreakpoint(0x100020));
  script0_->AddDebugStep(0x100010);  // the hardware stops it there
  ASSERT_OK(debugger_->Resume(std::nullopt, true));
  DebugStop stop = NextStop();
  EXPECT_EQ(stop.reason, DebugStop::Reason::kBreakpoint);
  EXPECT_EQ(stop.address, 0x100010u);
  std::vector<GuestDebug> settings = DebugSettings(*script0_);
  ASSERT_FALSE(settings.empty());
  EXPECT_FALSE(settings.back().single_step);
  ASSERT_EQ(settings.back().breakpoint_count, 2u);
  EXPECT_EQ(settings.back().breakpoints[0], 0x100010u);
  EXPECT_EQ(settings.back().breakpoints[1], 0x100020u);

  constexpr uint64_t kResumeFlag = 1u << 16;
  ASSERT_OK(debugger_->Resume(std::nullopt, true));
  ASSERT_OK(debugger_->Interrupt());
  (void)NextStop();
  ASSERT_OK_AND_ASSIGN(Registers regs, vm_->vcpu(0)->GetRegisters());
  EXPECT_NE(regs.rflags & kResumeFlag, 0u) << "it went on past 0x100010";
  ASSERT_OK_AND_ASSIGN(regs, vm_->vcpu(1)->GetRegisters());
  EXPECT_EQ(regs.rflags & kResumeFlag, 0u) << "not at a breakpoint";

  for (uint64_t a : {0x100030, 0x100040, 0x100050}) {
    ASSERT_OK(debugger_->InsertBreakpoint(a));
  }
  script0_->AddHypercall(HVB_FN_DEBUG_NULL);
  ASSERT_OK(debugger_->Resume(std::nullopt, true));
  testing::AwaitCompletions(*script0_, 1);
  settings = DebugSettings(*script0_);
  EXPECT_TRUE(settings.back().single_step) << "five do not fit in four";
  EXPECT_EQ(settings.back().breakpoint_count, 0u);
}

TEST_F(DebuggerTest, NoSteppingWithoutBreakpointsOrSteps) {
  StartPaused();
  script0_->AddHypercall(HVB_FN_DEBUG_NULL);
  ASSERT_OK(debugger_->Resume(std::nullopt, true));
  testing::AwaitCompletions(*script0_, 1);
  for (const GuestDebug& d : DebugSettings(*script0_)) {
    EXPECT_FALSE(d.single_step);
  }
}

TEST_F(DebuggerTest, InterruptStopsARunningVmAndDetachingStopsStepping) {
  StartPaused();
  ASSERT_OK(debugger_->InsertBreakpoint(0xdead0000));
  ASSERT_OK(debugger_->Resume(std::nullopt, true));
  for (int i = 0; i < 1000 && DebugSettings(*script0_).empty(); ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_FALSE(DebugSettings(*script0_).empty()) << "it steps, to find it";
  ASSERT_OK(debugger_->Interrupt());
  const DebugStop stop = NextStop();
  EXPECT_EQ(stop.reason, DebugStop::Reason::kInterrupt);
  EXPECT_EQ(stop.vcpu_id, 0u);
  EXPECT_EQ(vm_->vcpu(0)->state(), VcpuState::kPaused);
  EXPECT_EQ(vm_->vcpu(1)->state(), VcpuState::kPaused);
  debugger_.reset();
  ASSERT_OK(vm_->Resume());
  // The next entry turns stepping off.
  script0_->AddHypercall(HVB_FN_DEBUG_NULL);
  testing::AwaitCompletions(*script0_, 1);
  ASSERT_FALSE(DebugSettings(*script0_).empty());
  EXPECT_FALSE(DebugSettings(*script0_).back().single_step);
}

TEST_F(DebuggerTest, TheVmsEndIsReportedOnceAndResumingThenFails) {
  StartPaused();
  script0_->AddHypercall(HVB_FN_POWER_SHUTDOWN, {3});
  ASSERT_OK(debugger_->Resume(std::nullopt, true));
  const DebugStop stop = NextStop();
  EXPECT_EQ(stop.reason, DebugStop::Reason::kVmExit);
  EXPECT_EQ(stop.exit.reason, VmExit::Reason::kShutdown);
  EXPECT_EQ(stop.exit.exit_code, 3);
  EXPECT_EQ(vm_->vcpu(0)->state(), VcpuState::kStopped)
      << "told once the vCPU threads are gone: registers readable";
  EXPECT_OK(vm_->vcpu(0)->GetRegisters().status());
  ASSERT_OK_AND_ASSIGN(std::optional<DebugStop> again, debugger_->TakeStop());
  EXPECT_FALSE(again.has_value());
  EXPECT_EQ(debugger_->Resume(std::nullopt, true).code(),
            absl::StatusCode::kFailedPrecondition);
}

// Page tables in guest RAM: a 4 KiB page at virtual 0x40000000 maps
// physical 0x300000, the page after it is unmapped.
TEST_F(DebuggerTest, VirtualMemoryGoesThroughTheVcpusPageTables) {
  StartPaused();
  // Clear of the platform's boot page tables and the guest image.
  const uint64_t pml4 = 0x400000, pdpt = 0x401000, pd = 0x402000, pt = 0x403000;
  auto put = [&](uint64_t gpa, uint64_t value) {
    ASSERT_OK(vm_->WriteGuestMemory(gpa, &value, sizeof(value)));
  };
  put(pml4, pdpt | 3);
  put(pdpt + 8, pd | 3);  // 1 GiB .. 2 GiB
  put(pd, pt | 3);
  put(pt, 0x300000 | 3);
  put(pt + 8, 0);
  const char kText[] = "through the page tables";
  ASSERT_OK(vm_->WriteGuestMemory(0x300ff0, kText, 16));
  {
    hvbios::MutexLock lock(&script0_->mu);
    script0_->registers.cr0 = 0x80000011;
    script0_->registers.cr3 = pml4;
  }
  ASSERT_OK(debugger_->Interrupt());
  (void)NextStop();
  uint8_t out[32] = {};
  ASSERT_OK_AND_ASSIGN(
      size_t n, debugger_->ReadVirtual(0, 0x40000ff0, absl::MakeSpan(out)));
  EXPECT_EQ(n, 16u) << "stops where the mapping does";
  EXPECT_EQ(std::string(reinterpret_cast<char*>(out), 16),
            std::string(kText, 16));
  const uint8_t patch[] = {'T'};
  ASSERT_OK_AND_ASSIGN(n, debugger_->WriteVirtual(0, 0x40000ff0, patch));
  EXPECT_EQ(n, 1u);
  char byte = 0;
  ASSERT_OK(vm_->ReadGuestMemory(0x300ff0, &byte, 1));
  EXPECT_EQ(byte, 'T');
  // vCPU 1 has paging off: the same address is physical, beyond RAM.
  ASSERT_OK_AND_ASSIGN(
      n, debugger_->ReadVirtual(1, 0x40000ff0, absl::MakeSpan(out)));
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(debugger_->ReadVirtual(5, 0, absl::MakeSpan(out)).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace hvbios
