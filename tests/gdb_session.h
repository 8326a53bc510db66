// One gdb session, run on both backends against their gdb stubs
// (hvbios-run --gdb on KVM, hvbios-qemu --gdb on bare metal): Debian's gdb
// in batch mode debugging the hello example with its ELF's symbols. A
// breakpoint at hvb_main, its argument and the command line read through
// it, a breakpoint in hvb_base_abi_version, `finish` across the hypercall,
// a changed rax that changes what the guest prints, `next`, and a run to
// the end.
#ifndef HVBIOS_TESTS_GDB_SESSION_H_
#define HVBIOS_TESTS_GDB_SESSION_H_

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/run_command.h"

namespace hvbios::testing {

inline bool GdbInstalled() { return !CommandPath("gdb").empty(); }

// gdb's command line: connect to 127.0.0.1:`port` (waiting up to 30 s for
// the stub to listen), run `commands`, then quit; with the symbols of
// `elf`, unless it is empty.
inline std::vector<std::string> GdbBatch(
    int port, const std::string& elf,
    const std::vector<std::string>& commands) {
  std::vector<std::string> args = {
      "gdb",
      "-nx",
      "-batch",
      "-ex",
      "set pagination off",
      "-ex",
      "set tcp connect-timeout 30",
      "-ex",
      absl::StrCat("target remote 127.0.0.1:", port)};
  for (const std::string& c : commands) {
    args.push_back("-ex");
    args.push_back(c);
  }
  if (!elf.empty()) args.push_back(elf);
  return args;
}

// The hello session's commands; the guest runs with --cpus 2 and
// --cmdline "under gdb".
inline std::vector<std::string> HelloSessionCommands() {
  return {"break hvb_main",
          "break hvb_base_abi_version",
          "continue",
          "print boot->vcpu_count",
          "print (char *)boot->cmdline",
          "info threads",
          "continue",
          "finish",
          "set var $rax = 0x50007",
          "next",
          "continue"};
}

// What gdb and the guest printed in that session. How gdb learns of the
// end differs: hvbios-run's stub reports the exit, QEMU's closes.
inline void ExpectHelloSession(const CommandResult& gdb,
                               const CommandResult& guest) {
  EXPECT_NE(gdb.out.find("Breakpoint 1, hvb_main (boot="), std::string::npos)
      << gdb.out << gdb.err;
  EXPECT_NE(gdb.out.find("$1 = 2\n"), std::string::npos)
      << "vCPUs: " << gdb.out;
  EXPECT_NE(gdb.out.find("\"under gdb\""), std::string::npos) << gdb.out;
  EXPECT_NE(gdb.out.find("Breakpoint 2, hvb_base_abi_version"),
            std::string::npos)
      << gdb.out;
  EXPECT_NE(gdb.out.find("Value returned is $3 = 10"), std::string::npos)
      << "ABI 0.10 before the change: " << gdb.out;
  EXPECT_EQ(guest.exit_status, 0) << guest.out << guest.err;
  EXPECT_NE(guest.out.find("ABI 5.7, implementation "), std::string::npos)
      << "the changed rax reached the guest: " << guest.out;
  EXPECT_NE(guest.out.find("command line: under gdb"), std::string::npos)
      << guest.out;
}

}  // namespace hvbios::testing

#endif  // HVBIOS_TESTS_GDB_SESSION_H_
