/* base (docs/abi.md 5.1): discovering the platform. */
#include "firmware.h"
#include "hvbios/version.h"
#include "services/services.h"

struct fw_result fw_base_get_abi_version(const uint64_t *args) {
  (void)args;
  return fw_ok(HVB_ABI_VERSION);
}
struct fw_result fw_base_get_impl_id(const uint64_t *args) {
  (void)args;
  return fw_ok(HVB_IMPL_HVBIOS_BAREMETAL);
}
struct fw_result fw_base_get_impl_version(const uint64_t *args) {
  (void)args;
  return fw_ok(HVBIOS_IMPLEMENTATION_VERSION);
}
/* Never fails: any 64-bit argument is a question with an answer. */
struct fw_result fw_base_probe(const uint64_t *args) {
  return fw_ok(fw_implemented(args[0]) ? 1 : 0);
}
