/* rng (docs/abi.md 5.11): RDRAND. Implemented (base.probe) only where the
 * CPU has it (dispatch.c). */
#include "firmware.h"
#include "services/services.h"

static int rdrand64(uint64_t *out) {
  /* Intel's guidance: retry a few times on a transient underflow. */
  for (int i = 0; i < 10; ++i) {
    unsigned char ok;
    __asm__ volatile("rdrand %0; setc %1" : "=r"(*out), "=qm"(ok));
    if (ok) return 1;
  }
  return 0;
}

struct fw_result fw_rng_fill(const uint64_t *args) {
  const uint64_t length =
      args[1] < HVB_RNG_MAX_FILL ? args[1] : HVB_RNG_MAX_FILL;
  if (length == 0) return fw_ok(0);
  if (!fw_guest_owns(args[0], length)) return fw_error(HVB_ERR_FAULT);
  uint8_t *dst = (uint8_t *)(uintptr_t)args[0];
  for (uint64_t done = 0; done < length;) {
    uint64_t word;
    if (!rdrand64(&word)) return fw_error(HVB_ERR_IO);
    const uint64_t n = length - done < 8 ? length - done : 8;
    memcpy(dst + done, &word, n);
    done += n;
  }
  return fw_ok(length);
}
