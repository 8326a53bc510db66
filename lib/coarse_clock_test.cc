#include "lib/coarse_clock.h"

#include <dirent.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "lib/clock.h"
#include "tests/test_util.h"

namespace hvbios {
namespace {

uint64_t Load(const uint64_t& word) {
  return __atomic_load_n(&word, __ATOMIC_RELAXED);
}

// Waits (at most 10 s: a loaded machine may deschedule the ticker) until
// `word` passes `value`.
bool Passes(const uint64_t& word, uint64_t value) {
  const absl::Time limit = absl::Now() + absl::Seconds(10);
  while (Load(word) <= value && absl::Now() < limit) {
    absl::SleepFor(absl::Microseconds(200));
  }
  return Load(word) > value;
}

TEST(CoarseClockWordTest, KeepsEveryWordCurrentOnItsOwnScale) {
  uint64_t a = 0, b = 0;
  const uint64_t now = ClockNs(CLOCK_MONOTONIC);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<CoarseClockWord> ra,
                       CoarseClockWord::Register(&a, 0));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<CoarseClockWord> rb,
                       CoarseClockWord::Register(&b, now));
  // Set at once, then kept moving; b counts from `now`, a from zero.
  EXPECT_GE(Load(a), now);
  EXPECT_LT(Load(b), Load(a));
  const uint64_t a0 = Load(a), b0 = Load(b);
  EXPECT_TRUE(Passes(a, a0));
  EXPECT_TRUE(Passes(b, b0));
  // Never ahead of the clock it follows.
  EXPECT_LE(Load(a), ClockNs(CLOCK_MONOTONIC));
  EXPECT_LE(Load(b), ClockNs(CLOCK_MONOTONIC) - now);
}

TEST(CoarseClockWordTest, AWordIsNotWrittenAfterItsRegistrationGoes) {
  uint64_t word = 0, other = 0;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<CoarseClockWord> keep,
                       CoarseClockWord::Register(&other, 0));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<CoarseClockWord> r,
                       CoarseClockWord::Register(&word, 0));
  r.reset();
  const uint64_t last = Load(word);
  // The ticker still runs (for `other`): several periods pass.
  const uint64_t other0 = Load(other);
  ASSERT_TRUE(Passes(other, other0));
  ASSERT_TRUE(Passes(other, Load(other)));
  EXPECT_EQ(Load(word), last);
}

int ThreadCount() {
  int count = 0;
  if (DIR* dir = opendir("/proc/self/task")) {
    while (dirent* entry = readdir(dir)) count += entry->d_name[0] != '.';
    closedir(dir);
  }
  return count;
}

// The thread ends (joined) with the last word and starts again with the
// next one: a process without VMs has no ticker thread.
TEST(CoarseClockWordTest, RegistrationsComeAndGo) {
  // After one thread has come and gone: a sanitizer's runtime may start a
  // thread of its own with the process's first.
  uint64_t warm_up = 0;
  ASSERT_OK(CoarseClockWord::Register(&warm_up, 0).status());
  absl::SleepFor(absl::Milliseconds(100));
  const int threads_before = ThreadCount();
  for (int round = 0; round < 20; ++round) {
    std::vector<uint64_t> words(4, 0);
    std::vector<std::unique_ptr<CoarseClockWord>> registrations;
    for (uint64_t& w : words) {
      ASSERT_OK_AND_ASSIGN(std::unique_ptr<CoarseClockWord> r,
                           CoarseClockWord::Register(&w, 0));
      registrations.push_back(std::move(r));
    }
    EXPECT_EQ(ThreadCount(), threads_before + 1);
    if (round % 5 == 0) {
      EXPECT_TRUE(Passes(words.back(), Load(words.back())));
    }
    registrations.clear();
    // Joined; the kernel may list an exited thread a moment longer.
    const absl::Time limit = absl::Now() + absl::Seconds(5);
    while (ThreadCount() != threads_before && absl::Now() < limit) {
      absl::SleepFor(absl::Microseconds(100));
    }
    EXPECT_EQ(ThreadCount(), threads_before);
  }
}

}  // namespace
}  // namespace hvbios
