/* tarfs: a tiny read-only file system on a block device. Reads a ustar
 * archive (POSIX.1-1988 tar) from disk 0 through the block service, lists
 * its entries, and prints the contents of the files named on the command
 * line as "cat NAME...". The smallest complete path from a guest OS to
 * files on a disk. Exit: 0, or 2 if a named file is missing. */
#include "hvbios/guest/hvb.h"

enum { kSector = 512, kMaxEntries = 64 };

struct entry {
  char name[101];
  uint64_t size;
  uint64_t first_sector; /* of the data */
  char type;
};
static struct entry entries[kMaxEntries];
static uint32_t entry_count;
static uint8_t sector[kSector] __attribute__((aligned(512)));

static uint64_t octal(const char *p, int length) {
  uint64_t v = 0;
  for (int i = 0; i < length && p[i] >= '0' && p[i] <= '7'; ++i) {
    v = v * 8 + (uint64_t)(p[i] - '0');
  }
  return v;
}

/* A header's checksum: the byte sum with the checksum field as spaces. */
static int header_valid(const uint8_t *h) {
  uint64_t sum = 0;
  for (int i = 0; i < kSector; ++i) sum += (i >= 148 && i < 156) ? ' ' : h[i];
  return sum == octal((const char *)h + 148, 8);
}

static int scan(uint64_t sectors) {
  for (uint64_t s = 0; s < sectors && entry_count < kMaxEntries;) {
    if (hvb_block_read(0, s, 1, sector) != HVB_OK) return 0;
    if (sector[0] == 0) break; /* end of archive */
    if (!header_valid(sector)) {
      hvb_printf("tarfs: bad header at sector %lu\n", s);
      return 0;
    }
    struct entry *e = &entries[entry_count++];
    memcpy(e->name, sector, 100);
    e->name[100] = 0;
    e->size = octal((const char *)sector + 124, 12);
    e->type = (char)sector[156];
    e->first_sector = s + 1;
    s += 1 + (e->size + kSector - 1) / kSector;
  }
  return 1;
}

static int cat(const char *name, size_t length) {
  for (uint32_t i = 0; i < entry_count; ++i) {
    const struct entry *e = &entries[i];
    if (strlen(e->name) != length || memcmp(e->name, name, length) != 0) {
      continue;
    }
    hvb_printf("--- %s (%lu bytes)\n", e->name, e->size);
    for (uint64_t done = 0; done < e->size; done += kSector) {
      if (hvb_block_read(0, e->first_sector + done / kSector, 1, sector) !=
          HVB_OK) {
        return 0;
      }
      const uint64_t n = e->size - done < kSector ? e->size - done : kSector;
      hvb_console_write(sector, n);
    }
    return 1;
  }
  hvb_printf("tarfs: %.*s: no such file\n", (int)length, name);
  return 0;
}

int hvb_main(const struct hvb_boot_info *boot) {
  struct hvb_block_info info;
  if (hvb_block_info(0, &info) != HVB_OK) {
    hvb_printf("tarfs: needs a tar image as disk 0\n");
    return 1;
  }
  if (!scan(info.sectors)) return 1;
  hvb_printf("tarfs: %u entries\n", entry_count);
  for (uint32_t i = 0; i < entry_count; ++i) {
    hvb_printf("  %c %8lu %s\n", entries[i].type ? entries[i].type : '0',
               entries[i].size, entries[i].name);
  }
  const char *cmd = boot->cmdline ? (const char *)(uintptr_t)boot->cmdline : "";
  if (strncmp(cmd, "cat ", 4) != 0) return 0;
  int all = 1;
  for (const char *p = cmd + 4; *p;) {
    while (*p == ' ') ++p;
    const char *start = p;
    while (*p && *p != ' ') ++p;
    if (p > start) all = cat(start, (size_t)(p - start)) && all;
  }
  return all ? 0 : 2;
}
