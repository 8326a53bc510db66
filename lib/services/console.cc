#include "lib/services/console.h"

#include <algorithm>

#include "lib/services/services.h"

namespace hvbios {

ConsoleService::ConsoleService(ConsoleOutput::Sink sink, EventService& events)
    : events_(events), output_(std::move(sink)) {
  (void)events_.AddSource(HVB_EVENT_SRC_CONSOLE_INPUT,
                          [this] { return HasInput(); });
}

size_t ConsoleService::Write(absl::string_view bytes) {
  // Waits a little for room when the sink lags, so that a guest printing
  // faster than it drains is slowed down rather than made to spin.
  return output_.Write(bytes, absl::Milliseconds(50));
}

size_t ConsoleService::Read(uint8_t* dst, size_t capacity) {
  MutexLock lock(&input_mu_);
  const size_t n = std::min(capacity, input_.size());
  std::copy_n(input_.data(), n, dst);
  input_.erase(0, n);
  return n;
}

size_t ConsoleService::PushInput(absl::string_view bytes) {
  size_t n;
  {
    MutexLock lock(&input_mu_);
    n = std::min(bytes.size(), kInputCapacity - input_.size());
    input_.append(bytes.data(), n);
  }
  if (n > 0) events_.Trigger(HVB_EVENT_SRC_CONSOLE_INPUT);
  return n;
}

bool ConsoleService::HasInput() {
  MutexLock lock(&input_mu_);
  return !input_.empty();
}

// ---- The console service's hypercalls -------------------------------------

template <>
HypercallResult Handle<HVB_FN_CONSOLE_WRITE>(ServiceCall& call) {
  const uint64_t length = std::min<uint64_t>(call.arg[1], HVB_CONSOLE_MAX_IO);
  if (length == 0) return Ok(0);
  const uint8_t* bytes = call.ctx.memory().GuestBuffer(call.arg[0], length);
  if (bytes == nullptr) return Error(HVB_ERR_FAULT);
  // Copied before anyone else sees it (the guest may change its buffer).
  const size_t written = call.services.console().Write(
      absl::string_view(reinterpret_cast<const char*>(bytes), length));
  return written > 0 ? Ok(written) : Error(HVB_ERR_AGAIN);
}
template <>
HypercallResult Handle<HVB_FN_CONSOLE_READ>(ServiceCall& call) {
  const uint64_t length = std::min<uint64_t>(call.arg[1], HVB_CONSOLE_MAX_IO);
  if (length == 0) return Ok(0);
  uint8_t* dst = call.ctx.memory().GuestBufferToWrite(call.arg[0], length);
  if (dst == nullptr) return Error(HVB_ERR_FAULT);
  return Ok(call.services.console().Read(dst, length));
}

HVB_DEFINE_MODULE(CONSOLE, "console")

}  // namespace hvbios
