/* timer (docs/abi.md 5.7): the local APIC's timer, one-shot. */
#include "common/events.h"
#include "devices.h"
#include "firmware.h"
#include "services/services.h"

struct fw_result fw_timer_set(const uint64_t *args) {
  const uint64_t deadline = args[0], vector = args[1];
  if (!hvb_event_vector_ok(vector)) return fw_error(HVB_ERR_INVAL);
  const uint64_t now = clock_monotonic_ns();
  if (deadline <= now) {
    lapic_timer_arm(0, 0); /* replaces an armed deadline */
    lapic_send_ipi(fw_apic_ids[this_cpu()], (uint8_t)vector);
  } else {
    lapic_timer_arm(deadline - now, (uint8_t)vector);
  }
  return fw_ok(0);
}
struct fw_result fw_timer_cancel(const uint64_t *args) {
  (void)args;
  lapic_timer_arm(0, 0);
  return fw_ok(0);
}
