// Command line of hvbios-run, separate from main() so it can be tested.
#ifndef HVBIOS_TOOLS_HVBIOS_RUN_OPTIONS_H_
#define HVBIOS_TOOLS_HVBIOS_RUN_OPTIONS_H_

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "hvbios/net.h"

namespace hvbios::run {

// Exit statuses (also in UsageText() and docs/hvbios-run.md). 0..119 are
// the guest's own power.shutdown code.
// The guest SDK's code for an unhandled exception (HVB_EXIT_EXCEPTION,
// hvbios/guest/hvb.h): passed through, with a line on stderr.
inline constexpr int kExitGuestException = 111;
inline constexpr int kExitGuestCodeTooLarge = 120;
inline constexpr int kExitUsage = 121;
inline constexpr int kExitBadImage = 122;
inline constexpr int kExitGuestFault = 123;
inline constexpr int kExitTimeout = 124;
inline constexpr int kExitHostError = 125;
// The guest called debug.panic (ABI 0.9); stderr has its code, message,
// vCPU and registers. The one status below 128 that neither a guest code
// (0-119) nor another of these takes; shells give 126 to a command they
// cannot execute too, which the report on stderr tells apart.
inline constexpr int kExitGuestPanic = 126;

// --timeout's largest value: a year (larger ones are almost certainly
// mistakes, and absl::Time arithmetic would overflow long before).
inline constexpr absl::Duration kMaxTimeout = absl::Hours(24 * 365);

// As many disks as the library takes (VmOptions::disks).
inline constexpr size_t kMaxDisks = 16;
// As many network devices as the library takes (VmOptions::nets).
inline constexpr size_t kMaxNets = 8;

// One --net: a network device and its link (docs/hvbios-run.md).
using hvbios::NetSpec;
// hvbios::ParseNetSpec() for --net, with each hostfwd rule checked as
// hvbios-net-user will read it.
absl::StatusOr<NetSpec> ParseNetSpec(absl::string_view text);

struct RunOptions {
  uint64_t memory_bytes = 128ull << 20;
  uint32_t cpus = 1;
  std::string cmdline;
  std::optional<absl::Duration> timeout;  // unset: no limit
  struct Disk {
    std::string path;
    bool read_only = false;
  };
  std::vector<Disk> disks;    // block device ids 0, 1, ... in this order
  std::vector<NetSpec> nets;  // net device ids 0, 1, ... in this order
  std::string image;
  // --trace FILE: every exit recorded there (hvbios/trace.h); empty: off.
  std::string trace_path;
  // --gdb PORT: a gdb stub on 127.0.0.1:PORT (hvbios/gdb.h); --gdb-wait:
  // the guest waits for gdb before its first instruction.
  std::optional<uint16_t> gdb_port;
  bool gdb_wait = false;
  bool help = false;
  // The seccomp sandbox once set up (hvbios/sandbox.h); --no-sandbox.
  bool sandbox = true;
};

// Reads the VM profile at `path` as hvbios-run arguments: RunProfileTool()
// (profile_tool.h) in hvbios-run, the same conversion in-process in tests.
using ProfileReader = std::function<absl::StatusOr<std::vector<std::string>>(
    const std::string& path)>;

// Parses argv[1..]; if --profile is given, `read_profile` reads the file
// and the settings it gives fill in what the command line left unset (the
// command line's --disk options replace the profile's). InvalidArgument
// (or the reader's NotFound, PermissionDenied) with a one-line message on
// misuse; an error in a profile's settings names the file.
absl::StatusOr<RunOptions> ParseRunOptions(const std::vector<std::string>& args,
                                           const ProfileReader& read_profile);

std::string UsageText();

}  // namespace hvbios::run

#endif  // HVBIOS_TOOLS_HVBIOS_RUN_OPTIONS_H_
