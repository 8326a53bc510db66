// Vendor services: hypercall services an embedding VMM adds for its own
// guests, next to the ABI's (what vendor extensions are to RISC-V SBI).
// A guest calls one like any other: fid = (service << 16) | function,
// with service in HVB_SVC_VENDOR_FIRST..HVB_SVC_VENDOR_LAST, and base.probe
// answers for its functions. docs/adding-a-service.md shows one end to end.
#ifndef HVBIOS_SERVICE_H_
#define HVBIOS_SERVICE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace hvbios {

class GuestMemory;

// One call of a vendor service, as its handler sees it.
class ServiceRequest {
 public:
  ServiceRequest(const GuestMemory& memory, uint32_t vcpu_id, uint32_t function,
                 const uint64_t* args)
      : memory_(memory), vcpu_id_(vcpu_id), function_(function), args_(args) {}

  uint32_t vcpu_id() const { return vcpu_id_; }    // the caller
  uint32_t function() const { return function_; }  // < function_count
  uint64_t arg(int i) const { return args_[i]; }   // 0..5: rdi..r9

  // Copy between a buffer the guest named and the host. False, with
  // nothing copied, unless the whole buffer is the guest's own RAM
  // (docs/abi.md 3.1): answer HVB_ERR_FAULT then. Each call copies once;
  // validate the copy, never re-read the guest's bytes.
  bool CopyFromGuest(uint64_t gpa, void* dst, size_t length) const;
  bool CopyToGuest(uint64_t gpa, const void* src, size_t length) const;

 private:
  const GuestMemory& memory_;
  const uint32_t vcpu_id_;
  const uint32_t function_;
  const uint64_t* const args_;
};

// The guest's rax and rdx: HVB_OK and a value, or an HVB_ERR_* (rdx 0).
struct ServiceReply {
  int64_t status = 0;
  uint64_t value = 0;
};

struct VendorService {
  // HVB_SVC_VENDOR_FIRST (0x8000) .. HVB_SVC_VENDOR_LAST (0xfffe), unique.
  uint32_t id = 0;
  std::string name;  // for messages
  // Functions 0 .. function_count - 1 exist; others answer HVB_ERR_NOSYS.
  uint32_t function_count = 0;
  // Runs on the calling vCPU's thread (which waits meanwhile: the guest
  // sees one hypercall), possibly on several at once: thread-safe. It may
  // block, but a vCPU inside it cannot pause until it returns. It is a
  // callback (hvbios/vm.h): it may not make calls that wait for vCPUs.
  std::function<ServiceReply(const ServiceRequest&)> handler;
};

}  // namespace hvbios

#endif  // HVBIOS_SERVICE_H_
