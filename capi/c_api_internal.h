// What the C API's files share: error reporting, the exception guard, and
// the rules by which structs grow (hvbios.h, "Structs grow").
#ifndef HVBIOS_CAPI_C_API_INTERNAL_H_
#define HVBIOS_CAPI_C_API_INTERNAL_H_

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <exception>
#include <memory>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "hvbios/hvbios.h"
#include "hvbios/net.h"
#include "hvbios/service.h"
#include "hvbios/vm.h"

struct hyperv_bios_vm {
  std::unique_ptr<hvbios::Vm> vm;
  // Per network device: its link if the embedder's `send` carries it (for
  // hyperv_bios_net_deliver), else null.
  std::vector<std::shared_ptr<hvbios::NetCallbackLink>> net_callbacks;
};

namespace hvbios::capi {

// Records `status` as the thread's last error; returns its C code.
int Fail(const absl::Status& status);
inline int Fail(absl::StatusCode code, absl::string_view message) {
  return Fail(absl::Status(code, message));
}
int Succeed();
inline int FromStatus(const absl::Status& status) {
  return status.ok() ? Succeed() : Fail(status);
}
inline int NullHandle(absl::string_view function) {
  return Fail(absl::StatusCode::kInvalidArgument,
              absl::StrCat(function, ": NULL handle or pointer"));
}

// A vCPU handle is the hvbios::Vcpu itself; the cast keeps the C type
// opaque.
inline Vcpu* FromHandle(hyperv_bios_vcpu* vcpu) {
  return reinterpret_cast<Vcpu*>(vcpu);
}
inline hyperv_bios_vcpu* ToHandle(Vcpu* vcpu) {
  return reinterpret_cast<hyperv_bios_vcpu*>(vcpu);
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

// The body of a C API function that forwards to one method of the VM or
// vCPU behind a handle and returns that method's status: a NULL handle is
// an error, and Guard catches what might be thrown.
template <typename Call>
int ForwardToVm(const char* function, hyperv_bios_vm* vm, Call call) noexcept {
  return Guard(function, [&]() -> int {
    if (vm == nullptr) return NullHandle(function);
    return FromStatus(call(*vm->vm));
  });
}
template <typename Call>
int ForwardToVcpu(const char* function, hyperv_bios_vcpu* vcpu,
                  Call call) noexcept {
  return Guard(function, [&]() -> int {
    if (vcpu == nullptr) return NullHandle(function);
    return FromStatus(call(*FromHandle(vcpu)));
  });
}

// The vendor-service call the calling thread's handler is serving (set
// for the handler's duration): copies name it by the call struct they got,
// whose layout depends on the config's era, so the request is looked up
// here rather than read from the struct. A call pointer from another
// thread, or one whose handler returned, finds nothing.
struct ActiveCall {
  const void* call = nullptr;
  const ServiceRequest* request = nullptr;
};
ActiveCall& ActiveCallOfThisThread();

// The KVM device hyperv_bios_sandbox_install opened for the VMs created
// inside the sandbox; -1 before it.
int SandboxKvmDevice();

// Reads a caller's struct that starts with `size_t struct_size` into `*out`
// (this library's layout): fields an older, smaller struct lacks read as
// zero; a newer, larger one is accepted only if everything past the fields
// known here is zero. `min_size` is the smallest size ever published.
template <typename T>
absl::Status CopyIn(const T* in, size_t min_size, absl::string_view what,
                    T* out) {
  static_assert(std::is_trivially_copyable_v<T>);
  if (in == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is NULL"));
  }
  const size_t size = in->struct_size;
  if (size < min_size) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, "->struct_size is ", size, ", smaller than any ",
                     what, " ever published; set it to sizeof"));
  }
  const auto* bytes = reinterpret_cast<const unsigned char*>(in);
  if (size > sizeof(T) &&
      !std::all_of(bytes + sizeof(T), bytes + size,
                   [](unsigned char b) { return b == 0; })) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " has fields newer than this library (", sizeof(T),
                     " bytes known, ", size,
                     " given) that are not zero; use a newer "
                     "library"));
  }
  *out = {};
  std::memcpy(out, in, std::min(size, sizeof(T)));
  out->struct_size = sizeof(T);
  return absl::OkStatus();
}

// Fills a caller's struct that starts with `size_t struct_size` from
// `value`, up to the caller's struct_size; bytes past what this library
// knows are zeroed. The caller's struct_size is left as it was.
template <typename T>
absl::Status CopyOut(const T& value, size_t min_size, absl::string_view what,
                     T* out) {
  static_assert(std::is_trivially_copyable_v<T>);
  if (out == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is NULL"));
  }
  const size_t size = out->struct_size;
  if (size < min_size) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, "->struct_size is ", size, ", smaller than any ",
                     what, " ever published; set it to sizeof"));
  }
  auto* bytes = reinterpret_cast<unsigned char*>(out);
  const size_t known = std::min(size, sizeof(T));
  std::memcpy(bytes + sizeof(size_t),
              reinterpret_cast<const unsigned char*>(&value) + sizeof(size_t),
              known - sizeof(size_t));
  if (size > sizeof(T)) std::memset(bytes + sizeof(T), 0, size - sizeof(T));
  return absl::OkStatus();
}

// The size of struct T up to and including its field `member`'s end: what
// a struct published before later fields were added measured.
#define HVBIOS_SIZE_THROUGH(T, member) \
  (offsetof(T, member) + sizeof(static_cast<T*>(nullptr)->member))

}  // namespace hvbios::capi

#endif  // HVBIOS_CAPI_C_API_INTERNAL_H_
