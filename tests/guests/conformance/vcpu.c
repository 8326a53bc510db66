/* Conformance: vCPUs and timers (docs/abi.md 5.6, 5.7). */
#include "conformance.h"

uint8_t ap_stack[16384] __attribute__((aligned(16)));
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

/* Arms this vCPU's timer `ms` ahead, then returns: the vCPU stops. */
static volatile uint64_t ap_timer_hits;
static void on_ap_timer(struct hvb_interrupt_frame *frame) {
  (void)frame;
  ap_timer_hits = ap_timer_hits + 1;
}
static void ap_arm_timer(uint64_t ms) {
  hvb_timer_set(hvb_clock_monotonic_ns() + ms * 1000000, kApTimerVector);
}

void test_vcpu(const struct hvb_boot_info *boot) {
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

  /* A stopped vCPU has no timer: one it armed does not fire after it is
   * started again. The check arms 30 ms ahead and then listens for 200. */
  hvb_interrupt_set_handler(kApTimerVector, on_ap_timer);
  ap_timer_hits = 0;
  st = hvb_vcpu_start_c(1, ap_arm_timer, ap_stack, sizeof(ap_stack), 30);
  const int stopped = wait_vcpu_state(1, HVB_VCPU_STOPPED, 5000);
  const hvb_status again =
      hvb_vcpu_start_c(1, ap_take_events, ap_stack, sizeof(ap_stack), 200);
  CHECK("vcpu.stop.disarms_the_timer",
        st == HVB_OK && stopped && again == HVB_OK &&
            wait_vcpu_state(1, HVB_VCPU_STOPPED, 5000) && ap_timer_hits == 0,
        "start %ld, stopped %d, start %ld, timer hits %lu", (long)st, stopped,
        (long)again, ap_timer_hits);
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

void test_timer(void) {
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
