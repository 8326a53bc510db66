// The C API (include/hvbios/hvbios.h) over the C++ API. No exception or
// C++ type crosses it; every failure becomes a code plus a thread-local
// message.
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <exception>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "hvbios/block.h"
#include "hvbios/hvbios.h"
#include "hvbios/kvm.h"
#include "hvbios/service.h"
#include "hvbios/vm.h"
#include "lib/threads.h"

struct hyperv_bios_vm {
  std::unique_ptr<hvbios::Vm> vm;
};

// A vCPU handle is the hvbios::Vcpu itself; the cast keeps the C type
// opaque.
struct hyperv_bios_vcpu;

namespace {

thread_local std::string last_error;

int Fail(const absl::Status& status) {
  last_error = status.ToString();
  return -static_cast<int>(status.code());
}

int Fail(absl::StatusCode code, absl::string_view message) {
  return Fail(absl::Status(code, message));
}

int Succeed() {
  last_error.clear();
  return HYPERV_BIOS_OK;
}

absl::Status FromErrno(int rc, absl::string_view what) {
  return rc == 0 ? absl::OkStatus() : absl::ErrnoToStatus(-rc, what);
}

absl::StatusOr<std::unique_ptr<hvbios::BlockDevice>> MakeCallbackDisk(
    const hyperv_bios_disk& d) {
  const hyperv_bios_block_ops ops = *d.ops;
  void* ctx = d.context;
  hvbios::BlockCallbacks callbacks;
  callbacks.size_bytes = d.size_bytes;
  callbacks.read_only = d.read_only != 0;
  if (ops.read != nullptr) {
    callbacks.read = [ops, ctx](uint64_t offset, absl::Span<uint8_t> dst) {
      return FromErrno(ops.read(ctx, offset, dst.data(), dst.size()), "read");
    };
  }
  if (ops.write != nullptr) {
    callbacks.write = [ops, ctx](uint64_t offset,
                                 absl::Span<const uint8_t> src) {
      return FromErrno(ops.write(ctx, offset, src.data(), src.size()), "write");
    };
  }
  if (ops.flush != nullptr) {
    callbacks.flush = [ops, ctx] { return FromErrno(ops.flush(ctx), "flush"); };
  }
  if (ops.discard != nullptr) {
    callbacks.discard = [ops, ctx](uint64_t offset, uint64_t length) {
      return FromErrno(ops.discard(ctx, offset, length), "discard");
    };
  }
  return hvbios::MakeCallbackBlockDevice(std::move(callbacks));
}

hvbios::VendorService MakeVendorService(const hyperv_bios_service& s) {
  hvbios::VendorService service;
  service.id = s.id;
  service.name =
      s.name != nullptr ? s.name : absl::StrCat("0x", absl::Hex(s.id));
  service.function_count = s.function_count;
  if (s.handler != nullptr) {
    service.handler = [fn = s.handler,
                       ctx = s.context](const hvbios::ServiceRequest& request) {
      hyperv_bios_service_call call = {};
      call.vcpu_id = request.vcpu_id();
      call.function = request.function();
      for (int i = 0; i < 6; ++i) call.args[i] = request.arg(i);
      call.internal = &request;
      uint64_t value = 0;
      const int64_t status = fn(ctx, &call, &value);
      return hvbios::ServiceReply{status, status == HVB_OK ? value : 0};
    };
  }
  return service;
}

const hvbios::ServiceRequest* RequestOf(const hyperv_bios_service_call* call) {
  return call == nullptr
             ? nullptr
             : static_cast<const hvbios::ServiceRequest*>(call->internal);
}

// The config as this library knows it: one from a header before 0.5
// (which ended at disk_count) reads as if the newer fields were zero.
constexpr size_t kConfigSizeBeforeServices =
    offsetof(hyperv_bios_vm_config, services);

int FromStatus(const absl::Status& status) {
  return status.ok() ? Succeed() : Fail(status);
}

int NullHandle(absl::string_view function) {
  return Fail(absl::StatusCode::kInvalidArgument,
              absl::StrCat(function, ": NULL handle or pointer"));
}

// A vendor handler's copy through `call`: `copy` says whether the guest
// owned the buffer.
template <typename Copy>
int CopyForCall(const char* function, const hyperv_bios_service_call* call,
                const void* host, size_t length, Copy copy) {
  const hvbios::ServiceRequest* request = RequestOf(call);
  if (request == nullptr || (host == nullptr && length != 0)) {
    return NullHandle(function);
  }
  if (!copy(*request)) {
    return Fail(absl::StatusCode::kOutOfRange,
                absl::StrCat(function, ": the buffer is not the guest's RAM"));
  }
  return Succeed();
}

// Runs the body of a C API function: no C++ exception may cross the C ABI
// (the library throws none itself; this catches what the standard library
// might, e.g. bad_alloc, and reports it as an error).
template <typename Body>
auto Guard(const char* function, Body body) noexcept -> decltype(body()) {
  try {
    return body();
  } catch (const std::exception& e) {
    return Fail(absl::StatusCode::kInternal,
                absl::StrCat(function, ": ", e.what()));
  } catch (...) {
    return Fail(absl::StatusCode::kInternal,
                absl::StrCat(function, ": unknown C++ exception"));
  }
}

hvbios::Vcpu* FromHandle(hyperv_bios_vcpu* vcpu) {
  return reinterpret_cast<hvbios::Vcpu*>(vcpu);
}

static_assert(-static_cast<int>(absl::StatusCode::kInvalidArgument) ==
              HYPERV_BIOS_EINVAL);
static_assert(-static_cast<int>(absl::StatusCode::kDeadlineExceeded) ==
              HYPERV_BIOS_ETIMEDOUT);
static_assert(-static_cast<int>(absl::StatusCode::kFailedPrecondition) ==
              HYPERV_BIOS_ESTATE);
static_assert(-static_cast<int>(absl::StatusCode::kUnauthenticated) ==
              HYPERV_BIOS_EUNAUTHENTICATED);

}  // namespace

extern "C" {

void hyperv_bios_init_vm_config(hyperv_bios_vm_config* config) {
  if (config == nullptr) return;
  *config = {};
  config->struct_size = sizeof(*config);
  config->memory_bytes = hvbios::VmOptions().memory_bytes;
  config->vcpu_count = 1;
}

int hyperv_bios_create_vm(const hyperv_bios_vm_config* config,
                          hyperv_bios_vm** out) {
  return Guard(__func__, [&]() -> int {
    if (config == nullptr || out == nullptr) {
      return Fail(absl::StatusCode::kInvalidArgument,
                  "hyperv_bios_create_vm: config and out must not be NULL");
    }
    if (config->struct_size != sizeof(*config) &&
        config->struct_size != kConfigSizeBeforeServices) {
      return Fail(absl::StatusCode::kInvalidArgument,
                  "hyperv_bios_create_vm: config->struct_size is not a size "
                  "this library knows; call hyperv_bios_init_vm_config() "
                  "first");
    }
    hyperv_bios_vm_config c = {};
    std::memcpy(&c, config, config->struct_size);
    config = &c;
    hvbios::VmOptions options;
    options.memory_bytes = config->memory_bytes;
    options.vcpu_count = config->vcpu_count;
    if (config->cmdline != nullptr) options.cmdline = config->cmdline;
    if (config->console_output != nullptr) {
      options.console_output =
          [fn = config->console_output, ctx = config->console_context](
              absl::string_view bytes) { fn(ctx, bytes.data(), bytes.size()); };
    }
    if (config->disk_count != 0 && config->disks == nullptr) {
      return Fail(absl::StatusCode::kInvalidArgument,
                  "hyperv_bios_create_vm: disks is NULL");
    }
    for (uint32_t i = 0; i < config->disk_count; ++i) {
      const hyperv_bios_disk& d = config->disks[i];
      absl::StatusOr<std::unique_ptr<hvbios::BlockDevice>> disk =
          d.ops != nullptr    ? MakeCallbackDisk(d)
          : d.path != nullptr ? hvbios::OpenDiskImage(d.path, d.read_only)
                              : absl::InvalidArgumentError(absl::StrCat(
                                    "disk ", i, ": neither path nor ops"));
      if (!disk.ok()) return Fail(disk.status());
      options.disks.push_back(*std::move(disk));
    }
    if (config->service_count != 0 && config->services == nullptr) {
      return Fail(absl::StatusCode::kInvalidArgument,
                  "hyperv_bios_create_vm: services is NULL");
    }
    for (uint32_t i = 0; i < config->service_count; ++i) {
      options.services.push_back(MakeVendorService(config->services[i]));
    }
    hvbios::kvm::KvmOptions kvm_options;
    kvm_options.kick_signal = config->kick_signal;
    absl::StatusOr<std::unique_ptr<hvbios::Vm>> vm =
        hvbios::CreateKvmVm(std::move(options), kvm_options);
    if (!vm.ok()) return Fail(vm.status());
    *out = new hyperv_bios_vm{*std::move(vm)};
    return Succeed();
  });
}

int hyperv_bios_destroy_vm(hyperv_bios_vm* vm) {
  return Guard(__func__, [&] {
    // Destroying joins the VM's threads, one of which may be the caller's.
    if (absl::Status s = hvbios::RefuseInsideCallback(__func__); !s.ok()) {
      return Fail(s);
    }
    delete vm;
    return Succeed();
  });
}

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
    *out = reinterpret_cast<hyperv_bios_vcpu*>(*vcpu);
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
  return Guard(__func__, [&]() -> int {
    if (vcpu == nullptr) return NullHandle("hyperv_bios_start_vcpu_at");
    return FromStatus(FromHandle(vcpu)->StartAt(
        {.rip = rip, .rsp = rsp, .arg = arg, .cr3 = cr3}));
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
    *out = reinterpret_cast<hyperv_bios_vcpu*>(vcpu);
    return Succeed();
  });
}

int hyperv_bios_pause_vcpu(hyperv_bios_vcpu* vcpu) {
  return Guard(__func__, [&]() -> int {
    if (vcpu == nullptr) return NullHandle("hyperv_bios_pause_vcpu");
    return FromStatus(FromHandle(vcpu)->Pause());
  });
}

int hyperv_bios_resume_vcpu(hyperv_bios_vcpu* vcpu) {
  return Guard(__func__, [&]() -> int {
    if (vcpu == nullptr) return NullHandle("hyperv_bios_resume_vcpu");
    return FromStatus(FromHandle(vcpu)->Resume());
  });
}

int hyperv_bios_destroy_vcpu(hyperv_bios_vcpu* vcpu) {
  return Guard(__func__, [&]() -> int {
    if (vcpu == nullptr) return NullHandle("hyperv_bios_destroy_vcpu");
    return FromStatus(FromHandle(vcpu)->Destroy());
  });
}

int hyperv_bios_pause_vm(hyperv_bios_vm* vm) {
  return Guard(__func__, [&]() -> int {
    if (vm == nullptr) return NullHandle("hyperv_bios_pause_vm");
    return FromStatus(vm->vm->Pause());
  });
}

int hyperv_bios_resume_vm(hyperv_bios_vm* vm) {
  return Guard(__func__, [&]() -> int {
    if (vm == nullptr) return NullHandle("hyperv_bios_resume_vm");
    return FromStatus(vm->vm->Resume());
  });
}

int hyperv_bios_get_vcpu_status(hyperv_bios_vcpu* vcpu,
                                hyperv_bios_vcpu_status* status) {
  return Guard(__func__, [&]() -> int {
    if (vcpu == nullptr || status == nullptr) {
      return NullHandle("hyperv_bios_get_vcpu_status");
    }
    const hvbios::VcpuStatus s = FromHandle(vcpu)->status();
    static_assert(static_cast<int>(hvbios::VcpuState::kDestroyed) ==
                  HYPERV_BIOS_VCPU_DESTROYED);
    status->state = static_cast<int>(s.state);
    status->last_exit = static_cast<int>(s.last_exit);
    status->exits = s.exits;
    return Succeed();
  });
}

int hyperv_bios_raise_event(hyperv_bios_vm* vm, uint32_t vcpu_id,
                            uint8_t vector) {
  return Guard(__func__, [&]() -> int {
    if (vm == nullptr) return NullHandle("hyperv_bios_raise_event");
    return FromStatus(vm->vm->RaiseEvent(vcpu_id, vector));
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
    absl::StatusOr<hvbios::VmExit> result =
        vm->vm->Wait(timeout_ms < 0 ? absl::InfiniteDuration()
                                    : absl::Milliseconds(timeout_ms));
    if (!result.ok()) return Fail(result.status());
    *exit = {};
    switch (result->reason) {
      case hvbios::VmExit::Reason::kShutdown:
        exit->reason = HYPERV_BIOS_EXIT_SHUTDOWN;
        break;
      case hvbios::VmExit::Reason::kReboot:
        exit->reason = HYPERV_BIOS_EXIT_REBOOT;
        break;
      case hvbios::VmExit::Reason::kGuestFault:
        exit->reason = HYPERV_BIOS_EXIT_GUEST_FAULT;
        break;
      case hvbios::VmExit::Reason::kStopped:
        exit->reason = HYPERV_BIOS_EXIT_STOPPED;
        break;
      case hvbios::VmExit::Reason::kHostError:
        exit->reason = HYPERV_BIOS_EXIT_HOST_ERROR;
        break;
    }
    exit->exit_code = result->exit_code;
    exit->vcpu_id = result->vcpu_id;
    const size_t n =
        std::min(result->message.size(), sizeof(exit->message) - 1);
    std::memcpy(exit->message, result->message.data(), n);
    exit->message[n] = '\0';
    return Succeed();
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

const char* hyperv_bios_last_error(void) { return last_error.c_str(); }

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
