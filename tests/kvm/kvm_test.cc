// Integration tests: real guests on real /dev/kvm through the C++ API.
#include <dirent.h>

#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "hvbios/abi/hypercall.h"
#include "tests/kvm/kvm_guest.h"
#include "tests/test_util.h"

namespace hvbios {
namespace {

using testing::CapturedVm;

class KvmTest : public ::testing::Test {
 protected:
  void SetUp() override { SKIP_WITHOUT_KVM(); }
};

// Boots `guest`, waits, and returns the exit (failing the test on error).
VmExit BootAndWait(const std::string& guest, VmOptions options,
                   std::string* console = nullptr,
                   const std::string& input = "") {
  absl::StatusOr<std::unique_ptr<CapturedVm>> c =
      CapturedVm::Boot(guest, std::move(options), input);
  EXPECT_TRUE(c.ok()) << c.status();
  if (!c.ok()) return {};
  absl::StatusOr<VmExit> exit = (*c)->Wait();
  EXPECT_TRUE(exit.ok()) << exit.status();
  if (console != nullptr) *console = (*c)->console();
  return exit.ok() ? *exit : VmExit{};
}

int OpenFdCount() {
  int n = 0;
  DIR* dir = opendir("/proc/self/fd");
  while (readdir(dir) != nullptr) ++n;
  closedir(dir);
  return n;
}

TEST_F(KvmTest, HelloBootsAndPrints) {
  std::string console;
  VmExit exit = BootAndWait("hello", {.cmdline = "answer=42"}, &console);
  EXPECT_EQ(exit.reason, VmExit::Reason::kShutdown) << exit.message;
  EXPECT_EQ(exit.exit_code, 0);
  EXPECT_NE(console.find(absl::StrCat("Hello from an hvbios guest! ABI ",
                                      HVB_ABI_VERSION_MAJOR, ".",
                                      HVB_ABI_VERSION_MINOR)),
            std::string::npos)
      << console;
  EXPECT_NE(console.find("monotonic clock: "), std::string::npos) << console;
  EXPECT_NE(console.find("command line: answer=42"), std::string::npos)
      << console;
}

TEST_F(KvmTest, ConformanceGuestPassesEveryCheck) {
  std::string console;
  VmExit exit =
      BootAndWait("conformance", {.vcpu_count = 2, .cmdline = "input=ping"},
                  &console, "ping");
  std::cout << console;
  EXPECT_EQ(exit.reason, VmExit::Reason::kShutdown) << exit.message;
  EXPECT_EQ(exit.exit_code, 0);
  EXPECT_NE(console.find(" passed, 0 failed"), std::string::npos);
  EXPECT_NE(console.find("starting vCPU 1 of 2"), std::string::npos)
      << "the SMP checks ran";
  EXPECT_EQ(console.find("FAIL"), std::string::npos);
}

TEST_F(KvmTest, ShutdownCodesPropagate) {
  for (int code : {0, 1, 7, 119, 255}) {
    VmExit exit =
        BootAndWait("behave", {.cmdline = absl::StrCat("exit=", code)});
    EXPECT_EQ(exit.reason, VmExit::Reason::kShutdown) << exit.message;
    EXPECT_EQ(exit.exit_code, code);
  }
  // 256 is refused with HVB_ERR_INVAL; the guest then returns 98.
  VmExit exit = BootAndWait("behave", {.cmdline = "exit=256"});
  EXPECT_EQ(exit.exit_code, 98);
}

TEST_F(KvmTest, RebootIsReported) {
  VmExit exit = BootAndWait("behave", {.cmdline = "reboot"});
  EXPECT_EQ(exit.reason, VmExit::Reason::kReboot) << exit.message;
}

TEST_F(KvmTest, GuestDeathsAreReportedWithRegisters) {
  const std::pair<const char*, const char*> cases[] = {
      {"triple-fault", "triple fault"},
      {"port", "I/O port 0x80"},
  };
  for (auto [cmd, text] : cases) {
    SCOPED_TRACE(cmd);
    VmExit exit = BootAndWait("behave", {.cmdline = cmd});
    EXPECT_EQ(exit.reason, VmExit::Reason::kGuestFault);
    EXPECT_NE(exit.message.find(text), std::string::npos) << exit.message;
    // KVM on AMD SVM resets the vCPU at a triple fault; the report then
    // says so instead of showing a CPU at reset.
    if (exit.message.find("registers lost: the hypervisor reset the vCPU") !=
        std::string::npos) {
      EXPECT_EQ(std::string(cmd), "triple-fault") << exit.message;
      continue;
    }
    EXPECT_NE(exit.message.find("rip "), std::string::npos) << exit.message;
    EXPECT_NE(exit.message.find("cr3 0000000000010000"), std::string::npos)
        << exit.message;
  }
}

TEST_F(KvmTest, AHaltedGuestCanBePausedInspectedAndStopped) {
  // cli; hlt: with the in-kernel irqchip the vCPU blocks inside KVM_RUN,
  // where only a kick reaches it.
  ASSERT_OK_AND_ASSIGN(auto c, CapturedVm::Boot("behave", {.cmdline = "halt"}));
  EXPECT_EQ(CodeOf(c->Wait(absl::Milliseconds(200))),
            absl::StatusCode::kDeadlineExceeded);
  Vcpu* vcpu = c->vm().vcpu(0);
  ASSERT_OK(vcpu->Pause());
  ASSERT_OK_AND_ASSIGN(Registers regs, vcpu->GetRegisters());
  EXPECT_EQ(regs.rflags & 0x200, 0u) << "interrupts off";
  ASSERT_OK(vcpu->Resume());
  c->vm().Stop();
  ASSERT_OK_AND_ASSIGN(VmExit exit, c->Wait());
  EXPECT_EQ(exit.reason, VmExit::Reason::kStopped);
}

TEST_F(KvmTest, StopEndsASpinningGuest) {
  ASSERT_OK_AND_ASSIGN(auto c, CapturedVm::Boot("behave", {.cmdline = "spin"}));
  EXPECT_EQ(CodeOf(c->Wait(absl::Milliseconds(200))),
            absl::StatusCode::kDeadlineExceeded);
  c->vm().Stop();
  ASSERT_OK_AND_ASSIGN(VmExit exit, c->Wait());
  EXPECT_EQ(exit.reason, VmExit::Reason::kStopped);
  ASSERT_OK_AND_ASSIGN(Registers regs, c->vm().vcpu(0)->GetRegisters());
  EXPECT_GE(regs.rip, 0x100000u) << "stopped inside the guest image";
  EXPECT_EQ(regs.cr3, 0x10000u);
}

TEST_F(KvmTest, DestroyingARunningVmReturns) {
  ASSERT_OK_AND_ASSIGN(auto c, CapturedVm::Boot("behave", {.cmdline = "spin"}));
  absl::SleepFor(absl::Milliseconds(50));
  c.reset();  // kicks the vCPU out of KVM_RUN and joins its thread
  SUCCEED() << "returned";
}

TEST_F(KvmTest, ConsoleInputIsEchoed) {
  std::string console;
  VmExit exit =
      BootAndWait("behave", {.cmdline = "echo"}, &console, "abc\ndef\nq");
  EXPECT_EQ(exit.exit_code, 0) << exit.message;
  EXPECT_NE(console.find("abc\ndef\n"), std::string::npos) << console;
}

TEST_F(KvmTest, ConsoleInputIsEventDriven) {
  ASSERT_OK_AND_ASSIGN(auto c,
                       CapturedVm::Boot("behave", {.cmdline = "event-echo"}));
  const absl::Time limit = absl::Now() + absl::Seconds(60);
  while (c->console().find("waiting for input") == std::string::npos) {
    ASSERT_LT(absl::Now(), limit);
    absl::SleepFor(absl::Milliseconds(1));
  }
  absl::SleepFor(absl::Milliseconds(50));  // the guest is halted now
  EXPECT_EQ(c->vm().PushConsoleInput("first\n"), 6u);
  while (c->console().find("first\n") == std::string::npos) {
    ASSERT_LT(absl::Now(), limit) << "the input event never woke the guest";
    absl::SleepFor(absl::Milliseconds(1));
  }
  c->vm().PushConsoleInput("second\nq");
  ASSERT_OK_AND_ASSIGN(VmExit exit, c->Wait());
  EXPECT_EQ(exit.exit_code, 0) << exit.message;
  EXPECT_NE(c->console().find("second\n"), std::string::npos) << c->console();
  EXPECT_NE(c->console().find(" input events]"), std::string::npos);
}

TEST_F(KvmTest, ManyVmsRunConcurrentlyInOneProcess) {
  constexpr int kVms = 4;
  std::vector<std::unique_ptr<CapturedVm>> vms;
  for (int i = 0; i < kVms; ++i) {
    ASSERT_OK_AND_ASSIGN(
        auto c,
        CapturedVm::Boot("behave", {.memory_bytes = 16 << 20,
                                    .cmdline = absl::StrCat("exit=", 10 + i)}));
    vms.push_back(std::move(c));
  }
  for (int i = 0; i < kVms; ++i) {
    ASSERT_OK_AND_ASSIGN(VmExit exit, vms[i]->Wait());
    EXPECT_EQ(exit.reason, VmExit::Reason::kShutdown);
    EXPECT_EQ(exit.exit_code, 10 + i) << "each VM answers its own guest";
  }
}

TEST_F(KvmTest, CreatingAndDestroyingVmsLeaksNoFileDescriptors) {
  // Warm up once: the first VM may open process-wide things.
  BootAndWait("behave", {.memory_bytes = 4 << 20, .cmdline = "exit=0"});
  const int before = OpenFdCount();
  for (int i = 0; i < 10; ++i) {
    VmExit exit =
        BootAndWait("behave", {.memory_bytes = 4 << 20, .cmdline = "exit=0"});
    EXPECT_EQ(exit.reason, VmExit::Reason::kShutdown);
  }
  EXPECT_EQ(OpenFdCount(), before);
}

TEST_F(KvmTest, LargeMemoryAboveTheHoleWorks) {
  // 3.5 GiB puts 512 MiB above 4 GiB; MAP_NORESERVE keeps it cheap.
  std::string console;
  VmExit exit =
      BootAndWait("conformance", {.memory_bytes = 3584ull << 20}, &console);
  EXPECT_EQ(exit.exit_code, 0) << console;
}

}  // namespace
}  // namespace hvbios
