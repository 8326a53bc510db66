#include "lib/console_output.h"

#include <pthread.h>

#include <algorithm>
#include <utility>

#include "lib/threads.h"

namespace hvbios {

ConsoleOutput::ConsoleOutput(Sink sink, size_t capacity)
    : state_(std::make_shared<State>(std::move(sink), capacity)) {}

ConsoleOutput::~ConsoleOutput() {
  bool done;
  {
    MutexLock lock(&state_->mu);
    state_->stop = true;
    done = state_->mu.AwaitWithTimeout(
        [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return !state_->thread_started || state_->thread_done;
        },
        kDrainGrace);
  }
  if (!thread_.joinable()) return;
  if (done) {
    thread_.join();
  } else {
    thread_.detach();  // stuck in the sink; it holds its own State
  }
}

size_t ConsoleOutput::Write(absl::string_view bytes, absl::Duration max_wait) {
  State& s = *state_;
  if (!s.sink) return bytes.size();  // nobody listens: discard at once
  MutexLock lock(&s.mu);
  if (s.stop) return bytes.size();
  if (!s.thread_started) {
    absl::StatusOr<std::thread> thread =
        StartThread("console output", [state = state_] { Loop(state); });
    // Without a thread there is nobody to deliver: the output is lost, as
    // on a serial line without a receiver, but the guest goes on.
    if (!thread.ok()) return bytes.size();
    thread_ = *std::move(thread);
    s.thread_started = true;
  }
  const uint64_t interrupts = s.interrupts;
  s.mu.AwaitWithTimeout(
      [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return s.queued.size() < s.capacity || s.interrupts != interrupts ||
               s.stop;
      },
      max_wait);
  if (s.stop) return bytes.size();
  const size_t room = s.capacity - std::min(s.capacity, s.queued.size());
  const size_t n = std::min(bytes.size(), room);
  s.queued.append(bytes.data(), n);
  s.written += n;
  return n;
}

void ConsoleOutput::Interrupt() {
  MutexLock lock(&state_->mu);
  ++state_->interrupts;
}

bool ConsoleOutput::AwaitDelivered(absl::Duration timeout) {
  State& s = *state_;
  MutexLock lock(&s.mu);
  const uint64_t target = s.written;
  return s.mu.AwaitWithTimeout(
      [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return s.delivered >= target; },
      timeout);
}

void ConsoleOutput::Loop(std::shared_ptr<State> state) {
  pthread_setname_np(pthread_self(), "hvbios-console");
  State& s = *state;
  std::string batch;
  batch.reserve(s.capacity);  // swapped with the queue: both keep room
  MutexLock lock(&s.mu);
  for (;;) {
    s.mu.Await([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return !s.queued.empty() || s.stop;
    });
    if (s.queued.empty()) break;  // stopping, and everything delivered
    batch.swap(s.queued);
    s.queued.clear();
    s.mu.Unlock();
    {
      CallbackScope in_callback;
      s.sink(batch);
    }
    s.mu.Lock();
    s.delivered += batch.size();
  }
  s.thread_done = true;
}

}  // namespace hvbios
