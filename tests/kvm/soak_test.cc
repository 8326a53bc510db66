// Soak and load on real KVM: many VM lifetimes in one process, many VMs at
// once, SIGKILL right after flushes, and hvbios-run processes sharing
// images. Each test has a short form (seconds; label kvm, in every CI run)
// and a long one (label soak, `ctest --preset default -L soak`), chosen by
// HVBIOS_SOAK=long in the environment.
#include <dirent.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "hvbios/block.h"
#include "tests/kvm/kvm_guest.h"
#include "tests/run_command.h"
#include "tests/test_util.h"

namespace hvbios {
namespace {

using testing::CapturedVm;
using testing::GuestPath;

bool Long() {
  const char* soak = std::getenv("HVBIOS_SOAK");
  return soak != nullptr && std::string(soak) == "long";
}

int CountEntries(const char* dir_path) {
  int count = 0;
  if (DIR* dir = opendir(dir_path)) {
    while (dirent* entry = readdir(dir)) count += entry->d_name[0] != '.';
    closedir(dir);
  }
  return count;
}

// Resident set, from /proc/self/statm, in bytes.
uint64_t Rss() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

// Threads that have been joined may stay listed a moment longer.
int SettledThreadCount(int expected) {
  const absl::Time limit = absl::Now() + absl::Seconds(5);
  int count = CountEntries("/proc/self/task");
  while (count != expected && absl::Now() < limit) {
    absl::SleepFor(absl::Milliseconds(10));
    count = CountEntries("/proc/self/task");
  }
  return count;
}

class SoakTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_KVM();
    ASSERT_TRUE(temp_dir_.Create("hvbios_soak_test"));
  }
  std::string MakeImage(const std::string& name, size_t bytes) {
    const std::string path = temp_dir_.path() + "/" + name;
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(std::vector<char>(bytes, 0).data(), bytes);
    return path;
  }
  std::string ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  testing::ScopedTempDir temp_dir_;
};

// Boots hello to its shutdown and destroys the VM.
void BootHello() {
  ASSERT_OK_AND_ASSIGN(auto vm,
                       CapturedVm::Boot("hello", {.memory_bytes = 16 << 20}));
  ASSERT_OK_AND_ASSIGN(VmExit exit, vm->Wait());
  ASSERT_EQ(exit.reason, VmExit::Reason::kShutdown) << exit.message;
  ASSERT_EQ(exit.exit_code, 0);
}

TEST_F(SoakTest, VmLifetimesLeaveNoFdThreadOrMemoryBehind) {
  const int cycles = Long() ? 1000 : 30;
  for (int i = 0; i < 5; ++i) ASSERT_NO_FATAL_FAILURE(BootHello());  // warm
  const int fds = CountEntries("/proc/self/fd");
  const int threads = SettledThreadCount(CountEntries("/proc/self/task"));
  const uint64_t rss = Rss();
  for (int i = 0; i < cycles; ++i) {
    ASSERT_NO_FATAL_FAILURE(BootHello()) << "cycle " << i;
  }
  std::cout << cycles << " VM lifetimes: fds " << fds << " -> "
            << CountEntries("/proc/self/fd") << ", threads " << threads
            << " -> " << SettledThreadCount(threads) << ", RSS " << (rss >> 10)
            << " -> " << (Rss() >> 10) << " KiB\n";
  EXPECT_EQ(CountEntries("/proc/self/fd"), fds);
  EXPECT_EQ(SettledThreadCount(threads), threads);
  // 16 MiB VMs: a VM's RAM, or a vCPU's kvm_run, kept per cycle would show
  // as tens of MiB; allocator noise stays far below this.
  EXPECT_LT(Rss(), rss + (4u << 20)) << cycles << " cycles";
}

// VMs of 2 vCPUs each run the conformance suite over and over at once.
TEST_F(SoakTest, ManyVmsRunConformanceAtOnce) {
  const int vms = Long() ? 32 : 4;
  const absl::Duration duration = Long() ? absl::Seconds(60) : absl::Seconds(5);
  const absl::Time end = absl::Now() + duration;
  std::atomic<int> runs{0}, failures{0};
  std::vector<std::thread> threads;
  for (int v = 0; v < vms; ++v) {
    threads.emplace_back([&] {
      do {
        auto vm = CapturedVm::Boot("conformance",
                                   {.memory_bytes = 32 << 20, .vcpu_count = 2});
        absl::StatusOr<VmExit> exit =
            vm.ok() ? (*vm)->Wait(absl::Seconds(300)) : vm.status();
        const bool ok =
            exit.ok() && exit->reason == VmExit::Reason::kShutdown &&
            exit->exit_code == 0 &&
            (*vm)->console().find(" passed, 0 failed") != std::string::npos;
        if (!ok) {
          ADD_FAILURE() << (exit.ok() ? exit->message
                                      : std::string(exit.status().message()))
                        << (vm.ok() ? (*vm)->console() : "");
          ++failures;
        }
        ++runs;
      } while (absl::Now() < end && failures == 0);
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_GE(runs, vms);
  std::cout << runs << " conformance runs in " << vms << " VMs\n";
}

// hvbios-run is killed right after the guest saw its flush acknowledged;
// the flushed data is in the image every time.
TEST_F(SoakTest, FlushedWritesSurviveSigkillEveryTime) {
  const int cycles = Long() ? 100 : 3;
  std::string expected(1 << 20, '\0');
  for (uint64_t s = 0; s < 128; ++s) {
    for (uint32_t j = 0; j < 512; ++j) {
      expected[s * 512 + j] = static_cast<char>(s * 131 + j * 7 + 77 * 17);
    }
  }
  for (int i = 0; i < cycles; ++i) {
    const std::string path =
        MakeImage(absl::StrCat("durable", i, ".img"), 1 << 20);
    const testing::KilledRun run =
        testing::RunUntilThenKill({HVBIOS_RUN_PATH, "--disk", path, "--cmdline",
                                   "durable", GuestPath("disk_io")},
                                  "flushed\n");
    ASSERT_NE(run.out.find("flushed\n"), std::string::npos) << "cycle " << i;
    ASSERT_TRUE(run.killed) << "cycle " << i;
    ASSERT_TRUE(ReadFile(path) == expected) << "cycle " << i << " lost data";
    unlink(path.c_str());
  }
}

// hvbios-run processes at once, all reading one image read-only (shared
// locks) while each writes its own: all pass, the shared image unchanged.
TEST_F(SoakTest, ParallelRunnersShareAReadOnlyImage) {
  const int processes = Long() ? 16 : 3;
  const std::string shared = MakeImage("shared.img", 64 << 10);
  std::vector<std::string> outputs(processes);
  std::vector<int> statuses(processes, -1);
  std::vector<std::thread> threads;
  for (int p = 0; p < processes; ++p) {
    const std::string own = MakeImage(absl::StrCat("own", p, ".img"), 1 << 20);
    threads.emplace_back([&, p, own] {
      testing::CommandResult r = testing::RunCommand(
          {HVBIOS_RUN_PATH, "--cpus", "2", "--disk", own, "--disk",
           shared + ",ro", GuestPath("conformance")},
          "", 600);
      statuses[p] = r.exit_status;
      outputs[p] = r.out + r.err;
    });
  }
  for (std::thread& t : threads) t.join();
  for (int p = 0; p < processes; ++p) {
    EXPECT_EQ(statuses[p], 0) << outputs[p];
    EXPECT_NE(outputs[p].find(" passed, 0 failed"), std::string::npos)
        << outputs[p];
  }
  EXPECT_EQ(ReadFile(shared), std::string(64 << 10, '\0'));
}

}  // namespace
}  // namespace hvbios
