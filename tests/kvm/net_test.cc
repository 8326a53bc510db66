// Networking on real KVM through hvbios-run: the conformance suite over a
// looped link, the netecho example answering ARP, ping and UDP from this
// test (which plays the other end of a Unix datagram cable and checks every
// reply bit for bit), hostile frames, two VMs pinging each other, and ping
// over a TAP device inside a network namespace the test makes. Traffic
// never leaves this process's sockets or that namespace.
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

class NetTest : public GuestRunsTest {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_KVM();
    MakeDir("net_test");
  }
  // Runs hvbios-run with `args` on a thread; Finish() joins it.
  void Start(std::vector<std::string> args, int limit_seconds = 300) {
    args.insert(args.begin(), HVBIOS_RUN_PATH);
    StartCommand(std::move(args), limit_seconds);
  }
  // The guest's side of the cable to the test.
  std::string GuestNet(const std::string& local, const std::string& peer) {
    return absl::StrCat("dgram=", local, ",peer=", peer,
                        ",mac=02:00:00:00:00:02");
  }
};

TEST_F(NetTest, ConformanceOverALoopedLink) {
  const std::string loop = dir_ + "/loop.sock";
  const CommandResult r =
      RunCommand({HVBIOS_RUN_PATH, "--net", "dgram=" + loop + ",peer=" + loop,
                  "--cmdline", "net-loopback", GuestPath("conformance")},
                 "", 300);
  EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(" passed, 0 failed"), std::string::npos) << r.out;
}

TEST_F(NetTest, NetechoAnswersArpPingAndUdpExactly) {
  const std::string guest = dir_ + "/guest.sock", test = dir_ + "/test.sock";
  CableEnd cable(test);
  Start({"--net", GuestNet(guest, test), "--cmdline", "ip=10.0.0.2 quit-port=9",
         GuestPath("netecho")});
  constexpr int kDatagrams = 10000;
  ExchangeWithNetecho(cable, guest, kDatagrams);
  const CommandResult r = Finish(0);
  EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(absl::StrCat(kDatagrams + 1, " echoes")),
            std::string::npos)
      << r.out;
}

TEST_F(NetTest, TwoVmsPingEachOther) {
  const std::string a = dir_ + "/a.sock", b = dir_ + "/b.sock";
  Start({"--net", GuestNet(b, a), "--cmdline", "ip=10.0.0.2 quit-port=9",
         GuestPath("netecho")});
  Start({"--net", absl::StrCat("dgram=", a, ",peer=", b), "--cmdline",
         "ip=10.0.0.1 ping=10.0.0.2 count=20", GuestPath("netecho")});
  const CommandResult pinger = Finish(1);
  EXPECT_EQ(pinger.exit_status, 0) << pinger.out << pinger.err;
  EXPECT_NE(pinger.out.find("20 of 20 pings answered"), std::string::npos)
      << pinger.out;
  // Ends the responder: a quit datagram from the test, through b's socket.
  CableEnd cable(dir_ + "/t.sock");
  cable.SendTo(b, Udp(1000, 9, {'q'}));
  const CommandResult responder = Finish(0);
  EXPECT_EQ(responder.exit_status, 0) << responder.out << responder.err;
}

TEST_F(NetTest, UserNetworkingForwardsALoopbackPortToTheGuest) {
  const int echo_port = FreeUdpPort(), quit_port = FreeUdpPort();
  Start({"--net",
         absl::StrCat("user,hostfwd=udp::", echo_port,
                      "-:7,hostfwd=udp::", quit_port, "-:9"),
         "--cmdline", "quit-port=9", GuestPath("netecho")},
        /*limit_seconds=*/120);
  EchoThroughHostForward(echo_port, quit_port, /*datagrams=*/500,
                         /*seed=*/2);
  const CommandResult r = Finish(0);
  EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("at 10.0.2.15"), std::string::npos) << r.out;
}

TEST_F(NetTest, AForwardThatCannotBeSetUpIsOneClearError) {
  const int port = FreeUdpPort();
  const int taken = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(taken, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const CommandResult r = RunCommand(
      {HVBIOS_RUN_PATH, "--net",
       absl::StrCat("user,hostfwd=udp::", port, "-:7"), GuestPath("netecho")});
  close(taken);
  EXPECT_EQ(r.exit_status, 122) << r.err;
  EXPECT_EQ(r.err,
            absl::StrCat("hvbios-run: --net user: cannot forward UDP "
                         "port ",
                         port, " (in use, or not an address of this host)\n"));
}

TEST_F(NetTest, PingOverTapInANetworkNamespace) {
  PingOverTapInANamespace(HVBIOS_RUN_PATH, GuestPath("netecho"));
}

}  // namespace
}  // namespace hvbios
