/* Boot: from the PVH loader's start_info to the guest's entry point.
 *
 * Physical layout (all below 1 MiB; the guest image starts at 1 MiB):
 *
 *   0x00000-0x00fff  page 0: never mapped for the guest      RESERVED
 *   0x01000-0x0ffff  free                                     USABLE
 *   0x10000-0x17fff  the guest's boot page tables             BOOT
 *   0x18000-0x18fff  boot info, memory map, device list       BOOT
 *   0x19000-0x19fff  command line                             BOOT
 *   0x1a000-0x6ffff  free                                     USABLE
 *   0x70000-0x7ffff  the guest's boot stack                   BOOT
 *   0x80000-         the firmware image (code, data, the hypercall
 *                    and clock pages, its stacks and page tables) PLATFORM
 *   ...-0x9efff      free                                     USABLE
 *
 * The PVH loader's own data (start_info, the command line, the module
 * list) may lie anywhere below 1 MiB, so it is copied out first. */
#include "common/elf.h"
#include "common/page_tables.h"
#include "firmware.h"

struct fw_platform g_platform;

/* ---- What the PVH loader hands over */
/* Xen's public/arch-x86/hvm/start_info.h, version 1. */

#define PVH_START_MAGIC 0x336ec578u
struct pvh_start_info {
  uint32_t magic, version, flags, nr_modules;
  uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
  uint32_t memmap_entries, reserved;
};
struct pvh_module {
  uint64_t paddr, size, cmdline_paddr, reserved;
};
struct pvh_memmap_entry {
  uint64_t addr, size;
  uint32_t type, reserved; /* type 1: RAM */
};

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

/* The firmware's own page tables: every address below 4 GiB identity-
 * mapped with 2 MiB pages, the APICs' MMIO uncached. hcpage.S loads it. */
uint64_t fw_pml4[512] __attribute__((aligned(4096)));
static uint64_t fw_pdpt[512] __attribute__((aligned(4096)));
static uint64_t fw_pd[4][512] __attribute__((aligned(4096)));
/* Each CPU's firmware stack, for hypercalls and for starting; hcpage.S
 * finds it through fw_cpu_of_apic. */
uint8_t fw_stacks[FW_MAX_CPUS][FW_STACK_SIZE] __attribute__((aligned(16)));
uint8_t fw_cpu_of_apic[256];

uint32_t this_cpu(void) { return fw_cpu_of_apic[lapic_id()]; }

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
 * above 2 MiB (the unit of the guest's identity map there), below 4 GiB. */
static void collect_ram(const struct pvh_start_info *si) {
  if (si->version < 1 || si->memmap_paddr == 0) {
    fail("the boot loader passed no memory map (PVH start_info version 0)");
  }
  const struct pvh_memmap_entry *e =
      (const struct pvh_memmap_entry *)(uintptr_t)si->memmap_paddr;
  struct hvb_ram_range ram[16];
  uint32_t count = 0;
  for (uint32_t i = 0; i < si->memmap_entries && count < 15; ++i) {
    if (e[i].type != 1 || e[i].size == 0) continue;
    uint64_t base = e[i].addr, end = e[i].addr + e[i].size;
    if (end > kFourGiB) end = kFourGiB;
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
  /* Sorted by base (the loader's map need not be). */
  for (uint32_t i = 1; i < count; ++i) {
    for (uint32_t j = i; j > 0 && ram[j].base < ram[j - 1].base; --j) {
      const struct hvb_ram_range t = ram[j];
      ram[j] = ram[j - 1];
      ram[j - 1] = t;
    }
  }
  if (count == 0 || ram[0].base != 0)
    fail("no conventional memory below 640 KiB");
  memcpy(g_platform.ram, ram, sizeof(ram));
  g_platform.ram_count = count;
}

/* ---- CPUs, from the ACPI MADT */

static int acpi_checksum_ok(const uint8_t *table, uint32_t length) {
  uint8_t sum = 0;
  for (uint32_t i = 0; i < length; ++i) sum = (uint8_t)(sum + table[i]);
  return sum == 0;
}

static int same_bytes(const uint8_t *a, const char *b, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != (uint8_t)b[i]) return 0;
  }
  return 1;
}

/* The enabled processors of the MADT ("APIC", ACPI 6.x 5.2.12) through the
 * RSDT, the boot CPU first: vCPU ids in that order. Without ACPI, or past
 * FW_MAX_CPUS, only what fits. */
static void discover_cpus(const struct pvh_start_info *si) {
  const uint32_t boot_apic = lapic_id();
  memset(fw_cpu_of_apic, 0, sizeof(fw_cpu_of_apic));
  g_platform.cpus[0].apic_id = boot_apic;
  g_platform.cpus[0].state = HVB_VCPU_RUNNING;
  g_platform.cpus[0].started = 1;
  g_platform.cpu_count = 1;
  const uint8_t *rsdp = (const uint8_t *)(uintptr_t)si->rsdp_paddr;
  if (rsdp == 0 || !same_bytes(rsdp, "RSD PTR ", 8) ||
      !acpi_checksum_ok(rsdp, 20)) {
    return;
  }
  uint32_t rsdt_address, rsdt_length;
  memcpy(&rsdt_address, rsdp + 16, 4);
  const uint8_t *rsdt = (const uint8_t *)(uintptr_t)rsdt_address;
  memcpy(&rsdt_length, rsdt + 4, 4);
  if (!same_bytes(rsdt, "RSDT", 4) || rsdt_length < 36 ||
      !acpi_checksum_ok(rsdt, rsdt_length)) {
    return;
  }
  for (uint32_t at = 36; at + 4 <= rsdt_length; at += 4) {
    uint32_t table_address, length;
    memcpy(&table_address, rsdt + at, 4);
    const uint8_t *madt = (const uint8_t *)(uintptr_t)table_address;
    memcpy(&length, madt + 4, 4);
    if (!same_bytes(madt, "APIC", 4) || !acpi_checksum_ok(madt, length)) {
      continue;
    }
    /* Entries from offset 44: type, length, then the body. */
    for (uint32_t e = 44; e + 8 <= length && madt[e + 1] >= 2;
         e += madt[e + 1]) {
      if (madt[e] != 0) continue; /* not a processor local APIC */
      uint32_t flags;
      memcpy(&flags, madt + e + 4, 4);
      const uint32_t apic_id = madt[e + 3];
      if (!(flags & 1) || apic_id == boot_apic) continue; /* disabled */
      if (g_platform.cpu_count == FW_MAX_CPUS) break;
      const uint32_t id = g_platform.cpu_count++;
      g_platform.cpus[id].apic_id = apic_id;
      g_platform.cpus[id].state = HVB_VCPU_STOPPED;
      fw_cpu_of_apic[apic_id] = (uint8_t)id;
    }
    return;
  }
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

/* Checks the image by the rules every platform shares (common/elf.c),
 * places it, and returns its entry point. The loader left the image in
 * RAM at file_paddr: no segment may land on it. */
static uint64_t load_guest(const uint8_t *file, uint64_t size,
                           uint64_t file_paddr, struct hvb_elf_image *image) {
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
  for (uint32_t i = 0; i < image->segment_count; ++i) {
    const struct hvb_elf_segment *s = &image->segments[i];
    if (s->paddr < file_paddr + size &&
        file_paddr < s->paddr + s->memory_size) {
      fail("a segment of the guest image overlaps the image as loaded");
    }
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

static void build_firmware_tables(void) {
  fw_pml4[0] = (uint64_t)(uintptr_t)fw_pdpt | kPresent | kWritable;
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

/* ---- The clock */

uint64_t clock_monotonic_ns(void) {
  const uint64_t ticks = rdtsc() - g_platform.tsc_at_start;
  return (uint64_t)(((unsigned __int128)ticks * g_platform.ns_mul) >> 32);
}
uint64_t clock_wall_ns(void) {
  return g_platform.wall_ns_at_start + clock_monotonic_ns();
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

void fw_main(uint32_t start_info_paddr);
void fw_main(uint32_t start_info_paddr) {
  uart_init();
  const struct pvh_start_info *si =
      (const struct pvh_start_info *)(uintptr_t)start_info_paddr;
  if (si->magic != PVH_START_MAGIC) fail("not started by a PVH boot loader");
  collect_ram(si);
  build_firmware_tables();

  /* What we need of the loader's data, before low memory is reused. */
  char *cmdline = (char *)(uintptr_t)kCmdline;
  uint32_t cmdline_length = 0;
  if (si->cmdline_paddr != 0) {
    const char *src = (const char *)(uintptr_t)si->cmdline_paddr;
    while (src[cmdline_length] && cmdline_length < 4095) {
      cmdline[cmdline_length] = src[cmdline_length];
      ++cmdline_length;
    }
  }
  cmdline[cmdline_length] = 0;
  if (si->nr_modules < 1 || si->modlist_paddr == 0) {
    fail("no guest image: pass it as the first boot module (QEMU: -initrd)");
  }
  const struct pvh_module module =
      *(const struct pvh_module *)(uintptr_t)si->modlist_paddr;
  if (module.paddr < 0x100000 || !fw_ram_contains(module.paddr, module.size)) {
    fail("the boot module does not lie in RAM above 1 MiB");
  }

  /* Clocks. */
  uint32_t a, b, c, d;
  cpuid(1, &a, &b, &c, &d);
  g_platform.has_rdrand = (c >> 30) & 1;
  g_platform.tsc_hz = tsc_calibrate();
  if (g_platform.tsc_hz == 0) fail("cannot measure the TSC against the PIT");
  g_platform.ns_mul = (1000000000ull << 32) / g_platform.tsc_hz;
  g_platform.wall_ns_at_start = rtc_read_unix_seconds() * 1000000000ull;
  g_platform.tsc_at_start = rdtsc();
  interrupts_init(g_platform.tsc_hz);
  discover_cpus(si);
  disks_init();

  /* The guest. */
  static struct hvb_elf_image image;
  const uint64_t entry = load_guest((const uint8_t *)(uintptr_t)module.paddr,
                                    module.size, module.paddr, &image);

  /* The clock page: the TSC is the clock on every CPU (an emulator's, or
   * a PC's with an invariant TSC, which the firmware does not check yet). */
  struct hvb_clock_page *clock = (struct hvb_clock_page *)clock_page_storage;
  memset(clock, 0, 4096);
  clock->flags = HVB_CLOCK_F_VALID;
  clock->tsc_base = g_platform.tsc_at_start;
  clock->ns_base = 0;
  clock->mul = g_platform.ns_mul;
  clock->shift = 32;
  clock->tsc_frequency_hz = g_platform.tsc_hz;

  /* The memory map (common/memmap.c). */
  struct hvb_memmap_claim claims[4 + HVB_ELF_MAX_PHDRS] = {
      {0, 0x1000, HVB_MEM_RESERVED, 0},
      {kBootTables, kCmdline + 0x1000, HVB_MEM_BOOT, 0},
      {kBootStack, kBootStackTop, HVB_MEM_BOOT, 0},
      {(uint64_t)(uintptr_t)fw_image_start,
       ((uint64_t)(uintptr_t)fw_image_end + 0xfff) & ~0xfffull,
       HVB_MEM_PLATFORM, 0},
  };
  uint32_t nclaims = 4;
  for (uint32_t i = 0; i < image.segment_count; ++i) {
    const struct hvb_elf_segment *seg = &image.segments[i];
    claims[nclaims++] = (struct hvb_memmap_claim){
        seg->paddr & ~0xfffull,
        (seg->paddr + seg->memory_size + 0xfff) & ~0xfffull, HVB_MEM_IMAGE, 0};
  }
  struct hvb_boot_info *boot = (struct hvb_boot_info *)(uintptr_t)kBootInfo;
  struct hvb_mem_region *map = (struct hvb_mem_region *)(boot + 1);
  memset(boot, 0, 4096);
  const int built = hvb_memmap_build(g_platform.ram, g_platform.ram_count,
                                     claims, nclaims, map, kMaxMemMap);
  if (built < 0) fail("the memory map does not fit the boot info page");
  const uint32_t map_count = (uint32_t)built;
  g_platform.map = map;
  g_platform.map_count = map_count;
  struct hvb_device *devices = (struct hvb_device *)(map + map_count);
  devices[0] = (struct hvb_device){HVB_DEV_CONSOLE, 0, 0, {0, 0}};
  for (uint32_t i = 0; i < disk_count(); ++i) {
    devices[1 + i] =
        (struct hvb_device){HVB_DEV_BLOCK,
                            i,
                            disk_read_only(i) ? HVB_BLOCK_F_READ_ONLY : 0,
                            {0, 0}};
  }

  boot->magic = HVB_BOOT_MAGIC;
  boot->abi_version = HVB_ABI_VERSION;
  boot->size = sizeof(*boot);
  boot->hypercall_page = (uint64_t)(uintptr_t)hcpage;
  boot->clock_page = (uint64_t)(uintptr_t)clock_page_storage;
  boot->tsc_frequency_hz = g_platform.tsc_hz;
  boot->cmdline = cmdline_length ? (uint64_t)(uintptr_t)cmdline : 0;
  boot->cmdline_length = cmdline_length;
  boot->vcpu_count = g_platform.cpu_count;
  boot->boot_vcpu_id = 0;
  boot->mem_map_count = map_count;
  boot->mem_map = (uint64_t)(uintptr_t)map;
  boot->device_count = 1 + disk_count();
  boot->devices = (uint64_t)(uintptr_t)devices;

  /* The guest's boot identity map (common/page_tables.c): its RAM
   * read-write, the firmware's read-only, page 0 and non-RAM unmapped. */
  if (hvb_page_tables_build((void *)(uintptr_t)kBootTables, kBootTables,
                            kBootInfo - kBootTables, map, map_count) == 0) {
    fail("the guest's page tables do not fit");
  }
  g_platform.boot_tables = kBootTables;
  enter_guest(g_platform.boot_tables, entry, kBootStackTop,
              (uint64_t)(uintptr_t)boot);
}
