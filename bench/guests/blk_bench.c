/* Benchmark guest: rounds of 64 reads from disk 0, timed in the guest and
 * printed as "round NS" lines for hvbios-bench. Command line:
 *   "sync SECTORS"        one block.read call per request
 *   "ring SECTORS BATCH"  requests posted BATCH at a time, one doorbell per
 *                         batch, completions polled and reaped one by one
 *   "lean SECTORS BATCH"  the same with the SDK's lean path: slots prefilled
 *                         once, a sector per request, one wait and one store
 *                         per batch */
#include "hvbios/guest/hvb.h"

enum { kRequests = 64, kMaxBatch = 32, kMaxBytes = 64 * 1024 };
static uint8_t bufs[kMaxBatch][kMaxBytes] __attribute__((aligned(4096)));
static uint8_t ring_mem[4096] __attribute__((aligned(4096)));

static uint64_t parse(const char **p) {
  uint64_t v = 0;
  while (**p == ' ') ++*p;
  while (**p >= '0' && **p <= '9') v = v * 10 + (uint64_t)(*(*p)++ - '0');
  return v;
}

int hvb_main(const struct hvb_boot_info *boot) {
  const char *p = boot->cmdline ? (const char *)(uintptr_t)boot->cmdline : "";
  const int lean = strncmp(p, "lean", 4) == 0;
  const int ring_mode = lean || strncmp(p, "ring", 4) == 0;
  p += 4;
  const uint32_t sectors = (uint32_t)parse(&p);
  uint32_t batch = (uint32_t)parse(&p);
  if (batch == 0 || batch > kMaxBatch) batch = 1;
  struct hvb_block_info info;
  if (hvb_block_info(0, &info) != HVB_OK || sectors == 0 ||
      sectors * 512 > kMaxBytes) {
    return 1;
  }
  const uint64_t slots = info.sectors / sectors;
  struct hvb_ring ring;
  if (ring_mode &&
      hvb_block_queue_setup(&ring, 0, ring_mem, kMaxBatch) != HVB_OK) {
    return 2;
  }
  if (lean) {
    void *slot_bufs[kMaxBatch];
    for (uint32_t i = 0; i < kMaxBatch; ++i) slot_bufs[i] = bufs[i];
    hvb_ring_prefill(&ring, HVB_RING_OP_READ, sectors, slot_bufs);
  }
  for (uint64_t round = 0;; ++round) {
    const uint64_t start = hvb_clock_monotonic_ns();
    for (uint32_t done = 0; done < kRequests;) {
      if (!ring_mode) {
        if (hvb_block_read(0, ((round * kRequests + done) % slots) * sectors,
                           sectors, bufs[0]) != HVB_OK) {
          return 3;
        }
        ++done;
        continue;
      }
      if (lean) {
        const uint32_t n = kRequests - done < batch ? kRequests - done : batch;
        /* Sectors wrap without a division per request. */
        uint64_t sector = ((round * kRequests + done) % slots) * sectors;
        for (uint32_t i = 0; i < n; ++i) {
          hvb_ring_post_sector(&ring, sector);
          sector += sectors;
          if (sector == slots * sectors) sector = 0;
        }
        hvb_ring_submit(&ring);
        if (hvb_ring_complete_all(&ring) != 0) return 4;
        done += n;
        continue;
      }
      uint32_t posted = 0;
      for (; posted < batch && done + posted < kRequests; ++posted) {
        hvb_ring_post(&ring, HVB_RING_OP_READ,
                      ((round * kRequests + done + posted) % slots) * sectors,
                      sectors, bufs[posted], posted);
      }
      hvb_ring_submit(&ring);
      struct hvb_ring_completion c;
      for (uint32_t reaped = 0; reaped < posted;) {
        if (hvb_ring_reap(&ring, &c)) {
          if (c.status != (int64_t)sectors) return 4;
          ++reaped;
        }
      }
      done += posted;
    }
    hvb_printf("round %lu\n", hvb_clock_monotonic_ns() - start);
  }
}
