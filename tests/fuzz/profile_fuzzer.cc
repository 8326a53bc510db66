// VM profiles: the text-format parser and its conversion into hvbios-run
// arguments (tools/hvbios-profile). Asserted: a profile either fails with
// InvalidArgument or gives arguments hvbios-run can take (no NUL inside,
// "--" only before the guest).
#include <cstdint>
#include <string>

#include "hvbios/profile.h"
#include "tests/fuzz/fuzz_util.h"
#include "tools/hvbios-profile/run_args.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hvbios;
  absl::StatusOr<VmProfile> profile = ParseVmProfile(
      absl::string_view(reinterpret_cast<const char*>(data), size));
  if (!profile.ok()) {
    FUZZ_CHECK(profile.status().code() == absl::StatusCode::kInvalidArgument,
               "%s", profile.status().ToString().c_str());
    return 0;
  }
  absl::StatusOr<std::vector<std::string>> args =
      profile_tool::RunArgsFromProfile(*profile);
  if (!args.ok()) {
    FUZZ_CHECK(args.status().code() == absl::StatusCode::kInvalidArgument, "%s",
               args.status().ToString().c_str());
    return 0;
  }
  bool options_ended = false;
  for (size_t i = 0; i < args->size(); ++i) {
    const std::string& arg = (*args)[i];
    FUZZ_CHECK(arg.find('\0') == std::string::npos, "NUL in argument %zu", i);
    // Options, then "--" and the guest (which may itself be "--").
    if (!options_ended && arg == "--") {
      FUZZ_CHECK(i + 2 == args->size(), "'--' not before the guest");
      options_ended = true;
    } else if (!options_ended) {
      FUZZ_CHECK(arg.rfind("--", 0) == 0 && arg.find('=') != std::string::npos,
                 "argument %zu is not an option: %s", i, arg.c_str());
    }
  }
  return 0;
}
