/* ABI conformance guest: calls every function of ABI 0.1 from inside the
 * VM, valid calls and error paths, and reports each check on the console,
 * then "N passed, N failed". Shuts down with 0 only if nothing failed.
 *
 * Command line (optional): "input=TEXT" makes it also wait (up to 5 s of
 * the platform's monotonic clock) for TEXT on console input. */
#include "hvbios/guest/hvb.h"

_Static_assert(HVB_FN_DEBUG_NULL == 0x40000, "preserve.S hard-codes it");
uint64_t conformance_clobbered_registers(void);

static int passed, failed;

#define CHECK(name, cond, ...)       \
  do {                               \
    if (cond) {                      \
      ++passed;                      \
    } else {                         \
      ++failed;                      \
      hvb_printf("FAIL %s: ", name); \
      hvb_printf(__VA_ARGS__);       \
      hvb_printf("\n");              \
    }                                \
  } while (0)

#define CHECK_STATUS(name, result, want)                         \
  CHECK(name, (result).status == (want), "status %ld, want %ld", \
        (long)(result).status, (long)(want))

static uint64_t ram_top; /* one past the highest RAM byte */
static char scratch[8192];

static void find_ram_top(const struct hvb_boot_info *boot) {
  const struct hvb_mem_region *map =
      (const struct hvb_mem_region *)(uintptr_t)boot->mem_map;
  for (uint32_t i = 0; i < boot->mem_map_count; ++i) {
    uint64_t end = map[i].base + map[i].length;
    if (end > ram_top) ram_top = end;
  }
}

static void test_boot_info(const struct hvb_boot_info *boot) {
  CHECK("boot.magic", boot->magic == HVB_BOOT_MAGIC, "%lx", boot->magic);
  CHECK("boot.abi_version", boot->abi_version == HVB_ABI_VERSION, "%x",
        boot->abi_version);
  CHECK("boot.size", boot->size >= sizeof(struct hvb_boot_info), "%u",
        boot->size);
  CHECK("boot.vcpu_count", boot->vcpu_count >= 1, "%u", boot->vcpu_count);
  CHECK("boot.hypercall_page",
        boot->hypercall_page != 0 && boot->hypercall_page % 4096 == 0, "%lx",
        boot->hypercall_page);
  const struct hvb_mem_region *map =
      (const struct hvb_mem_region *)(uintptr_t)boot->mem_map;
  int sorted = 1, platform_found = 0, image_found = 0;
  for (uint32_t i = 0; i < boot->mem_map_count; ++i) {
    if (i > 0 && map[i].base < map[i - 1].base + map[i - 1].length) sorted = 0;
    if (map[i].type == HVB_MEM_PLATFORM &&
        map[i].base <= boot->hypercall_page &&
        boot->hypercall_page < map[i].base + map[i].length) {
      platform_found = 1;
    }
    if (map[i].type == HVB_MEM_IMAGE &&
        map[i].base <= (uint64_t)(uintptr_t)&test_boot_info &&
        (uint64_t)(uintptr_t)&test_boot_info < map[i].base + map[i].length) {
      image_found = 1;
    }
  }
  CHECK("boot.mem_map.sorted", sorted, "regions overlap or are unsorted");
  CHECK("boot.mem_map.hypercall_page", platform_found,
        "hypercall page not in a PLATFORM region");
  CHECK("boot.mem_map.image", image_found, "own code not in an IMAGE region");
  const struct hvb_device *devices =
      (const struct hvb_device *)(uintptr_t)boot->devices;
  CHECK("boot.devices.console",
        boot->device_count >= 1 && devices[0].type == HVB_DEV_CONSOLE,
        "count %u", boot->device_count);
  const char *cmdline = (const char *)(uintptr_t)boot->cmdline;
  CHECK("boot.cmdline",
        boot->cmdline == 0 || strlen(cmdline) == boot->cmdline_length,
        "length mismatch");
}

static void test_base(void) {
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

  static const uint32_t implemented[] = {HVB_FN_BASE_GET_ABI_VERSION,
                                         HVB_FN_BASE_GET_IMPL_ID,
                                         HVB_FN_BASE_GET_IMPL_VERSION,
                                         HVB_FN_BASE_PROBE,
                                         HVB_FN_CONSOLE_WRITE,
                                         HVB_FN_CONSOLE_READ,
                                         HVB_FN_CLOCK_MONOTONIC,
                                         HVB_FN_CLOCK_WALLCLOCK,
                                         HVB_FN_POWER_SHUTDOWN,
                                         HVB_FN_POWER_REBOOT,
                                         HVB_FN_DEBUG_NULL,
                                         HVB_FN_DEBUG_ECHO,
                                         HVB_FN_VCPU_COUNT,
                                         HVB_FN_VCPU_SELF,
                                         HVB_FN_VCPU_START,
                                         HVB_FN_VCPU_STOP,
                                         HVB_FN_VCPU_STATUS,
                                         HVB_FN_TIMER_SET,
                                         HVB_FN_TIMER_CANCEL,
                                         HVB_FN_EVENT_ROUTE,
                                         HVB_FN_EVENT_MASK,
                                         HVB_FN_EVENT_UNMASK,
                                         HVB_FN_EVENT_SEND_IPI,
                                         HVB_FN_BLOCK_INFO,
                                         HVB_FN_BLOCK_READ,
                                         HVB_FN_BLOCK_WRITE,
                                         HVB_FN_BLOCK_FLUSH,
                                         HVB_FN_BLOCK_DISCARD,
                                         HVB_FN_BLOCK_QUEUE_SETUP,
                                         HVB_FN_RNG_FILL};
  int all = 1;
  for (unsigned i = 0; i < sizeof(implemented) / sizeof(implemented[0]); ++i) {
    if (!hvb_base_probe(implemented[i])) {
      hvb_printf("  probe says %x is missing\n", implemented[i]);
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

static void test_nosys(void) {
  struct hvb_result r = hvb_call0(HVB_FID(0xffff, 0));
  CHECK_STATUS("nosys.unknown_service", r, HVB_ERR_NOSYS);
  r = hvb_call0(HVB_FID(HVB_SVC_BASE, 0xffff));
  CHECK_STATUS("nosys.unknown_function", r, HVB_ERR_NOSYS);
  r = hvb_call0(HVB_FID(HVB_SVC_CONSOLE, 2));
  CHECK_STATUS("nosys.one_past_last_function", r, HVB_ERR_NOSYS);
  r = hvb_call0(HVB_FID(HVB_SVC_VCPU, 5));
  CHECK_STATUS("nosys.past_last_vcpu_function", r, HVB_ERR_NOSYS);
  r = hvb_call0(HVB_FID(HVB_SVC_MEM, 0));
  CHECK_STATUS("nosys.reserved_service", r, HVB_ERR_NOSYS);
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

static void test_preserved(void) {
  uint64_t mask = conformance_clobbered_registers();
  CHECK("call.preserves_registers", mask == 0,
        "clobbered mask %lx (bit 0 rbx, 1 rcx, 2 rsi, 3 rdi, 4 rbp, 5 r8 .. "
        "12 r15, 13 DF)",
        mask);
}

static void test_console(void) {
  static const char line[] = "conformance: console.write works\n";
  struct hvb_result r =
      hvb_call2(HVB_FN_CONSOLE_WRITE, hvb_virt_to_phys(line), sizeof(line) - 1);
  CHECK("console.write", r.status == HVB_OK && r.value == sizeof(line) - 1,
        "status %ld value %lu", (long)r.status, r.value);
  r = hvb_call2(HVB_FN_CONSOLE_WRITE, hvb_virt_to_phys(line), 0);
  CHECK("console.write.zero_length", r.status == HVB_OK && r.value == 0,
        "status %ld value %lu", (long)r.status, r.value);
  r = hvb_call2(HVB_FN_CONSOLE_WRITE, ram_top - 2, 4);
  CHECK_STATUS("console.write.straddles_ram_end", r, HVB_ERR_FAULT);
  r = hvb_call2(HVB_FN_CONSOLE_WRITE, 0xfffffffffffffff0ull, 0x20);
  CHECK_STATUS("console.write.wraps", r, HVB_ERR_FAULT);
  r = hvb_call2(HVB_FN_CONSOLE_WRITE, 0xc0000000ull, 1);
  CHECK_STATUS("console.write.hole_below_4g", r, HVB_ERR_FAULT);
  r = hvb_call2(HVB_FN_CONSOLE_WRITE, 1ull << 50, 1);
  CHECK_STATUS("console.write.far_outside", r, HVB_ERR_FAULT);
  /* A huge length is a short write of at most HVB_CONSOLE_MAX_IO bytes: the
   * platform checks only the prefix it writes. Use a buffer of spaces. */
  memset(scratch, ' ', sizeof(scratch));
  scratch[HVB_CONSOLE_MAX_IO - 1] = '\n';
  r = hvb_call2(HVB_FN_CONSOLE_WRITE, hvb_virt_to_phys(scratch), ~0ull);
  CHECK("console.write.short_write",
        r.status == HVB_OK && r.value >= 1 && r.value <= HVB_CONSOLE_MAX_IO,
        "status %ld value %lu", (long)r.status, r.value);

  r = hvb_call2(HVB_FN_CONSOLE_READ, hvb_virt_to_phys(scratch), 0);
  CHECK("console.read.zero_length", r.status == HVB_OK && r.value == 0,
        "status %ld value %lu", (long)r.status, r.value);
  r = hvb_call2(HVB_FN_CONSOLE_READ, ram_top - 1, 2);
  CHECK_STATUS("console.read.straddles_ram_end", r, HVB_ERR_FAULT);
  r = hvb_call2(HVB_FN_CONSOLE_READ, 0xffffffffffffffffull, 2);
  CHECK_STATUS("console.read.wraps", r, HVB_ERR_FAULT);
}

static void test_console_input(const char *want) {
  size_t want_length = 0;
  while (want[want_length] && want[want_length] != ' ') ++want_length;
  size_t have = 0;
  const uint64_t deadline = hvb_clock_monotonic_ns() + 5000000000ull;
  while (have < want_length && hvb_clock_monotonic_ns() < deadline) {
    size_t n = 0;
    hvb_status st = hvb_console_read(scratch + have, want_length - have, &n);
    if (st != HVB_OK) break;
    have += n;
  }
  CHECK("console.read.input",
        have == want_length && memcmp(scratch, want, want_length) == 0,
        "got %lu of %lu bytes", (unsigned long)have,
        (unsigned long)want_length);
}

static void test_clock(void) {
  uint64_t a = hvb_clock_monotonic_ns();
  uint64_t b = hvb_clock_monotonic_ns();
  uint64_t c = hvb_clock_monotonic_ns();
  CHECK("clock.monotonic.nondecreasing", a <= b && b <= c, "%lu %lu %lu", a, b,
        c);
  CHECK("clock.monotonic.advances", c > a, "%lu then %lu", a, c);
  struct hvb_result r = hvb_call0(HVB_FN_CLOCK_WALLCLOCK);
  const uint64_t y2020 = 1577836800ull * 1000000000ull;
  const uint64_t y2200 = 7258118400ull * 1000000000ull;
  CHECK("clock.wallclock",
        r.status == HVB_OK && r.value > y2020 && r.value < y2200,
        "status %ld value %lu", (long)r.status, r.value);
}

static void test_debug(void) {
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
}

static void test_power_errors(void) {
  struct hvb_result r = hvb_call1(HVB_FN_POWER_SHUTDOWN, 256);
  CHECK_STATUS("power.shutdown.code_too_large", r, HVB_ERR_INVAL);
  r = hvb_call1(HVB_FN_POWER_SHUTDOWN, 1ull << 32);
  CHECK_STATUS("power.shutdown.code_high_bits", r, HVB_ERR_INVAL);
}

/* ---- vcpu, timer, event (ABI 0.2) --------------------------------------- */

enum { kTestVector = 0x60, kIpiVector = 0x61, kApVector = 0x62 };
static volatile uint64_t test_vector_hits, ipi_hits;
static void on_test_vector(struct hvb_interrupt_frame *f) {
  (void)f;
  test_vector_hits = test_vector_hits + 1;
}
static void on_ipi(struct hvb_interrupt_frame *f) {
  (void)f;
  ipi_hits = ipi_hits + 1;
}

/* Busy-waits (interrupts on) until *v == want or `ms` pass on the
 * platform clock: a broken platform fails a check instead of hanging. */
static int poll_until(volatile uint64_t *v, uint64_t want, uint64_t ms) {
  const uint64_t limit = hvb_clock_monotonic_ns() + ms * 1000000;
  while (*v != want) {
    if (hvb_clock_monotonic_ns() > limit) return 0;
  }
  return 1;
}
static void spin_ms(uint64_t ms) {
  const uint64_t limit = hvb_clock_monotonic_ns() + ms * 1000000;
  while (hvb_clock_monotonic_ns() < limit) {
  }
}
static int wait_vcpu_state(uint32_t id, uint32_t want, uint64_t ms) {
  const uint64_t limit = hvb_clock_monotonic_ns() + ms * 1000000;
  uint32_t state = 0xffffffff;
  while (hvb_vcpu_status(id, &state) == HVB_OK && state != want) {
    if (hvb_clock_monotonic_ns() > limit) return 0;
  }
  return state == want;
}

static uint8_t ap_stack[16384] __attribute__((aligned(16)));
static volatile uint64_t ap_flag, ap_release, ap_self;
static void ap_set_flag(uint64_t arg) {
  ap_self = hvb_vcpu_self();
  ap_flag = arg;
}
static void ap_spin(uint64_t arg) {
  ap_flag = arg;
  while (!ap_release) {
  }
}
/* Takes events for `ms` milliseconds, counting kApVector's in ap_hits. */
static volatile uint64_t ap_hits;
static void on_ap_vector(struct hvb_interrupt_frame *frame) {
  (void)frame;
  ap_hits = ap_hits + 1;
}
static void ap_take_events(uint64_t ms) {
  hvb_interrupts_load();
  hvb_interrupts_enable();
  spin_ms(ms);
}

static void test_vcpu(const struct hvb_boot_info *boot) {
  const uint32_t count = hvb_vcpu_count();
  CHECK("vcpu.count", count == boot->vcpu_count, "%u vs %u", count,
        boot->vcpu_count);
  CHECK("vcpu.self", hvb_vcpu_self() == 0, "%u", hvb_vcpu_self());
  uint32_t state = 0xff;
  CHECK("vcpu.status.self",
        hvb_vcpu_status(0, &state) == HVB_OK && state == HVB_VCPU_RUNNING,
        "state %u", state);
  struct hvb_result r = hvb_call1(HVB_FN_VCPU_STATUS, count);
  CHECK_STATUS("vcpu.status.no_such_vcpu", r, HVB_ERR_NODEV);
  r = hvb_call1(HVB_FN_VCPU_STATUS, ~0ull);
  CHECK_STATUS("vcpu.status.huge_id", r, HVB_ERR_NODEV);

  const uint64_t entry = (uint64_t)(uintptr_t)&ap_set_flag;
  const uint64_t stack = (uint64_t)(uintptr_t)(ap_stack + sizeof(ap_stack));
  r = hvb_call6(HVB_FN_VCPU_START, count, entry, stack, 0, 0, 0);
  CHECK_STATUS("vcpu.start.no_such_vcpu", r, HVB_ERR_NODEV);
  r = hvb_call6(HVB_FN_VCPU_START, 0, entry, stack, 0, 0, 0);
  CHECK_STATUS("vcpu.start.running_self", r, HVB_ERR_STATE);
  r = hvb_call6(HVB_FN_VCPU_START, 0, ram_top, stack, 0, 0, 0);
  CHECK_STATUS("vcpu.start.entry_outside_ram", r, HVB_ERR_FAULT);
  r = hvb_call6(HVB_FN_VCPU_START, 0, entry, stack - 8, 0, 0, 0);
  CHECK_STATUS("vcpu.start.misaligned_stack", r, HVB_ERR_INVAL);
  r = hvb_call6(HVB_FN_VCPU_START, 0, entry, ram_top + 4096, 0, 0, 0);
  CHECK_STATUS("vcpu.start.stack_outside_ram", r, HVB_ERR_FAULT);
  r = hvb_call6(HVB_FN_VCPU_START, 0, entry, stack, 0, 0x1234, 0);
  CHECK_STATUS("vcpu.start.unaligned_cr3", r, HVB_ERR_INVAL);
  r = hvb_call6(HVB_FN_VCPU_START, 0, entry, stack, 0, ram_top, 0);
  CHECK_STATUS("vcpu.start.cr3_outside_ram", r, HVB_ERR_INVAL);

  if (count < 2) {
    hvb_printf("conformance: 1 vCPU, skipping the checks that start others\n");
    return;
  }
  hvb_printf("conformance: starting vCPU 1 of %u\n", count);
  hvb_status st =
      hvb_vcpu_start_c(1, ap_set_flag, ap_stack, sizeof(ap_stack), 0x1111);
  CHECK("vcpu.start", st == HVB_OK && poll_until(&ap_flag, 0x1111, 5000),
        "status %ld, flag %lx", (long)st, ap_flag);
  CHECK("vcpu.start.runs_as_itself", ap_self == 1, "self %lu", ap_self);
  CHECK("vcpu.stop", wait_vcpu_state(1, HVB_VCPU_STOPPED, 5000),
        "vCPU 1 did not stop after its function returned");
  st = hvb_vcpu_start_c(1, ap_set_flag, ap_stack, sizeof(ap_stack), 0x2222);
  CHECK("vcpu.start.again_after_stop",
        st == HVB_OK && poll_until(&ap_flag, 0x2222, 5000), "status %ld",
        (long)st);
  CHECK("vcpu.stop.again", wait_vcpu_state(1, HVB_VCPU_STOPPED, 5000),
        "vCPU 1 did not stop the second time");
  ap_release = 0;
  st = hvb_vcpu_start_c(1, ap_spin, ap_stack, sizeof(ap_stack), 0x3333);
  CHECK("vcpu.start.spinner",
        st == HVB_OK && poll_until(&ap_flag, 0x3333, 5000), "status %ld",
        (long)st);
  CHECK("vcpu.status.other_running",
        hvb_vcpu_status(1, &state) == HVB_OK && state == HVB_VCPU_RUNNING,
        "state %u", state);
  r = hvb_call6(HVB_FN_VCPU_START, 1, entry, stack, 0, 0, 0);
  CHECK_STATUS("vcpu.start.already_running", r, HVB_ERR_STATE);
  ap_release = 1;
  CHECK("vcpu.stop.spinner", wait_vcpu_state(1, HVB_VCPU_STOPPED, 5000),
        "vCPU 1 did not stop");

  /* A vCPU starts afresh: an event raised while it was stopped is
   * discarded, one raised once start has returned is delivered. */
  hvb_interrupt_set_handler(kApVector, on_ap_vector);
  ap_hits = 0;
  const hvb_status sent = hvb_event_send_ipi(1, kApVector);
  st = hvb_vcpu_start_c(1, ap_take_events, ap_stack, sizeof(ap_stack), 20);
  CHECK("vcpu.start.discards_events_raised_while_stopped",
        sent == HVB_OK && st == HVB_OK &&
            wait_vcpu_state(1, HVB_VCPU_STOPPED, 5000) && ap_hits == 0,
        "send %ld, start %ld, hits %lu", (long)sent, (long)st, ap_hits);
  st = hvb_vcpu_start_c(1, ap_take_events, ap_stack, sizeof(ap_stack), 50);
  const hvb_status sent_after = hvb_event_send_ipi(1, kApVector);
  CHECK("vcpu.start.keeps_events_raised_after_it",
        st == HVB_OK && sent_after == HVB_OK &&
            wait_vcpu_state(1, HVB_VCPU_STOPPED, 5000) && ap_hits == 1,
        "start %ld, send %ld, hits %lu", (long)st, (long)sent_after, ap_hits);
}

/* Arms a deadline, cancels it before it is due, waits past it: nothing
 * fires. The cancel must land first, however slowly this (emulated, maybe
 * contended) guest runs: if it did not, try again with 10x the margin. */
static int cancel_disarms(void) {
  uint64_t margin_ns = 50000000; /* 50 ms */
  for (int attempt = 0; attempt < 3; ++attempt, margin_ns *= 10) {
    const uint64_t before = test_vector_hits;
    const uint64_t deadline = hvb_clock_monotonic_ns() + margin_ns;
    if (hvb_timer_set(deadline, kTestVector) != HVB_OK ||
        hvb_timer_cancel() != HVB_OK) {
      return 0;
    }
    if (hvb_clock_monotonic_ns() >= deadline) {
      poll_until(&test_vector_hits, before + 1, 5000); /* it fired: drain */
      continue;
    }
    while (hvb_clock_monotonic_ns() < deadline + 20000000) {
    }
    return test_vector_hits == before;
  }
  return 0;
}

static void test_timer(void) {
  const uint64_t now = hvb_clock_monotonic_ns();
  struct hvb_result r = hvb_call2(HVB_FN_TIMER_SET, now, 31);
  CHECK_STATUS("timer.set.exception_vector", r, HVB_ERR_INVAL);
  r = hvb_call2(HVB_FN_TIMER_SET, now, 255);
  CHECK_STATUS("timer.set.spurious_vector", r, HVB_ERR_INVAL);
  r = hvb_call2(HVB_FN_TIMER_SET, now, 0x100 | kTestVector);
  CHECK_STATUS("timer.set.vector_high_bits", r, HVB_ERR_INVAL);

  test_vector_hits = 0;
  CHECK("timer.set",
        hvb_timer_set(hvb_clock_monotonic_ns() + 2000000, kTestVector) ==
                HVB_OK &&
            poll_until(&test_vector_hits, 1, 5000),
        "hits %lu", test_vector_hits);
  CHECK("timer.set.past_deadline_fires_at_once",
        hvb_timer_set(0, kTestVector) == HVB_OK &&
            poll_until(&test_vector_hits, 2, 5000),
        "hits %lu", test_vector_hits);
  CHECK("timer.set.one_shot", (spin_ms(20), test_vector_hits == 2), "hits %lu",
        test_vector_hits);
  CHECK("timer.cancel", cancel_disarms(), "hits %lu", test_vector_hits);
  CHECK("timer.cancel.none_armed", hvb_timer_cancel() == HVB_OK, "failed");
  const uint64_t hits = test_vector_hits;
  hvb_timer_set(hvb_clock_monotonic_ns() + 60ull * 1000000000, kTestVector);
  CHECK("timer.set.replaces",
        hvb_timer_set(hvb_clock_monotonic_ns() + 1000000, kTestVector) ==
                HVB_OK &&
            poll_until(&test_vector_hits, hits + 1, 5000),
        "hits %lu", test_vector_hits);
  hvb_timer_cancel();
}

static void test_event(void) {
  const uint32_t count = hvb_vcpu_count();
  struct hvb_result r = hvb_call6(HVB_FN_EVENT_ROUTE, HVB_EVENT_SRC_QUEUE(15),
                                  0, kIpiVector, 0, 0, 0);
  CHECK_STATUS("event.route.no_such_source", r, HVB_ERR_NODEV);
  r = hvb_call6(HVB_FN_EVENT_ROUTE, 0, count, kIpiVector, 0, 0, 0);
  CHECK_STATUS("event.route.no_such_vcpu", r, HVB_ERR_NODEV);
  r = hvb_call6(HVB_FN_EVENT_ROUTE, 0, 0, 5, 0, 0, 0);
  CHECK_STATUS("event.route.exception_vector", r, HVB_ERR_INVAL);
  r = hvb_call1(HVB_FN_EVENT_MASK, 99);
  CHECK_STATUS("event.mask.no_such_source", r, HVB_ERR_NODEV);
  r = hvb_call1(HVB_FN_EVENT_UNMASK, 99);
  CHECK_STATUS("event.unmask.no_such_source", r, HVB_ERR_NODEV);
  CHECK(
      "event.route.console_input",
      hvb_event_route(HVB_EVENT_SRC_CONSOLE_INPUT, 0, kTestVector) == HVB_OK &&
          hvb_event_mask(HVB_EVENT_SRC_CONSOLE_INPUT) == HVB_OK &&
          hvb_event_unmask(HVB_EVENT_SRC_CONSOLE_INPUT) == HVB_OK,
      "failed");

  r = hvb_call2(HVB_FN_EVENT_SEND_IPI, count, kIpiVector);
  CHECK_STATUS("event.send_ipi.no_such_vcpu", r, HVB_ERR_NODEV);
  r = hvb_call2(HVB_FN_EVENT_SEND_IPI, 0, 2);
  CHECK_STATUS("event.send_ipi.exception_vector", r, HVB_ERR_INVAL);
  r = hvb_call2(HVB_FN_EVENT_SEND_IPI, 0, 256 + kIpiVector);
  CHECK_STATUS("event.send_ipi.vector_high_bits", r, HVB_ERR_INVAL);
  ipi_hits = 0;
  CHECK("event.send_ipi.self",
        hvb_event_send_ipi(0, kIpiVector) == HVB_OK &&
            poll_until(&ipi_hits, 1, 5000),
        "hits %lu", ipi_hits);
  /* Two IPIs to one vector while interrupts are off: delivered once. */
  hvb_interrupts_disable();
  hvb_event_send_ipi(0, kIpiVector);
  hvb_event_send_ipi(0, kIpiVector);
  hvb_interrupts_enable();
  CHECK("event.coalesce",
        poll_until(&ipi_hits, 2, 5000) && (spin_ms(5), ipi_hits == 2),
        "hits %lu", ipi_hits);
  /* A halt ends with the next event (the page's halt entry). */
  const uint64_t before = test_vector_hits; /* before arming: no hang */
  hvb_timer_set(hvb_clock_monotonic_ns() + 1000000, kTestVector);
  HVB_WAIT_UNTIL(test_vector_hits != before);
  CHECK("hcpage.halt_wakes_on_event", test_vector_hits == before + 1,
        "hits %lu", test_vector_hits);
}

/* ---- rng, block, rings (ABI 0.3) ----------------------------------------- */

static void test_rng(void) {
  static uint8_t a[64], b[64];
  CHECK("rng.fill",
        hvb_rng_fill(a, sizeof(a)) == HVB_OK &&
            hvb_rng_fill(b, sizeof(b)) == HVB_OK &&
            memcmp(a, b, sizeof(a)) != 0,
        "two fills were equal or failed");
  struct hvb_result r = hvb_call2(HVB_FN_RNG_FILL, hvb_virt_to_phys(a), 0);
  CHECK("rng.fill.zero_length", r.status == HVB_OK && r.value == 0,
        "status %ld value %lu", (long)r.status, r.value);
  r = hvb_call2(HVB_FN_RNG_FILL, ram_top - 8, 16);
  CHECK_STATUS("rng.fill.outside_ram", r, HVB_ERR_FAULT);
  r = hvb_call2(HVB_FN_RNG_FILL, hvb_virt_to_phys(scratch), ~0ull);
  CHECK("rng.fill.short",
        r.status == HVB_OK && r.value >= 1 && r.value <= HVB_RNG_MAX_FILL,
        "status %ld value %lu", (long)r.status, r.value);
}

/* Disk ids from the boot info: the first writable and read-only ones. */
static int find_disk(const struct hvb_boot_info *boot, int read_only) {
  const struct hvb_device *d =
      (const struct hvb_device *)(uintptr_t)boot->devices;
  for (uint32_t i = 0; i < boot->device_count; ++i) {
    if (d[i].type == HVB_DEV_BLOCK &&
        !!(d[i].flags & HVB_BLOCK_F_READ_ONLY) == read_only) {
      return (int)d[i].id;
    }
  }
  return -1;
}

static uint8_t disk_buf[8 * 512] __attribute__((aligned(512)));
static uint8_t ring_mem[8192] __attribute__((aligned(4096)));
static volatile uint64_t queue_events;
static void on_queue(struct hvb_interrupt_frame *f) {
  (void)f;
  queue_events = queue_events + 1;
}
enum { kQueueVector = 0x62 };

static void test_block_sync(int dev, int ro) {
  struct hvb_block_info info;
  CHECK("block.info",
        hvb_block_info((uint32_t)dev, &info) == HVB_OK && info.sectors >= 64 &&
            info.sector_size == 512 && info.max_sectors >= 8 &&
            !(info.flags & HVB_BLOCK_F_READ_ONLY),
        "sectors %lu size %u flags %u", info.sectors, info.sector_size,
        info.flags);
  struct hvb_result r =
      hvb_call2(HVB_FN_BLOCK_INFO, 99, hvb_virt_to_phys(&info));
  CHECK_STATUS("block.info.no_such_disk", r, HVB_ERR_NODEV);
  r = hvb_call2(HVB_FN_BLOCK_INFO, (uint64_t)dev, ram_top - 4);
  CHECK_STATUS("block.info.outside_ram", r, HVB_ERR_FAULT);

  for (unsigned i = 0; i < sizeof(disk_buf); ++i)
    disk_buf[i] = (uint8_t)(i * 7 + 3);
  CHECK("block.write", hvb_block_write((uint32_t)dev, 8, 8, disk_buf) == HVB_OK,
        "failed");
  memset(disk_buf, 0, sizeof(disk_buf));
  int same = hvb_block_read((uint32_t)dev, 8, 8, disk_buf) == HVB_OK;
  for (unsigned i = 0; same && i < sizeof(disk_buf); ++i) {
    same = disk_buf[i] == (uint8_t)(i * 7 + 3);
  }
  CHECK("block.read_back", same, "data differs");
  CHECK("block.flush", hvb_block_flush((uint32_t)dev) == HVB_OK, "failed");
  r = hvb_call1(HVB_FN_BLOCK_FLUSH, 99);
  CHECK_STATUS("block.flush.no_such_disk", r, HVB_ERR_NODEV);

  const uint64_t buf = hvb_virt_to_phys(disk_buf);
  r = hvb_call6(HVB_FN_BLOCK_READ, 99, 0, 1, buf, 0, 0);
  CHECK_STATUS("block.read.no_such_disk", r, HVB_ERR_NODEV);
  r = hvb_call6(HVB_FN_BLOCK_READ, (uint64_t)dev, 0, 0, buf, 0, 0);
  CHECK_STATUS("block.read.zero_count", r, HVB_ERR_RANGE);
  r = hvb_call6(HVB_FN_BLOCK_READ, (uint64_t)dev, 0, info.max_sectors + 1, buf,
                0, 0);
  CHECK_STATUS("block.read.above_max", r, HVB_ERR_RANGE);
  r = hvb_call6(HVB_FN_BLOCK_READ, (uint64_t)dev, info.sectors - 1, 2, buf, 0,
                0);
  CHECK_STATUS("block.read.past_end", r, HVB_ERR_RANGE);
  r = hvb_call6(HVB_FN_BLOCK_READ, (uint64_t)dev, ~0ull, 2, buf, 0, 0);
  CHECK_STATUS("block.read.sector_wraps", r, HVB_ERR_RANGE);
  r = hvb_call6(HVB_FN_BLOCK_READ, (uint64_t)dev, 0, 8, ram_top - 512, 0, 0);
  CHECK_STATUS("block.read.buffer_outside_ram", r, HVB_ERR_FAULT);
  r = hvb_call6(HVB_FN_BLOCK_WRITE, (uint64_t)dev, 0, 1, ~0ull - 100, 0, 0);
  CHECK_STATUS("block.write.buffer_wraps", r, HVB_ERR_FAULT);

  CHECK("block.discard",
        hvb_block_discard((uint32_t)dev, 8, 8) == HVB_OK &&
            hvb_block_read((uint32_t)dev, 8, 1, disk_buf) == HVB_OK &&
            disk_buf[0] == 0 && disk_buf[511] == 0,
        "failed or not zero");
  r = hvb_call6(HVB_FN_BLOCK_DISCARD, (uint64_t)dev, info.sectors, 1, 0, 0, 0);
  CHECK_STATUS("block.discard.past_end", r, HVB_ERR_RANGE);

  if (ro >= 0) {
    struct hvb_block_info ro_info;
    CHECK("block.info.read_only",
          hvb_block_info((uint32_t)ro, &ro_info) == HVB_OK &&
              (ro_info.flags & HVB_BLOCK_F_READ_ONLY),
          "flags %u", ro_info.flags);
    CHECK("block.read.read_only_disk",
          hvb_block_read((uint32_t)ro, 0, 1, disk_buf) == HVB_OK, "failed");
    r = hvb_call6(HVB_FN_BLOCK_WRITE, (uint64_t)ro, 0, 1, buf, 0, 0);
    CHECK_STATUS("block.write.read_only_disk", r, HVB_ERR_PERM);
    r = hvb_call6(HVB_FN_BLOCK_DISCARD, (uint64_t)ro, 0, 1, 0, 0, 0);
    CHECK_STATUS("block.discard.read_only_disk", r, HVB_ERR_PERM);
  }
}

static void test_block_ring(int dev) {
  const uint64_t ring = hvb_virt_to_phys(ring_mem);
  struct hvb_result r =
      hvb_call6(HVB_FN_BLOCK_QUEUE_SETUP, 99, ring, 8, 0, 0, 0);
  CHECK_STATUS("ring.setup.no_such_disk", r, HVB_ERR_NODEV);
  r = hvb_call6(HVB_FN_BLOCK_QUEUE_SETUP, (uint64_t)dev, ring, 3, 0, 0, 0);
  CHECK_STATUS("ring.setup.entries_not_power_of_two", r, HVB_ERR_INVAL);
  r = hvb_call6(HVB_FN_BLOCK_QUEUE_SETUP, (uint64_t)dev, ring, 512, 0, 0, 0);
  CHECK_STATUS("ring.setup.too_many_entries", r, HVB_ERR_INVAL);
  r = hvb_call6(HVB_FN_BLOCK_QUEUE_SETUP, (uint64_t)dev, ring + 64, 8, 0, 0, 0);
  CHECK_STATUS("ring.setup.misaligned", r, HVB_ERR_INVAL);
  r = hvb_call6(HVB_FN_BLOCK_QUEUE_SETUP, (uint64_t)dev, ram_top - 4096, 256, 0,
                0, 0);
  CHECK_STATUS("ring.setup.outside_ram", r, HVB_ERR_FAULT);

  struct hvb_ring q;
  if (hvb_block_queue_setup(&q, (uint32_t)dev, ring_mem, 8) != HVB_OK) {
    CHECK("ring.setup", 0, "failed");
    return;
  }
  CHECK("ring.setup", q.header->entries == 8, "entries %u", q.header->entries);
  hvb_interrupt_set_handler(kQueueVector, on_queue);
  CHECK(
      "ring.event.route",
      hvb_event_route(HVB_EVENT_SRC_QUEUE(q.queue), 0, kQueueVector) == HVB_OK,
      "failed");
  /* Sectors 0..7 hold i*7+3 again, then 8 single-sector reads. */
  for (unsigned i = 0; i < sizeof(disk_buf); ++i)
    disk_buf[i] = (uint8_t)(i * 7 + 3);
  hvb_block_write((uint32_t)dev, 0, 8, disk_buf);
  static uint8_t out[8][512];
  memset(out, 0, sizeof(out));
  int posted = 1;
  for (uint32_t i = 0; i < 8; ++i) {
    posted = posted && hvb_ring_post(&q, HVB_RING_OP_READ, i, 1, out[i],
                                     100 + i) == HVB_OK;
  }
  CHECK("ring.post.full",
        hvb_ring_post(&q, HVB_RING_OP_READ, 0, 1, out[0], 0) == HVB_ERR_AGAIN,
        "a ninth request fit into 8 slots");
  hvb_ring_submit(&q);
  uint32_t done = 0, good = 0;
  const uint64_t limit = hvb_clock_monotonic_ns() + 5000000000ull;
  struct hvb_ring_completion c;
  while (done < 8 && hvb_clock_monotonic_ns() < limit) {
    while (hvb_ring_reap(&q, &c)) {
      ++done;
      const uint64_t i = c.tag - 100;
      good += c.status == 1 && i < 8 && out[i][0] == disk_buf[i * 512] &&
              out[i][511] == disk_buf[i * 512 + 511];
    }
  }
  CHECK("ring.read_batch", posted && done == 8 && good == 8,
        "%u completions, %u good", done, good);
  CHECK("ring.event",
        poll_until(&queue_events, queue_events ? queue_events : 1, 5000),
        "no completion event");

  hvb_ring_post(&q, 99, 0, 1, out[0], 7);
  hvb_ring_post(&q, HVB_RING_OP_READ, ~0ull, 1, out[0], 8);
  hvb_ring_post(&q, HVB_RING_OP_READ, 0, 1, (void *)(uintptr_t)(ram_top - 8),
                9);
  hvb_ring_post(&q, HVB_RING_OP_FLUSH, 0, 0, 0, 10);
  hvb_ring_submit(&q);
  int64_t status[4] = {1, 1, 1, 1};
  done = 0;
  while (done < 4 && hvb_clock_monotonic_ns() < limit + 5000000000ull) {
    if (hvb_ring_reap(&q, &c) && c.tag >= 7 && c.tag <= 10) {
      status[c.tag - 7] = c.status;
      ++done;
    }
  }
  CHECK("ring.bad_requests",
        done == 4 && status[0] == HVB_ERR_INVAL && status[1] == HVB_ERR_RANGE &&
            status[2] == HVB_ERR_FAULT && status[3] == HVB_OK,
        "%ld %ld %ld %ld", (long)status[0], (long)status[1], (long)status[2],
        (long)status[3]);

  /* A guest that corrupts its indices breaks only its own ring. */
  __atomic_store_n(&q.header->sq_tail, q.sq_tail + 1000, __ATOMIC_RELEASE);
  hvb_notify(q.queue);
  const uint64_t until = hvb_clock_monotonic_ns() + 5000000000ull;
  while (!q.header->error && hvb_clock_monotonic_ns() < until) {
  }
  CHECK("ring.corrupt_indices_break_the_ring", q.header->error != 0,
        "error flag not set");
}

/* ---- clock page (ABI 0.4) -------------------------------------------------
 */

static volatile uint64_t clock_go, clock_t1;
static void ap_read_clock(uint64_t unused) {
  (void)unused;
  while (!clock_go) {
  }
  clock_t1 = hvb_clock_page_ns();
}

static void test_clock_page(const struct hvb_boot_info *boot) {
  if (boot->clock_page == 0) {
    hvb_printf("conformance: no clock page, skipping its checks\n");
    return;
  }
  const struct hvb_clock_page *page =
      (const struct hvb_clock_page *)(uintptr_t)boot->clock_page;
  CHECK("clock_page.valid",
        (page->flags & HVB_CLOCK_F_VALID) &&
            page->tsc_frequency_hz == boot->tsc_frequency_hz &&
            page->mul != 0 && page->shift < 64 && (page->sequence & 1) == 0,
        "flags %u freq %lu mul %lu shift %u seq %u", page->flags,
        page->tsc_frequency_hz, page->mul, page->shift, page->sequence);
  const struct hvb_mem_region *map =
      (const struct hvb_mem_region *)(uintptr_t)boot->mem_map;
  int platform = 0;
  for (uint32_t i = 0; i < boot->mem_map_count; ++i) {
    platform |= map[i].type == HVB_MEM_PLATFORM &&
                map[i].base <= boot->clock_page &&
                boot->clock_page < map[i].base + map[i].length;
  }
  CHECK("clock_page.platform_memory", platform, "not in a PLATFORM region");
  /* Consistent with the hypercall: between two calls, give or take 1 ms
   * (the pairing of TSC and clock, the kHz-rounded frequency). */
  const uint64_t a = hvb_clock_monotonic_ns();
  const uint64_t p = hvb_clock_page_ns();
  const uint64_t c = hvb_clock_monotonic_ns();
  CHECK("clock_page.agrees_with_clock_monotonic",
        p + 1000000 >= a && p <= c + 1000000, "call %lu, page %lu, call %lu", a,
        p, c);
  uint64_t last = hvb_clock_page_ns();
  int monotonic = 1;
  for (int i = 0; i < 200; ++i) {
    const uint64_t now = hvb_clock_page_ns();
    monotonic = monotonic && now >= last;
    last = now;
  }
  CHECK("clock_page.nondecreasing", monotonic, "went backwards");
  if (hvb_vcpu_count() >= 2) {
    clock_go = 0;
    clock_t1 = 0;
    hvb_vcpu_start_c(1, ap_read_clock, ap_stack, sizeof(ap_stack), 0);
    spin_ms(2);
    const uint64_t t0 = hvb_clock_page_ns();
    clock_go = 1;
    const uint64_t limit = hvb_clock_monotonic_ns() + 5000000000ull;
    while (clock_t1 == 0 && hvb_clock_monotonic_ns() < limit) {
    }
    CHECK("clock_page.monotonic_across_vcpus", clock_t1 >= t0,
          "vCPU 0 read %lu, then vCPU 1 read %lu", t0, clock_t1);
    wait_vcpu_state(1, HVB_VCPU_STOPPED, 5000);
  }
}

int hvb_main(const struct hvb_boot_info *boot) {
  hvb_printf("hvbios conformance, ABI %u.%u\n", HVB_ABI_VERSION_MAJOR,
             HVB_ABI_VERSION_MINOR);
  find_ram_top(boot);
  hvb_interrupts_init();
  hvb_interrupt_set_handler(kTestVector, on_test_vector);
  hvb_interrupt_set_handler(kIpiVector, on_ipi);
  hvb_interrupts_enable();
  test_boot_info(boot);
  test_base();
  test_nosys();
  test_preserved();
  test_console();
  test_clock();
  test_debug();
  test_power_errors();
  test_vcpu(boot);
  test_timer();
  test_event();
  test_clock_page(boot);
  test_rng();
  const int disk = find_disk(boot, 0);
  if (disk >= 0) {
    hvb_printf("conformance: testing block device %d\n", disk);
    test_block_sync(disk, find_disk(boot, 1));
    test_block_ring(disk);
  } else {
    hvb_printf("conformance: no writable disk, skipping block checks\n");
  }
  const char *cmdline = (const char *)(uintptr_t)boot->cmdline;
  if (boot->cmdline != 0 && strncmp(cmdline, "input=", 6) == 0) {
    test_console_input(cmdline + 6);
  }
  hvb_printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
