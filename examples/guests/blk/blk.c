/* blk: storage end to end on block device 0. Writes a pattern over the
 * first 1 MiB, flushes, reads it back through the synchronous calls and
 * through a request ring and verifies both, then measures read throughput
 * and IOPS of both paths: sequential 4 KiB and 64 KiB, random 4 KiB, the
 * ring at batch 1, 8 and 32. Timed in the guest with clock.monotonic.
 * Shuts down with 0 if every check passed. */
#include "hvbios/guest/hvb.h"

enum {
  kRegionBytes = 1 << 20,
  kMaxBatch = 32,
  kMaxRequestBytes = 64 * 1024,
};
static uint8_t bufs[kMaxBatch][kMaxRequestBytes] __attribute__((aligned(4096)));
static uint8_t ring_mem[4096] __attribute__((aligned(4096)));
static struct hvb_ring ring;
static uint64_t region_sectors;

static uint64_t pattern(uint64_t offset) {
  return offset * 0x9e3779b97f4a7c15ull;
}

static void fill(uint64_t *p, uint64_t offset, size_t bytes) {
  for (size_t i = 0; i < bytes / 8; ++i) p[i] = pattern(offset + i * 8);
}
static int verify(const uint64_t *p, uint64_t offset, size_t bytes) {
  for (size_t i = 0; i < bytes / 8; ++i) {
    if (p[i] != pattern(offset + i * 8)) return 0;
  }
  return 1;
}

static uint64_t xorshift(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

/* Sector of request i: sequential through the region, or random. */
static uint64_t sector_of(uint64_t i, uint32_t count, int random,
                          uint64_t *rng) {
  const uint64_t slots = region_sectors / count;
  return (random ? xorshift(rng) % slots : i % slots) * count;
}

/* Reads `requests` requests of `count` sectors synchronously; ns taken. */
static uint64_t run_sync(uint64_t requests, uint32_t count, int random) {
  uint64_t rng = 88172645463325252ull;
  const uint64_t start = hvb_clock_monotonic_ns();
  for (uint64_t i = 0; i < requests; ++i) {
    if (hvb_block_read(0, sector_of(i, count, random, &rng), count, bufs[0]) !=
        HVB_OK) {
      return 0;
    }
  }
  return hvb_clock_monotonic_ns() - start;
}

/* The same through the ring, `batch` requests per doorbell. */
static uint64_t run_ring(uint64_t requests, uint32_t count, int random,
                         uint32_t batch) {
  uint64_t rng = 88172645463325252ull;
  struct hvb_ring_completion c;
  const uint64_t start = hvb_clock_monotonic_ns();
  for (uint64_t done = 0; done < requests;) {
    uint32_t posted = 0;
    for (; posted < batch && done + posted < requests; ++posted) {
      hvb_ring_post(&ring, HVB_RING_OP_READ,
                    sector_of(done + posted, count, random, &rng), count,
                    bufs[posted], posted);
    }
    hvb_ring_submit(&ring);
    for (uint32_t reaped = 0; reaped < posted;) {
      if (hvb_ring_reap(&ring, &c)) {
        if (c.status != (int64_t)count) return 0;
        ++reaped;
      }
    }
    done += posted;
  }
  return hvb_clock_monotonic_ns() - start;
}

static void report(const char *what, uint64_t requests, uint32_t count,
                   uint64_t ns) {
  if (ns == 0) {
    hvb_printf("%-26s FAILED\n", what);
    return;
  }
  const uint64_t bytes = requests * count * 512;
  hvb_printf("%-26s %6lu KiB/s %7lu IOPS %6lu us/request\n", what,
             bytes * 1000000000ul / ns / 1024, requests * 1000000000ul / ns,
             ns / 1000 / requests);
}

int hvb_main(const struct hvb_boot_info *boot) {
  (void)boot;
  struct hvb_block_info info;
  if (hvb_block_info(0, &info) != HVB_OK) {
    hvb_printf("blk: needs a disk (hvbios-run --disk IMG)\n");
    return 1;
  }
  if (info.flags & HVB_BLOCK_F_READ_ONLY || info.sectors * 512 < kRegionBytes) {
    hvb_printf("blk: disk 0 must be writable and at least 1 MiB\n");
    return 1;
  }
  region_sectors = kRegionBytes / 512;
  hvb_printf("blk: disk 0: %lu sectors of %u bytes, at most %u per request\n",
             info.sectors, info.sector_size, info.max_sectors);

  /* Write the pattern, flush, read it back both ways. */
  const uint32_t chunk = kMaxRequestBytes / 512;
  int ok = 1;
  for (uint64_t off = 0; off < kRegionBytes && ok; off += kMaxRequestBytes) {
    fill((uint64_t *)bufs[0], off, kMaxRequestBytes);
    ok = hvb_block_write(0, off / 512, chunk, bufs[0]) == HVB_OK;
  }
  ok = ok && hvb_block_flush(0) == HVB_OK;
  for (uint64_t off = 0; off < kRegionBytes && ok; off += kMaxRequestBytes) {
    ok = hvb_block_read(0, off / 512, chunk, bufs[1]) == HVB_OK &&
         verify((const uint64_t *)bufs[1], off, kMaxRequestBytes);
  }
  hvb_printf("blk: pattern written, flushed, read back (sync): %s\n",
             ok ? "ok" : "MISMATCH");
  if (hvb_block_queue_setup(&ring, 0, ring_mem, kMaxBatch) != HVB_OK) {
    hvb_printf("blk: queue setup failed\n");
    return 1;
  }
  int ring_ok = 1;
  for (uint64_t off = 0; off < kRegionBytes; off += 8 * kMaxRequestBytes) {
    for (uint32_t i = 0; i < 8; ++i) {
      hvb_ring_post(&ring, HVB_RING_OP_READ, (off + i * kMaxRequestBytes) / 512,
                    chunk, bufs[i], i);
    }
    hvb_ring_submit(&ring);
    struct hvb_ring_completion c;
    for (uint32_t n = 0; n < 8;) {
      if (!hvb_ring_reap(&ring, &c)) continue;
      ++n;
      ring_ok = ring_ok && c.status == (int64_t)chunk &&
                verify((const uint64_t *)bufs[c.tag],
                       off + c.tag * kMaxRequestBytes, kMaxRequestBytes);
    }
  }
  hvb_printf("blk: read back through the ring: %s\n",
             ring_ok ? "ok" : "MISMATCH");
  ok = ok && ring_ok;

  hvb_printf("blk: read throughput (1 MiB region, host page cache warm)\n");
  const uint64_t n4k = 256, n64k = 64;
  report("sync seq 4 KiB", n4k, 8, run_sync(n4k, 8, 0));
  report("sync seq 64 KiB", n64k, 128, run_sync(n64k, 128, 0));
  report("sync random 4 KiB", n4k, 8, run_sync(n4k, 8, 1));
  static const uint32_t batches[] = {1, 8, 32};
  for (unsigned b = 0; b < 3; ++b) {
    char what[40];
    hvb_snprintf(what, sizeof(what), "ring seq 4 KiB batch %u", batches[b]);
    report(what, n4k, 8, run_ring(n4k, 8, 0, batches[b]));
    hvb_snprintf(what, sizeof(what), "ring seq 64 KiB batch %u", batches[b]);
    report(what, n64k, 128, run_ring(n64k, 128, 0, batches[b]));
    hvb_snprintf(what, sizeof(what), "ring random 4 KiB batch %u", batches[b]);
    report(what, n4k, 8, run_ring(n4k, 8, 1, batches[b]));
  }
  hvb_printf("blk: %s\n", ok ? "all checks passed" : "FAILED");
  return ok ? 0 : 1;
}
