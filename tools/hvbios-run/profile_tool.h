// hvbios-run reads --profile files through the hvbios-profile tool, in a
// process of its own (see tools/hvbios-profile/run_args.h for why).
#ifndef HVBIOS_TOOLS_HVBIOS_RUN_PROFILE_TOOL_H_
#define HVBIOS_TOOLS_HVBIOS_RUN_PROFILE_TOOL_H_

#include <spawn.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace hvbios::run {

// The helper tool `name` (hvbios-profile, hvbios-net-user) in the
// directory of the running executable: where the build tree and every
// install put it.
absl::StatusOr<std::string> HelperToolPath(const std::string& name);

// Starts helper `argv[0]` with `actions` (its descriptors), the default
// disposition of every signal (hvbios-run ignores SIGPIPE) and none
// blocked. Returns its pid, or the posix_spawn error number (negated).
pid_t SpawnHelper(std::vector<std::string> argv,
                  const posix_spawn_file_actions_t& actions);

// Runs `tool --run-args profile_path` and returns the hvbios-run arguments
// it prints; its error (InvalidArgument, NotFound, PermissionDenied) if it
// rejects the profile, Internal if it cannot be run or breaks the protocol.
absl::StatusOr<std::vector<std::string>> RunProfileTool(
    const std::string& tool, const std::string& profile_path);

}  // namespace hvbios::run

#endif  // HVBIOS_TOOLS_HVBIOS_RUN_PROFILE_TOOL_H_
