/* Conformance: base, unknown functions, the calling convention, debug and
 * power (docs/abi.md 3, 5.1, 5.4, 5.5). */
#include "conformance.h"

_Static_assert(HVB_FN_DEBUG_NULL == 0x40000, "preserve.S hard-codes it");
uint64_t conformance_clobbered_registers(void);

void test_base(void) {
  struct hvb_result r = hvb_call0(HVB_FN_BASE_GET_ABI_VERSION);
  CHECK_STATUS("base.get_abi_version.status", r, HVB_OK);
  CHECK("base.get_abi_version", r.value == HVB_ABI_VERSION, "%lx", r.value);
  r = hvb_call0(HVB_FN_BASE_GET_IMPL_ID);
  CHECK("base.get_impl_id",
        r.status == HVB_OK && (r.value == HVB_IMPL_HVBIOS_KVM ||
                               r.value == HVB_IMPL_HVBIOS_BAREMETAL),
        "%lu", r.value);
  r = hvb_call0(HVB_FN_BASE_GET_IMPL_VERSION);
  CHECK_STATUS("base.get_impl_version", r, HVB_OK);

  /* Every function of the table (hvbios/abi/functions.h), as the SDK
   * lists them, but rng.fill, which a platform without a random source
   * lacks (docs/abi.md 5.11; test_rng checks that it says so). */
  int all = 1;
  for (size_t i = 0; i < hvb_abi_function_count; ++i) {
    if (hvb_abi_functions[i].fid == HVB_FN_RNG_FILL) continue;
    if (!hvb_base_probe(hvb_abi_functions[i].fid)) {
      hvb_printf("  probe says %s (%x) is missing\n", hvb_abi_functions[i].name,
                 hvb_abi_functions[i].fid);
      all = 0;
    }
  }
  CHECK("base.probe.implemented", all, "see above");
  r = hvb_call1(HVB_FN_BASE_PROBE, HVB_FID(HVB_SVC_DEBUG, 0x1234));
  CHECK("base.probe.unknown_function", r.status == HVB_OK && r.value == 0,
        "status %ld value %lu", (long)r.status, r.value);
  r = hvb_call1(HVB_FN_BASE_PROBE, HVB_FID(0x7fff, 0));
  CHECK("base.probe.unknown_service", r.status == HVB_OK && r.value == 0,
        "status %ld value %lu", (long)r.status, r.value);
  r = hvb_call1(HVB_FN_BASE_PROBE, (1ull << 32) | HVB_FN_DEBUG_NULL);
  CHECK("base.probe.high_bits", r.status == HVB_OK && r.value == 0,
        "status %ld value %lu", (long)r.status, r.value);
}

void test_nosys(void) {
  struct hvb_result r = hvb_call0(HVB_FID(0xffff, 0));
  CHECK_STATUS("nosys.unknown_service", r, HVB_ERR_NOSYS);
  r = hvb_call0(HVB_FID(HVB_SVC_BASE, 0xffff));
  CHECK_STATUS("nosys.unknown_function", r, HVB_ERR_NOSYS);
  /* One past each service's last function, by the function table. */
  static const struct {
    uint32_t service, count;
  } services[] = {
#define SERVICE_ROW(SVC, svc, id) {id, 0 HVB_FUNCTIONS_##SVC(ONE)},
#define ONE(SVC, svc, FN, fn, number) +1
      HVB_SERVICES(SERVICE_ROW)
#undef ONE
#undef SERVICE_ROW
  };
  int all = 1, probed_0 = 1;
  for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); ++i) {
    const uint32_t fid = HVB_FID(services[i].service, services[i].count);
    r = hvb_call0(fid);
    if (r.status != HVB_ERR_NOSYS) {
      hvb_printf("  %x: status %ld\n", fid, (long)r.status);
      all = 0;
    }
    if (hvb_base_probe(fid)) {
      hvb_printf("  probe says %x is there\n", fid);
      probed_0 = 0;
    }
  }
  CHECK("nosys.one_past_last_function", all, "see above");
  CHECK("base.probe.one_past_last_function", probed_0, "see above");
  /* The first service id no version has allocated yet. */
  r = hvb_call0(HVB_FID(HVB_SVC_MEMORY + 1, 0));
  CHECK_STATUS("nosys.unallocated_service", r, HVB_ERR_NOSYS);
  /* Vendor services (5.13): the conformance guest runs where none is
   * registered, so both ends of the range are unknown, and say so. */
  r = hvb_call0(HVB_FID(HVB_SVC_VENDOR_FIRST, 0));
  CHECK_STATUS("vendor.unregistered_is_nosys", r, HVB_ERR_NOSYS);
  r = hvb_call1(HVB_FN_BASE_PROBE, HVB_FID(HVB_SVC_VENDOR_LAST, 0));
  CHECK("vendor.unregistered_probes_0", r.status == HVB_OK && r.value == 0,
        "status %ld value %lu", (long)r.status, r.value);
  /* Bits 63..32 of rax must be zero: a valid fid with them set is not it. */
  struct hvb_result high;
  {
    register uint64_t rax __asm__("rax") = (1ull << 40) | HVB_FN_DEBUG_NULL;
    register uint64_t rdx __asm__("rdx") = 0;
    __asm__ volatile("call *%[entry]"
                     : "+r"(rax), "+r"(rdx)
                     : [entry] "m"(hvb_hypercall_entry)
                     : "memory", "cc");
    high.status = (hvb_status)rax;
    high.value = rdx;
  }
  CHECK_STATUS("nosys.fid_high_bits", high, HVB_ERR_NOSYS);
  /* The notify entry rings a doorbell; one for a queue that does not exist
   * is ignored, and every register survives it. */
  {
    /* First: a call between setting register variables and the asm would
     * clobber them. */
    const uint64_t entry = hvb_boot_info()->hypercall_page + HVB_HCPAGE_NOTIFY;
    register uint64_t rax __asm__("rax") = 0x1234;
    register uint64_t rdi __asm__("rdi") = 0xdead;
    register uint64_t rdx __asm__("rdx") = 0x5678;
    __asm__ volatile("call *%[entry]"
                     : "+r"(rax), "+r"(rdi), "+r"(rdx)
                     : [entry] "r"(entry)
                     : "memory", "cc");
    /* Plain copies: register variables are only reliable at the asm. */
    const uint64_t a = rax, d = rdi, x = rdx;
    CHECK("hcpage.notify_unknown_queue",
          a == 0x1234 && d == 0xdead && x == 0x5678, "rax %lx rdi %lx rdx %lx",
          a, d, x);
  }
}

void test_preserved(void) {
  uint64_t mask = conformance_clobbered_registers();
  CHECK("call.preserves_registers", mask == 0,
        "clobbered mask %lx (bit 0 rbx, 1 rcx, 2 rsi, 3 rdi, 4 rbp, 5 r8 .. "
        "12 r15, 13 DF)",
        mask);
}

void test_debug(void) {
  struct hvb_result r = hvb_call0(HVB_FN_DEBUG_NULL);
  CHECK("debug.null", r.status == HVB_OK && r.value == 0,
        "status %ld value %lu", (long)r.status, r.value);
  r = hvb_call6(HVB_FN_DEBUG_ECHO, 1, 2, 4, 8, 16, 32);
  CHECK("debug.echo.all_args", r.status == HVB_OK && r.value == 63,
        "status %ld value %lu", (long)r.status, r.value);
  r = hvb_call6(HVB_FN_DEBUG_ECHO, 0x8000000000000000ull, 0, 0, 0, 0,
                0x0123456789abcdefull);
  CHECK("debug.echo.full_width",
        r.status == HVB_OK && r.value == 0x8123456789abcdefull,
        "status %ld value %lx", (long)r.status, r.value);

  /* Since 0.9: debug.panic's refusals return (the panic itself ends the
   * machine: tests/kvm/hvbios_run_safety_test.cc, tests/baremetal). */
  static const char text[] = "not a panic";
  const uint64_t msg = hvb_virt_to_phys(text);
  r = hvb_call6(HVB_FN_DEBUG_PANIC, 256, msg, sizeof(text) - 1, 0, 0, 0);
  CHECK_STATUS("debug.panic.code_too_large", r, HVB_ERR_INVAL);
  r = hvb_call6(HVB_FN_DEBUG_PANIC, 1ull << 32, msg, 1, 0, 0, 0);
  CHECK_STATUS("debug.panic.code_high_bits", r, HVB_ERR_INVAL);
  r = hvb_call6(HVB_FN_DEBUG_PANIC, 1, msg, HVB_PANIC_MAX_MESSAGE + 1, 0, 0, 0);
  CHECK_STATUS("debug.panic.message_too_long", r, HVB_ERR_INVAL);
  r = hvb_call6(HVB_FN_DEBUG_PANIC, 1, ram_top - 2, 4, 0, 0, 0);
  CHECK_STATUS("debug.panic.straddles_ram_end", r, HVB_ERR_FAULT);
  r = hvb_call6(HVB_FN_DEBUG_PANIC, 1, 0xc0000000ull, 1, 0, 0, 0);
  CHECK_STATUS("debug.panic.hole_below_4g", r, HVB_ERR_FAULT);
  r = hvb_call6(HVB_FN_DEBUG_PANIC, 1, 0xfffffffffffffff0ull, 0x20, 0, 0, 0);
  CHECK_STATUS("debug.panic.wraps", r, HVB_ERR_FAULT);
}

void test_power_errors(void) {
  struct hvb_result r = hvb_call1(HVB_FN_POWER_SHUTDOWN, 256);
  CHECK_STATUS("power.shutdown.code_too_large", r, HVB_ERR_INVAL);
  r = hvb_call1(HVB_FN_POWER_SHUTDOWN, 1ull << 32);
  CHECK_STATUS("power.shutdown.code_high_bits", r, HVB_ERR_INVAL);
}
