#include "tools/hvbios-profile/run_args.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "hvbios/profile.h"

namespace hvbios::profile_tool {
namespace {

absl::Status NoNul(const std::string& value, absl::string_view field) {
  if (value.find('\0') == std::string::npos) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("VM profile, ", field, ": contains a NUL byte"));
}

}  // namespace

absl::StatusOr<std::vector<std::string>> RunArgsFromProfile(
    const VmProfile& profile) {
  std::vector<std::string> args;
  if (profile.has_memory()) {
    if (absl::Status s = NoNul(profile.memory(), "memory"); !s.ok()) return s;
    args.push_back(absl::StrCat("--mem=", profile.memory()));
  }
  if (profile.has_vcpus()) {
    args.push_back(absl::StrCat("--cpus=", profile.vcpus()));
  }
  if (profile.has_cmdline()) {
    if (absl::Status s = NoNul(profile.cmdline(), "cmdline"); !s.ok()) {
      return s;
    }
    args.push_back(absl::StrCat("--cmdline=", profile.cmdline()));
  }
  for (const Disk& disk : profile.disks()) {
    if (absl::Status s = NoNul(disk.path(), "disks.path"); !s.ok()) return s;
    // Always a suffix, so that a path ending in ",ro" keeps its meaning.
    args.push_back(
        absl::StrCat("--disk=", disk.path(), disk.read_only() ? ",ro" : ",rw"));
  }
  for (const std::string& net : profile.nets()) {
    if (absl::Status s = NoNul(net, "nets"); !s.ok()) return s;
    args.push_back(absl::StrCat("--net=", net));
  }
  if (profile.has_timeout_seconds()) {
    // %.17g: the double itself, not a 6-digit rounding of it.
    args.push_back(
        absl::StrFormat("--timeout=%.17g", profile.timeout_seconds()));
  }
  if (profile.has_guest()) {
    if (absl::Status s = NoNul(profile.guest(), "guest"); !s.ok()) return s;
    args.push_back("--");
    args.push_back(profile.guest());
  }
  return args;
}

absl::StatusOr<std::vector<std::string>> ReadProfileRunArgs(
    const std::string& path) {
  absl::StatusOr<VmProfile> profile = ReadVmProfile(path);
  if (!profile.ok()) return profile.status();
  absl::StatusOr<std::vector<std::string>> args = RunArgsFromProfile(*profile);
  if (!args.ok()) {
    return absl::Status(args.status().code(),
                        absl::StrCat(path, ": ", args.status().message()));
  }
  return args;
}

}  // namespace hvbios::profile_tool
