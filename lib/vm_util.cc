// The public helpers of hvbios/vm.h that are not the VM itself: options'
// validation, memory sizes, guest images, names and register dumps.
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "hvbios/abi/hypercall.h"
#include "hvbios/vm.h"
#include "lib/boot_setup.h"
#include "lib/file_util.h"
#include "lib/guest_memory.h"
#include "lib/services/services.h"
#include "lib/status_macros.h"

namespace hvbios {
namespace {

// MSI destinations are 8-bit xAPIC ids and 255 is broadcast.
constexpr uint32_t kMaxVcpus = 254;
constexpr size_t kMaxDisks = 16;
constexpr size_t kMaxNets = 8;
// Largest image file read at all; larger ones cannot fit any VM anyway.
constexpr uint64_t kMaxImageFileBytes = 1ull << 30;

}  // namespace

absl::StatusOr<uint64_t> ParseMemorySize(absl::string_view text) {
  size_t i = 0;
  while (i < text.size() && absl::ascii_isdigit(text[i])) ++i;
  const absl::string_view digits = text.substr(0, i);
  std::string suffix = absl::AsciiStrToUpper(text.substr(i));
  uint64_t value;
  if (digits.empty() || !absl::SimpleAtoi(digits, &value)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed memory size '", text, "' (expected e.g. 64M, 1G, 512KiB)"));
  }
  if (absl::EndsWith(suffix, "IB")) {
    suffix.resize(suffix.size() - 2);
  } else if (absl::EndsWith(suffix, "B") && suffix.size() > 1) {
    suffix.pop_back();
  }
  int shift;
  if (suffix.empty() || suffix == "B") {
    shift = 0;
  } else if (suffix == "K") {
    shift = 10;
  } else if (suffix == "M") {
    shift = 20;
  } else if (suffix == "G") {
    shift = 30;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed memory size '", text, "': unknown unit (use K, M or G)"));
  }
  if (value > (UINT64_MAX >> shift)) {
    return absl::InvalidArgumentError(
        absl::StrCat("memory size '", text, "' is too large"));
  }
  return value << shift;
}

absl::Status ValidateVmOptions(const VmOptions& options) {
  RETURN_IF_ERROR(GuestMemory::ValidateSize(options.memory_bytes));
  RETURN_IF_ERROR(ValidateBootParams(
      {.vcpu_count = options.vcpu_count, .cmdline = options.cmdline}));
  if (options.disks.size() > kMaxDisks) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%d disks, at most %d supported", options.disks.size(), kMaxDisks));
  }
  for (const auto& disk : options.disks) {
    if (disk == nullptr || disk->size_bytes() == 0 ||
        disk->size_bytes() % HVB_BLOCK_SECTOR_SIZE != 0) {
      return absl::InvalidArgumentError(
          "every disk must exist and hold a whole number of 512-byte "
          "sectors");
    }
  }
  if (options.nets.size() > kMaxNets) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%d network devices, at most %d supported",
                        options.nets.size(), kMaxNets));
  }
  for (const NetDeviceConfig& net : options.nets) {
    if (net.link == nullptr) {
      return absl::InvalidArgumentError("every network device needs a link");
    }
    if ((net.mac[0] & 1) != 0) {
      return absl::InvalidArgumentError(
          "a network device's MAC address must be unicast");
    }
  }
  if (options.vcpu_count > kMaxVcpus) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%d vCPUs requested, at most %d supported",
                        options.vcpu_count, kMaxVcpus));
  }
  return ValidateVendorServices(options.services);
}

absl::StatusOr<std::vector<uint8_t>> ReadGuestImage(const std::string& path) {
  return ReadUserFile(path, kMaxImageFileBytes, "guest image");
}

absl::string_view VcpuStateName(VcpuState state) {
  switch (state) {
    case VcpuState::kCreated:
      return "created";
    case VcpuState::kRunning:
      return "running";
    case VcpuState::kPaused:
      return "paused";
    case VcpuState::kStopped:
      return "stopped";
    case VcpuState::kDestroyed:
      return "destroyed";
  }
  return "unknown";
}

absl::string_view VmExitReasonName(VmExit::Reason reason) {
  switch (reason) {
    case VmExit::Reason::kShutdown:
      return "shutdown";
    case VmExit::Reason::kReboot:
      return "reboot";
    case VmExit::Reason::kGuestFault:
      return "guest fault";
    case VmExit::Reason::kStopped:
      return "stopped";
    case VmExit::Reason::kHostError:
      return "host error";
    case VmExit::Reason::kPanic:
      return "panic";
  }
  return "unknown";
}

std::string FormatRegisters(const Registers& r) {
  return absl::StrFormat(
      "  rip %016x  rsp %016x  rflags %08x  cs %04x ss %04x\n"
      "  rax %016x  rbx %016x  rcx %016x  rdx %016x\n"
      "  rsi %016x  rdi %016x  rbp %016x  r8  %016x\n"
      "  r9  %016x  r10 %016x  r11 %016x  r12 %016x\n"
      "  r13 %016x  r14 %016x  r15 %016x\n"
      "  cr0 %016x  cr2 %016x  cr3 %016x  cr4 %016x  efer %x",
      r.rip, r.rsp, r.rflags, r.cs, r.ss, r.rax, r.rbx, r.rcx, r.rdx, r.rsi,
      r.rdi, r.rbp, r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.cr0,
      r.cr2, r.cr3, r.cr4, r.efer);
}

bool IsResetState(const Registers& regs) {
  return regs.rip == 0xfff0 && regs.cs == 0xf000;
}

}  // namespace hvbios
