/* debug (docs/abi.md 5.5): the call path itself, and the guest's panic. */
#include "common/format.h"
#include "devices.h"
#include "firmware.h"
#include "services/services.h"

struct fw_result fw_debug_null(const uint64_t *args) {
  (void)args;
  return fw_ok(0);
}
struct fw_result fw_debug_echo(const uint64_t *args) {
  return fw_ok(args[0] ^ args[1] ^ args[2] ^ args[3] ^ args[4] ^ args[5]);
}

/* The guest's panic: one status line for hvbios-qemu (machine.c),
 *   panic CODE CPU RSP CR3 MESSAGE
 * with the caller's stack pointer before its call and page tables, which
 * fw_call saved above the arguments (hcpage.S: r9 r8 rcx rsi rdi, then the
 * guest's rsp below hcpage's three pushes and the return address, then its
 * cr3). The message is copied once, its control characters made spaces. */
struct fw_result fw_debug_panic(const uint64_t *args) {
  const uint64_t code = args[0], message = args[1], length = args[2];
  if (code > 255 || length > HVB_PANIC_MAX_MESSAGE) {
    return fw_error(HVB_ERR_INVAL);
  }
  if (length > 0 && !fw_guest_owns(message, length)) {
    return fw_error(HVB_ERR_FAULT);
  }
  const uint64_t caller_rsp = args[11] + 4 * 8, caller_cr3 = args[12];
  static char line[HVB_PANIC_MAX_MESSAGE + 96];
  int n = hvb_snprintf(line, sizeof(line), "panic %u %u 0x%lx 0x%lx ",
                       (unsigned)code, this_cpu(), caller_rsp, caller_cr3);
  const char *text = (const char *)(uintptr_t)message;
  for (uint64_t i = 0; i < length && n + 1 < (int)sizeof(line); ++i) {
    const char c = text[i];
    line[n++] = ((unsigned char)c < 0x20 || c == 0x7f) ? ' ' : c;
  }
  line[n] = '\0';
  machine_exit(line);
}
