// Host port forwarding rules of user-mode networking (hvbios-run --net
// user,hostfwd=RULE), parsed the same way by hvbios-run (to reject a bad
// rule as a usage error) and by hvbios-net-user (to set it up).
#ifndef HVBIOS_TOOLS_HVBIOS_NET_USER_HOSTFWD_H_
#define HVBIOS_TOOLS_HVBIOS_NET_USER_HOSTFWD_H_

#include <netinet/in.h>

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace hvbios::net_user {

// The guest's address on the user-mode network (libslirp's first DHCP
// lease) and the network's host side.
inline constexpr uint32_t kGuestAddress = 0x0a00020f;  // 10.0.2.15
inline constexpr uint32_t kNetwork = 0x0a000200;       // 10.0.2.0/24
inline constexpr uint32_t kHostAddress = 0x0a000202;   // 10.0.2.2

struct HostForward {
  bool udp = false;
  in_addr host_address;  // network byte order
  uint16_t host_port = 0;
  in_addr guest_address;
  uint16_t guest_port = 0;
};

// "[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT", QEMU's syntax,
// except that an empty HOSTADDR means 127.0.0.1 (QEMU: every address): a
// forward reaches the guest from this machine only unless the user names a
// wider address. An empty GUESTADDR is kGuestAddress; ports 1..65535.
absl::StatusOr<HostForward> ParseHostForward(absl::string_view text);

}  // namespace hvbios::net_user

#endif  // HVBIOS_TOOLS_HVBIOS_NET_USER_HOSTFWD_H_
