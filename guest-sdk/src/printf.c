/* hvbios guest SDK: formatted console output (the formatting itself is
 * common/format.c, shared with the firmware). */
#include "hvbios/guest/hvb.h"

/* One console.write per call when the text fits the buffer: every
 * hypercall is an exit, so output is never written a character at a time. */
int hvb_printf(const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = hvb_vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  if (n < 0) return n;
  size_t length = (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1;
  hvb_status st = hvb_console_write(buf, length);
  return st == HVB_OK ? (int)length : (int)st;
}

void hvb_panic(uint32_t code, const char *fmt, ...) {
  /* Static: a panic may come from a stack that is the problem. */
  static char message[HVB_PANIC_MAX_MESSAGE + 1];
  va_list ap;
  va_start(ap, fmt);
  int n = hvb_vsnprintf(message, sizeof(message), fmt, ap);
  va_end(ap);
  size_t length = n < 0 ? 0 : (size_t)n;
  if (length > HVB_PANIC_MAX_MESSAGE) length = HVB_PANIC_MAX_MESSAGE;
  hvb_call6(HVB_FN_DEBUG_PANIC, code, hvb_virt_to_phys(message), length, 0, 0,
            0);
  /* Still here: a platform before 0.9 (or a code > 255). */
  hvb_printf("panic: %s\n", message);
  hvb_power_shutdown(code);
  hvb_halt_forever();
}
