#include "lib/services/timer.h"

#include <pthread.h>

#include <algorithm>

#include "lib/services/services.h"
#include "lib/threads.h"

namespace hvbios {

TimerService::TimerService(std::chrono::steady_clock::time_point epoch,
                           uint32_t vcpu_count, FireFn fire)
    : epoch_(epoch), fire_(std::move(fire)), armed_(vcpu_count) {}

TimerService::~TimerService() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool TimerService::Set(uint32_t vcpu, uint64_t deadline_ns, uint8_t vector) {
  // Far-future deadlines saturate at ~146 years: never, in practice, and
  // safe from overflow in the clock arithmetic.
  const uint64_t capped = std::min<uint64_t>(deadline_ns, uint64_t{1} << 62);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!thread_.joinable()) {
      absl::StatusOr<std::thread> thread =
          StartThread("timer", [this] { Loop(); });
      if (!thread.ok()) return false;
      thread_ = *std::move(thread);
    }
    armed_[vcpu] = {true, epoch_ + std::chrono::nanoseconds(capped), vector};
  }
  changed_.notify_all();
  return true;
}

void TimerService::Cancel(uint32_t vcpu) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    armed_[vcpu].armed = false;
  }
  changed_.notify_all();
}

void TimerService::Loop() {
  pthread_setname_np(pthread_self(), "hvbios-timers");
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    uint32_t next = UINT32_MAX;
    for (uint32_t vcpu = 0; vcpu < armed_.size(); ++vcpu) {
      if (armed_[vcpu].armed &&
          (next == UINT32_MAX ||
           armed_[vcpu].deadline < armed_[next].deadline)) {
        next = vcpu;
      }
    }
    if (next == UINT32_MAX) {
      changed_.wait(lock);
      continue;
    }
    const std::chrono::steady_clock::time_point deadline =
        armed_[next].deadline;
    if (std::chrono::steady_clock::now() < deadline) {
      changed_.wait_until(lock, deadline);
      continue;  // re-evaluate: woken early, re-armed or cancelled
    }
    const uint8_t vector = armed_[next].vector;
    armed_[next].armed = false;
    lock.unlock();
    fire_(next, vector);
    lock.lock();
  }
}

// ---- The timer service's hypercalls ----------------------------------------

template <>
HypercallResult Handle<HVB_FN_TIMER_SET>(ServiceCall& call) {
  if (!hvb_event_vector_ok(call.arg[1])) return Error(HVB_ERR_INVAL);
  return call.services.timers().Set(call.caller, call.arg[0],
                                    static_cast<uint8_t>(call.arg[1]))
             ? Ok()
             : Error(HVB_ERR_NOMEM);
}
template <>
HypercallResult Handle<HVB_FN_TIMER_CANCEL>(ServiceCall& call) {
  call.services.timers().Cancel(call.caller);
  return Ok();
}

HVB_DEFINE_MODULE(TIMER, "timer")

}  // namespace hvbios
