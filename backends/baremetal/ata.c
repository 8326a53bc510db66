/* Disks on the PC's IDE channels, driven by ATA PIO with polling (the
 * ATA/ATAPI command set; the ports of the PC's legacy IDE), as on QEMU's
 * pc. Callers serialise (the firmware lock). */
#include "cpu.h"
#include "devices.h"
#include "firmware.h"

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
  kChunk = 256, /* sectors per ATA command */
};

struct disk {
  uint16_t base, control;
  uint8_t slave;
  uint64_t sectors;
};
static struct disk g_disks[4]; /* two channels, two drives each */
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

static int ata_read_disk(const struct disk *d, uint64_t lba, uint32_t count,
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
static int ata_write_disk(const struct disk *d, uint64_t lba, uint32_t count,
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

static int ata_flush_disk(const struct disk *d) {
  ata_select(d, 0x40);
  outb(d->base + 7, kCmdFlushExt);
  return ata_wait(d, 0);
}

static int ata_read(uint32_t unit, uint64_t lba, uint32_t count, void *dst) {
  return ata_read_disk(&g_disks[unit], lba, count, dst);
}
static int ata_write(uint32_t unit, uint64_t lba, uint32_t count,
                     const void *src) {
  return ata_write_disk(&g_disks[unit], lba, count, src);
}
static int ata_flush(uint32_t unit) { return ata_flush_disk(&g_disks[unit]); }

static const struct fw_disk_driver kAtaDriver = {ata_read, ata_write,
                                                 ata_flush};

void ata_probe(struct fw_disk *disks, uint32_t *count, uint32_t capacity) {
  static const uint16_t kBase[2] = {0x1f0, 0x170}, kControl[2] = {0x3f6, 0x376};
  for (uint32_t i = 0; i < 4 && *count < capacity; ++i) {
    struct disk d = {kBase[i / 2], kControl[i / 2], (uint8_t)(i % 2), 0};
    outb(d.control, 0x02); /* nIEN: no interrupts, we poll */
    if (ata_identify(&d) != 0) continue;
    g_disks[g_disk_count] = d;
    disks[(*count)++] =
        (struct fw_disk){&kAtaDriver, g_disk_count, d.sectors, 0};
    ++g_disk_count;
  }
}
