/* The ABI's services as the firmware serves them: one file per service
 * (services/<service>.c), each defining the handlers of its rows in the
 * function table (hvbios/abi/functions.h); dispatch.c builds the tables
 * from the same rows. Handlers run under the firmware lock, one at a time
 * across CPUs, with interrupts off. */
#ifndef HVBIOS_BAREMETAL_SERVICES_SERVICES_H_
#define HVBIOS_BAREMETAL_SERVICES_SERVICES_H_

#include <stdint.h>

#include "hvbios/abi/functions.h"

/* A hypercall's answer: rax = status, rdx = value. */
struct fw_result {
  int64_t status;
  uint64_t value;
};
static inline struct fw_result fw_ok(uint64_t value) {
  const struct fw_result r = {0, value};
  return r;
}
static inline struct fw_result fw_error(int64_t status) {
  const struct fw_result r = {status, 0};
  return r;
}
/* A status that is a value when not negative (counts, queue ids). */
static inline struct fw_result fw_ok_or_error(int64_t status) {
  return status < 0 ? fw_error(status) : fw_ok((uint64_t)status);
}

/* The handler of every row: fw_<service>_<function>(args), args being
 * rdi, rsi, rdx, rcx, r8, r9. */
typedef struct fw_result (*fw_handler)(const uint64_t *args);
#define FW_DECLARE_HANDLER(SVC, svc, FN, fn, number) \
  struct fw_result fw_##svc##_##fn(const uint64_t *args);
HVB_FUNCTIONS(FW_DECLARE_HANDLER)
#undef FW_DECLARE_HANDLER

/* Serves hypercall `fid` (rax) with arguments rdi, rsi, rdx, rcx, r8, r9
 * (the hypercall page's call entry, hcpage.S). Returned in rax:rdx by the
 * SysV ABI, which is what the page's return path hands to the guest. */
struct fw_result fw_dispatch(uint64_t fid, const uint64_t args[6]);
/* Whether function `fid` is implemented here (base.probe). */
int fw_implemented(uint64_t fid);
/* The firmware lock, which dispatch holds around every handler. A handler
 * that never returns (vcpu.stop) releases it first. */
void fw_unlock(void);

/* ---- What services offer one another */

#define FW_MAX_QUEUES 16 /* block queues, each an event source */

/* block.c: finds the disks (once, on the boot CPU, before the boot info is
 * written). */
void fw_block_init(void);
/* event.c: block queue `queue` exists from now on, as an event source. */
void fw_event_add_queue(uint32_t queue);
/* event.c: queue `queue` posted completions: an event as routed. */
void fw_event_queue_completed(uint32_t queue);
/* block.c: serves queue `queue`'s new requests (the notify entry). */
void fw_block_notify(uint64_t queue);

#endif /* HVBIOS_BAREMETAL_SERVICES_SERVICES_H_ */
