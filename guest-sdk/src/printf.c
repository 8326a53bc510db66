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
