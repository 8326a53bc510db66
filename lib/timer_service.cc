#include "lib/timer_service.h"

#include <pthread.h>

#include <algorithm>

namespace hvbios {

TimerService::TimerService(std::chrono::steady_clock::time_point epoch,
                           FireFn fire)
    : epoch_(epoch), fire_(std::move(fire)) {}

TimerService::~TimerService() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void TimerService::Set(uint32_t vcpu, uint64_t deadline_ns, uint8_t vector) {
  // Far-future deadlines saturate at ~146 years: never, in practice, and
  // safe from overflow in the clock arithmetic.
  const uint64_t capped = std::min<uint64_t>(deadline_ns, uint64_t{1} << 62);
  {
    std::lock_guard<std::mutex> lock(mu_);
    armed_[vcpu] = {epoch_ + std::chrono::nanoseconds(capped), vector};
    if (!thread_.joinable()) thread_ = std::thread(&TimerService::Loop, this);
  }
  changed_.notify_all();
}

void TimerService::Cancel(uint32_t vcpu) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    armed_.erase(vcpu);
  }
  changed_.notify_all();
}

void TimerService::Loop() {
  pthread_setname_np(pthread_self(), "hvbios-timers");
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (armed_.empty()) {
      changed_.wait(lock);
      continue;
    }
    auto next = std::min_element(armed_.begin(), armed_.end(),
                                 [](const auto& a, const auto& b) {
                                   return a.second.deadline < b.second.deadline;
                                 });
    // A copy: waiting releases the lock, and Set/Cancel may then free the
    // map node that holds the deadline.
    const std::chrono::steady_clock::time_point deadline =
        next->second.deadline;
    if (std::chrono::steady_clock::now() < deadline) {
      changed_.wait_until(lock, deadline);
      continue;  // re-evaluate: woken early, re-armed or cancelled
    }
    const uint32_t vcpu = next->first;
    const uint8_t vector = next->second.vector;
    armed_.erase(next);
    lock.unlock();
    fire_(vcpu, vector);
    lock.lock();
  }
}

}  // namespace hvbios
