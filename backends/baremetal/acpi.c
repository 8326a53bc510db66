/* The machine's CPUs, from ACPI's MADT. */
#include "boot.h"
#include "devices.h"
#include "firmware.h"

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

void discover_cpus(uint64_t rsdp_paddr) {
  const uint32_t boot_apic = lapic_id();
  memset(fw_cpu_of_apic, 0, sizeof(fw_cpu_of_apic));
  g_platform.cpus[0].apic_id = boot_apic;
  g_platform.cpus[0].state = HVB_VCPU_RUNNING;
  g_platform.cpus[0].started = 1;
  g_platform.cpu_count = 1;
  const uint8_t *rsdp = (const uint8_t *)(uintptr_t)rsdp_paddr;
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
