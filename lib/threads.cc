#include "lib/threads.h"

namespace hvbios {

absl::Status RefuseInsideCallback(absl::string_view call) {
  if (!CallbackScope::Active()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      call,
      " was called from inside an hvbios callback (console output, a disk's "
      "functions, ...), where calls that wait for vCPUs or library threads "
      "could wait for the caller itself; make it from another thread"));
}

}  // namespace hvbios
