/* Test guest for the host's storage tests, on block device 0. Contents are
 * a pattern the host can recompute: byte j of sector s written with seed
 * k is (s * 131 + j * 7 + k * 17) & 0xff.
 *
 *   random SEED OPS  OPS writes of 1..64 sectors at pseudo-random sectors
 *                    (xorshift64 from SEED, the host replays it), through
 *                    the synchronous call and the ring alternately, each
 *                    read back and checked; then flush
 *   vcpus            every vCPU i writes sectors [64 i, 64 i + 64) with
 *                    seed i, concurrently; then vCPU 0 flushes
 *   durable          writes sectors 0..127 with seed 77, flushes, prints
 *                    "flushed" and spins until killed
 * Prints "disk_io: ok" and shuts down with 0 when everything checked out. */
#include "hvbios/guest/hvb.h"

enum { kMaxSectors = 64 };
static uint8_t buf[kMaxSectors * 512] __attribute__((aligned(4096)));
static uint8_t check[kMaxSectors * 512] __attribute__((aligned(4096)));
static uint8_t ring_mem[4096] __attribute__((aligned(4096)));
static uint8_t stacks[16][8192] __attribute__((aligned(16)));
static volatile uint32_t finished[16];

static void fill(uint8_t *p, uint64_t sector, uint32_t count, uint64_t seed) {
  for (uint32_t s = 0; s < count; ++s) {
    for (uint32_t j = 0; j < 512; ++j) {
      p[s * 512 + j] = (uint8_t)((sector + s) * 131 + j * 7 + seed * 17);
    }
  }
}

static uint64_t xorshift(uint64_t *state) {
  uint64_t x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *state = x;
}

static uint64_t parse(const char **p) {
  uint64_t v = 0;
  while (**p == ' ') ++*p;
  while (**p >= '0' && **p <= '9') v = v * 10 + (uint64_t)(*(*p)++ - '0');
  return v;
}

static hvb_status ring_write(struct hvb_ring *q, uint64_t sector,
                             uint32_t count) {
  if (hvb_ring_post(q, HVB_RING_OP_WRITE, sector, count, buf, sector) !=
      HVB_OK) {
    return HVB_ERR_AGAIN;
  }
  hvb_ring_submit(q);
  struct hvb_ring_completion c;
  while (!hvb_ring_reap(q, &c)) {
  }
  return c.tag == sector && c.status == (int64_t)count ? HVB_OK : HVB_ERR_IO;
}

static int random_writes(uint64_t seed, uint64_t ops, uint64_t sectors) {
  struct hvb_ring q;
  if (hvb_block_queue_setup(&q, 0, ring_mem, 4) != HVB_OK) return 0;
  uint64_t state = seed;
  for (uint64_t i = 0; i < ops; ++i) {
    const uint32_t count = 1 + (uint32_t)(xorshift(&state) % kMaxSectors);
    const uint64_t sector = xorshift(&state) % (sectors - count + 1);
    fill(buf, sector, count, seed + i);
    hvb_status st = (i & 1) ? ring_write(&q, sector, count)
                            : hvb_block_write(0, sector, count, buf);
    if (st != HVB_OK || hvb_block_read(0, sector, count, check) != HVB_OK ||
        memcmp(buf, check, count * 512) != 0) {
      hvb_printf("disk_io: op %lu (%u sectors at %lu) failed: %ld\n", i, count,
                 sector, (long)st);
      return 0;
    }
  }
  return hvb_block_flush(0) == HVB_OK;
}

static void vcpu_writer(uint64_t id) {
  static uint8_t bufs[16][8 * 512];
  for (uint64_t sector = id * 64; sector < id * 64 + 64; sector += 8) {
    fill(bufs[id], sector, 8, id);
    if (hvb_block_write(0, sector, 8, bufs[id]) != HVB_OK) return;
  }
  finished[id] = 1;
}

int hvb_main(const struct hvb_boot_info *boot) {
  const char *cmd = boot->cmdline ? (const char *)(uintptr_t)boot->cmdline : "";
  struct hvb_block_info info;
  if (hvb_block_info(0, &info) != HVB_OK) {
    hvb_printf("disk_io: no disk 0\n");
    return 1;
  }
  int ok = 0;
  if (strncmp(cmd, "random", 6) == 0) {
    const char *p = cmd + 6;
    const uint64_t seed = parse(&p), ops = parse(&p);
    ok = random_writes(seed, ops, info.sectors);
  } else if (strcmp(cmd, "vcpus") == 0) {
    const uint32_t n = boot->vcpu_count > 16 ? 16 : boot->vcpu_count;
    if (info.sectors < 64 * n) return 1;
    for (uint32_t id = 1; id < n; ++id) {
      hvb_vcpu_start_c(id, vcpu_writer, stacks[id], sizeof(stacks[id]), id);
    }
    vcpu_writer(0);
    for (uint32_t id = 0; id < n; ++id) {
      while (!finished[id]) {
      }
    }
    ok = hvb_block_flush(0) == HVB_OK;
  } else if (strcmp(cmd, "durable") == 0) {
    for (uint64_t sector = 0; sector < 128; sector += kMaxSectors) {
      fill(buf, sector, kMaxSectors, 77);
      if (hvb_block_write(0, sector, kMaxSectors, buf) != HVB_OK) return 1;
    }
    if (hvb_block_flush(0) != HVB_OK) return 1;
    hvb_printf("flushed\n");
    for (;;) {
    }
  }
  hvb_printf("disk_io: %s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
