// The C API (include/hvbios/hvbios.h) over the C++ API: loading, vCPUs,
// pause and resume, waiting, registers, guest memory copies and the calls
// a vendor service's handler makes.
#include <algorithm>
#include <cstddef>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "capi/c_api_internal.h"
#include "hvbios/hvbios.h"
#include "hvbios/service.h"
#include "hvbios/vm.h"

// Returns the C code of a failed status from the enclosing C entry point.
#define RETURN_C_IF_ERROR(expr)                              \
  do {                                                       \
    if (absl::Status s_ = (expr); !s_.ok()) return Fail(s_); \
  } while (0)

namespace hvbios::capi {
namespace {

const ServiceRequest* RequestOf(const hyperv_bios_service_call* call) {
  const ActiveCall& active = ActiveCallOfThisThread();
  return call != nullptr && call == active.call ? active.request : nullptr;
}

// A vendor handler's copy through `call`: `copy` says whether the guest
// owned the buffer.
template <typename Copy>
int CopyForCall(const char* function, const hyperv_bios_service_call* call,
                const void* host, size_t length, Copy copy) {
  const ServiceRequest* request = RequestOf(call);
  if (call == nullptr || (host == nullptr && length != 0)) {
    return NullHandle(function);
  }
  if (request == nullptr) {
    return Fail(absl::StatusCode::kFailedPrecondition,
                absl::StrCat(function,
                             ": the call is not one this thread's "
                             "handler is serving now"));
  }
  if (!copy(*request)) {
    return Fail(absl::StatusCode::kOutOfRange,
                absl::StrCat(function, ": the buffer is not the guest's RAM"));
  }
  return Succeed();
}

}  // namespace
}  // namespace hvbios::capi

using namespace hvbios::capi;  // NOLINT: the C entry points below

extern "C" {

int hyperv_bios_load_guest(hyperv_bios_vm* vm, const char* path) {
  return Guard(__func__, [&]() -> int {
    if (vm == nullptr || path == nullptr) {
      return Fail(absl::StatusCode::kInvalidArgument,
                  "hyperv_bios_load_guest: vm and path must not be NULL");
    }
    absl::Status status = vm->vm->LoadGuestFile(path);
    return status.ok() ? Succeed() : Fail(status);
  });
}

int hyperv_bios_load_guest_image(hyperv_bios_vm* vm, const void* image,
                                 size_t length) {
  return Guard(__func__, [&]() -> int {
    if (vm == nullptr || (image == nullptr && length != 0)) {
      return Fail(
          absl::StatusCode::kInvalidArgument,
          "hyperv_bios_load_guest_image: vm and image must not be NULL");
    }
    absl::Status status = vm->vm->LoadGuest(
        absl::MakeConstSpan(static_cast<const uint8_t*>(image), length));
    return status.ok() ? Succeed() : Fail(status);
  });
}

int hyperv_bios_create_vcpu(hyperv_bios_vm* vm, uint32_t id,
                            hyperv_bios_vcpu** out) {
  return Guard(__func__, [&]() -> int {
    if (vm == nullptr || out == nullptr) {
      return Fail(absl::StatusCode::kInvalidArgument,
                  "hyperv_bios_create_vcpu: vm and out must not be NULL");
    }
    absl::StatusOr<hvbios::Vcpu*> vcpu = vm->vm->CreateVcpu(id);
    if (!vcpu.ok()) return Fail(vcpu.status());
    *out = ToHandle(*vcpu);
    return Succeed();
  });
}

int hyperv_bios_start_vcpu(hyperv_bios_vcpu* vcpu) {
  return Guard(__func__, [&]() -> int {
    if (vcpu == nullptr) {
      return Fail(absl::StatusCode::kInvalidArgument,
                  "hyperv_bios_start_vcpu: vcpu must not be NULL");
    }
    absl::Status status = FromHandle(vcpu)->Start();
    return status.ok() ? Succeed() : Fail(status);
  });
}

int hyperv_bios_start_vcpu_at(hyperv_bios_vcpu* vcpu, uint64_t rip,
                              uint64_t rsp, uint64_t arg, uint64_t cr3) {
  return ForwardToVcpu(__func__, vcpu, [&](hvbios::Vcpu& v) {
    return v.StartAt({.rip = rip, .rsp = rsp, .arg = arg, .cr3 = cr3});
  });
}

int hyperv_bios_get_vcpu(hyperv_bios_vm* vm, uint32_t id,
                         hyperv_bios_vcpu** out) {
  return Guard(__func__, [&]() -> int {
    if (vm == nullptr || out == nullptr) {
      return NullHandle("hyperv_bios_get_vcpu");
    }
    hvbios::Vcpu* vcpu = vm->vm->vcpu(id);
    if (vcpu == nullptr) {
      return Fail(absl::StatusCode::kNotFound,
                  absl::StrCat("vCPU ", id, " does not exist (yet)"));
    }
    *out = ToHandle(vcpu);
    return Succeed();
  });
}

int hyperv_bios_pause_vcpu(hyperv_bios_vcpu* vcpu) {
  return ForwardToVcpu(__func__, vcpu,
                       [&](hvbios::Vcpu& v) { return v.Pause(); });
}

int hyperv_bios_resume_vcpu(hyperv_bios_vcpu* vcpu) {
  return ForwardToVcpu(__func__, vcpu,
                       [&](hvbios::Vcpu& v) { return v.Resume(); });
}

int hyperv_bios_destroy_vcpu(hyperv_bios_vcpu* vcpu) {
  return ForwardToVcpu(__func__, vcpu,
                       [&](hvbios::Vcpu& v) { return v.Destroy(); });
}

int hyperv_bios_pause_vm(hyperv_bios_vm* vm) {
  return ForwardToVm(__func__, vm, [&](hvbios::Vm& v) { return v.Pause(); });
}

int hyperv_bios_resume_vm(hyperv_bios_vm* vm) {
  return ForwardToVm(__func__, vm, [&](hvbios::Vm& v) { return v.Resume(); });
}

int hyperv_bios_get_vcpu_status(hyperv_bios_vcpu* vcpu,
                                hyperv_bios_vcpu_status* status) {
  return Guard(__func__, [&]() -> int {
    if (vcpu == nullptr || status == nullptr) {
      return NullHandle("hyperv_bios_get_vcpu_status");
    }
    const hvbios::VcpuStatus s = FromHandle(vcpu)->status();
    hyperv_bios_vcpu_status out = {};
    out.state = static_cast<int>(s.state);
    out.last_exit = static_cast<int>(s.last_exit);
    out.exits = s.exits;
    return FromStatus(CopyOut(out, sizeof(out), "status", status));
  });
}

int hyperv_bios_get_vcpu_regs(hyperv_bios_vcpu* vcpu, hyperv_bios_regs* regs) {
  return Guard(__func__, [&]() -> int {
    if (vcpu == nullptr || regs == nullptr) {
      return NullHandle("hyperv_bios_get_vcpu_regs");
    }
    absl::StatusOr<hvbios::Registers> r = FromHandle(vcpu)->GetRegisters();
    if (!r.ok()) return Fail(r.status());
    hyperv_bios_regs out = {};
    static_assert(sizeof(hvbios::Registers) ==
                  sizeof(out) - offsetof(hyperv_bios_regs, rax));
    std::memcpy(&out.rax, &*r, sizeof(*r));
    return FromStatus(CopyOut(out, sizeof(out), "regs", regs));
  });
}

int hyperv_bios_set_vcpu_regs(hyperv_bios_vcpu* vcpu,
                              const hyperv_bios_regs* regs) {
  return Guard(__func__, [&]() -> int {
    if (vcpu == nullptr || regs == nullptr) {
      return NullHandle("hyperv_bios_set_vcpu_regs");
    }
    hyperv_bios_regs in;
    RETURN_C_IF_ERROR(CopyIn(regs, sizeof(in), "regs", &in));
    hvbios::Registers r;
    std::memcpy(&r, &in.rax, sizeof(r));
    return FromStatus(FromHandle(vcpu)->SetRegisters(r));
  });
}

int hyperv_bios_raise_event(hyperv_bios_vm* vm, uint32_t vcpu_id,
                            uint8_t vector) {
  return ForwardToVm(__func__, vm, [&](hvbios::Vm& v) {
    return v.RaiseEvent(vcpu_id, vector);
  });
}

int hyperv_bios_read_guest_memory(hyperv_bios_vm* vm, uint64_t gpa, void* dst,
                                  size_t length) {
  return Guard(__func__, [&]() -> int {
    if (vm == nullptr || (dst == nullptr && length != 0)) {
      return NullHandle("hyperv_bios_read_guest_memory");
    }
    return FromStatus(vm->vm->ReadGuestMemory(gpa, dst, length));
  });
}

int hyperv_bios_write_guest_memory(hyperv_bios_vm* vm, uint64_t gpa,
                                   const void* src, size_t length) {
  return Guard(__func__, [&]() -> int {
    if (vm == nullptr || (src == nullptr && length != 0)) {
      return NullHandle("hyperv_bios_write_guest_memory");
    }
    return FromStatus(vm->vm->WriteGuestMemory(gpa, src, length));
  });
}

int hyperv_bios_wait_vm(hyperv_bios_vm* vm, int64_t timeout_ms,
                        hyperv_bios_vm_exit* exit) {
  return Guard(__func__, [&]() -> int {
    if (vm == nullptr || exit == nullptr) {
      return Fail(absl::StatusCode::kInvalidArgument,
                  "hyperv_bios_wait_vm: vm and exit must not be NULL");
    }
    hyperv_bios_vm_exit out = {};
    // Refuse a bad struct before waiting, not after.
    RETURN_C_IF_ERROR(CopyOut(out, sizeof(out), "exit", exit));
    absl::StatusOr<hvbios::VmExit> result =
        vm->vm->Wait(timeout_ms < 0 ? absl::InfiniteDuration()
                                    : absl::Milliseconds(timeout_ms));
    if (!result.ok()) return Fail(result.status());
    switch (result->reason) {
      case hvbios::VmExit::Reason::kShutdown:
        out.reason = HYPERV_BIOS_EXIT_SHUTDOWN;
        break;
      case hvbios::VmExit::Reason::kReboot:
        out.reason = HYPERV_BIOS_EXIT_REBOOT;
        break;
      case hvbios::VmExit::Reason::kGuestFault:
        out.reason = HYPERV_BIOS_EXIT_GUEST_FAULT;
        break;
      case hvbios::VmExit::Reason::kStopped:
        out.reason = HYPERV_BIOS_EXIT_STOPPED;
        break;
      case hvbios::VmExit::Reason::kHostError:
        out.reason = HYPERV_BIOS_EXIT_HOST_ERROR;
        break;
      case hvbios::VmExit::Reason::kPanic:
        out.reason = HYPERV_BIOS_EXIT_PANIC;
        break;
    }
    out.exit_code = result->exit_code;
    out.vcpu_id = result->vcpu_id;
    const size_t n = std::min(result->message.size(), sizeof(out.message) - 1);
    std::memcpy(out.message, result->message.data(), n);
    return FromStatus(CopyOut(out, sizeof(out), "exit", exit));
  });
}

int hyperv_bios_stop_vm(hyperv_bios_vm* vm) {
  return Guard(__func__, [&]() -> int {
    if (vm == nullptr) {
      return Fail(absl::StatusCode::kInvalidArgument,
                  "hyperv_bios_stop_vm: vm must not be NULL");
    }
    vm->vm->Stop();
    return Succeed();
  });
}

int64_t hyperv_bios_push_console_input(hyperv_bios_vm* vm, const void* bytes,
                                       size_t length) {
  return Guard(__func__, [&]() -> int64_t {
    if (vm == nullptr || (bytes == nullptr && length != 0)) {
      return Fail(absl::StatusCode::kInvalidArgument,
                  "hyperv_bios_push_console_input: vm and bytes must not be "
                  "NULL");
    }
    Succeed();
    return static_cast<int64_t>(vm->vm->PushConsoleInput(
        absl::string_view(static_cast<const char*>(bytes), length)));
  });
}

int hyperv_bios_copy_from_guest(const hyperv_bios_service_call* call,
                                uint64_t gpa, void* dst, size_t length) {
  return Guard(__func__, [&] {
    return CopyForCall(__func__, call, dst, length,
                       [&](const hvbios::ServiceRequest& r) {
                         return r.CopyFromGuest(gpa, dst, length);
                       });
  });
}

int hyperv_bios_copy_to_guest(const hyperv_bios_service_call* call,
                              uint64_t gpa, const void* src, size_t length) {
  return Guard(__func__, [&] {
    return CopyForCall(__func__, call, src, length,
                       [&](const hvbios::ServiceRequest& r) {
                         return r.CopyToGuest(gpa, src, length);
                       });
  });
}

}  // extern "C"
