#include "tools/hvbios-run/console_sink.h"

#include <limits.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace hvbios::run {

ConsoleSink::ConsoleSink(int fd, std::function<void()> on_failure)
    : fd_(fd), on_failure_(std::move(on_failure)) {}

void ConsoleSink::Write(absl::string_view bytes) {
  while (!bytes.empty() && !abandoned_.load() && !failed_.load()) {
    pollfd pfd = {fd_, POLLOUT, 0};
    const int ready = poll(&pfd, 1, /*timeout_ms=*/100);
    if (ready < 0 && errno != EINTR) return Fail(errno);
    if (ready <= 0) continue;  // look at abandoned_ again
    // At most PIPE_BUF bytes: a pipe that polls writable takes that many
    // without blocking (pipe(7)); a closed one fails now (POLLERR).
    const ssize_t n =
        write(fd_, bytes.data(), std::min<size_t>(bytes.size(), PIPE_BUF));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return Fail(errno);
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

std::string ConsoleSink::failure() const {
  hvbios::MutexLock lock(&mu_);
  return failure_;
}

void ConsoleSink::Fail(int error) {
  {
    hvbios::MutexLock lock(&mu_);
    if (failed_.exchange(true)) return;
    failure_ = std::strerror(error);
  }
  if (on_failure_) on_failure_();
}

}  // namespace hvbios::run
