// hvbios-run: the ready-made VMM. Boots one guest image on KVM, serves its
// hypercalls, forwards the console, and exits with the guest's shutdown code
// or a documented status of its own (tools/hvbios-run/options.h).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "hvbios/block.h"
#include "hvbios/gdb.h"
#include "hvbios/internal/mutex.h"
#include "hvbios/kvm.h"
#include "hvbios/net.h"
#include "hvbios/sandbox.h"
#include "hvbios/trace.h"
#include "hvbios/vm.h"
#include "lib/status_macros.h"
#include "lib/unique_fd.h"
#include "tools/hvbios-run/console_sink.h"
#include "tools/hvbios-run/options.h"
#include "tools/hvbios-run/profile_tool.h"
#include "tools/hvbios-run/stack_walk.h"
#include "tools/hvbios-run/user_net.h"

namespace hvbios::run {
namespace {

// The stack of vCPU `id` of `vm`, which has ended, as lines to append to
// a report: empty if its registers cannot be read.
std::string StackOf(Vm& vm, uint32_t id, const Symbols& symbols) {
  Vcpu* vcpu = vm.vcpu(id);
  if (vcpu == nullptr) return "";
  absl::StatusOr<Registers> regs = vcpu->GetRegisters();
  // A vCPU KVM reset at a triple fault has no stack of the guest's.
  if (!regs.ok() || IsResetState(*regs)) return "";
  const std::string stack = DescribeStack(
      *regs,
      [&vm](uint64_t gpa, uint64_t* value) {
        return vm.ReadGuestMemory(gpa, value, sizeof(*value)).ok();
      },
      symbols);
  std::string out = "\n  stack (by frame pointers):\n" + stack;
  out.pop_back();  // Error() ends the line
  return out;
}

int Error(int status, absl::string_view message) {
  std::fprintf(stderr, "hvbios-run: %.*s\n", static_cast<int>(message.size()),
               message.data());
  return status;
}

// Forwards stdin to the console input of whichever VM is attached (a reboot
// replaces the VM). Polls so that it can be stopped without closing stdin.
class StdinForwarder {
 public:
  StdinForwarder() : thread_([this] { Loop(); }) {}
  ~StdinForwarder() {
    stop_.store(true);
    thread_.join();
  }
  void Attach(Vm* vm) {
    hvbios::MutexLock lock(&mu_);
    vm_ = vm;
  }

 private:
  void Loop() {
    std::string pending;
    bool eof = false;
    while (!stop_.load()) {
      if (pending.empty() && !eof) {
        pollfd pfd = {STDIN_FILENO, POLLIN, 0};
        const int ready = poll(&pfd, 1, 100);
        if (ready < 0 && errno != EINTR) return;
        if (ready <= 0) continue;
        if (pfd.revents & POLLNVAL) return;  // no stdin at all
        char buf[4096];
        const ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          eof = true;
          continue;
        }
        pending.assign(buf, static_cast<size_t>(n));
      }
      if (!pending.empty()) {
        hvbios::MutexLock lock(&mu_);
        if (vm_ != nullptr) pending.erase(0, vm_->PushConsoleInput(pending));
      }
      if (!pending.empty() || eof) {
        absl::SleepFor(absl::Milliseconds(20));  // guest queue full / idle
      }
    }
  }

  std::atomic<bool> stop_{false};
  hvbios::Mutex mu_;
  Vm* vm_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread thread_;
};

// Makes file descriptors 0, 1 and 2 valid, opening /dev/null onto closed
// ones, before anything else is opened: otherwise the first file opened (a
// disk image!) would become "stdout" and take the guest's console output.
// False if that cannot be done.
bool ReserveStandardFds() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    const int null = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
    if (null != fd) return false;  // the lowest free descriptor is `fd`
  }
  return true;
}

// What hvbios-run does with the signals its own writes can raise: a
// closed console pipe (SIGPIPE) or a file-size limit (SIGXFSZ) become
// errors of the write, reported, rather than a silent death.
void IgnoreWriteSignals() {
  signal(SIGPIPE, SIG_IGN);
  signal(SIGXFSZ, SIG_IGN);
}

absl::StatusOr<std::vector<std::string>> ReadProfileWithTool(
    const std::string& path) {
  ASSIGN_OR_RETURN(const std::string tool, HelperToolPath("hvbios-profile"));
  return RunProfileTool(tool, path);
}

// Confines hvbios-run from here on (hvbios/sandbox.h, docs/sandbox.md). A
// sanitizer build runs without: its runtime needs what the filter forbids.
absl::Status EnterSandbox(bool gdb) {
  if (!kvm::SandboxAvailable()) return absl::OkStatus();
  kvm::SandboxOptions sandbox;
  sandbox.program = "hvbios-run";
  sandbox.exit_status = kExitHostError;
  if (gdb) {  // the gdb server's connections (hvbios/gdb.h)
    sandbox.extra_syscalls = {"accept4", "recvfrom", "setsockopt",
                              "getsockname"};
  }
  absl::Status s = kvm::InstallSandbox(sandbox);
  if (!s.ok()) {
    return absl::Status(s.code(),
                        absl::StrCat("cannot install the sandbox (--no-sandbox "
                                     "runs without it): ",
                                     s.message()));
  }
  return absl::OkStatus();
}

int Run(const RunOptions& options) {
  // The VM being run (reboots replace it); a failing console stops it.
  std::atomic<Vm*> current_vm{nullptr};
  ConsoleSink console(STDOUT_FILENO, [&current_vm] {
    if (Vm* vm = current_vm.load()) vm->Stop();
  });
  VmOptions vm_options;
  vm_options.memory_bytes = options.memory_bytes;
  vm_options.vcpu_count = options.cpus;
  vm_options.cmdline = options.cmdline;
  vm_options.console_output = [&console](absl::string_view bytes) {
    console.Write(bytes);
  };
  if (absl::Status s = ValidateVmOptions(vm_options); !s.ok()) {
    return Error(kExitUsage, s.message());
  }
  absl::StatusOr<std::vector<uint8_t>> image = ReadGuestImage(options.image);
  if (!image.ok()) return Error(kExitBadImage, image.status().message());
  const Symbols symbols(*image);
  for (const RunOptions::Disk& d : options.disks) {
    absl::StatusOr<std::unique_ptr<BlockDevice>> disk =
        OpenDiskImage(d.path, d.read_only);
    if (!disk.ok()) return Error(kExitBadImage, disk.status().message());
    vm_options.disks.push_back(*std::move(disk));
  }
  // Each MAC is chosen once: the guest keeps its address across reboots.
  for (const NetSpec& n : options.nets) {
    absl::StatusOr<NetDeviceConfig> net;
    if (n.kind == NetSpec::Kind::kUser) {
      absl::StatusOr<std::string> tool = HelperToolPath("hvbios-net-user");
      absl::StatusOr<std::shared_ptr<NetLink>> link =
          tool.ok() ? StartUserNetwork(*tool, n.user_args) : tool.status();
      if (link.ok()) {
        net = NetDeviceConfig{.link = *std::move(link),
                              .mac = n.mac.value_or(RandomMacAddress())};
      } else {
        net = link.status();
      }
    } else {
      net = OpenNetDevice(n);
    }
    if (!net.ok()) return Error(kExitBadImage, net.status().message());
    vm_options.nets.push_back(*std::move(net));
  }

  if (!options.trace_path.empty()) {
    // Before the sandbox: it creates the file and starts its writer.
    absl::StatusOr<std::shared_ptr<Tracer>> tracer =
        Tracer::Create(options.trace_path);
    if (!tracer.ok()) return Error(kExitUsage, tracer.status().message());
    vm_options.trace = *std::move(tracer);
  }

  const absl::Time deadline = options.timeout.has_value()
                                  ? absl::Now() + *options.timeout
                                  : absl::InfiniteFuture();
  // Opened once: VMs after a reboot are created inside the sandbox, which
  // allows no open().
  kvm::KvmOptions kvm_options;
  const UniqueFd kvm_device(
      open(kvm_options.device.c_str(), O_RDWR | O_CLOEXEC));
  if (!kvm_device.valid()) {
    return Error(kExitHostError,
                 ErrnoStatus(errno, absl::StrCat("open ", kvm_options.device))
                     .message());
  }
  kvm_options.device_fd = kvm_device.get();
  UniqueFd gdb_listener;
  if (options.gdb_port.has_value()) {
    absl::StatusOr<int> fd = GdbListen(*options.gdb_port);
    if (!fd.ok()) return Error(kExitUsage, fd.status().message());
    gdb_listener = UniqueFd(*fd);
    std::fprintf(stderr,
                 "hvbios-run: gdb stub on 127.0.0.1:%d (gdb GUEST.elf -ex "
                 "'target remote :%d')%s\n",
                 *options.gdb_port, *options.gdb_port,
                 options.gdb_wait ? "; the guest waits for it" : "");
  }
  StdinForwarder stdin_forwarder;
  bool sandboxed = false;
  for (;;) {
    absl::StatusOr<std::unique_ptr<Vm>> vm =
        CreateKvmVm(vm_options, kvm_options);
    if (!vm.ok()) return Error(kExitHostError, vm.status().message());
    if (absl::Status s = (*vm)->LoadGuest(*image); !s.ok()) {
      return Error(kExitBadImage,
                   absl::StrFormat("%s: %s", options.image, s.message()));
    }
    absl::StatusOr<Vcpu*> boot = (*vm)->CreateVcpu(0);
    if (!boot.ok()) return Error(kExitHostError, boot.status().message());
    if (options.sandbox && !sandboxed) {
      if (absl::Status s = EnterSandbox(gdb_listener.valid()); !s.ok()) {
        return Error(kExitHostError, s.message());
      }
      sandboxed = true;
    }
    // Destroyed before the VM (declared after it).
    std::unique_ptr<GdbServer> gdb;
    if (gdb_listener.valid()) {
      // --gdb-wait: the boot vCPU starts paused, until gdb continues it.
      if (options.gdb_wait) (void)(*vm)->Pause();
      absl::StatusOr<std::unique_ptr<GdbServer>> server = GdbServer::Start(
          vm->get(), gdb_listener.get(), [](absl::string_view line) {
            std::fprintf(stderr, "hvbios-run: %.*s\n",
                         static_cast<int>(line.size()), line.data());
          });
      if (!server.ok()) return Error(kExitHostError, server.status().message());
      gdb = *std::move(server);
    }
    if (absl::Status s = (*boot)->Start(); !s.ok()) {
      return Error(kExitHostError, s.message());
    }
    stdin_forwarder.Attach(vm->get());
    current_vm.store(vm->get());
    absl::StatusOr<VmExit> exit = (*vm)->Wait(deadline - absl::Now());
    stdin_forwarder.Attach(nullptr);
    // A gdb that is connected sees the end (a fault or a panic stops in
    // it) and leaves before the report.
    if (gdb != nullptr && exit.ok()) {
      (void)gdb->WaitUntilDisconnected(deadline - absl::Now());
    }

    if (const std::string failure = console.failure(); !failure.empty()) {
      return Error(kExitHostError,
                   absl::StrFormat("the console output (stdout) failed: %s; "
                                   "stopped the guest",
                                   failure));
    }
    if (absl::IsDeadlineExceeded(exit.status())) {
      // Whatever the guest wrote and nobody read is dropped: the timeout
      // must not wait for a reader that does not read.
      console.Abandon();
      (*vm)->Stop();
      (void)(*vm)->Wait();
      std::string report =
          absl::StrFormat("guest still running after --timeout %s; stopped it",
                          absl::FormatDuration(*options.timeout));
      for (uint32_t id = 0; id < vm_options.vcpu_count; ++id) {
        Vcpu* vcpu = (*vm)->vcpu(id);
        if (vcpu == nullptr) continue;
        if (absl::StatusOr<Registers> regs = vcpu->GetRegisters(); regs.ok()) {
          absl::StrAppendFormat(&report, "\nvCPU %d:\n%s", id,
                                FormatRegisters(*regs));
        }
      }
      return Error(kExitTimeout, report);
    }
    if (!exit.ok()) return Error(kExitHostError, exit.status().message());

    switch (exit->reason) {
      case VmExit::Reason::kShutdown:
        if (exit->exit_code == kExitGuestException) {
          return Error(kExitGuestException,
                       "the guest shut down with code 111: its SDK reports "
                       "an unhandled exception this way (the console above "
                       "says which)");
        }
        if (exit->exit_code >= kExitGuestCodeTooLarge) {
          return Error(
              kExitGuestCodeTooLarge,
              absl::StrFormat("guest shut down with code %d", exit->exit_code));
        }
        return exit->exit_code;
      case VmExit::Reason::kReboot:
        std::fprintf(
            stderr, "hvbios-run: guest requested a reboot; booting it again\n");
        continue;
      case VmExit::Reason::kGuestFault:
        return Error(kExitGuestFault,
                     "guest died: " + exit->message +
                         StackOf(**vm, exit->vcpu_id, symbols));
      case VmExit::Reason::kPanic:
        return Error(
            kExitGuestPanic,
            absl::StrFormat("the guest panicked on vCPU %d with code "
                            "%d: %s%s",
                            exit->vcpu_id, exit->exit_code, exit->message,
                            StackOf(**vm, exit->vcpu_id, symbols)));
      case VmExit::Reason::kStopped:
        // Nothing but gdb's kill stops the VM on its own (a console that
        // fails is reported above).
        if (gdb != nullptr && exit->message.empty()) {
          return Error(kExitHostError, "the guest was killed by gdb");
        }
        [[fallthrough]];
      case VmExit::Reason::kHostError:
        return Error(kExitHostError, exit->message.empty()
                                         ? "the VM stopped unexpectedly"
                                         : exit->message);
    }
  }
}

}  // namespace
}  // namespace hvbios::run

int main(int argc, char** argv) {
  using namespace hvbios::run;
  if (!ReserveStandardFds()) return kExitHostError;  // nowhere to say why
  IgnoreWriteSignals();
  absl::StatusOr<RunOptions> options = ParseRunOptions(
      std::vector<std::string>(argv + 1, argv + argc), ReadProfileWithTool);
  if (!options.ok()) return Error(kExitUsage, options.status().message());
  if (options->help) {
    std::fputs(UsageText().c_str(), stdout);
    return 0;
  }
  return Run(*options);
}
