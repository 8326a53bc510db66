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

}  // namespace hvbios::testing

#endif  // HVBIOS_TESTS_RUN_COMMAND_H_
