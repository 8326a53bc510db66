/* The memory service's wrappers and identity mapping of memory the boot
 * page tables do not cover (hvb.h, "memory"). */
#include "hvbios/guest/hvb.h"

uint64_t hvb_memory_generation(void) {
  return hvb_call0(HVB_FN_MEMORY_GENERATION).value;
}

hvb_status hvb_memory_read_map(struct hvb_mem_region *out, uint32_t capacity,
                               uint32_t *count) {
  for (;;) {
    const uint64_t before = hvb_memory_generation();
    const struct hvb_result r =
        hvb_call2(HVB_FN_MEMORY_READ_MAP, hvb_virt_to_phys(out), capacity);
    if (r.status != HVB_OK) return r.status;
    if (hvb_memory_generation() == before) {
      *count = (uint32_t)r.value;
      return HVB_OK;
    }
  }
}

enum {
  kPresent = 1u << 0,
  kWritable = 1u << 1,
  kWriteThrough = 1u << 3,
  kCacheDisable = 1u << 4,
  kLargePage = 1u << 7,
  kPoolPages = 16,
};
static const uint64_t kAddressMask = 0x000ffffffffff000ull;
static const uint64_t kLarge = 2ull << 20;

/* Page-table pages for new mappings: the SDK's own RAM (IMAGE). */
static uint64_t g_pool[kPoolPages][512] __attribute__((aligned(4096)));
static uint32_t g_pool_used;

/* The table entry `e` points to, made (empty) if absent; 0 if the pool is
 * used up or `e` maps a large page (nothing to descend into). */
static uint64_t *next_table(uint64_t *e) {
  if (*e & kPresent) {
    if (*e & kLargePage) return 0;
    return (uint64_t *)(uintptr_t)(*e & kAddressMask);
  }
  if (g_pool_used == kPoolPages) return 0;
  uint64_t *table = g_pool[g_pool_used++];
  memset(table, 0, 4096);
  *e = hvb_virt_to_phys(table) | kPresent | kWritable;
  return table;
}

hvb_status hvb_map_identity(uint64_t base, uint64_t size, int uncached) {
  if (size == 0 || base + size < base || base + size > (1ull << 39)) {
    return HVB_ERR_INVAL;
  }
  uint64_t cr3;
  __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
  uint64_t *pml4 = (uint64_t *)(uintptr_t)(cr3 & kAddressMask);
  const uint64_t end = (base + size + kLarge - 1) & ~(kLarge - 1);
  for (uint64_t at = base & ~(kLarge - 1); at < end; at += kLarge) {
    uint64_t *pdpt = next_table(&pml4[(at >> 39) & 511]);
    if (pdpt == 0) return HVB_ERR_NOMEM;
    const uint64_t pdpte = pdpt[(at >> 30) & 511];
    if ((pdpte & kPresent) && (pdpte & kLargePage)) continue; /* 1 GiB */
    uint64_t *pd = next_table(&pdpt[(at >> 30) & 511]);
    if (pd == 0) return HVB_ERR_NOMEM;
    uint64_t *pde = &pd[(at >> 21) & 511];
    if (*pde & kPresent) continue; /* mapped already, leave it */
    *pde = at | kPresent | kWritable | kLargePage |
           (uncached ? kCacheDisable | kWriteThrough : 0);
  }
  /* New entries only replace absent ones, which the TLB does not cache
   * (SDM Vol. 3A, 4.10.2.3); reloading cr3 is cheap insurance. */
  __asm__ volatile("mov %0, %%cr3" : : "r"(cr3) : "memory");
  return HVB_OK;
}

const struct hvb_device *hvb_find_device(uint32_t type, uint32_t id) {
  const struct hvb_boot_info *boot = hvb_boot_info();
  const struct hvb_device *devices =
      (const struct hvb_device *)(uintptr_t)boot->devices;
  for (uint32_t i = 0; i < boot->device_count; ++i) {
    if (devices[i].type == type && devices[i].id == id) return &devices[i];
  }
  return 0;
}
