// The embedder's platform through the C API on real KVM: a memfd shared
// with the guest, read-only memory, RAM added and removed while the guest
// runs, dirty-page logs of the guest's own writes, interrupt routes and
// event sources of the embedder's own.
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "hvbios/abi/boot.h"
#include "hvbios/abi/hypercall.h"
#include "hvbios/hvbios.h"
#include "hvbios/internal/mutex.h"
#include "tests/kvm/kvm_guest.h"
#include "tests/run_command.h"

namespace {

using hvbios::testing::CaptureConsole;
using hvbios::testing::Console;
using hvbios::testing::GuestPath;

constexpr uint64_t kGiB = 1ull << 30;

class PlatformTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_KVM();
    hyperv_bios_vm_config config;
    hyperv_bios_init_vm_config(&config);
    config.memory_bytes = 16 << 20;
    config.console_output = CaptureConsole;
    config.console_context = &console_;
    config.cmdline = cmdline_;
    ASSERT_EQ(hyperv_bios_create_vm(&config, &vm_), HYPERV_BIOS_OK)
        << hyperv_bios_last_error();
  }
  void TearDown() override { hyperv_bios_destroy_vm(vm_); }

  int Map(uint64_t gpa, uint64_t size, int fd, uint32_t flags, uint32_t* id) {
    hyperv_bios_memory_region r = {sizeof(r)};
    r.gpa = gpa;
    r.size = size;
    r.fd = fd;
    r.flags = flags;
    return hyperv_bios_map_memory(vm_, &r, id);
  }
  void Boot() {
    hyperv_bios_vcpu* vcpu = nullptr;
    ASSERT_EQ(hyperv_bios_load_guest(vm_, GuestPath("behave").c_str()), 0)
        << hyperv_bios_last_error();
    ASSERT_EQ(hyperv_bios_create_vcpu(vm_, 0, &vcpu), 0);
    ASSERT_EQ(hyperv_bios_start_vcpu(vcpu), 0);
  }

  const char* cmdline_ = "shared";
  Console console_;
  hyperv_bios_vm* vm_ = nullptr;
};

TEST_F(PlatformTest, TheGuestWritesSharedMemoryAndCannotWriteRom) {
  const int fd = memfd_create("hvbios-shared", 0);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, 2 * 4096), 0);
  ASSERT_EQ(pwrite(fd, "R", 1, 4096), 1);  // the ROM's first byte
  uint32_t shared = 0, rom = 0;
  ASSERT_EQ(Map(5 * kGiB, 4096, fd, HYPERV_BIOS_MEMORY_FD, &shared), 0)
      << hyperv_bios_last_error();
  hyperv_bios_memory_region r = {sizeof(r)};
  r.gpa = 6 * kGiB;
  r.size = 4096;
  r.fd = fd;
  r.fd_offset = 4096;
  r.flags = HYPERV_BIOS_MEMORY_FD | HYPERV_BIOS_MEMORY_READ_ONLY;
  ASSERT_EQ(hyperv_bios_map_memory(vm_, &r, &rom), 0)
      << hyperv_bios_last_error();
  ASSERT_EQ(hyperv_bios_start_dirty_log(vm_, shared), 0)
      << hyperv_bios_last_error();
  Boot();
  hyperv_bios_vm_exit exit = {sizeof(exit)};
  ASSERT_EQ(hyperv_bios_wait_vm(vm_, 60000, &exit), 0);
  ASSERT_EQ(exit.reason, HYPERV_BIOS_EXIT_SHUTDOWN) << exit.message;
  EXPECT_EQ(exit.exit_code, 0) << console_.Text();
  // The device model's view: the memfd holds what the guest wrote.
  char text[32] = {};
  ASSERT_EQ(pread(fd, text, sizeof(text) - 1, 0), 31);
  EXPECT_STREQ(text, "written by the guest");
  // The write to ROM was dropped: the guest read its byte back unchanged.
  EXPECT_NE(console_.Text().find("rom: R then R"), std::string::npos)
      << console_.Text();
  char byte = 0;
  ASSERT_EQ(pread(fd, &byte, 1, 4096), 1);
  EXPECT_EQ(byte, 'R');
  // KVM logged the guest's write: page 0 of the one-page region.
  uint64_t log[1] = {~0ull};
  ASSERT_EQ(hyperv_bios_fetch_dirty_log(vm_, shared, log, 1), 0)
      << hyperv_bios_last_error();
  EXPECT_EQ(log[0], 1u);
  ASSERT_EQ(hyperv_bios_fetch_dirty_log(vm_, shared, log, 1), 0);
  EXPECT_EQ(log[0], 0u) << "fetching clears the log";
  EXPECT_EQ(hyperv_bios_fetch_dirty_log(vm_, shared, log, 0),
            HYPERV_BIOS_ERANGE);
  close(fd);
}

TEST_F(PlatformTest, TheGuestLearnsOfRamAddedWhileItRunsAndUsesIt) {
  cmdline_ = "hotplug";
  TearDown();
  SetUp();
  Boot();
  for (int i = 0; i < 3000; ++i) {  // bounded: 30 s
    if (console_.Text().find("waiting") != std::string::npos) break;
    usleep(10000);
  }
  ASSERT_NE(console_.Text().find("hotplug: generation 0, waiting"),
            std::string::npos)
      << console_.Text();
  uint32_t id = 0;
  ASSERT_EQ(Map(8 * kGiB, 2 << 20, -1, 0, &id), 0) << hyperv_bios_last_error();
  hyperv_bios_vm_exit exit = {sizeof(exit)};
  ASSERT_EQ(hyperv_bios_wait_vm(vm_, 60000, &exit), 0);
  EXPECT_EQ(exit.reason, HYPERV_BIOS_EXIT_SHUTDOWN) << exit.message;
  EXPECT_EQ(exit.exit_code, 0) << console_.Text();
  EXPECT_NE(console_.Text().find("generation 1, "), std::string::npos)
      << console_.Text();
  EXPECT_NE(console_.Text().find("new RAM at 200000000+200000"),
            std::string::npos)
      << console_.Text();
  char text[20] = {};
  ASSERT_EQ(hyperv_bios_read_guest_memory(vm_, 8 * kGiB + (2 << 20) - 64, text,
                                          sizeof(text)),
            0);
  EXPECT_STREQ(text, "hot-added RAM works");
}

TEST_F(PlatformTest, RamComesAndGoesWhileTheGuestRuns) {
  cmdline_ = "spin";
  TearDown();
  SetUp();
  Boot();
  uint32_t id = 0;
  ASSERT_EQ(Map(8 * kGiB, 2 << 20, -1, 0, &id), 0) << hyperv_bios_last_error();
  const uint64_t word = 0x0123456789abcdef;
  ASSERT_EQ(hyperv_bios_write_guest_memory(vm_, 8 * kGiB + 4096, &word, 8), 0);
  uint64_t back = 0;
  ASSERT_EQ(hyperv_bios_read_guest_memory(vm_, 8 * kGiB + 4096, &back, 8), 0);
  EXPECT_EQ(back, word);
  EXPECT_EQ(Map(8 * kGiB + 4096, 4096, -1, 0, &id), HYPERV_BIOS_EINVAL);
  EXPECT_EQ(Map(3 * kGiB, 4096, -1, 0, &id), HYPERV_BIOS_EINVAL);
  EXPECT_EQ(Map(9 * kGiB, 4096, -1, 0x80, &id), HYPERV_BIOS_EINVAL);
  ASSERT_EQ(hyperv_bios_unmap_memory(vm_, id), 0) << hyperv_bios_last_error();
  EXPECT_EQ(hyperv_bios_read_guest_memory(vm_, 8 * kGiB + 4096, &back, 8),
            HYPERV_BIOS_ERANGE);
  EXPECT_EQ(hyperv_bios_unmap_memory(vm_, 0), HYPERV_BIOS_ESTATE);
  // The guest ran throughout.
  hyperv_bios_vm_exit exit = {sizeof(exit)};
  EXPECT_EQ(hyperv_bios_wait_vm(vm_, 100, &exit), HYPERV_BIOS_ETIMEDOUT);
  // Dirty logs of the VM's RAM: the spinning guest writes its stack.
  ASSERT_EQ(hyperv_bios_start_dirty_log(vm_, 0), 0) << hyperv_bios_last_error();
  std::vector<uint64_t> log((16 << 20) / 4096 / 64);
  bool written = false;
  for (int i = 0; i < 1000 && !written; ++i) {  // bounded: 10 s
    ASSERT_EQ(hyperv_bios_fetch_dirty_log(vm_, 0, log.data(), log.size()), 0);
    for (uint64_t bits : log) written = written || bits != 0;
    if (!written) usleep(10000);
  }
  EXPECT_TRUE(written) << "the guest's stack writes were not logged";
  ASSERT_EQ(hyperv_bios_stop_dirty_log(vm_, 0), 0);
}

// Waits (bounded: 30 s) until the console shows `text`.
bool AwaitConsole(Console& console, const std::string& text) {
  for (int i = 0; i < 3000; ++i) {
    if (console.Text().find(text) != std::string::npos) return true;
    usleep(10000);
  }
  return false;
}

TEST_F(PlatformTest, RoutesAndEventSourcesReachTheGuest) {
  cmdline_ = "irq";
  TearDown();
  SetUp();
  ASSERT_EQ(hyperv_bios_add_event_source(vm_, HVB_EVENT_SRC_VENDOR_FIRST), 0)
      << hyperv_bios_last_error();
  EXPECT_EQ(hyperv_bios_add_event_source(vm_, HVB_EVENT_SRC_VENDOR_FIRST),
            HYPERV_BIOS_EEXIST);
  EXPECT_EQ(hyperv_bios_add_event_source(vm_, HVB_EVENT_SRC_QUEUE(0)),
            HYPERV_BIOS_EINVAL);
  uint32_t id = 0;
  int fd = -1;
  EXPECT_EQ(hyperv_bios_add_interrupt_route(vm_, 1, 0x46, &id, &fd),
            HYPERV_BIOS_ERANGE)
      << "the VM has one vCPU";
  EXPECT_EQ(hyperv_bios_add_interrupt_route(vm_, 0, 255, &id, &fd),
            HYPERV_BIOS_EINVAL);
  ASSERT_EQ(hyperv_bios_add_interrupt_route(vm_, 0, 0x46, &id, &fd), 0)
      << hyperv_bios_last_error();
  Boot();
  ASSERT_TRUE(AwaitConsole(console_, "irq: ready")) << console_.Text();
  const uint64_t one = 1;
  ASSERT_EQ(write(fd, &one, sizeof(one)), 8);
  ASSERT_TRUE(AwaitConsole(console_, "irq: 46")) << console_.Text();
  ASSERT_EQ(hyperv_bios_retarget_interrupt_route(vm_, id, 0, 0x48), 0)
      << hyperv_bios_last_error();
  ASSERT_EQ(write(fd, &one, sizeof(one)), 8);
  ASSERT_TRUE(AwaitConsole(console_, "irq: 48")) << console_.Text();
  ASSERT_EQ(hyperv_bios_trigger_event(vm_, HVB_EVENT_SRC_VENDOR_FIRST), 0);
  hyperv_bios_vm_exit exit = {sizeof(exit)};
  ASSERT_EQ(hyperv_bios_wait_vm(vm_, 60000, &exit), 0);
  EXPECT_EQ(exit.reason, HYPERV_BIOS_EXIT_SHUTDOWN) << exit.message;
  EXPECT_EQ(exit.exit_code, 0) << console_.Text();
  EXPECT_NE(console_.Text().find("irq: 46\nirq: 48\nirq: 47\n"),
            std::string::npos)
      << console_.Text();
  ASSERT_EQ(hyperv_bios_remove_interrupt_route(vm_, id), 0);
  EXPECT_EQ(hyperv_bios_remove_interrupt_route(vm_, id), HYPERV_BIOS_ENOTFOUND);
  EXPECT_EQ(hyperv_bios_trigger_event(vm_, HVB_EVENT_SRC_VENDOR_FIRST + 1),
            HYPERV_BIOS_ENOTFOUND);
}

struct DeviceLog {
  hvbios::Mutex mu;
  std::vector<std::string> accesses ABSL_GUARDED_BY(mu);
  void Add(const std::string& a) {
    hvbios::MutexLock lock(&mu);
    accesses.push_back(a);
  }
};
uint64_t DeviceRead(void* context, uint64_t offset, uint32_t size) {
  static_cast<DeviceLog*>(context)->Add("read +" + std::to_string(offset) +
                                        "/" + std::to_string(size));
  return offset == 0 ? (size == 8 ? 0x6d6d696f6d6d696full : 0x70696f) : ~0ull;
}
void DeviceWrite(void* context, uint64_t offset, uint32_t size,
                 uint64_t value) {
  char text[64];
  snprintf(text, sizeof(text), "write +%lu/%u %lx", (unsigned long)offset, size,
           (unsigned long)value);
  static_cast<DeviceLog*>(context)->Add(text);
}

TEST_F(PlatformTest, DevicesAreFoundServedAndRungWithoutExits) {
  cmdline_ = "device";
  TearDown();
  SetUp();
  DeviceLog log;
  const uint32_t source = HVB_EVENT_SRC_VENDOR_FIRST + 8;
  ASSERT_EQ(hyperv_bios_add_event_source(vm_, source), 0);
  hyperv_bios_device ports = {sizeof(ports)};
  ports.id = 7;
  ports.flags = HYPERV_BIOS_DEVICE_PIO;
  ports.base = 0x2000;
  ports.size = 16;
  ports.read = DeviceRead;
  ports.write = DeviceWrite;
  ports.context = &log;
  ASSERT_EQ(hyperv_bios_add_device(vm_, &ports), 0) << hyperv_bios_last_error();
  hyperv_bios_device mmio = ports;
  mmio.id = 8;
  mmio.flags = 0;
  mmio.base = 0xd0000000;
  mmio.size = 4096;
  mmio.event_source = source;
  ASSERT_EQ(hyperv_bios_add_device(vm_, &mmio), 0) << hyperv_bios_last_error();
  // Refused: an id twice, an overlapping window, MMIO outside the hole.
  EXPECT_EQ(hyperv_bios_add_device(vm_, &mmio), HYPERV_BIOS_EEXIST);
  mmio.id = 9;
  EXPECT_EQ(hyperv_bios_add_device(vm_, &mmio), HYPERV_BIOS_EINVAL);
  mmio.base = 0x100000;
  EXPECT_EQ(hyperv_bios_add_device(vm_, &mmio), HYPERV_BIOS_EINVAL);
  const int doorbell = eventfd(0, EFD_CLOEXEC);
  ASSERT_GE(doorbell, 0);
  ASSERT_EQ(hyperv_bios_bind_device_doorbell(vm_, 8, 0x10, 8, 1, 5, doorbell),
            0)
      << hyperv_bios_last_error();
  Boot();
  EXPECT_EQ(hyperv_bios_add_device(vm_, &ports), HYPERV_BIOS_ESTATE)
      << "the device list is written";
  // The doorbell arrives on the eventfd, not as a write.
  pollfd p = {doorbell, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 30000), 1) << console_.Text();
  uint64_t rings = 0;
  ASSERT_EQ(read(doorbell, &rings, sizeof(rings)), 8);
  EXPECT_EQ(rings, 1u);
  ASSERT_EQ(hyperv_bios_trigger_event(vm_, source), 0);
  hyperv_bios_vm_exit exit = {sizeof(exit)};
  ASSERT_EQ(hyperv_bios_wait_vm(vm_, 60000, &exit), 0);
  EXPECT_EQ(exit.reason, HYPERV_BIOS_EXIT_SHUTDOWN) << exit.message;
  EXPECT_EQ(exit.exit_code, 0) << console_.Text();
  EXPECT_NE(console_.Text().find("device: port id 70696f, mmio magic "
                                 "6d6d696f6d6d696f, window d0000000+1000"),
            std::string::npos)
      << console_.Text();
  EXPECT_NE(console_.Text().find("event after the doorbell"),
            std::string::npos);
  hvbios::MutexLock lock(&log.mu);
  const std::vector<std::string> want = {"read +0/4", "write +4/4 abcd0123",
                                         "read +0/8",
                                         "write +8/8 1122334455667788"};
  EXPECT_EQ(log.accesses, want);
  close(doorbell);
}

// The example: a C VMM against hvbios.h alone (examples/vmm/mmio_device.c)
// and its guest driver, using all of the above.
TEST(MmioDeviceExampleTest, TheMailboxRepliesAndTheGuestUsesNewRam) {
  SKIP_WITHOUT_KVM();
  const hvbios::testing::CommandResult r = hvbios::testing::RunCommand(
      {HVBIOS_MMIO_DEVICE_PATH, GuestPath("mailbox")});
  EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("the device replied \"HELLO, DEVICE MODEL\" (1 "
                       "replies)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("using 2048 KiB of new RAM at 200000000 (map "
                       "generation 2)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("dirty pages: shared 1 of 1, new RAM 512 of 512"),
            std::string::npos)
      << r.out;
}

}  // namespace
