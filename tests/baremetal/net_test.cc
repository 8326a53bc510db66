// Networking on the bare-metal firmware: its e1000 driver and net service
// under QEMU (TCG), through hvbios-qemu --net. The conformance suite over a
// looped link, and the same netecho exchange the KVM tests hold with
// hvbios-run (tests/net_peer.h), over a datagram cable and through
// user-mode networking's hostfwd. With /dev/kvm, one netecho under
// hvbios-run pings another under hvbios-qemu: the two backends on one
// cable. Traffic never leaves this process's sockets and loopback.
#include <unistd.h>

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
using namespace hvbios::testing;  // the cable's frames and sockets

class BareMetalNetTest : public GuestRunsTest {
 protected:
  void SetUp() override {
    if (testing::CommandPath("qemu-system-x86_64").empty()) {
      GTEST_SKIP() << "qemu-system-x86_64 is not installed "
                      "(scripts/install-deps.sh installs it)";
    }
    MakeDir("baremetal_net_test");
  }
};

TEST_F(BareMetalNetTest, ConformanceOverALoopedLink) {
  const std::string loop = dir_ + "/loop.sock";
  const CommandResult r =
      RunCommand({HVBIOS_QEMU_PATH, "--net", "dgram=" + loop + ",peer=" + loop,
                  "--cmdline", "net-loopback", GuestPath("conformance")},
                 "", 300);
  EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(" passed, 0 failed"), std::string::npos) << r.out;
}

TEST_F(BareMetalNetTest, NetechoAnswersArpPingAndUdpExactly) {
  const std::string guest = dir_ + "/guest.sock", test = dir_ + "/test.sock";
  CableEnd cable(test);
  StartCommand(
      {HVBIOS_QEMU_PATH, "--net",
       absl::StrCat("dgram=", guest, ",peer=", test, ",mac=02:00:00:00:00:02"),
       "--cmdline", "ip=10.0.0.2 quit-port=9", GuestPath("netecho")});
  constexpr int kDatagrams = 2000;
  ExchangeWithNetecho(cable, guest, kDatagrams);
  const CommandResult r = Finish(0);
  EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(absl::StrCat(kDatagrams + 1, " echoes")),
            std::string::npos)
      << r.out;
}

TEST_F(BareMetalNetTest, UserNetworkingForwardsALoopbackPortToTheGuest) {
  const int echo_port = FreeUdpPort(), quit_port = FreeUdpPort();
  StartCommand({HVBIOS_QEMU_PATH, "--net",
                absl::StrCat("user,hostfwd=udp::", echo_port,
                             "-:7,hostfwd=udp::", quit_port, "-:9"),
                "--cmdline", "quit-port=9", GuestPath("netecho")},
               /*limit_seconds=*/120);
  EchoThroughHostForward(echo_port, quit_port, /*datagrams=*/200,
                         /*seed=*/3);
  const CommandResult r = Finish(0);
  EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("at 10.0.2.15"), std::string::npos) << r.out;
}

// The same echo from an hvbios-mkimage image booted by OVMF: a UEFI boot
// leaves the card's descriptor memory full of its network driver's data,
// and QEMU's card writes back only some of a receive descriptor's fields,
// so a stale error bit used to drop every frame.
TEST_F(BareMetalNetTest, UserNetworkingAfterAUefiBoot) {
  if (access("/usr/share/OVMF/OVMF_CODE_4M.fd", R_OK) != 0 ||
      testing::CommandPath("grub-mkrescue").empty()) {
    GTEST_SKIP() << "OVMF or GRUB is not installed (scripts/install-deps.sh "
                    "installs them)";
  }
  const std::string image = dir_ + "/netecho.iso";
  const CommandResult made =
      RunCommand({HVBIOS_MKIMAGE_PATH, "--cmdline", "quit-port=9",
                  GuestPath("netecho"), "-o", image},
                 "", 120);
  ASSERT_EQ(made.exit_status, 0) << made.err;
  const int echo_port = FreeUdpPort(), quit_port = FreeUdpPort();
  StartCommand({HVBIOS_QEMU_PATH, "--machine", "q35", "--uefi", "--net",
                absl::StrCat("user,hostfwd=udp::", echo_port,
                             "-:7,hostfwd=udp::", quit_port, "-:9"),
                "--image", image},
               /*limit_seconds=*/240);
  EchoThroughHostForward(echo_port, quit_port, /*datagrams=*/50,
                         /*seed=*/5);
  const CommandResult r = Finish(0);
  EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("at 10.0.2.15"), std::string::npos) << r.out;
}

TEST_F(BareMetalNetTest, NetSpecsAreCheckedAsHvbiosRunChecksThem) {
  const std::string netecho = GuestPath("netecho");
  const struct {
    std::vector<std::string> args;
    std::string says;
  } kCases[] = {
      {{"--net", "bridge=br0"}, "expected tap=NAME"},
      {{"--net", "dgram=/tmp/a"}, "expected tap=NAME"},
      {{"--net", "user,peer=/tmp/b"}, "expected tap=NAME"},
      {{"--net", "user,mac=01:00:00:00:00:01"}, "malformed MAC"},
      {{"--net", "user,hostfwd=udp:5555:7"}, "malformed hostfwd"},
      {{"--net", "user", "--net", "user"}, "at most 1"},
  };
  for (const auto& c : kCases) {
    std::vector<std::string> args = {HVBIOS_QEMU_PATH};
    args.insert(args.end(), c.args.begin(), c.args.end());
    args.push_back(netecho);
    const CommandResult r = RunCommand(args, "", 60);
    EXPECT_EQ(r.exit_status, 121) << c.args[1] << "\n" << r.err;
    EXPECT_EQ(r.err.rfind("hvbios-qemu: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
  }
}

// hvbios-qemu's tap= is QEMU's tap netdev on an interface the test makes,
// inside a network namespace of its own, with the kernel's ping at the
// other end.
TEST_F(BareMetalNetTest, PingOverTapInANetworkNamespace) {
  PingOverTapInANamespace(HVBIOS_QEMU_PATH, GuestPath("netecho"));
}

// One guest ELF on both backends, on one cable: netecho under hvbios-run
// (KVM) pings netecho under hvbios-qemu (the firmware's e1000).
TEST_F(BareMetalNetTest, KvmAndBareMetalPingEachOther) {
  SKIP_WITHOUT_KVM();
  const std::string kvm = dir_ + "/kvm.sock", metal = dir_ + "/metal.sock";
  StartCommand(
      {HVBIOS_QEMU_PATH, "--net",
       absl::StrCat("dgram=", metal, ",peer=", kvm, ",mac=02:00:00:00:00:02"),
       "--cmdline", "ip=10.0.0.2 quit-port=9", GuestPath("netecho")});
  StartCommand({HVBIOS_RUN_PATH, "--net",
                absl::StrCat("dgram=", kvm, ",peer=", metal), "--cmdline",
                "ip=10.0.0.1 ping=10.0.0.2 count=20", GuestPath("netecho")});
  const CommandResult pinger = Finish(1);
  EXPECT_EQ(pinger.exit_status, 0) << pinger.out << pinger.err;
  EXPECT_NE(pinger.out.find("20 of 20 pings answered"), std::string::npos)
      << pinger.out;
  CableEnd cable(dir_ + "/t.sock");
  cable.SendTo(metal, Udp(1000, 9, {'q'}));
  const CommandResult responder = Finish(0);
  EXPECT_EQ(responder.exit_status, 0) << responder.out << responder.err;
}

}  // namespace
}  // namespace hvbios
