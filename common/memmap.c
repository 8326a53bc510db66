/* The memory map and the guest-buffer rule: common/memmap.h. */
#include "common/memmap.h"

#include "hvbios/abi/status.h"

int hvb_memmap_type_is_guest(uint32_t type) {
  return type == HVB_MEM_USABLE || type == HVB_MEM_BOOT ||
         type == HVB_MEM_IMAGE || type == HVB_MEM_SHARED;
}

int hvb_memmap_guest_owns(const struct hvb_mem_region *map, uint32_t count,
                          uint64_t base, uint64_t length) {
  if (length == 0 || base + length < base) return 0;
  const uint64_t end = base + length;
  uint64_t at = base;
  for (uint32_t i = 0; i < count && at < end; ++i) {
    const uint64_t region_end = map[i].base + map[i].length;
    if (region_end <= at) continue;
    /* The next byte needed must start here: a gap is not RAM. */
    if (map[i].base > at || !hvb_memmap_type_is_guest(map[i].type)) return 0;
    at = region_end;
  }
  return at >= end;
}

int64_t hvb_memmap_read_check(const struct hvb_mem_region *map, uint32_t count,
                              uint64_t buf, uint64_t capacity) {
  const uint64_t n = capacity < count ? capacity : count;
  if (n == 0) return 0;
  if (!hvb_memmap_guest_owns(map, count, buf,
                             n * sizeof(struct hvb_mem_region))) {
    return HVB_ERR_FAULT;
  }
  return (int64_t)n;
}

static void sort_claims(struct hvb_memmap_claim *claims, uint32_t count) {
  for (uint32_t i = 1; i < count; ++i) {
    const struct hvb_memmap_claim c = claims[i];
    uint32_t j = i;
    for (; j > 0 && claims[j - 1].base > c.base; --j) claims[j] = claims[j - 1];
    claims[j] = c;
  }
}

/* Appends [base, end) of `type`, merging with the last entry if they are
 * adjacent and of one type. 0 if `capacity` would be exceeded. */
static int append(struct hvb_mem_region *out, uint32_t *n, uint32_t capacity,
                  uint64_t base, uint64_t end, uint32_t type) {
  if (base >= end) return 1;
  if (*n > 0) {
    struct hvb_mem_region *last = &out[*n - 1];
    if (last->type == type && last->base + last->length == base) {
      last->length += end - base;
      return 1;
    }
  }
  if (*n == capacity) return 0;
  out[*n].base = base;
  out[*n].length = end - base;
  out[*n].type = type;
  out[*n].reserved = 0;
  ++*n;
  return 1;
}

int hvb_memmap_build(const struct hvb_ram_range *ram, uint32_t ram_count,
                     struct hvb_memmap_claim *claims, uint32_t claim_count,
                     struct hvb_mem_region *out, uint32_t capacity) {
  sort_claims(claims, claim_count);
  uint32_t n = 0;
  for (uint32_t r = 0; r < ram_count; ++r) {
    uint64_t at = ram[r].base;
    for (uint32_t c = 0; c < claim_count && at < ram[r].end; ++c) {
      uint64_t base = claims[c].base < at ? at : claims[c].base;
      uint64_t end = claims[c].end < ram[r].end ? claims[c].end : ram[r].end;
      if (end <= at || base >= ram[r].end) continue;
      if (!append(out, &n, capacity, at, base, HVB_MEM_USABLE) ||
          !append(out, &n, capacity, base, end, claims[c].type)) {
        return -1;
      }
      at = end;
    }
    if (!append(out, &n, capacity, at, ram[r].end, HVB_MEM_USABLE)) return -1;
  }
  return (int)n;
}
