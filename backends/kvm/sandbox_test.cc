// The seccomp sandbox (hvbios/sandbox.h), in child processes: what a VMM
// does once set up keeps working, and each kind of forbidden call ends the
// process with a report that names it. No KVM needed; the KVM tests run
// hvbios-run's workloads under it (tests/kvm/hvbios_run_test.cc).
#include "hvbios/sandbox.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <fstream>
#include <functional>
#include <iterator>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"

namespace hvbios::kvm {
namespace {

constexpr int kViolation = 99;

struct ChildResult {
  int exit_status = -1;  // -1: did not exit normally
  std::string err;
};

// Runs `body` in a child that has installed the sandbox; the child exits
// with body's return value, or kViolation after a report on stderr.
ChildResult RunSandboxed(const std::function<int()>& body,
                         std::vector<std::string> extra = {}) {
  ChildResult result;
  int err[2];
  if (pipe(err) != 0) return result;
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(err[1], STDERR_FILENO);
    close(err[0]);
    close(err[1]);
    SandboxOptions options;
    options.program = "sandbox_test";
    options.exit_status = kViolation;
    options.extra_syscalls = std::move(extra);
    if (!InstallSandbox(options).ok()) _exit(98);
    _exit(body());
  }
  close(err[1]);
  char chunk[512];
  ssize_t n;
  while ((n = read(err[0], chunk, sizeof(chunk))) > 0)
    result.err.append(chunk, n);
  close(err[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) result.exit_status = WEXITSTATUS(status);
  return result;
}

class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why; !SandboxAvailable(&why)) {
      GTEST_SKIP() << "no sandbox in this build: " << why;
    }
  }

  void ExpectStopped(const ChildResult& r, const std::string& syscall) {
    EXPECT_EQ(r.exit_status, kViolation) << r.err;
    EXPECT_NE(r.err.find("sandbox_test: sandbox: forbidden system call " +
                         syscall + " ("),
              std::string::npos)
        << r.err;
  }
};

// What a VMM's threads do once set up: threads and locks, memory, eventfds,
// polls, sleeps, clocks, random bytes, thread names, memfd RAM, signals to
// its own threads, a duplicated fd.
TEST_F(SandboxTest, WhatARunningVmNeedsStillWorks) {
  ChildResult r = RunSandboxed([] {
    std::mutex mu;
    int shared = 0;
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back([&] {
        pthread_setname_np(pthread_self(), "sandboxed");
        std::lock_guard<std::mutex> lock(mu);
        ++shared;
      });
    }
    for (std::thread& t : threads) t.join();
    if (shared != 4) return 1;
    std::vector<char> big(64 << 20, 1);  // mmap'ed by malloc
    big.resize(128 << 20);               // mremap
    const int event = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    uint64_t one = 1;
    if (event < 0 || write(event, &one, 8) != 8) return 2;
    pollfd pfd = {event, POLLIN, 0};
    if (poll(&pfd, 1, 1000) != 1 || read(event, &one, 8) != 8) return 3;
    const int copy = fcntl(event, F_DUPFD_CLOEXEC, 0);
    if (copy < 0 || close(copy) != 0 || close(event) != 0) return 4;
    timespec ts;
    if (syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) != 0) return 5;
    usleep(1000);
    char random[16];
    if (getrandom(random, sizeof(random), 0) != sizeof(random)) return 6;
    const int ram = memfd_create("ram", MFD_CLOEXEC);
    if (ram < 0 || ftruncate(ram, 1 << 20) != 0) return 7;
    void* m =
        mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, ram, 0);
    if (m == MAP_FAILED || munmap(m, 1 << 20) != 0) return 8;
    if (pthread_kill(pthread_self(), 0) != 0) return 9;
    return 0;
  });
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_EQ(r.err, "");
}

TEST_F(SandboxTest, OpeningAnyFileIsStoppedAndNamed) {
  ExpectStopped(RunSandboxed([] { return open("/dev/null", O_RDONLY); }),
                "openat");
}

TEST_F(SandboxTest, ExecutableMemoryIsStopped) {
  ExpectStopped(RunSandboxed([] {
                  void* m = mmap(nullptr, 4096, PROT_READ | PROT_EXEC,
                                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                  return m == MAP_FAILED ? 1 : 0;
                }),
                "mmap");
  ExpectStopped(RunSandboxed([] {
                  static char page[4096] __attribute__((aligned(4096)));
                  return mprotect(page, sizeof(page), PROT_READ | PROT_EXEC);
                }),
                "mprotect");
}

TEST_F(SandboxTest, NewProcessesAndProgramsAreStopped) {
  ExpectStopped(RunSandboxed([] { return fork() < 0 ? 1 : 0; }), "clone");
  ExpectStopped(RunSandboxed([] {
                  char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
                  return execv(argv[0], argv);
                }),
                "execve");
}

// clone3's flags are out of a filter's reach: it fails as if the kernel
// lacked it, and glibc creates threads with clone instead (above).
TEST_F(SandboxTest, Clone3FailsWithEnosys) {
  ChildResult r = RunSandboxed([] {
    return syscall(SYS_clone3, nullptr, 0) == -1 && errno == ENOSYS ? 0 : 1;
  });
  EXPECT_EQ(r.exit_status, 0) << r.err;
}

TEST_F(SandboxTest, IoctlsOtherThanKvmsAreStopped) {
  ExpectStopped(RunSandboxed([] {
                  termios t;
                  return ioctl(STDIN_FILENO, TCGETS, &t);
                }),
                "ioctl");
  // A KVM request passes the filter (and fails on a non-KVM fd).
  ChildResult r = RunSandboxed(
      [] { return ioctl(STDIN_FILENO, KVM_GET_API_VERSION, 0) == -1 ? 0 : 1; });
  EXPECT_EQ(r.exit_status, 0) << r.err;
}

TEST_F(SandboxTest, SignalsToOtherProcessesAreStopped) {
  const pid_t parent = getpid();
  ExpectStopped(RunSandboxed([parent] { return kill(parent, 0); }), "kill");
  ExpectStopped(
      RunSandboxed([parent] {
        return static_cast<int>(syscall(SYS_tgkill, parent, parent, 0));
      }),
      "tgkill");
}

// The handler's disposition stays: changing a signal's action is stopped.
TEST_F(SandboxTest, SignalHandlersCannotBeChanged) {
  ExpectStopped(RunSandboxed([] {
                  signal(SIGSYS, SIG_DFL);
                  return 0;
                }),
                "rt_sigaction");
}

TEST_F(SandboxTest, ExtraSystemCallsAreAllowedByName) {
  ChildResult r = RunSandboxed(
      [] {
        const int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        return fd >= 0 && close(fd) == 0 ? 0 : 1;
      },
      {"openat"});
  EXPECT_EQ(r.exit_status, 0) << r.err;
}

TEST_F(SandboxTest, MisuseGetsErrors) {
  // An unknown name is refused before anything is installed.
  SandboxOptions options;
  options.extra_syscalls = {"no_such_call"};
  absl::Status s = InstallSandbox(options);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find("no_such_call"), std::string::npos) << s;
  // A second installation is an error, not a violation.
  ChildResult r = RunSandboxed([] {
    absl::Status again = InstallSandbox();
    return again.code() == absl::StatusCode::kFailedPrecondition ? 0 : 1;
  });
  EXPECT_EQ(r.exit_status, 0) << r.err;
}

// docs/sandbox.md's table is the allowlist, row for row.
TEST(SandboxAllowlistTest, TheDocsListEveryEntryWithItsReason) {
  std::ifstream in(HVBIOS_SANDBOX_DOC);
  const std::string doc((std::istreambuf_iterator<char>(in)), {});
  ASSERT_FALSE(SandboxAllowlist().empty());
  for (const SandboxRule& rule : SandboxAllowlist()) {
    EXPECT_NE(std::string(rule.reason), "") << rule.syscall;
    const std::string row = absl::StrFormat(
        "| `%s` | %s | %s |\n", rule.syscall,
        rule.condition[0] != '\0' ? rule.condition : "any", rule.reason);
    EXPECT_NE(doc.find(row), std::string::npos) << "not in the docs: " << row;
  }
}

}  // namespace
}  // namespace hvbios::kvm
