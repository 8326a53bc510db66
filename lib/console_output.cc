#include "lib/console_output.h"

#include <pthread.h>

#include <algorithm>
#include <utility>

#include "lib/threads.h"

namespace hvbios {

ConsoleOutput::ConsoleOutput(Sink sink, size_t capacity)
    : sink_(std::move(sink)), capacity_(capacity) {}

ConsoleOutput::~ConsoleOutput() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

size_t ConsoleOutput::Write(absl::string_view bytes, absl::Duration max_wait) {
  if (!sink_) return bytes.size();  // nobody listens: discard at once
  MutexLock lock(&mu_);
  if (!thread_started_) {
    absl::StatusOr<std::thread> thread =
        StartThread("console output", [this] { Loop(); });
    // Without a thread there is nobody to deliver: the output is lost, as
    // on a serial line without a receiver, but the guest goes on.
    if (!thread.ok()) return bytes.size();
    thread_ = *std::move(thread);
    thread_started_ = true;
  }
  const uint64_t interrupts = interrupts_;
  mu_.AwaitWithTimeout(
      [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return queued_.size() < capacity_ || interrupts_ != interrupts || stop_;
      },
      max_wait);
  if (stop_) return bytes.size();
  const size_t n =
      std::min(bytes.size(), capacity_ - std::min(capacity_, queued_.size()));
  queued_.append(bytes.data(), n);
  written_ += n;
  return n;
}

void ConsoleOutput::Interrupt() {
  MutexLock lock(&mu_);
  ++interrupts_;
}

bool ConsoleOutput::AwaitDelivered(absl::Duration timeout) {
  MutexLock lock(&mu_);
  const uint64_t target = written_;
  return mu_.AwaitWithTimeout(
      [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return delivered_ >= target; },
      timeout);
}

void ConsoleOutput::Loop() {
  pthread_setname_np(pthread_self(), "hvbios-console");
  std::string batch;
  MutexLock lock(&mu_);
  for (;;) {
    mu_.Await([this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return !queued_.empty() || stop_;
    });
    if (queued_.empty()) return;  // stopping, and everything delivered
    batch.swap(queued_);
    queued_.clear();
    mu_.Unlock();
    {
      CallbackScope in_callback;
      sink_(batch);
    }
    mu_.Lock();
    delivered_ += batch.size();
  }
}

}  // namespace hvbios
