/* Benchmark guest: debug.null through the hypercall page, forever, with
 * the SDK's inline call (no wrapper function). The host benchmark drives
 * the vCPU one exit at a time. */
#include "hvbios/guest/hvb.h"

int hvb_main(const struct hvb_boot_info *boot) {
  (void)boot;
  for (;;) hvb_call0(HVB_FN_DEBUG_NULL);
}
