/* ABI conformance guest: calls every function of the ABI from inside the
 * VM, valid calls and error paths, and reports each check on the console,
 * then "N passed, N failed". Shuts down with 0 only if nothing failed.
 * docs/abi.md section 6; one file per part of the specification.
 *
 * Command line (optional): "input=TEXT" makes it also wait (up to 5 s of
 * the platform's monotonic clock) for TEXT on console input. */
#include "conformance.h"

int conformance_passed, conformance_failed;
uint64_t ram_top;
char scratch[8192];

static void find_ram_top(const struct hvb_boot_info *boot) {
  const struct hvb_mem_region *map =
      (const struct hvb_mem_region *)(uintptr_t)boot->mem_map;
  for (uint32_t i = 0; i < boot->mem_map_count; ++i) {
    uint64_t end = map[i].base + map[i].length;
    if (end > ram_top) ram_top = end;
  }
}

static void test_boot_info(const struct hvb_boot_info *boot) {
  CHECK("boot.magic", boot->magic == HVB_BOOT_MAGIC, "%lx", boot->magic);
  CHECK("boot.abi_version", boot->abi_version == HVB_ABI_VERSION, "%x",
        boot->abi_version);
  CHECK("boot.size", boot->size >= sizeof(struct hvb_boot_info), "%u",
        boot->size);
  CHECK("boot.vcpu_count", boot->vcpu_count >= 1, "%u", boot->vcpu_count);
  CHECK("boot.hypercall_page",
        boot->hypercall_page != 0 && boot->hypercall_page % 4096 == 0, "%lx",
        boot->hypercall_page);
  const struct hvb_mem_region *map =
      (const struct hvb_mem_region *)(uintptr_t)boot->mem_map;
  int sorted = 1, platform_found = 0, image_found = 0;
  for (uint32_t i = 0; i < boot->mem_map_count; ++i) {
    if (i > 0 && map[i].base < map[i - 1].base + map[i - 1].length) sorted = 0;
    if (map[i].type == HVB_MEM_PLATFORM &&
        map[i].base <= boot->hypercall_page &&
        boot->hypercall_page < map[i].base + map[i].length) {
      platform_found = 1;
    }
    if (map[i].type == HVB_MEM_IMAGE &&
        map[i].base <= (uint64_t)(uintptr_t)&test_boot_info &&
        (uint64_t)(uintptr_t)&test_boot_info < map[i].base + map[i].length) {
      image_found = 1;
    }
  }
  CHECK("boot.mem_map.sorted", sorted, "regions overlap or are unsorted");
  CHECK("boot.mem_map.hypercall_page", platform_found,
        "hypercall page not in a PLATFORM region");
  CHECK("boot.mem_map.image", image_found, "own code not in an IMAGE region");
  const struct hvb_device *devices =
      (const struct hvb_device *)(uintptr_t)boot->devices;
  CHECK("boot.devices.console",
        boot->device_count >= 1 && devices[0].type == HVB_DEV_CONSOLE,
        "count %u", boot->device_count);
  const char *cmdline = (const char *)(uintptr_t)boot->cmdline;
  CHECK("boot.cmdline",
        boot->cmdline == 0 || strlen(cmdline) == boot->cmdline_length,
        "length mismatch");
}

int poll_until(volatile uint64_t *v, uint64_t want, uint64_t ms) {
  const uint64_t limit = hvb_clock_monotonic_ns() + ms * 1000000;
  while (*v != want) {
    if (hvb_clock_monotonic_ns() > limit) return 0;
  }
  return 1;
}
int poll_at_least(volatile uint64_t *v, uint64_t least, uint64_t ms) {
  const uint64_t limit = hvb_clock_monotonic_ns() + ms * 1000000;
  while (*v < least) {
    if (hvb_clock_monotonic_ns() > limit) return 0;
  }
  return 1;
}

void spin_ms(uint64_t ms) {
  const uint64_t limit = hvb_clock_monotonic_ns() + ms * 1000000;
  while (hvb_clock_monotonic_ns() < limit) {
  }
}
int wait_vcpu_state(uint32_t id, uint32_t want, uint64_t ms) {
  const uint64_t limit = hvb_clock_monotonic_ns() + ms * 1000000;
  uint32_t state = 0xffffffff;
  while (hvb_vcpu_status(id, &state) == HVB_OK && state != want) {
    if (hvb_clock_monotonic_ns() > limit) return 0;
  }
  return state == want;
}

volatile uint64_t test_vector_hits;
static void on_test_vector(struct hvb_interrupt_frame *f) {
  (void)f;
  test_vector_hits = test_vector_hits + 1;
}

int hvb_main(const struct hvb_boot_info *boot) {
  hvb_printf("hvbios conformance, ABI %u.%u\n", HVB_ABI_VERSION_MAJOR,
             HVB_ABI_VERSION_MINOR);
  find_ram_top(boot);
  hvb_interrupts_init();
  hvb_interrupt_set_handler(kTestVector, on_test_vector);
  hvb_interrupts_enable();
  test_boot_info(boot);
  test_base();
  test_nosys();
  test_preserved();
  test_console();
  const char *cmdline = (const char *)(uintptr_t)boot->cmdline;
  if (boot->cmdline != 0 && strncmp(cmdline, "input=", 6) == 0) {
    test_console_input(cmdline + 6);
  }
  test_clock();
  test_debug();
  test_power_errors();
  test_platform_memory(boot);
  test_memory_service(boot);
  test_vcpu(boot);
  test_timer();
  test_event();
  test_eoi();
  test_clock_page(boot);
  test_rng();
  test_block(boot);
  test_net(boot);
  hvb_printf("%d passed, %d failed\n", conformance_passed, conformance_failed);
  return conformance_failed == 0 ? 0 : 1;
}
