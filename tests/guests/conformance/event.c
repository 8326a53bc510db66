/* Conformance: events, IPIs and their acknowledgement (docs/abi.md 5.8). */
#include "conformance.h"

static volatile uint64_t ipi_hits;
static void on_ipi(struct hvb_interrupt_frame *f) {
  (void)f;
  ipi_hits = ipi_hits + 1;
}

void test_event(void) {
  /* The embedder's sources exist only where it adds them; the suite runs
   * where none is added. */
  struct hvb_result vendor = hvb_call6(
      HVB_FN_EVENT_ROUTE, HVB_EVENT_SRC_VENDOR_FIRST, 0, kTestVector, 0, 0, 0);
  CHECK_STATUS("event.route.unknown_vendor_source", vendor, HVB_ERR_NODEV);
  hvb_interrupt_set_handler(kIpiVector, on_ipi);
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
  /* A platform may be unable to take a device's interrupt to some vCPUs
   * (the bare-metal firmware: CPUs with APIC ids above 255). route then
   * says so with HVB_ERR_RANGE, and fails no other way for a vCPU that
   * exists. The line names how many take it; tests/baremetal reads it. */
  uint32_t reached = 0;
  int reach_ok = 1;
  for (uint32_t v = 0; v < count; ++v) {
    const hvb_status s =
        hvb_event_route(HVB_EVENT_SRC_CONSOLE_INPUT, v, kTestVector);
    reached += s == HVB_OK;
    reach_ok &= s == HVB_OK || s == HVB_ERR_RANGE;
  }
  CHECK("event.route.device_interrupt_reach", reach_ok, "failed");
  hvb_printf("conformance: the console's interrupt reaches %u of %u vCPUs\n",
             reached, count);
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

/* An event not acknowledged stays in service, as on any local APIC (SDM
 * Vol. 3A 11.8.3): it holds back its own vector, which stays pending, and
 * every vector of its priority class (vector / 16) and below, until an EOI
 * ends it; higher classes still arrive. */
static volatile uint64_t held_hits, low_hits, high_hits;
static void on_held(struct hvb_interrupt_frame *f) {
  (void)f;
  held_hits = held_hits + 1; /* no EOI: hvb_interrupt_set_manual_eoi */
}
static void on_low(struct hvb_interrupt_frame *f) {
  (void)f;
  low_hits = low_hits + 1;
}
static void on_high(struct hvb_interrupt_frame *f) {
  (void)f;
  high_hits = high_hits + 1;
}

void test_eoi(void) {
  hvb_interrupt_set_handler(kHeldVector, on_held);
  hvb_interrupt_set_manual_eoi(kHeldVector, 1);
  hvb_interrupt_set_handler(kLowVector, on_low);
  hvb_interrupt_set_handler(kHighVector, on_high);
  held_hits = low_hits = high_hits = 0;
  hvb_event_send_ipi(0, kHeldVector);
  CHECK("eoi.first_event_arrives", poll_until(&held_hits, 1, 5000), "hits %lu",
        held_hits);
  hvb_event_send_ipi(0, kHeldVector);
  hvb_event_send_ipi(0, kLowVector);
  spin_ms(20);
  CHECK("eoi.missing_holds_back_its_vector", held_hits == 1, "hits %lu",
        held_hits);
  CHECK("eoi.missing_holds_back_lower_classes", low_hits == 0, "hits %lu",
        low_hits);
  hvb_event_send_ipi(0, kHighVector);
  CHECK("eoi.higher_classes_still_arrive", poll_until(&high_hits, 1, 5000),
        "hits %lu", high_hits);
  /* The EOI ends the held event: its pending twin arrives (and is held in
   * turn); the next EOI releases the lower class. */
  hvb_eoi();
  CHECK("eoi.releases_the_pending_event", poll_until(&held_hits, 2, 5000),
        "hits %lu", held_hits);
  CHECK("eoi.lower_class_waits_for_every_eoi", (spin_ms(20), low_hits == 0),
        "hits %lu", low_hits);
  hvb_eoi();
  CHECK("eoi.releases_lower_classes", poll_until(&low_hits, 1, 5000),
        "hits %lu", low_hits);
  hvb_interrupt_set_manual_eoi(kHeldVector, 0);
}
