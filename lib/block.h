// The block service's request execution, shared by the synchronous calls
// and the request rings so that both check a request the same way.
#ifndef HVBIOS_LIB_BLOCK_H_
#define HVBIOS_LIB_BLOCK_H_

#include <cstdint>

#include "hvbios/abi/ring.h"
#include "hvbios/block.h"
#include "lib/guest_memory.h"

namespace hvbios {

// Largest transfer of one request, and a size that performs well.
inline constexpr uint32_t kBlockMaxSectors = 2048;     // 1 MiB
inline constexpr uint32_t kBlockOptimalSectors = 128;  // 64 KiB

hvb_block_info BlockInfoOf(const BlockDevice& device);

// Validates and executes one request (HVB_RING_OP_*) against `device`,
// moving data directly between the disk and guest RAM (no bounce copy).
// Returns the count (read/write), 0 (flush/discard) or an HVB_ERR_*:
// HVB_ERR_INVAL (unknown op), HVB_ERR_PERM (modifying a read-only disk),
// HVB_ERR_RANGE (count 0 or above kBlockMaxSectors; sectors past the end),
// HVB_ERR_FAULT (buffer not in RAM), HVB_ERR_NOMEM (the device had no
// space: ResourceExhausted, nothing written), HVB_ERR_IO (it failed).
int64_t ExecuteBlockRequest(BlockDevice& device, const GuestMemory& memory,
                            uint32_t op, uint64_t sector, uint64_t count,
                            uint64_t buf);

}  // namespace hvbios

#endif  // HVBIOS_LIB_BLOCK_H_
