/* hello: the smallest useful hvbios guest. Prints a greeting with the ABI
 * version and the monotonic clock, its command line and memory, then shuts
 * down with code 0. The same image runs on every hvbios backend. */
#include "hvbios/guest/hvb.h"

int hvb_main(const struct hvb_boot_info *boot) {
  const uint32_t abi = hvb_base_abi_version();
  const uint64_t now = hvb_clock_monotonic_ns();
  hvb_printf(
      "Hello from an hvbios guest! ABI %u.%u, implementation %u, "
      "%u vCPU(s)\n",
      abi >> 16, abi & 0xffff, hvb_base_impl_id(), boot->vcpu_count);
  hvb_printf("monotonic clock: %lu.%09lu s since the platform started\n",
             now / 1000000000ul, now % 1000000000ul);

  uint64_t usable = 0;
  const struct hvb_mem_region *map =
      (const struct hvb_mem_region *)(uintptr_t)boot->mem_map;
  for (uint32_t i = 0; i < boot->mem_map_count; ++i) {
    if (map[i].type == HVB_MEM_USABLE) usable += map[i].length;
  }
  hvb_printf("usable memory: %lu KiB in a %u-entry memory map\n", usable >> 10,
             boot->mem_map_count);
  if (boot->cmdline_length > 0) {
    hvb_printf("command line: %s\n", (const char *)(uintptr_t)boot->cmdline);
  }
  return 0;
}
