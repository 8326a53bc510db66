// The timer service (docs/abi.md 5.7): one-shot deadlines, at most one per
// vCPU, fired on a library thread. The host keeps time itself: deadlines
// written into a guest's TSC-deadline MSR by the host were occasionally
// lost on our machines (docs/architecture.md).
#ifndef HVBIOS_LIB_SERVICES_TIMER_H_
#define HVBIOS_LIB_SERVICES_TIMER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace hvbios {

class TimerService {
 public:
  // Called on the timer thread when vCPU `vcpu`'s deadline passes.
  using FireFn = std::function<void(uint32_t vcpu, uint8_t vector)>;

  // Deadlines are nanoseconds after `epoch` (the VM's clock.monotonic
  // zero) on CLOCK_MONOTONIC, which std::chrono::steady_clock reads; one
  // for each of vCPUs 0 .. vcpu_count - 1.
  TimerService(std::chrono::steady_clock::time_point epoch, uint32_t vcpu_count,
               FireFn fire);
  TimerService(const TimerService&) = delete;
  TimerService& operator=(const TimerService&) = delete;
  // Stops the thread; no callback runs after it returns.
  ~TimerService();

  // Arms (or re-arms) `vcpu`'s deadline. Any thread. False if the timer
  // thread could not be started.
  bool Set(uint32_t vcpu, uint64_t deadline_ns, uint8_t vector);
  // Disarms `vcpu`'s deadline, if armed. Any thread.
  void Cancel(uint32_t vcpu);

 private:
  struct Armed {
    bool armed = false;
    std::chrono::steady_clock::time_point deadline;
    uint8_t vector = 0;
  };
  void Loop();

  const std::chrono::steady_clock::time_point epoch_;
  const FireFn fire_;
  std::mutex mu_;
  std::condition_variable changed_;
  // By vCPU id: a fixed table, so that arming allocates nothing.
  std::vector<Armed> armed_;  // guarded by mu_
  bool stop_ = false;         // guarded by mu_
  std::thread thread_;        // started by the first Set()
};

}  // namespace hvbios

#endif  // HVBIOS_LIB_SERVICES_TIMER_H_
