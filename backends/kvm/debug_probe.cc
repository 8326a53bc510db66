// Guest debugging on KVM (api.rst, KVM_SET_GUEST_DEBUG): the control block
// for a GuestDebug, and the probe that finds out whether this KVM delivers
// hardware instruction breakpoints for guests at all. Not every KVM does:
// this machine's software-assisted one does not, nor does a nested KVM
// under QEMU's TCG (../shared/platform.md), while VMX and SVM hardware
// do. The probe runs the production control block on a scratch vCPU, so a
// "yes" also proves the encoding.
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include "backends/kvm/kvm_internal.h"

namespace hvbios::kvm {

kvm_guest_debug GuestDebugControl(const GuestDebug& debug) {
  kvm_guest_debug control = {};
  if (debug.single_step) control.control |= KVM_GUESTDBG_SINGLESTEP;
  if (debug.breakpoint_count > 0) {
    control.control |= KVM_GUESTDBG_USE_HW_BP;
    // DR7 (SDM Vol. 3A, 18.2.4): bit 2i enables DRi locally; R/Wi = 00
    // (instruction) and LENi = 00 (1 byte), as instruction breakpoints
    // require; bit 10 reads as 1.
    uint64_t dr7 = 1u << 10;
    for (uint32_t i = 0; i < debug.breakpoint_count && i < 4; ++i) {
      control.arch.debugreg[i] = debug.breakpoints[i];
      dr7 |= uint64_t{1} << (2 * i);
    }
    control.arch.debugreg[7] = dr7;
  }
  if (control.control != 0) control.control |= KVM_GUESTDBG_ENABLE;
  return control;
}

uint32_t ProbeHardwareBreakpoints(int kvm_fd) {
  if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_GUEST_DEBUG) <= 0) {
    return 0;
  }
  // A real-mode vCPU at 0x1000 running nop; nop; hlt, with a breakpoint on
  // the second nop. No in-kernel irqchip: hlt exits to us. The memory goes
  // after the VM that maps it.
  constexpr size_t kMemory = 0x2000;
  void* memory = mmap(nullptr, kMemory, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return 0;
  const MappedRegion memory_mapping(memory, kMemory);
  const uint8_t code[] = {0x90, 0x90, 0xf4};
  std::memcpy(static_cast<uint8_t*>(memory) + 0x1000, code, sizeof(code));
  const UniqueFd vm(ioctl(kvm_fd, KVM_CREATE_VM, 0));
  if (!vm.valid()) return 0;
  kvm_userspace_memory_region region = {};
  region.memory_size = kMemory;
  region.userspace_addr = reinterpret_cast<uint64_t>(memory);
  if (ioctl(vm.get(), KVM_SET_USER_MEMORY_REGION, &region) != 0) return 0;
  const UniqueFd vcpu(ioctl(vm.get(), KVM_CREATE_VCPU, 0));
  const int run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (!vcpu.valid() || run_size <= 0) return 0;
  void* run_memory = mmap(nullptr, run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                          vcpu.get(), 0);
  if (run_memory == MAP_FAILED) return 0;
  const MappedRegion run_mapping(run_memory, run_size);
  const auto* run = static_cast<const kvm_run*>(run_memory);
  kvm_sregs sregs;
  if (ioctl(vcpu.get(), KVM_GET_SREGS, &sregs) != 0) return 0;
  sregs.cs.base = 0;
  sregs.cs.selector = 0;
  kvm_regs regs = {};
  regs.rip = 0x1000;
  regs.rflags = 0x2;
  GuestDebug debug;
  debug.breakpoint_count = 1;
  debug.breakpoints[0] = 0x1001;
  kvm_guest_debug control = GuestDebugControl(debug);
  if (ioctl(vcpu.get(), KVM_SET_SREGS, &sregs) != 0 ||
      ioctl(vcpu.get(), KVM_SET_REGS, &regs) != 0 ||
      ioctl(vcpu.get(), KVM_SET_GUEST_DEBUG, &control) != 0 ||
      ioctl(vcpu.get(), KVM_RUN, 0) != 0) {
    return 0;
  }
  const bool stopped =
      run->exit_reason == KVM_EXIT_DEBUG && run->debug.arch.exception == 1 &&
      run->debug.arch.pc == 0x1001 && (run->debug.arch.dr6 & 1) != 0;
  return stopped ? 4 : 0;
}

}  // namespace hvbios::kvm
