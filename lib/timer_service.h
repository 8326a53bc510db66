// One-shot deadlines, at most one per vCPU, fired on a library thread (the
// timer service of docs/abi.md).
#ifndef HVBIOS_LIB_TIMER_SERVICE_H_
#define HVBIOS_LIB_TIMER_SERVICE_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace hvbios {

class TimerService {
 public:
  // Called on the timer thread when vCPU `vcpu`'s deadline passes.
  using FireFn = std::function<void(uint32_t vcpu, uint8_t vector)>;

  // Deadlines are nanoseconds after `epoch` (the VM's clock.monotonic
  // zero) on CLOCK_MONOTONIC, which std::chrono::steady_clock reads.
  TimerService(std::chrono::steady_clock::time_point epoch, FireFn fire);
  TimerService(const TimerService&) = delete;
  TimerService& operator=(const TimerService&) = delete;
  // Stops the thread; no callback runs after it returns.
  ~TimerService();

  // Arms (or re-arms) `vcpu`'s deadline. Any thread.
  void Set(uint32_t vcpu, uint64_t deadline_ns, uint8_t vector);
  // Disarms `vcpu`'s deadline, if armed. Any thread.
  void Cancel(uint32_t vcpu);

 private:
  struct Armed {
    std::chrono::steady_clock::time_point deadline;
    uint8_t vector;
  };
  void Loop();

  const std::chrono::steady_clock::time_point epoch_;
  const FireFn fire_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::map<uint32_t, Armed> armed_;  // guarded by mu_
  bool stop_ = false;                // guarded by mu_
  std::thread thread_;               // started by the first Set()
};

}  // namespace hvbios

#endif  // HVBIOS_LIB_TIMER_SERVICE_H_
