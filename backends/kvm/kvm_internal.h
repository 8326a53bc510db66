// What the KVM backend's files share: the C layout of KVM's array
// structs, the MSI format, and the vCPU (kvm_vcpu.cc) the VM creates.
#ifndef HVBIOS_BACKENDS_KVM_KVM_INTERNAL_H_
#define HVBIOS_BACKENDS_KVM_KVM_INTERNAL_H_

#include <linux/kvm.h>
#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "hvbios/backend.h"
#include "lib/unique_fd.h"

namespace hvbios::kvm {

// Structs the C++ build of the KVM header gets wrong.
// linux-libc-dev 6.1 declares flexible arrays with __DECLARE_FLEX_ARRAY,
// which wraps them next to an empty struct: 0 bytes in C, 1 byte in C++. In
// C++ kvm_cpuid2::entries lands at offset 12 instead of 8 and
// sizeof(kvm_cpuid2), which KVM_GET_SUPPORTED_CPUID and KVM_SET_CPUID2
// encode, is 12 instead of 8: the kernel rejects them with EINVAL. Use the
// C layout: an 8-byte header followed by the entries.
// The same holds for kvm_msrs and kvm_irq_routing: all three are a count,
// a 32-bit field that must be 0, then the entries.
struct KvmArrayHeader {
  uint32_t count;
  uint32_t reserved;
};
static_assert(sizeof(KvmArrayHeader) == 8);
inline constexpr unsigned long kKvmGetSupportedCpuid =
    _IOWR(KVMIO, 0x05, KvmArrayHeader);
inline constexpr unsigned long kKvmSetCpuid2 =
    _IOW(KVMIO, 0x90, KvmArrayHeader);
inline constexpr unsigned long kKvmGetMsrs = _IOWR(KVMIO, 0x88, KvmArrayHeader);
inline constexpr unsigned long kKvmSetMsrs = _IOW(KVMIO, 0x89, KvmArrayHeader);
inline constexpr unsigned long kKvmSetGsiRouting =
    _IOW(KVMIO, 0x6a, KvmArrayHeader);
// The values the C header produces.
static_assert(kKvmGetSupportedCpuid == 0xc008ae05);
static_assert(kKvmSetCpuid2 == 0x4008ae90);
static_assert(kKvmGetMsrs == 0xc008ae88);
static_assert(kKvmSetMsrs == 0x4008ae89);
static_assert(kKvmSetGsiRouting == 0x4008ae6a);

// A kvm_cpuid2 / kvm_msrs / kvm_irq_routing in the C layout.
template <typename Entry>
class KvmArray {
 public:
  explicit KvmArray(uint32_t count)
      : bytes_(sizeof(KvmArrayHeader) + count * sizeof(Entry)) {
    header()->count = count;
  }
  // The kernel may lower the count (KVM_GET_SUPPORTED_CPUID).
  uint32_t count() const {
    return reinterpret_cast<const KvmArrayHeader*>(bytes_.data())->count;
  }
  Entry& operator[](size_t i) {
    return reinterpret_cast<Entry*>(bytes_.data() + sizeof(KvmArrayHeader))[i];
  }
  void* data() { return bytes_.data(); }
  // Drops the space of entries past count().
  void Shrink() {
    bytes_.resize(sizeof(KvmArrayHeader) + count() * sizeof(Entry));
  }

 private:
  KvmArrayHeader* header() {
    return reinterpret_cast<KvmArrayHeader*>(bytes_.data());
  }
  std::vector<uint8_t> bytes_;  // new[] alignment suits every Entry here
};
using CpuidTable = KvmArray<kvm_cpuid_entry2>;

// KVM_SET_GUEST_DEBUG's argument for `debug` (debug_probe.cc).
kvm_guest_debug GuestDebugControl(const GuestDebug& debug);
// How many hardware instruction breakpoints this KVM delivers for guests:
// 4 if a scratch vCPU stops at one, else 0 (debug_probe.cc).
uint32_t ProbeHardwareBreakpoints(int kvm_fd);

// The MSI that raises `vector` on the APIC whose id is `vcpu_id`: fixed,
// edge-triggered, physical destination (SDM Vol. 3A, 11.11).
inline void FillMsi(uint32_t vcpu_id, uint8_t vector, uint32_t* address_lo,
                    uint32_t* data) {
  *address_lo = 0xfee00000u | (vcpu_id << 12);
  *data = vector;
}

// Installs the handler of the signal that kicks vCPU threads out of
// KVM_RUN (once per signal, process-wide).
absl::Status InstallKickHandler(int signo);

// A vCPU on `fd` (KVM_CREATE_VCPU) with its kvm_run mapping; the APIC
// state as creation left it is what ResetInterruptState() restores.
std::unique_ptr<BackendVcpu> MakeKvmVcpu(uint32_t id, UniqueFd fd,
                                         MappedRegion run_mapping,
                                         int kick_signal,
                                         const kvm_lapic_state& initial_lapic);

}  // namespace hvbios::kvm

#endif  // HVBIOS_BACKENDS_KVM_KVM_INTERNAL_H_
