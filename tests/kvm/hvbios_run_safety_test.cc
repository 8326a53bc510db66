// hvbios-run against a careless or hostile shell user: closed standard
// file descriptors, pipes that close or stop reading, a full disk, odd
// option values, FIFOs and devices where files belong, and images another
// process holds. Nothing may reach a disk image that was not meant for it,
// hang, or end by a signal; every refusal is one line and a documented
// status.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "hvbios/block.h"
#include "tests/kvm/kvm_guest.h"
#include "tests/run_command.h"
#include "tests/test_util.h"

namespace hvbios {
namespace {

using testing::CommandResult;
using testing::GuestPath;
using testing::RunCommand;

class HvbiosRunSafetyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_KVM();
    ASSERT_TRUE(temp_dir_.Create("hvbios_run_safety"));
  }
  std::string Path(const std::string& name) const {
    return temp_dir_.path() + "/" + name;
  }
  // A disk image of `bytes` copies of 'D': anything else in it later came
  // from somewhere it should not have.
  std::string MakeDisk(const std::string& name, size_t bytes = 64 << 10) {
    const std::string path = Path(name);
    std::ofstream(path, std::ios::binary) << std::string(bytes, 'D');
    return path;
  }
  static bool Untouched(const std::string& path, size_t bytes = 64 << 10) {
    std::ifstream in(path, std::ios::binary);
    const std::string contents(std::istreambuf_iterator<char>(in), {});
    return contents == std::string(bytes, 'D');
  }
  // Runs `script` under sh with $0 = hvbios-run and $1 = the behave guest.
  CommandResult Shell(const std::string& script, int kill_after = 60) {
    return RunCommand(
        {"sh", "-c", script, HVBIOS_RUN_PATH, GuestPath("behave")}, "",
        kill_after);
  }
  CommandResult Run(std::vector<std::string> args, int kill_after = 60) {
    args.insert(args.begin(), HVBIOS_RUN_PATH);
    return RunCommand(args, "", kill_after);
  }
  testing::ScopedTempDir temp_dir_;
};

// With one of fds 0-2 closed, the first file hvbios-run opened (the disk)
// used to take its place: console output, the timeout report or console
// input went to and from the image.
TEST_F(HvbiosRunSafetyTest, ClosedStandardFdsNeverReachADisk) {
  const std::string disk = MakeDisk("d.img");
  CommandResult r = Shell(absl::StrCat("exec >&-; exec \"$0\" --disk ", disk,
                                       " --cmdline exit=0 \"$1\""));
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_TRUE(Untouched(disk)) << "stdout closed: the console reached d.img";

  r = Shell(absl::StrCat("exec 2>&-; exec \"$0\" --disk ", disk,
                         " --timeout 0.5 --cmdline spin \"$1\""));
  EXPECT_EQ(r.exit_status, 124);
  EXPECT_TRUE(Untouched(disk)) << "stderr closed: the report reached d.img";

  r = Shell(absl::StrCat("exec <&-; exec \"$0\" --disk ", disk,
                         " --timeout 1 --cmdline echo \"$1\""));
  EXPECT_EQ(r.exit_status, 124) << r.err;
  EXPECT_EQ(r.out.find("DDDD"), std::string::npos)
      << "stdin closed: the image became console input";
  EXPECT_TRUE(Untouched(disk));
}

TEST_F(HvbiosRunSafetyTest, AClosedConsolePipeIsReportedNotFatal) {
  // bash for PIPESTATUS: hvbios-run's own status, not head's.
  CommandResult r = RunCommand(
      {"bash", "-c",
       "\"$0\" --timeout 30 --cmdline flood \"$1\" | head -c 100 >/dev/null;"
       " echo \"status ${PIPESTATUS[0]}\" >&2",
       HVBIOS_RUN_PATH, GuestPath("behave")});
  EXPECT_NE(r.err.find("status 125"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("hvbios-run: the console output (stdout) failed: "
                       "Broken pipe; stopped the guest"),
            std::string::npos)
      << r.err;
}

TEST_F(HvbiosRunSafetyTest, AFullConsoleSinkIsReported) {
  CommandResult r =
      Shell("exec \"$0\" --timeout 30 --cmdline flood \"$1\" >/dev/full");
  EXPECT_EQ(r.exit_status, 125) << r.err;
  EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << r.err;
}

// A reader that holds the pipe open but never reads: the guest fills it,
// and --timeout must still end hvbios-run (it used to block in write(2)).
TEST_F(HvbiosRunSafetyTest, AnUnreadPipeDoesNotHoldTheTimeout) {
  const std::string fifo = Path("console.fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  CommandResult r = Shell(absl::StrCat(
      "exec 3<>", fifo, "; \"$0\" --timeout 1 --cmdline flood \"$1\" >", fifo,
      "; echo \"status $?\" >&2"));
  EXPECT_NE(r.err.find("status 124"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--timeout"), std::string::npos) << r.err;
}

TEST_F(HvbiosRunSafetyTest, OutOfRangeTimeoutsAreUsageErrors) {
  for (const char* value : {"nan", "inf", "-inf", "1e30", "1e11", "9223372035",
                            "-5", "0", "inf s", "100000h"}) {
    CommandResult r = Run({"--timeout", value, GuestPath("hello")});
    EXPECT_EQ(r.exit_status, 121) << value << ": " << r.err;
    EXPECT_EQ(r.err.rfind("hvbios-run: ", 0), 0u) << r.err;
  }
}

// A FIFO would block open() or read() before any timeout applied; a
// device or a directory is not a file of the kind asked for.
TEST_F(HvbiosRunSafetyTest, FifosAndDevicesAreRefusedAtOnce) {
  const std::string fifo = Path("x.fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const int kKill = 20;  // a hang shows as the killer's status, not 121/122
  CommandResult r = Run({"--timeout", "5", fifo}, kKill);
  EXPECT_EQ(r.exit_status, 122) << r.err;
  EXPECT_NE(r.err.find("FIFO"), std::string::npos) << r.err;
  r = Run({"--timeout", "5", "--disk", fifo, GuestPath("hello")}, kKill);
  EXPECT_EQ(r.exit_status, 122) << r.err;
  EXPECT_NE(r.err.find("FIFO"), std::string::npos) << r.err;
  r = Run({"--timeout", "5", "--disk", "/dev/zero", GuestPath("hello")}, kKill);
  EXPECT_EQ(r.exit_status, 122) << r.err;
  EXPECT_NE(r.err.find("character device"), std::string::npos) << r.err;
  for (const std::string& profile :
       {fifo, std::string("/dev/zero"), temp_dir_.path()}) {
    r = Run({"--profile", profile, GuestPath("hello")}, kKill);
    EXPECT_EQ(r.exit_status, 121) << profile << ": " << r.err;
    EXPECT_NE(r.err.find("not a regular file"), std::string::npos) << r.err;
  }
}

TEST_F(HvbiosRunSafetyTest, AWritableImageBelongsToOneVm) {
  const std::string disk = MakeDisk("shared.img");
  {
    // This process holds it writable, as another VMM would.
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<BlockDevice> held,
                         OpenDiskImage(disk, /*read_only=*/false));
    for (const std::string& spec : {disk, disk + ",ro"}) {
      CommandResult r = Run({"--disk", spec, GuestPath("hello")});
      EXPECT_EQ(r.exit_status, 122) << r.err;
      EXPECT_NE(r.err.find("is in use"), std::string::npos) << r.err;
      EXPECT_NE(r.err.find(absl::StrCat("process ", getpid())),
                std::string::npos)
          << "names the holder: " << r.err;
    }
  }
  {
    // Read-only users share it; a writer is still refused.
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<BlockDevice> reader,
                         OpenDiskImage(disk, /*read_only=*/true));
    CommandResult r = Run({"--disk", disk + ",ro", GuestPath("hello")});
    EXPECT_EQ(r.exit_status, 0) << r.err;
    r = Run({"--disk", disk, GuestPath("hello")});
    EXPECT_EQ(r.exit_status, 122) << r.err;
  }
  CommandResult r = Run({"--disk", disk, GuestPath("hello")});
  EXPECT_EQ(r.exit_status, 0) << "free again once released: " << r.err;
  EXPECT_TRUE(Untouched(disk));
}

// The SDK reports an unhandled exception with debug.panic (ABI 0.9): code
// 111, the frame in the message, then the vCPU's registers; status 126.
TEST_F(HvbiosRunSafetyTest, AGuestExceptionIsAPanic) {
  CommandResult r = Run({"--cmdline", "exception", GuestPath("behave")});
  EXPECT_EQ(r.exit_status, 126) << r.err;
  EXPECT_NE(r.err.find("hvbios-run: the guest panicked on vCPU 0 with code "
                       "111: unhandled exception 6 "),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("\n  rip "), std::string::npos) << r.err;
  for (const auto& [command, report] : testing::kDecodedFaults) {
    r = Run({"--cmdline", command, GuestPath("behave")});
    EXPECT_EQ(r.exit_status, 126) << r.err;
    EXPECT_NE(r.err.find(report), std::string::npos) << r.err;
  }
}

// A panic's report (the same on bare metal: BareMetalTest).
TEST_F(HvbiosRunSafetyTest, APanicIsReportedWithItsMessageAndRegisters) {
  const CommandResult r = Run({"--cmdline", "panic", GuestPath("behave")});
  testing::ExpectPanicReport("hvbios-run", r.exit_status, r.err);
}

}  // namespace
}  // namespace hvbios
