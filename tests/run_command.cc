#include "tests/run_command.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace hvbios::testing {
namespace {

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// In a forked child: runs argv, or exits 127.
[[noreturn]] void ExecOrExit(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  execv(args[0], args.data());
  _exit(127);
}

}  // namespace

CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::string& input, int kill_after_seconds) {
  char dir_template[] = "/tmp/hvbios-cmd-XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  const std::string in = dir + "/in", out = dir + "/out", err = dir + "/err";
  std::ofstream(in, std::ios::binary) << input;
  std::string command = absl::StrCat("timeout -k 5 ", kill_after_seconds, " ");
  for (const std::string& a : argv)
    absl::StrAppend(&command, ShellQuote(a), " ");
  absl::StrAppend(&command, "<", in, " >", out, " 2>", err);
  const int status = std::system(command.c_str());
  CommandResult result;
  if (status != -1 && WIFEXITED(status))
    result.exit_status = WEXITSTATUS(status);
  result.out = Slurp(out);
  result.err = Slurp(err);
  std::system(absl::StrCat("rm -rf ", dir).c_str());
  return result;
}

CommandResult RunCommandTypingAfter(const std::vector<std::string>& argv,
                                    const std::string& marker,
                                    const std::string& input,
                                    int kill_after_seconds) {
  CommandResult result;
  int in[2], out[2], err[2];
  if (pipe(in) != 0 || pipe(out) != 0 || pipe(err) != 0) return result;
  const pid_t pid = fork();
  if (pid < 0) return result;
  if (pid == 0) {
    dup2(in[0], STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) close(fd);
    ExecOrExit(argv);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  signal(SIGPIPE, SIG_IGN);  // the program may be gone before it reads
  int stdin_fd = in[1];
  struct pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  const time_t limit = time(nullptr) + kill_after_seconds;
  int open_streams = 2;
  while (open_streams > 0 && time(nullptr) < limit) {
    if (poll(fds, 2, 1000) < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char chunk[4096];
      const ssize_t n = read(fds[i].fd, chunk, sizeof(chunk));
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_streams;
        continue;
      }
      sinks[i]->append(chunk, static_cast<size_t>(n));
    }
    if (stdin_fd >= 0 && result.out.find(marker) != std::string::npos) {
      // Small enough for the pipe's buffer: one write cannot block.
      (void)!write(stdin_fd, input.data(), input.size());
      close(stdin_fd);
      stdin_fd = -1;
    }
  }
  if (stdin_fd >= 0) close(stdin_fd);
  for (const struct pollfd& p : fds) {
    if (p.fd >= 0) close(p.fd);
  }
  kill(pid, SIGKILL);  // a no-op unless it outlived the limit
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) result.exit_status = WEXITSTATUS(status);
  return result;
}

KilledRun RunUntilThenKill(const std::vector<std::string>& argv,
                           const std::string& marker, int limit_seconds) {
  KilledRun run;
  int out[2];
  if (pipe(out) != 0) return run;
  const pid_t pid = fork();
  if (pid < 0) return run;
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    ExecOrExit(argv);
  }
  close(out[1]);
  char chunk[256];
  const time_t limit = time(nullptr) + limit_seconds;
  while (run.out.find(marker) == std::string::npos && time(nullptr) < limit) {
    const ssize_t n = read(out[0], chunk, sizeof(chunk));
    if (n <= 0) break;
    run.out.append(chunk, static_cast<size_t>(n));
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  close(out[0]);
  run.killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  return run;
}

std::string CommandPath(const std::string& command) {
  CommandResult r = RunCommand({"sh", "-c", "command -v " + command});
  if (r.exit_status != 0) return "";
  r.out.erase(r.out.find_last_not_of('\n') + 1);
  return r.out;
}

}  // namespace hvbios::testing
