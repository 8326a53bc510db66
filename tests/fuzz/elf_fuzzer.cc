// The ELF loader and the boot set-up on any file a user may hand
// hvbios-run: parse, load into a small VM's RAM, build the boot
// environment. Asserted: whatever is accepted lies in guest RAM (entry,
// segments, boot info); nothing outside guest RAM is touched (ASan, guard
// areas). The RAM is small so that an image claiming a huge .bss is
// refused rather than touching gigabytes.
#include <cstdint>
#include <memory>

#include "absl/types/span.h"
#include "lib/boot_setup.h"
#include "lib/elf_loader.h"
#include "lib/guest_memory.h"
#include "tests/fake_backend.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hvbios;
  constexpr uint64_t kRam = 8 << 20;
  const absl::Span<const uint8_t> file(data, size);
  absl::StatusOr<ElfImage> image = ParseElf(file);
  if (!image.ok()) return 0;
  absl::StatusOr<std::unique_ptr<GuestMemory>> memory =
      GuestMemory::Create(kRam);
  FUZZ_CHECK(memory.ok(), "guest memory");
  if (!LoadElf(*image, file, **memory).ok()) return 0;
  FUZZ_CHECK(image->entry < kRam, "entry 0x%lx outside RAM", image->entry);
  testing::FakeBackendVm backend;
  BootParams params;
  params.vcpu_count = 2;
  params.cmdline = "fuzz";
  params.tsc_frequency_hz = 1000000000;
  params.disks_read_only = {false, true};
  absl::StatusOr<LongModeEntry> entry =
      BuildBootEnvironment(**memory, *image, params, backend);
  if (!entry.ok()) return 0;
  FUZZ_CHECK(entry->rip == image->entry, "rip 0x%lx, entry 0x%lx", entry->rip,
             image->entry);
  hvb_boot_info info;
  FUZZ_CHECK((*memory)->ReadObject(entry->rdi, &info),
             "boot info at 0x%lx not in RAM", entry->rdi);
  return 0;
}
