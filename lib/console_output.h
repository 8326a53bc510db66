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
#include <memory>
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

  // How long destruction waits for the sink to take what is queued.
  static constexpr absl::Duration kDrainGrace = absl::Seconds(2);

  // `sink` receives copies of the bytes, in order, on the library's
  // console thread (started by the first Write). An empty sink discards
  // everything.
  explicit ConsoleOutput(Sink sink, size_t capacity = kDefaultCapacity);
  ConsoleOutput(const ConsoleOutput&) = delete;
  ConsoleOutput& operator=(const ConsoleOutput&) = delete;
  // Lets the sink take what is queued, for up to kDrainGrace, and ends the
  // thread. A sink stuck past that is not waited for: its thread is left
  // to end when the sink returns (it keeps the sink and the buffer alive
  // until then) and takes nothing more.
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
  // Shared with the console thread, which may outlive this object.
  struct State {
    // The buffer is reserved whole: writing allocates nothing.
    State(Sink s, size_t c) : sink(std::move(s)), capacity(c) {
      queued.reserve(c);
    }
    const Sink sink;
    const size_t capacity;
    Mutex mu;
    std::string queued ABSL_GUARDED_BY(mu);
    uint64_t written ABSL_GUARDED_BY(mu) = 0;    // bytes ever queued
    uint64_t delivered ABSL_GUARDED_BY(mu) = 0;  // bytes the sink returned
    uint64_t interrupts ABSL_GUARDED_BY(mu) = 0;
    bool stop ABSL_GUARDED_BY(mu) = false;
    bool thread_started ABSL_GUARDED_BY(mu) = false;
    bool thread_done ABSL_GUARDED_BY(mu) = false;
  };
  static void Loop(std::shared_ptr<State> state);

  const std::shared_ptr<State> state_;
  std::thread thread_;
};

}  // namespace hvbios

#endif  // HVBIOS_LIB_CONSOLE_OUTPUT_H_
