/* Benchmark guest: IPI round trips between vCPU 0 and vCPU 1, both waiting
 * halted between doorbells, timed in the guest with clock.monotonic.
 * Prints "ipi round trip: N ns" (mean of kRounds) and shuts down with 0.
 * Needs 2 vCPUs. */
#include "hvbios/guest/hvb.h"

enum { kVector = 0x50, kRounds = 200 };
static uint8_t stack[16384] __attribute__((aligned(16)));
static volatile uint64_t ping, pong;

static void on_ipi(struct hvb_interrupt_frame *frame) { (void)frame; }

static void responder(uint64_t unused) {
  (void)unused;
  hvb_interrupts_load();
  for (uint64_t i = 1; i <= kRounds; ++i) {
    HVB_WAIT_UNTIL(ping == i);
    pong = i;
    hvb_event_send_ipi(0, kVector);
  }
}

int hvb_main(const struct hvb_boot_info *boot) {
  if (boot->vcpu_count < 2) return 1;
  hvb_interrupts_init();
  hvb_interrupt_set_handler(kVector, on_ipi);
  if (hvb_vcpu_start_c(1, responder, stack, sizeof(stack), 0) != HVB_OK) {
    return 2;
  }
  const uint64_t start = hvb_clock_monotonic_ns();
  for (uint64_t i = 1; i <= kRounds; ++i) {
    ping = i;
    hvb_event_send_ipi(1, kVector);
    HVB_WAIT_UNTIL(pong == i);
  }
  const uint64_t elapsed = hvb_clock_monotonic_ns() - start;
  hvb_printf("ipi round trip: %lu ns (mean of %d)\n", elapsed / kRounds,
             kRounds);
  return 0;
}
