/* memory (docs/abi.md 5.14): a physical machine's map does not change
 * while the firmware runs: generation 0, the boot map. */
#include "common/memmap.h"
#include "firmware.h"
#include "services/services.h"

struct fw_result fw_memory_generation(const uint64_t *args) {
  (void)args;
  return fw_ok(0);
}

struct fw_result fw_memory_read_map(const uint64_t *args) {
  const int64_t n = hvb_memmap_read_check(g_platform.map, g_platform.map_count,
                                          args[0], args[1]);
  if (n < 0) return fw_error(n);
  memcpy((void *)(uintptr_t)args[0], g_platform.map,
         (uint64_t)n * sizeof(struct hvb_mem_region));
  return fw_ok(g_platform.map_count);
}
