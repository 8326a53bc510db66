/* Boot: from the PVH loader's start_info to the guest's entry point.
 *
 * Physical layout (all below 1 MiB; the guest image starts at 1 MiB):
 *
 *   0x00000-0x00fff  page 0: never mapped for the guest      RESERVED
 *   0x01000-0x0ffff  free                                     USABLE
 *   0x10000-0x17fff  the guest's boot page tables             BOOT
 *   0x18000-0x18fff  boot info, memory map, device list       BOOT
 *   0x19000-0x19fff  command line                             BOOT
 *   0x1a000-0x2ffff  free                                     USABLE
 *   0x30000-0x4ffff  the AHCI controller's command lists and bounce
 *                    buffer (AHCI_DMA_*), when it has disks    PLATFORM
 *   0x50000-0x64fff  the network card's buffers and descriptors
 *                    (E1000_DMA_*), when there is a card        PLATFORM
 *   ...-0x6ffff      free                                     USABLE
 *   0x70000-0x7ffff  the guest's boot stack                   BOOT
 *   0x80000-         the firmware image (code, data, the hypercall
 *                    and clock pages, its stacks and page tables) PLATFORM
 *   ...-0x9efff      free                                     USABLE
 *
 * The boot loader's own data (its information structure, the command line,
 * the module list) may lie anywhere in low memory, so it is copied out
 * first (loader.c). */
#include "acpi.h"
#include "common/boot_info.h"
#include "common/elf.h"
#include "common/page_tables.h"
#include "devices.h"
#include "firmware.h"
#include "loader.h"
#include "services/services.h"

struct fw_platform g_platform;

/* ---- Fixed addresses */

enum {
  kBootTables = 0x10000, /* PML4, PDPT, 4 PDs, the PT of the first 2 MiB */
  kBootInfo = 0x18000,
  kCmdline = 0x19000,
  kBootStack = 0x70000,
  kBootStackTop = 0x80000,
  kMaxMemMap = 64,
  kLowRamEnd = 0x9f000, /* conventional memory ends at the EBDA */
};
#define kFourGiB 0x100000000ull
extern char fw_image_start[], fw_image_end[]; /* firmware.ld */
extern char hcpage[], clock_page_storage[];

/* The firmware's own page tables (build_firmware_tables), identity maps.
 * hcpage.S loads them. */
uint64_t fw_pml4[512] __attribute__((aligned(4096)));
static uint64_t fw_pdpt[512] __attribute__((aligned(4096)));
static uint64_t fw_pd[4][512] __attribute__((aligned(4096)));
/* Where each CPU's firmware stack lies, for hypercalls and for starting
 * (vCPU i's is the i-th FW_STACK_SIZE from here); hcpage.S finds it
 * through fw_apic_ids. At the top of RAM, a PLATFORM region of the
 * guest's memory map: FW_MAX_CPUS stacks would not fit in conventional
 * memory beside the image. */
uint64_t fw_stacks_base;
uint32_t fw_apic_ids[FW_MAX_CPUS];

/* hcpage.S found this CPU's stack by its APIC id already: where the stack
 * lies says which vCPU runs, without reading the APIC again. */
uint32_t this_cpu(void) {
  uint64_t rsp;
  __asm__("mov %%rsp, %0" : "=r"(rsp));
  return (uint32_t)((rsp - fw_stacks_base) / FW_STACK_SIZE);
}

enum {
  kPresent = 1,
  kWritable = 2,
  kWriteThrough = 8,
  kCacheDisable = 16,
  kLarge = 0x80,
};

__attribute__((noreturn)) static void fail(const char *why) {
  fw_printf("hvbios-firmware: %s\n", why);
  char line[160] = "error ";
  size_t n = 6;
  for (const char *p = why; *p && n < sizeof(line) - 1; ++p) line[n++] = *p;
  line[n] = 0;
  machine_exit(line);
}

/* ---- RAM */

int fw_guest_owns(uint64_t address, uint64_t length) {
  return hvb_memmap_guest_owns(g_platform.map, g_platform.map_count, address,
                               length);
}

/* Whether [base, end) shares a byte with RAM. */
static int overlaps_ram(uint64_t base, uint64_t end) {
  for (uint32_t i = 0; i < g_platform.ram_count; ++i) {
    if (base < g_platform.ram[i].end && g_platform.ram[i].base < end) return 1;
  }
  return 0;
}

int fw_ram_contains(uint64_t address, uint64_t length) {
  if (length == 0 || address + length < address) return 0;
  for (uint32_t i = 0; i < g_platform.ram_count; ++i) {
    const struct hvb_ram_range *r = &g_platform.ram[i];
    if (address >= r->base && address - r->base <= r->end - r->base &&
        length <= r->end - address) {
      return 1;
    }
  }
  return 0;
}

/* The RAM the guest gets, from the loader's memory map: conventional
 * memory from 0 to the EBDA, and RAM from 1 MiB up, in whole 2 MiB pages
 * above 2 MiB (the unit of the guest's identity map there), below `limit`
 * (what the firmware's page tables map). */
static void collect_ram(const struct fw_handoff *h, uint64_t limit) {
  struct hvb_ram_range ram[16];
  uint32_t count = 0;
  for (uint32_t i = 0; i < h->ram_count && count < 15; ++i) {
    uint64_t base = h->ram[i].addr, end = h->ram[i].addr + h->ram[i].size;
    if (end > limit) end = limit;
    if (base < 0x100000) {
      if (base == 0 && end >= kLowRamEnd)
        ram[count++] = (struct hvb_ram_range){0, kLowRamEnd};
      continue;
    }
    /* The first 2 MiB are mapped in 4 KiB pages, the rest in 2 MiB ones. */
    base = base < 0x200000 ? (base + 0xfff) & ~0xfffull
                           : (base + 0x1fffff) & ~0x1fffffull;
    end = end <= 0x200000 ? end & ~0xfffull : end & ~0x1fffffull;
    if (base < end) ram[count++] = (struct hvb_ram_range){base, end};
  }
  /* Sorted by base already: the handoff's ranges are (loader.c). */
  if (count == 0 || ram[0].base != 0)
    fail("no conventional memory below 640 KiB");
  memcpy(g_platform.ram, ram, sizeof(ram));
  g_platform.ram_count = count;
}

/* An application processor, on its firmware stack after ap_trampoline
 * (hcpage.S): its local APIC set up, into the guest where vcpu.start
 * asked. */
void ap_main(void);
void ap_main(void) {
  lapic_init_this_cpu();
  struct fw_cpu *cpu = &g_platform.cpus[this_cpu()];
  __atomic_store_n(&cpu->coming_up, 0, __ATOMIC_RELEASE);
  enter_guest(cpu->cr3 ? cpu->cr3 : g_platform.boot_tables, cpu->entry,
              cpu->stack, cpu->arg);
}

/* ---- Loading the guest image (docs/abi.md, section 2.1) */

/* The end of the highest RAM: the firmware's stacks end there. */
static uint64_t ram_top(void) {
  return g_platform.ram[g_platform.ram_count - 1].end;
}

/* Where the boot module moves when it is in the way: the top of RAM, below
 * the room the firmware's stacks may take; 0 if it does not fit there,
 * above 1 MiB. */
static uint64_t module_parking(uint64_t size) {
  const struct hvb_ram_range *top = &g_platform.ram[g_platform.ram_count - 1];
  const uint64_t below = top->end - (uint64_t)FW_MAX_CPUS * FW_STACK_SIZE;
  if (size > below) return 0;
  const uint64_t to = (below - size) & ~0xfffull;
  return to >= 0x100000 && to >= top->base ? to : 0;
}

static int segments_overlap(const struct hvb_elf_image *image, uint64_t base,
                            uint64_t end) {
  for (uint32_t i = 0; i < image->segment_count; ++i) {
    const struct hvb_elf_segment *s = &image->segments[i];
    if (s->paddr < end && base < s->paddr + s->memory_size) return 1;
  }
  return 0;
}

/* Checks the image by the rules every platform shares (common/elf.c),
 * places it, and returns its entry point. The loader left the image in
 * RAM at file_paddr, where its segments may need to go (GRUB puts modules
 * at the lowest free address, often 1 MiB): it is moved out of their way
 * first, to its parking place. */
static uint64_t load_guest(uint64_t file_paddr, uint64_t size,
                           struct hvb_elf_image *image) {
  const uint8_t *file = (const uint8_t *)(uintptr_t)file_paddr;
  struct hvb_elf_error error = hvb_elf_parse(file, size, image);
  if (error.code == HVB_ELF_OK) {
    error =
        hvb_elf_check_placement(image, g_platform.ram, g_platform.ram_count);
  }
  if (error.code != HVB_ELF_OK) {
    char why[200] = "the guest image: ";
    hvb_elf_describe(error, why + 17, sizeof(why) - 17);
    fail(why);
  }
  if (segments_overlap(image, fw_stacks_base, ram_top())) {
    fail(
        "the guest image: a segment overlaps the firmware's stacks at the "
        "top of RAM");
  }
  if (segments_overlap(image, file_paddr, file_paddr + size)) {
    const uint64_t to = module_parking(size);
    if (to == 0 || segments_overlap(image, to, to + size)) {
      fail(
          "the guest image: no room to move the image out of its "
          "segments' way");
    }
    memmove((void *)(uintptr_t)to, file, size);
    file = (const uint8_t *)(uintptr_t)to;
  }
  /* Physical RAM holds whatever it held: .bss is zeroed here. */
  for (uint32_t i = 0; i < image->segment_count; ++i) {
    const struct hvb_elf_segment *s = &image->segments[i];
    uint8_t *dst = (uint8_t *)(uintptr_t)s->paddr;
    memcpy(dst, file + s->file_offset, s->file_size);
    memset(dst + s->file_size, 0, s->memory_size - s->file_size);
  }
  return image->entry;
}

/* ---- Page tables */

/* Whether the CPU has 1 GiB pages (CPUID 0x80000001 EDX bit 26). */
static int has_1g_pages(void) {
  uint32_t a, b, c, d;
  cpuid(0x80000000, &a, &b, &c, &d);
  if (a < 0x80000001) return 0;
  cpuid(0x80000001, &a, &b, &c, &d);
  return (d >> 26) & 1;
}

/* What the firmware's page tables map: the first 4 GiB in 2 MiB pages
 * (the top 32 MiB, the APICs' and the chipset's MMIO, uncached), and with
 * 1 GiB pages the rest of the first 512 GiB, where RAM above the PCI hole
 * lies. */
static uint64_t mapped_limit(void) {
  return has_1g_pages() ? 512ull << 30 : kFourGiB;
}

static void build_firmware_tables(uint64_t limit) {
  fw_pml4[0] = (uint64_t)(uintptr_t)fw_pdpt | kPresent | kWritable;
  for (uint64_t g = 4; g < limit >> 30; ++g)
    fw_pdpt[g] = (g << 30) | kPresent | kWritable | kLarge;
  for (uint64_t g = 0; g < 4; ++g) {
    fw_pdpt[g] = (uint64_t)(uintptr_t)fw_pd[g] | kPresent | kWritable;
    for (uint64_t i = 0; i < 512; ++i) {
      const uint64_t address = (g << 30) | (i << 21);
      uint64_t flags = kPresent | kWritable | kLarge;
      if (address >= 0xfe000000) flags |= kCacheDisable | kWriteThrough;
      fw_pd[g][i] = address | flags;
    }
  }
  __asm__ volatile("mov %0, %%cr3"
                   :
                   : "r"((uint64_t)(uintptr_t)fw_pml4)
                   : "memory");
}

/* The screen, if the loader set one up that the firmware's page tables map
 * (below `limit`) and that is not RAM the guest could be given. */
static void start_screen(const struct fw_framebuffer *fb, uint64_t limit) {
  const uint64_t end = fb->address + (uint64_t)fb->pitch * fb->height;
  if (fb->address != 0 && end > fb->address && end <= limit &&
      !overlaps_ram(fb->address, end)) {
    screen_init(fb);
  }
}

/* ---- The guest's memory map (common/memmap.c) */

static uint32_t build_map(struct hvb_memmap_claim *claims, uint32_t count,
                          struct hvb_mem_region *map) {
  const int built = hvb_memmap_build(g_platform.ram, g_platform.ram_count,
                                     claims, count, map, kMaxMemMap);
  if (built < 0) fail("the memory map has too many regions");
  return (uint32_t)built;
}

/* ---- Entry */

void enter_guest(uint64_t cr3, uint64_t rip, uint64_t rsp, uint64_t rdi) {
  const uint32_t mxcsr = 0x1f80;
  __asm__ volatile(
      "fninit\n\t"
      "ldmxcsr %[mxcsr]\n\t"
      "mov %[cr3], %%cr3\n\t"
      "mov %[rsp], %%rsp\n\t"
      "push $0x2\n\t" /* rflags: interrupts off */
      "popfq\n\t"
      "jmp *%[rip]"
      :
      : [mxcsr] "m"(mxcsr), [cr3] "r"(cr3), [rsp] "r"(rsp), [rip] "r"(rip),
        "D"(rdi)
      : "memory");
  __builtin_unreachable();
}

/* The firmware's C entry (entry.S): `info` and `magic` are ebx and eax
 * as the boot loader left them. */
void fw_main(uint32_t info, uint32_t magic);
void fw_main(uint32_t info, uint32_t magic) {
  uart_init();
  lapic_choose_mode();
  /* Who owns the machine decides how even an early failure leaves it. */
  {
    char flag;
    g_platform.debug_exit =
        fw_cfg_file("opt/org.hvbios/debug-exit", &flag, 1) == 1;
  }
  static struct fw_handoff handoff;
  const char *why = fw_handoff_read(info, magic, &handoff);
  if (why != 0) fail(why);
  const uint64_t limit = mapped_limit();
  collect_ram(&handoff, limit);
  build_firmware_tables(limit);
  start_screen(&handoff.framebuffer, limit);

  if (!handoff.has_module) {
    fail(
        "no guest image: pass it as the first boot module (QEMU: -initrd, "
        "GRUB: module2)");
  }
  uint64_t module_paddr = handoff.module_paddr;
  const uint64_t module_size = handoff.module_size;
  if (!fw_ram_contains(module_paddr, module_size))
    fail("the boot module does not lie in RAM");
  /* A module in conventional memory (GRUB on UEFI puts it there) would be
   * overwritten by the boot data: it moves out of the way at once. */
  if (module_paddr < 0x100000) {
    const uint64_t to = module_parking(module_size);
    if (to == 0) fail("no room in RAM to move the boot module to");
    memmove((void *)(uintptr_t)to, (const void *)(uintptr_t)module_paddr,
            module_size);
    module_paddr = to;
  }
  /* Only now is low memory free for the boot data. */
  char *cmdline = (char *)(uintptr_t)kCmdline;
  const uint32_t cmdline_length = handoff.cmdline_length;
  memcpy(cmdline, handoff.cmdline, cmdline_length + 1);

  /* The machine: its ACPI tables and CPUs, then its clocks. */
  acpi_init(handoff.rsdp_length ? handoff.rsdp : 0);
  if (g_acpi.cpus_left_out != 0) {
    char note[120];
    hvb_snprintf(note, sizeof(note),
                 "%u enabled CPUs left out: the firmware drives at most %u "
                 "(and APIC ids above 255 only in x2APIC mode)",
                 g_acpi.cpus_left_out, FW_MAX_CPUS);
    machine_note(note);
  }
  uint32_t a, b, c, d;
  cpuid(1, &a, &b, &c, &d);
  g_platform.has_rdrand = (c >> 30) & 1;
  int pm_timer_used = 0;
  g_platform.tsc_hz = tsc_calibrate(&pm_timer_used);
  if (g_platform.tsc_hz == 0)
    fail("cannot measure the TSC: neither the PIT nor an ACPI PM timer");
  if (pm_timer_used) {
    machine_note(
        "no PIT answers: the TSC was measured against the ACPI PM "
        "timer");
  }
  g_platform.ns_mul = (1000000000ull << 32) / g_platform.tsc_hz;
  g_platform.wall_ns_at_start = rtc_read_unix_seconds() * 1000000000ull;
  g_platform.tsc_at_start = rdtsc();
  interrupts_init(g_platform.tsc_hz);
  {
    const struct hvb_ram_range *top = &g_platform.ram[g_platform.ram_count - 1];
    const uint64_t bytes = (uint64_t)g_platform.cpu_count * FW_STACK_SIZE;
    if (top->end - top->base < bytes + 0x100000 || top->base < 0x100000)
      fail("no RAM above 1 MiB for the firmware's stacks");
    fw_stacks_base = top->end - bytes;
  }
  pci_silence_interrupts();
  fw_block_init();
  const uint32_t nic_count = fw_net_init();

  /* The guest. */
  static struct hvb_elf_image image;
  const uint64_t entry = load_guest(module_paddr, module_size, &image);

  /* The clock page: the TSC is the clock on every CPU (an emulator's, or
   * a PC's with an invariant TSC, which the firmware does not check yet). */
  const struct hvb_clock_page clock =
      hvb_clock_page_make(g_platform.tsc_hz, g_platform.tsc_at_start, 0);
  memset(clock_page_storage, 0, 4096);
  hvb_clock_page_publish((struct hvb_clock_page *)clock_page_storage, &clock);

  /* The memory map (common/memmap.c). */
  struct hvb_memmap_claim claims[8 + HVB_ELF_MAX_PHDRS] = {
      {0, 0x1000, HVB_MEM_RESERVED, 0},
      {kBootTables, kCmdline + 0x1000, HVB_MEM_BOOT, 0},
      {kBootStack, kBootStackTop, HVB_MEM_BOOT, 0},
      {(uint64_t)(uintptr_t)fw_image_start,
       ((uint64_t)(uintptr_t)fw_image_end + 0xfff) & ~0xfffull,
       HVB_MEM_PLATFORM, 0},
  };
  uint32_t nclaims = 4;
  claims[nclaims++] =
      (struct hvb_memmap_claim){fw_stacks_base, ram_top(), HVB_MEM_PLATFORM, 0};
  if (nic_count != 0) {
    claims[nclaims++] = (struct hvb_memmap_claim){E1000_DMA_BASE, E1000_DMA_END,
                                                  HVB_MEM_PLATFORM, 0};
  }
  if (ahci_present()) {
    claims[nclaims++] = (struct hvb_memmap_claim){AHCI_DMA_BASE, AHCI_DMA_END,
                                                  HVB_MEM_PLATFORM, 0};
  }
  for (uint32_t i = 0; i < image.segment_count; ++i) {
    const struct hvb_elf_segment *seg = &image.segments[i];
    claims[nclaims++] = (struct hvb_memmap_claim){
        seg->paddr & ~0xfffull,
        (seg->paddr + seg->memory_size + 0xfff) & ~0xfffull, HVB_MEM_IMAGE, 0};
  }
  static struct hvb_mem_region map[kMaxMemMap];
  uint32_t map_count = build_map(claims, nclaims, map);
  /* The guest's boot page tables: in the BOOT area below 1 MiB, where 8
   * pages map RAM up to about 4 GiB; with more RAM, in a BOOT region of
   * their own below the firmware's stacks, sized for the map with it (two
   * more page tables for its own edges). */
  uint64_t tables_at = kBootTables, tables_size = kBootInfo - kBootTables;
  const uint64_t needed =
      hvb_page_tables_build(0, kBootTables, ~0ull >> 1, map, map_count);
  if (needed > tables_size) {
    tables_size = (needed + 0x2fff) & ~0xfffull;
    tables_at = fw_stacks_base - tables_size;
    if (tables_at < 0x100000 || !fw_ram_contains(tables_at, tables_size) ||
        segments_overlap(&image, tables_at, tables_at + tables_size)) {
      fail("no room in RAM for the guest's page tables");
    }
    claims[nclaims++] = (struct hvb_memmap_claim){
        tables_at, tables_at + tables_size, HVB_MEM_BOOT, 0};
    map_count = build_map(claims, nclaims, map);
  }
  /* The guest's copy (in the boot info page) is the one the services
   * check buffers against: what the guest was told is what holds. */
  uint8_t read_only[FW_MAX_DISKS];
  for (uint32_t i = 0; i < disk_count(); ++i)
    read_only[i] = (uint8_t)disk_get(i)->read_only;
  struct hvb_device devices[2 + FW_MAX_DISKS];
  const int device_count = hvb_devices_fill(devices, 2 + FW_MAX_DISKS,
                                            disk_count(), read_only, nic_count);
  const struct hvb_boot_params params = {
      .page_gpa = kBootInfo,
      .hypercall_page = (uint64_t)(uintptr_t)hcpage,
      .clock_page = (uint64_t)(uintptr_t)clock_page_storage,
      .tsc_frequency_hz = g_platform.tsc_hz,
      .cmdline = cmdline_length ? (uint64_t)(uintptr_t)cmdline : 0,
      .cmdline_length = cmdline_length,
      .vcpu_count = g_platform.cpu_count,
      .map = map,
      .map_count = map_count,
      .device_count = (uint32_t)device_count,
      .devices = devices,
  };
  if (device_count < 0 ||
      hvb_boot_info_write((void *)(uintptr_t)kBootInfo, &params) != 0) {
    fail("the memory map and devices do not fit the boot info page");
  }
  const struct hvb_boot_info *boot =
      (const struct hvb_boot_info *)(uintptr_t)kBootInfo;
  g_platform.map = (const struct hvb_mem_region *)(uintptr_t)boot->mem_map;
  g_platform.map_count = map_count;

  /* The guest's boot identity map (common/page_tables.c): its RAM
   * read-write, the firmware's read-only, page 0 and non-RAM unmapped. */
  if (hvb_page_tables_build((void *)(uintptr_t)tables_at, tables_at,
                            tables_size, g_platform.map, map_count) == 0) {
    fail("the guest's page tables do not fit");
  }
  g_platform.boot_tables = tables_at;
  enter_guest(g_platform.boot_tables, entry, kBootStackTop,
              (uint64_t)(uintptr_t)boot);
}
