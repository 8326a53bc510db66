#include "tests/run_command.h"

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
    std::vector<char*> args;
    for (const std::string& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
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

}  // namespace hvbios::testing
