// hvbios-qemu --gdb: the gdb session of tests/gdb_session.h (the same as
// on KVM) through QEMU's gdb stub, both CPUs as threads, and the options'
// checks.
#include <sys/socket.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/gdb_session.h"
#include "tests/kvm/kvm_guest.h"
#include "tests/net_peer.h"
#include "tests/run_command.h"
#include "tests/test_util.h"

namespace hvbios {
namespace {

using testing::CommandResult;
using testing::GuestPath;
using testing::RunCommand;

TEST(BareMetalGdbTest, BreakStepReadChangeARegisterAndRunToTheEnd) {
  if (testing::CommandPath("qemu-system-x86_64").empty() ||
      !testing::GdbInstalled()) {
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
  const CommandResult gdb =
      RunCommand(testing::GdbBatch(port, GuestPath("hello"),
                                   testing::HelloSessionCommands()),
                 "", 120);
  run.join();
  testing::ExpectHelloSession(gdb, guest);
  // QEMU's CPUs exist from reset: both are threads at once.
  EXPECT_NE(gdb.out.find("Thread 1.2"), std::string::npos)
      << "the second CPU, a gdb thread: " << gdb.out;
  EXPECT_NE(guest.out.find("implementation 2, 2 vCPU(s)"), std::string::npos)
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
