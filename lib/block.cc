#include "lib/block.h"

#include "hvbios/abi/hypercall.h"
#include "hvbios/abi/status.h"

namespace hvbios {
namespace {

constexpr uint64_t kSector = HVB_BLOCK_SECTOR_SIZE;

// A device's failure as the guest sees it: "no space" (the device changed
// nothing, docs/abi.md) apart from every other I/O error.
int64_t DeviceError(const absl::Status& status) {
  return absl::IsResourceExhausted(status) ? HVB_ERR_NOMEM : HVB_ERR_IO;
}

}  // namespace

hvb_block_info BlockInfoOf(const BlockDevice& device) {
  hvb_block_info info = {};
  info.sectors = device.size_bytes() / kSector;
  info.sector_size = kSector;
  info.flags = device.read_only() ? HVB_BLOCK_F_READ_ONLY : 0;
  info.optimal_sectors = kBlockOptimalSectors;
  info.max_sectors = kBlockMaxSectors;
  return info;
}

int64_t ExecuteBlockRequest(BlockDevice& device, const GuestMemory& memory,
                            uint32_t op, uint64_t sector, uint64_t count,
                            uint64_t buf) {
  const bool modifies = op == HVB_RING_OP_WRITE || op == HVB_RING_OP_DISCARD;
  switch (op) {
    case HVB_RING_OP_READ:
    case HVB_RING_OP_WRITE:
    case HVB_RING_OP_DISCARD:
      break;
    case HVB_RING_OP_FLUSH:
      if (device.read_only()) return HVB_OK;
      return device.Flush().ok() ? HVB_OK : HVB_ERR_IO;
    default:
      return HVB_ERR_INVAL;
  }
  if (modifies && device.read_only()) return HVB_ERR_PERM;
  const uint64_t capacity = device.size_bytes() / kSector;
  if (count == 0 || count > kBlockMaxSectors || sector > capacity ||
      count > capacity - sector) {
    return HVB_ERR_RANGE;
  }
  const uint64_t offset = sector * kSector, length = count * kSector;
  if (op == HVB_RING_OP_DISCARD) {
    const absl::Status s = device.Discard(offset, length);
    return s.ok() ? HVB_OK : DeviceError(s);
  }
  uint8_t* host = memory.GuestBuffer(buf, length);
  if (host == nullptr) return HVB_ERR_FAULT;
  const absl::Status s =
      op == HVB_RING_OP_READ
          ? device.Read(offset, absl::MakeSpan(host, length))
          : device.Write(offset, absl::MakeConstSpan(host, length));
  return s.ok() ? static_cast<int64_t>(count) : DeviceError(s);
}

}  // namespace hvbios
