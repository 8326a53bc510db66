/* vendor: a guest that uses its VMM's own hypercall service, the key-value
 * store of examples/vendor_kv.h (served by examples/vmm/vendor_service.c),
 * through the SDK's generic calls. It reads the key "greeting", stores
 * "answer", checks the service's answers and errors, and shuts down with
 * code 0 if every check passed. Any VMM without the service makes it say
 * so and exit 3. */
#include "examples/vendor_kv.h"
#include "hvbios/guest/hvb.h"

static int g_failed;

static void check(const char *name, int ok, int64_t status, uint64_t value) {
  hvb_printf("%s %s (status %ld, value %lu)\n", ok ? "ok  " : "FAIL", name,
             (long)status, value);
  g_failed += !ok;
}

static struct hvb_result kv_call(uint32_t function, uint64_t a0, uint64_t a1,
                                 uint64_t a2, uint64_t a3) {
  return hvb_call6(HVB_FID(KV_SERVICE, function), a0, a1, a2, a3, 0, 0);
}

static struct hvb_result kv_put(const char *key, const char *value) {
  return kv_call(KV_FN_PUT, (uint64_t)(uintptr_t)key, strlen(key),
                 (uint64_t)(uintptr_t)value, strlen(value));
}

int hvb_main(const struct hvb_boot_info *boot) {
  (void)boot;
  if (!hvb_base_probe(HVB_FID(KV_SERVICE, KV_FN_PUT))) {
    hvb_printf("vendor: this VMM has no kv service (0x%x)\n", KV_SERVICE);
    return 3;
  }
  check("probe: one past kv's last function is not there",
        !hvb_base_probe(HVB_FID(KV_SERVICE, KV_FUNCTION_COUNT)), 0, 0);
  check("probe: an unregistered vendor service is not there",
        !hvb_base_probe(HVB_FID(KV_SERVICE + 1, 0)), 0, 0);

  static char value[KV_MAX_VALUE + 1];
  struct hvb_result r = kv_call(KV_FN_GET, (uint64_t)(uintptr_t) "greeting", 8,
                                (uint64_t)(uintptr_t)value, KV_MAX_VALUE);
  if (r.status == HVB_OK) {
    value[r.value < KV_MAX_VALUE ? r.value : KV_MAX_VALUE] = 0;
    hvb_printf("the VMM says: %s\n", value);
  } else {
    hvb_printf("no greeting (status %ld)\n", (long)r.status);
  }

  const struct hvb_result before = kv_call(KV_FN_COUNT, 0, 0, 0, 0);
  r = kv_put("answer", "42");
  check("put answer=42", r.status == HVB_OK, r.status, r.value);
  r = kv_call(KV_FN_GET, (uint64_t)(uintptr_t) "answer", 6,
              (uint64_t)(uintptr_t)value, 2);
  check(
      "get answer",
      r.status == HVB_OK && r.value == 2 && value[0] == '4' && value[1] == '2',
      r.status, r.value);
  r = kv_call(KV_FN_COUNT, 0, 0, 0, 0);
  check("count grew by one", r.status == HVB_OK && r.value == before.value + 1,
        r.status, r.value);
  r = kv_put("scratch", "x");
  r = kv_call(KV_FN_REMOVE, (uint64_t)(uintptr_t) "scratch", 7, 0, 0);
  check("remove", r.status == HVB_OK, r.status, r.value);

  /* Errors: the service's own, and the platform's for any service. */
  r = kv_call(KV_FN_GET, (uint64_t)(uintptr_t) "scratch", 7,
              (uint64_t)(uintptr_t)value, KV_MAX_VALUE);
  check("get of a removed key: NODEV", r.status == HVB_ERR_NODEV, r.status,
        r.value);
  r = kv_call(KV_FN_PUT, (uint64_t)(uintptr_t) "k", 0,
              (uint64_t)(uintptr_t)value, 1);
  check("an empty key: INVAL", r.status == HVB_ERR_INVAL, r.status, r.value);
  r = kv_call(KV_FN_PUT, 0, 4, (uint64_t)(uintptr_t)value, 1);
  check("a key in page 0: FAULT", r.status == HVB_ERR_FAULT, r.status, r.value);
  r = kv_call(KV_FN_GET, (uint64_t)(uintptr_t) "answer", 6, 1ull << 40, 2);
  check("a buffer outside RAM: FAULT", r.status == HVB_ERR_FAULT, r.status,
        r.value);
  r = kv_call(KV_FUNCTION_COUNT, 0, 0, 0, 0);
  check("a function past the last: NOSYS", r.status == HVB_ERR_NOSYS, r.status,
        r.value);
  r = hvb_call0(HVB_FID(KV_SERVICE + 1, 0));
  check("an unregistered vendor service: NOSYS", r.status == HVB_ERR_NOSYS,
        r.status, r.value);

  hvb_printf("vendor: %d check(s) failed\n", g_failed);
  return g_failed == 0 ? 0 : 1;
}
