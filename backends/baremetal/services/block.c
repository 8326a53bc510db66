/* block (docs/abi.md 5.9, 5.10): the machine's disks (disks.c). The checks, the
 * block info and the ring engine are common/block.c's; this file holds
 * only the firmware's I/O. Rings are served when the guest rings the
 * doorbell, on the calling CPU, in order. Which disks are read-only comes
 * from QEMU's fw_cfg file opt/org.hvbios/disks ("w" or "r" per disk, in
 * order); without it every disk is writable. */
#include "common/block.h"

#include "devices.h"
#include "firmware.h"
#include "services/services.h"

enum {
  kMaxSectors = 2048,    /* per request, as on the host */
  kOptimalSectors = 256, /* one ATA PIO command */
};

/* By queue id (the ids net queues take are not used here). */
struct queue {
  int used;
  uint32_t dev;
  struct hvb_ring_server server;
};
static struct queue g_queues[FW_MAX_QUEUES];

void fw_block_init(void) {
  char flags[FW_MAX_DISKS] = {0};
  const int count = fw_cfg_file("opt/org.hvbios/disks", flags, sizeof(flags));
  disks_init(flags, count);
}

static struct hvb_disk_shape shape_of(uint32_t dev) {
  const struct hvb_disk_shape shape = {disk_get(dev)->sectors,
                                       disk_get(dev)->read_only, kMaxSectors,
                                       kOptimalSectors};
  return shape;
}

/* One request on disk `dev`: the count (read, write), 0 (flush, discard)
 * or an HVB_ERR_*. */
static int64_t execute(uint32_t dev, uint32_t op, uint64_t sector,
                       uint64_t count, uint64_t buf) {
  const struct hvb_disk_shape shape = shape_of(dev);
  const int64_t checked = hvb_block_check(&shape, op, sector, count);
  if (checked != HVB_OK) return checked;
  switch (op) {
    case HVB_RING_OP_FLUSH:
      if (shape.read_only) return HVB_OK;
      return disk_flush(dev) == 0 ? HVB_OK : HVB_ERR_IO;
    case HVB_RING_OP_DISCARD:
      /* Contents become unspecified; zeros, as on hvbios-run's files. */
      return disk_write(dev, sector, (uint32_t)count, 0) == 0 ? HVB_OK
                                                              : HVB_ERR_IO;
    default:
      break;
  }
  if (!fw_guest_owns(buf, count * HVB_BLOCK_SECTOR_SIZE)) {
    return HVB_ERR_FAULT;
  }
  void *p = (void *)(uintptr_t)buf;
  const int failed = op == HVB_RING_OP_READ
                         ? disk_read(dev, sector, (uint32_t)count, p)
                         : disk_write(dev, sector, (uint32_t)count, p);
  return failed ? HVB_ERR_IO : (int64_t)count;
}

static int disk_exists(uint64_t dev) { return dev < disk_count(); }

struct fw_result fw_block_info(const uint64_t *args) {
  if (!disk_exists(args[0])) return fw_error(HVB_ERR_NODEV);
  if (!fw_guest_owns(args[1], sizeof(struct hvb_block_info))) {
    return fw_error(HVB_ERR_FAULT);
  }
  const struct hvb_disk_shape shape = shape_of((uint32_t)args[0]);
  const struct hvb_block_info info = hvb_block_info_of(&shape);
  memcpy((void *)(uintptr_t)args[1], &info, sizeof(info));
  return fw_ok(0);
}

static struct fw_result transfer(uint32_t op, const uint64_t *args) {
  if (!disk_exists(args[0])) return fw_error(HVB_ERR_NODEV);
  return fw_ok_or_error(execute((uint32_t)args[0], op, args[1], args[2],
                                op == HVB_RING_OP_DISCARD ? 0 : args[3]));
}
struct fw_result fw_block_read(const uint64_t *args) {
  return transfer(HVB_RING_OP_READ, args);
}
struct fw_result fw_block_write(const uint64_t *args) {
  return transfer(HVB_RING_OP_WRITE, args);
}
struct fw_result fw_block_flush(const uint64_t *args) {
  return transfer(HVB_RING_OP_FLUSH, args);
}
struct fw_result fw_block_discard(const uint64_t *args) {
  return transfer(HVB_RING_OP_DISCARD, args);
}

struct fw_result fw_block_queue_setup(const uint64_t *args) {
  const uint64_t dev = args[0], ring = args[1], entries = args[2];
  if (!disk_exists(dev)) return fw_error(HVB_ERR_NODEV);
  const int64_t placed = hvb_ring_check_placement(
      g_platform.map, g_platform.map_count, ring, entries);
  if (placed != HVB_OK) return fw_error(placed);
  const int id = fw_event_new_queue();
  if (id < 0) return fw_error(HVB_ERR_NOMEM);
  struct queue *q = &g_queues[id];
  q->used = 1;
  q->dev = (uint32_t)dev;
  hvb_ring_server_init(&q->server, (void *)(uintptr_t)ring, (uint32_t)entries);
  return fw_ok((uint64_t)id);
}

static int64_t execute_request(void *context,
                               const struct hvb_ring_request *r) {
  const struct queue *q = context;
  return execute(q->dev, r->op, r->sector, r->count, r->buf);
}

void fw_block_notify(uint64_t id) {
  if (id >= FW_MAX_QUEUES || !g_queues[id].used) return; /* not a disk's */
  struct queue *q = &g_queues[id];
  if (hvb_ring_serve(&q->server, execute_request, q) > 0) {
    fw_event_queue_completed((uint32_t)id);
  }
}
