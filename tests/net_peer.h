// The far end of a network cable, for tests that talk to a guest's net
// device: Ethernet, ARP, IPv4, ICMP and UDP frames built and checked here
// independently of the guest's code, a Unix datagram socket as the cable
// (hvbios-run's and hvbios-qemu's --net dgram=), loopback UDP sockets for
// user-mode networking's hostfwd, the exchanges with the netecho example
// that both backends' tests run, and their fixture. Header-only: each test
// binary that uses it compiles it.
#ifndef HVBIOS_TESTS_NET_PEER_H_
#define HVBIOS_TESTS_NET_PEER_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <deque>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/run_command.h"
#include "tests/test_util.h"

namespace hvbios::testing {

using Bytes = std::vector<uint8_t>;

constexpr uint8_t kGuestMac[6] = {0x02, 0, 0, 0, 0, 0x02};
constexpr uint8_t kTestMac[6] = {0x02, 0, 0, 0, 0, 0x01};
constexpr uint32_t kGuestIp = 0x0a000002;  // 10.0.0.2
constexpr uint32_t kTestIp = 0x0a000001;   // 10.0.0.1

inline void Put16(Bytes& b, size_t at, uint16_t v) {
  b[at] = v >> 8;
  b[at + 1] = v & 0xff;
}
void Put32(Bytes& b, size_t at, uint32_t v) {
  Put16(b, at, v >> 16);
  Put16(b, at + 2, v & 0xffff);
}
inline uint16_t Get16(const Bytes& b, size_t at) {
  return b[at] << 8 | b[at + 1];
}
inline uint32_t Get32(const Bytes& b, size_t at) {
  return static_cast<uint32_t>(Get16(b, at)) << 16 | Get16(b, at + 2);
}
// RFC 1071, word by word: an independent implementation of what the guest
// computes 8 bytes at a time.
inline uint16_t Checksum(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += p[i] << 8 | p[i + 1];
  if (n % 2) sum += p[n - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

inline Bytes Ether(const uint8_t* dst, uint16_t type, size_t payload) {
  Bytes f(14 + payload);
  std::memcpy(f.data(), dst, 6);
  std::memcpy(f.data() + 6, kTestMac, 6);
  Put16(f, 12, type);
  return f;
}
inline Bytes ArpRequest(uint32_t target) {
  const uint8_t broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  Bytes f = Ether(broadcast, 0x0806, 28);
  Put16(f, 14, 1);
  Put16(f, 16, 0x0800);
  f[18] = 6;
  f[19] = 4;
  Put16(f, 20, 1);
  std::memcpy(&f[22], kTestMac, 6);
  Put32(f, 28, kTestIp);
  Put32(f, 38, target);
  return f;
}
// An IPv4 packet from the test to the guest with `l4` as its payload.
inline Bytes Ipv4(uint8_t protocol, const Bytes& l4) {
  Bytes f = Ether(kGuestMac, 0x0800, 20 + l4.size());
  f[14] = 0x45;
  Put16(f, 16, 20 + l4.size());
  f[22] = 64;
  f[23] = protocol;
  Put32(f, 26, kTestIp);
  Put32(f, 30, kGuestIp);
  Put16(f, 24, Checksum(&f[14], 20));
  std::copy(l4.begin(), l4.end(), f.begin() + 34);
  return f;
}
inline Bytes IcmpEcho(uint16_t seq, const Bytes& data) {
  Bytes icmp(8 + data.size());
  icmp[0] = 8;
  Put16(icmp, 4, 0x1234);
  Put16(icmp, 6, seq);
  std::copy(data.begin(), data.end(), icmp.begin() + 8);
  Put16(icmp, 2, Checksum(icmp.data(), icmp.size()));
  return Ipv4(1, icmp);
}
inline uint32_t PseudoSum(uint32_t src, uint32_t dst, size_t udp_length) {
  return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + 17 +
         static_cast<uint32_t>(udp_length);
}
inline Bytes Udp(uint16_t src_port, uint16_t dst_port, const Bytes& data) {
  Bytes udp(8 + data.size());
  Put16(udp, 0, src_port);
  Put16(udp, 2, dst_port);
  Put16(udp, 4, udp.size());
  std::copy(data.begin(), data.end(), udp.begin() + 8);
  uint16_t sum = Checksum(udp.data(), udp.size(),
                          PseudoSum(kTestIp, kGuestIp, udp.size()));
  Put16(udp, 6, sum == 0 ? 0xffff : sum);
  return Ipv4(17, udp);
}

// The test's end of the cable: a datagram socket bound at `path`.
class CableEnd {
 public:
  explicit CableEnd(const std::string& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr = Address(path);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    timeval tv = {.tv_sec = 0, .tv_usec = 100 * 1000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~CableEnd() {
    close(fd_);
    unlink(path_.c_str());
  }
  void SendTo(const std::string& peer, const Bytes& frame) {
    sockaddr_un addr = Address(peer);
    ASSERT_EQ(sendto(fd_, frame.data(), frame.size(), 0,
                     reinterpret_cast<sockaddr*>(&addr), sizeof(addr)),
              static_cast<ssize_t>(frame.size()));
  }
  // The next frame within `seconds`, or an empty one.
  Bytes Receive(double seconds = 30) {
    Bytes f(2048);
    for (double waited = 0; waited < seconds; waited += 0.1) {
      const ssize_t n = recv(fd_, f.data(), f.size(), 0);
      if (n >= 0) {
        f.resize(n);
        return f;
      }
    }
    return {};
  }

 private:
  static sockaddr_un Address(const std::string& path) {
    sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    return addr;
  }
  const std::string path_;
  int fd_ = -1;
};

// `frame` without the zeros a padding link (docs/abi.md 5.15) added to
// make a frame of `length` bytes 60; unchanged if it was not padded so.
inline Bytes Unpadded(const Bytes& frame, size_t length) {
  if (length >= 60 || frame.size() != 60) return frame;
  for (size_t i = length; i < frame.size(); ++i) {
    if (frame[i] != 0) return frame;
  }
  return Bytes(frame.begin(), frame.begin() + length);
}

// A port on 127.0.0.1 nothing uses now for sockets of `type` (SOCK_DGRAM,
// SOCK_STREAM): the kernel's choice.
inline int FreeLoopbackPort(int type) {
  const int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}
inline int FreeUdpPort() { return FreeLoopbackPort(SOCK_DGRAM); }

// A UDP socket on 127.0.0.1 that talks to `port` there.
class LoopbackUdp {
 public:
  explicit LoopbackUdp(int port) {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in to = {};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof(to)), 0);
    timeval tv = {.tv_sec = 1, .tv_usec = 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~LoopbackUdp() { close(fd_); }
  void Send(const Bytes& b) { (void)!send(fd_, b.data(), b.size(), 0); }
  Bytes Receive() {
    Bytes b(2048);
    const ssize_t n = recv(fd_, b.data(), b.size(), 0);
    b.resize(n < 0 ? 0 : n);
    return b;
  }

 private:
  int fd_ = -1;
};

// The netecho example (ip=10.0.0.2 quit-port=9) at the other end of
// `cable`, its device's socket at `guest`: ARP answered field by field and
// only for its own address, ping answered exactly, hostile frames
// ignored, `datagrams` UDP datagrams of random sizes echoed byte for
// byte, a window of them in flight; then the quit datagram.
inline void ExchangeWithNetecho(CableEnd& cable, const std::string& guest,
                                int datagrams) {
  // The guest's socket exists once its runner has set up; ARP until the
  // guest answers (it may still be booting).
  Bytes reply;
  for (int i = 0; i < 60 && reply.empty(); ++i) {
    if (access(guest.c_str(), F_OK) == 0)
      cable.SendTo(guest, ArpRequest(kGuestIp));
    reply = cable.Receive(1);
  }
  reply = Unpadded(reply, 42);
  ASSERT_EQ(reply.size(), 42u) << "an ARP reply";
  EXPECT_EQ(Bytes(reply.begin(), reply.begin() + 6),
            Bytes(kTestMac, kTestMac + 6));
  EXPECT_EQ(Bytes(reply.begin() + 6, reply.begin() + 12),
            Bytes(kGuestMac, kGuestMac + 6));
  EXPECT_EQ(Get16(reply, 12), 0x0806);
  EXPECT_EQ(Get16(reply, 20), 2) << "op: reply";
  EXPECT_EQ(Bytes(reply.begin() + 22, reply.begin() + 28),
            Bytes(kGuestMac, kGuestMac + 6));
  EXPECT_EQ(Get32(reply, 28), kGuestIp);
  EXPECT_EQ(Get32(reply, 38), kTestIp);
  // An ARP request for another address gets no answer.
  cable.SendTo(guest, ArpRequest(kGuestIp + 1));

  // Ping: the reply carries the request's id, sequence and data, with
  // valid checksums.
  const Bytes data = {'h', 'v', 'b', 'i', 'o', 's', 0, 1, 2, 3};
  cable.SendTo(guest, IcmpEcho(7, data));
  reply = Unpadded(cable.Receive(), 14 + 20 + 8 + data.size());
  ASSERT_EQ(reply.size(), 14u + 20 + 8 + data.size());
  EXPECT_EQ(Checksum(&reply[14], 20), 0) << "IPv4 header checksum";
  EXPECT_EQ(Get32(reply, 26), kGuestIp);
  EXPECT_EQ(Get32(reply, 30), kTestIp);
  EXPECT_EQ(reply[34], 0) << "echo reply";
  EXPECT_EQ(Checksum(&reply[34], reply.size() - 34), 0) << "ICMP checksum";
  EXPECT_EQ(Get16(reply, 38), 0x1234);
  EXPECT_EQ(Get16(reply, 40), 7);
  EXPECT_EQ(Bytes(reply.begin() + 42, reply.end()), data);

  // Hostile and broken frames: no reply, and the guest keeps serving.
  std::mt19937 rng(1);
  Bytes bad = IcmpEcho(8, data);
  bad[24] ^= 1;  // IPv4 header checksum
  cable.SendTo(guest, bad);
  bad = IcmpEcho(9, data);
  bad.back() ^= 1;  // ICMP checksum
  cable.SendTo(guest, bad);
  bad = Udp(1000, 7, data);
  bad.back() ^= 1;  // UDP checksum
  cable.SendTo(guest, bad);
  bad = Udp(1000, 7, data);
  Put16(bad, 16, 2000);  // IPv4 total length past the frame
  Put16(bad, 24, 0);
  Put16(bad, 24, Checksum(&bad[14], 20));
  cable.SendTo(guest, bad);
  for (int i = 0; i < 50; ++i) {
    Bytes junk(14 + rng() % 1500);
    for (uint8_t& b : junk) b = rng();
    std::memcpy(junk.data(), kGuestMac, 6);
    Put16(junk, 12, i % 2 ? 0x0800 : 0x0806);
    cable.SendTo(guest, junk);
  }

  // UDP echo: datagrams of random sizes, each echoed byte for byte, a
  // window of them in flight.
  constexpr int kWindow = 16;
  std::vector<Bytes> sent;
  int received = 0;
  for (int i = 0; i < datagrams || received < static_cast<int>(sent.size());) {
    while (i < datagrams &&
           static_cast<int>(sent.size()) - received < kWindow) {
      Bytes payload(1 + rng() % 1472);
      for (uint8_t& b : payload) b = rng();
      if (payload.size() >= 2) Put16(payload, 0, i & 0xffff);
      sent.push_back(payload);
      cable.SendTo(guest, Udp(40000 + i % 1000, 7, payload));
      ++i;
    }
    reply = cable.Receive();
    ASSERT_FALSE(reply.empty()) << "no echo after " << received << " (size "
                                << sent[received].size() << ")";
    ASSERT_EQ(Get16(reply, 12), 0x0800);
    const Bytes& want = sent[received];
    reply = Unpadded(reply, 14 + 20 + 8 + want.size());
    ASSERT_EQ(reply.size(), 14u + 20 + 8 + want.size()) << received;
    ASSERT_EQ(Checksum(&reply[14], 20), 0) << received;
    ASSERT_EQ(Get16(reply, 34), 7) << "from the echo port";
    ASSERT_EQ(Get16(reply, 36), 40000 + received % 1000);
    ASSERT_EQ(Checksum(&reply[34], reply.size() - 34,
                       PseudoSum(kGuestIp, kTestIp, reply.size() - 34)),
              0)
        << "UDP checksum of echo " << received;
    ASSERT_EQ(Bytes(reply.begin() + 42, reply.end()), want) << received;
    ++received;
  }
  EXPECT_EQ(received, datagrams);
  cable.SendTo(guest, Udp(1000, 9, {'q'}));
}

// netecho behind user-mode networking with its echo port forwarded from
// 127.0.0.1:`echo_port` and its quit port from `quit_port`: the first
// datagram retried until the forward answers, then `datagrams` of random
// sizes (from `seed`) echoed exactly, then the quit datagram.
inline void EchoThroughHostForward(int echo_port, int quit_port, int datagrams,
                                   uint32_t seed) {
  LoopbackUdp echo(echo_port);
  // Until the forward exists, a datagram to the port is refused at once
  // (ECONNREFUSED); then libslirp learns the guest's MAC with ARP and may
  // drop the datagram that made it ask: retry the first one, for at most a
  // minute.
  const Bytes hello = {'h', 'i'};
  Bytes reply;
  for (int i = 0; i < 60 && reply.empty(); ++i) {
    echo.Send(hello);
    reply = echo.Receive();
    if (reply.empty()) sleep(1);
  }
  ASSERT_EQ(reply, hello);
  while (!echo.Receive().empty()) {
  }
  std::mt19937 rng(seed);
  for (int i = 0; i < datagrams; ++i) {
    Bytes payload(1 + rng() % 1472);
    for (uint8_t& b : payload) b = rng();
    echo.Send(payload);
    ASSERT_EQ(echo.Receive(), payload) << i;
  }
  LoopbackUdp(quit_port).Send({'q'});
}

// `runner` (hvbios-run or hvbios-qemu) boots netecho on a TAP device
// inside a fresh network namespace: the device, its address, the VM and
// the kernel's ping all live there; once the guest answers (it boots
// meanwhile), 200 pings of 200 are answered. Skips where root, tun,
// unshare, ip, ping or namespaces are missing.
inline void PingOverTapInANamespace(const std::string& runner,
                                    const std::string& netecho) {
  if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) != 0 ||
      system("command -v unshare ip ping >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "needs root, /dev/net/tun, unshare, ip and ping";
  }
  const std::string script = absl::StrCat(
      "set -e; ip link set lo up; ip tuntap add dev hvtap0 mode tap; "
      "ip addr add 10.77.0.1/24 dev hvtap0; ip link set hvtap0 up; ",
      runner, " --net tap=hvtap0 --cmdline 'ip=10.77.0.2 quit-port=9' ",
      netecho,
      " & vm=$!; ping -c 1 -w 60 10.77.0.2 >/dev/null || true; "
      "ping -c 200 -i 0.02 -w 120 10.77.0.2 || true; "
      "echo q > /dev/udp/10.77.0.2/9; wait $vm");
  const CommandResult r =
      RunCommand({"unshare", "--net", "bash", "-c", script}, "", 300);
  if (r.exit_status != 0 &&
      r.err.find("Operation not permitted") != std::string::npos) {
    GTEST_SKIP() << "no network namespaces here: " << r.err;
  }
  EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("200 packets transmitted, 200 received"),
            std::string::npos)
      << r.out << r.err;
}

// A fixture for tests that run guests on threads of their own while they
// play the guests' peers: StartCommand() runs a command line (the runner
// first), Finish() joins it; a test that fails early still waits for its
// runs (each ends by itself: RunCommand kills it at its limit) and shows
// what they printed.
class GuestRunsTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (size_t i = 0; i < runs_.size(); ++i) {
      if (!runs_[i].joinable()) continue;
      runs_[i].join();
      if (HasFailure()) {
        ADD_FAILURE() << "run " << i << ": status " << results_[i].exit_status
                      << "\n"
                      << results_[i].out << results_[i].err;
      }
    }
  }
  void StartCommand(std::vector<std::string> args, int limit_seconds = 300) {
    CommandResult* result = &results_.emplace_back();  // deque: stays put
    runs_.emplace_back([result, args, limit_seconds] {
      *result = RunCommand(args, "", limit_seconds);
    });
  }
  CommandResult Finish(size_t i) {
    runs_[i].join();
    return results_[i];
  }
  // A fresh directory for the test's sockets, in dir_.
  void MakeDir(const std::string& name) {
    ASSERT_TRUE(temp_dir_.Create(name));
    dir_ = temp_dir_.path();
  }

  ScopedTempDir temp_dir_;
  std::string dir_;
  std::vector<std::thread> runs_;
  std::deque<CommandResult> results_;
};

}  // namespace hvbios::testing

#endif  // HVBIOS_TESTS_NET_PEER_H_
