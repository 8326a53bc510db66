/* timer: a periodic tick from the timer service. Installs an IDT handler
 * for the tick vector, re-arms a one-shot deadline every period, sleeps in
 * hvb_wait_for_event() between ticks, prints each tick with how late it
 * came, and shuts down with 0 after TICKS ticks. */
#include "hvbios/guest/hvb.h"

enum { kTickVector = 0x40, kTicks = 10 };
static const uint64_t kPeriodNs = 10 * 1000 * 1000; /* 10 ms */

static volatile uint64_t ticks;

static void on_tick(struct hvb_interrupt_frame *frame) {
  (void)frame;
  ticks = ticks + 1;
}

int hvb_main(const struct hvb_boot_info *boot) {
  (void)boot;
  hvb_interrupts_init();
  hvb_interrupt_set_handler(kTickVector, on_tick);

  const uint64_t start = hvb_clock_monotonic_ns();
  uint64_t deadline = start + kPeriodNs;
  if (hvb_timer_set(deadline, kTickVector) != HVB_OK) return 1;
  uint64_t seen = 0;
  while (seen < kTicks) {
    HVB_WAIT_UNTIL(ticks != seen); /* no lost wake-up (see hvb.h) */
    seen = ticks;
    const uint64_t now = hvb_clock_monotonic_ns();
    hvb_printf("tick %lu at %lu.%03lu ms (%lu us after its deadline)\n", seen,
               (now - start) / 1000000, (now - start) / 1000 % 1000,
               (now - deadline) / 1000);
    deadline += kPeriodNs;
    if (deadline < now) deadline = now; /* fell behind: don't burst */
    if (seen < kTicks && hvb_timer_set(deadline, kTickVector) != HVB_OK) {
      return 1;
    }
  }
  const uint64_t elapsed = hvb_clock_monotonic_ns() - start;
  hvb_printf("%lu ticks of %lu ms in %lu ms\n", seen, kPeriodNs / 1000000,
             elapsed / 1000000);
  return elapsed >= kTicks * kPeriodNs ? 0 : 2;
}
