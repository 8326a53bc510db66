/*
 * The memory map (docs/abi.md 2.3) and the rule every guest buffer obeys
 * (3.1), written once for every platform (the host library and the
 * firmware both compile common/memmap.c). Freestanding C.
 */
#ifndef HVBIOS_COMMON_MEMMAP_H_
#define HVBIOS_COMMON_MEMMAP_H_

#include <stdint.h>

#include "common/elf.h"
#include "hvbios/abi/boot.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A range the platform claims in RAM, with its memory-map type. */
struct hvb_memmap_claim {
  uint64_t base, end; /* [base, end), 4 KiB aligned */
  uint32_t type;      /* HVB_MEM_* */
  uint32_t reserved;
};

/* Builds the memory map of `ram` (sorted, disjoint) with `claims` (any
 * order; sorted in place): claimed RAM keeps its claim's type, the rest is
 * HVB_MEM_USABLE, adjacent entries of one type merge, and claims outside
 * RAM are dropped. Overlapping claims of one type merge; of different
 * types, the earlier base wins the overlap. Returns the number of entries
 * written to `out`, or -1 if more than `capacity` are needed. */
int hvb_memmap_build(const struct hvb_ram_range *ram, uint32_t ram_count,
                     struct hvb_memmap_claim *claims, uint32_t claim_count,
                     struct hvb_mem_region *out, uint32_t capacity);

/* Whether a memory-map type is the guest's: RAM it may read and write and
 * name in hypercalls (USABLE, BOOT, IMAGE), as opposed to the platform's
 * (PLATFORM, RESERVED) and to addresses that are not RAM at all. */
int hvb_memmap_type_is_guest(uint32_t type);

/* memory.read_map's rule (docs/abi.md 5.14), on every platform: how many
 * of the map's `count` entries go to `buf`, which has room for `capacity`
 * (min(count, capacity)), or HVB_ERR_FAULT if those bytes are not the
 * guest's own RAM. */
int64_t hvb_memmap_read_check(const struct hvb_mem_region *map, uint32_t count,
                              uint64_t buf, uint64_t capacity);

/* The rule for every guest-physical buffer a hypercall names, input or
 * output, rings included: 1 if [base, base + length) lies entirely in
 * guest-owned regions of `map` (sorted by base), without wrapping; 0
 * otherwise, and always for length 0. */
int hvb_memmap_guest_owns(const struct hvb_mem_region *map, uint32_t count,
                          uint64_t base, uint64_t length);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* HVBIOS_COMMON_MEMMAP_H_ */
