#include "tests/run_command.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
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

}  // namespace hvbios::testing
