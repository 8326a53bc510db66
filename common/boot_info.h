/*
 * The boot info page, the device list and the clock page (docs/abi.md
 * 2.3, 5.12), laid out the same way by every platform (the host library
 * and the firmware compile common/boot_info.c). Freestanding C.
 */
#ifndef HVBIOS_COMMON_BOOT_INFO_H_
#define HVBIOS_COMMON_BOOT_INFO_H_

#include <stdint.h>

#include "hvbios/abi/boot.h"
#include "hvbios/abi/clock.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where the memory map starts in the boot info page; the device list
 * follows it. */
#define HVB_BOOT_INFO_MAP_OFFSET 0x100u

struct hvb_boot_params {
  uint64_t page_gpa; /* where the boot info page lies, guest-physical */
  uint64_t hypercall_page;
  uint64_t clock_page; /* 0: none */
  uint64_t tsc_frequency_hz;
  uint64_t cmdline; /* 0: none */
  uint32_t cmdline_length;
  uint32_t vcpu_count;
  const struct hvb_mem_region *map;
  uint32_t map_count;
  uint32_t device_count;
  const struct hvb_device *devices;
  uint64_t map_generation;
};

/* Writes the boot info into `page` (the platform's pointer to the 4 KiB
 * page at params->page_gpa), the memory map and the device list after it.
 * Returns 0, or -1 (nothing written) if they do not fit the page. */
int hvb_boot_info_write(void *page, const struct hvb_boot_params *params);

/* The device list: the console, then one HVB_DEV_BLOCK per disk (ids 0,
 * 1, ... in order; `read_only[i]` non-zero for a read-only one), then one
 * HVB_DEV_NET per network device (ids 0, 1, ...). Returns the number of
 * entries, or -1 if more than `capacity` are needed. */
int hvb_devices_fill(struct hvb_device *out, uint32_t capacity,
                     uint32_t disk_count, const uint8_t *read_only,
                     uint32_t nic_count);

/* The clock page for a TSC at `tsc_frequency_hz` that read `tsc_base` at
 * clock.monotonic `ns_base`: ns = ns_base + ((tsc - tsc_base) * mul) >> 32.
 * Valid unless the frequency is 0. */
struct hvb_clock_page hvb_clock_page_make(uint64_t tsc_frequency_hz,
                                          uint64_t tsc_base, uint64_t ns_base);

/* Publishes `next` into the live page with the sequence protocol (odd
 * while writing, even once consistent). */
void hvb_clock_page_publish(volatile struct hvb_clock_page *live,
                            const struct hvb_clock_page *next);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* HVBIOS_COMMON_BOOT_INFO_H_ */
