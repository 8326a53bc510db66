/* Conformance: console, clocks and the clock page (docs/abi.md 5.2, 5.3,
 * 5.12). */
#include "conformance.h"

void test_console(void) {
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

/* Typed-ahead input: it arrives before the guest routes the console's
 * event source. Routing a source with input pending raises one event, and
 * one read takes everything pending (up to the buffer). Runs before any
 * other check routes the source. */
static volatile uint64_t input_events;
static void on_input(struct hvb_interrupt_frame *f) {
  (void)f;
  input_events = input_events + 1;
}

void test_console_input(const char *want) {
  size_t want_length = 0;
  while (want[want_length] && want[want_length] != ' ') ++want_length;
  spin_ms(300); /* let the host's input arrive */
  hvb_interrupt_set_handler(kInputVector, on_input);
  CHECK(
      "event.route.raises_pending_input",
      hvb_event_route(HVB_EVENT_SRC_CONSOLE_INPUT, 0, kInputVector) == HVB_OK &&
          poll_at_least(&input_events, 1, 5000),
      "events %lu", input_events);
  size_t have = 0;
  hvb_status st = hvb_console_read(scratch, sizeof(scratch), &have);
  CHECK("console.read.takes_all_pending", st == HVB_OK && have == want_length,
        "status %ld, got %lu of %lu bytes", (long)st, (unsigned long)have,
        (unsigned long)want_length);
  /* Whatever did not come at once, wait for (5 s of the platform's clock). */
  const uint64_t deadline = hvb_clock_monotonic_ns() + 5000000000ull;
  while (have < want_length && hvb_clock_monotonic_ns() < deadline) {
    size_t n = 0;
    if (hvb_console_read(scratch + have, want_length - have, &n) != HVB_OK) {
      break;
    }
    have += n;
  }
  CHECK("console.read.input",
        have == want_length && memcmp(scratch, want, want_length) == 0,
        "got %lu of %lu bytes", (unsigned long)have,
        (unsigned long)want_length);
}

void test_clock(void) {
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

static volatile uint64_t clock_go, clock_t1;
static void ap_read_clock(uint64_t unused) {
  (void)unused;
  while (!clock_go) {
  }
  clock_t1 = hvb_clock_page_ns();
}

/* Since 0.8: the coarse word where the platform keeps it (hvbios on KVM),
 * and the SDK's fallback to the page's precise reading where it does not
 * (the firmware): the same four checks on both. */
static void test_clock_coarse(const struct hvb_clock_page *page) {
  const int coarse = (page->flags & HVB_CLOCK_F_COARSE) != 0;
  CHECK("clock_page.coarse_fields",
        coarse ? page->coarse_period_ns > 0 &&
                     page->coarse_period_ns <= 1000000000ull
               : page->coarse_ns == 0 && page->coarse_period_ns == 0,
        "flags %u, coarse_ns %lu, period %lu", page->flags, page->coarse_ns,
        page->coarse_period_ns);
  /* The word holds a past value: never ahead of the hypercall read after
   * it (the precise fallback agrees to within 1 ms, like the page). */
  const uint64_t c0 = hvb_clock_coarse_ns();
  const uint64_t m0 = hvb_clock_monotonic_ns();
  CHECK("clock_page.coarse_not_ahead", c0 <= m0 + (coarse ? 0 : 1000000),
        "coarse %lu, then clock.monotonic %lu", c0, m0);
  /* It passes m0 within 5 s of the page's time (the host thread that
   * keeps it may be descheduled for a while), never going back. */
  const uint64_t limit = hvb_clock_now_ns() + 5000000000ull;
  uint64_t c = c0;
  int nondecreasing = 1;
  while (c <= m0 && hvb_clock_now_ns() < limit) {
    const uint64_t next = hvb_clock_coarse_ns();
    nondecreasing = nondecreasing && next >= c;
    c = next;
  }
  CHECK("clock_page.coarse_advances", c > m0, "still %lu, clock.monotonic %lu",
        c, m0);
  CHECK("clock_page.coarse_nondecreasing", nondecreasing, "went backwards");
}

void test_clock_page(const struct hvb_boot_info *boot) {
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
  /* Since 0.7 both platforms publish the page once, before entry, and say
   * so: the SDK's reader then skips the sequence loop. */
  const uint32_t sequence_at_entry = page->sequence;
  CHECK("clock_page.stable", (page->flags & HVB_CLOCK_F_STABLE) != 0,
        "flags %u", page->flags);
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
  CHECK("clock_page.stable_is_unchanged", page->sequence == sequence_at_entry,
        "sequence %u, then %u", sequence_at_entry, page->sequence);
  test_clock_coarse(page);
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
