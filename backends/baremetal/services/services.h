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

/* What the hypercall page's call entry (hcpage.S, fw_call) leaves on the
 * firmware stack, from the handler's `args` up: the caller's registers as
 * the call found them. `rsp` is the guest's below the page's three pushes
 * (r11, r10, rflags, then the return address above them). */
struct fw_call_frame {
  uint64_t args[6]; /* rdi, rsi, rdx, rcx, r8, r9 */
  uint64_t r9, r8, rcx, rsi, rdi;
  uint64_t r15, r14, r13, r12, rbp, rbx;
  uint64_t rsp, cr3;
};

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

#define FW_MAX_QUEUES 16 /* block and net queues, each an event source */

/* block.c: finds the disks (once, on the boot CPU, before the boot info is
 * written). */
void fw_block_init(void);
/* net.c: finds the network card (the same): how many net devices (0, 1). */
uint32_t fw_net_init(void);
/* event.c: a new queue's id (one space for block and net), an event source
 * from now on; -1 when all FW_MAX_QUEUES exist. */
int fw_event_new_queue(void);
/* event.c: queue `queue` posted completions: an event as routed. */
void fw_event_queue_completed(uint32_t queue);
/* event.c: points the network card's interrupt where its source's route
 * says (after the receive ring appears). */
void fw_event_net_apply(void);
/* net.c: the receive ring's queue id, or -1. */
int fw_net_rx_queue(void);
/* net.c: lowers the card's interrupt line for the next frame to raise it;
 * whether frames wait. */
int fw_net_rearm(void);
/* block.c, net.c: serve queue `queue`'s new requests (the notify entry) if
 * it is theirs. */
void fw_block_notify(uint64_t queue);
void fw_net_notify(uint64_t queue);

#endif /* HVBIOS_BAREMETAL_SERVICES_SERVICES_H_ */
