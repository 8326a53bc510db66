/* Test guest for the host's lifecycle tests: every vCPU counts forever in
 * memory the host can read, so the host can see which vCPUs run.
 *
 *   kCounters + 64 * id   vCPU id's counter (one cache line each)
 *   kEvents               how many kEventVector interrupts vCPU 0 took
 *   kMailbox[0]           entry point for a vCPU the host starts itself
 *   kMailbox[1 + id]      a 16-byte aligned stack top for vCPU id
 *   kMailbox[63]          kReady once the above are written
 *
 *   kMailbox[62]          entry of "take one event, then stop" (below)
 *   kApEvents             events vCPU 1 took there
 *
 * Command line "host-starts-1" leaves vCPU 1 for the host to start (with
 * Vcpu::StartAt at kMailbox[0], stack kMailbox[2], arg 1, or at
 * kMailbox[62]). "start-stop" makes vCPU 0 start vCPU 1 over and over, each
 * time counting once on both and waiting for vCPU 1 to stop. */
#include "hvbios/guest/hvb.h"

#define kCounters ((volatile uint64_t *)0x400000)
#define kEvents (kCounters[64 * 8])
#define kApEvents (kCounters[64 * 9])
#define kMailbox ((volatile uint64_t *)0x3ff000)
enum {
  kMaxCpus = 16,
  kStackSize = 16384,
  kEventVector = 0x70,
  kApEventVector = 0x71,
};
static const uint64_t kReady = 0x600df00d;

static uint8_t stacks[kMaxCpus][kStackSize] __attribute__((aligned(16)));

static void on_event(struct hvb_interrupt_frame *frame) {
  (void)frame;
  kEvents = kEvents + 1;
}

static void count(uint64_t id) {
  for (;;) kCounters[id * 8] = kCounters[id * 8] + 1;
}

static void on_ap_event(struct hvb_interrupt_frame *frame) {
  (void)frame;
  kApEvents = kApEvents + 1;
}

/* Entered by the host's StartAt: waits for one event (one raised before it
 * enables interrupts stays pending until then), then stops. A lost event
 * leaves it halted, which the host sees. */
__attribute__((noreturn)) void event_entry(uint64_t id);
void event_entry(uint64_t id) {
  (void)id;
  const uint64_t seen = kApEvents;
  hvb_interrupts_load();
  HVB_WAIT_UNTIL(kApEvents != seen);
  hvb_vcpu_stop();
  hvb_halt_forever();
}

/* vCPU 1 in "start-stop": one count, then return (vcpu.stop). */
static void count_once(uint64_t id) {
  kCounters[id * 8] = kCounters[id * 8] + 1;
}

/* Entered directly by the host's StartAt (rdi = id, rsp = stack top). */
__attribute__((noreturn)) void host_entry(uint64_t id);
void host_entry(uint64_t id) {
  count(id);
  __builtin_unreachable();
}

int hvb_main(const struct hvb_boot_info *boot) {
  const uint32_t cpus = boot->vcpu_count;
  if (cpus > kMaxCpus) return 1;
  const char *cmdline =
      boot->cmdline ? (const char *)(uintptr_t)boot->cmdline : "";
  const int host_starts_1 = strcmp(cmdline, "host-starts-1") == 0;
  hvb_interrupts_init();
  hvb_interrupt_set_handler(kEventVector, on_event);
  hvb_interrupt_set_handler(kApEventVector, on_ap_event);
  kMailbox[0] = (uint64_t)(uintptr_t)&host_entry;
  kMailbox[62] = (uint64_t)(uintptr_t)&event_entry;
  for (uint32_t id = 0; id < cpus; ++id) {
    kMailbox[1 + id] = (uint64_t)(uintptr_t)(stacks[id] + kStackSize);
  }
  kMailbox[63] = kReady;
  if (strcmp(cmdline, "start-stop") == 0 && cpus >= 2) {
    for (;;) {
      if (hvb_vcpu_start_c(1, count_once, stacks[1], kStackSize, 1) != HVB_OK) {
        return 3;
      }
      uint32_t state = HVB_VCPU_RUNNING;
      while (hvb_vcpu_status(1, &state) == HVB_OK &&
             state != HVB_VCPU_STOPPED) {
      }
      kCounters[0] = kCounters[0] + 1;
    }
  }
  for (uint32_t id = 1; id < cpus; ++id) {
    if (host_starts_1 && id == 1) continue;
    if (hvb_vcpu_start_c(id, count, stacks[id], kStackSize, id) != HVB_OK) {
      return 2;
    }
  }
  hvb_interrupts_enable();
  count(0);
  return 0;
}
