/* QEMU's firmware configuration device (docs/specs/fw_cfg.rst in QEMU):
 * selector port 0x510, data port 0x511; the file directory is item 0x19,
 * big-endian. */
#include "cpu.h"
#include "devices.h"

static void fw_cfg_select(uint16_t item) { outw(0x510, item); }
static void fw_cfg_read(void *dst, size_t n) {
  uint8_t *d = dst;
  for (size_t i = 0; i < n; ++i) d[i] = inb(0x511);
}
static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

int fw_cfg_file(const char *name, char *dst, size_t cap) {
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
