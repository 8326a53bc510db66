// The console service (docs/abi.md 5.2): output through a bounded buffer
// to the embedder's sink (lib/console_output.h), input queued by the host
// and raised as the console-input event source.
#ifndef HVBIOS_LIB_SERVICES_CONSOLE_H_
#define HVBIOS_LIB_SERVICES_CONSOLE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "hvbios/internal/mutex.h"
#include "lib/console_output.h"

namespace hvbios {

class EventService;

class ConsoleService {
 public:
  // At most this much input waits for the guest.
  static constexpr size_t kInputCapacity = 64 * 1024;

  // Registers the console-input event source with `events`, which must
  // outlive this.
  ConsoleService(ConsoleOutput::Sink sink, EventService& events);

  // The guest's output: how many bytes were taken, 0 if the sink lags
  // (docs/abi.md: HVB_ERR_AGAIN). Waits a little for room first.
  size_t Write(absl::string_view bytes);
  // Moves up to `capacity` bytes of input to `dst`; how many.
  size_t Read(uint8_t* dst, size_t capacity);
  // The host's input for the guest: how many bytes were queued; raises
  // the input event.
  size_t PushInput(absl::string_view bytes);
  bool HasInput();

  // Wakes writers waiting for room (a pause or stop is coming).
  void InterruptWaits() { output_.Interrupt(); }
  bool AwaitDelivered(absl::Duration timeout) {
    return output_.AwaitDelivered(timeout);
  }

 private:
  EventService& events_;
  ConsoleOutput output_;
  Mutex input_mu_;
  std::string input_ ABSL_GUARDED_BY(input_mu_);
};

}  // namespace hvbios

#endif  // HVBIOS_LIB_SERVICES_CONSOLE_H_
