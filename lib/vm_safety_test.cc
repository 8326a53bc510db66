// The host API under misuse and stress, on the scripted fake backend: a
// console sink that stops taking output, callbacks that call back into the
// library, pauses racing starts, timers of stopped vCPUs.
#include <atomic>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "hvbios/abi/hypercall.h"
#include "hvbios/abi/status.h"
#include "hvbios/vm.h"
#include "lib/guest_memory.h"
#include "tests/elf_builder.h"
#include "tests/fake_backend.h"
#include "tests/test_util.h"

namespace hvbios {
namespace {

using testing::AwaitCompletions;
using testing::FakeBackendVm;
using testing::FakeVcpuScript;

class VmSafetyTest : public ::testing::Test {
 protected:
  void Create(VmOptions options) {
    auto backend = std::make_unique<FakeBackendVm>();
    backend_ = backend.get();
    ASSERT_OK_AND_ASSIGN(vm_, Vm::Create(std::move(backend), options));
  }
  void LoadAndStart() {
    ASSERT_OK(vm_->LoadGuest(testing::ElfBuilder::Simple().Build()));
    ASSERT_OK_AND_ASSIGN(Vcpu * vcpu, vm_->CreateVcpu(0));
    ASSERT_OK(vcpu->Start());
  }
  static size_t Count(const std::vector<HypercallResult>& done,
                      int64_t status) {
    return std::count_if(done.begin(), done.end(),
                         [&](const auto& r) { return r.status == status; });
  }

  FakeBackendVm* backend_ = nullptr;
  std::unique_ptr<Vm> vm_;
};

// The sink stops taking output (a pipe nobody reads): the guest is held
// back (HVB_ERR_AGAIN once 64 KiB wait), and pause, stop and a bounded
// wait all still return; the VM's output is all delivered once the sink
// moves again.
TEST_F(VmSafetyTest, AStuckConsoleSinkHoldsNothingButTheGuest) {
  absl::Notification release;
  std::atomic<size_t> delivered{0};
  Create({.console_output = [&](absl::string_view bytes) {
    release.WaitForNotification();
    delivered += bytes.size();
  }});
  constexpr int kWrites =
      40;  // 160 KiB: the buffer, and a batch the sink holds
  ASSERT_TRUE(
      vm_->memory().Write(0x200000, std::string(4096, 'x').data(), 4096));
  std::shared_ptr<FakeVcpuScript> script = backend_->Script(0);
  for (int i = 0; i < kWrites; ++i) {
    script->AddHypercall(HVB_FN_CONSOLE_WRITE, {0x200000, 4096});
  }
  LoadAndStart();
  AwaitCompletions(*script, kWrites);
  const std::vector<HypercallResult> done = script->Completions();
  EXPECT_GE(Count(done, HVB_ERR_AGAIN), 1u) << "the guest was held back";
  EXPECT_EQ(Count(done, HVB_OK) + Count(done, HVB_ERR_AGAIN), done.size());

  // More output while paused and stopped: both must return regardless.
  script->AddHypercall(HVB_FN_CONSOLE_WRITE, {0x200000, 4096});
  ASSERT_OK(vm_->Pause());
  ASSERT_OK(vm_->Resume());
  vm_->Stop();
  auto exit = vm_->Wait(absl::Milliseconds(200));
  EXPECT_EQ(CodeOf(exit), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(exit.status().message().find("console output"), std::string::npos)
      << exit.status();
  release.Notify();
  ASSERT_OK_AND_ASSIGN(VmExit stopped, vm_->Wait());
  EXPECT_EQ(stopped.reason, VmExit::Reason::kStopped);
  EXPECT_EQ(delivered % 4096, 0u);
  EXPECT_EQ(delivered / 4096, Count(script->Completions(), HVB_OK))
      << "every byte taken is delivered, nothing else";
}

// Calls that wait for vCPUs or library threads, made from inside a
// callback, used to deadlock (pause) or throw through the C API (destroy).
// They fail with FailedPrecondition; the others work.
TEST_F(VmSafetyTest, CallbacksCannotMakeCallsThatWait) {
  std::vector<absl::StatusCode> from_console, from_disk;
  absl::Notification console_done;
  Vm* vm = nullptr;
  auto try_everything = [&vm](std::vector<absl::StatusCode>* codes) {
    Vcpu* vcpu = vm->vcpu(0);
    codes->push_back(vm->Pause().code());
    codes->push_back(vm->Resume().code());
    codes->push_back(CodeOf(vm->Wait(absl::ZeroDuration())));
    codes->push_back(vcpu->Pause().code());
    codes->push_back(vcpu->Resume().code());
    codes->push_back(vcpu->Destroy().code());
    // These do not wait: they work from anywhere.
    codes->push_back(vm->RaiseEvent(0, 0x40).code());
    uint64_t word = 0;
    codes->push_back(vm->ReadGuestMemory(0x200000, &word, 8).code());
    vm->PushConsoleInput("x");
    (void)vcpu->status();
  };
  BlockCallbacks disk;
  disk.size_bytes = 4096;
  disk.read_only = true;
  disk.read = [&](uint64_t, absl::Span<uint8_t> dst) {
    std::fill(dst.begin(), dst.end(), 0);
    try_everything(&from_disk);
    return absl::OkStatus();
  };
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<BlockDevice> device,
                       MakeCallbackBlockDevice(disk));
  Create(
      {.disks = {std::move(device)}, .console_output = [&](absl::string_view) {
         if (console_done.HasBeenNotified()) return;
         try_everything(&from_console);
         vm->Stop();  // does not wait: allowed
         console_done.Notify();
       }});
  vm = vm_.get();
  std::shared_ptr<FakeVcpuScript> script = backend_->Script(0);
  script->AddHypercall(HVB_FN_BLOCK_READ, {0, 0, 1, 0x200000});
  script->AddHypercall(HVB_FN_CONSOLE_WRITE, {0x200000, 1});
  LoadAndStart();
  ASSERT_OK_AND_ASSIGN(VmExit exit, vm_->Wait(absl::Seconds(30)));
  EXPECT_EQ(exit.reason, VmExit::Reason::kStopped) << "the sink's Stop()";
  for (const auto* codes : {&from_disk, &from_console}) {
    ASSERT_EQ(codes->size(), 8u);
    for (int i = 0; i < 6; ++i) {
      EXPECT_EQ((*codes)[i], absl::StatusCode::kFailedPrecondition) << i;
    }
    EXPECT_EQ((*codes)[6], absl::StatusCode::kOk);
    EXPECT_EQ((*codes)[7], absl::StatusCode::kOk);
  }
  EXPECT_EQ(script->Completions()[0].status, HVB_OK);
}

// Vm::Pause holds every vCPU until Resume, those started meanwhile too.
TEST_F(VmSafetyTest, APauseHoldsVcpusStartedWhileItLasts) {
  Create({.vcpu_count = 2});
  std::shared_ptr<FakeVcpuScript> ap = backend_->Script(1);
  ap->AddHypercall(HVB_FN_DEBUG_NULL);
  LoadAndStart();
  ASSERT_OK(vm_->Pause());
  ASSERT_OK_AND_ASSIGN(Vcpu * vcpu, vm_->CreateVcpu(1));
  ASSERT_OK(vcpu->StartAt({.rip = 0x100000, .rsp = 0x200000}));
  EXPECT_EQ(vcpu->state(), VcpuState::kPaused);
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_TRUE(ap->Completions().empty()) << "it ran during the pause";
  ASSERT_OK(vm_->Resume());
  AwaitCompletions(*ap, 1);
  EXPECT_EQ(vcpu->state(), VcpuState::kRunning);
  // Once more, resuming that vCPU alone.
  ap->AddHypercall(HVB_FN_VCPU_STOP);
  for (int i = 0; i < 30000 && vcpu->state() != VcpuState::kStopped; ++i) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  ASSERT_EQ(vcpu->state(), VcpuState::kStopped);
  ap->AddHypercall(HVB_FN_DEBUG_NULL);
  ASSERT_OK(vm_->Pause());
  ASSERT_OK(vcpu->StartAt({.rip = 0x100000, .rsp = 0x200000}));
  EXPECT_EQ(vcpu->state(), VcpuState::kPaused);
  ASSERT_OK(vcpu->Resume());
  AwaitCompletions(*ap, 3);
  ASSERT_OK(vm_->Resume());
}

// A vCPU that stops itself loses its armed timer: it used to fire after
// the vCPU's next start.
TEST_F(VmSafetyTest, AStoppedVcpuHasNoTimer) {
  Create({.vcpu_count = 2});
  std::shared_ptr<FakeVcpuScript> ap = backend_->Script(1);
  ap->AddHypercall(HVB_FN_TIMER_SET, {0, 0x50});  // at once: proves it works
  LoadAndStart();
  ASSERT_OK_AND_ASSIGN(Vcpu * vcpu, vm_->CreateVcpu(1));
  ASSERT_OK(vcpu->StartAt({.rip = 0x100000, .rsp = 0x200000}));
  ASSERT_TRUE(testing::AwaitInterrupts(*backend_, 1));
  ap->AddHypercall(HVB_FN_TIMER_SET, {300'000'000, 0x51});  // 300 ms
  ap->AddHypercall(HVB_FN_VCPU_STOP);
  AwaitCompletions(*ap, 3);
  absl::SleepFor(absl::Milliseconds(500));
  const auto interrupts = backend_->interrupts();
  ASSERT_EQ(interrupts.size(), 1u);
  EXPECT_EQ(interrupts[0], (std::pair<uint32_t, uint8_t>{1, 0x50}));
}

}  // namespace
}  // namespace hvbios
