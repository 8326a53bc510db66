#include "lib/coarse_clock.h"

#include <set>
#include <thread>

#include "hvbios/internal/mutex.h"
#include "lib/clock.h"
#include "lib/threads.h"

namespace hvbios {

// The process's ticker: its thread runs while any word is registered and
// is joined when the last one goes (a process with no VM has no such
// thread). Each thread serves one generation: a thread whose generation
// has passed leaves at once, even if words came back meanwhile.
class CoarseClockTicker {
 public:
  static CoarseClockTicker& Get() {
    // Never destroyed: a VM may outlive static destruction at exit.
    static CoarseClockTicker* const ticker = new CoarseClockTicker;
    return *ticker;
  }

  absl::Status Add(CoarseClockWord* word) {
    MutexLock lock(&mu_);
    Store(*word, ClockNs(CLOCK_MONOTONIC));
    words_.insert(word);
    if (thread_.joinable()) return absl::OkStatus();
    const uint64_t generation = ++generation_;
    absl::StatusOr<std::thread> thread =
        StartThread("coarse clock", [this, generation] { Loop(generation); });
    if (!thread.ok()) {
      words_.erase(word);
      return thread.status();
    }
    thread_ = *std::move(thread);
    return absl::OkStatus();
  }

  void Remove(CoarseClockWord* word) {
    std::thread last;
    {
      MutexLock lock(&mu_);
      words_.erase(word);
      if (words_.empty() && thread_.joinable()) {
        ++generation_;
        last = std::move(thread_);
      }
    }
    if (last.joinable()) last.join();  // it wakes as the mutex is released
  }

 private:
  static void Store(const CoarseClockWord& word, uint64_t now_ns) {
    // Relaxed: the guest reads the word alone, and an aligned 8-byte store
    // is single-copy atomic on x86-64 (SDM vol. 3A, 9.1.1).
    __atomic_store_n(word.word_, now_ns - word.epoch_ns_, __ATOMIC_RELAXED);
  }

  void Loop(uint64_t generation) {
    MutexLock lock(&mu_);
    auto passed = [this, generation]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return generation != generation_;
    };
    while (!mu_.AwaitWithTimeout(passed, kCoarseClockPeriod)) {
      const uint64_t now_ns = ClockNs(CLOCK_MONOTONIC);
      for (const CoarseClockWord* word : words_) Store(*word, now_ns);
    }
  }

  Mutex mu_;
  std::set<CoarseClockWord*> words_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_ ABSL_GUARDED_BY(mu_);  // this generation's
};

absl::StatusOr<std::unique_ptr<CoarseClockWord>> CoarseClockWord::Register(
    uint64_t* word, uint64_t epoch_ns) {
  std::unique_ptr<CoarseClockWord> registration(
      new CoarseClockWord(word, epoch_ns));
  if (absl::Status s = CoarseClockTicker::Get().Add(registration.get());
      !s.ok()) {
    return s;
  }
  return registration;
}

CoarseClockWord::~CoarseClockWord() { CoarseClockTicker::Get().Remove(this); }

}  // namespace hvbios
