// The C API grows without breaking its callers (hvbios.h, "Structs grow"):
// older structs and the arrays of older configs are read as their header
// declared them, newer ones are accepted when what this library does not
// know is zero, and out-structs are filled to the size the caller gave.
// Also: version, registers of a paused vCPU, the open-bus flag, and a
// wait that times out.
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "hvbios/hvbios.h"
#include "hvbios/internal/mutex.h"
#include "hvbios/version.h"
#include "tests/kvm/kvm_guest.h"

namespace {

using hvbios::testing::CaptureConsole;
using hvbios::testing::Console;
using hvbios::testing::GuestPath;

bool Contains(const char* text, const char* part) {
  return std::strstr(text, part) != nullptr;
}

// The 0.5 header's layouts, as a program built against it passes them.
struct DiskV05 {
  const char* path;
  int read_only;
  const void* ops;
  void* context;
  uint64_t size_bytes;
};
struct ServiceCallV05 {
  uint32_t vcpu_id;
  uint32_t function;
  uint64_t args[6];
  const void* internal;
};
struct ServiceV05 {
  uint32_t id;
  const char* name;
  uint32_t function_count;
  int64_t (*handler)(void*, const ServiceCallV05*, uint64_t*);
  void* context;
};
constexpr size_t kConfigSizeV05 = offsetof(hyperv_bios_vm_config, flags);

class CApiGrowthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_KVM();
    hyperv_bios_init_vm_config(&config_);
    config_.memory_bytes = 16 << 20;
    config_.console_output = CaptureConsole;
    config_.console_context = &console_;
  }
  void TearDown() override { hyperv_bios_destroy_vm(vm_); }

  // Boots behave.elf with `cmdline` on vCPU 0.
  hyperv_bios_vcpu* Boot(const char* cmdline) {
    config_.cmdline = cmdline;
    EXPECT_EQ(hyperv_bios_create_vm(&config_, &vm_), HYPERV_BIOS_OK)
        << hyperv_bios_last_error();
    hyperv_bios_vcpu* vcpu = nullptr;
    if (vm_ == nullptr ||
        hyperv_bios_load_guest(vm_, GuestPath("behave").c_str()) != 0 ||
        hyperv_bios_create_vcpu(vm_, 0, &vcpu) != 0 ||
        hyperv_bios_start_vcpu(vcpu) != 0) {
      ADD_FAILURE() << hyperv_bios_last_error();
      return nullptr;
    }
    return vcpu;
  }

  hyperv_bios_vm_config config_;
  Console console_;
  hyperv_bios_vm* vm_ = nullptr;
};

TEST_F(CApiGrowthTest, ANewerConfigIsAcceptedOnlyIfWhatIsUnknownIsZero) {
  // A config from a future header: 16 more bytes.
  std::vector<unsigned char> future(sizeof(config_) + 16, 0);
  std::memcpy(future.data(), &config_, sizeof(config_));
  const size_t size = future.size();
  std::memcpy(future.data(), &size, sizeof(size));
  auto* config = reinterpret_cast<hyperv_bios_vm_config*>(future.data());
  EXPECT_EQ(hyperv_bios_create_vm(config, &vm_), HYPERV_BIOS_OK)
      << hyperv_bios_last_error();
  hyperv_bios_destroy_vm(vm_);
  vm_ = nullptr;
  future[sizeof(config_) + 9] = 1;
  EXPECT_EQ(hyperv_bios_create_vm(config, &vm_), HYPERV_BIOS_EINVAL);
  EXPECT_TRUE(Contains(hyperv_bios_last_error(), "not zero"))
      << hyperv_bios_last_error();
  config_.struct_size = 8;
  EXPECT_EQ(hyperv_bios_create_vm(&config_, &vm_), HYPERV_BIOS_EINVAL);
  config_.struct_size = sizeof(config_);
  config_.flags = 0x80;  // not a flag this library knows
  EXPECT_EQ(hyperv_bios_create_vm(&config_, &vm_), HYPERV_BIOS_EINVAL);
  EXPECT_TRUE(Contains(hyperv_bios_last_error(), "flags"));
  EXPECT_EQ(vm_, nullptr);
}

TEST_F(CApiGrowthTest, A04ConfigReadsLaterFieldsAsZero) {
  // A program built against 0.4 passes the shorter size; whatever follows
  // in memory (here: services that would be refused) is not read.
  config_.struct_size = offsetof(hyperv_bios_vm_config, services);
  config_.service_count = 5;
  config_.services = nullptr;
  config_.flags = ~0ull;
  EXPECT_EQ(hyperv_bios_create_vm(&config_, &vm_), HYPERV_BIOS_OK)
      << hyperv_bios_last_error();
}

struct LegacyHandlerSeen {
  hvbios::Mutex mu;
  std::vector<ServiceCallV05> calls ABSL_GUARDED_BY(mu);
};

int64_t LegacyKv(void* context, const ServiceCallV05* call, uint64_t* value) {
  auto* seen = static_cast<LegacyHandlerSeen*>(context);
  {
    hvbios::MutexLock lock(&seen->mu);
    seen->calls.push_back(*call);
  }
  if (call->function != 1) return HVB_ERR_NOSYS;  // KV_FN_GET
  static const char kGreeting[] = "from a 0.5 handler";
  // A 0.5 program passes its own call struct back: the library finds the
  // call it is serving on this thread whatever the layout.
  const auto* as_new = reinterpret_cast<const hyperv_bios_service_call*>(call);
  if (hyperv_bios_copy_to_guest(as_new, call->args[2], kGreeting,
                                sizeof(kGreeting) - 1) != HYPERV_BIOS_OK) {
    return HVB_ERR_FAULT;
  }
  *value = sizeof(kGreeting) - 1;
  return HVB_OK;
}

TEST_F(CApiGrowthTest, A05ConfigsDisksAndServicesKeepTheirOldLayout) {
  const std::string image = ::testing::TempDir() + "/legacy_disk.img";
  {
    std::vector<char> zeros(1 << 16);
    FILE* f = std::fopen(image.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fwrite(zeros.data(), 1, zeros.size(), f);
    std::fclose(f);
  }
  const DiskV05 disk = {image.c_str(), 1, nullptr, nullptr, 0};
  LegacyHandlerSeen seen;
  const ServiceV05 kv = {0x8001, "kv", 4, LegacyKv, &seen};
  config_.struct_size = kConfigSizeV05;
  config_.disks = reinterpret_cast<const hyperv_bios_disk*>(&disk);
  config_.disk_count = 1;
  config_.services = reinterpret_cast<const hyperv_bios_service*>(&kv);
  config_.service_count = 1;
  ASSERT_EQ(hyperv_bios_create_vm(&config_, &vm_), HYPERV_BIOS_OK)
      << hyperv_bios_last_error();
  hyperv_bios_vcpu* vcpu = nullptr;
  ASSERT_EQ(hyperv_bios_load_guest(vm_, GuestPath("vendor").c_str()), 0);
  ASSERT_EQ(hyperv_bios_create_vcpu(vm_, 0, &vcpu), 0);
  ASSERT_EQ(hyperv_bios_start_vcpu(vcpu), 0);
  hyperv_bios_vm_exit exit = {sizeof(exit)};
  ASSERT_EQ(hyperv_bios_wait_vm(vm_, 60000, &exit), 0)
      << hyperv_bios_last_error();
  EXPECT_TRUE(Contains(console_.Text().c_str(), "from a 0.5 handler"))
      << console_.Text();
  hvbios::MutexLock lock(&seen.mu);
  ASSERT_FALSE(seen.calls.empty());
  EXPECT_EQ(seen.calls[0].vcpu_id, 0u);
  EXPECT_EQ(seen.calls[0].function, 1u);
  EXPECT_EQ(seen.calls[0].args[1], 8u);  // strlen("greeting")
}

TEST_F(CApiGrowthTest, CopiesRefuseACallThatIsNotBeingServed) {
  hyperv_bios_service_call stale = {sizeof(stale)};
  char byte = 0;
  EXPECT_EQ(hyperv_bios_copy_from_guest(&stale, 0x100000, &byte, 1),
            HYPERV_BIOS_ESTATE);
  EXPECT_TRUE(Contains(hyperv_bios_last_error(), "not one this thread"));
}

TEST_F(CApiGrowthTest, OutStructsAreFilledToTheCallersSize) {
  hyperv_bios_vcpu* vcpu = Boot("spin");
  ASSERT_NE(vcpu, nullptr);
  // A status struct from a future header: the tail is zeroed.
  struct {
    hyperv_bios_vcpu_status status;
    unsigned char newer[24];
  } future;
  std::memset(&future, 0xaa, sizeof(future));
  future.status.struct_size = sizeof(future);
  ASSERT_EQ(hyperv_bios_get_vcpu_status(vcpu, &future.status), 0)
      << hyperv_bios_last_error();
  EXPECT_EQ(future.status.struct_size, sizeof(future));
  EXPECT_EQ(future.status.state, HYPERV_BIOS_VCPU_RUNNING);
  for (unsigned char b : future.newer) ASSERT_EQ(b, 0);
  hyperv_bios_vcpu_status small = {4};
  EXPECT_EQ(hyperv_bios_get_vcpu_status(vcpu, &small), HYPERV_BIOS_EINVAL);

  // A wait that times out says so in the exit too.
  hyperv_bios_vm_exit exit;
  std::memset(&exit, 0xaa, sizeof(exit));
  exit.struct_size = sizeof(exit);
  EXPECT_EQ(hyperv_bios_wait_vm(vm_, 0, &exit), HYPERV_BIOS_ETIMEDOUT);
  EXPECT_EQ(exit.reason, HYPERV_BIOS_EXIT_NONE);
  EXPECT_EQ(exit.message[0], '\0');
}

TEST_F(CApiGrowthTest, APausedVcpusRegistersCanBeReadAndWritten) {
  hyperv_bios_vcpu* vcpu = Boot("spin");
  ASSERT_NE(vcpu, nullptr);
  hyperv_bios_regs regs = {sizeof(regs)};
  EXPECT_EQ(hyperv_bios_get_vcpu_regs(vcpu, &regs), HYPERV_BIOS_ESTATE);
  EXPECT_EQ(hyperv_bios_set_vcpu_regs(vcpu, &regs), HYPERV_BIOS_ESTATE);
  ASSERT_EQ(hyperv_bios_pause_vcpu(vcpu), 0) << hyperv_bios_last_error();
  ASSERT_EQ(hyperv_bios_get_vcpu_regs(vcpu, &regs), 0)
      << hyperv_bios_last_error();
  // In the image (above 1 MiB), or in the hypercall page if the pause
  // caught it returning from one: then the answer waits in KVM's sync
  // area, which setting must respect too.
  EXPECT_TRUE(regs.rip >= 0x100000u ||
              (regs.rip >= 0x4000u && regs.rip < 0x5000u))
      << std::hex << regs.rip;
  EXPECT_NE(regs.cr3, 0u);
  EXPECT_EQ(regs.efer & 0x500, 0x500u);  // long mode active and enabled
  const uint64_t rip = regs.rip;
  regs.r15 = 0x1234'5678'9abc'def0;
  regs.cr3 = 0;  // read-only: ignored
  ASSERT_EQ(hyperv_bios_set_vcpu_regs(vcpu, &regs), 0)
      << hyperv_bios_last_error();
  hyperv_bios_regs again = {sizeof(again)};
  ASSERT_EQ(hyperv_bios_get_vcpu_regs(vcpu, &again), 0);
  EXPECT_EQ(again.r15, 0x1234'5678'9abc'def0u);
  EXPECT_EQ(again.rip, rip);
  EXPECT_NE(again.cr3, 0u);
  // It goes on running from them.
  ASSERT_EQ(hyperv_bios_resume_vcpu(vcpu), 0) << hyperv_bios_last_error();
  hyperv_bios_vcpu_status status = {sizeof(status)};
  ASSERT_EQ(hyperv_bios_get_vcpu_status(vcpu, &status), 0);
  EXPECT_EQ(status.state, HYPERV_BIOS_VCPU_RUNNING);
  hyperv_bios_vm_exit exit = {sizeof(exit)};
  EXPECT_EQ(hyperv_bios_wait_vm(vm_, 200, &exit), HYPERV_BIOS_ETIMEDOUT);
}

TEST_F(CApiGrowthTest, UnservedPortsEndTheVmUnlessTheBusIsOpen) {
  ASSERT_NE(Boot("port-read"), nullptr);
  hyperv_bios_vm_exit exit = {sizeof(exit)};
  ASSERT_EQ(hyperv_bios_wait_vm(vm_, 60000, &exit), 0);
  EXPECT_EQ(exit.reason, HYPERV_BIOS_EXIT_GUEST_FAULT);
  EXPECT_TRUE(Contains(exit.message, "I/O port 0x80")) << exit.message;
  hyperv_bios_destroy_vm(vm_);
  vm_ = nullptr;

  config_.flags = HYPERV_BIOS_VM_OPEN_BUS;
  ASSERT_NE(Boot("port-read"), nullptr);
  ASSERT_EQ(hyperv_bios_wait_vm(vm_, 60000, &exit), 0);
  EXPECT_EQ(exit.reason, HYPERV_BIOS_EXIT_SHUTDOWN) << exit.message;
  EXPECT_EQ(exit.exit_code, 0);
  EXPECT_TRUE(
      Contains(console_.Text().c_str(), "port-read: ff ffffffff ffffffff"))
      << console_.Text();
}

TEST(CApiVersionTest, TheLibraryKnowsItsVersion) {
  const hyperv_bios_version_info* v = hyperv_bios_version();
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->struct_size, sizeof(*v));
  EXPECT_EQ(v->major, unsigned{HVBIOS_VERSION_MAJOR});
  EXPECT_EQ(v->minor, unsigned{HVBIOS_VERSION_MINOR});
  EXPECT_EQ(v->abi_major, HVB_ABI_VERSION_MAJOR);
  EXPECT_EQ(v->abi_minor, HVB_ABI_VERSION_MINOR);
  EXPECT_STREQ(v->string, HVBIOS_VERSION_STRING);
}

}  // namespace
