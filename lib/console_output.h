// The guest's console output on its way to the embedder: a bounded buffer
// that vCPU threads fill (console.write) and a library thread drains into
// the embedder's sink. A slow, stuck or failing sink therefore never holds a
// vCPU thread, so pause, stop and destroy stay prompt whatever the sink
// does; a guest that writes faster than the sink takes is held back
// (console.write may then take fewer bytes, or none: HVB_ERR_AGAIN).
#ifndef HVBIOS_LIB_CONSOLE_OUTPUT_H_
#define HVBIOS_LIB_CONSOLE_OUTPUT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "hvbios/internal/mutex.h"

namespace hvbios {

class ConsoleOutput {
 public:
  using Sink = std::function<void(absl::string_view)>;
  static constexpr size_t kDefaultCapacity = 64 * 1024;

  // `sink` receives copies of the bytes, in order, on the library's
  // console thread (started by the first Write). An empty sink discards
  // everything.
  explicit ConsoleOutput(Sink sink, size_t capacity = kDefaultCapacity);
  ConsoleOutput(const ConsoleOutput&) = delete;
  ConsoleOutput& operator=(const ConsoleOutput&) = delete;
  // Delivers what is queued (the sink must return), then ends the thread.
  ~ConsoleOutput();

  // Copies as much of `bytes` as fits. If nothing fits, waits for room
  // until `max_wait` passes or Interrupt() is called; returns how many
  // bytes it took (0: congested). Any thread; never calls the sink.
  size_t Write(absl::string_view bytes, absl::Duration max_wait);

  // Wakes every Write() waiting for room (they return what they have).
  // The VM calls it whenever it asks a vCPU thread to pause or stop.
  void Interrupt();

  // Waits until everything written so far has been handed to the sink and
  // the sink has returned, for at most `timeout`; whether it has.
  bool AwaitDelivered(absl::Duration timeout);

 private:
  void Loop();

  const Sink sink_;
  const size_t capacity_;
  Mutex mu_;
  std::string queued_ ABSL_GUARDED_BY(mu_);
  uint64_t written_ ABSL_GUARDED_BY(mu_) = 0;    // bytes ever queued
  uint64_t delivered_ ABSL_GUARDED_BY(mu_) = 0;  // bytes the sink returned
  uint64_t interrupts_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool thread_started_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace hvbios

#endif  // HVBIOS_LIB_CONSOLE_OUTPUT_H_
