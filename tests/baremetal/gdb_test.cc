// hvbios-qemu --gdb: Debian's gdb, in batch mode, debugging the hello
// example on the bare-metal firmware through QEMU's gdb stub, with the
// guest ELF's symbols: a breakpoint at hvb_main, reading its argument and
// the command line through it, a step, a changed register that changes
// what the guest prints, both CPUs as threads, and a run to the end.
#include <sys/socket.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/kvm/kvm_guest.h"
#include "tests/net_peer.h"
#include "tests/run_command.h"
#include "tests/test_util.h"

namespace hvbios {
namespace {

using testing::CommandResult;
using testing::GuestPath;
using testing::RunCommand;

bool Installed(const char* program) {
  return RunCommand({"sh", "-c", absl::StrCat("command -v ", program)})
             .exit_status == 0;
}

TEST(BareMetalGdbTest, BreakStepReadChangeARegisterAndRunToTheEnd) {
  if (!Installed("qemu-system-x86_64") || !Installed("gdb")) {
    GTEST_SKIP() << "needs qemu-system-x86_64 and gdb (Debian: gdb)";
  }
  const int port = testing::FreeLoopbackPort(SOCK_STREAM);
  CommandResult guest;
  std::thread run([&] {
    guest = RunCommand(
        {HVBIOS_QEMU_PATH, "--gdb", absl::StrCat(port), "--gdb-wait", "--cpus",
         "2", "--cmdline", "under gdb", GuestPath("hello")},
        "", 120);
  });
  // The stub listens once QEMU has started: gdb waits for it to.
  std::vector<std::string> args = {
      "gdb",
      "-nx",
      "-batch",
      "-ex",
      "set pagination off",
      "-ex",
      "set tcp connect-timeout 30",
      "-ex",
      absl::StrCat("target remote 127.0.0.1:", port),
      "-ex",
      "break hvb_main",
      "-ex",
      "break hvb_base_abi_version",
      "-ex",
      "continue",
      "-ex",
      "print boot->vcpu_count",
      "-ex",
      "print (char *)boot->cmdline",
      "-ex",
      "info threads",
      "-ex",
      "continue",
      "-ex",
      "finish",
      "-ex",
      "set var $rax = 0x50007",
      "-ex",
      "next",
      "-ex",
      "continue",
      GuestPath("hello")};
  const CommandResult gdb = RunCommand(args, "", 120);
  run.join();
  EXPECT_NE(gdb.out.find("Breakpoint 1, hvb_main (boot="), std::string::npos)
      << gdb.out << gdb.err;
  EXPECT_NE(gdb.out.find("$1 = 2\n"), std::string::npos)
      << "vCPUs: " << gdb.out;
  EXPECT_NE(gdb.out.find("\"under gdb\""), std::string::npos) << gdb.out;
  EXPECT_NE(gdb.out.find("Thread 1.2"), std::string::npos)
      << "the second CPU, a gdb thread: " << gdb.out;
  EXPECT_NE(gdb.out.find("Breakpoint 2, hvb_base_abi_version"),
            std::string::npos)
      << gdb.out;
  EXPECT_NE(gdb.out.find("Value returned is $3 = 10"), std::string::npos)
      << "ABI 0.10 before the change: " << gdb.out;
  EXPECT_EQ(guest.exit_status, 0) << guest.out << guest.err;
  EXPECT_NE(guest.out.find("ABI 5.7, implementation 2, 2 vCPU(s)"),
            std::string::npos)
      << "the changed rax reached the guest: " << guest.out;
  EXPECT_NE(guest.out.find("command line: under gdb"), std::string::npos)
      << guest.out;
}

TEST(BareMetalGdbTest, GdbOptionsAreChecked) {
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"--gdb", "0"},
        {"--gdb", "65536"},
        {"--gdb", "x"},
        {"--gdb-wait"}}) {
    std::vector<std::string> args = {HVBIOS_QEMU_PATH};
    args.insert(args.end(), bad.begin(), bad.end());
    args.push_back(GuestPath("hello"));
    const CommandResult r = RunCommand(args, "", 60);
    EXPECT_EQ(r.exit_status, 121) << bad[0] << " " << r.err;
    EXPECT_EQ(r.err.rfind("hvbios-qemu: ", 0), 0u) << r.err;
  }
}

}  // namespace
}  // namespace hvbios
