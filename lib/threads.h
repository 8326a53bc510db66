// Starting library threads without exceptions, and marking the code the
// library runs on behalf of an embedder (its callbacks).
#ifndef HVBIOS_LIB_THREADS_H_
#define HVBIOS_LIB_THREADS_H_

#include <system_error>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace hvbios {

// std::thread reports a failed pthread_create (e.g. EAGAIN under a thread
// limit) by throwing; the library reports it as a status instead, so no
// exception ever reaches an embedder (or crosses the C API).
template <typename F>
absl::StatusOr<std::thread> StartThread(absl::string_view what, F&& body) {
  try {
    return std::thread(std::forward<F>(body));
  } catch (const std::system_error& e) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot start the ", what, " thread: ", e.what()));
  }
}

// While one exists on a thread, that thread is running an embedder's
// callback (console output, a disk's functions, ...). The library's calls
// that wait for vCPUs or for library threads refuse to run there
// (FailedPrecondition) instead of deadlocking: the thread they would wait
// for may be the caller's own, or be waiting for it.
class CallbackScope {
 public:
  CallbackScope() { ++depth_; }
  ~CallbackScope() { --depth_; }
  CallbackScope(const CallbackScope&) = delete;
  CallbackScope& operator=(const CallbackScope&) = delete;

  static bool Active() { return depth_ > 0; }

 private:
  // Defined here, constant-initialized: code in other files then reaches it
  // directly, not through GCC's TLS init wrapper for an extern
  // thread_local, whose path UBSan reported as a null load in ASan builds
  // (on a vCPU thread serving a device access).
  static inline constinit thread_local int depth_ = 0;
};

// FailedPrecondition naming `call` if the calling thread is inside a
// callback (CallbackScope), OK otherwise.
absl::Status RefuseInsideCallback(absl::string_view call);

}  // namespace hvbios

#endif  // HVBIOS_LIB_THREADS_H_
