// The C API (include/hvbios/hvbios.h) over the C++ API: the embedder's
// platform: run-time memory regions, dirty-page logs, interrupt routes and
// event sources.
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "capi/c_api_internal.h"
#include "hvbios/hvbios.h"
#include "hvbios/vm.h"
#include "lib/guest_memory.h"

using namespace hvbios::capi;  // NOLINT: the C entry points below

extern "C" {

int hyperv_bios_map_memory(hyperv_bios_vm* vm,
                           const hyperv_bios_memory_region* region,
                           uint32_t* id) {
  return Guard(__func__, [&]() -> int {
    if (vm == nullptr || region == nullptr || id == nullptr) {
      return NullHandle(__func__);
    }
    hyperv_bios_memory_region r;
    if (absl::Status s = CopyIn(region, sizeof(r), "region", &r); !s.ok()) {
      return Fail(s);
    }
    constexpr uint32_t kKnown =
        HYPERV_BIOS_MEMORY_READ_ONLY | HYPERV_BIOS_MEMORY_FD;
    if ((r.flags & ~kKnown) != 0) {
      return Fail(absl::StatusCode::kInvalidArgument,
                  absl::StrCat(__func__, ": unknown flags 0x",
                               absl::Hex(r.flags & ~kKnown)));
    }
    if ((r.flags & HYPERV_BIOS_MEMORY_FD) && r.fd < 0) {
      return Fail(absl::StatusCode::kInvalidArgument,
                  absl::StrCat(__func__,
                               ": HYPERV_BIOS_MEMORY_FD without "
                               "an fd"));
    }
    absl::StatusOr<uint32_t> result = vm->vm->MapMemory(
        {.gpa = r.gpa,
         .size = r.size,
         .host = r.host,
         .fd = (r.flags & HYPERV_BIOS_MEMORY_FD) ? r.fd : -1,
         .fd_offset = r.fd_offset,
         .read_only = (r.flags & HYPERV_BIOS_MEMORY_READ_ONLY) != 0});
    if (!result.ok()) return Fail(result.status());
    *id = *result;
    return Succeed();
  });
}

int hyperv_bios_unmap_memory(hyperv_bios_vm* vm, uint32_t id) {
  return ForwardToVm(__func__, vm,
                     [&](hvbios::Vm& v) { return v.UnmapMemory(id); });
}

int hyperv_bios_start_dirty_log(hyperv_bios_vm* vm, uint32_t id) {
  return ForwardToVm(__func__, vm,
                     [&](hvbios::Vm& v) { return v.StartDirtyLog(id); });
}

int hyperv_bios_fetch_dirty_log(hyperv_bios_vm* vm, uint32_t id,
                                uint64_t* bitmap, size_t words) {
  return Guard(__func__, [&]() -> int {
    if (vm == nullptr || (bitmap == nullptr && words != 0)) {
      return NullHandle(__func__);
    }
    absl::StatusOr<hvbios::GuestMemory::Region> region =
        vm->vm->memory().FindRegion(id);
    if (!region.ok()) return Fail(region.status());
    const size_t needed = (region->size / 4096 + 63) / 64;
    if (words < needed) {
      return Fail(absl::StatusCode::kOutOfRange,
                  absl::StrCat(__func__, ": region ", id, " needs ", needed,
                               " words, ", words, " given"));
    }
    absl::StatusOr<std::vector<uint64_t>> log = vm->vm->FetchDirtyLog(id);
    if (!log.ok()) return Fail(log.status());
    std::memcpy(bitmap, log->data(), log->size() * sizeof(uint64_t));
    std::memset(bitmap + log->size(), 0,
                (words - log->size()) * sizeof(uint64_t));
    return Succeed();
  });
}

int hyperv_bios_stop_dirty_log(hyperv_bios_vm* vm, uint32_t id) {
  return ForwardToVm(__func__, vm,
                     [&](hvbios::Vm& v) { return v.StopDirtyLog(id); });
}

int hyperv_bios_add_device(hyperv_bios_vm* vm,
                           const hyperv_bios_device* device) {
  return Guard(__func__, [&]() -> int {
    if (vm == nullptr || device == nullptr) return NullHandle(__func__);
    hyperv_bios_device d;
    if (absl::Status s = CopyIn(device, sizeof(d), "device", &d); !s.ok()) {
      return Fail(s);
    }
    if ((d.flags & ~HYPERV_BIOS_DEVICE_PIO) != 0) {
      return Fail(absl::StatusCode::kInvalidArgument,
                  absl::StrCat(__func__, ": unknown flags"));
    }
    hvbios::DeviceSpec spec;
    spec.id = d.id;
    spec.pio = (d.flags & HYPERV_BIOS_DEVICE_PIO) != 0;
    spec.base = d.base;
    spec.size = d.size;
    spec.event_source = d.event_source;
    if (d.read != nullptr) {
      spec.read = [fn = d.read, ctx = d.context](uint64_t offset,
                                                 uint32_t size) {
        return fn(ctx, offset, size);
      };
    }
    if (d.write != nullptr) {
      spec.write = [fn = d.write, ctx = d.context](
                       uint64_t offset, uint32_t size, uint64_t value) {
        fn(ctx, offset, size, value);
      };
    }
    return FromStatus(vm->vm->AddDevice(std::move(spec)));
  });
}

int hyperv_bios_bind_device_doorbell(hyperv_bios_vm* vm, uint32_t id,
                                     uint64_t offset, uint32_t size,
                                     int match_value, uint64_t value,
                                     int eventfd) {
  return ForwardToVm(__func__, vm, [&](hvbios::Vm& v) {
    return v.BindDeviceDoorbell(
        id, offset, size,
        match_value ? std::optional<uint64_t>(value) : std::nullopt, eventfd);
  });
}

int hyperv_bios_add_interrupt_route(hyperv_bios_vm* vm, uint32_t vcpu_id,
                                    uint8_t vector, uint32_t* id,
                                    int* eventfd) {
  return Guard(__func__, [&]() -> int {
    if (vm == nullptr || id == nullptr || eventfd == nullptr) {
      return NullHandle(__func__);
    }
    absl::StatusOr<hvbios::Vm::InterruptRoute> route =
        vm->vm->AddInterruptRoute(vcpu_id, vector);
    if (!route.ok()) return Fail(route.status());
    *id = route->id;
    *eventfd = route->eventfd;
    return Succeed();
  });
}

int hyperv_bios_retarget_interrupt_route(hyperv_bios_vm* vm, uint32_t id,
                                         uint32_t vcpu_id, uint8_t vector) {
  return ForwardToVm(__func__, vm, [&](hvbios::Vm& v) {
    return v.RetargetInterruptRoute(id, vcpu_id, vector);
  });
}

int hyperv_bios_remove_interrupt_route(hyperv_bios_vm* vm, uint32_t id) {
  return ForwardToVm(__func__, vm,
                     [&](hvbios::Vm& v) { return v.RemoveInterruptRoute(id); });
}

int hyperv_bios_add_event_source(hyperv_bios_vm* vm, uint32_t source) {
  return ForwardToVm(__func__, vm,
                     [&](hvbios::Vm& v) { return v.AddEventSource(source); });
}

int hyperv_bios_trigger_event(hyperv_bios_vm* vm, uint32_t source) {
  return ForwardToVm(__func__, vm,
                     [&](hvbios::Vm& v) { return v.TriggerEvent(source); });
}

}  // extern "C"
