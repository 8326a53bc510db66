/* Test guest for the host's lifecycle tests: every vCPU counts forever in
 * memory the host can read, so the host can see which vCPUs run.
 *
 *   kCounters + 64 * id   vCPU id's counter (one cache line each)
 *   kEvents               how many kEventVector interrupts vCPU 0 took
 *   kMailbox[0]           entry point for a vCPU the host starts itself
 *   kMailbox[1 + id]      a 16-byte aligned stack top for vCPU id
 *   kMailbox[63]          kReady once the above are written
 *
 * Command line "host-starts-1" leaves vCPU 1 for the host to start (with
 * Vcpu::StartAt at kMailbox[0], stack kMailbox[2], arg 1). */
#include "hvbios/guest/hvb.h"

#define kCounters ((volatile uint64_t *)0x400000)
#define kEvents (kCounters[64 * 8])
#define kMailbox ((volatile uint64_t *)0x3ff000)
enum { kMaxCpus = 16, kStackSize = 16384, kEventVector = 0x70 };
static const uint64_t kReady = 0x600df00d;

static uint8_t stacks[kMaxCpus][kStackSize] __attribute__((aligned(16)));

static void on_event(struct hvb_interrupt_frame *frame) {
  (void)frame;
  kEvents = kEvents + 1;
}

static void count(uint64_t id) {
  for (;;) kCounters[id * 8] = kCounters[id * 8] + 1;
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
  kMailbox[0] = (uint64_t)(uintptr_t)&host_entry;
  for (uint32_t id = 0; id < cpus; ++id) {
    kMailbox[1 + id] = (uint64_t)(uintptr_t)(stacks[id] + kStackSize);
  }
  kMailbox[63] = kReady;
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
