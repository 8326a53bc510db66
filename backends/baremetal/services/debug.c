/* debug (docs/abi.md 5.5): the call path itself. */
#include "firmware.h"
#include "services/services.h"

struct fw_result fw_debug_null(const uint64_t *args) {
  (void)args;
  return fw_ok(0);
}
struct fw_result fw_debug_echo(const uint64_t *args) {
  return fw_ok(args[0] ^ args[1] ^ args[2] ^ args[3] ^ args[4] ^ args[5]);
}
