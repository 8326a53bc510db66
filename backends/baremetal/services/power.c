/* power (docs/abi.md 5.4): the status line tells hvbios-qemu how the
 * machine ended (machine.c). */
#include "common/format.h"
#include "devices.h"
#include "firmware.h"
#include "services/services.h"

struct fw_result fw_power_shutdown(const uint64_t *args) {
  if (args[0] > 255) return fw_error(HVB_ERR_INVAL);
  char line[16];
  hvb_snprintf(line, sizeof(line), "shutdown %u", (unsigned)args[0]);
  machine_exit(line);
}
struct fw_result fw_power_reboot(const uint64_t *args) {
  (void)args;
  machine_reboot();
}
