// The KVM backend's seccomp sandbox (hvbios/sandbox.h). The filter's default
// is SECCOMP_RET_TRAP: the kernel raises SIGSYS on the offending thread with
// the system call's number in si_syscall, and the handler here reports it
// and exits. Names are looked up before the filter is loaded, so that the
// handler only formats and writes (async-signal-safe).
#include "hvbios/sandbox.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#include "absl/strings/str_format.h"
#include "backends/kvm/kvm_internal.h"
#include "lib/status_macros.h"

namespace hvbios::kvm {
namespace {

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define HVBIOS_SANITIZER_BUILD 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || \
    defined(HVBIOS_SANITIZER_BUILD)
constexpr bool kSanitizerBuild = true;
#else
constexpr bool kSanitizerBuild = false;
#endif

// How a rule restricts its system call's arguments.
enum class Check {
  kNone,
  kKvmIoctl,     // arg 1 is one of kKvmRequests
  kNoExec,       // arg 2 (prot) lacks PROT_EXEC
  kThreadClone,  // arg 0 (flags) has CLONE_THREAD
  kOwnProcess,   // arg 0 (tgid) is this process
  kSetName,      // arg 0 is PR_SET_NAME
  kFdFlags,      // arg 1 is one of kFcntlCommands
  kEnosys,       // not allowed, fails with ENOSYS instead of trapping
};

struct Entry {
  const char* name;
  Check check;
  const char* condition;
  const char* reason;
};

constexpr Entry kEntries[] = {
    {"read", Check::kNone, "",
     "console input from stdin; eventfd counts; frames from net links"},
    {"write", Check::kNone, "",
     "console output; eventfd signals; this sandbox's report; frames to a "
     "TAP device"},
    {"sendto", Check::kNone, "",
     "frames to a net link's socket (its peer's address in the call)"},
    {"pread64", Check::kNone, "", "block service reads of disk images"},
    {"preadv", Check::kNone, "", "block service reads into guest buffers"},
    {"pwrite64", Check::kNone, "", "block service writes"},
    {"pwritev", Check::kNone, "", "block service writes from guest buffers"},
    {"fdatasync", Check::kNone, "",
     "block flush: acknowledged writes reach the disk"},
    {"fsync", Check::kNone, "", "block flush where fdatasync is not enough"},
    {"fallocate", Check::kNone, "",
     "block write-zeroes and discard (punching holes)"},
    {"ftruncate", Check::kNone, "", "sizing memfd-backed guest memory"},
    {"memfd_create", Check::kNone, "",
     "guest memory a VMM adds at run time (no path is opened)"},
    {"close", Check::kNone, "", "VM, vCPU and eventfd descriptors at destroy"},
    {"fcntl", Check::kFdFlags,
     "F_DUPFD_CLOEXEC, F_GETFD, F_SETFD, F_GETFL or F_SETFL",
     "duplicating the KVM device for a new VM (reboot); non-blocking fds"},
    {"eventfd2", Check::kNone, "",
     "ioeventfds, irqfds and wake-ups of each new VM"},
    {"poll", Check::kNone, "", "stdin forwarding; console output back-off"},
    {"ppoll", Check::kNone, "", "the same, through glibc's poll on some paths"},
    {"ioctl", Check::kKvmIoctl, "one of KVM's requests (list below)",
     "running vCPUs and changing VMs; nothing else has an ioctl"},
    {"mmap", Check::kNoExec, "prot without PROT_EXEC",
     "guest RAM, vCPU run pages, thread stacks, malloc"},
    {"mprotect", Check::kNoExec, "prot without PROT_EXEC",
     "thread stack guards; guest RAM holes"},
    {"munmap", Check::kNone, "", "the same, released"},
    {"mremap", Check::kNone, "", "realloc of large blocks"},
    {"madvise", Check::kNone, "",
     "giving back guest RAM and thread stacks; huge-page advice"},
    {"brk", Check::kNone, "", "malloc"},
    {"clone", Check::kThreadClone, "flags include CLONE_THREAD",
     "vCPU threads a guest starts; service threads of a new VM"},
    {"clone3", Check::kEnosys, "fails with ENOSYS",
     "its flags are in memory, out of a filter's reach: glibc then uses "
     "clone"},
    {"set_robust_list", Check::kNone, "", "start of every new thread (glibc)"},
    {"rseq", Check::kNone, "", "start of every new thread (glibc)"},
    {"exit", Check::kNone, "", "end of a thread"},
    {"exit_group", Check::kNone, "", "end of the process"},
    {"futex", Check::kNone, "", "mutexes, condition variables, joins"},
    {"rt_sigprocmask", Check::kNone, "",
     "vCPU threads unblock the kick signal; thread creation"},
    {"rt_sigreturn", Check::kNone, "", "return from the kick signal handler"},
    {"restart_syscall", Check::kNone, "", "a sleep interrupted by a kick"},
    {"tgkill", Check::kOwnProcess, "thread group is this process",
     "kicking a vCPU thread out of KVM_RUN (pthread_kill)"},
    {"getpid", Check::kNone, "", "pthread_kill's thread group"},
    {"gettid", Check::kNone, "", "thread identity"},
    {"sched_yield", Check::kNone, "", "spinning locks back off"},
    {"nanosleep", Check::kNone, "", "back-off sleeps"},
    {"clock_nanosleep", Check::kNone, "", "back-off sleeps; timers"},
    {"clock_gettime", Check::kNone, "",
     "clocks where the vDSO falls back to the kernel"},
    {"gettimeofday", Check::kNone, "", "the same"},
    {"getrandom", Check::kNone, "", "the random-bytes service"},
    {"prctl", Check::kSetName, "option PR_SET_NAME",
     "naming the threads of a new VM (pthread_setname_np)"},
};

// Every ioctl request the KVM backend makes once set up (api.rst): on the
// KVM device for a new VM, on a VM, and on a vCPU.
constexpr unsigned long kKvmRequests[] = {
    KVM_GET_API_VERSION,
    KVM_CHECK_EXTENSION,
    KVM_GET_VCPU_MMAP_SIZE,
    kKvmGetSupportedCpuid,
    KVM_CREATE_VM,
    KVM_CREATE_IRQCHIP,
    KVM_SET_TSS_ADDR,
    KVM_GET_TSC_KHZ,
    KVM_SET_USER_MEMORY_REGION,
    KVM_GET_DIRTY_LOG,
    KVM_IOEVENTFD,
    KVM_IRQFD,
    KVM_SIGNAL_MSI,
    kKvmSetGsiRouting,
    KVM_CREATE_VCPU,
    kKvmSetCpuid2,
    kKvmGetMsrs,
    kKvmSetMsrs,
    KVM_RUN,
    KVM_GET_REGS,
    KVM_SET_REGS,
    KVM_GET_SREGS,
    KVM_SET_SREGS,
    KVM_GET_LAPIC,
    KVM_SET_LAPIC,
    KVM_SET_MP_STATE,
    KVM_SET_GUEST_DEBUG,
};

constexpr int kFcntlCommands[] = {F_DUPFD_CLOEXEC, F_GETFD, F_SETFD, F_GETFL,
                                  F_SETFL};

// What the SIGSYS handler reads: set once, before the filter is loaded.
constexpr int kNamedSyscalls = 512;
char g_names[kNamedSyscalls][24];
char g_program[64];
int g_exit_status = 125;

void Append(char* buf, size_t* at, size_t size, const char* s) {
  while (*s != '\0' && *at + 1 < size) buf[(*at)++] = *s++;
}

void AppendNumber(char* buf, size_t* at, size_t size, long value) {
  char digits[24];
  int n = 0;
  unsigned long v = value < 0 ? -static_cast<unsigned long>(value) : value;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  if (value < 0 && *at + 1 < size) buf[(*at)++] = '-';
  while (n > 0 && *at + 1 < size) buf[(*at)++] = digits[--n];
}

void OnSigsys(int, siginfo_t* info, void*) {
  char line[256];
  size_t at = 0;
  const int nr = info->si_syscall;
  Append(line, &at, sizeof(line), g_program);
  Append(line, &at, sizeof(line), ": sandbox: forbidden system call ");
  if (nr >= 0 && nr < kNamedSyscalls && g_names[nr][0] != '\0') {
    Append(line, &at, sizeof(line), g_names[nr]);
    Append(line, &at, sizeof(line), " (");
    AppendNumber(line, &at, sizeof(line), nr);
    Append(line, &at, sizeof(line), ")");
  } else {
    Append(line, &at, sizeof(line), "number ");
    AppendNumber(line, &at, sizeof(line), nr);
  }
  Append(line, &at, sizeof(line), "; stopped\n");
  ssize_t ignored = write(STDERR_FILENO, line, at);
  (void)ignored;
  _exit(g_exit_status);
}

absl::Status SeccompError(int rc, absl::string_view what) {
  return absl::InternalError(
      absl::StrFormat("seccomp: %s: %s", what, strerror(-rc)));
}

// Adds `entry`'s rule(s) to `filter`.
int AddEntry(scmp_filter_ctx filter, const Entry& entry, int nr) {
  switch (entry.check) {
    case Check::kNone:
      return seccomp_rule_add(filter, SCMP_ACT_ALLOW, nr, 0);
    case Check::kKvmIoctl:
      for (unsigned long request : kKvmRequests) {
        // The kernel takes the request as an unsigned int: compare the low
        // 32 bits only, as the kernel will.
        const int rc =
            seccomp_rule_add(filter, SCMP_ACT_ALLOW, nr, 1,
                             SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, request));
        if (rc != 0) return rc;
      }
      return 0;
    case Check::kNoExec:
      return seccomp_rule_add(filter, SCMP_ACT_ALLOW, nr, 1,
                              SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    case Check::kThreadClone:
      return seccomp_rule_add(
          filter, SCMP_ACT_ALLOW, nr, 1,
          SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
    case Check::kOwnProcess:
      return seccomp_rule_add(
          filter, SCMP_ACT_ALLOW, nr, 1,
          SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(getpid())));
    case Check::kSetName:
      return seccomp_rule_add(filter, SCMP_ACT_ALLOW, nr, 1,
                              SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME));
    case Check::kFdFlags:
      for (int command : kFcntlCommands) {
        const int rc = seccomp_rule_add(
            filter, SCMP_ACT_ALLOW, nr, 1,
            SCMP_A1(SCMP_CMP_EQ, static_cast<scmp_datum_t>(command)));
        if (rc != 0) return rc;
      }
      return 0;
    case Check::kEnosys:
      return seccomp_rule_add(filter, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
  }
  return -EINVAL;
}

void NameSyscalls() {
  for (int nr = 0; nr < kNamedSyscalls; ++nr) {
    char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
    if (name == nullptr) continue;
    std::strncpy(g_names[nr], name, sizeof(g_names[nr]) - 1);
    std::free(name);
  }
}

// Owns a libseccomp filter context.
struct FilterDeleter {
  void operator()(void* filter) const { seccomp_release(filter); }
};

}  // namespace

absl::Span<const SandboxRule> SandboxAllowlist() {
  static const auto* const rules = [] {
    auto* list = new std::vector<SandboxRule>;
    for (const Entry& e : kEntries) {
      list->push_back({e.name, e.condition, e.reason});
    }
    return list;
  }();
  return *rules;
}

bool SandboxAvailable(std::string* why) {
  if (kSanitizerBuild) {
    if (why != nullptr) {
      *why =
          "this is a sanitizer build: the sanitizer runtime opens files and "
          "forks at run time";
    }
    return false;
  }
  return true;
}

absl::Status InstallSandbox(const SandboxOptions& options) {
  static std::mutex mu;
  static bool installed = false;  // guarded by mu
  std::lock_guard<std::mutex> lock(mu);
  if (std::string why; !SandboxAvailable(&why)) {
    return absl::FailedPreconditionError(why);
  }
  // A second filter could only narrow the first, and installing its
  // handler would itself be a violation (rt_sigaction).
  if (installed) {
    return absl::FailedPreconditionError("the sandbox is already installed");
  }
  std::unique_ptr<void, FilterDeleter> filter(seccomp_init(SCMP_ACT_TRAP));
  if (filter == nullptr) return absl::InternalError("seccomp_init failed");
  // Every thread, not only the caller: vCPU and service threads exist.
  if (int rc = seccomp_attr_set(filter.get(), SCMP_FLTATR_CTL_TSYNC, 1)) {
    return SeccompError(rc, "synchronising threads");
  }
  for (const Entry& entry : kEntries) {
    const int nr = seccomp_syscall_resolve_name(entry.name);
    if (nr == __NR_SCMP_ERROR) continue;  // not on this kernel's ABI
    if (int rc = AddEntry(filter.get(), entry, nr)) {
      return SeccompError(rc, entry.name);
    }
  }
  for (const std::string& name : options.extra_syscalls) {
    const int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr == __NR_SCMP_ERROR) {
      return absl::InvalidArgumentError(
          absl::StrFormat("no system call named \"%s\"", name));
    }
    if (int rc = seccomp_rule_add(filter.get(), SCMP_ACT_ALLOW, nr, 0)) {
      return SeccompError(rc, name);
    }
  }

  // glibc installs handlers of its own (SIGCANCEL, SIGSETXID) when the
  // process creates its first thread, and the KVM backend its kick
  // signal's when it creates its first VM: have both happen now, while
  // rt_sigaction is allowed.
  std::thread([] {}).join();
  RETURN_IF_ERROR(InstallKickHandler(
      options.kick_signal != 0 ? options.kick_signal : SIGRTMIN));
  NameSyscalls();
  std::strncpy(g_program, options.program.c_str(), sizeof(g_program) - 1);
  g_exit_status = options.exit_status;
  struct sigaction action = {};
  action.sa_sigaction = OnSigsys;
  action.sa_flags = SA_SIGINFO;
  sigemptyset(&action.sa_mask);
  if (sigaction(SIGSYS, &action, nullptr) != 0) {
    return absl::InternalError(
        absl::StrFormat("sigaction(SIGSYS): %s", strerror(errno)));
  }
  if (int rc = seccomp_load(filter.get())) {
    return SeccompError(rc, "loading the filter");
  }
  installed = true;
  return absl::OkStatus();
}

}  // namespace hvbios::kvm
