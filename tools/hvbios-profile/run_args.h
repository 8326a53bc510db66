// A VM profile as hvbios-run arguments: how hvbios-run takes profiles
// without linking Protocol Buffers (whose static initialisers alone would
// add about 0.9 MiB to every run's resident set) and without parsing an
// untrusted text file in the VMM's own process.
#ifndef HVBIOS_TOOLS_HVBIOS_PROFILE_RUN_ARGS_H_
#define HVBIOS_TOOLS_HVBIOS_PROFILE_RUN_ARGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "hvbios/vm_profile.pb.h"

namespace hvbios::profile_tool {

// One "--name=value" argument of hvbios-run per field `profile` sets, in
// the proto's field order, then "--" and the guest if it names one:
//
//   memory: "64M"  vcpus: 4  disks { path: "a.img" read_only: true }
//   -> --mem=64M --cpus=4 --disk=a.img,ro
//
// Values are passed on unchecked: hvbios-run checks them as it checks its
// own command line. InvalidArgument for what no argument can carry (a NUL
// byte in a string).
absl::StatusOr<std::vector<std::string>> RunArgsFromProfile(
    const VmProfile& profile);

// Reads the profile file at `path` (hvbios::ReadVmProfile: relative paths
// become relative to its directory) and returns RunArgsFromProfile(); the
// errors of either, naming the file.
absl::StatusOr<std::vector<std::string>> ReadProfileRunArgs(
    const std::string& path);

}  // namespace hvbios::profile_tool

#endif  // HVBIOS_TOOLS_HVBIOS_PROFILE_RUN_ARGS_H_
