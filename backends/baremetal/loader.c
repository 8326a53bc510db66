/* What the boot loader hands over, whichever protocol it spoke.
 *
 * The loader's data (its information structure, memory map, command line)
 * may lie anywhere in low memory, including where boot.c lays out the
 * guest's boot data, so everything is copied out here before anything else
 * is written. The guest image module stays where the loader put it, in
 * RAM anywhere (GRUB on UEFI puts it in conventional memory): boot.c moves
 * it when low memory or the guest's segments need its place. */
#include "loader.h"

#include "firmware.h"

/* ---- PVH: Xen's public/arch-x86/hvm/start_info.h, version 1 */

#define PVH_START_MAGIC 0x336ec578u
struct pvh_start_info {
  uint32_t magic, version, flags, nr_modules;
  uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
  uint32_t memmap_entries, reserved;
};
struct pvh_module {
  uint64_t paddr, size, cmdline_paddr, reserved;
};

/* PVH's and Multiboot2's memory map entries share this layout. */
struct e820_entry {
  uint64_t addr, size;
  uint32_t type, reserved; /* type 1: RAM */
};

/* ---- Multiboot2 (the Multiboot2 specification, section 3.6) */

#define MB2_TAG_END 0
#define MB2_TAG_CMDLINE 1
#define MB2_TAG_MODULE 3
#define MB2_TAG_MMAP 6
#define MB2_TAG_FRAMEBUFFER 8
#define MB2_TAG_ACPI_OLD 14 /* a copy of the ACPI 1.0 RSDP */
#define MB2_TAG_ACPI_NEW 15 /* a copy of the ACPI 2.0+ RSDP */
#define MB2_TAG_EFI_MMAP \
  17                      /* the UEFI memory map, as ExitBootServices saw it */
#define MB2_TAG_EFI_BS 18 /* boot services were not exited */
struct mb2_tag {
  uint32_t type, size;
};
struct mb2_module {
  struct mb2_tag tag;
  uint32_t start, end;
  char string[];
};
struct mb2_mmap {
  struct mb2_tag tag;
  uint32_t entry_size, entry_version;
};
/* GRUB's layout (include/multiboot2.h): a 16-bit reserved field after
 * the type, then, for direct RGB colour (type 1), each channel's bit
 * position and width. */
struct mb2_framebuffer {
  struct mb2_tag tag;
  uint64_t address;
  uint32_t pitch, width, height;
  uint8_t bpp, type;
  uint16_t reserved;
  uint8_t red_position, red_size, green_position, green_size, blue_position,
      blue_size;
};
#define MB2_FRAMEBUFFER_RGB 1
struct mb2_efi_mmap {
  struct mb2_tag tag;
  uint32_t descriptor_size, descriptor_version;
};
struct efi_memory_descriptor {
  uint32_t type, padding;
  uint64_t physical_start, virtual_start, pages, attribute;
};

/* Adds RAM, merged with a range it adjoins: a UEFI memory map describes
 * RAM in many small pieces of different types, all of them RAM to us. */
static void add_ram(struct fw_handoff *h, uint64_t addr, uint64_t size) {
  if (size == 0 || addr + size < addr) return;
  for (uint32_t i = 0; i < h->ram_count; ++i) {
    struct fw_loader_range *r = &h->ram[i];
    if (r->addr + r->size == addr) {
      r->size += size;
      return;
    }
    if (addr + size == r->addr) {
      r->addr = addr;
      r->size += size;
      return;
    }
  }
  if (h->ram_count < FW_HANDOFF_MAX_RAM)
    h->ram[h->ram_count++] = (struct fw_loader_range){addr, size};
}

/* UEFI memory types that are free RAM once boot services have exited
 * (UEFI specification 2.9, 7.2, table 7-6): loader code and data, boot
 * services code and data, conventional memory. */
static int efi_type_is_ram(uint32_t type) {
  return type == 1 || type == 2 || type == 3 || type == 4 || type == 7;
}

/* The RSDP's bytes: 20 (ACPI 1.0) or 36 (2.0+, with the XSDT), as the
 * table's own revision and length say. */
static void copy_rsdp(struct fw_handoff *h, const uint8_t *rsdp,
                      uint32_t available) {
  uint32_t length = 20;
  if (available >= 36 && rsdp[15] >= 2) length = 36;
  if (available < length) return;
  memcpy(h->rsdp, rsdp, length);
  h->rsdp_length = length;
}

/* Copies the command line, at most FW_CMDLINE_MAX bytes, up to a NUL. */
static void copy_cmdline(struct fw_handoff *h, const char *text,
                         uint64_t limit) {
  uint32_t n = 0;
  while (n < limit && n < FW_CMDLINE_MAX && text[n] != 0) {
    h->cmdline[n] = text[n];
    ++n;
  }
  h->cmdline[n] = 0;
  h->cmdline_length = n;
}

/* Sorts the RAM ranges by address and merges those that touch. */
static void normalize_ram(struct fw_handoff *h) {
  for (uint32_t i = 1; i < h->ram_count; ++i) {
    for (uint32_t j = i; j > 0 && h->ram[j].addr < h->ram[j - 1].addr; --j) {
      const struct fw_loader_range t = h->ram[j];
      h->ram[j] = h->ram[j - 1];
      h->ram[j - 1] = t;
    }
  }
  uint32_t n = 0;
  for (uint32_t i = 0; i < h->ram_count; ++i) {
    struct fw_loader_range *last = n ? &h->ram[n - 1] : 0;
    if (last && h->ram[i].addr <= last->addr + last->size) {
      const uint64_t end = h->ram[i].addr + h->ram[i].size;
      if (end > last->addr + last->size) last->size = end - last->addr;
    } else {
      h->ram[n++] = h->ram[i];
    }
  }
  h->ram_count = n;
}

static const char *read_pvh(uint32_t info, struct fw_handoff *h) {
  const struct pvh_start_info *si =
      (const struct pvh_start_info *)(uintptr_t)info;
  if (si->magic != PVH_START_MAGIC) return "not started by a known boot loader";
  if (si->version < 1 || si->memmap_paddr == 0) {
    return "the boot loader passed no memory map (PVH start_info version 0)";
  }
  const struct e820_entry *e =
      (const struct e820_entry *)(uintptr_t)si->memmap_paddr;
  for (uint32_t i = 0; i < si->memmap_entries; ++i)
    if (e[i].type == 1) add_ram(h, e[i].addr, e[i].size);
  if (si->nr_modules >= 1 && si->modlist_paddr != 0) {
    const struct pvh_module *m =
        (const struct pvh_module *)(uintptr_t)si->modlist_paddr;
    h->module_paddr = m->paddr;
    h->module_size = m->size;
    h->has_module = 1;
  }
  if (si->rsdp_paddr != 0) {
    copy_rsdp(h, (const uint8_t *)(uintptr_t)si->rsdp_paddr, 36);
  }
  if (si->cmdline_paddr != 0)
    copy_cmdline(h, (const char *)(uintptr_t)si->cmdline_paddr, FW_CMDLINE_MAX);
  return 0;
}

/* The screen as the loader left it, if it is one screen.c can draw on:
 * direct colour, 24 or 32 bits a pixel (GRUB on OVMF picks 24, on SeaBIOS
 * 32), 8-bit channels, whole 32-bit words a row. */
static void copy_framebuffer(struct fw_handoff *h,
                             const struct mb2_framebuffer *f) {
  const uint32_t bytes = f->bpp / 8;
  if (f->type != MB2_FRAMEBUFFER_RGB || (f->bpp != 24 && f->bpp != 32) ||
      f->red_size != 8 || f->green_size != 8 || f->blue_size != 8 ||
      f->red_position > f->bpp - 8 || f->green_position > f->bpp - 8 ||
      f->blue_position > f->bpp - 8 || f->width == 0 || f->height == 0 ||
      f->pitch % 4 != 0 || f->pitch / bytes < f->width) {
    return;
  }
  h->framebuffer = (struct fw_framebuffer){
      .address = f->address,
      .pitch = f->pitch,
      .bytes_per_pixel = bytes,
      .width = f->width,
      .height = f->height,
      .red_shift = f->red_position,
      .green_shift = f->green_position,
      .blue_shift = f->blue_position,
  };
}

static const char *read_multiboot2(uint32_t info, struct fw_handoff *h) {
  const uint8_t *mbi = (const uint8_t *)(uintptr_t)info;
  uint32_t total;
  memcpy(&total, mbi, 4);
  if (total < 16) return "the Multiboot2 information is malformed";
  int have_new_rsdp = 0;
  const struct mb2_mmap *mmap = 0;
  const struct mb2_efi_mmap *efi_mmap = 0;
  int cmdline_from_module = 0;
  for (uint32_t at = 8; at + 8 <= total;) {
    const struct mb2_tag *tag = (const struct mb2_tag *)(mbi + at);
    if (tag->type == MB2_TAG_END || tag->size < 8 || tag->size > total - at)
      break;
    switch (tag->type) {
      case MB2_TAG_CMDLINE:
        if (!cmdline_from_module)
          copy_cmdline(h, (const char *)(tag + 1), tag->size - 8);
        break;
      case MB2_TAG_MODULE: {
        const struct mb2_module *m = (const struct mb2_module *)tag;
        if (m->end > m->start && strncmp(m->string, FW_CMDLINE_MODULE,
                                         sizeof(FW_CMDLINE_MODULE)) == 0) {
          copy_cmdline(h, (const char *)(uintptr_t)m->start, m->end - m->start);
          cmdline_from_module = 1;
        } else if (!h->has_module && m->end > m->start) {
          h->module_paddr = m->start;
          h->module_size = m->end - m->start;
          h->has_module = 1;
        }
        break;
      }
      case MB2_TAG_MMAP:
        mmap = (const struct mb2_mmap *)tag;
        break;
      case MB2_TAG_EFI_MMAP:
        efi_mmap = (const struct mb2_efi_mmap *)tag;
        break;
      case MB2_TAG_ACPI_OLD:
        if (!have_new_rsdp) copy_rsdp(h, (const uint8_t *)(tag + 1), 20);
        break;
      case MB2_TAG_ACPI_NEW:
        copy_rsdp(h, (const uint8_t *)(tag + 1), tag->size - 8);
        have_new_rsdp = h->rsdp_length != 0;
        break;
      case MB2_TAG_FRAMEBUFFER:
        /* 38 bytes: the structure's size less its padding. */
        if (tag->size >= offsetof(struct mb2_framebuffer, blue_size) + 1)
          copy_framebuffer(h, (const struct mb2_framebuffer *)tag);
        break;
      case MB2_TAG_EFI_BS:
        return "UEFI boot services are still running (the loader did not "
               "exit them)";
      default:
        break;
    }
    at += (tag->size + 7) & ~7u;
  }
  /* GRUB's own map leaves out the first MiB on UEFI; the UEFI map, where
   * there is one, is the whole truth. */
  if (efi_mmap != 0 &&
      efi_mmap->descriptor_size >= sizeof(struct efi_memory_descriptor)) {
    for (uint32_t e = sizeof(*efi_mmap);
         e + efi_mmap->descriptor_size <= efi_mmap->tag.size;
         e += efi_mmap->descriptor_size) {
      struct efi_memory_descriptor d;
      memcpy(&d, (const uint8_t *)efi_mmap + e, sizeof(d));
      if (efi_type_is_ram(d.type) && d.pages < (1ull << 40))
        add_ram(h, d.physical_start, d.pages << 12);
    }
  } else if (mmap != 0 && mmap->entry_size >= sizeof(struct e820_entry)) {
    for (uint32_t e = sizeof(*mmap); e + mmap->entry_size <= mmap->tag.size;
         e += mmap->entry_size) {
      struct e820_entry entry;
      memcpy(&entry, (const uint8_t *)mmap + e, sizeof(entry));
      if (entry.type == 1) add_ram(h, entry.addr, entry.size);
    }
  }
  if (h->ram_count == 0) return "the boot loader passed no memory map";
  return 0;
}

const char *fw_handoff_read(uint32_t info, uint32_t magic,
                            struct fw_handoff *h) {
  memset(h, 0, sizeof(*h));
  const char *why = magic == FW_MULTIBOOT2_MAGIC ? read_multiboot2(info, h)
                                                 : read_pvh(info, h);
  normalize_ram(h);
  return why;
}
