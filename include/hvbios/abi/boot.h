/*
 * hvbios ABI: the boot protocol and the boot info structure.
 *
 * Freestanding: usable in guest kernels, firmware and the host library.
 * Specification: docs/abi.md, section "Boot protocol". All structures are
 * little-endian, naturally aligned, with explicit reserved fields that the
 * platform writes as zero and the guest ignores.
 */
#ifndef HVBIOS_ABI_BOOT_H_
#define HVBIOS_ABI_BOOT_H_

#include <stddef.h>
#include <stdint.h>

#include "hvbios/abi/static_assert.h"

#ifdef __cplusplus
extern "C" {
#endif

/* "HVBIOSBI" read as a little-endian uint64_t. */
#define HVB_BOOT_MAGIC                                               \
  ((uint64_t)'H' | (uint64_t)'V' << 8 | (uint64_t)'B' << 16 |        \
   (uint64_t)'I' << 24 | (uint64_t)'O' << 32 | (uint64_t)'S' << 40 | \
   (uint64_t)'B' << 48 | (uint64_t)'I' << 56)

/* Guest images are loaded at or above this physical address; everything
 * below belongs to the platform (see the memory map for what is where). */
#define HVB_GUEST_LOAD_MIN 0x100000ull

/* Memory map entry types. USABLE, BOOT and IMAGE are the guest's own RAM,
 * the only memory a hypercall's buffers may name (docs/abi.md 3.1). */
#define HVB_MEM_USABLE 1u   /* free RAM */
#define HVB_MEM_RESERVED 2u /* not RAM or not to be touched */
#define HVB_MEM_PLATFORM                         \
  3u /* hypercall page, clock page: keep mapped, \
        never write */
#define HVB_MEM_BOOT                                                   \
  4u                     /* boot info, command line, boot page tables, \
                            boot stack, GDT: RAM the guest may reuse   \
                            once it no longer needs them */
#define HVB_MEM_IMAGE 5u /* the loaded guest image's PT_LOAD segments */
/* Since 0.6: memory the host also maps (a device model's shared memory):
 * the guest's to use, hypercall buffers included, by whatever contract it
 * has with the host. */
#define HVB_MEM_SHARED 6u
/* Since 0.6: read-only memory (ROM): reads work, writes are dropped; never
 * a hypercall buffer. */
#define HVB_MEM_ROM 7u

struct hvb_mem_region {
  uint64_t base;   /* guest-physical, 4 KiB aligned */
  uint64_t length; /* bytes, multiple of 4 KiB */
  uint32_t type;   /* HVB_MEM_* */
  uint32_t reserved;
};

/* Device types in the device list. */
#define HVB_DEV_CONSOLE 1u
#define HVB_DEV_BLOCK 2u /* a disk of the block service (since 0.3) */
#define HVB_DEV_NET 3u   /* a device of the net service (since 0.10) */

/* Since 0.6: a device of the embedding VMM's own, driven through its
 * window of ports or MMIO (the guest maps an MMIO window itself: the boot
 * page tables do not cover it). `id` is the VMM's device id; flags:
 * HVB_DEV_F_PIO if the window is ports; its event source (0: none) in
 * bits 63..32, see HVB_DEV_EVENT_SOURCE. */
#define HVB_DEV_VENDOR 4u
#define HVB_DEV_F_PIO 0x1ull
#define HVB_DEV_EVENT_SOURCE(flags) ((uint32_t)((flags) >> 32))

struct hvb_device {
  uint32_t type;        /* HVB_DEV_* */
  uint32_t id;          /* the id the device's service calls take */
  uint64_t flags;       /* type-specific; 0 for the console */
  uint64_t window_base; /* HVB_DEV_VENDOR: first port or guest-physical
                           address of its window (since 0.6); else 0 */
  uint64_t window_size; /* HVB_DEV_VENDOR: its length in bytes; else 0 */
};

/* Boot info: at the guest-physical address in rdi at entry. Every pointer
 * is a guest-physical address, identity mapped at entry. Arrays and the
 * command line live in HVB_MEM_BOOT memory. */
struct hvb_boot_info {
  uint64_t magic;            /* HVB_BOOT_MAGIC */
  uint32_t abi_version;      /* HVB_ABI_VERSION of the platform */
  uint32_t size;             /* sizeof(struct hvb_boot_info) as the platform
                                wrote it; fields past what a guest knows are
                                for newer minors */
  uint64_t hypercall_page;   /* HVB_HCPAGE_SIZE bytes, read-only, executable */
  uint64_t clock_page;       /* struct hvb_clock_page (clock.h), read-only;
                                0 if the platform has none (since 0.4) */
  uint64_t tsc_frequency_hz; /* 0 if unknown */
  uint64_t cmdline;          /* NUL-terminated UTF-8; 0 if none */
  uint32_t cmdline_length;   /* bytes, without the NUL */
  uint32_t vcpu_count;       /* vCPU ids are 0 .. vcpu_count - 1 */
  uint32_t boot_vcpu_id;     /* the vCPU running at entry */
  uint32_t mem_map_count;
  uint64_t mem_map; /* struct hvb_mem_region[mem_map_count], sorted by base,
                       non-overlapping */
  uint32_t device_count;
  uint32_t reserved0;
  uint64_t devices; /* struct hvb_device[device_count] */
  /* Since 0.6: memory.generation when mem_map was written (0 on a
   * platform whose map never changes). */
  uint64_t mem_map_generation;
  uint64_t reserved[7];
};

#ifdef __cplusplus
} /* extern "C" */
#endif

/* Layout is part of the ABI: pin it. */
HVB_STATIC_ASSERT(sizeof(struct hvb_mem_region) == 24, "hvb_mem_region");
HVB_STATIC_ASSERT(sizeof(struct hvb_device) == 32, "hvb_device");
HVB_STATIC_ASSERT(sizeof(struct hvb_boot_info) == 152, "hvb_boot_info");
HVB_STATIC_ASSERT(offsetof(struct hvb_boot_info, hypercall_page) == 16,
                  "hvb_boot_info.hypercall_page");
HVB_STATIC_ASSERT(offsetof(struct hvb_boot_info, mem_map) == 64,
                  "hvb_boot_info.mem_map");
HVB_STATIC_ASSERT(offsetof(struct hvb_boot_info, devices) == 80,
                  "hvb_boot_info.devices");
HVB_STATIC_ASSERT(offsetof(struct hvb_boot_info, mem_map_generation) == 88,
                  "hvb_boot_info.mem_map_generation");

#endif /* HVBIOS_ABI_BOOT_H_ */
