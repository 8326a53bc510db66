#include "tools/hvbios-net-user/hostfwd.h"

#include <arpa/inet.h>

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace hvbios::net_user {
namespace {

bool ParseAddress(absl::string_view text, uint32_t fallback, in_addr* out) {
  if (text.empty()) {
    out->s_addr = htonl(fallback);
    return true;
  }
  return inet_pton(AF_INET, std::string(text).c_str(), out) == 1;
}

bool ParsePort(absl::string_view text, uint16_t* out) {
  uint32_t port;
  if (!absl::SimpleAtoi(text, &port) || port == 0 || port > 65535) {
    return false;
  }
  *out = static_cast<uint16_t>(port);
  return true;
}

}  // namespace

absl::StatusOr<HostForward> ParseHostForward(absl::string_view text) {
  // PROTO:HOSTADDR:HOSTPORT-GUESTADDR:GUESTPORT
  HostForward rule;
  const std::pair<absl::string_view, absl::string_view> halves =
      absl::StrSplit(text, absl::MaxSplits('-', 1));
  const std::vector<absl::string_view> host = absl::StrSplit(halves.first, ':');
  const std::vector<absl::string_view> guest =
      absl::StrSplit(halves.second, ':');
  const bool ok = host.size() == 3 && guest.size() == 2 &&
                  (host[0].empty() || host[0] == "tcp" || host[0] == "udp") &&
                  ParseAddress(host[1], 0x7f000001, &rule.host_address) &&
                  ParsePort(host[2], &rule.host_port) &&
                  ParseAddress(guest[0], kGuestAddress, &rule.guest_address) &&
                  ParsePort(guest[1], &rule.guest_port);
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "hostfwd '", text,
        "': expected [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT, "
        "e.g. udp::5555-:7"));
  }
  rule.udp = host[0] == "udp";
  return rule;
}

}  // namespace hvbios::net_user
