// The TAP link against the real kernel: in a child process inside a
// network namespace of its own (so that no frame reaches any other
// interface), a TAP device with an address carries a UDP datagram each way
// between the link's Send()/receiver and a kernel socket.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "hvbios/internal/mutex.h"
#include "hvbios/net.h"

namespace hvbios {
namespace {

using Bytes = std::vector<uint8_t>;

constexpr uint8_t kLinkMac[6] = {0x02, 0, 0, 0, 0, 0x02};  // the "guest"

uint16_t Checksum(const uint8_t* p, size_t n) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < n; i += 2) sum += p[i] << 8 | p[i + 1];
  if (n % 2) sum += p[n - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// A UDP datagram (checksum 0: none) from 10.78.0.2:4000 to
// 10.78.0.1:`port`, to the TAP interface's `mac`.
Bytes UdpFrame(const uint8_t* mac, uint16_t port, const std::string& text) {
  Bytes f(14 + 20 + 8 + text.size());
  std::memcpy(f.data(), mac, 6);
  std::memcpy(f.data() + 6, kLinkMac, 6);
  f[12] = 0x08;
  f[14] = 0x45;
  const uint16_t total = 20 + 8 + text.size();
  f[16] = total >> 8;
  f[17] = total & 0xff;
  f[22] = 64;
  f[23] = 17;
  const uint8_t src[4] = {10, 78, 0, 2}, dst[4] = {10, 78, 0, 1};
  std::memcpy(&f[26], src, 4);
  std::memcpy(&f[30], dst, 4);
  const uint16_t sum = Checksum(&f[14], 20);
  f[24] = sum >> 8;
  f[25] = sum & 0xff;
  f[34] = 4000 >> 8;
  f[35] = 4000 & 0xff;
  f[36] = port >> 8;
  f[37] = port & 0xff;
  f[38] = (8 + text.size()) >> 8;
  f[39] = (8 + text.size()) & 0xff;
  std::memcpy(&f[42], text.data(), text.size());
  return f;
}

// The child's work; its exit status is the line that failed (0: none).
int TapRoundTrip() {
  if (unshare(CLONE_NEWNET) != 0) return 100;
  absl::StatusOr<std::shared_ptr<NetLink>> link = OpenTapLink("hvtest0");
  if (!link.ok()) return __LINE__;
  if (system("ip link set hvtest0 address 02:00:00:00:00:01 && "
             "ip addr add 10.78.0.1/24 dev hvtest0 && "
             "ip link set hvtest0 up && "
             "ip neigh add 10.78.0.2 lladdr 02:00:00:00:00:02 dev hvtest0") !=
      0) {
    return __LINE__;
  }
  const int sock = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(5000);
  addr.sin_addr.s_addr = htonl(0x0a4e0001);
  if (bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return __LINE__;
  }
  timeval tv = {.tv_sec = 10, .tv_usec = 0};
  setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

  // Link to kernel: the frame the link sends arrives at the socket.
  const uint8_t tap_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
  if (!(*link)->Send(UdpFrame(tap_mac, 5000, "to the kernel")).ok()) {
    return __LINE__;
  }
  char buf[64] = {};
  sockaddr_in from = {};
  socklen_t from_len = sizeof(from);
  if (recvfrom(sock, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from),
               &from_len) != 13 ||
      std::string(buf, 13) != "to the kernel" ||
      from.sin_addr.s_addr != htonl(0x0a4e0002)) {
    return __LINE__;
  }

  // Kernel to link: the socket's reply arrives at the receiver as a frame.
  Mutex mu;
  std::vector<Bytes> frames;
  if (!(*link)
           ->Attach([&](absl::Span<const uint8_t> f) {
             MutexLock lock(&mu);
             frames.emplace_back(f.begin(), f.end());
           })
           .ok()) {
    return __LINE__;
  }
  if (sendto(sock, "to the link", 11, 0, reinterpret_cast<sockaddr*>(&from),
             from_len) != 11) {
    return __LINE__;
  }
  bool found = false;
  {
    MutexLock lock(&mu);
    mu.AwaitWithTimeout(
        [&] {
          for (const Bytes& f : frames) {
            if (f.size() == 42 + 11 && f[23] == 17 &&
                std::memcmp(&f[42], "to the link", 11) == 0 &&
                std::memcmp(f.data(), kLinkMac, 6) == 0) {
              found = true;
            }
          }
          return found;
        },
        absl::Seconds(10));
  }
  (*link)->Detach();
  return found ? 0 : __LINE__;
}

TEST(TapLinkTest, CarriesFramesBothWaysInANetworkNamespace) {
  if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) != 0 ||
      system("command -v ip >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "needs root, /dev/net/tun and ip";
  }
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) _exit(TapRoundTrip());
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 100) {
    GTEST_SKIP() << "no network namespaces here (unshare failed)";
  }
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "failed at net_link_test.cc line " << WEXITSTATUS(status);
}

}  // namespace
}  // namespace hvbios
