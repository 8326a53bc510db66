// Network links for the guest's net service (docs/abi.md 5.15): the
// interface an embedding VMM implements to carry its guest's frames, and
// the links hvbios brings (a TAP device, a datagram socket, the embedder's
// functions).
#ifndef HVBIOS_NET_H_
#define HVBIOS_NET_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace hvbios {

// Where a network device's frames go and come from: one end of a cable.
// Frames are Ethernet II frames without preamble and FCS (docs/abi.md).
class NetLink {
 public:
  // Takes one frame that arrived from the link. The frame is copied before
  // it returns.
  using Receiver = std::function<void(absl::Span<const uint8_t> frame)>;

  virtual ~NetLink() = default;

  // From now until Detach(), passes every frame arriving from the link to
  // `receiver`, one at a time, on a thread of the link's. One receiver at a
  // time: FailedPrecondition if one is attached. A link outlives the VMs
  // that use it (hvbios-run attaches it to each VM a reboot creates).
  virtual absl::Status Attach(Receiver receiver) = 0;
  // Returns once the receiver is no longer called and never will be.
  virtual void Detach() = 0;

  // Sends one frame (HVB_NET_MIN_FRAME to HVB_NET_MAX_FRAME bytes: the
  // library checks it first) from a vCPU thread; several at once:
  // thread-safe. OK once the link took it; a link whose other end is gone
  // takes and drops it, as a cable does. Unavailable: the link is full and
  // took nothing (the guest is told to try again). The frame is guest RAM
  // itself, not a copy: treat it as untrusted and read each byte once.
  virtual absl::Status Send(absl::Span<const uint8_t> frame) = 0;

  // Whether frames sent reach the other end (net.info's link flag).
  virtual bool link_up() const { return true; }
};

// A network device of a VM: its link and its MAC address.
struct NetDeviceConfig {
  std::shared_ptr<NetLink> link;
  // The device's address. All zeros: the VM picks a random locally
  // administered unicast address when it is created.
  std::array<uint8_t, 6> mac = {};
};

// Parses "52:54:00:12:34:56": InvalidArgument unless six hex pairs
// separated by ':' naming a unicast address.
absl::StatusOr<std::array<uint8_t, 6>> ParseMacAddress(absl::string_view text);
// A random locally administered unicast address (02:xx:xx:xx:xx:xx).
std::array<uint8_t, 6> RandomMacAddress();

// A TAP device (Linux /dev/net/tun): frames the guest sends appear on the
// host interface `name`, which is created if it does not exist (that needs
// CAP_NET_ADMIN unless a persistent device is the caller's). NotFound (no
// /dev/net/tun), PermissionDenied, InvalidArgument (name longer than 15
// bytes), Unavailable (the device is busy).
absl::StatusOr<std::shared_ptr<NetLink>> OpenTapLink(const std::string& name);

// A Unix datagram socket bound at `local_path` that sends every frame to
// `peer_path` as one datagram: a cable between two processes (two VMs, or
// a VM and a test). Frames sent while nothing is bound at `peer_path` are
// dropped. The socket file is created: a socket file already at the path
// (left by an earlier run) is replaced, any other file there is
// AlreadyExists. It stays when the link is destroyed, since a sandboxed
// process may not remove files (hvbios/sandbox.h); the caller removes it
// if it wants it gone.
absl::StatusOr<std::shared_ptr<NetLink>> OpenUnixDatagramLink(
    const std::string& local_path, const std::string& peer_path);

// A network device as hvbios-run's `--net SPEC` (and a VM profile's
// `nets`) names it: "tap=NAME", "dgram=LOCAL,peer=PEER" or
// "user[,hostfwd=RULE]...[,restrict=on|off]", each with ",mac=MAC".
struct NetSpec {
  enum class Kind { kTap, kDgram, kUser };
  Kind kind = Kind::kTap;
  std::string tap;          // kTap: the interface's name
  std::string local, peer;  // kDgram: socket paths
  // kUser: hvbios-net-user's options (--restrict, --hostfwd RULE), the
  // rules as written: the helper checks them.
  std::vector<std::string> user_args;
  std::optional<std::array<uint8_t, 6>> mac;  // unset: random, per run
};
// Parses `text`; InvalidArgument "`what` 'TEXT': expected ..." when it is
// malformed, ParseMacAddress()'s error for a bad MAC.
absl::StatusOr<NetSpec> ParseNetSpec(absl::string_view text,
                                     absl::string_view what = "net spec");

// The device `spec` names, for the links the library opens itself (tap
// and dgram; no MAC: RandomMacAddress()). Unimplemented for user-mode
// networking: it runs in the hvbios-net-user helper, which hvbios-run
// starts (an embedder starts it on a socketpair and gives its end to
// MakeSocketLink). Otherwise OpenTapLink's or OpenUnixDatagramLink's
// errors.
absl::StatusOr<NetDeviceConfig> OpenNetDevice(const NetSpec& spec);
// ParseNetSpec(spec), then OpenNetDevice().
absl::StatusOr<NetDeviceConfig> OpenNetDevice(absl::string_view spec);

// A connected datagram or seqpacket socket the caller owns (one end of a
// socketpair(AF_UNIX, SOCK_DGRAM), say): one frame per datagram. The link
// owns `fd` from the call on (it is closed on error too). InvalidArgument
// unless `fd` is such a socket.
absl::StatusOr<std::shared_ptr<NetLink>> MakeSocketLink(int fd);

// A link whose sending is the embedder's function; the embedder hands
// frames to the guest with NetCallbackLink::Deliver().
struct NetCallbacks {
  // Called on vCPU threads, concurrently; a callback in the sense of
  // hvbios/vm.h. Return Unavailable to have the guest try again.
  std::function<absl::Status(absl::Span<const uint8_t> frame)> send;
  std::function<bool()> link_up;  // unset: always up
};
class NetCallbackLink : public NetLink {
 public:
  // Hands `frame` to the attached VM (copied before it returns), from any
  // thread but not from inside `send`. False, with the frame dropped, if no
  // VM is attached or its length is outside HVB_NET_MIN_FRAME ..
  // HVB_NET_MAX_FRAME.
  virtual bool Deliver(absl::Span<const uint8_t> frame) = 0;
};
absl::StatusOr<std::shared_ptr<NetCallbackLink>> MakeCallbackNetLink(
    NetCallbacks callbacks);

}  // namespace hvbios

#endif  // HVBIOS_NET_H_
