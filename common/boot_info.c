/* The boot info page, the device list and the clock page:
 * common/boot_info.h. */
#include "common/boot_info.h"

#include "hvbios/abi/hypercall.h"
#include "hvbios/abi/ring.h"

HVB_STATIC_ASSERT(HVB_BOOT_INFO_MAP_OFFSET >= sizeof(struct hvb_boot_info),
                  "the map follows the boot info");

static void copy_bytes(uint8_t *dst, const void *src, uint64_t n) {
  const uint8_t *s = (const uint8_t *)src;
  for (uint64_t i = 0; i < n; ++i) dst[i] = s[i];
}

int hvb_boot_info_write(void *page, const struct hvb_boot_params *p) {
  const uint64_t map_bytes = (uint64_t)p->map_count * sizeof(*p->map);
  const uint64_t devices_offset = HVB_BOOT_INFO_MAP_OFFSET + map_bytes;
  const uint64_t end =
      devices_offset + (uint64_t)p->device_count * sizeof(*p->devices);
  if (end > 4096) return -1;
  uint8_t *bytes = (uint8_t *)page;
  for (uint32_t i = 0; i < 4096; ++i) bytes[i] = 0;
  copy_bytes(bytes + HVB_BOOT_INFO_MAP_OFFSET, p->map, map_bytes);
  copy_bytes(bytes + devices_offset, p->devices,
             (uint64_t)p->device_count * sizeof(*p->devices));
  struct hvb_boot_info info = {0};
  info.magic = HVB_BOOT_MAGIC;
  info.abi_version = HVB_ABI_VERSION;
  info.size = sizeof(info);
  info.hypercall_page = p->hypercall_page;
  info.clock_page = p->clock_page;
  info.tsc_frequency_hz = p->tsc_frequency_hz;
  info.cmdline = p->cmdline;
  info.cmdline_length = p->cmdline_length;
  info.vcpu_count = p->vcpu_count;
  info.boot_vcpu_id = 0;
  info.mem_map_count = p->map_count;
  info.mem_map = p->page_gpa + HVB_BOOT_INFO_MAP_OFFSET;
  info.device_count = p->device_count;
  info.devices = p->page_gpa + devices_offset;
  info.mem_map_generation = p->map_generation;
  copy_bytes(bytes, &info, sizeof(info));
  return 0;
}

int hvb_devices_fill(struct hvb_device *out, uint32_t capacity,
                     uint32_t disk_count, const uint8_t *read_only,
                     uint32_t nic_count) {
  if (capacity < 1 || disk_count > capacity - 1 ||
      nic_count > capacity - 1 - disk_count) {
    return -1;
  }
  const struct hvb_device console = {HVB_DEV_CONSOLE, 0, 0, 0, 0};
  out[0] = console;
  for (uint32_t i = 0; i < disk_count; ++i) {
    const struct hvb_device disk = {
        HVB_DEV_BLOCK, i, read_only[i] ? HVB_BLOCK_F_READ_ONLY : 0, 0, 0};
    out[1 + i] = disk;
  }
  for (uint32_t i = 0; i < nic_count; ++i) {
    const struct hvb_device nic = {HVB_DEV_NET, i, 0, 0, 0};
    out[1 + disk_count + i] = nic;
  }
  return (int)(1 + disk_count + nic_count);
}

struct hvb_clock_page hvb_clock_page_make(uint64_t tsc_frequency_hz,
                                          uint64_t tsc_base, uint64_t ns_base) {
  struct hvb_clock_page page = {0};
  if (tsc_frequency_hz == 0) return page;
  /* Both platforms publish the page once, before the guest's entry. */
  page.flags = HVB_CLOCK_F_VALID | HVB_CLOCK_F_STABLE;
  page.tsc_base = tsc_base;
  page.ns_base = ns_base;
  page.shift = 32;
  /* 10^9 << 32 fits 64 bits; the quotient does for any real frequency. */
  page.mul = (1000000000ull << 32) / tsc_frequency_hz;
  page.tsc_frequency_hz = tsc_frequency_hz;
  return page;
}

void hvb_clock_page_publish(volatile struct hvb_clock_page *live,
                            const struct hvb_clock_page *next) {
  /* The reader's retry protocol needs the odd sequence visible before any
   * field changes, and every field before the even one: release stores
   * order each write after all earlier ones (no fence, which
   * ThreadSanitizer cannot model). coarse_ns is not the publisher's: it
   * belongs to whatever keeps it current (HVB_CLOCK_F_COARSE). */
  const uint32_t sequence = live->sequence;
  __atomic_store_n(&live->sequence, sequence + 1, __ATOMIC_RELAXED);
  __atomic_store_n(&live->flags, next->flags, __ATOMIC_RELEASE);
  __atomic_store_n(&live->tsc_base, next->tsc_base, __ATOMIC_RELEASE);
  __atomic_store_n(&live->ns_base, next->ns_base, __ATOMIC_RELEASE);
  __atomic_store_n(&live->mul, next->mul, __ATOMIC_RELEASE);
  __atomic_store_n(&live->shift, next->shift, __ATOMIC_RELEASE);
  __atomic_store_n(&live->tsc_frequency_hz, next->tsc_frequency_hz,
                   __ATOMIC_RELEASE);
  __atomic_store_n(&live->coarse_period_ns, next->coarse_period_ns,
                   __ATOMIC_RELEASE);
  __atomic_store_n(&live->sequence, sequence + 2, __ATOMIC_RELEASE);
}
