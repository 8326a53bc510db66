/* Benchmark guest: rounds of 64 frames sent on net device 0, timed in the
 * guest and printed as "round NS" lines for hvbios-bench. Command line:
 *   "sync BYTES"        one net.send call per frame
 *   "ring BYTES BATCH"  frames posted BATCH at a time on a transmit ring
 *                       (the SDK's lean path: slots prefilled once), one
 *                       doorbell and one wait per batch */
#include "hvbios/guest/hvb.h"

enum { kFrames = 64, kMaxBatch = 32 };
static uint8_t frames[kMaxBatch][HVB_NET_MAX_FRAME]
    __attribute__((aligned(64)));
static uint8_t ring_mem[4096] __attribute__((aligned(4096)));

static uint32_t parse(const char **p) {
  uint32_t v = 0;
  while (**p == ' ') ++*p;
  while (**p >= '0' && **p <= '9') v = v * 10 + (uint32_t)(*(*p)++ - '0');
  return v;
}

int hvb_main(const struct hvb_boot_info *boot) {
  const char *p = boot->cmdline ? (const char *)(uintptr_t)boot->cmdline : "";
  const int ring_mode = strncmp(p, "ring", 4) == 0;
  p += 4;
  const uint32_t bytes = parse(&p);
  uint32_t batch = parse(&p);
  if (batch == 0 || batch > kMaxBatch) batch = 1;
  if (bytes < HVB_NET_MIN_FRAME || bytes > HVB_NET_MAX_FRAME) return 1;
  for (uint32_t i = 0; i < kMaxBatch; ++i) {
    memset(frames[i], 0xff, 6); /* broadcast, from a local address */
    frames[i][6] = 0x02;
  }
  struct hvb_ring ring;
  if (ring_mode) {
    if (hvb_net_queue_setup(&ring, 0, ring_mem, kMaxBatch, HVB_NET_QUEUE_TX) !=
        HVB_OK) {
      return 2;
    }
    void *slot_frames[kMaxBatch];
    for (uint32_t i = 0; i < kMaxBatch; ++i) slot_frames[i] = frames[i];
    hvb_ring_prefill(&ring, HVB_RING_OP_NET_SEND, bytes, slot_frames);
  }
  for (;;) {
    const uint64_t start = hvb_clock_monotonic_ns();
    for (uint32_t done = 0; done < kFrames;) {
      if (!ring_mode) {
        if (hvb_net_send(0, frames[0], bytes) != HVB_OK) return 3;
        ++done;
        continue;
      }
      const uint32_t n = kFrames - done < batch ? kFrames - done : batch;
      for (uint32_t i = 0; i < n; ++i) hvb_ring_post_sector(&ring, 0);
      hvb_ring_submit(&ring);
      if (hvb_ring_complete_all(&ring) != 0) return 4;
      done += n;
    }
    hvb_printf("round %lu\n", hvb_clock_monotonic_ns() - start);
  }
}
