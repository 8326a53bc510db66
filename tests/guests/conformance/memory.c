/* Conformance: every buffer a hypercall names is the guest's own RAM
 * (docs/abi.md 3.1): USABLE, BOOT or IMAGE in the memory map. Page 0, the
 * platform's pages (hypercall and clock pages, firmware) and holes get
 * HVB_ERR_FAULT, for input and output buffers alike, and the platform's
 * memory is never written. */
#include "conformance.h"

/* Whether console read and write, and rng's fill where the platform has
 * one (docs/abi.md 5.11), all refuse buf. */
static int refused(uint64_t buf, uint64_t len) {
  return (!hvb_base_probe(HVB_FN_RNG_FILL) ||
          hvb_call2(HVB_FN_RNG_FILL, buf, len).status == HVB_ERR_FAULT) &&
         hvb_call2(HVB_FN_CONSOLE_READ, buf, len).status == HVB_ERR_FAULT &&
         hvb_call2(HVB_FN_CONSOLE_WRITE, buf, len).status == HVB_ERR_FAULT;
}

void test_platform_memory(const struct hvb_boot_info *boot) {
  const struct hvb_mem_region *map =
      (const struct hvb_mem_region *)(uintptr_t)boot->mem_map;
  CHECK("memory.null_pointer", refused(0, 8), "a buffer at address 0 worked");
  const uint64_t hc = boot->hypercall_page;
  CHECK("memory.hypercall_page", refused(hc + 0x800, 8) && refused(hc, 64),
        "a buffer in the hypercall page worked");
  CHECK("memory.straddles_into_the_platform", refused(hc - 8, 16),
        "a buffer ending in the hypercall page worked");
  if (boot->clock_page != 0) {
    CHECK("memory.clock_page", refused(boot->clock_page, 8),
          "a buffer in the clock page worked");
  }
  /* Every platform-owned region, at both ends: on bare metal that is the
   * firmware itself (its code, stacks and state). */
  int platform = 1, reserved = 1, boot_ok = 0;
  uint64_t last_boot = 0, cr3;
  __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
  cr3 &= ~0xfffull;
  for (uint32_t i = 0; i < boot->mem_map_count; ++i) {
    const uint64_t base = map[i].base, end = base + map[i].length;
    if (map[i].type == HVB_MEM_PLATFORM) {
      platform = platform && refused(base, 8) && refused(end - 8, 8);
    } else if (map[i].type == HVB_MEM_RESERVED) {
      reserved = reserved && refused(base, 8) && refused(end - 8, 8);
    } else if (map[i].type == HVB_MEM_BOOT && !(base <= cr3 && cr3 < end)) {
      last_boot = base;
    }
  }
  CHECK("memory.platform_regions", platform, "a platform region took data");
  CHECK("memory.reserved_regions", reserved, "a reserved region took data");
  /* Boot memory is the guest's: the bottom of the boot stack (the last
   * BOOT region on both platforms that does not hold the page tables this
   * vCPU still runs on), long unused, takes random bytes, or console
   * input (none is waiting by now) without rng. */
  if (last_boot != 0) {
    const uint32_t writer =
        hvb_base_probe(HVB_FN_RNG_FILL) ? HVB_FN_RNG_FILL : HVB_FN_CONSOLE_READ;
    boot_ok = hvb_call2(writer, last_boot, 8).status == HVB_OK;
  }
  CHECK("memory.boot_regions_are_the_guests", last_boot != 0 && boot_ok,
        "boot region at %lx", last_boot);
  /* Other calls obey the same rule: a vCPU's stack, a ring. */
  struct hvb_result r = hvb_call6(
      HVB_FN_VCPU_START, 0, hvb_virt_to_phys(scratch), hc + 0x1000, 0, 0, 0);
  CHECK_STATUS("memory.vcpu_stack_in_the_hypercall_page", r, HVB_ERR_FAULT);
  const struct hvb_device *devices =
      (const struct hvb_device *)(uintptr_t)boot->devices;
  for (uint32_t i = 0; i < boot->device_count; ++i) {
    if (devices[i].type != HVB_DEV_BLOCK) continue;
    r = hvb_call6(HVB_FN_BLOCK_QUEUE_SETUP, devices[i].id, hc, 1, 0, 0, 0);
    CHECK_STATUS("memory.ring_over_the_hypercall_page", r, HVB_ERR_FAULT);
    r = hvb_call2(HVB_FN_BLOCK_INFO, devices[i].id, hc + 0x100);
    CHECK_STATUS("memory.block_info_into_the_hypercall_page", r, HVB_ERR_FAULT);
    r = hvb_call6(HVB_FN_BLOCK_READ, devices[i].id, 0, 1, hc, 0, 0);
    CHECK_STATUS("memory.block_read_into_the_hypercall_page", r, HVB_ERR_FAULT);
    break;
  }
}

/* memory (docs/abi.md 5.14): the map as it is now, and its generation. At
 * boot both platforms answer with the boot map. */
void test_memory_service(const struct hvb_boot_info *boot) {
  const struct hvb_mem_region *map =
      (const struct hvb_mem_region *)(uintptr_t)boot->mem_map;
  const uint64_t generation = hvb_memory_generation();
  CHECK("memory.generation_is_the_boot_infos",
        generation == boot->mem_map_generation, "%lu, boot info says %lu",
        generation, boot->mem_map_generation);
  /* Room for the whole map and one more entry, which must stay as it was. */
  static struct hvb_mem_region copy[64];
  const uint32_t n = boot->mem_map_count < 63 ? boot->mem_map_count : 63;
  memset(copy, 0xa5, sizeof(copy));
  struct hvb_result r =
      hvb_call2(HVB_FN_MEMORY_READ_MAP, hvb_virt_to_phys(copy), n + 1);
  int same = r.status == HVB_OK && r.value == boot->mem_map_count;
  for (uint32_t i = 0; same && i < n; ++i) {
    same = copy[i].base == map[i].base && copy[i].length == map[i].length &&
           copy[i].type == map[i].type;
  }
  CHECK("memory.read_map_is_the_boot_map", same,
        "status %ld, %lu entries, boot map has %u", (long)r.status, r.value, n);
  /* A short buffer gets what fits, and the whole count. */
  memset(copy, 0xa5, sizeof(copy));
  r = hvb_call2(HVB_FN_MEMORY_READ_MAP, hvb_virt_to_phys(copy), 1);
  const uint8_t *after = (const uint8_t *)&copy[1];
  CHECK("memory.read_map_stops_at_capacity",
        r.status == HVB_OK && r.value == boot->mem_map_count &&
            copy[0].base == map[0].base && after[0] == 0xa5 &&
            after[sizeof(copy[1]) - 1] == 0xa5,
        "status %ld, value %lu", (long)r.status, r.value);
  r = hvb_call2(HVB_FN_MEMORY_READ_MAP, 0, 0);
  CHECK("memory.read_map_counts_without_a_buffer",
        r.status == HVB_OK && r.value == boot->mem_map_count,
        "status %ld, value %lu", (long)r.status, r.value);
  r = hvb_call2(HVB_FN_MEMORY_READ_MAP, boot->hypercall_page, 1);
  CHECK_STATUS("memory.read_map_into_the_platform", r, HVB_ERR_FAULT);
  r = hvb_call2(HVB_FN_MEMORY_READ_MAP, 0, 1);
  CHECK_STATUS("memory.read_map_to_null", r, HVB_ERR_FAULT);
  /* The "memory map changed" source exists everywhere, even where the
   * map never changes. */
  r = hvb_call6(HVB_FN_EVENT_ROUTE, HVB_EVENT_SRC_MEMORY_MAP, 0, kTestVector, 0,
                0, 0);
  CHECK_STATUS("memory.map_changes_are_an_event_source", r, HVB_OK);
  hvb_call1(HVB_FN_EVENT_MASK, HVB_EVENT_SRC_MEMORY_MAP);
}
