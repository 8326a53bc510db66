// A seccomp-BPF sandbox for a process that runs VMs on the KVM backend
// (the kernel's Documentation/userspace-api/seccomp_filter.rst), built with
// Debian's libseccomp. Optional: a VMM applies it once its set-up is done
// (files opened, /dev/kvm open, images read); from then on the process may
// make only the system calls that running, rebooting and destroying VMs
// need, with arguments checked where that is cheap: ioctl only with KVM's
// requests, no executable mappings, threads but no new processes, signals
// only to its own threads, no open() of any kind.
//
// A violation is reported on stderr, naming the system call, and ends the
// process with the status asked for. The allowlist and the reason for each
// entry: SandboxAllowlist(), docs/sandbox.md.
#ifndef HVBIOS_SANDBOX_H_
#define HVBIOS_SANDBOX_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"

namespace hvbios::kvm {

struct SandboxOptions {
  // The report's first word: "<program>: sandbox: forbidden system call
  // openat (257); ...". Up to 63 bytes are kept.
  std::string program = "hvbios";
  // The status the process exits with after a violation.
  int exit_status = 125;
  // Further system calls the embedding VMM needs, by name ("sendmsg"),
  // allowed with any arguments. An unknown name is an error.
  std::vector<std::string> extra_syscalls;
  // The signal that kicks vCPU threads out of the guest in the VMs created
  // from now on (KvmOptions::kick_signal; 0: SIGRTMIN, its default). Its
  // handler is installed before the filter, which forbids rt_sigaction: a
  // VM created inside the sandbox with another kick signal is stopped.
  int kick_signal = 0;
};

// One allowlist entry: a system call, what its arguments must be (empty:
// anything), and why a VMM needs it once set up.
struct SandboxRule {
  const char* syscall;
  const char* condition;
  const char* reason;
};
absl::Span<const SandboxRule> SandboxAllowlist();

// Whether InstallSandbox can work in this build; if not, `why` says why.
// A build with AddressSanitizer or ThreadSanitizer cannot: their runtimes
// open files, trace and fork at run time (LeakSanitizer's exit check).
bool SandboxAvailable(std::string* why = nullptr);

// Installs the filter on every thread of the process, irrevocably (it sets
// no_new_privs), and a SIGSYS handler that reports violations; the
// handler's disposition cannot be changed afterwards, for rt_sigaction is
// not allowed. Call it after set-up: VMs created afterwards must get an
// open KVM device through KvmOptions::device_fd. Errors: FailedPrecondition
// where SandboxAvailable is false, InvalidArgument for an unknown extra
// name, the kernel's refusal otherwise.
absl::Status InstallSandbox(const SandboxOptions& options = {});

}  // namespace hvbios::kvm

#endif  // HVBIOS_SANDBOX_H_
