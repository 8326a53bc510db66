// hvbios-run --gdb on KVM, driven by Debian's gdb in batch mode with the
// guests' symbols: the session both backends run (tests/gdb_session.h),
// vCPUs as threads on the smp example, Ctrl-C on a spinning guest, and a
// fault and a panic that stop in gdb before the VM ends.
#include <sys/socket.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/gdb_session.h"
#include "tests/kvm/kvm_guest.h"
#include "tests/net_peer.h"
#include "tests/run_command.h"

namespace hvbios {
namespace {

using testing::CommandResult;
using testing::GuestPath;
using testing::RunCommand;

class GdbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!kvm::KvmAvailable("/dev/kvm", &why)) {
      GTEST_SKIP() << "KVM integration test needs /dev/kvm: " << why;
    }
    if (!testing::GdbInstalled()) GTEST_SKIP() << "needs gdb (Debian: gdb)";
  }

  // hvbios-run --gdb PORT --gdb-wait [args] GUEST, and gdb running
  // `commands` against it; both results.
  std::pair<CommandResult, CommandResult> Session(
      const std::string& guest, const std::vector<std::string>& run_args,
      const std::vector<std::string>& commands) {
    const int port = testing::FreeLoopbackPort(SOCK_STREAM);
    CommandResult run;
    std::thread runner([&] {
      std::vector<std::string> args = {HVBIOS_RUN_PATH, "--gdb",
                                       absl::StrCat(port), "--gdb-wait"};
      args.insert(args.end(), run_args.begin(), run_args.end());
      args.push_back(GuestPath(guest));
      run = RunCommand(args, "", 240);
    });
    const CommandResult gdb = RunCommand(
        testing::GdbBatch(port, GuestPath(guest), commands), "", 240);
    runner.join();
    return {gdb, run};
  }
};

TEST_F(GdbTest, BreakStepReadChangeARegisterAndRunToTheEnd) {
  const auto [gdb, guest] =
      Session("hello", {"--cpus", "2", "--cmdline", "under gdb"},
              testing::HelloSessionCommands());
  testing::ExpectHelloSession(gdb, guest);
  EXPECT_EQ(gdb.exit_status, 0) << gdb.out << gdb.err;
  EXPECT_NE(gdb.out.find("[Inferior 1 (Remote target) exited normally]"),
            std::string::npos)
      << gdb.out;
  EXPECT_NE(guest.out.find("implementation 1, 2 vCPU(s)"), std::string::npos)
      << guest.out;
  EXPECT_NE(guest.err.find("gdb stub on 127.0.0.1:"), std::string::npos)
      << guest.err;
  // Which way breakpoints work here: the probe's answer, said once.
  EXPECT_NE(guest.err.find("hvbios-run: gdb connected; breakpoints "),
            std::string::npos)
      << guest.err;
}

// The second vCPU exists once the guest starts it: then it is gdb's
// thread 2, and a breakpoint in the code it runs stops it there.
TEST_F(GdbTest, VcpusAreThreads) {
  const auto [gdb, guest] =
      Session("smp", {"--cpus", "2"},
              {"break ap_main", "continue", "info threads", "print self",
               "thread 1", "print $pc == $pc", "delete", "continue"});
  EXPECT_EQ(gdb.exit_status, 0) << gdb.out << gdb.err;
  EXPECT_NE(gdb.out.find("Thread 2 hit Breakpoint 1, ap_main (self=1)"),
            std::string::npos)
      << gdb.out << gdb.err;
  EXPECT_NE(gdb.out.find("Thread 1 (vCPU 0, paused)"), std::string::npos)
      << gdb.out;
  EXPECT_NE(gdb.out.find("Thread 2 (vCPU 1, paused)"), std::string::npos)
      << gdb.out;
  EXPECT_NE(gdb.out.find("$1 = 1"), std::string::npos) << gdb.out;
  EXPECT_NE(gdb.out.find("exited normally"), std::string::npos) << gdb.out;
  EXPECT_EQ(guest.exit_status, 0) << guest.out << guest.err;
}

// Ctrl-C in gdb stops a guest that spins without a breakpoint or an exit
// (gdb sends the stub its interrupt byte); `kill` then ends hvbios-run.
// The Ctrl-C is a SIGINT gdb sends itself 2 s into `continue`.
TEST_F(GdbTest, CtrlCStopsASpinningGuestAndKillEndsIt) {
  const auto [gdb, guest] = Session(
      "behave", {"--cmdline", "spin"},
      {"python import os, signal, threading; threading.Timer(2, lambda: "
       "os.kill(os.getpid(), signal.SIGINT)).start()",
       "continue", "info symbol $pc", "kill"});
  EXPECT_NE(gdb.out.find("received signal SIGINT"), std::string::npos)
      << gdb.out << gdb.err;
  EXPECT_NE(gdb.out.find("hvb_main"), std::string::npos)
      << "it spins in hvb_main: " << gdb.out;
  EXPECT_EQ(guest.exit_status, 125) << guest.err;
  EXPECT_NE(guest.err.find("killed by gdb"), std::string::npos) << guest.err;
  EXPECT_NE(guest.err.find("hvbios-run: gdb killed the guest"),
            std::string::npos)
      << guest.err;
}

// A guest that dies (triple fault) or panics stops in gdb first, with
// the vCPU's state to look at; continuing ends it with hvbios-run's usual
// report and status.
TEST_F(GdbTest, AFaultAndAPanicStopInGdbBeforeTheEnd) {
  {
    const auto [gdb, guest] =
        Session("behave", {"--cmdline", "triple-fault"},
                {"continue", "info symbol $pc", "continue"});
    EXPECT_NE(gdb.out.find("received signal SIGSEGV"), std::string::npos)
        << gdb.out << gdb.err;
    EXPECT_NE(gdb.out.find("terminated with signal SIGSEGV"), std::string::npos)
        << gdb.out;
    EXPECT_EQ(guest.exit_status, 123) << guest.err;
    EXPECT_NE(guest.err.find("triple fault"), std::string::npos) << guest.err;
  }
  {
    const auto [gdb, guest] = Session("behave", {"--cmdline", "panic"},
                                      {"continue", "backtrace", "continue"});
    EXPECT_NE(gdb.out.find("received signal SIGABRT"), std::string::npos)
        << gdb.out << gdb.err;
    EXPECT_NE(gdb.out.find("in hvb_main"), std::string::npos)
        << "the backtrace reaches the caller: " << gdb.out;
    EXPECT_NE(gdb.out.find("terminated with signal SIGABRT"), std::string::npos)
        << gdb.out;
    EXPECT_EQ(guest.exit_status, 126) << guest.err;
    EXPECT_NE(guest.err.find("the disk is on fire"), std::string::npos)
        << guest.err;
  }
}

TEST(GdbOptionsTest, GdbOptionsAreChecked) {
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"--gdb", "0"},
        {"--gdb", "65536"},
        {"--gdb", "x"},
        {"--gdb-wait"}}) {
    std::vector<std::string> args = {HVBIOS_RUN_PATH};
    args.insert(args.end(), bad.begin(), bad.end());
    args.push_back(GuestPath("hello"));
    const CommandResult r = RunCommand(args, "", 60);
    EXPECT_EQ(r.exit_status, 121) << bad[0] << " " << r.err;
    EXPECT_EQ(r.err.rfind("hvbios-run: ", 0), 0u) << r.err;
  }
}

}  // namespace
}  // namespace hvbios
