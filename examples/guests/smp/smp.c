/* smp: brings up every vCPU. Each application processor loads the IDT,
 * does some work, reports to vCPU 0 (a flag in memory, then an IPI as the
 * doorbell) and waits for vCPU 0's go-ahead the same way. vCPU 0 does the
 * same work, waits for every report, answers everyone, prints a per-CPU
 * summary and shuts down with 0 only if every vCPU took part. */
#include "hvbios/guest/hvb.h"

enum { kMaxCpus = 16, kIpiVector = 0x50, kStackSize = 16384 };

static uint8_t stacks[kMaxCpus][kStackSize] __attribute__((aligned(16)));
static volatile uint64_t work[kMaxCpus];
static volatile uint32_t reported[kMaxCpus]; /* AP -> vCPU 0 */
static volatile uint32_t go[kMaxCpus];       /* vCPU 0 -> AP */
static volatile uint64_t ipis[kMaxCpus];     /* doorbells rung, for show */

static void on_ipi(struct hvb_interrupt_frame *frame) {
  (void)frame;
  const uint32_t self = hvb_vcpu_self();
  ipis[self] = ipis[self] + 1;
}

static uint64_t do_work(uint32_t self) {
  uint64_t sum = 0;
  for (uint64_t i = 0; i < 200 + 10 * self; ++i) sum += i * i;
  return sum;
}

static uint32_t count_reports(uint32_t cpus) {
  uint32_t n = 0;
  for (uint32_t id = 1; id < cpus; ++id) n += reported[id];
  return n;
}

static void ap_main(uint64_t self) {
  hvb_interrupts_load();
  hvb_interrupts_enable();
  work[self] = do_work((uint32_t)self);
  reported[self] = 1;
  hvb_event_send_ipi(0, kIpiVector);
  /* vCPU 0 sets the flag, then rings. Waiting for the flag alone would let
   * this vCPU stop before the doorbell arrives, and an event for a stopped
   * vCPU is dropped: wait for both. */
  HVB_WAIT_UNTIL(go[self] && ipis[self] > 0);
  /* Returning stops this vCPU (vcpu.stop, through the SDK trampoline). */
}

int hvb_main(const struct hvb_boot_info *boot) {
  const uint32_t cpus = boot->vcpu_count;
  if (cpus > kMaxCpus) {
    hvb_printf("smp: %u vCPUs, this example handles at most %u\n", cpus,
               kMaxCpus);
    return 1;
  }
  hvb_interrupts_init();
  hvb_interrupt_set_handler(kIpiVector, on_ipi);
  hvb_interrupts_enable();

  for (uint32_t id = 1; id < cpus; ++id) {
    hvb_status st = hvb_vcpu_start_c(id, ap_main, stacks[id], kStackSize, id);
    if (st != HVB_OK) {
      hvb_printf("smp: starting vCPU %u failed: %ld\n", id, (long)st);
      return 1;
    }
  }
  work[0] = do_work(0);
  HVB_WAIT_UNTIL(count_reports(cpus) == cpus - 1);
  for (uint32_t id = 1; id < cpus; ++id) {
    go[id] = 1;
    hvb_event_send_ipi(id, kIpiVector);
  }
  /* Every AP stops itself once it has its go-ahead. */
  for (uint32_t id = 1; id < cpus; ++id) {
    uint32_t state = HVB_VCPU_RUNNING;
    while (hvb_vcpu_status(id, &state) == HVB_OK && state != HVB_VCPU_STOPPED) {
    }
  }

  int all = 1;
  for (uint32_t id = 0; id < cpus; ++id) {
    const int took_part =
        work[id] == do_work(id) && (id == 0 || (reported[id] && ipis[id] > 0));
    hvb_printf("vCPU %u: work %lu, doorbells %lu, %s\n", id, work[id], ipis[id],
               took_part ? "took part" : "MISSING");
    all = all && took_part;
  }
  hvb_printf("%u of %u vCPUs took part\n", all ? cpus : 0, cpus);
  return all ? 0 : 1;
}
