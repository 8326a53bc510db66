#include "tools/hvbios-run/profile_tool.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "lib/unique_fd.h"
#include "tools/hvbios-profile/protocol.h"

extern char** environ;

namespace hvbios::run {
namespace {

using profile_tool::kMaxRunArgsBytes;

absl::Status Errno(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// Reads `fd` to its end, failing past `limit` bytes.
absl::StatusOr<std::string> ReadAll(int fd, size_t limit) {
  std::string out;
  char buffer[16384];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("reading from hvbios-profile");
    if (n == 0) return out;
    if (out.size() + static_cast<size_t>(n) > limit) {
      return absl::InternalError("hvbios-profile printed too much");
    }
    out.append(buffer, static_cast<size_t>(n));
  }
}

// The exit status of `pid`, or -1 if a signal ended it.
int Wait(pid_t pid) {
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

absl::StatusOr<std::string> HelperToolPath(const std::string& name) {
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return Errno("cannot find hvbios-run's own directory");
  std::string path(self, static_cast<size_t>(n));
  path.resize(path.rfind('/') + 1);
  return path + name;
}

pid_t SpawnHelper(std::vector<std::string> argv,
                  const posix_spawn_file_actions_t& actions) {
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid;
  const int error =
      posix_spawn(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawnattr_destroy(&attr);
  return error == 0 ? pid : -error;
}

absl::StatusOr<std::vector<std::string>> RunProfileTool(
    const std::string& tool, const std::string& profile_path) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return Errno("pipe2");
  UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);

  // The child gets the pipe as stdout, /dev/null as stdin, hvbios-run's
  // stderr.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null",
                                   O_RDONLY, 0);
  const pid_t pid =
      SpawnHelper({tool, profile_tool::kRunArgsFlag, profile_path}, actions);
  posix_spawn_file_actions_destroy(&actions);
  if (pid < 0) {
    return absl::InternalError(absl::StrCat(
        "cannot run ", tool, " to read the profile: ", std::strerror(-pid)));
  }
  write_end.reset();
  absl::StatusOr<std::string> out = ReadAll(read_end.get(), kMaxRunArgsBytes);
  if (!out.ok()) kill(pid, SIGKILL);
  const int exit_status = Wait(pid);
  if (!out.ok()) return out.status();

  switch (exit_status) {
    case 0:
      break;
    case profile_tool::kRunArgsInvalid:
      return absl::InvalidArgumentError(*out);
    case profile_tool::kRunArgsNotFound:
      return absl::NotFoundError(*out);
    case profile_tool::kRunArgsPermissionDenied:
      return absl::PermissionDeniedError(*out);
    default:
      return absl::InternalError(
          out->empty() ? absl::StrCat(tool, " failed reading ", profile_path)
                       : *out);
  }
  if (!out->empty() && out->back() != '\0') {
    return absl::InternalError(
        absl::StrCat(tool, ": malformed output for ", profile_path));
  }
  std::vector<std::string> args;
  for (size_t start = 0; start < out->size();) {
    const size_t end = out->find('\0', start);
    args.push_back(out->substr(start, end - start));
    start = end + 1;
  }
  return args;
}

}  // namespace hvbios::run
