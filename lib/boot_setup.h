// Builds the boot environment of docs/abi.md ("Boot protocol") in guest
// RAM: GDT, identity-mapping page tables, hypercall page, boot info with the
// memory map, device list and command line.
#ifndef HVBIOS_LIB_BOOT_SETUP_H_
#define HVBIOS_LIB_BOOT_SETUP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "hvbios/abi/boot.h"
#include "hvbios/backend.h"
#include "lib/coarse_clock.h"
#include "lib/elf_loader.h"
#include "lib/guest_memory.h"

namespace hvbios {

struct BootParams {
  uint32_t vcpu_count = 1;
  std::string cmdline;
  uint64_t tsc_frequency_hz = 0;
  // One entry per disk (device id = index): whether it is read-only.
  std::vector<bool> disks_read_only;
  uint32_t net_count = 0;
  // The embedder's devices, after the disks and network devices in the
  // device list.
  std::vector<hvb_device> vendor_devices;
};

// Entry state for a vCPU started at `rip` (vcpu.start, Vcpu::StartAt): the
// platform's GDT, rsp = `rsp`, rdi = `arg`, page tables at `cr3` or, for 0,
// the platform's boot identity map.
LongModeEntry MakeApEntry(uint64_t rip, uint64_t rsp, uint64_t arg,
                          uint64_t cr3);

// Checks what BuildBootEnvironment() would reject, before any VM exists.
absl::Status ValidateBootParams(const BootParams& params);

// The memory map for `image` in `memory` (sorted, non-overlapping).
std::vector<hvb_mem_region> BuildMemoryMap(const GuestMemory& memory,
                                           const ElfImage& image);

// Writes the boot environment for an already loaded `image`, makes its
// memory map the one `memory` holds guest buffers to, and returns the boot
// vCPU's entry state. `backend` fills the hypercall page.
absl::StatusOr<LongModeEntry> BuildBootEnvironment(GuestMemory& memory,
                                                   const ElfImage& image,
                                                   const BootParams& params,
                                                   const BackendVm& backend);

// Publishes the clock page (docs/abi.md, "The clock page") from `vcpu`'s
// TSC at `tsc_frequency_hz`, with ns counted from CLOCK_MONOTONIC
// `epoch_ns` (the clock.monotonic zero). With `coarse_clock`, the page also
// offers its coarse word (HVB_CLOCK_F_COARSE), kept current while the
// returned registration lives (null without it, or if no ticker thread
// could start). Call while `vcpu` is not running. FailedPrecondition if
// the frequency is unknown (the page then stays invalid).
absl::StatusOr<std::unique_ptr<CoarseClockWord>> PublishClockPage(
    const GuestMemory& memory, BackendVcpu& vcpu, uint64_t tsc_frequency_hz,
    uint64_t epoch_ns, bool coarse_clock);

}  // namespace hvbios

#endif  // HVBIOS_LIB_BOOT_SETUP_H_
