/* What the boot loader hands over (loader.c): PVH's start_info or
 * Multiboot2's information structure, read into one form. */
#ifndef HVBIOS_BAREMETAL_LOADER_H_
#define HVBIOS_BAREMETAL_LOADER_H_

#include <stdint.h>

/* eax at mb2_entry (Multiboot2 specification 3.2). */
#define FW_MULTIBOOT2_MAGIC 0x36d76289u
#define FW_HANDOFF_MAX_RAM 64
#define FW_CMDLINE_MAX 4095
/* A Multiboot2 module with this string holds the guest's command line,
 * byte for byte (GRUB re-quotes the multiboot2 command's own arguments);
 * hvbios-mkimage writes one. */
#define FW_CMDLINE_MODULE "hvbios.cmdline"

/* A linear framebuffer: 3 or 4 bytes a pixel, each 8-bit channel at its
 * shift in the pixel's little-endian value; rows of whole 32-bit words.
 * Address 0: none. */
struct fw_framebuffer {
  uint64_t address;
  uint32_t pitch, width, height; /* pitch in bytes */
  uint32_t bytes_per_pixel;
  uint8_t red_shift, green_shift, blue_shift;
};

struct fw_loader_range {
  uint64_t addr, size;
};

struct fw_handoff {
  /* The RAM of the loader's memory map, sorted, touching ranges merged. */
  struct fw_loader_range ram[FW_HANDOFF_MAX_RAM];
  uint32_t ram_count;
  /* The first boot module (not the command line's): the guest image. */
  int has_module;
  uint64_t module_paddr, module_size;
  /* A copy of the ACPI RSDP (20 or 36 bytes; 0: none). */
  uint8_t rsdp[36];
  uint32_t rsdp_length;
  /* The screen the loader set up (Multiboot2 only). */
  struct fw_framebuffer framebuffer;
  /* The guest's command line, NUL-terminated. */
  char cmdline[FW_CMDLINE_MAX + 1];
  uint32_t cmdline_length;
};

/* Reads the loader's data: `info` is ebx at entry, `magic` eax for
 * Multiboot2 (anything else: PVH). 0, or why it cannot be used. */
const char *fw_handoff_read(uint32_t info, uint32_t magic,
                            struct fw_handoff *handoff);

#endif /* HVBIOS_BAREMETAL_LOADER_H_ */
