// --net user: starts hvbios-net-user (tools/hvbios-net-user/main.cc), the
// user-mode network in a process of its own, and returns the link to it.
#ifndef HVBIOS_TOOLS_HVBIOS_RUN_USER_NET_H_
#define HVBIOS_TOOLS_HVBIOS_RUN_USER_NET_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "hvbios/net.h"

namespace hvbios::run {

// Runs `tool` with `args` (its --restrict and --hostfwd options) on one
// end of a SOCK_SEQPACKET socket pair and waits (at most 10 s) for its
// status: the link on the other end once it reports "ok", else
// InvalidArgument with its reason (a forward it could not set up) or
// Internal (it could not run). It exits when the link is destroyed.
absl::StatusOr<std::shared_ptr<NetLink>> StartUserNetwork(
    const std::string& tool, const std::vector<std::string>& args);

}  // namespace hvbios::run

#endif  // HVBIOS_TOOLS_HVBIOS_RUN_USER_NET_H_
