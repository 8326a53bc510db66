// debug (docs/abi.md 5.5): measuring and checking the call path, and the
// guest's panic.
#include <string>

#include "absl/strings/str_cat.h"
#include "hvbios/vm.h"
#include "lib/services/services.h"

namespace hvbios {

template <>
HypercallResult Handle<HVB_FN_DEBUG_NULL>(ServiceCall&) {
  return Ok();
}
template <>
HypercallResult Handle<HVB_FN_DEBUG_ECHO>(ServiceCall& call) {
  const uint64_t* a = call.arg;
  return Ok(a[0] ^ a[1] ^ a[2] ^ a[3] ^ a[4] ^ a[5]);
}

// (code, gpa msg, len): the message is copied once, then the VM stops with
// a panic exit that carries it and the caller's registers.
template <>
HypercallResult Handle<HVB_FN_DEBUG_PANIC>(ServiceCall& call) {
  const uint64_t code = call.arg[0], length = call.arg[2];
  if (code > 255 || length > HVB_PANIC_MAX_MESSAGE) {
    return Error(HVB_ERR_INVAL);
  }
  std::string message;
  if (length > 0) {
    const uint8_t* bytes = call.ctx.memory().GuestBuffer(call.arg[1], length);
    if (bytes == nullptr) return Error(HVB_ERR_FAULT);
    message.assign(reinterpret_cast<const char*>(bytes), length);
  }
  // One line of text: the report's first line is the guest's, and it goes
  // to a terminal, where the guest's control characters have no business.
  for (char& c : message) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  const std::string registers = call.ctx.CallerRegisters(call.caller);
  if (!registers.empty()) absl::StrAppend(&message, "\n", registers);
  call.ctx.RequestExit({.reason = VmExit::Reason::kPanic,
                        .exit_code = static_cast<int>(code),
                        .vcpu_id = call.caller,
                        .message = std::move(message)});
  return Ok();
}

HVB_DEFINE_MODULE(DEBUG, "debug")

}  // namespace hvbios
