/* net (docs/abi.md 5.15): the firmware drives no network card yet, so its
 * device list has no HVB_DEV_NET and every device id is HVB_ERR_NODEV, the
 * answer the ABI gives for a device that does not exist. */
#include "firmware.h"
#include "services/services.h"

struct fw_result fw_net_info(const uint64_t *args) {
  (void)args;
  return fw_error(HVB_ERR_NODEV);
}

struct fw_result fw_net_send(const uint64_t *args) {
  (void)args;
  return fw_error(HVB_ERR_NODEV);
}

struct fw_result fw_net_recv(const uint64_t *args) {
  (void)args;
  return fw_error(HVB_ERR_NODEV);
}

struct fw_result fw_net_queue_setup(const uint64_t *args) {
  (void)args;
  return fw_error(HVB_ERR_NODEV);
}
