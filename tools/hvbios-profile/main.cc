// hvbios-profile: checks a VM profile and shows the hvbios-run command line
// it stands for; hvbios-run runs it (--run-args) to read --profile files.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/hvbios-profile/protocol.h"
#include "tools/hvbios-profile/run_args.h"

namespace {

using namespace hvbios::profile_tool;

constexpr char kUsage[] =
    R"(Usage: hvbios-profile FILE
       hvbios-profile --run-args FILE

Reads the VM profile FILE (protobuf text format, hvbios.VmProfile in
proto/hvbios/vm_profile.proto) and prints the hvbios-run command line it
stands for; exit status 1 and a message naming the line and column if it
cannot be parsed. hvbios-run --profile FILE runs "hvbios-profile --run-args
FILE", which prints the same arguments NUL-terminated, for programs.
)";

// `arg` as one word of a POSIX shell command line.
std::string ShellQuote(const std::string& arg) {
  if (!arg.empty() &&
      arg.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX"
                            "YZ0123456789-_=./,:+@%") == std::string::npos) {
    return arg;
  }
  std::string quoted = "'";
  for (char c : arg) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

bool WriteAll(const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n =
        write(STDOUT_FILENO, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

int RunArgsExitStatus(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
      return kRunArgsInvalid;
    case absl::StatusCode::kNotFound:
      return kRunArgsNotFound;
    case absl::StatusCode::kPermissionDenied:
      return kRunArgsPermissionDenied;
    default:
      return kRunArgsOtherError;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 2 && args[0] == kRunArgsFlag) {
    absl::StatusOr<std::vector<std::string>> run_args =
        ReadProfileRunArgs(args[1]);
    if (!run_args.ok()) {
      WriteAll(std::string(run_args.status().message()));
      return RunArgsExitStatus(run_args.status().code());
    }
    std::string out;
    for (const std::string& arg : *run_args) {
      out += arg;
      out += '\0';
    }
    return WriteAll(out) ? 0 : kRunArgsOtherError;
  }
  if (args.size() != 1 || args[0].empty() || args[0][0] == '-') {
    const bool help =
        args.size() == 1 && (args[0] == "-h" || args[0] == "--help");
    std::fputs(kUsage, help ? stdout : stderr);
    return help ? 0 : 2;
  }
  absl::StatusOr<std::vector<std::string>> run_args =
      ReadProfileRunArgs(args[0]);
  if (!run_args.ok()) {
    std::fprintf(stderr, "hvbios-profile: %s\n",
                 std::string(run_args.status().message()).c_str());
    return 1;
  }
  std::vector<std::string> words = {"hvbios-run"};
  for (const std::string& arg : *run_args) words.push_back(ShellQuote(arg));
  return WriteAll(absl::StrCat(absl::StrJoin(words, " "), "\n")) ? 0 : 1;
}
