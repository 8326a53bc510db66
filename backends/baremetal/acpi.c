/* ACPI: what the firmware reads of the machine's tables (ACPI 6.4,
 * chapter 5): the MADT's processors, the FADT's power-management ports,
 * timer and reset register, and the DSDT's \_S5 sleep type, which is all
 * that powering off needs. No AML interpreter: the \_S5 package is a
 * constant every PC's DSDT spells the same way, and is read as bytes. */
#include "acpi.h"

#include "cpu.h"
#include "devices.h"
#include "firmware.h"

struct fw_acpi g_acpi;

static int checksum_ok(const uint8_t *table, uint32_t length) {
  uint8_t sum = 0;
  for (uint32_t i = 0; i < length; ++i) sum = (uint8_t)(sum + table[i]);
  return sum == 0;
}

static uint32_t read32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}
static uint64_t read64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

/* The system description table at `address` if it has `signature`, a
 * sane length and a valid checksum; null otherwise. The firmware maps
 * only the first 4 GiB, where PCs keep their tables. */
static const uint8_t *table_at(uint64_t address, const char *signature) {
  if (address == 0 || address >= (1ull << 32) - 36) return 0;
  const uint8_t *table = (const uint8_t *)(uintptr_t)address;
  const uint32_t length = read32(table + 4);
  if (memcmp(table, signature, 4) != 0 || length < 36 || length > (1u << 24) ||
      address + length > (1ull << 32) || !checksum_ok(table, length)) {
    return 0;
  }
  return table;
}

/* The table with `signature` in the XSDT (64-bit entries) if the RSDP
 * names one, in the RSDT otherwise. */
static const uint8_t *find_table(const uint8_t *rsdp, const char *signature) {
  const uint8_t *root = 0;
  uint32_t entry_size = 4;
  if (rsdp[15] >= 2 && checksum_ok(rsdp, 36)) {
    root = table_at(read64(rsdp + 24), "XSDT");
    entry_size = 8;
  }
  if (root == 0) {
    root = table_at(read32(rsdp + 16), "RSDT");
    entry_size = 4;
  }
  if (root == 0) return 0;
  const uint32_t length = read32(root + 4);
  for (uint32_t at = 36; at + entry_size <= length; at += entry_size) {
    const uint64_t address =
        entry_size == 8 ? read64(root + at) : read32(root + at);
    const uint8_t *table = table_at(address, signature);
    if (table != 0) return table;
  }
  return 0;
}

/* ---- The MADT (5.2.12): processors, by local APIC (type 0) or local
 * x2APIC (type 9) entry, enabled or online-capable. */

static void add_cpu(uint32_t apic_id) {
  if (apic_id == 0xffffffff) return; /* the broadcast id, no CPU's */
  for (uint32_t i = 0; i < g_platform.cpu_count; ++i) {
    if (fw_apic_ids[i] == apic_id) return; /* the boot CPU, or listed twice */
  }
  /* Past 255 only x2APIC mode reaches a CPU (apic.c). */
  if (g_platform.cpu_count == FW_MAX_CPUS || (apic_id > 0xff && !fw_x2apic)) {
    ++g_acpi.cpus_left_out;
    return;
  }
  const uint32_t id = g_platform.cpu_count++;
  fw_apic_ids[id] = apic_id;
  g_platform.cpus[id].state = HVB_VCPU_STOPPED;
}

static void read_madt(const uint8_t *madt) {
  const uint32_t length = read32(madt + 4);
  /* Entries from offset 44: type, length, then the body. */
  for (uint32_t e = 44;
       e + 2 <= length && madt[e + 1] >= 2 && e + madt[e + 1] <= length;
       e += madt[e + 1]) {
    if (madt[e] == 0 && madt[e + 1] >= 8) {
      /* An xAPIC id of 0xff is the broadcast id: such a CPU, if any, has
       * an x2APIC entry instead. */
      if ((read32(madt + e + 4) & 1) && madt[e + 3] != 0xff)
        add_cpu(madt[e + 3]);
    } else if (madt[e] == 9 && madt[e + 1] >= 16) {
      if (read32(madt + e + 8) & 1) add_cpu(read32(madt + e + 4));
    }
  }
}

/* ---- The DSDT's \_S5 (7.4.2): Name (_S5, Package () { SLP_TYPa,
 * SLP_TYPb, ... }), as AML: NameOp (0x08), the name, PackageOp (0x12), a
 * PkgLength, NumElements, then each element as a ZeroOp, OneOp, OnesOp or
 * BytePrefix-value. */

/* One integer constant at *p: 1 and the value, 0 if it is not one. */
static int aml_small_integer(const uint8_t **p, const uint8_t *end,
                             uint8_t *value) {
  if (*p >= end) return 0;
  switch (**p) {
    case 0x00: /* ZeroOp */
    case 0x01: /* OneOp */
      *value = **p;
      *p += 1;
      return 1;
    case 0x0a: /* BytePrefix */
      if (*p + 1 >= end) return 0;
      *value = (*p)[1];
      *p += 2;
      return 1;
    default:
      return 0;
  }
}

static void read_s5(const uint8_t *dsdt) {
  const uint32_t length = read32(dsdt + 4);
  const uint8_t *end = dsdt + length;
  for (const uint8_t *p = dsdt + 36; p + 4 <= end; ++p) {
    if (memcmp(p, "_S5_", 4) != 0) continue;
    /* NameOp right before, or before a root prefix ('\'). */
    if (!(p[-1] == 0x08 || (p[-1] == '\\' && p[-2] == 0x08))) continue;
    const uint8_t *q = p + 4;
    if (q >= end || *q++ != 0x12) continue; /* PackageOp */
    if (q >= end) return;
    q += 1 + (*q >> 6); /* PkgLength: lead byte, then 0-3 more */
    q += 1;             /* NumElements */
    uint8_t a, b;
    if (aml_small_integer(&q, end, &a) && aml_small_integer(&q, end, &b)) {
      g_acpi.slp_typ_a = a & 7;
      g_acpi.slp_typ_b = b & 7;
      g_acpi.has_s5 = 1;
    }
    return;
  }
}

/* ---- The FADT (5.2.9) */

/* A Generic Address Structure (5.2.3.2) in I/O space: its port, or 0. */
static uint16_t gas_io_port(const uint8_t *gas) {
  const uint64_t address = read64(gas + 4);
  return gas[0] == 1 && address != 0 && address <= 0xffff ? (uint16_t)address
                                                          : 0;
}

static void read_fadt(const uint8_t *fadt) {
  const uint32_t length = read32(fadt + 4);
  if (length < 116) return;
  g_acpi.smi_command = (uint16_t)read32(fadt + 48);
  g_acpi.acpi_enable = fadt[52];
  g_acpi.pm1a_control = (uint16_t)read32(fadt + 64);
  g_acpi.pm1b_control = (uint16_t)read32(fadt + 68);
  g_acpi.pm_timer = (uint16_t)read32(fadt + 76);
  const uint32_t flags = read32(fadt + 112);
  g_acpi.pm_timer_32bit = (flags >> 8) & 1;    /* TMR_VAL_EXT */
  if (length >= 129 && (flags & (1u << 10))) { /* RESET_REG_SUP */
    const uint8_t *reg = fadt + 116;
    g_acpi.reset_space = reg[0];
    g_acpi.reset_address = read64(reg + 4);
    g_acpi.reset_value = fadt[128];
    g_acpi.has_reset = (reg[0] == 0 || reg[0] == 1 || reg[0] == 2) &&
                       g_acpi.reset_address != 0;
  }
  /* ACPI 2.0+: the 64-bit fields stand in for zero 32-bit ones. */
  if (length >= 220) {
    if (g_acpi.pm1a_control == 0) g_acpi.pm1a_control = gas_io_port(fadt + 172);
    if (g_acpi.pm1b_control == 0) g_acpi.pm1b_control = gas_io_port(fadt + 184);
    if (g_acpi.pm_timer == 0) g_acpi.pm_timer = gas_io_port(fadt + 208);
  }
  uint64_t dsdt = read32(fadt + 40);
  if (length >= 148 && read64(fadt + 140) != 0) dsdt = read64(fadt + 140);
  const uint8_t *table = table_at(dsdt, "DSDT");
  if (table != 0) read_s5(table);
}

void acpi_init(const uint8_t *rsdp) {
  memset(&g_acpi, 0, sizeof(g_acpi));
  memset(fw_apic_ids, 0xff, sizeof(fw_apic_ids));
  fw_apic_ids[0] = lapic_id();
  g_platform.cpus[0].state = HVB_VCPU_RUNNING;
  g_platform.cpus[0].started = 1;
  g_platform.cpu_count = 1;
  if (rsdp == 0 || memcmp(rsdp, "RSD PTR ", 8) != 0 || !checksum_ok(rsdp, 20))
    return;
  const uint8_t *madt = find_table(rsdp, "APIC");
  if (madt != 0) read_madt(madt);
  const uint8_t *fadt = find_table(rsdp, "FACP");
  if (fadt != 0) read_fadt(fadt);
}

/* ---- Leaving the machine */

static void pm1_control_write(uint16_t port, uint8_t slp_typ) {
  if (port == 0) return;
  const uint16_t kSlpTyp = 7u << 10, kSlpEn = 1u << 13;
  const uint16_t value =
      (uint16_t)((inw(port) & ~(kSlpTyp | kSlpEn)) | ((uint16_t)slp_typ << 10));
  outw(port, value);
  outw(port, value | kSlpEn);
}

void acpi_power_off(void) {
  if (!g_acpi.has_s5 || g_acpi.pm1a_control == 0) return;
  /* In legacy mode (SCI_EN clear) the chipset may ignore PM1 writes:
   * switch to ACPI mode first (4.8.2.1, 5.2.9: SMI_CMD, ACPI_ENABLE). */
  if (!(inw(g_acpi.pm1a_control) & 1) && g_acpi.smi_command != 0 &&
      g_acpi.acpi_enable != 0) {
    outb(g_acpi.smi_command, g_acpi.acpi_enable);
    for (int i = 0; i < 300 && !(inw(g_acpi.pm1a_control) & 1); ++i)
      delay_us(10000);
  }
  pm1_control_write(g_acpi.pm1a_control, g_acpi.slp_typ_a);
  pm1_control_write(g_acpi.pm1b_control, g_acpi.slp_typ_b);
  delay_us(100000); /* the machine goes off, or S5 did not work */
}

void acpi_reset(void) {
  if (!g_acpi.has_reset) return;
  const uint64_t address = g_acpi.reset_address;
  switch (g_acpi.reset_space) {
    case 0: /* system memory: the firmware maps the first 4 GiB */
      if (address < (1ull << 32)) mmio_write8(address, g_acpi.reset_value);
      break;
    case 1: /* system I/O */
      if (address <= 0xffff) outb((uint16_t)address, g_acpi.reset_value);
      break;
    case 2: { /* PCI configuration space of a device on bus 0 */
      const struct pci_function f = {0, (uint8_t)(address >> 32),
                                     (uint8_t)(address >> 16)};
      pci_write8(f, (uint32_t)(address & 0xff), g_acpi.reset_value);
      break;
    }
    default:
      break;
  }
  delay_us(100000);
}
