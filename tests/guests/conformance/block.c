/* Conformance: random bytes, disks and request rings (docs/abi.md 5.9,
 * 5.10, 5.11). */
#include "conformance.h"

void test_rng(void) {
  static uint8_t a[64], b[64];
  /* A platform without a random source says so, and means it. */
  if (!hvb_base_probe(HVB_FN_RNG_FILL)) {
    hvb_printf("conformance: no rng on this platform\n");
    struct hvb_result r = hvb_call2(HVB_FN_RNG_FILL, hvb_virt_to_phys(a), 8);
    CHECK_STATUS("rng.missing_is_nosys", r, HVB_ERR_NOSYS);
    return;
  }
  CHECK("rng.fill",
        hvb_rng_fill(a, sizeof(a)) == HVB_OK &&
            hvb_rng_fill(b, sizeof(b)) == HVB_OK &&
            memcmp(a, b, sizeof(a)) != 0,
        "two fills were equal or failed");
  struct hvb_result r = hvb_call2(HVB_FN_RNG_FILL, hvb_virt_to_phys(a), 0);
  CHECK("rng.fill.zero_length", r.status == HVB_OK && r.value == 0,
        "status %ld value %lu", (long)r.status, r.value);
  r = hvb_call2(HVB_FN_RNG_FILL, ram_top - 8, 16);
  CHECK_STATUS("rng.fill.outside_ram", r, HVB_ERR_FAULT);
  r = hvb_call2(HVB_FN_RNG_FILL, hvb_virt_to_phys(scratch), ~0ull);
  CHECK("rng.fill.short",
        r.status == HVB_OK && r.value >= 1 && r.value <= HVB_RNG_MAX_FILL,
        "status %ld value %lu", (long)r.status, r.value);
}

/* Disk ids from the boot info: the first writable and read-only ones. */
static int find_disk(const struct hvb_boot_info *boot, int read_only) {
  const struct hvb_device *d =
      (const struct hvb_device *)(uintptr_t)boot->devices;
  for (uint32_t i = 0; i < boot->device_count; ++i) {
    if (d[i].type == HVB_DEV_BLOCK &&
        !!(d[i].flags & HVB_BLOCK_F_READ_ONLY) == read_only) {
      return (int)d[i].id;
    }
  }
  return -1;
}

static uint8_t disk_buf[8 * 512] __attribute__((aligned(512)));
static uint8_t ring_mem[8192] __attribute__((aligned(4096)));
static volatile uint64_t queue_events;
static void on_queue(struct hvb_interrupt_frame *f) {
  (void)f;
  queue_events = queue_events + 1;
}

static void test_block_sync(int dev, int ro) {
  struct hvb_block_info info;
  CHECK("block.info",
        hvb_block_info((uint32_t)dev, &info) == HVB_OK && info.sectors >= 64 &&
            info.sector_size == 512 && info.max_sectors >= 8 &&
            !(info.flags & HVB_BLOCK_F_READ_ONLY),
        "sectors %lu size %u flags %u", info.sectors, info.sector_size,
        info.flags);
  struct hvb_result r =
      hvb_call2(HVB_FN_BLOCK_INFO, 99, hvb_virt_to_phys(&info));
  CHECK_STATUS("block.info.no_such_disk", r, HVB_ERR_NODEV);
  r = hvb_call2(HVB_FN_BLOCK_INFO, (uint64_t)dev, ram_top - 4);
  CHECK_STATUS("block.info.outside_ram", r, HVB_ERR_FAULT);

  for (unsigned i = 0; i < sizeof(disk_buf); ++i)
    disk_buf[i] = (uint8_t)(i * 7 + 3);
  CHECK("block.write", hvb_block_write((uint32_t)dev, 8, 8, disk_buf) == HVB_OK,
        "failed");
  memset(disk_buf, 0, sizeof(disk_buf));
  int same = hvb_block_read((uint32_t)dev, 8, 8, disk_buf) == HVB_OK;
  for (unsigned i = 0; same && i < sizeof(disk_buf); ++i) {
    same = disk_buf[i] == (uint8_t)(i * 7 + 3);
  }
  CHECK("block.read_back", same, "data differs");
  CHECK("block.flush", hvb_block_flush((uint32_t)dev) == HVB_OK, "failed");
  r = hvb_call1(HVB_FN_BLOCK_FLUSH, 99);
  CHECK_STATUS("block.flush.no_such_disk", r, HVB_ERR_NODEV);

  const uint64_t buf = hvb_virt_to_phys(disk_buf);
  r = hvb_call6(HVB_FN_BLOCK_READ, 99, 0, 1, buf, 0, 0);
  CHECK_STATUS("block.read.no_such_disk", r, HVB_ERR_NODEV);
  r = hvb_call6(HVB_FN_BLOCK_READ, (uint64_t)dev, 0, 0, buf, 0, 0);
  CHECK_STATUS("block.read.zero_count", r, HVB_ERR_RANGE);
  r = hvb_call6(HVB_FN_BLOCK_READ, (uint64_t)dev, 0, info.max_sectors + 1, buf,
                0, 0);
  CHECK_STATUS("block.read.above_max", r, HVB_ERR_RANGE);
  r = hvb_call6(HVB_FN_BLOCK_READ, (uint64_t)dev, info.sectors - 1, 2, buf, 0,
                0);
  CHECK_STATUS("block.read.past_end", r, HVB_ERR_RANGE);
  r = hvb_call6(HVB_FN_BLOCK_READ, (uint64_t)dev, ~0ull, 2, buf, 0, 0);
  CHECK_STATUS("block.read.sector_wraps", r, HVB_ERR_RANGE);
  r = hvb_call6(HVB_FN_BLOCK_READ, (uint64_t)dev, 0, 8, ram_top - 512, 0, 0);
  CHECK_STATUS("block.read.buffer_outside_ram", r, HVB_ERR_FAULT);
  r = hvb_call6(HVB_FN_BLOCK_WRITE, (uint64_t)dev, 0, 1, ~0ull - 100, 0, 0);
  CHECK_STATUS("block.write.buffer_wraps", r, HVB_ERR_FAULT);

  CHECK("block.discard",
        hvb_block_discard((uint32_t)dev, 8, 8) == HVB_OK &&
            hvb_block_read((uint32_t)dev, 8, 1, disk_buf) == HVB_OK &&
            disk_buf[0] == 0 && disk_buf[511] == 0,
        "failed or not zero");
  r = hvb_call6(HVB_FN_BLOCK_DISCARD, (uint64_t)dev, info.sectors, 1, 0, 0, 0);
  CHECK_STATUS("block.discard.past_end", r, HVB_ERR_RANGE);

  if (ro >= 0) {
    struct hvb_block_info ro_info;
    CHECK("block.info.read_only",
          hvb_block_info((uint32_t)ro, &ro_info) == HVB_OK &&
              (ro_info.flags & HVB_BLOCK_F_READ_ONLY),
          "flags %u", ro_info.flags);
    CHECK("block.read.read_only_disk",
          hvb_block_read((uint32_t)ro, 0, 1, disk_buf) == HVB_OK, "failed");
    r = hvb_call6(HVB_FN_BLOCK_WRITE, (uint64_t)ro, 0, 1, buf, 0, 0);
    CHECK_STATUS("block.write.read_only_disk", r, HVB_ERR_PERM);
    r = hvb_call6(HVB_FN_BLOCK_DISCARD, (uint64_t)ro, 0, 1, 0, 0, 0);
    CHECK_STATUS("block.discard.read_only_disk", r, HVB_ERR_PERM);
  }
}

static void test_block_ring(int dev) {
  const uint64_t ring = hvb_virt_to_phys(ring_mem);
  struct hvb_result r =
      hvb_call6(HVB_FN_BLOCK_QUEUE_SETUP, 99, ring, 8, 0, 0, 0);
  CHECK_STATUS("ring.setup.no_such_disk", r, HVB_ERR_NODEV);
  r = hvb_call6(HVB_FN_BLOCK_QUEUE_SETUP, (uint64_t)dev, ring, 3, 0, 0, 0);
  CHECK_STATUS("ring.setup.entries_not_power_of_two", r, HVB_ERR_INVAL);
  r = hvb_call6(HVB_FN_BLOCK_QUEUE_SETUP, (uint64_t)dev, ring, 512, 0, 0, 0);
  CHECK_STATUS("ring.setup.too_many_entries", r, HVB_ERR_INVAL);
  r = hvb_call6(HVB_FN_BLOCK_QUEUE_SETUP, (uint64_t)dev, ring + 64, 8, 0, 0, 0);
  CHECK_STATUS("ring.setup.misaligned", r, HVB_ERR_INVAL);
  r = hvb_call6(HVB_FN_BLOCK_QUEUE_SETUP, (uint64_t)dev, ram_top - 4096, 256, 0,
                0, 0);
  CHECK_STATUS("ring.setup.outside_ram", r, HVB_ERR_FAULT);

  struct hvb_ring q;
  if (hvb_block_queue_setup(&q, (uint32_t)dev, ring_mem, 8) != HVB_OK) {
    CHECK("ring.setup", 0, "failed");
    return;
  }
  CHECK("ring.setup", q.header->entries == 8, "entries %u", q.header->entries);
  hvb_interrupt_set_handler(kQueueVector, on_queue);
  CHECK(
      "ring.event.route",
      hvb_event_route(HVB_EVENT_SRC_QUEUE(q.queue), 0, kQueueVector) == HVB_OK,
      "failed");
  /* Sectors 0..7 hold i*7+3 again, then 8 single-sector reads. */
  for (unsigned i = 0; i < sizeof(disk_buf); ++i)
    disk_buf[i] = (uint8_t)(i * 7 + 3);
  hvb_block_write((uint32_t)dev, 0, 8, disk_buf);
  static uint8_t out[8][512];
  memset(out, 0, sizeof(out));
  int posted = 1;
  for (uint32_t i = 0; i < 8; ++i) {
    posted = posted && hvb_ring_post(&q, HVB_RING_OP_READ, i, 1, out[i],
                                     100 + i) == HVB_OK;
  }
  CHECK("ring.post.full",
        hvb_ring_post(&q, HVB_RING_OP_READ, 0, 1, out[0], 0) == HVB_ERR_AGAIN,
        "a ninth request fit into 8 slots");
  hvb_ring_submit(&q);
  uint32_t done = 0, good = 0;
  const uint64_t limit = hvb_clock_monotonic_ns() + 5000000000ull;
  struct hvb_ring_completion c;
  while (done < 8 && hvb_clock_monotonic_ns() < limit) {
    while (hvb_ring_reap(&q, &c)) {
      ++done;
      const uint64_t i = c.tag - 100;
      good += c.status == 1 && i < 8 && out[i][0] == disk_buf[i * 512] &&
              out[i][511] == disk_buf[i * 512 + 511];
    }
  }
  CHECK("ring.read_batch", posted && done == 8 && good == 8,
        "%u completions, %u good", done, good);
  CHECK("ring.event",
        poll_until(&queue_events, queue_events ? queue_events : 1, 5000),
        "no completion event");

  hvb_ring_post(&q, 99, 0, 1, out[0], 7);
  hvb_ring_post(&q, HVB_RING_OP_READ, ~0ull, 1, out[0], 8);
  hvb_ring_post(&q, HVB_RING_OP_READ, 0, 1, (void *)(uintptr_t)(ram_top - 8),
                9);
  hvb_ring_post(&q, HVB_RING_OP_FLUSH, 0, 0, 0, 10);
  hvb_ring_submit(&q);
  int64_t status[4] = {1, 1, 1, 1};
  done = 0;
  while (done < 4 && hvb_clock_monotonic_ns() < limit + 5000000000ull) {
    if (hvb_ring_reap(&q, &c) && c.tag >= 7 && c.tag <= 10) {
      status[c.tag - 7] = c.status;
      ++done;
    }
  }
  CHECK("ring.bad_requests",
        done == 4 && status[0] == HVB_ERR_INVAL && status[1] == HVB_ERR_RANGE &&
            status[2] == HVB_ERR_FAULT && status[3] == HVB_OK,
        "%ld %ld %ld %ld", (long)status[0], (long)status[1], (long)status[2],
        (long)status[3]);

  /* Since 0.7 failed completions are counted: the three above. */
  CHECK("ring.error_count",
        (q.features & HVB_RING_F_ERROR_COUNT) && q.header->errors == 3 &&
            hvb_ring_complete_all(&q) == 3,
        "features %u errors %u", q.features, q.header->errors);

  /* The lean path: slots prefilled once, a sector stored per request, one
   * wait and one store per batch; failures come from the count. */
  void *bufs[8];
  for (uint32_t i = 0; i < 8; ++i) bufs[i] = out[i];
  hvb_ring_prefill(&q, HVB_RING_OP_READ, 1, bufs);
  memset(out, 0, sizeof(out));
  const uint32_t first_slot = q.sq_tail & 7;
  for (uint32_t i = 0; i < 8; ++i) hvb_ring_post_sector(&q, i);
  hvb_ring_submit(&q);
  uint32_t failed = hvb_ring_complete_all(&q);
  good = 0;
  for (uint32_t i = 0; i < 8; ++i) {
    const uint8_t *got = out[(first_slot + i) & 7];
    good += got[0] == disk_buf[i * 512] && got[511] == disk_buf[i * 512 + 511];
  }
  CHECK("ring.lean_batch", failed == 0 && good == 8, "%u failed, %u good",
        failed, good);
  for (uint32_t i = 0; i < 4; ++i) hvb_ring_post_sector(&q, i == 2 ? ~0ull : i);
  hvb_ring_submit(&q);
  failed = hvb_ring_complete_all(&q);
  CHECK("ring.lean_batch_counts_failures", failed == 1, "%u failed", failed);

  /* A guest that corrupts its indices breaks only its own ring. */
  __atomic_store_n(&q.header->sq_tail, q.sq_tail + 1000, __ATOMIC_RELEASE);
  hvb_notify(q.queue);
  const uint64_t until = hvb_clock_monotonic_ns() + 5000000000ull;
  while (!q.header->error && hvb_clock_monotonic_ns() < until) {
  }
  CHECK("ring.corrupt_indices_break_the_ring", q.header->error != 0,
        "error flag not set");
}

void test_block(const struct hvb_boot_info *boot) {
  const int disk = find_disk(boot, 0);
  if (disk < 0) {
    hvb_printf("conformance: no writable disk, skipping block checks\n");
    return;
  }
  hvb_printf("conformance: testing block device %d\n", disk);
  test_block_sync(disk, find_disk(boot, 1));
  test_block_ring(disk);
}
