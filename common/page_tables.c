/* The boot identity map: common/page_tables.h. Paging structures and bits
 * per SDM Vol. 3A 4.5 ("4-level paging"). */
#include "common/page_tables.h"

#include "common/memmap.h"

enum {
  kPresent = 1,
  kWritable = 2,
  kLargePage = 0x80,
};
#define kPage 0x1000ull
#define kLarge 0x200000ull
#define kGiB 0x40000000ull
#define kMapLimit (512ull * kGiB) /* one PDPT */

/* How an address range is mapped: 0 not at all, or its entry flags. */
static uint64_t flags_of(uint32_t type) {
  if (type == HVB_MEM_PLATFORM) return kPresent;
  /* ROM is writable here so that writes reach the platform, which drops
   * them (docs/abi.md 2.2), rather than faulting in the guest. */
  if (type == HVB_MEM_ROM) return kPresent | kWritable;
  if (hvb_memmap_type_is_guest(type)) return kPresent | kWritable;
  return 0;
}

/* The flags every byte of [base, end) maps with, or -1 if they differ. */
static int64_t uniform_flags(const struct hvb_mem_region *map, uint32_t count,
                             uint64_t base, uint64_t end) {
  int64_t flags = -1;
  uint64_t at = base;
  for (uint32_t i = 0; i < count && at < end; ++i) {
    const uint64_t region_end = map[i].base + map[i].length;
    if (region_end <= at) continue;
    if (map[i].base > at) { /* a hole: not mapped */
      if (flags > 0) return -1;
      flags = 0;
      at = map[i].base;
      if (at >= end) break;
    }
    const int64_t f = (int64_t)flags_of(map[i].type);
    if (flags >= 0 && f != flags) return -1;
    flags = f;
    at = region_end;
  }
  if (at < end) { /* past the last region: not mapped */
    if (flags > 0) return -1;
    flags = 0;
  }
  return flags;
}

struct builder {
  uint64_t *tables; /* NULL: count only */
  uint64_t gpa, capacity, used;
};

/* A fresh zeroed table; its guest-physical address, or 0 if out of room. */
static uint64_t new_table(struct builder *b) {
  if (b->used + kPage > b->capacity) return 0;
  const uint64_t gpa = b->gpa + b->used;
  if (b->tables) {
    uint64_t *t = b->tables + b->used / 8;
    for (int i = 0; i < 512; ++i) t[i] = 0;
  }
  b->used += kPage;
  return gpa;
}

static void set_entry(struct builder *b, uint64_t table_gpa, uint64_t index,
                      uint64_t value) {
  if (b->tables) b->tables[(table_gpa - b->gpa) / 8 + index] = value;
}

uint64_t hvb_page_tables_build(void *tables, uint64_t tables_gpa,
                               uint64_t capacity,
                               const struct hvb_mem_region *map,
                               uint32_t count) {
  struct builder b = {(uint64_t *)tables, tables_gpa, capacity, 0};
  const uint64_t pml4 = new_table(&b);
  const uint64_t pdpt = new_table(&b);
  if (pml4 == 0 || pdpt == 0) return 0;
  set_entry(&b, pml4, 0, pdpt | kPresent | kWritable);
  uint64_t top = 0;
  for (uint32_t i = 0; i < count; ++i) {
    if (map[i].base + map[i].length > top) top = map[i].base + map[i].length;
  }
  if (top > kMapLimit) top = kMapLimit;
  uint64_t pd = 0; /* the page directory of the current GiB, when it has one */
  uint64_t pd_gib = ~0ull;
  for (uint64_t range = 0; range < top; range += kLarge) {
    const int64_t flags = uniform_flags(map, count, range, range + kLarge);
    if (flags == 0) continue;
    if (range / kGiB != pd_gib) {
      pd_gib = range / kGiB;
      pd = new_table(&b);
      if (pd == 0) return 0;
      set_entry(&b, pdpt, pd_gib, pd | kPresent | kWritable);
    }
    const uint64_t pd_index = (range % kGiB) / kLarge;
    if (flags > 0) {
      set_entry(&b, pd, pd_index, range | (uint64_t)flags | kLargePage);
      continue;
    }
    /* Mixed: 4 KiB pages. */
    const uint64_t pt = new_table(&b);
    if (pt == 0) return 0;
    set_entry(&b, pd, pd_index, pt | kPresent | kWritable);
    for (uint64_t page = 0; page < 512; ++page) {
      const uint64_t address = range + page * kPage;
      const int64_t f = uniform_flags(map, count, address, address + kPage);
      /* A page of mixed flags (a map not 4 KiB aligned) maps the
       * strictest way its bytes allow: not at all. */
      if (f > 0) set_entry(&b, pt, page, address | (uint64_t)f);
    }
  }
  return b.used;
}

int hvb_guest_virtual_to_physical(uint64_t cr0, uint64_t cr3, uint64_t va,
                                  hvb_read_phys64_fn read, void *context,
                                  uint64_t *gpa) {
  const uint64_t present = 1, large = 1u << 7;
  const uint64_t address_mask = 0x000ffffffffff000ull;
  if (!(cr0 & (1ull << 31))) { /* paging off */
    *gpa = va;
    return 1;
  }
  uint64_t table = cr3 & address_mask;
  /* PML4, PDPT (1 GiB pages), PD (2 MiB pages), PT. */
  for (int level = 3; level >= 0; --level) {
    const uint64_t index = (va >> (12 + 9 * level)) & 511;
    uint64_t entry;
    if (!read(context, table + index * 8, &entry) || !(entry & present)) {
      return 0;
    }
    if (level == 0 || ((level == 1 || level == 2) && (entry & large))) {
      const uint64_t page_mask = (1ull << (12 + 9 * level)) - 1;
      *gpa = (entry & address_mask & ~page_mask) | (va & page_mask);
      return 1;
    }
    table = entry & address_mask;
  }
  return 0;
}
