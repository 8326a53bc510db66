// hvbios::Mutex: a mutex with absl::Mutex-style Await, built on
// std::mutex and std::condition_variable.
//
// Why not absl::Mutex: Debian's Abseil is a shared library built without
// ThreadSanitizer, so TSan cannot see absl::Mutex's synchronization and
// reports every field it guards as racy. std::mutex is pthread_mutex, which
// TSan intercepts. The thread-safety annotations are Abseil's, so clang's
// -Wthread-safety analysis and ABSL_GUARDED_BY work as with absl::Mutex.
#ifndef HVBIOS_INTERNAL_MUTEX_H_
#define HVBIOS_INTERNAL_MUTEX_H_

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"

namespace hvbios {

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  // Waiters re-check their conditions after every unlock, as with
  // absl::Mutex (a broadcast with no waiters costs no system call).
  void Unlock() ABSL_UNLOCK_FUNCTION() {
    mu_.unlock();
    cv_.notify_all();
  }

  // Blocks until `condition()` holds. Held on entry and on return.
  //
  // Like absl::Mutex, waiters re-check their conditions whenever the mutex
  // is released, including the release inside Await itself: the caller may
  // have changed what others wait for before blocking, so entering a wait
  // notifies once. Re-checks after a wake-up do not notify (two waiters
  // would otherwise wake each other forever).
  template <typename Condition>
  void Await(Condition condition) ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    if (condition()) return;
    std::unique_lock<std::mutex> lock(mu_, std::adopt_lock);
    cv_.notify_all();
    cv_.wait(lock, condition);
    lock.release();
  }

  // As Await, for at most `timeout`; returns whether `condition()` holds.
  template <typename Condition>
  bool AwaitWithTimeout(Condition condition, absl::Duration timeout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    // Beyond a century, a wait is a wait forever: std::chrono's clocks
    // would overflow adding the timeout to now (and then not wait at all).
    if (timeout > absl::Hours(24 * 365 * 100)) {
      Await(condition);
      return true;
    }
    if (condition()) return true;
    std::unique_lock<std::mutex> lock(mu_, std::adopt_lock);
    cv_.notify_all();
    const bool met = cv_.wait_for(
        lock,
        absl::ToChronoNanoseconds(std::max(timeout, absl::ZeroDuration())),
        condition);
    lock.release();
    return met;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
};

class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->Lock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }

 private:
  Mutex* const mu_;
};

// A reader-writer lock (std::shared_mutex: a pthread rwlock, which TSan
// intercepts, with no ordering between readers, as for the real lock).
// glibc's default prefers readers: a reader never waits behind a waiting
// writer, so a thread holding the shared side may wait for another that
// needs it too without a writer deadlocking them; a writer waits until no
// reader is left. Shared ownership may nest.
class ABSL_LOCKABLE SharedMutex {
 public:
  SharedMutex() = default;
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }
  void ReaderLock() ABSL_SHARED_LOCK_FUNCTION() { mu_.lock_shared(); }
  void ReaderUnlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock_shared(); }

 private:
  std::shared_mutex mu_;
};

class ABSL_SCOPED_LOCKABLE WriterLock {
 public:
  explicit WriterLock(SharedMutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu)
      : mu_(mu) {
    mu_->Lock();
  }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;
  ~WriterLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }

 private:
  SharedMutex* const mu_;
};

class ABSL_SCOPED_LOCKABLE ReaderLock {
 public:
  explicit ReaderLock(SharedMutex* mu) ABSL_SHARED_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->ReaderLock();
  }
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;
  ~ReaderLock() ABSL_UNLOCK_FUNCTION() { mu_->ReaderUnlock(); }

 private:
  SharedMutex* const mu_;
};

}  // namespace hvbios

#endif  // HVBIOS_INTERNAL_MUTEX_H_
