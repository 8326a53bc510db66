// hvbios-run's end of the guest's console: writes it to stdout without
// ever blocking for good, so that a reader that stops reading cannot hold
// hvbios-run (or its --timeout) hostage, and turns a failed write (a closed
// pipe, a full disk) into a report instead of a signal or a silent loss.
#ifndef HVBIOS_TOOLS_HVBIOS_RUN_CONSOLE_SINK_H_
#define HVBIOS_TOOLS_HVBIOS_RUN_CONSOLE_SINK_H_

#include <atomic>
#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "hvbios/internal/mutex.h"

namespace hvbios::run {

class ConsoleSink {
 public:
  // Writes to `fd`, which must not be non-blocking. `on_failure` is called
  // once, on the writing thread, when a write fails.
  ConsoleSink(int fd, std::function<void()> on_failure);

  // The library's console_output callback. Returns once `bytes` are
  // written, or the sink has failed or been abandoned (then they are
  // dropped). Waits for the fd in short polls, so Abandon() ends a wait on
  // a reader that does not read.
  void Write(absl::string_view bytes);

  // Drops whatever is not written yet, and everything after it.
  void Abandon() { abandoned_.store(true); }

  // Why writing failed ("" if it has not): e.g. "Broken pipe".
  std::string failure() const;

 private:
  void Fail(int error);

  const int fd_;
  const std::function<void()> on_failure_;
  std::atomic<bool> abandoned_{false};
  std::atomic<bool> failed_{false};
  mutable hvbios::Mutex mu_;
  std::string failure_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hvbios::run

#endif  // HVBIOS_TOOLS_HVBIOS_RUN_CONSOLE_SINK_H_
