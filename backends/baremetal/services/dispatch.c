/* Dispatch: the firmware's tables of handlers, built from the function
 * table's rows (hvbios/abi/functions.h) by number with designated
 * initializers. A row without a handler does not link; a gap or a
 * duplicate number fails the static_asserts below (and a duplicate also
 * -Werror=override-init). The firmware lock serialises every handler. */
#include "firmware.h"
#include "services/services.h"

#define FW_HANDLER_ROW(SVC, svc, FN, fn, number) [number] = fw_##svc##_##fn,
#define FW_COUNT_ROW(SVC, svc, FN, fn, number) +1
#define FW_SERVICE_TABLE(SVC, svc, id)                                       \
  static const fw_handler k_##svc[] = {HVB_FUNCTIONS_##SVC(FW_HANDLER_ROW)}; \
  _Static_assert(sizeof(k_##svc) / sizeof(k_##svc[0]) ==                     \
                     0 HVB_FUNCTIONS_##SVC(FW_COUNT_ROW),                    \
                 #svc "'s function numbers must be 0..n-1, each once");
HVB_SERVICES(FW_SERVICE_TABLE)

struct fw_service {
  const fw_handler *functions;
  uint32_t count;
};
#define FW_SERVICE_ROW(SVC, svc, id) \
  [id] = {k_##svc, sizeof(k_##svc) / sizeof(k_##svc[0])},
static const struct fw_service kServices[] = {HVB_SERVICES(FW_SERVICE_ROW)};

static fw_handler lookup(uint64_t fid) {
  if (fid > UINT32_MAX) return 0;
  const uint32_t service = HVB_FID_SERVICE(fid);
  const uint32_t function = HVB_FID_FUNCTION(fid);
  if (service >= sizeof(kServices) / sizeof(kServices[0])) return 0;
  if (service == HVB_SVC_RNG && !g_platform.has_rdrand) return 0;
  if (function >= kServices[service].count) return 0;
  return kServices[service].functions[function];
}

int fw_implemented(uint64_t fid) { return lookup(fid) != 0; }

/* One lock serialises the services across CPUs. The firmware runs with
 * interrupts off, so a holder is never interrupted: a CPU spins for at
 * most one service call. */
static volatile int g_lock;
static void fw_lock(void) {
  while (__atomic_exchange_n(&g_lock, 1, __ATOMIC_ACQUIRE)) {
    while (__atomic_load_n(&g_lock, __ATOMIC_RELAXED)) __builtin_ia32_pause();
  }
}
void fw_unlock(void) { __atomic_store_n(&g_lock, 0, __ATOMIC_RELEASE); }

struct fw_result fw_dispatch(uint64_t fid, const uint64_t args[6]) {
  const fw_handler handler = lookup(fid);
  if (!handler) return fw_error(HVB_ERR_NOSYS);
  fw_lock();
  const struct fw_result r = handler(args);
  fw_unlock();
  return r;
}

/* The hypercall page's notify entry (hcpage.S). */
void fw_notify(uint64_t queue);
void fw_notify(uint64_t queue) {
  fw_lock();
  fw_block_notify(queue);
  fw_net_notify(queue);
  fw_unlock();
}
