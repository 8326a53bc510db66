// Vendor services on real KVM: the C example pair (a VMM with its own
// key-value service and the guest that uses it), the same guest where no
// such service exists, and the C API's registration rules.
#include <cstddef>
#include <string>

#include "gtest/gtest.h"
#include "hvbios/hvbios.h"
#include "tests/kvm/kvm_guest.h"
#include "tests/run_command.h"

namespace {

using hvbios::testing::CommandResult;
using hvbios::testing::GuestPath;
using hvbios::testing::RunCommand;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(VendorServiceTest, TheExampleVmmServesItsGuest) {
  SKIP_WITHOUT_KVM();
  const CommandResult r = RunCommand(
      {HVBIOS_VENDOR_SERVICE_PATH, GuestPath("vendor"), "greeting=hi there"});
  EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
  EXPECT_TRUE(Contains(r.out, "the VMM says: hi there")) << r.out;
  EXPECT_TRUE(Contains(r.out, "vendor: 0 check(s) failed")) << r.out;
  EXPECT_FALSE(Contains(r.out, "FAIL")) << r.out;
  // What the guest stored is the VMM's afterwards; what it removed is not.
  EXPECT_TRUE(Contains(r.out, "the store holds 2 key(s)")) << r.out;
  EXPECT_TRUE(Contains(r.out, "  answer=42\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "  greeting=hi there\n")) << r.out;
  EXPECT_FALSE(Contains(r.out, "scratch")) << r.out;
}

TEST(VendorServiceTest, WithoutTheServiceItsNumbersAreNosys) {
  SKIP_WITHOUT_KVM();
  const CommandResult r = RunCommand({HVBIOS_RUN_PATH, GuestPath("vendor")});
  EXPECT_EQ(r.exit_status, 3) << r.out << r.err;
  EXPECT_TRUE(Contains(r.out, "this VMM has no kv service")) << r.out;
}

int64_t NeverCalled(void*, const hyperv_bios_service_call*, uint64_t*) {
  ADD_FAILURE() << "a rejected service was called";
  return HVB_ERR_IO;
}

class VendorConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_KVM();
    hyperv_bios_init_vm_config(&config_);
    config_.memory_bytes = 16 << 20;
    service_ = {sizeof(service_), HVB_SVC_VENDOR_FIRST, "mine", 1, NeverCalled,
                nullptr};
    config_.services = &service_;
    config_.service_count = 1;
  }
  void TearDown() override { hyperv_bios_destroy_vm(vm_); }
  int Create() { return hyperv_bios_create_vm(&config_, &vm_); }

  hyperv_bios_vm_config config_;
  hyperv_bios_service service_;
  hyperv_bios_vm* vm_ = nullptr;
};

TEST_F(VendorConfigTest, BadServicesAreRejectedWithAReason) {
  service_.id = HVB_SVC_RNG;
  EXPECT_EQ(Create(), HYPERV_BIOS_EINVAL);
  EXPECT_TRUE(Contains(hyperv_bios_last_error(), "'mine'"))
      << hyperv_bios_last_error();
  service_.id = HVB_SVC_VENDOR_FIRST;
  service_.handler = nullptr;
  EXPECT_EQ(Create(), HYPERV_BIOS_EINVAL);
  service_.handler = NeverCalled;
  service_.function_count = 0;
  EXPECT_EQ(Create(), HYPERV_BIOS_EINVAL);
  service_.function_count = 1;
  const hyperv_bios_service twice[] = {service_, service_};
  config_.services = twice;
  config_.service_count = 2;
  EXPECT_EQ(Create(), HYPERV_BIOS_EINVAL);
  config_.services = nullptr;
  EXPECT_EQ(Create(), HYPERV_BIOS_EINVAL);
  EXPECT_EQ(vm_, nullptr);
}

TEST(VendorCopyTest, CopiesNeedACall) {
  char byte = 0;
  EXPECT_EQ(hyperv_bios_copy_from_guest(nullptr, 0x1000, &byte, 1),
            HYPERV_BIOS_EINVAL);
  EXPECT_EQ(hyperv_bios_copy_to_guest(nullptr, 0x1000, &byte, 1),
            HYPERV_BIOS_EINVAL);
}

}  // namespace
