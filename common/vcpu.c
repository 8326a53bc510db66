/* vcpu.start's checks: common/vcpu.h. */
#include "common/vcpu.h"

#include "common/memmap.h"
#include "hvbios/abi/status.h"

int64_t hvb_vcpu_check_start(const struct hvb_mem_region *map,
                             uint32_t map_count, uint32_t vcpu_count,
                             uint64_t id, uint64_t entry, uint64_t stack,
                             uint64_t cr3) {
  if (id >= vcpu_count) return HVB_ERR_NODEV;
  if (!hvb_memmap_guest_owns(map, map_count, entry, 1)) return HVB_ERR_FAULT;
  if (stack % 16 != 0) return HVB_ERR_INVAL;
  /* The first push writes the 8 bytes below the stack pointer. */
  if (stack < 8 || !hvb_memmap_guest_owns(map, map_count, stack - 8, 8)) {
    return HVB_ERR_FAULT;
  }
  if (cr3 != 0 &&
      (cr3 % 4096 != 0 || !hvb_memmap_guest_owns(map, map_count, cr3, 4096))) {
    return HVB_ERR_INVAL;
  }
  return HVB_OK;
}
