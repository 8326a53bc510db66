// Runs a program as a subprocess for end-to-end tests of the tools.
#ifndef HVBIOS_TESTS_RUN_COMMAND_H_
#define HVBIOS_TESTS_RUN_COMMAND_H_

#include <string>
#include <vector>

namespace hvbios::testing {

struct CommandResult {
  int exit_status = -1;  // -1 if it did not exit normally
  std::string out;
  std::string err;
};

// Runs argv (no shell involved in the arguments' meaning) with `input` on
// stdin, killing it after `kill_after_seconds` as a hang guard.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::string& input = "",
                         int kill_after_seconds = 60);

// Where `command` is found on PATH (what `command -v` says), for runners
// that exec a path; "" if it is not installed.
std::string CommandPath(const std::string& command);

// Runs argv like RunCommand, but types `input` on its stdin only once
// `marker` has appeared on its stdout, then closes stdin: for input that must
// not race the program's start-up (the bare-metal firmware switching its
// UART's FIFOs on empties them; see backends/baremetal/uart.c).
CommandResult RunCommandTypingAfter(const std::vector<std::string>& argv,
                                    const std::string& marker,
                                    const std::string& input,
                                    int kill_after_seconds = 60);

// Runs argv with its stdout read until `marker` appears in it (or
// `limit_seconds` pass), then kills it with SIGKILL: what it printed, and
// whether SIGKILL is what ended it.
struct KilledRun {
  std::string out;
  bool killed = false;
};
KilledRun RunUntilThenKill(const std::vector<std::string>& argv,
                           const std::string& marker, int limit_seconds = 120);

}  // namespace hvbios::testing

#endif  // HVBIOS_TESTS_RUN_COMMAND_H_
