/* The event service's rules: common/events.h. */
#include "common/events.h"

#include "hvbios/abi/hypercall.h"
#include "hvbios/abi/status.h"

int hvb_event_vector_ok(uint64_t vector) {
  return vector >= HVB_VECTOR_MIN && vector <= HVB_VECTOR_MAX;
}

int64_t hvb_event_check_route(int source_exists, uint64_t vcpu,
                              uint32_t vcpu_count, uint64_t vector) {
  if (!source_exists || vcpu >= vcpu_count) return HVB_ERR_NODEV;
  if (!hvb_event_vector_ok(vector)) return HVB_ERR_INVAL;
  return HVB_OK;
}

int64_t hvb_event_check_ipi(uint64_t vcpu, uint32_t vcpu_count,
                            uint64_t vector) {
  if (vcpu >= vcpu_count) return HVB_ERR_NODEV;
  if (!hvb_event_vector_ok(vector)) return HVB_ERR_INVAL;
  return HVB_OK;
}

int hvb_event_route(struct hvb_event_source *source, uint32_t vcpu,
                    uint32_t vector, int work_waiting) {
  source->routed = 1;
  source->vcpu = vcpu;
  source->vector = vector;
  return !source->masked && work_waiting;
}

void hvb_event_mask(struct hvb_event_source *source) { source->masked = 1; }

int hvb_event_unmask(struct hvb_event_source *source, int work_waiting) {
  source->masked = 0;
  const int raise = source->pending || work_waiting;
  source->pending = 0;
  return raise && source->routed;
}

int hvb_event_trigger(struct hvb_event_source *source) {
  if (!source->routed) return 0;
  if (source->masked) {
    source->pending = 1;
    return 0;
  }
  return source->routed;
}
