// The network links hvbios brings (hvbios/net.h): descriptors carrying one
// frame per read and write (a TAP device, datagram sockets), served by one
// reader thread per attached link, and the embedder's callbacks.
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "hvbios/abi/net.h"
#include "hvbios/internal/mutex.h"
#include "hvbios/net.h"
#include "lib/status_macros.h"
#include "lib/threads.h"
#include "lib/unique_fd.h"

namespace hvbios {
namespace {

// One frame per read() and write(): the reader thread polls the descriptor
// and a stop eventfd, so that Detach() ends it at once.
class FdLink : public NetLink {
 public:
  // A socket's frames go to `peer` (an unconnected datagram socket) or to
  // its connected other end; a TAP device's are written.
  FdLink(UniqueFd fd, std::string what, bool socket,
         std::optional<sockaddr_un> peer = {})
      : fd_(std::move(fd)),
        what_(std::move(what)),
        socket_(socket),
        peer_(peer) {}
  ~FdLink() override { Detach(); }

  absl::Status Attach(Receiver receiver) override {
    MutexLock lock(&mu_);
    if (reader_.joinable()) {
      return absl::FailedPreconditionError(
          absl::StrFormat("%s: already attached to a VM", what_));
    }
    UniqueFd stop(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!stop.valid()) return ErrnoStatus(errno, "eventfd for a net link");
    ASSIGN_OR_RETURN(
        reader_,
        StartThread("net link", [this, s = stop.get(),
                                 r = std::move(receiver)] { Read(s, r); }));
    stop_ = std::move(stop);
    return absl::OkStatus();
  }

  void Detach() override {
    MutexLock lock(&mu_);
    if (!reader_.joinable()) return;
    const uint64_t one = 1;
    (void)!write(stop_.get(), &one, sizeof(one));
    reader_.join();
    stop_.reset();
  }

  absl::Status Send(absl::Span<const uint8_t> frame) override {
    ssize_t n;
    do {
      // MSG_NOSIGNAL: a closed seqpacket peer is EPIPE, not SIGPIPE.
      n = socket_ ? sendto(fd_.get(), frame.data(), frame.size(),
                           MSG_DONTWAIT | MSG_NOSIGNAL,
                           peer_ ? reinterpret_cast<const sockaddr*>(&*peer_)
                                 : nullptr,
                           peer_ ? sizeof(*peer_) : 0)
                  : write(fd_.get(), frame.data(), frame.size());
    } while (n < 0 && errno == EINTR);
    if (n >= 0) return absl::OkStatus();
    if (errno == EAGAIN || errno == ENOBUFS) {
      return absl::UnavailableError(absl::StrFormat("%s: full", what_));
    }
    // The other end is gone (no peer bound, interface down, peer closed):
    // the frame is lost, as on a cable with nothing at its end.
    return absl::OkStatus();
  }

 private:
  void Read(int stop, const Receiver& receiver) {
    pthread_setname_np(pthread_self(), "hvbios-net");
    // Frames above HVB_NET_MAX_FRAME (a host interface with a larger MTU)
    // cannot reach the guest; reading into a larger buffer tells them
    // apart from ones that fit, and they are dropped.
    std::vector<uint8_t> frame(HVB_NET_MAX_FRAME + 1);
    pollfd fds[2] = {{fd_.get(), POLLIN, 0}, {stop, POLLIN, 0}};
    for (;;) {
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[1].revents != 0) return;
      if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
        if (!(fds[0].revents & POLLIN)) return;  // nothing will come
      }
      const ssize_t n = read(fd_.get(), frame.data(), frame.size());
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return;
      }
      if (n >= HVB_NET_MIN_FRAME && n <= HVB_NET_MAX_FRAME) {
        receiver(absl::MakeConstSpan(frame.data(), static_cast<size_t>(n)));
      }
    }
  }

  const UniqueFd fd_;
  const std::string what_;
  const bool socket_;
  const std::optional<sockaddr_un> peer_;
  Mutex mu_;
  std::thread reader_ ABSL_GUARDED_BY(mu_);
  UniqueFd stop_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<sockaddr_un> UnixAddress(const std::string& path) {
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "socket path '%s': 1 to %d bytes", path, sizeof(addr.sun_path) - 1));
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

class CallbackLink : public NetCallbackLink {
 public:
  explicit CallbackLink(NetCallbacks callbacks)
      : callbacks_(std::move(callbacks)) {}

  absl::Status Attach(Receiver receiver) override {
    MutexLock lock(&mu_);
    if (receiver_) {
      return absl::FailedPreconditionError(
          "callback net link: already attached to a VM");
    }
    receiver_ = std::move(receiver);
    return absl::OkStatus();
  }
  void Detach() override {
    MutexLock lock(&mu_);
    receiver_ = nullptr;
  }
  absl::Status Send(absl::Span<const uint8_t> frame) override {
    CallbackScope in_callback;
    return callbacks_.send(frame);
  }
  bool link_up() const override {
    if (!callbacks_.link_up) return true;
    CallbackScope in_callback;
    return callbacks_.link_up();
  }
  bool Deliver(absl::Span<const uint8_t> frame) override {
    // Held while delivering, so that Detach() returns only once no frame
    // is on its way.
    MutexLock lock(&mu_);
    if (!receiver_) return false;
    if (frame.size() < HVB_NET_MIN_FRAME || frame.size() > HVB_NET_MAX_FRAME) {
      return false;
    }
    receiver_(frame);
    return true;
  }

 private:
  const NetCallbacks callbacks_;
  Mutex mu_;
  Receiver receiver_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::array<uint8_t, 6>> ParseMacAddress(absl::string_view text) {
  std::array<uint8_t, 6> mac;
  const std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  bool ok = parts.size() == mac.size();
  for (size_t i = 0; ok && i < parts.size(); ++i) {
    uint32_t byte = 0;
    ok = parts[i].size() == 2 && absl::SimpleHexAtoi(parts[i], &byte);
    mac[i] = static_cast<uint8_t>(byte);
  }
  if (!ok || (mac[0] & 1) != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "MAC address '%s': want six hex pairs like 52:54:00:12:34:56, "
        "unicast (the first byte even)",
        text));
  }
  return mac;
}

absl::StatusOr<NetSpec> ParseNetSpec(absl::string_view text,
                                     absl::string_view what) {
  const absl::Status usage = absl::InvalidArgumentError(
      absl::StrCat(what, " '", text,
                   "': expected tap=NAME, dgram=LOCAL,peer=PEER or "
                   "user[,hostfwd=RULE][,restrict=on], each with [,mac=MAC]"));
  NetSpec spec;
  bool kind_given = false;
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    const std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(item, absl::MaxSplits('=', 1));
    const auto& [key, value] = kv;
    const bool user = kind_given && spec.kind == NetSpec::Kind::kUser;
    if (!kind_given && item == "user") {
      spec.kind = NetSpec::Kind::kUser;
    } else if (value.empty()) {
      return usage;
    } else if (!kind_given && key == "tap") {
      spec.kind = NetSpec::Kind::kTap;
      spec.tap = std::string(value);
    } else if (!kind_given && key == "dgram") {
      spec.kind = NetSpec::Kind::kDgram;
      spec.local = std::string(value);
    } else if (kind_given && key == "peer" &&
               spec.kind == NetSpec::Kind::kDgram && spec.peer.empty()) {
      spec.peer = std::string(value);
    } else if (user && key == "hostfwd") {
      spec.user_args.push_back("--hostfwd");
      spec.user_args.push_back(std::string(value));
    } else if (user && key == "restrict" && (value == "on" || value == "off")) {
      if (value == "on") spec.user_args.push_back("--restrict");
    } else if (kind_given && key == "mac" && !spec.mac.has_value()) {
      ASSIGN_OR_RETURN(spec.mac, ParseMacAddress(value));
    } else {
      return usage;
    }
    kind_given = true;
  }
  if (!kind_given ||
      (spec.kind == NetSpec::Kind::kDgram && spec.peer.empty())) {
    return usage;
  }
  return spec;
}

absl::StatusOr<NetDeviceConfig> OpenNetDevice(const NetSpec& spec) {
  if (spec.kind == NetSpec::Kind::kUser) {
    return absl::UnimplementedError(
        "user-mode networking runs in the hvbios-net-user helper, which "
        "hvbios-run starts");
  }
  NetDeviceConfig config;
  if (spec.kind == NetSpec::Kind::kTap) {
    ASSIGN_OR_RETURN(config.link, OpenTapLink(spec.tap));
  } else {
    ASSIGN_OR_RETURN(config.link, OpenUnixDatagramLink(spec.local, spec.peer));
  }
  config.mac = spec.mac.value_or(RandomMacAddress());
  return config;
}

absl::StatusOr<NetDeviceConfig> OpenNetDevice(absl::string_view spec) {
  ASSIGN_OR_RETURN(const NetSpec parsed, ParseNetSpec(spec));
  return OpenNetDevice(parsed);
}

std::array<uint8_t, 6> RandomMacAddress() {
  std::array<uint8_t, 6> mac;
  if (getentropy(mac.data(), mac.size()) != 0) {
    // No entropy source: distinct per process at least.
    const uint32_t pid = static_cast<uint32_t>(getpid());
    mac = {0,
           0,
           static_cast<uint8_t>(pid >> 24),
           static_cast<uint8_t>(pid >> 16),
           static_cast<uint8_t>(pid >> 8),
           static_cast<uint8_t>(pid)};
  }
  mac[0] = static_cast<uint8_t>((mac[0] & 0xfc) | 0x02);  // local, unicast
  return mac;
}

absl::StatusOr<std::shared_ptr<NetLink>> OpenTapLink(const std::string& name) {
  ifreq ifr = {};
  if (name.empty() || name.size() >= sizeof(ifr.ifr_name)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "TAP device name '%s': 1 to %d bytes", name, sizeof(ifr.ifr_name) - 1));
  }
  UniqueFd fd(open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) return ErrnoStatus(errno, "open /dev/net/tun");
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  if (ioctl(fd.get(), TUNSETIFF, &ifr) != 0) {
    return ErrnoStatus(errno, absl::StrFormat("TUNSETIFF %s", name));
  }
  return std::make_shared<FdLink>(
      std::move(fd), absl::StrFormat("TAP device %s", name), /*socket=*/false);
}

absl::StatusOr<std::shared_ptr<NetLink>> OpenUnixDatagramLink(
    const std::string& local_path, const std::string& peer_path) {
  ASSIGN_OR_RETURN(const sockaddr_un local, UnixAddress(local_path));
  ASSIGN_OR_RETURN(const sockaddr_un peer, UnixAddress(peer_path));
  struct stat st;
  if (lstat(local_path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return absl::AlreadyExistsError(absl::StrFormat(
          "%s exists and is not a socket: not replacing it", local_path));
    }
    unlink(local_path.c_str());  // a stale socket of an earlier run
  }
  UniqueFd fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return ErrnoStatus(errno, "socket(AF_UNIX, SOCK_DGRAM)");
  if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&local),
           sizeof(local)) != 0) {
    return ErrnoStatus(errno, absl::StrFormat("bind %s", local_path));
  }
  return std::make_shared<FdLink>(
      std::move(fd), absl::StrFormat("datagram socket %s", local_path),
      /*socket=*/true, peer);
}

absl::StatusOr<std::shared_ptr<NetLink>> MakeSocketLink(int fd) {
  UniqueFd owned(fd);
  int type = 0;
  socklen_t len = sizeof(type);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
      (type != SOCK_DGRAM && type != SOCK_SEQPACKET)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "descriptor %d is not a datagram or seqpacket socket", fd));
  }
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
      fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
    return ErrnoStatus(errno, "making a net socket non-blocking");
  }
  return std::make_shared<FdLink>(
      std::move(owned), absl::StrFormat("socket %d", fd), /*socket=*/true);
}

absl::StatusOr<std::shared_ptr<NetCallbackLink>> MakeCallbackNetLink(
    NetCallbacks callbacks) {
  if (!callbacks.send) {
    return absl::InvalidArgumentError("callback net link: no send function");
  }
  return std::make_shared<CallbackLink>(std::move(callbacks));
}

}  // namespace hvbios
