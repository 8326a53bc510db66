// hvbios-net-user: user-mode networking (libslirp) for one network device,
// in a process of its own. hvbios-run starts it for --net user and hands
// it one end of a SOCK_SEQPACKET socket pair; each packet on it is one
// Ethernet frame, each way. Apart from the VMM because:
//   - libslirp is a TCP/IP stack that parses everything the guest sends;
//     here a flaw in it reaches sockets, not the VMM's guest memory and
//     KVM descriptors;
//   - it opens, connects and accepts sockets at run time, which the VMM's
//     sandbox forbids (docs/sandbox.md);
//   - the VMM stays one static executable (Debian has no static libslirp).
//
// Usage: hvbios-net-user --fd N [--restrict] [--hostfwd RULE]...
// The first packet it sends is its status: "ok" once the network and every
// forward are set up, or the one-line reason it failed (then it exits 1).
// It exits 0 when the other end of the socket pair closes.
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstring>
#include <list>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tools/hvbios-net-user/hostfwd.h"

extern "C" {
#include <slirp/libslirp.h>
}

namespace hvbios::net_user {
namespace {

constexpr size_t kMaxFrame = 1514;

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000ll + ts.tv_nsec;
}

struct Timer {
  SlirpTimerCb cb;
  void* cb_opaque;
  int64_t expire_ms = -1;  // -1: not armed
};

class UserNetwork {
 public:
  explicit UserNetwork(int fd) : fd_(fd) {}
  ~UserNetwork() {
    if (slirp_ != nullptr) slirp_cleanup(slirp_);
  }

  std::string Start(bool restricted, const std::vector<HostForward>& fwds) {
    SlirpConfig cfg = {};
    cfg.version = 4;
    cfg.restricted = restricted ? 1 : 0;
    cfg.in_enabled = true;
    cfg.vnetwork.s_addr = htonl(kNetwork);
    cfg.vnetmask.s_addr = htonl(0xffffff00);
    cfg.vhost.s_addr = htonl(kHostAddress);
    cfg.vdhcp_start.s_addr = htonl(kGuestAddress);
    cfg.vnameserver.s_addr = htonl(kNetwork | 3);
    cfg.vhostname = "hvbios";
    cfg.if_mtu = 1500;
    cfg.if_mru = 1500;
    static const SlirpCb kCallbacks = {
        .send_packet = &SendPacket,
        .guest_error = &GuestError,
        .clock_get_ns = [](void*) { return NowNs(); },
        .timer_new = &TimerNew,
        .timer_free =
            [](void* t, void* self) {
              static_cast<UserNetwork*>(self)->timers_.remove_if(
                  [t](const Timer& x) { return &x == t; });
            },
        .timer_mod =
            [](void* t, int64_t expire_ms, void*) {
              static_cast<Timer*>(t)->expire_ms = expire_ms;
            },
        .register_poll_fd = [](int, void*) {},
        .unregister_poll_fd = [](int, void*) {},
        .notify = [](void*) {},
    };
    slirp_ = slirp_new(&cfg, &kCallbacks, this);
    if (slirp_ == nullptr) return "libslirp could not set the network up";
    for (const HostForward& f : fwds) {
      if (slirp_add_hostfwd(slirp_, f.udp, f.host_address, f.host_port,
                            f.guest_address, f.guest_port) != 0) {
        return absl::StrCat("cannot forward ", f.udp ? "UDP" : "TCP", " port ",
                            f.host_port,
                            " (in use, or not an address of this host)");
      }
    }
    return "";
  }

  // Serves until the VMM's end closes.
  void Run() {
    for (;;) {
      fds_.assign(1, pollfd{fd_, POLLIN, 0});
      uint32_t timeout = UINT32_MAX;
      slirp_pollfds_fill(slirp_, &timeout, &AddPoll, this);
      const int64_t now_ms = NowNs() / 1'000'000;
      for (const Timer& t : timers_) {
        if (t.expire_ms < 0) continue;
        const int64_t wait = t.expire_ms > now_ms ? t.expire_ms - now_ms : 0;
        if (wait < timeout) timeout = static_cast<uint32_t>(wait);
      }
      const int ready = poll(fds_.data(), fds_.size(),
                             timeout == UINT32_MAX ? -1 : int(timeout));
      if (ready > 0 && fds_[0].revents != 0) {
        if (!(fds_[0].revents & POLLIN)) return;  // the VMM is gone
        if (!ForwardGuestFrames()) return;
      }
      slirp_pollfds_poll(slirp_, ready < 0 ? 1 : 0, &GetRevents, this);
      FireTimers();
    }
  }

 private:
  // Every frame waiting from the guest, into the stack. False once the
  // VMM's end has closed.
  bool ForwardGuestFrames() {
    uint8_t frame[kMaxFrame + 1];
    for (;;) {
      const ssize_t n = recv(fd_, frame, sizeof(frame), MSG_DONTWAIT);
      if (n == 0) return false;
      if (n < 0) return errno == EAGAIN || errno == EINTR;
      if (n <= static_cast<ssize_t>(kMaxFrame)) slirp_input(slirp_, frame, n);
    }
  }

  void FireTimers() {
    const int64_t now_ms = NowNs() / 1'000'000;
    for (Timer& t : timers_) {
      if (t.expire_ms >= 0 && t.expire_ms <= now_ms) {
        t.expire_ms = -1;
        t.cb(t.cb_opaque);
      }
    }
  }

  static ssize_t SendPacket(const void* buf, size_t len, void* self) {
    // A frame the VMM has no room for is dropped, as the guest's device
    // would drop it; TCP retransmits.
    (void)!send(static_cast<UserNetwork*>(self)->fd_, buf, len,
                MSG_DONTWAIT | MSG_NOSIGNAL);
    return static_cast<ssize_t>(len);
  }
  static void GuestError(const char* msg, void*) {
    fprintf(stderr, "hvbios-net-user: the guest's traffic: %s\n", msg);
  }
  static void* TimerNew(SlirpTimerCb cb, void* cb_opaque, void* self) {
    auto* net = static_cast<UserNetwork*>(self);
    net->timers_.push_back({cb, cb_opaque});
    return &net->timers_.back();
  }
  static int AddPoll(int fd, int events, void* self) {
    auto* net = static_cast<UserNetwork*>(self);
    short ev = 0;
    if (events & SLIRP_POLL_IN) ev |= POLLIN;
    if (events & SLIRP_POLL_OUT) ev |= POLLOUT;
    if (events & SLIRP_POLL_PRI) ev |= POLLPRI;
    net->fds_.push_back({fd, ev, 0});
    return static_cast<int>(net->fds_.size() - 1);
  }
  static int GetRevents(int idx, void* self) {
    const short r = static_cast<UserNetwork*>(self)->fds_[idx].revents;
    int events = 0;
    if (r & POLLIN) events |= SLIRP_POLL_IN;
    if (r & POLLOUT) events |= SLIRP_POLL_OUT;
    if (r & POLLPRI) events |= SLIRP_POLL_PRI;
    if (r & POLLERR) events |= SLIRP_POLL_ERR;
    if (r & POLLHUP) events |= SLIRP_POLL_HUP;
    return events;
  }

  const int fd_;
  Slirp* slirp_ = nullptr;
  std::vector<pollfd> fds_;
  std::list<Timer> timers_;  // stable addresses: slirp keeps pointers
};

int Main(int argc, char** argv) {
  int fd = -1;
  bool restricted = false;
  std::vector<HostForward> forwards;
  std::string error;
  for (int i = 1; i < argc && error.empty(); ++i) {
    const std::string arg = argv[i];
    if (arg == "--fd" && i + 1 < argc) {
      if (!absl::SimpleAtoi(argv[++i], &fd) || fd < 0) error = "bad --fd";
    } else if (arg == "--restrict") {
      restricted = true;
    } else if (arg == "--hostfwd" && i + 1 < argc) {
      absl::StatusOr<HostForward> f = ParseHostForward(argv[++i]);
      if (f.ok()) {
        forwards.push_back(*f);
      } else {
        error = std::string(f.status().message());
      }
    } else {
      error = absl::StrCat("unknown argument '", arg, "'");
    }
  }
  int type = 0;
  socklen_t len = sizeof(type);
  if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
      type != SOCK_SEQPACKET) {
    fprintf(stderr,
            "usage: hvbios-net-user --fd N [--restrict] [--hostfwd RULE]...\n"
            "  (N: a SOCK_SEQPACKET socket; run by hvbios-run --net user)\n");
    return 2;
  }
  // Dies with the VMM even if the socket were shared with another process.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  std::signal(SIGPIPE, SIG_IGN);
  UserNetwork net(fd);
  if (error.empty()) error = net.Start(restricted, forwards);
  const std::string status = error.empty() ? "ok" : error;
  (void)!send(fd, status.data(), status.size(), MSG_NOSIGNAL);
  if (!error.empty()) return 1;
  net.Run();
  return 0;
}

}  // namespace
}  // namespace hvbios::net_user

int main(int argc, char** argv) { return hvbios::net_user::Main(argc, argv); }
