// VM profiles: a VM described once, in protobuf text format
// (proto/hvbios/vm_profile.proto), and booted by name. This part of the
// library needs Protocol Buffers; the rest of it does not (link target
// hvbios::profile).
#ifndef HVBIOS_PROFILE_H_
#define HVBIOS_PROFILE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "hvbios/vm.h"
#include "hvbios/vm_profile.pb.h"

namespace hvbios {

// Parses a profile in text format. InvalidArgument naming the line and
// column of the first error; unknown fields are errors. Paths are left as
// written.
absl::StatusOr<VmProfile> ParseVmProfile(absl::string_view text);

// Reads and parses the profile file at `path`, then makes its relative
// paths (guest, disks) relative to the file's directory. NotFound /
// PermissionDenied if it cannot be read; errors name the file.
absl::StatusOr<VmProfile> ReadVmProfile(const std::string& path);

// The VmOptions `profile` describes, with its disks opened. Checks every
// value the way Vm::Create() would and names the offending field.
// (`guest` and `timeout_seconds` are not VM options: load the guest with
// Vm::LoadGuestFile(profile.guest()).)
absl::StatusOr<VmOptions> VmOptionsFromProfile(const VmProfile& profile);

}  // namespace hvbios

#endif  // HVBIOS_PROFILE_H_
