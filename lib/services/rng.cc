// rng (docs/abi.md 5.11): random bytes from the host kernel's CSPRNG.
#include <sys/random.h>

#include <algorithm>
#include <cerrno>

#include "lib/services/services.h"

namespace hvbios {

template <>
HypercallResult Handle<HVB_FN_RNG_FILL>(ServiceCall& call) {
  const uint64_t length = std::min<uint64_t>(call.arg[1], HVB_RNG_MAX_FILL);
  if (length == 0) return Ok(0);
  uint8_t* dst = call.ctx.memory().GuestBufferToWrite(call.arg[0], length);
  if (dst == nullptr) return Error(HVB_ERR_FAULT);
  size_t done = 0;
  while (done < length) {
    ssize_t n;
    {
      GuestMemory::DeviceAccess dma;
      n = getrandom(dst + done, length - done, 0);
    }
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  return done > 0 ? Ok(done) : Error(HVB_ERR_IO);
}

HVB_DEFINE_MODULE(RNG, "rng")

}  // namespace hvbios
