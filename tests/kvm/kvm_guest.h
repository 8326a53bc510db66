// Booting in-tree guests on real KVM from tests.
#ifndef HVBIOS_TESTS_KVM_KVM_GUEST_H_
#define HVBIOS_TESTS_KVM_KVM_GUEST_H_

#include <memory>
#include <string>
#include <utility>

#include "gtest/gtest.h"
#include "hvbios/internal/mutex.h"
#include "hvbios/kvm.h"
#include "hvbios/vm.h"

namespace hvbios::testing {

// behave's faults and how the guest SDK's panic describes them, the same
// on both backends (tests/guests/behave.c).
inline constexpr std::pair<const char*, const char*> kDecodedFaults[] = {
    {"page-fault",
     "with code 111: unhandled exception 14 (#PF: write to 0x200000000000, "
     "page not present; error code 0x2) at rip 0x"},
    {"gp",
     "with code 111: unhandled exception 13 (#GP: GDT selector 0xfff8; error "
     "code 0xfff8) at rip 0x"},
    {"exception",
     "with code 111: unhandled exception 6 (#UD; error code 0x0) at rip 0x"},
};

// behave's panic as both runners report it: its code, its message on one
// line, then the calling vCPU's registers and its stack, named from the
// guest's symbols (the in-tree guests and SDK keep frame pointers).
// `runner`: "hvbios-run" or "hvbios-qemu".
inline void ExpectPanicReport(const std::string& runner, int exit_status,
                              const std::string& err) {
  EXPECT_EQ(exit_status, 126) << err;
  EXPECT_NE(err.find(runner + ": the guest panicked on vCPU 0 with code 7: "
                              "the disk is on fire second line\n  rip "),
            std::string::npos)
      << err;
  for (const char* reg : {" rbp ", " r15 ", " rflags ", "cr3 ", "efer "}) {
    EXPECT_NE(err.find(reg), std::string::npos) << reg << err;
  }
  EXPECT_NE(err.find("\n  stack (by frame pointers):\n  #0 0x"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find(" hvb_panic+0x"), std::string::npos) << err;
  EXPECT_NE(err.find(" hvb_main+0x"), std::string::npos)
      << "the caller of hvb_panic, by its frame pointer: " << err;
  EXPECT_NE(err.find(" _start+0x"), std::string::npos)
      << "the walk reaches the entry: " << err;
}

// Path of an in-tree guest image, e.g. GuestPath("hello").
inline std::string GuestPath(const std::string& name) {
  return std::string(HVBIOS_GUEST_DIR) + "/" + name + ".elf";
}

// Skips the test, saying why, when this machine has no usable /dev/kvm.
#define SKIP_WITHOUT_KVM()                                            \
  do {                                                                \
    std::string why;                                                  \
    if (!::hvbios::kvm::KvmAvailable("/dev/kvm", &why)) {             \
      GTEST_SKIP() << "KVM integration test needs /dev/kvm: " << why; \
    }                                                                 \
  } while (0)

// A VM on KVM with its console captured.
class CapturedVm {
 public:
  static absl::StatusOr<std::unique_ptr<CapturedVm>> Boot(
      const std::string& guest, VmOptions options = {},
      const std::string& console_input = "") {
    auto captured = std::unique_ptr<CapturedVm>(new CapturedVm());
    CapturedVm* c = captured.get();
    options.console_output = [c](absl::string_view bytes) {
      hvbios::MutexLock lock(&c->mu_);
      c->console_.append(bytes.data(), bytes.size());
    };
    absl::StatusOr<std::unique_ptr<Vm>> vm = CreateKvmVm(std::move(options));
    if (!vm.ok()) return vm.status();
    c->vm_ = *std::move(vm);
    if (absl::Status s = c->vm_->LoadGuestFile(GuestPath(guest)); !s.ok()) {
      return s;
    }
    c->vm_->PushConsoleInput(console_input);
    absl::StatusOr<Vcpu*> vcpu = c->vm_->CreateVcpu(0);
    if (!vcpu.ok()) return vcpu.status();
    if (absl::Status s = (*vcpu)->Start(); !s.ok()) return s;
    return captured;
  }

  Vm& vm() { return *vm_; }
  std::string console() {
    hvbios::MutexLock lock(&mu_);
    return console_;
  }
  // Waits (generously: ring-0 guest code is emulated on our machines).
  absl::StatusOr<VmExit> Wait(absl::Duration timeout = absl::Seconds(60)) {
    return vm_->Wait(timeout);
  }

 private:
  CapturedVm() = default;
  hvbios::Mutex mu_;
  std::string console_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Vm> vm_;  // destroyed first: no console calls after
};

// The console output of a VM made through the C API: pass CaptureConsole
// as its console_output and the Console as its context.
struct Console {
  hvbios::Mutex mu;
  std::string text ABSL_GUARDED_BY(mu);
  std::string Text() {
    hvbios::MutexLock lock(&mu);
    return text;
  }
};
inline void CaptureConsole(void* context, const char* bytes, size_t length) {
  auto* console = static_cast<Console*>(context);
  hvbios::MutexLock lock(&console->mu);
  console->text.append(bytes, length);
}

}  // namespace hvbios::testing

#endif  // HVBIOS_TESTS_KVM_KVM_GUEST_H_
