// hvbios::GdbServer (hvbios/gdb.h): a loopback listener and one session
// at a time (lib/gdb_session.cc) on the server's own thread.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "absl/strings/str_format.h"
#include "hvbios/gdb.h"
#include "hvbios/internal/mutex.h"
#include "lib/gdb_session.h"
#include "lib/status_macros.h"
#include "lib/threads.h"
#include "lib/unique_fd.h"

namespace hvbios {
namespace {

class GdbServerImpl final : public GdbServer {
 public:
  GdbServerImpl(Vm* vm, int listener, UniqueFd wake, uint16_t port,
                std::function<void(absl::string_view)> log)
      : vm_(vm),
        log_(std::move(log)),
        listener_(listener),
        wake_(std::move(wake)),
        port_(port) {}

  ~GdbServerImpl() override {
    const uint64_t one = 1;
    (void)!write(wake_.get(), &one, sizeof(one));
    if (thread_.joinable()) thread_.join();
  }

  absl::Status Launch() {
    absl::StatusOr<std::thread> thread =
        hvbios::StartThread("gdb server", [this] { ServeConnections(); });
    if (!thread.ok()) return thread.status();
    thread_ = *std::move(thread);
    return absl::OkStatus();
  }

  uint16_t port() const override { return port_; }

  bool connected() const override {
    MutexLock lock(&mu_);
    return connected_;
  }

  bool WaitUntilDisconnected(absl::Duration timeout) override {
    MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(
        [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return !connected_; },
        timeout);
  }

 private:
  void ServeConnections() {
    pthread_setname_np(pthread_self(), "hvbios-gdb");
    for (;;) {
      pollfd fds[2] = {{listener_, POLLIN, 0}, {wake_.get(), POLLIN, 0}};
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[1].revents != 0) return;
      UniqueFd connection(accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC));
      if (!connection.valid()) continue;
      const int one = 1;
      setsockopt(connection.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      {
        MutexLock lock(&mu_);
        connected_ = true;
      }
      RunGdbSession(vm_, connection.get(), wake_.get(), log_);
      MutexLock lock(&mu_);
      connected_ = false;
    }
  }

  Vm* const vm_;
  const std::function<void(absl::string_view)> log_;
  const int listener_;  // the caller's
  const UniqueFd wake_;
  const uint16_t port_;
  std::thread thread_;
  mutable Mutex mu_;
  bool connected_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

absl::StatusOr<int> GdbListen(uint16_t port) {
  UniqueFd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listener.valid()) return ErrnoStatus(errno, "gdb server socket");
  const int one = 1;
  setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener.get(), reinterpret_cast<const sockaddr*>(&address),
           sizeof(address)) != 0) {
    return ErrnoStatus(
        errno, absl::StrFormat("gdb server: binding 127.0.0.1:%d", port));
  }
  if (listen(listener.get(), 1) != 0)
    return ErrnoStatus(errno, "gdb server: listen");
  return listener.release();
}

absl::StatusOr<std::unique_ptr<GdbServer>> GdbServer::Start(
    Vm* vm, int listen_fd, std::function<void(absl::string_view)> log) {
  sockaddr_in address = {};
  socklen_t size = sizeof(address);
  if (getsockname(listen_fd, reinterpret_cast<sockaddr*>(&address), &size) !=
          0 ||
      address.sin_family != AF_INET) {
    return absl::InvalidArgumentError(
        "gdb server: the listening fd is no TCP/IPv4 socket");
  }
  UniqueFd wake(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) return ErrnoStatus(errno, "gdb server: eventfd");
  auto server = std::make_unique<GdbServerImpl>(
      vm, listen_fd, std::move(wake), ntohs(address.sin_port), std::move(log));
  if (absl::Status s = server->Launch(); !s.ok()) return s;
  return server;
}

}  // namespace hvbios
