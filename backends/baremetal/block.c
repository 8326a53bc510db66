/* Disks on the PC's IDE channels, driven by ATA PIO with polling, and the
 * block service over them: synchronous calls and request rings, with the
 * checks in the host's order (lib/block.cc) so that one conformance suite
 * holds both. Which disks are read-only comes from QEMU's fw_cfg file
 * opt/org.hvbios/disks ("w" or "r" per disk, in order); without it every
 * disk is writable. Everything here runs under the firmware lock. */
#include "firmware.h"

/* ---- QEMU fw_cfg (docs/specs/fw_cfg.rst in QEMU): selector 0x510, data
 * 0x511; the file directory is item 0x19, big-endian. */

static void fw_cfg_select(uint16_t item) {
  __asm__ volatile("outw %0, %1" : : "a"(item), "Nd"((uint16_t)0x510));
}
static void fw_cfg_read(void *dst, size_t n) {
  uint8_t *d = dst;
  for (size_t i = 0; i < n; ++i) d[i] = inb(0x511);
}
static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

/* Reads fw_cfg file `name` into `dst` (at most `cap` bytes); its length,
 * or -1 if there is no fw_cfg or no such file. */
static int fw_cfg_file(const char *name, char *dst, size_t cap) {
  char signature[4];
  fw_cfg_select(0x0000);
  fw_cfg_read(signature, 4);
  if (signature[0] != 'Q' || signature[1] != 'E' || signature[2] != 'M' ||
      signature[3] != 'U') {
    return -1;
  }
  uint8_t raw[64];
  fw_cfg_select(0x0019);
  fw_cfg_read(raw, 4);
  const uint32_t count = be32(raw);
  for (uint32_t i = 0; i < count && i < 4096; ++i) {
    fw_cfg_read(raw, 64); /* size, select, reserved, name[56] */
    const char *entry_name = (const char *)raw + 8;
    size_t k = 0;
    while (k < 56 && name[k] && entry_name[k] == name[k]) ++k;
    if (k < 56 && name[k] == 0 && entry_name[k] == 0) {
      const uint32_t size = be32(raw);
      const size_t n = size < cap ? size : cap;
      fw_cfg_select((uint16_t)(raw[4] << 8 | raw[5]));
      fw_cfg_read(dst, n);
      return (int)n;
    }
  }
  return -1;
}

/* ---- ATA PIO (the ATA/ATAPI command set; ports of the PC's legacy IDE). */

enum {
  kStatusBusy = 0x80,
  kStatusFault = 0x20,
  kStatusDataRequest = 0x08,
  kStatusError = 0x01,
  kCmdReadExt = 0x24,
  kCmdWriteExt = 0x34,
  kCmdFlushExt = 0xea,
  kCmdIdentify = 0xec,
  kSector = 512,
  kMaxSectors = 2048, /* per request, like hvbios-run */
  kChunk = 256,       /* sectors per ATA command */
};

struct disk {
  uint16_t base, control;
  uint8_t slave;
  int read_only;
  uint64_t sectors;
};
static struct disk g_disks[4];
static uint32_t g_disk_count;

/* Waits until the drive is not busy and, if `want_data`, asks for data;
 * 0 on success, -1 on an error status or after about 5 s. */
static int ata_wait(const struct disk *d, int want_data) {
  const uint64_t limit = rdtsc() + 5 * g_platform.tsc_hz;
  for (;;) {
    const uint8_t status = inb(d->base + 7);
    if (!(status & kStatusBusy)) {
      if (status & (kStatusError | kStatusFault)) return -1;
      if (!want_data || (status & kStatusDataRequest)) return 0;
    }
    if (rdtsc() > limit) return -1;
  }
}

static void ata_select(const struct disk *d, uint8_t head) {
  outb(d->base + 6, (uint8_t)(head | (d->slave << 4)));
  for (int i = 0; i < 4; ++i) (void)inb(d->control); /* 400 ns */
}

/* A 48-bit LBA command for `count` (1..65536) sectors at `lba`. */
static void ata_command_ext(const struct disk *d, uint8_t command, uint64_t lba,
                            uint32_t count) {
  ata_select(d, 0x40);
  outb(d->base + 2, (uint8_t)(count >> 8));
  outb(d->base + 3, (uint8_t)(lba >> 24));
  outb(d->base + 4, (uint8_t)(lba >> 32));
  outb(d->base + 5, (uint8_t)(lba >> 40));
  outb(d->base + 2, (uint8_t)count);
  outb(d->base + 3, (uint8_t)lba);
  outb(d->base + 4, (uint8_t)(lba >> 8));
  outb(d->base + 5, (uint8_t)(lba >> 16));
  outb(d->base + 7, command);
}

static int ata_identify(struct disk *d) {
  ata_select(d, 0xa0);
  if (inb(d->base + 7) == 0xff) return -1; /* floating bus: no channel */
  outb(d->base + 2, 0);
  outb(d->base + 3, 0);
  outb(d->base + 4, 0);
  outb(d->base + 5, 0);
  outb(d->base + 7, kCmdIdentify);
  if (inb(d->base + 7) == 0) return -1; /* no drive */
  const uint64_t limit = rdtsc() + g_platform.tsc_hz;
  while (inb(d->base + 7) & kStatusBusy) {
    if (rdtsc() > limit) return -1;
  }
  if (inb(d->base + 4) != 0 || inb(d->base + 5) != 0) return -1; /* ATAPI */
  if (ata_wait(d, 1) != 0) return -1;
  uint16_t id[256];
  uint16_t *p = id;
  uint64_t words = 256;
  __asm__ volatile("rep insw" : "+D"(p), "+c"(words) : "d"(d->base) : "memory");
  if (!(id[83] & (1u << 10))) return -1; /* no 48-bit LBA */
  d->sectors = (uint64_t)id[100] | (uint64_t)id[101] << 16 |
               (uint64_t)id[102] << 32 | (uint64_t)id[103] << 48;
  return d->sectors == 0 ? -1 : 0;
}

static int ata_read(const struct disk *d, uint64_t lba, uint32_t count,
                    uint8_t *dst) {
  for (uint32_t done = 0; done < count;) {
    const uint32_t n = count - done < kChunk ? count - done : kChunk;
    ata_command_ext(d, kCmdReadExt, lba + done, n);
    for (uint32_t s = 0; s < n; ++s, ++done) {
      if (ata_wait(d, 1) != 0) return -1;
      uint8_t *p = dst + (uint64_t)done * kSector;
      uint64_t words = kSector / 2;
      __asm__ volatile("rep insw"
                       : "+D"(p), "+c"(words)
                       : "d"(d->base)
                       : "memory");
    }
  }
  return 0;
}

/* Writes `count` sectors from `src`, or zeros if `src` is null. */
static int ata_write(const struct disk *d, uint64_t lba, uint32_t count,
                     const uint8_t *src) {
  static const uint8_t zeros[kSector];
  for (uint32_t done = 0; done < count;) {
    const uint32_t n = count - done < kChunk ? count - done : kChunk;
    ata_command_ext(d, kCmdWriteExt, lba + done, n);
    for (uint32_t s = 0; s < n; ++s, ++done) {
      if (ata_wait(d, 1) != 0) return -1;
      const uint8_t *p = src ? src + (uint64_t)done * kSector : zeros;
      uint64_t words = kSector / 2;
      __asm__ volatile("rep outsw"
                       : "+S"(p), "+c"(words)
                       : "d"(d->base)
                       : "memory");
    }
    if (ata_wait(d, 0) != 0) return -1;
  }
  return 0;
}

static int ata_flush(const struct disk *d) {
  ata_select(d, 0x40);
  outb(d->base + 7, kCmdFlushExt);
  return ata_wait(d, 0);
}

void disks_init(void) {
  static const uint16_t kBase[2] = {0x1f0, 0x170}, kControl[2] = {0x3f6, 0x376};
  char flags[8] = {0};
  const int nflags = fw_cfg_file("opt/org.hvbios/disks", flags, sizeof(flags));
  for (uint32_t i = 0; i < 4; ++i) {
    struct disk d = {kBase[i / 2], kControl[i / 2], (uint8_t)(i % 2), 0, 0};
    outb(d.control, 0x02); /* nIEN: no interrupts, we poll */
    if (ata_identify(&d) != 0) continue;
    d.read_only = (int)g_disk_count < nflags && flags[g_disk_count] == 'r';
    g_disks[g_disk_count++] = d;
  }
}

uint32_t disk_count(void) { return g_disk_count; }
int disk_read_only(uint32_t dev) { return g_disks[dev].read_only; }

/* ---- Requests (the host's ExecuteBlockRequest, lib/block.cc) */

static int64_t execute(uint32_t dev, uint32_t op, uint64_t sector,
                       uint64_t count, uint64_t buf) {
  const struct disk *d = &g_disks[dev];
  const int modifies = op == HVB_RING_OP_WRITE || op == HVB_RING_OP_DISCARD;
  switch (op) {
    case HVB_RING_OP_READ:
    case HVB_RING_OP_WRITE:
    case HVB_RING_OP_DISCARD:
      break;
    case HVB_RING_OP_FLUSH:
      if (d->read_only) return HVB_OK;
      return ata_flush(d) == 0 ? HVB_OK : HVB_ERR_IO;
    default:
      return HVB_ERR_INVAL;
  }
  if (modifies && d->read_only) return HVB_ERR_PERM;
  if (count == 0 || count > kMaxSectors || sector > d->sectors ||
      count > d->sectors - sector) {
    return HVB_ERR_RANGE;
  }
  if (op == HVB_RING_OP_DISCARD) {
    /* Contents become unspecified; zeros, as on hvbios-run's files. */
    return ata_write(d, sector, (uint32_t)count, 0) == 0 ? HVB_OK : HVB_ERR_IO;
  }
  if (!fw_guest_owns(buf, count * kSector)) return HVB_ERR_FAULT;
  uint8_t *p = (uint8_t *)(uintptr_t)buf;
  const int failed = op == HVB_RING_OP_READ
                         ? ata_read(d, sector, (uint32_t)count, p)
                         : ata_write(d, sector, (uint32_t)count, p);
  return failed ? HVB_ERR_IO : (int64_t)count;
}

static struct fw_result result(int64_t status) {
  struct fw_result r = {status < 0 ? status : HVB_OK,
                        status < 0 ? 0 : (uint64_t)status};
  return r;
}

struct fw_result block_info(const uint64_t *a) {
  if (a[0] >= g_disk_count) return result(HVB_ERR_NODEV);
  if (!fw_guest_owns(a[1], sizeof(struct hvb_block_info))) {
    return result(HVB_ERR_FAULT);
  }
  struct hvb_block_info info = {0};
  info.sectors = g_disks[a[0]].sectors;
  info.sector_size = kSector;
  info.flags = g_disks[a[0]].read_only ? HVB_BLOCK_F_READ_ONLY : 0;
  info.optimal_sectors = kChunk;
  info.max_sectors = kMaxSectors;
  memcpy((void *)(uintptr_t)a[1], &info, sizeof(info));
  return result(HVB_OK);
}
struct fw_result block_read(const uint64_t *a) {
  if (a[0] >= g_disk_count) return result(HVB_ERR_NODEV);
  return result(execute((uint32_t)a[0], HVB_RING_OP_READ, a[1], a[2], a[3]));
}
struct fw_result block_write(const uint64_t *a) {
  if (a[0] >= g_disk_count) return result(HVB_ERR_NODEV);
  return result(execute((uint32_t)a[0], HVB_RING_OP_WRITE, a[1], a[2], a[3]));
}
struct fw_result block_flush(const uint64_t *a) {
  if (a[0] >= g_disk_count) return result(HVB_ERR_NODEV);
  return result(execute((uint32_t)a[0], HVB_RING_OP_FLUSH, 0, 0, 0));
}
struct fw_result block_discard(const uint64_t *a) {
  if (a[0] >= g_disk_count) return result(HVB_ERR_NODEV);
  return result(execute((uint32_t)a[0], HVB_RING_OP_DISCARD, a[1], a[2], 0));
}

/* ---- Request rings (docs/abi.md 5.9, hvbios/abi/ring.h): served when the
 * guest rings the doorbell, on the calling CPU, in order. */

struct queue {
  uint32_t dev, entries;
  uint64_t ring;
  uint32_t sq_head, cq_tail; /* the platform's own copies */
  int broken;
};
static struct queue g_queues[FW_MAX_QUEUES];
static uint32_t g_queue_count;

uint32_t queue_count(void) { return g_queue_count; }

struct fw_result block_queue_setup(const uint64_t *a) {
  const uint64_t dev = a[0], ring = a[1], entries = a[2];
  if (dev >= g_disk_count) return result(HVB_ERR_NODEV);
  if (entries == 0 || entries > HVB_RING_MAX_ENTRIES ||
      (entries & (entries - 1)) != 0 || ring % 4096 != 0) {
    return result(HVB_ERR_INVAL);
  }
  if (!fw_guest_owns(ring, HVB_RING_BYTES(entries))) {
    return result(HVB_ERR_FAULT);
  }
  if (g_queue_count == FW_MAX_QUEUES) return result(HVB_ERR_NOMEM);
  struct queue *q = &g_queues[g_queue_count];
  *q = (struct queue){(uint32_t)dev, (uint32_t)entries, ring, 0, 0, 0};
  struct hvb_ring_header header = {0};
  header.entries = (uint32_t)entries;
  memcpy((void *)(uintptr_t)ring, &header, sizeof(header));
  return result(g_queue_count++);
}

void block_queue_notify(uint64_t id) {
  if (id >= g_queue_count) return; /* no such queue: ignored */
  struct queue *q = &g_queues[id];
  if (q->broken) return;
  struct hvb_ring_header *header = (struct hvb_ring_header *)(uintptr_t)q->ring;
  const uint32_t mask = q->entries - 1;
  const uint32_t sq_tail = __atomic_load_n(&header->sq_tail, __ATOMIC_ACQUIRE);
  int completed = 0;
  if (sq_tail - q->sq_head > q->entries) {
    q->broken = 1;
    __atomic_store_n(&header->error, 1u, __ATOMIC_RELEASE);
    return;
  }
  while (q->sq_head != sq_tail) {
    /* At most `entries` outstanding: more would overflow the completions. */
    const uint32_t cq_head =
        __atomic_load_n(&header->cq_head, __ATOMIC_ACQUIRE);
    if (q->cq_tail - cq_head >= q->entries) {
      q->broken = 1;
      __atomic_store_n(&header->error, 1u, __ATOMIC_RELEASE);
      break;
    }
    struct hvb_ring_request request; /* copied once; only the copy is used */
    memcpy(&request,
           (const void *)(uintptr_t)(q->ring + HVB_RING_SQ_OFFSET +
                                     (q->sq_head & mask) * sizeof(request)),
           sizeof(request));
    const struct hvb_ring_completion completion = {
        request.tag, execute(q->dev, request.op, request.sector, request.count,
                             request.buf)};
    memcpy((void *)(uintptr_t)(q->ring + HVB_RING_CQ_OFFSET(q->entries) +
                               (q->cq_tail & mask) * sizeof(completion)),
           &completion, sizeof(completion));
    __atomic_store_n(&header->cq_tail, ++q->cq_tail, __ATOMIC_RELEASE);
    __atomic_store_n(&header->sq_head, ++q->sq_head, __ATOMIC_RELEASE);
    completed = 1;
  }
  if (completed) event_queue_completed((uint32_t)id);
}
