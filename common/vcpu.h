/*
 * vcpu.start's checks (docs/abi.md 5.6), written once for every platform.
 * Freestanding C.
 */
#ifndef HVBIOS_COMMON_VCPU_H_
#define HVBIOS_COMMON_VCPU_H_

#include <stdint.h>

#include "hvbios/abi/boot.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Checks, in the specification's order, everything about a start but the
 * target's state: `id` exists (HVB_ERR_NODEV), `entry` is the guest's RAM
 * (HVB_ERR_FAULT), `stack` is 16-byte aligned (HVB_ERR_INVAL) and the 8
 * bytes below it are the guest's (HVB_ERR_FAULT), `cr3` is 0 or a 4 KiB
 * aligned page of the guest's (HVB_ERR_INVAL). HVB_OK otherwise. */
int64_t hvb_vcpu_check_start(const struct hvb_mem_region *map,
                             uint32_t map_count, uint32_t vcpu_count,
                             uint64_t id, uint64_t entry, uint64_t stack,
                             uint64_t cr3);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* HVBIOS_COMMON_VCPU_H_ */
