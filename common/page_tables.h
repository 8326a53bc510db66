/*
 * The boot identity map (docs/abi.md 2.2), built the same way by every
 * platform (the host library and the firmware compile common/page_tables.c):
 * every byte of RAM in the memory map is mapped at its own address, the
 * guest's regions and ROM read-write (ROM writes are dropped by the
 * platform), PLATFORM regions read-only, RESERVED ones
 * (page 0) and everything that is not RAM not at all. 2 MiB pages where a
 * whole 2 MiB range maps alike, 4 KiB pages elsewhere. Freestanding C.
 */
#ifndef HVBIOS_COMMON_PAGE_TABLES_H_
#define HVBIOS_COMMON_PAGE_TABLES_H_

#include <stdint.h>

#include "hvbios/abi/boot.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Builds the tables for `map` (sorted by base) into `tables`, the
 * platform's pointer to guest-physical `tables_gpa` (4 KiB aligned), using
 * at most `capacity` bytes; the PML4 comes first (it is what cr3 names).
 * With `tables` NULL nothing is written: it only counts. Returns the bytes
 * the tables take, or 0 if `capacity` is too small. Memory at or above
 * 512 GiB is not mapped. */
uint64_t hvb_page_tables_build(void *tables, uint64_t tables_gpa,
                               uint64_t capacity,
                               const struct hvb_mem_region *map,
                               uint32_t count);

/* Reads the 8 bytes at guest-physical `gpa` into *value: 0 if it is not
 * RAM. */
typedef int (*hvb_read_phys64_fn)(void *context, uint64_t gpa, uint64_t *value);

/* Translates guest-virtual `va` through the 4-level page tables at `cr3`
 * (SDM Vol. 3A, 4.5), 2 MiB and 1 GiB pages included; the identity while
 * paging is off (cr0.PG clear). 1 with *gpa set, 0 if `va` is not mapped.
 * Used by both platforms' crash reports and by the host's debugger. */
int hvb_guest_virtual_to_physical(uint64_t cr0, uint64_t cr3, uint64_t va,
                                  hvb_read_phys64_fn read, void *context,
                                  uint64_t *gpa);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* HVBIOS_COMMON_PAGE_TABLES_H_ */
