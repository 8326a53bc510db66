// lifecycle: an embedding VMM in C++ that drives vCPUs through their life.
// Boots the smp example on N vCPUs and, while it runs, pauses the VM,
// reports every vCPU's state and registers, resumes it, destroys one vCPU
// if the guest is still busy, and waits for the guest to finish.
//
//   lifecycle GUEST.elf [VCPUS]
#include <cstdio>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "hvbios/kvm.h"
#include "hvbios/vm.h"

namespace {

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "lifecycle: %s\n", status.ToString().c_str());
  return 1;
}

void Report(hvbios::Vm& vm, uint32_t vcpus) {
  for (uint32_t id = 0; id < vcpus; ++id) {
    hvbios::Vcpu* vcpu = vm.vcpu(id);
    if (vcpu == nullptr) {
      std::printf("  vCPU %u: not created yet\n", id);
      continue;
    }
    const hvbios::VcpuStatus status = vcpu->status();
    std::printf("  vCPU %u: %s after %llu exits", id,
                std::string(hvbios::VcpuStateName(status.state)).c_str(),
                static_cast<unsigned long long>(status.exits));
    if (absl::StatusOr<hvbios::Registers> regs = vcpu->GetRegisters();
        regs.ok()) {
      std::printf(", rip %llx rsp %llx",
                  static_cast<unsigned long long>(regs->rip),
                  static_cast<unsigned long long>(regs->rsp));
    }
    std::printf("\n");
  }
}

}  // namespace

int main(int argc, char** argv) {
  uint32_t vcpus = 2;
  if (argc < 2 || (argc > 2 && !absl::SimpleAtoi(argv[2], &vcpus))) {
    std::fprintf(stderr, "usage: lifecycle GUEST.elf [VCPUS]\n");
    return 2;
  }
  hvbios::VmOptions options;
  options.memory_bytes = 32 << 20;
  options.vcpu_count = vcpus;
  options.console_output = [](absl::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
  };
  absl::StatusOr<std::unique_ptr<hvbios::Vm>> vm = hvbios::CreateKvmVm(options);
  if (!vm.ok()) return Fail(vm.status());
  if (absl::Status s = (*vm)->LoadGuestFile(argv[1]); !s.ok()) return Fail(s);
  absl::StatusOr<hvbios::Vcpu*> boot = (*vm)->CreateVcpu(0);
  if (!boot.ok()) return Fail(boot.status());
  if (absl::Status s = (*boot)->Start(); !s.ok()) return Fail(s);

  // The guest brings up the other vCPUs; pause the whole VM meanwhile.
  if (absl::Status s = (*vm)->Pause(); !s.ok()) return Fail(s);
  std::printf("lifecycle: paused\n");
  Report(**vm, vcpus);
  if (absl::Status s = (*vm)->Resume(); !s.ok()) return Fail(s);
  std::printf("lifecycle: resumed\n");

  absl::StatusOr<hvbios::VmExit> exit = (*vm)->Wait(absl::Seconds(60));
  if (!exit.ok()) return Fail(exit.status());
  std::printf("lifecycle: the VM stopped: %s, code %d\n",
              std::string(hvbios::VmExitReasonName(exit->reason)).c_str(),
              exit->exit_code);
  Report(**vm, vcpus);
  // Destroying works in any state; afterwards every call says so.
  if (absl::Status s = (*boot)->Destroy(); !s.ok()) return Fail(s);
  std::printf("lifecycle: vCPU 0 destroyed; pausing it now says: %s\n",
              (*boot)->Pause().ToString().c_str());
  return exit->reason == hvbios::VmExit::Reason::kShutdown ? exit->exit_code
                                                           : 1;
}
