// The bare-metal firmware end to end: the same guest images that the KVM
// tests boot, unchanged, on hvbios-firmware in a PC emulated by QEMU (TCG),
// through build/bin/hvbios-qemu. Exit statuses are hvbios-run's.
#include <elf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "hvbios/abi/hypercall.h"
#include "tests/elf_builder.h"
#include "tests/kvm/kvm_guest.h"
#include "tests/run_command.h"
#include "tests/test_util.h"

namespace hvbios {
namespace {

using testing::CommandResult;
using testing::ElfBuilder;
using testing::GuestPath;
using testing::RunCommand;

class BareMetalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testing::CommandPath("qemu-system-x86_64").empty()) {
      GTEST_SKIP() << "qemu-system-x86_64 is not installed "
                      "(scripts/install-deps.sh installs it)";
    }
    ASSERT_TRUE(temp_dir_.Create("baremetal_test"));
  }
  CommandResult Run(std::vector<std::string> args,
                    const std::string& input = "",
                    int kill_after_seconds = 60) {
    args.insert(args.begin(), HVBIOS_QEMU_PATH);
    return RunCommand(args, input, kill_after_seconds);
  }
  // Console input typed once the guest has printed `marker`. Input that is
  // there before the firmware switches its UART's FIFOs on can lose a byte
  // to the switch, as on a PC (backends/baremetal/uart.c); these tests are
  // about what the guest sees, so they type after the switch.
  CommandResult RunTypingAfter(std::vector<std::string> args,
                               const std::string& marker,
                               const std::string& input) {
    args.insert(args.begin(), HVBIOS_QEMU_PATH);
    return testing::RunCommandTypingAfter(args, marker, input);
  }
  std::string Write(const std::string& name, const std::vector<uint8_t>& b) {
    const std::string path = temp_dir_.path() + "/" + name;
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(b.data()), b.size());
    return path;
  }
  // A rejected run: `status` and a line on stderr containing `text`.
  void ExpectRejected(const CommandResult& r, int status,
                      const std::string& text) {
    EXPECT_EQ(r.exit_status, status) << r.out << r.err;
    EXPECT_EQ(r.err.rfind("hvbios-qemu: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(text), std::string::npos) << r.err;
  }
  testing::ScopedTempDir temp_dir_;
};

TEST_F(BareMetalTest, HelloRunsUnchanged) {
  CommandResult r = Run({"--cmdline", "on bare metal", GuestPath("hello")});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_NE(r.out.find(absl::StrCat(
                "Hello from an hvbios guest! ABI ", HVB_ABI_VERSION_MAJOR, ".",
                HVB_ABI_VERSION_MINOR, ", implementation 2")),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("command line: on bare metal"), std::string::npos);
  EXPECT_EQ(r.err, "");
}

// The firmware has no vendor services: their numbers answer NOSYS and
// probe 0, as on KVM without them (tests/kvm/vendor_test.cc).
TEST_F(BareMetalTest, VendorNumbersAreNosys) {
  CommandResult r = Run({GuestPath("vendor")});
  EXPECT_EQ(r.exit_status, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("this VMM has no kv service"), std::string::npos)
      << r.out;
}

// The suite gives typed-ahead input 300 ms to arrive after this.
constexpr char kConformanceBanner[] = "hvbios conformance, ABI";

TEST_F(BareMetalTest, TheConformanceSuitePassesOnOneAndTwoCpus) {
  for (const char* cpus : {"1", "2"}) {
    // Console input comes from stdin through the PC's serial port.
    CommandResult r = RunTypingAfter(
        {"--cpus", cpus, "--cmdline", "input=ping", GuestPath("conformance")},
        kConformanceBanner, "ping");
    EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
    EXPECT_NE(r.out.find(" passed, 0 failed"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("starting vCPU 1 of 2") != std::string::npos,
              std::string(cpus) == "2")
        << r.out;
  }
}

// Disks are IDE drives in QEMU: the suite's block and ring checks, with a
// writable and a read-only disk; the read-only image stays as it was.
TEST_F(BareMetalTest, TheConformanceSuitePassesWithDisks) {
  std::vector<uint8_t> pattern(4 << 20);
  for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = uint8_t(i * 13);
  const std::string rw = Write("rw.img", std::vector<uint8_t>(8 << 20, 0));
  const std::string ro = Write("ro.img", pattern);
  CommandResult r =
      RunTypingAfter({"--cpus", "2", "--disk", rw, "--disk", ro + ",ro",
                      "--cmdline", "input=ping", GuestPath("conformance")},
                     kConformanceBanner, "ping");
  EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("testing block device 0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" passed, 0 failed"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
  std::ifstream in(ro, std::ios::binary);
  const std::vector<uint8_t> after(std::istreambuf_iterator<char>(in), {});
  EXPECT_TRUE(after == pattern) << "the read-only image changed";
}

TEST_F(BareMetalTest, BlkAndTarfsExamples) {
  const std::string disk = Write("blk.img", std::vector<uint8_t>(16 << 20, 0));
  // ~2500 emulated IDE requests: on a loaded 2-core machine (CI running
  // three presets) that took over a minute once, so a longer hang guard.
  CommandResult r = Run({"--disk", disk, GuestPath("blk")}, "", 240);
  EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("blk: all checks passed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ring random 4 KiB batch 32"), std::string::npos);

  const std::string tar = testing::WriteHelloTar(temp_dir_.path());
  ASSERT_NE(tar, "");
  r = Run({"--disk", tar + ",ro", "--cmdline", "cat hello.txt",
           GuestPath("tarfs")});
  EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Hello from inside a tar archive!"), std::string::npos)
      << r.out;
}

TEST_F(BareMetalTest, TimerAndSmpExamples) {
  CommandResult r = Run({GuestPath("timer")});
  EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("10 ticks of 10 ms"), std::string::npos) << r.out;
  r = Run({"--cpus", "4", GuestPath("smp")});
  EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("4 of 4 vCPUs took part"), std::string::npos) << r.out;
}

// Past the old limit of 8: 16 CPUs from the MADT run the smp example and
// the conformance suite's multi-vCPU checks.
TEST_F(BareMetalTest, SixteenCpus) {
  CommandResult r = Run({"--cpus", "16", GuestPath("smp")}, "", 240);
  EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("16 of 16 vCPUs took part"), std::string::npos) << r.out;
  r = testing::RunCommandTypingAfter(
      {HVBIOS_QEMU_PATH, "--cpus", "16", "--cmdline", "input=ping",
       GuestPath("conformance")},
      kConformanceBanner, "ping", 240);
  EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("starting vCPU 1 of 16"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" passed, 0 failed"), std::string::npos) << r.out;
}

// RAM above the PCI hole: on pc, 6 GiB is 3 below 4 GiB and 3 above. The
// guest gets all of it, its boot page tables map it (they outgrow the 8
// pages below 1 MiB and move up), and the conformance suite's memory rules
// hold over the whole map.
TEST_F(BareMetalTest, RamAboveFourGiB) {
  CommandResult r = Run({"--mem", "6G", GuestPath("hello")});
  EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
  const size_t at = r.out.find("usable memory: ");
  ASSERT_NE(at, std::string::npos) << r.out;
  EXPECT_GT(std::stoull(r.out.substr(at + 15)), 6000000u) << r.out;  // KiB
  r = testing::RunCommandTypingAfter(
      {HVBIOS_QEMU_PATH, "--mem", "6G", "--cpus", "2", "--cmdline",
       "input=ping", GuestPath("conformance")},
      kConformanceBanner, "ping");
  EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(" passed, 0 failed"), std::string::npos) << r.out;
}

// A PC without the 8254 PIT (q35, pit=off): the TSC is measured against
// the ACPI PM timer instead, the firmware says so on stderr, and the timer
// example runs. With a PIT, nothing is said.
TEST_F(BareMetalTest, WithoutAPitThePmTimerMeasuresTheTsc) {
  CommandResult r = Run({"--machine", "q35", "--no-pit", GuestPath("timer")});
  EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("10 ticks of 10 ms"), std::string::npos) << r.out;
  EXPECT_EQ(r.err,
            "hvbios-qemu: firmware: no PIT answers: the TSC was measured "
            "against the ACPI PM timer\n");
  r = Run({"--machine", "q35", GuestPath("timer")});
  EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
  EXPECT_EQ(r.err, "");
}

TEST_F(BareMetalTest, ConsoleInputWakesAnEventDrivenGuest) {
  CommandResult r = RunTypingAfter(
      {"--timeout", "60", "--cmdline", "event-echo", GuestPath("behave")},
      "waiting for input", "first\nsecond\nq");
  EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("first\nsecond\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" input events]"), std::string::npos) << r.out;
}

TEST_F(BareMetalTest, ExitStatusesAreHvbiosRuns) {
  for (int code : {0, 3, 119}) {
    CommandResult r =
        Run({"--cmdline", absl::StrCat("exit=", code), GuestPath("behave")});
    EXPECT_EQ(r.exit_status, code) << r.err;
  }
  CommandResult r = Run({"--cmdline", "exit=200", GuestPath("behave")});
  EXPECT_EQ(r.exit_status, 120);
  EXPECT_EQ(r.err, "hvbios-qemu: guest shut down with code 200\n");

  ExpectRejected(Run({"--cmdline", "triple-fault", GuestPath("behave")}), 123,
                 "triple fault");
  ExpectRejected(
      Run({"--timeout", "0.5", "--cmdline", "spin", GuestPath("behave")}), 124,
      "--timeout");
}

TEST_F(BareMetalTest, RebootBootsAgain) {
  CommandResult r =
      Run({"--timeout", "3", "--cmdline", "reboot", GuestPath("behave")});
  EXPECT_EQ(r.exit_status, 124) << r.err;
  const std::vector<absl::string_view> boots =
      absl::StrSplit(r.out, "behave: reboot");
  EXPECT_GE(boots.size(), 3u) << "booted more than once:\n" << r.out;
}

TEST_F(BareMetalTest, BadImagesAndCommandLines) {
  ExpectRejected(Run({}), 121, "no guest image");
  ExpectRejected(Run({"--cpus", "65", GuestPath("hello")}), 121, "1 to 64");
  ExpectRejected(Run({"--cpus", "0", GuestPath("hello")}), 121, "1 to 64");
  ExpectRejected(Run({"--machine", "isapc", GuestPath("hello")}), 121,
                 "unknown machine");
  ExpectRejected(Run({"--uefi", GuestPath("hello")}), 121, "--uefi needs");
  ExpectRejected(Run({"--image", temp_dir_.path() + "/none.iso"}), 122,
                 "cannot open image");
  ExpectRejected(Run({"--image", GuestPath("hello"), GuestPath("hello")}), 121,
                 "no GUEST.elf as well");
  ExpectRejected(Run({"--image", GuestPath("hello"), "--cmdline", "x"}), 121,
                 "the command line is the image's");
  ExpectRejected(
      Run({"--disk", temp_dir_.path() + "/none.img", GuestPath("hello")}), 122,
      "cannot open disk");
  const std::string d = Write("d.img", std::vector<uint8_t>(4096, 0));
  ExpectRejected(
      Run({"-d", d, "-d", d, "-d", d, "-d", d, "-d", d, GuestPath("hello")}),
      121, "at most 4");
  ExpectRejected(Run({"--mem", "lots", GuestPath("hello")}), 121,
                 "memory size");
  ExpectRejected(Run({temp_dir_.path() + "/missing.elf"}), 122, "cannot open");
  ExpectRejected(Run({Write("empty.elf", {})}), 122, "empty");
  ExpectRejected(Run({Write("text.elf", {'h', 'e', 'l', 'l', 'o'})}), 122,
                 "not an ELF");

  ElfBuilder elf32 = ElfBuilder::Simple();
  elf32.header().e_ident[EI_CLASS] = ELFCLASS32;
  ExpectRejected(Run({Write("elf32.elf", elf32.Build())}), 122, "32-bit");
  ExpectRejected(Run({Write("low.elf", ElfBuilder::Simple(0x4000).Build())}),
                 122, "platform area below 0x100000");
  ExpectRejected(
      Run({Write("far.elf", ElfBuilder::Simple(1ull << 34).Build())}), 122,
      "does not fit in guest RAM");
  // The same acceptance rule as hvbios-run (common/elf.c): no dynamic
  // images, which the firmware used to boot.
  for (uint32_t type : {PT_INTERP, PT_DYNAMIC}) {
    ElfBuilder dynamic = ElfBuilder::Simple();
    dynamic.Add({.paddr = 0x200000, .vaddr = 0, .data = {0}, .type = type});
    ExpectRejected(Run({Write("dynamic.elf", dynamic.Build())}), 122,
                   "dynamically linked");
  }
  ElfBuilder overlap =
      ElfBuilder::Simple(0x100000, std::vector<uint8_t>(0x2000, 0x90));
  overlap.Add({.paddr = 0x101000, .vaddr = 0, .data = {1}, .memory_size = 0});
  ExpectRejected(Run({Write("overlap.elf", overlap.Build())}), 122, "overlap");
}

// A crash is reported like hvbios-run's: the exceptions that led to a triple
// fault and the registers; the SDK's exception report has its own line.
TEST_F(BareMetalTest, CrashesAreReportedWithTheirExceptions) {
  CommandResult r = Run({"--cmdline", "triple-fault", GuestPath("behave")});
  EXPECT_EQ(r.exit_status, 123) << r.err;
  EXPECT_NE(r.err.find("triple fault"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("exception #UD"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("RIP="), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("CR2="), std::string::npos) << r.err;
  // The SDK reports an unhandled exception with debug.panic.
  r = Run({"--cmdline", "exception", GuestPath("behave")});
  EXPECT_EQ(r.exit_status, 126) << r.err;
  EXPECT_NE(r.err.find("hvbios-qemu: the guest panicked on vCPU 0 with code "
                       "111: unhandled exception 6 "),
            std::string::npos)
      << r.err;
  // A panic: the same report as hvbios-run's (registers, named stack).
  r = Run({"--cmdline", "panic", GuestPath("behave")});
  testing::ExpectPanicReport("hvbios-qemu", r.exit_status, r.err);
  // The SDK's exception report is a panic too: its stack ends at the
  // interrupt stub, which keeps no frame.
  r = Run({"--cmdline", "exception", GuestPath("behave")});
  EXPECT_NE(r.err.find("\n  stack (by frame pointers):\n  #0 0x"),
            std::string::npos)
      << r.err;
  // The SDK decodes the faults that say most (as on KVM).
  for (const auto& [command, report] : testing::kDecodedFaults) {
    r = Run({"--cmdline", command, GuestPath("behave")});
    EXPECT_EQ(r.exit_status, 126) << r.err;
    EXPECT_NE(r.err.find(report), std::string::npos) << r.err;
  }
}

// A closed standard fd must not be taken over by a file QEMU opens (a
// disk), and odd timeouts are usage errors.
TEST_F(BareMetalTest, ClosedStandardFdsAndOddTimeouts) {
  const std::string disk = Write("d.img", std::vector<uint8_t>(64 << 10, 'D'));
  for (const char* close : {">&-", "2>&-", "<&-"}) {
    CommandResult r = RunCommand(
        {"sh", "-c",
         absl::StrCat("exec ", close, "; exec \"$0\" --disk \"$1\" \"$2\""),
         HVBIOS_QEMU_PATH, disk, GuestPath("hello")});
    EXPECT_EQ(r.exit_status, 0) << close << ": " << r.err;
  }
  std::ifstream in(disk, std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}),
            std::string(64 << 10, 'D'));
  for (const char* value : {"1e11", "99999999999", "nan", "-1", "0"}) {
    ExpectRejected(Run({"--timeout", value, GuestPath("hello")}), 121,
                   "timeout");
  }
}

// QEMU runs under its own seccomp filter unless --no-sandbox: a stand-in
// QEMU (HVBIOS_QEMU) starts the real one and records the Seccomp mode the
// kernel reports for it (2: a filter) while it boots hello.
TEST_F(BareMetalTest, QemuRunsUnderItsSandboxUnlessAskedNot) {
  const std::string wrapper = temp_dir_.path() + "/qemu";
  const std::string seen = temp_dir_.path() + "/seccomp";
  {
    std::ofstream script(wrapper);
    script << "#!/bin/sh\n"
           << "qemu-system-x86_64 \"$@\" & pid=$!\nmode=0\n"
           << "while kill -0 $pid 2>/dev/null; do\n"
           << "  m=$(awk '/^Seccomp:/ {print $2}' /proc/$pid/status "
              "2>/dev/null)\n"
           << "  [ \"${m:-0}\" -gt $mode ] && mode=$m\n"
           << "done\n"
           << "echo $mode > " << seen << "\nwait $pid\n";
  }
  ASSERT_EQ(chmod(wrapper.c_str(), 0755), 0);
  for (bool sandbox : {true, false}) {
    std::vector<std::string> args = {"env", "HVBIOS_QEMU=" + wrapper,
                                     HVBIOS_QEMU_PATH};
    if (!sandbox) args.push_back("--no-sandbox");
    args.push_back(GuestPath("hello"));
    CommandResult r = RunCommand(args);
    EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
    std::ifstream in(seen);
    std::string mode;
    in >> mode;
    EXPECT_EQ(mode, sandbox ? "2" : "0") << "--no-sandbox: " << !sandbox;
  }
}

}  // namespace
}  // namespace hvbios
