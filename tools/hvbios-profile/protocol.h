// What `hvbios-profile --run-args FILE` tells hvbios-run, which runs it for
// --profile (tools/hvbios-run/profile_tool.cc). Both tools are built and
// installed together, so this is private to them.
//
// Success: exit status 0 and the arguments on stdout, each followed by a
// NUL byte. Failure: one of the statuses below and a one-line message,
// naming the file, on stdout.
#ifndef HVBIOS_TOOLS_HVBIOS_PROFILE_PROTOCOL_H_
#define HVBIOS_TOOLS_HVBIOS_PROFILE_PROTOCOL_H_

#include <cstddef>

namespace hvbios::profile_tool {

inline constexpr char kRunArgsFlag[] = "--run-args";
inline constexpr int kRunArgsInvalid = 1;  // absl::StatusCode::kInvalidArgument
inline constexpr int kRunArgsNotFound = 2;
inline constexpr int kRunArgsPermissionDenied = 3;
inline constexpr int kRunArgsOtherError = 4;
// More output than this is not from hvbios-profile (a profile is at most
// 1 MiB and every path in it is resolved against one directory).
inline constexpr size_t kMaxRunArgsBytes = 4u << 20;

}  // namespace hvbios::profile_tool

#endif  // HVBIOS_TOOLS_HVBIOS_PROFILE_PROTOCOL_H_
