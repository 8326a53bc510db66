/*
 * The event service's rules (docs/abi.md 5.8), written once for every
 * platform: checking route/mask/unmask/send_ipi arguments, and what a
 * source's route, mask and events decide. Each call that may deliver
 * returns 1 when the platform must raise `vector` on `vcpu` now; raising
 * it is the platform's. Freestanding C; the caller serialises calls on one
 * source.
 */
#ifndef HVBIOS_COMMON_EVENTS_H_
#define HVBIOS_COMMON_EVENTS_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct hvb_event_source {
  uint8_t routed, masked, pending, reserved;
  uint32_t vcpu;
  uint32_t vector;
};

/* Whether `vector` may carry events (32..254). */
int hvb_event_vector_ok(uint64_t vector);

/* event.route's checks, in order: the source exists and the vCPU too
 * (HVB_ERR_NODEV), the vector (HVB_ERR_INVAL). */
int64_t hvb_event_check_route(int source_exists, uint64_t vcpu,
                              uint32_t vcpu_count, uint64_t vector);
/* event.send_ipi's: the vCPU id (HVB_ERR_NODEV), the vector
 * (HVB_ERR_INVAL); then the platform's: the vCPU can take events (one
 * never started has no interrupt controller yet: HVB_ERR_NODEV). */
int64_t hvb_event_check_ipi(uint64_t vcpu, uint32_t vcpu_count,
                            uint64_t vector);

/* Routes the source. Work already waiting (console input nobody read)
 * raises one event at once, unless masked. */
int hvb_event_route(struct hvb_event_source *source, uint32_t vcpu,
                    uint32_t vector, int work_waiting);
/* Holds the source's events: at most one is kept pending. */
void hvb_event_mask(struct hvb_event_source *source);
/* Releases the source: a pending event, or work waiting, is raised. */
int hvb_event_unmask(struct hvb_event_source *source, int work_waiting);
/* An event from the source: raised if routed and unmasked, kept pending
 * if masked, dropped if unrouted. */
int hvb_event_trigger(struct hvb_event_source *source);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* HVBIOS_COMMON_EVENTS_H_ */
