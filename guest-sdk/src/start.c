/* hvbios guest SDK: the C half of the default start file (start.S). */
#include "hvbios/guest/hvb.h"

/* Called by start.S on the SDK's stack. */
__attribute__((noreturn)) void hvb_start_c(const struct hvb_boot_info *boot);
void hvb_start_c(const struct hvb_boot_info *boot) {
  /* Without a valid boot info there is no hypercall page to report
   * through; halting makes the VMM report the vCPU as stuck. */
  if (hvb_init(boot) != HVB_OK) hvb_halt_forever();
  int code = hvb_main(boot);
  hvb_power_shutdown((uint32_t)code & 0xffu);
  hvb_halt_forever();
}
