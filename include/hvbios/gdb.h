// A gdb remote-protocol stub for a Vm (hvbios-run --gdb): gdb connects
// with `target remote :PORT` and sees each vCPU as a thread (id + 1).
//
// Served: registers (general, segment, fs/gs base, cr0/2/3/4 and efer from
// a qXfer target description, so gdb needs no set-up), memory by virtual
// address through the selected vCPU's page tables ("monitor phys on" for
// guest-physical), continue, single-step, Ctrl-C, and breakpoints (Z0 and
// Z1: in debug registers where the hypervisor honours them, else by
// single-stepping; hvbios/debug.h). Watchpoints are left to gdb,
// which single-steps and compares values itself. A guest fault or panic
// stops in gdb with SIGSEGV or SIGABRT, its vCPUs still inspectable; the
// VM's end is reported as the process exiting.
#ifndef HVBIOS_GDB_H_
#define HVBIOS_GDB_H_

#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "hvbios/vm.h"

namespace hvbios {

// A TCP socket listening on 127.0.0.1:`port` (0: a free port), close-on-
// exec, for GdbServer::Start; the caller owns it. Unavailable (with the
// reason) if the port cannot be had.
absl::StatusOr<int> GdbListen(uint16_t port);

class GdbServer {
 public:
  // Serves one gdb at a time from `listen_fd` (GdbListen's; it stays the
  // caller's and must stay open while the server lives) on the server's
  // own thread ("hvbios-gdb"). A connecting gdb stops the VM; a detaching
  // or disconnecting one lets it run on; `kill` stops it. `vm` must
  // outlive the server. A VMM that makes a new Vm (a reboot) starts a new
  // server on the same socket.
  // `log`, if set, gets a line when a gdb connects (saying how
  // breakpoints are done: debug registers or single-stepping) and when it
  // leaves, on the server's thread.
  static absl::StatusOr<std::unique_ptr<GdbServer>> Start(
      Vm* vm, int listen_fd,
      std::function<void(absl::string_view)> log = nullptr);
  virtual ~GdbServer() = default;  // ends the session

  // The port `listen_fd` listens on.
  virtual uint16_t port() const = 0;

  // Whether a gdb is connected now.
  virtual bool connected() const = 0;

  // After the VM has stopped: waits until a connected gdb has been told
  // and has left (detached, killed or disconnected), up to `timeout`; true
  // if none is connected any more.
  virtual bool WaitUntilDisconnected(absl::Duration timeout) = 0;
};

}  // namespace hvbios

#endif  // HVBIOS_GDB_H_
