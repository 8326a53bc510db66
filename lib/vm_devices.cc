// hvbios::Vm's devices of the embedder's own: windows of ports or MMIO
// served by its functions on the trapping vCPU's thread, doorbells bound
// to eventfds, and their entries in the boot info's device list.
#include <cstring>

#include "absl/strings/str_format.h"
#include "lib/status_macros.h"
#include "lib/threads.h"
#include "lib/vm_impl.h"

namespace hvbios {
namespace {

constexpr size_t kMaxVendorDevices = 16;
constexpr uint64_t kFirstPort = 0x1000, kPortLimit = 0x10000;
constexpr uint64_t kMmioFirst = 0xc0000000, kMmioLimit = 0xfec00000;

absl::Status CheckWindow(const DeviceSpec& d) {
  const uint64_t first = d.pio ? kFirstPort : kMmioFirst;
  const uint64_t limit = d.pio ? kPortLimit : kMmioLimit;
  if (d.size == 0 || d.base < first || d.base >= limit ||
      d.size > limit - d.base ||
      (!d.pio && (d.base % 4096 != 0 || d.size % 4096 != 0))) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "device %d: %s window [0x%x, +0x%x) must lie in [0x%x, 0x%x)%s", d.id,
        d.pio ? "port" : "MMIO", d.base, d.size, first, limit,
        d.pio ? "" : ", 4 KiB-aligned"));
  }
  return absl::OkStatus();
}

bool Holds(const DeviceSpec& d, bool pio, uint64_t address, uint64_t size) {
  return d.pio == pio && address >= d.base && address - d.base < d.size &&
         size <= d.size - (address - d.base);
}

}  // namespace

absl::Status VmImpl::AddDevice(DeviceSpec spec) {
  // The layout lock may be held by a MapMemory that waits for this very
  // callback's thread to leave guest memory.
  RETURN_IF_ERROR(RefuseInsideCallback("Vm::AddDevice"));
  RETURN_IF_ERROR(CheckWindow(spec));
  if (spec.event_source != 0 &&
      !services_->events().SourceExists(spec.event_source)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("device %d: event source 0x%x was not added", spec.id,
                        spec.event_source));
  }
  MutexLock layout(&layout_mu_);
  if (devices_frozen_.load()) {
    return absl::FailedPreconditionError(
        "devices are added before the guest is loaded (its device list is "
        "written then)");
  }
  if (devices_.size() == kMaxVendorDevices) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("at most %d devices", kMaxVendorDevices));
  }
  for (const DeviceSpec& d : devices_) {
    if (d.id == spec.id) {
      return absl::AlreadyExistsError(
          absl::StrFormat("device id %d is used already", spec.id));
    }
    if (d.pio == spec.pio && spec.base < d.base + d.size &&
        d.base < spec.base + spec.size) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "device %d's window overlaps device %d's", spec.id, d.id));
    }
  }
  devices_.push_back(std::move(spec));
  return absl::OkStatus();
}

absl::Status VmImpl::BindDeviceDoorbell(uint32_t id, uint64_t offset,
                                        uint32_t size,
                                        std::optional<uint64_t> value,
                                        int eventfd) {
  RETURN_IF_ERROR(RefuseInsideCallback("Vm::BindDeviceDoorbell"));
  if (size != 1 && size != 2 && size != 4 && size != 8) {
    return absl::InvalidArgumentError("a doorbell is 1, 2, 4 or 8 bytes");
  }
  MutexLock layout(&layout_mu_);
  for (const DeviceSpec& d : devices_) {
    if (d.id != id) continue;
    if (offset >= d.size || !Holds(d, d.pio, d.base + offset, size)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "doorbell at +0x%x is outside device %d's window", offset, id));
    }
    return backend_->BindIoEventFd({.pio = d.pio,
                                    .address = d.base + offset,
                                    .length = size,
                                    .match_data = value.has_value(),
                                    .datamatch = value.value_or(0),
                                    .eventfd = eventfd});
  }
  return absl::NotFoundError(absl::StrFormat("no device %d", id));
}

std::vector<hvb_device> VmImpl::FreezeDevices() {
  devices_frozen_.store(true);
  std::vector<hvb_device> list;
  for (const DeviceSpec& d : devices_) {
    list.push_back(
        {HVB_DEV_VENDOR, d.id,
         (d.pio ? HVB_DEV_F_PIO : 0) | uint64_t{d.event_source} << 32, d.base,
         d.size});
  }
  return list;
}

namespace {

// Moves one exit's elements through device `d`'s functions. A string
// instruction (rep ins/outs) moves `count` elements through one port.
void CallDevice(const DeviceSpec& d, const VcpuExit& exit) {
  const uint64_t offset = exit.address - d.base;
  CallbackScope in_callback;
  for (uint32_t i = 0; i < exit.count; ++i) {
    uint8_t* element = exit.data + uint64_t{i} * exit.size;
    uint64_t value = 0;
    if (exit.is_write) {
      std::memcpy(&value, element, exit.size);
      if (d.write) d.write(offset, exit.size, value);
    } else {
      value = d.read ? d.read(offset, exit.size) : ~uint64_t{0};
      std::memcpy(element, &value, exit.size);
    }
  }
}

}  // namespace

bool VmImpl::ServeDeviceAccess(const VcpuExit& exit) {
  const bool pio = exit.kind == VcpuExit::Kind::kIo;
  if (exit.size == 0 || exit.size > 8) return false;
  for (const DeviceSpec& d : devices_) {
    if (Holds(d, pio, exit.address, exit.size)) {
      CallDevice(d, exit);
      return true;
    }
  }
  return false;
}

}  // namespace hvbios
