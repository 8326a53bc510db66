/* The machine's disks as one list: IDE drives (ata.c) first, then the
 * AHCI controller's (ahci.c), in port order; block device ids in that
 * order. Which are read-only comes from the machine's owner. */
#include "devices.h"
#include "firmware.h"

static struct fw_disk g_disks[FW_MAX_DISKS];
static uint32_t g_count;

void disks_init(const char *read_only_flags, int flag_count) {
  ata_probe(g_disks, &g_count, FW_MAX_DISKS);
  ahci_probe(g_disks, &g_count, FW_MAX_DISKS);
  for (uint32_t i = 0; i < g_count; ++i)
    g_disks[i].read_only = (int)i < flag_count && read_only_flags[i] == 'r';
}

uint32_t disk_count(void) { return g_count; }
const struct fw_disk *disk_get(uint32_t id) { return &g_disks[id]; }

int disk_read(uint32_t id, uint64_t lba, uint32_t count, void *dst) {
  return g_disks[id].driver->read(g_disks[id].unit, lba, count, dst);
}
int disk_write(uint32_t id, uint64_t lba, uint32_t count, const void *src) {
  return g_disks[id].driver->write(g_disks[id].unit, lba, count, src);
}
int disk_flush(uint32_t id) {
  return g_disks[id].driver->flush(g_disks[id].unit);
}
