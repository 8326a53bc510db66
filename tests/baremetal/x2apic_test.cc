// The bare-metal firmware in x2APIC mode, with CPUs whose local APIC ids
// are above 255: only x2APIC mode reaches those (SDM Vol. 3A 11.12), and a
// machine with that many cores hands its CPUs over in it. QEMU places
// such CPUs through its topology: with 129 cores per socket, a core's id
// takes 8 bits, so socket 1's core 0 has APIC id 256 and its core 128 id
// 384. The firmware is booted the way hvbios-qemu boots it (PVH, through
// qboot), with the CPUs added one by one.
//
// QEMU's TCG emulates x2APIC since QEMU 8.1; Debian 12's QEMU 7.2 has no
// x2APIC without KVM, and refuses such a machine. The tests run the QEMU
// that HVBIOS_QEMU names (as hvbios-qemu does), else qemu-system-x86_64,
// and skip, saying so, where it is older than 8.1.
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/kvm/kvm_guest.h"
#include "tests/run_command.h"
#include "tests/test_util.h"

namespace hvbios {
namespace {

using testing::CommandResult;
using testing::GuestPath;
using testing::RunCommand;

std::string Qemu() {
  const char* named = std::getenv("HVBIOS_QEMU");
  return named != nullptr && *named != 0 ? named : "qemu-system-x86_64";
}

// QEMU's version as major * 100 + minor, from "QEMU emulator version
// 10.0.2 ..."; 0 if it does not run or says something else.
int QemuVersion() {
  CommandResult r = RunCommand({Qemu(), "--version"});
  const std::string kPrefix = "QEMU emulator version ";
  const size_t at = r.out.find(kPrefix);
  if (r.exit_status != 0 || at == std::string::npos) return 0;
  const std::string version = r.out.substr(at + kPrefix.size());
  const size_t dot = version.find('.');
  const size_t end = version.find_first_not_of("0123456789", dot + 1);
  int major = 0, minor = 0;
  if (dot == std::string::npos ||
      !absl::SimpleAtoi(version.substr(0, dot), &major) ||
      !absl::SimpleAtoi(version.substr(dot + 1, end - dot - 1), &minor)) {
    return 0;
  }
  return major * 100 + minor;
}

class X2apicTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const int version = QemuVersion();
    if (version == 0) {
      GTEST_SKIP() << Qemu()
                   << " does not run (scripts/install-deps.sh installs QEMU)";
    }
    if (version < 801) {
      GTEST_SKIP() << Qemu() << " is QEMU " << version / 100 << "."
                   << version % 100
                   << ", whose TCG has no x2APIC (8.1 added it): set "
                      "HVBIOS_QEMU to a newer qemu-system-x86_64 to run "
                      "these tests";
    }
    ASSERT_TRUE(temp_dir_.Create("x2apic_test"));
  }

  // Boots `guest` on the boot CPU (APIC id 0) and one CPU per entry of
  // `socket1_cores` (socket 1's core c has APIC id 256 + c), with `disk`
  // as an IDE disk if not empty. Returns QEMU's run; the firmware's status
  // line ("shutdown 0") is in status_. Its shutdown leaves through
  // isa-debug-exit, which ends QEMU with status (value << 1) | 1.
  CommandResult Boot(const std::string& guest,
                     const std::vector<int>& socket1_cores,
                     const std::string& disk = "") {
    const std::string status_file = temp_dir_.path() + "/status";
    // QEMUs before 10 may ask for an IOMMU with Extended Interrupt Mode
    // on a machine with APIC ids above 255; the firmware leaves it off.
    std::vector<std::string> args = {Qemu(), "-machine", "q35", "-accel", "tcg",
                                     "-cpu", "max",      "-m",  "256M"};
    args.insert(args.end(),
                {"-smp", "1,sockets=2,cores=129,threads=1,maxcpus=258",
                 "-device", "intel-iommu,intremap=on,eim=on"});
    args.insert(args.end(), {"-nodefaults", "-display", "none", "-no-reboot",
                             "-monitor", "none", "-serial", "stdio"});
    args.insert(args.end(),
                {"-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-fw_cfg",
                 "name=opt/org.hvbios/debug-exit,string=1", "-debugcon",
                 "file:" + status_file});
    args.insert(args.end(),
                {"-bios", "/usr/share/qemu/qboot.rom", "-kernel",
                 HVBIOS_FIRMWARE_PATH, "-initrd", GuestPath(guest)});
    for (int core : socket1_cores) {
      args.insert(
          args.end(),
          {"-device", absl::StrCat("max-x86_64-cpu,socket-id=1,core-id=", core,
                                   ",thread-id=0")});
    }
    if (!disk.empty()) {
      args.insert(args.end(),
                  {"-drive", "file=" + disk + ",format=raw,if=ide"});
    }
    CommandResult r = RunCommand(args, "", 300);
    std::ifstream in(status_file);
    status_ = std::string(std::istreambuf_iterator<char>(in), {});
    return r;
  }

  testing::ScopedTempDir temp_dir_;
  std::string status_;
};

// Three CPUs, two of them past 255 and far apart: each is started, takes
// IPIs and doorbells, and finds its own firmware stack in its hypercalls.
TEST_F(X2apicTest, CpusWithApicIdsAbove255RunTheSmpExample) {
  CommandResult r = Boot("smp", {0, 128});
  EXPECT_EQ(r.exit_status, 1) << r.out << r.err;
  EXPECT_EQ(status_, "shutdown 0\n") << r.out;
  EXPECT_NE(r.out.find("3 of 3 vCPUs took part"), std::string::npos) << r.out;
}

// The conformance suite on the boot CPU and APIC id 256. The I/O APIC
// names 8-bit destinations, so the console's interrupt can reach vCPU 0
// only: routing it to vCPU 1 fails with HVB_ERR_RANGE (docs/abi.md 5.8)
// rather than landing on the CPU whose id is 256's low 8 bits.
TEST_F(X2apicTest, TheConformanceSuitePassesWithACpuAbove255) {
  const std::string disk = temp_dir_.path() + "/rw.img";
  std::ofstream(disk).close();
  ASSERT_EQ(truncate(disk.c_str(), 8 << 20), 0);
  CommandResult r = Boot("conformance", {0}, disk);
  EXPECT_EQ(r.exit_status, 1) << r.out << r.err;
  EXPECT_EQ(status_, "shutdown 0\n") << r.out;
  EXPECT_NE(r.out.find("conformance: starting vCPU 1 of 2"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("conformance: the console's interrupt reaches 1 of 2 "
                       "vCPUs"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(" passed, 0 failed"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace hvbios
