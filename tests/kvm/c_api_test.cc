// The C API on real KVM: the whole life of a VM, and misuse.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "hvbios/abi/functions.h"
#include "hvbios/hvbios.h"
#include "hvbios/internal/mutex.h"
#include "hvbios/trace.h"
#include "tests/kvm/kvm_guest.h"
#include "tests/test_util.h"
#include "tools/hvbios-trace/report.h"

namespace {

using hvbios::testing::CaptureConsole;
using hvbios::testing::Console;
using hvbios::testing::GuestPath;

class CApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_KVM();
    hyperv_bios_init_vm_config(&config_);
    config_.memory_bytes = 16 << 20;
    config_.console_output = CaptureConsole;
    config_.console_context = &console_;
  }
  void TearDown() override { hyperv_bios_destroy_vm(vm_); }

  // Boots the behave guest with `cmdline` on one vCPU and waits for its end.
  void RunBehave(const char* cmdline, hyperv_bios_vm_exit* exit) {
    config_.cmdline = cmdline;
    ASSERT_EQ(hyperv_bios_create_vm(&config_, &vm_), HYPERV_BIOS_OK);
    ASSERT_EQ(hyperv_bios_load_guest(vm_, GuestPath("behave").c_str()),
              HYPERV_BIOS_OK);
    hyperv_bios_vcpu* vcpu = nullptr;
    ASSERT_EQ(hyperv_bios_create_vcpu(vm_, 0, &vcpu), HYPERV_BIOS_OK);
    ASSERT_EQ(hyperv_bios_start_vcpu(vcpu), HYPERV_BIOS_OK);
    ASSERT_EQ(hyperv_bios_wait_vm(vm_, 60000, exit), HYPERV_BIOS_OK);
  }

  hyperv_bios_vm_config config_;
  Console console_;
  hyperv_bios_vm* vm_ = nullptr;
};

TEST_F(CApiTest, BootsHello) {
  config_.cmdline = "from C";
  ASSERT_EQ(hyperv_bios_create_vm(&config_, &vm_), HYPERV_BIOS_OK)
      << hyperv_bios_last_error();
  ASSERT_EQ(hyperv_bios_load_guest(vm_, GuestPath("hello").c_str()),
            HYPERV_BIOS_OK)
      << hyperv_bios_last_error();
  hyperv_bios_vcpu* vcpu = nullptr;
  ASSERT_EQ(hyperv_bios_create_vcpu(vm_, 0, &vcpu), HYPERV_BIOS_OK);
  ASSERT_EQ(hyperv_bios_start_vcpu(vcpu), HYPERV_BIOS_OK);
  hyperv_bios_vm_exit exit = {sizeof(exit)};
  ASSERT_EQ(hyperv_bios_wait_vm(vm_, 60000, &exit), HYPERV_BIOS_OK)
      << hyperv_bios_last_error();
  EXPECT_EQ(exit.reason, HYPERV_BIOS_EXIT_SHUTDOWN);
  EXPECT_EQ(exit.exit_code, 0);
  EXPECT_STREQ(hyperv_bios_last_error(), "");
  hvbios::MutexLock lock(&console_.mu);
  EXPECT_NE(console_.text.find("command line: from C"), std::string::npos)
      << console_.text;
}

// config.trace_path records the run for hvbios-trace; a path that cannot
// be created is refused before anything starts.
TEST_F(CApiTest, TracesToTheFileNamed) {
  const std::string path = ::testing::TempDir() + "/c_api.trace";
  config_.trace_path = "/nonexistent/dir/x.trace";
  EXPECT_NE(hyperv_bios_create_vm(&config_, &vm_), HYPERV_BIOS_OK);
  EXPECT_NE(std::string(hyperv_bios_last_error()).find("/nonexistent/dir"),
            std::string::npos)
      << hyperv_bios_last_error();
  config_.trace_path = path.c_str();
  ASSERT_EQ(hyperv_bios_create_vm(&config_, &vm_), HYPERV_BIOS_OK)
      << hyperv_bios_last_error();
  ASSERT_EQ(hyperv_bios_load_guest(vm_, GuestPath("hello").c_str()),
            HYPERV_BIOS_OK);
  hyperv_bios_vcpu* vcpu = nullptr;
  ASSERT_EQ(hyperv_bios_create_vcpu(vm_, 0, &vcpu), HYPERV_BIOS_OK);
  ASSERT_EQ(hyperv_bios_start_vcpu(vcpu), HYPERV_BIOS_OK);
  hyperv_bios_vm_exit exit = {sizeof(exit)};
  ASSERT_EQ(hyperv_bios_wait_vm(vm_, 60000, &exit), HYPERV_BIOS_OK);
  hyperv_bios_destroy_vm(vm_);  // the tracer's last records go out
  vm_ = nullptr;
  std::ifstream in(path, std::ios::binary);
  ASSERT_OK_AND_ASSIGN(const hvbios::trace::TraceFile file,
                       hvbios::trace::ParseTrace(std::string(
                           std::istreambuf_iterator<char>(in), {})));
  int writes = 0;
  for (const hvbios::TraceRecord& r : file.records) {
    if (r.kind == hvbios::TraceKind::kHypercall &&
        r.code == HVB_FN_CONSOLE_WRITE) {
      ++writes;
    }
  }
  EXPECT_GT(writes, 0) << "hello writes its greeting";
}

TEST_F(CApiTest, GuestFaultCarriesAMessage) {
  hyperv_bios_vm_exit exit = {sizeof(exit)};
  ASSERT_NO_FATAL_FAILURE(RunBehave("triple-fault", &exit));
  EXPECT_EQ(exit.reason, HYPERV_BIOS_EXIT_GUEST_FAULT);
  EXPECT_NE(std::string(exit.message).find("triple fault"), std::string::npos);
}

TEST_F(CApiTest, APanicCarriesItsCodeMessageAndRegisters) {
  hyperv_bios_vm_exit exit = {sizeof(exit)};
  ASSERT_NO_FATAL_FAILURE(RunBehave("panic", &exit));
  EXPECT_EQ(exit.reason, HYPERV_BIOS_EXIT_PANIC);
  EXPECT_EQ(exit.exit_code, 7);
  EXPECT_EQ(exit.vcpu_id, 0u);
  EXPECT_EQ(std::string(exit.message)
                .rfind("the disk is on fire second line\n  rip ", 0),
            0u)
      << exit.message;
}

TEST_F(CApiTest, MisuseGetsCodesAndMessages) {
  EXPECT_EQ(hyperv_bios_create_vm(nullptr, &vm_), HYPERV_BIOS_EINVAL);
  EXPECT_NE(std::string(hyperv_bios_last_error()), "");
  hyperv_bios_vm_config old = config_;
  old.struct_size = 8;
  EXPECT_EQ(hyperv_bios_create_vm(&old, &vm_), HYPERV_BIOS_EINVAL);
  EXPECT_NE(std::string(hyperv_bios_last_error()).find("struct_size"),
            std::string::npos);
  hyperv_bios_vm_config odd = config_;
  odd.memory_bytes = 3 << 20;
  EXPECT_EQ(hyperv_bios_create_vm(&odd, &vm_), HYPERV_BIOS_EINVAL);
  EXPECT_EQ(vm_, nullptr);

  config_.cmdline = "spin";
  ASSERT_EQ(hyperv_bios_create_vm(&config_, &vm_), HYPERV_BIOS_OK);
  hyperv_bios_vm_exit exit = {sizeof(exit)};
  EXPECT_EQ(hyperv_bios_wait_vm(vm_, 0, &exit), HYPERV_BIOS_ESTATE)
      << "nothing runs yet";
  EXPECT_EQ(hyperv_bios_load_guest(vm_, "/nonexistent.elf"),
            HYPERV_BIOS_ENOTFOUND);
  EXPECT_EQ(hyperv_bios_load_guest(vm_, nullptr), HYPERV_BIOS_EINVAL);
  const char junk[] = "not an elf";
  EXPECT_EQ(hyperv_bios_load_guest_image(vm_, junk, sizeof(junk)),
            HYPERV_BIOS_EINVAL);
  EXPECT_NE(std::string(hyperv_bios_last_error()).find("bad magic"),
            std::string::npos);
  hyperv_bios_vcpu* vcpu = nullptr;
  EXPECT_EQ(hyperv_bios_create_vcpu(vm_, 1, &vcpu), HYPERV_BIOS_ERANGE);
  ASSERT_EQ(hyperv_bios_create_vcpu(vm_, 0, &vcpu), HYPERV_BIOS_OK);
  EXPECT_EQ(hyperv_bios_create_vcpu(vm_, 0, &vcpu), HYPERV_BIOS_EEXIST);
  EXPECT_EQ(hyperv_bios_start_vcpu(vcpu), HYPERV_BIOS_ESTATE)
      << "no guest loaded";
  EXPECT_EQ(hyperv_bios_start_vcpu(nullptr), HYPERV_BIOS_EINVAL);
  ASSERT_EQ(hyperv_bios_load_guest(vm_, GuestPath("behave").c_str()),
            HYPERV_BIOS_OK);
  ASSERT_EQ(hyperv_bios_start_vcpu(vcpu), HYPERV_BIOS_OK);
  EXPECT_EQ(hyperv_bios_start_vcpu(vcpu), HYPERV_BIOS_ESTATE);
  EXPECT_EQ(hyperv_bios_wait_vm(vm_, 50, &exit), HYPERV_BIOS_ETIMEDOUT);
  EXPECT_EQ(hyperv_bios_push_console_input(vm_, "x", 1), 1);
  EXPECT_EQ(hyperv_bios_stop_vm(vm_), HYPERV_BIOS_OK);
  ASSERT_EQ(hyperv_bios_wait_vm(vm_, 60000, &exit), HYPERV_BIOS_OK);
  EXPECT_EQ(exit.reason, HYPERV_BIOS_EXIT_STOPPED);
  EXPECT_EQ(hyperv_bios_stop_vm(nullptr), HYPERV_BIOS_EINVAL);
  hyperv_bios_destroy_vm(nullptr);  // tolerated
}

TEST_F(CApiTest, VcpuLifecycle) {
  config_.vcpu_count = 2;
  config_.kick_signal = SIGRTMIN + 3;  // an embedder keeping SIGRTMIN
  ASSERT_EQ(hyperv_bios_create_vm(&config_, &vm_), HYPERV_BIOS_OK)
      << hyperv_bios_last_error();
  ASSERT_EQ(hyperv_bios_load_guest(vm_, GuestPath("counters").c_str()),
            HYPERV_BIOS_OK);
  hyperv_bios_vcpu* boot = nullptr;
  hyperv_bios_vcpu* ap = nullptr;
  EXPECT_EQ(hyperv_bios_get_vcpu(vm_, 1, &ap), HYPERV_BIOS_ENOTFOUND);
  ASSERT_EQ(hyperv_bios_create_vcpu(vm_, 0, &boot), HYPERV_BIOS_OK);
  ASSERT_EQ(hyperv_bios_start_vcpu(boot), HYPERV_BIOS_OK);
  // The guest starts vCPU 1 itself; its handle appears then.
  const absl::Time limit = absl::Now() + absl::Seconds(60);
  while (hyperv_bios_get_vcpu(vm_, 1, &ap) != HYPERV_BIOS_OK) {
    ASSERT_LT(absl::Now(), limit) << "the guest never started vCPU 1";
    absl::SleepFor(absl::Milliseconds(1));
  }
  // vCPU 1 counts at 0x400000 + 64 once it is in the guest.
  uint64_t counter = 0;
  while (counter == 0) {
    ASSERT_EQ(hyperv_bios_read_guest_memory(vm_, 0x400040, &counter, 8),
              HYPERV_BIOS_OK);
    ASSERT_LT(absl::Now(), limit) << "vCPU 1 never ran";
  }
  hyperv_bios_vcpu_status status = {sizeof(status)};
  ASSERT_EQ(hyperv_bios_pause_vm(vm_), HYPERV_BIOS_OK);
  ASSERT_EQ(hyperv_bios_get_vcpu_status(ap, &status), HYPERV_BIOS_OK);
  EXPECT_EQ(status.state, HYPERV_BIOS_VCPU_PAUSED);
  EXPECT_GE(status.exits, 1u);
  EXPECT_EQ(status.last_exit, 1) << "kicked out";
  ASSERT_EQ(hyperv_bios_resume_vm(vm_), HYPERV_BIOS_OK);
  ASSERT_EQ(hyperv_bios_pause_vcpu(ap), HYPERV_BIOS_OK);
  EXPECT_EQ(hyperv_bios_pause_vcpu(ap), HYPERV_BIOS_ESTATE);
  ASSERT_EQ(hyperv_bios_resume_vcpu(ap), HYPERV_BIOS_OK);
  EXPECT_EQ(hyperv_bios_resume_vcpu(ap), HYPERV_BIOS_ESTATE);
  // vCPU 0 counts at 0x400000 once it has started vCPU 1; its thread may
  // not have been scheduled since.
  counter = 0;
  while (counter == 0) {
    ASSERT_EQ(hyperv_bios_read_guest_memory(vm_, 0x400000, &counter, 8),
              HYPERV_BIOS_OK);
    ASSERT_LT(absl::Now(), limit) << "vCPU 0 never counted";
  }
  EXPECT_EQ(hyperv_bios_read_guest_memory(vm_, 16 << 20, &counter, 8),
            HYPERV_BIOS_ERANGE);
  EXPECT_EQ(hyperv_bios_write_guest_memory(vm_, 0x500000, &counter, 8),
            HYPERV_BIOS_OK);
  EXPECT_EQ(hyperv_bios_raise_event(vm_, 0, 0x70), HYPERV_BIOS_OK);
  EXPECT_EQ(hyperv_bios_raise_event(vm_, 0, 7), HYPERV_BIOS_EINVAL);
  ASSERT_EQ(hyperv_bios_destroy_vcpu(ap), HYPERV_BIOS_OK);
  ASSERT_EQ(hyperv_bios_get_vcpu_status(ap, &status), HYPERV_BIOS_OK);
  EXPECT_EQ(status.state, HYPERV_BIOS_VCPU_DESTROYED);
  EXPECT_EQ(hyperv_bios_pause_vcpu(ap), HYPERV_BIOS_ESTATE);
  EXPECT_EQ(hyperv_bios_destroy_vcpu(ap), HYPERV_BIOS_ESTATE);
  EXPECT_EQ(hyperv_bios_start_vcpu_at(ap, 0x100000, 0x200000, 0, 0),
            HYPERV_BIOS_ESTATE);
  EXPECT_EQ(hyperv_bios_pause_vcpu(nullptr), HYPERV_BIOS_EINVAL);
  EXPECT_EQ(hyperv_bios_stop_vm(vm_), HYPERV_BIOS_OK);
  hyperv_bios_vm_exit exit = {sizeof(exit)};
  ASSERT_EQ(hyperv_bios_wait_vm(vm_, 60000, &exit), HYPERV_BIOS_OK);
  EXPECT_EQ(exit.reason, HYPERV_BIOS_EXIT_STOPPED);
}

struct MemoryDisk {
  std::vector<uint8_t> bytes = std::vector<uint8_t>(1 << 20, 0);
  int flushes = 0;
};
int DiskRead(void* ctx, uint64_t offset, void* dst, size_t length) {
  std::memcpy(dst, static_cast<MemoryDisk*>(ctx)->bytes.data() + offset,
              length);
  return 0;
}
int DiskWrite(void* ctx, uint64_t offset, const void* src, size_t length) {
  std::memcpy(static_cast<MemoryDisk*>(ctx)->bytes.data() + offset, src,
              length);
  return 0;
}
int DiskFlush(void* ctx) {
  ++static_cast<MemoryDisk*>(ctx)->flushes;
  return 0;
}

TEST_F(CApiTest, DiskOnCallbacks) {
  MemoryDisk memory_disk;
  const hyperv_bios_block_ops ops = {sizeof(ops), DiskRead, DiskWrite,
                                     DiskFlush, nullptr};
  hyperv_bios_disk disk = {sizeof(disk)};
  disk.ops = &ops;
  disk.context = &memory_disk;
  disk.size_bytes = memory_disk.bytes.size();
  config_.disks = &disk;
  config_.disk_count = 1;
  config_.cmdline = "vcpus";
  ASSERT_EQ(hyperv_bios_create_vm(&config_, &vm_), HYPERV_BIOS_OK)
      << hyperv_bios_last_error();
  ASSERT_EQ(hyperv_bios_load_guest(vm_, GuestPath("disk_io").c_str()),
            HYPERV_BIOS_OK);
  hyperv_bios_vcpu* vcpu = nullptr;
  ASSERT_EQ(hyperv_bios_create_vcpu(vm_, 0, &vcpu), HYPERV_BIOS_OK);
  ASSERT_EQ(hyperv_bios_start_vcpu(vcpu), HYPERV_BIOS_OK);
  hyperv_bios_vm_exit exit = {sizeof(exit)};
  ASSERT_EQ(hyperv_bios_wait_vm(vm_, 120000, &exit), HYPERV_BIOS_OK);
  EXPECT_EQ(exit.exit_code, 0) << exit.message;
  // disk_io "vcpus" with 1 vCPU: sectors 0..63 hold pattern seed 0.
  EXPECT_EQ(memory_disk.bytes[0], 0);
  EXPECT_EQ(memory_disk.bytes[512 + 1], static_cast<uint8_t>(131 + 7));
  EXPECT_EQ(memory_disk.bytes[64 * 512], 0) << "nothing past sector 63";
  EXPECT_GE(memory_disk.flushes, 1);

  hyperv_bios_vm* other = nullptr;
  disk.size_bytes = 1000;  // not whole sectors
  EXPECT_EQ(hyperv_bios_create_vm(&config_, &other), HYPERV_BIOS_EINVAL);
  disk.ops = nullptr;  // neither ops nor path
  EXPECT_EQ(hyperv_bios_create_vm(&config_, &other), HYPERV_BIOS_EINVAL);
  EXPECT_EQ(other, nullptr);
}

// The frames the guest sent through a `send` device.
struct SentFrames {
  hvbios::Mutex mu;
  std::vector<std::vector<uint8_t>> frames ABSL_GUARDED_BY(mu);
};
int CollectFrame(void* context, const void* frame, size_t length) {
  auto* sent = static_cast<SentFrames*>(context);
  const auto* bytes = static_cast<const uint8_t*>(frame);
  hvbios::MutexLock lock(&sent->mu);
  sent->frames.emplace_back(bytes, bytes + length);
  return 0;
}

TEST_F(CApiTest, NetworkDeviceOnCallbacks) {
  SentFrames sent;
  hyperv_bios_net net = {sizeof(net)};
  net.send = CollectFrame;
  net.context = &sent;
  const uint8_t mac[6] = {0x02, 0, 0, 0, 0, 0x07};
  std::memcpy(net.mac, mac, 6);
  config_.nets = &net;
  config_.net_count = 1;
  ASSERT_EQ(hyperv_bios_create_vm(&config_, &vm_), HYPERV_BIOS_OK)
      << hyperv_bios_last_error();
  ASSERT_EQ(hyperv_bios_load_guest(vm_, GuestPath("netecho").c_str()),
            HYPERV_BIOS_OK);
  hyperv_bios_vcpu* vcpu = nullptr;
  ASSERT_EQ(hyperv_bios_create_vcpu(vm_, 0, &vcpu), HYPERV_BIOS_OK);
  ASSERT_EQ(hyperv_bios_start_vcpu(vcpu), HYPERV_BIOS_OK);
  // An ARP request for netecho's default address, until it answers.
  uint8_t arp[42] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0,
                     0x01, 0x08, 0x06, 0,    1,    0x08, 0,    6, 4, 0, 1,
                     0x02, 0,    0,    0,    0,    0x01, 10,   0, 2, 2, 0,
                     0,    0,    0,    0,    0,    10,   0,    2, 15};
  std::vector<uint8_t> reply;
  for (int i = 0; i < 300 && reply.empty(); ++i) {
    ASSERT_EQ(hyperv_bios_net_deliver(vm_, 0, arp, sizeof(arp)),
              HYPERV_BIOS_OK);
    usleep(100 * 1000);
    hvbios::MutexLock lock(&sent.mu);
    if (!sent.frames.empty()) reply = sent.frames.front();
  }
  ASSERT_EQ(reply.size(), 42u);
  EXPECT_EQ(std::vector<uint8_t>(reply.begin() + 6, reply.begin() + 12),
            std::vector<uint8_t>(mac, mac + 6))
      << "from the device's address";
  EXPECT_EQ(reply[21], 2) << "an ARP reply";
  // Misuse.
  EXPECT_EQ(hyperv_bios_net_deliver(vm_, 1, arp, sizeof(arp)),
            HYPERV_BIOS_EINVAL);
  EXPECT_EQ(hyperv_bios_net_deliver(vm_, 0, arp, 13), HYPERV_BIOS_EINVAL);
  EXPECT_EQ(hyperv_bios_net_deliver(vm_, 0, nullptr, 60), HYPERV_BIOS_EINVAL);
  EXPECT_EQ(hyperv_bios_net_deliver(nullptr, 0, arp, 60), HYPERV_BIOS_EINVAL);
  hyperv_bios_vm* other = nullptr;
  net.tap = "hvbios0";  // two kinds at once
  EXPECT_EQ(hyperv_bios_create_vm(&config_, &other), HYPERV_BIOS_EINVAL);
  net.tap = nullptr;
  net.send = nullptr;  // none
  EXPECT_EQ(hyperv_bios_create_vm(&config_, &other), HYPERV_BIOS_EINVAL);
  net.dgram_path = "/tmp/x";  // no peer
  EXPECT_EQ(hyperv_bios_create_vm(&config_, &other), HYPERV_BIOS_EINVAL);
  EXPECT_EQ(other, nullptr);
  hyperv_bios_stop_vm(vm_);
}

// Every C call made from inside each kind of callback: the console's (its
// own thread), a disk's on a vCPU thread (synchronous calls) and on an I/O
// thread (rings). Calls that wait fail with ESTATE (pause used to deadlock,
// destroy to abort with a C++ exception through the C API); the others work.
struct Reentrant {
  hyperv_bios_vm* vm = nullptr;
  hvbios::Mutex mu;
  // By the calling thread's name ("hvbios-vcpu0", "hvbios-blkq0", ...):
  // the status of each call, in the order Reenter makes them.
  std::map<std::string, std::vector<int>> results ABSL_GUARDED_BY(mu);
  std::vector<uint8_t> bytes = std::vector<uint8_t>(1 << 20);
};

void Reenter(Reentrant* r) {
  char name[32] = {};
  pthread_getname_np(pthread_self(), name, sizeof(name));
  std::string kind(name);
  kind.erase(kind.find_last_not_of("0123456789") + 1);
  {
    hvbios::MutexLock lock(&r->mu);
    if (r->results.count(kind)) return;  // once per kind of thread
  }
  hyperv_bios_vcpu* vcpu = nullptr;
  hyperv_bios_get_vcpu(r->vm, 0, &vcpu);
  hyperv_bios_vm_exit exit = {sizeof(exit)};
  hyperv_bios_vcpu_status status = {sizeof(status)};
  uint64_t word;
  const std::vector<int> codes = {
      hyperv_bios_pause_vm(r->vm),
      hyperv_bios_resume_vm(r->vm),
      hyperv_bios_pause_vcpu(vcpu),
      hyperv_bios_resume_vcpu(vcpu),
      hyperv_bios_destroy_vcpu(vcpu),
      hyperv_bios_wait_vm(r->vm, 0, &exit),
      hyperv_bios_destroy_vm(r->vm),
      // These do not wait: they work.
      hyperv_bios_get_vcpu_status(vcpu, &status),
      hyperv_bios_read_guest_memory(r->vm, 0x100000, &word, sizeof(word)),
  };
  hvbios::MutexLock lock(&r->mu);
  r->results[kind] = codes;
}

void ReentrantConsole(void* ctx, const char*, size_t) {
  Reenter(static_cast<Reentrant*>(ctx));
}
int ReentrantRead(void* ctx, uint64_t offset, void* dst, size_t length) {
  auto* r = static_cast<Reentrant*>(ctx);
  Reenter(r);
  std::memcpy(dst, r->bytes.data() + offset, length);
  return 0;
}
int ReentrantWrite(void* ctx, uint64_t offset, const void* src, size_t length) {
  auto* r = static_cast<Reentrant*>(ctx);
  Reenter(r);
  std::memcpy(r->bytes.data() + offset, src, length);
  return 0;
}

TEST_F(CApiTest, CallbacksCannotMakeCallsThatWait) {
  Reentrant reentrant;
  const hyperv_bios_block_ops ops = {sizeof(ops), ReentrantRead, ReentrantWrite,
                                     nullptr, nullptr};
  hyperv_bios_disk disk = {sizeof(disk)};
  disk.ops = &ops;
  disk.context = &reentrant;
  disk.size_bytes = reentrant.bytes.size();
  config_.disks = &disk;
  config_.disk_count = 1;
  config_.console_output = ReentrantConsole;
  config_.console_context = &reentrant;
  config_.cmdline = "random 7 6";  // synchronous calls and rings, alternately
  ASSERT_EQ(hyperv_bios_create_vm(&config_, &vm_), HYPERV_BIOS_OK)
      << hyperv_bios_last_error();
  reentrant.vm = vm_;
  ASSERT_EQ(hyperv_bios_load_guest(vm_, GuestPath("disk_io").c_str()),
            HYPERV_BIOS_OK);
  hyperv_bios_vcpu* vcpu = nullptr;
  ASSERT_EQ(hyperv_bios_create_vcpu(vm_, 0, &vcpu), HYPERV_BIOS_OK);
  ASSERT_EQ(hyperv_bios_start_vcpu(vcpu), HYPERV_BIOS_OK);
  hyperv_bios_vm_exit exit = {sizeof(exit)};
  ASSERT_EQ(hyperv_bios_wait_vm(vm_, 120000, &exit), HYPERV_BIOS_OK)
      << hyperv_bios_last_error();
  EXPECT_EQ(exit.reason, HYPERV_BIOS_EXIT_SHUTDOWN) << exit.message;
  EXPECT_EQ(exit.exit_code, 0) << exit.message;
  hvbios::MutexLock lock(&reentrant.mu);
  for (const char* kind : {"hvbios-console", "hvbios-vcpu", "hvbios-blkq"}) {
    ASSERT_EQ(reentrant.results.count(kind), 1u) << "no callback on " << kind;
    const std::vector<int>& codes = reentrant.results[kind];
    for (size_t i = 0; i < 7; ++i) {
      EXPECT_EQ(codes[i], HYPERV_BIOS_ESTATE) << kind << ", call " << i;
    }
    EXPECT_EQ(codes[7], HYPERV_BIOS_OK) << kind;
    EXPECT_EQ(codes[8], HYPERV_BIOS_OK) << kind;
  }
}

}  // namespace

namespace {

// hyperv_bios_sandbox_install in a child: a VM is created, loaded from
// memory and run inside the sandbox from the KVM device it opened; a second
// installation is an error; an open() then ends the child with the report.
TEST(CApiSandboxTest, VmsRunInsideAndOpenIsStopped) {
  SKIP_WITHOUT_KVM();
  std::ifstream in(GuestPath("hello"), std::ios::binary);
  const std::vector<char> image((std::istreambuf_iterator<char>(in)), {});
  ASSERT_FALSE(image.empty());
  int err[2];
  ASSERT_EQ(pipe(err), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(err[1], STDERR_FILENO);
    hyperv_bios_sandbox_config sandbox = {sizeof(sandbox)};
    sandbox.program = "capi_child";
    sandbox.exit_status = 77;
    int rc = hyperv_bios_sandbox_install(&sandbox);
    if (rc == HYPERV_BIOS_ESTATE &&
        std::strstr(hyperv_bios_last_error(), "sanitizer") != nullptr) {
      _exit(97);
    }
    if (rc != HYPERV_BIOS_OK) _exit(10);
    hyperv_bios_vm_config config;
    hyperv_bios_init_vm_config(&config);
    config.memory_bytes = 16 << 20;
    hyperv_bios_vm* vm = nullptr;
    hyperv_bios_vcpu* vcpu = nullptr;
    hyperv_bios_vm_exit exit = {sizeof(exit)};
    if (hyperv_bios_create_vm(&config, &vm) != HYPERV_BIOS_OK ||
        hyperv_bios_load_guest_image(vm, image.data(), image.size()) !=
            HYPERV_BIOS_OK ||
        hyperv_bios_create_vcpu(vm, 0, &vcpu) != HYPERV_BIOS_OK ||
        hyperv_bios_start_vcpu(vcpu) != HYPERV_BIOS_OK ||
        hyperv_bios_wait_vm(vm, 60000, &exit) != HYPERV_BIOS_OK ||
        exit.reason != HYPERV_BIOS_EXIT_SHUTDOWN || exit.exit_code != 0) {
      _exit(11);
    }
    hyperv_bios_destroy_vm(vm);
    static const char kRan[] = "hello ran inside\n";
    if (write(STDERR_FILENO, kRan, sizeof(kRan) - 1) < 0) _exit(15);
    if (hyperv_bios_sandbox_install(nullptr) != HYPERV_BIOS_ESTATE) _exit(12);
    if (open("/dev/null", O_RDONLY) >= 0) _exit(13);
    _exit(14);
  }
  close(err[1]);
  std::string report;
  char chunk[256];
  for (ssize_t n; (n = read(err[0], chunk, sizeof(chunk))) > 0;) {
    report.append(chunk, n);
  }
  close(err[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << report;
  if (WEXITSTATUS(status) == 97) GTEST_SKIP() << "no sandbox under sanitizers";
  EXPECT_EQ(WEXITSTATUS(status), 77) << report;
  // The VM ran before the open, not the open of /dev/kvm that stopped it.
  EXPECT_EQ(report.rfind("hello ran inside\n", 0), 0u) << report;
  EXPECT_NE(report.find("capi_child: sandbox: forbidden system call openat"),
            std::string::npos)
      << report;
}

}  // namespace
