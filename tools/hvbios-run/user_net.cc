#include "tools/hvbios-run/user_net.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "lib/unique_fd.h"
#include "tools/hvbios-run/profile_tool.h"

namespace hvbios::run {

absl::StatusOr<std::shared_ptr<NetLink>> StartUserNetwork(
    const std::string& tool, const std::vector<std::string>& args) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return absl::InternalError(
        absl::StrCat("--net user: socketpair: ", std::strerror(errno)));
  }
  UniqueFd ours(pair[0]), theirs(pair[1]);
  // The helper's end is the one descriptor it inherits (besides stdio).
  fcntl(theirs.get(), F_SETFD, 0);
  std::vector<std::string> argv = {tool, "--fd", std::to_string(theirs.get())};
  argv.insert(argv.end(), args.begin(), args.end());
  // stdin and stdout /dev/null (stdout is the guest's console), stderr
  // shared.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null",
                                   O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null",
                                   O_WRONLY, 0);
  const pid_t pid = SpawnHelper(std::move(argv), actions);
  posix_spawn_file_actions_destroy(&actions);
  theirs.reset();
  if (pid < 0) {
    return absl::InternalError(absl::StrCat("--net user: cannot run ", tool,
                                            ": ", std::strerror(-pid)));
  }
  pollfd p = {ours.get(), POLLIN, 0};
  char status[512];
  ssize_t n = -1;
  if (poll(&p, 1, 10'000) == 1) n = recv(ours.get(), status, sizeof(status), 0);
  if (n == 2 && std::memcmp(status, "ok", 2) == 0) {
    return MakeSocketLink(ours.release());
  }
  kill(pid, SIGKILL);
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (n > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--net user: ", std::string(status, n)));
  }
  return absl::InternalError(
      absl::StrCat("--net user: ", tool, " did not start"));
}

}  // namespace hvbios::run
