// One gdb remote-protocol session for a Vm (hvbios/gdb.h): attaches a
// debugger (hvbios/debug.h), serves gdb's packets on a connected socket
// until gdb detaches, kills the VM or disconnects, or `wake_fd` becomes
// readable (the server ends), then detaches and lets the VM run on
// unless it was killed.
#ifndef HVBIOS_LIB_GDB_SESSION_H_
#define HVBIOS_LIB_GDB_SESSION_H_

#include <functional>

#include "absl/strings/string_view.h"
#include "hvbios/vm.h"

namespace hvbios {

// `log`, if set, gets a line when the session starts and ends.
void RunGdbSession(Vm* vm, int fd, int wake_fd,
                   const std::function<void(absl::string_view)>& log);

}  // namespace hvbios

#endif  // HVBIOS_LIB_GDB_SESSION_H_
