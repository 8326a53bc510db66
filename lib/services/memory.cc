// memory (docs/abi.md 5.14): the memory map as it is now. It changes when
// the embedder adds or removes regions (lib/vm_memory.cc), which bumps the
// generation and raises HVB_EVENT_SRC_MEMORY_MAP.
#include <cstring>

#include "common/memmap.h"
#include "lib/services/services.h"

namespace hvbios {

template <>
HypercallResult Handle<HVB_FN_MEMORY_GENERATION>(ServiceCall& call) {
  return Ok(call.ctx.memory().generation());
}

template <>
HypercallResult Handle<HVB_FN_MEMORY_READ_MAP>(ServiceCall& call) {
  // The dispatcher holds the memory's shared lock: the map cannot change
  // between the check and the copy.
  const GuestMemory& memory = call.ctx.memory();
  const std::vector<hvb_mem_region>& map = memory.memory_map();
  const auto count = static_cast<uint32_t>(map.size());
  const int64_t n =
      hvb_memmap_read_check(map.data(), count, call.arg[0], call.arg[1]);
  if (n < 0) return Error(n);
  if (n > 0) {
    const uint64_t bytes = static_cast<uint64_t>(n) * sizeof(hvb_mem_region);
    uint8_t* dst = memory.GuestBufferToWrite(call.arg[0], bytes);
    if (dst == nullptr) return Error(HVB_ERR_FAULT);
    std::memcpy(dst, map.data(), bytes);
  }
  return Ok(count);
}

HVB_DEFINE_MODULE(MEMORY, "memory")

}  // namespace hvbios
