/* PCI configuration space through the PC's configuration mechanism #1
 * (ports 0xcf8/0xcfc; PCI Local Bus Specification 3.0, 3.2.2.3.2), and
 * the little the firmware's drivers need of it: finding a function by its
 * ids and giving it a memory BAR when the boot firmware left none. */
#include "cpu.h"
#include "devices.h"
#include "firmware.h"

enum {
  kConfigAddress = 0xcf8,
  kConfigData = 0xcfc,
  kCommandMemory = 1u << 1,
  kCommandBusMaster = 1u << 2,
  kCommandIntxDisable = 1u << 10,
  /* Where an unassigned BAR goes: inside QEMU's PCI hole, below the I/O
   * APIC (0xfec00000), above any RAM hvbios-qemu gives a PC (3 GiB). */
  kBarWindowBase = 0xfe000000u,
  kBarWindowEnd = 0xfec00000u,
};

static uint32_t g_next_bar = kBarWindowBase;

static void select_register(struct pci_function f, uint32_t offset) {
  outl(kConfigAddress, 0x80000000u | (uint32_t)f.bus << 16 |
                           (uint32_t)f.device << 11 |
                           (uint32_t)f.function << 8 | (offset & 0xfc));
}

uint32_t pci_read32(struct pci_function f, uint32_t offset) {
  select_register(f, offset);
  return inl(kConfigData);
}

void pci_write32(struct pci_function f, uint32_t offset, uint32_t value) {
  select_register(f, offset);
  outl(kConfigData, value);
}

void pci_write8(struct pci_function f, uint32_t offset, uint8_t value) {
  select_register(f, offset);
  outb((uint16_t)(kConfigData + (offset & 3)), value);
}

/* Calls match(f, context) on every function there is, bus by bus, until
 * it returns 1: 1 and *found, or 0. */
static int pci_scan(int (*match)(struct pci_function f, const void *context),
                    const void *context, struct pci_function *found) {
  for (uint32_t bus = 0; bus < 256; ++bus) {
    for (uint8_t device = 0; device < 32; ++device) {
      for (uint8_t function = 0; function < 8; ++function) {
        const struct pci_function f = {(uint8_t)bus, device, function};
        const uint32_t id = pci_read32(f, 0);
        if ((id & 0xffff) == 0xffff) {
          if (function == 0) break; /* no device in this slot */
          continue;
        }
        if (match(f, context)) {
          *found = f;
          return 1;
        }
        /* Header type bit 7: more functions than the first. */
        if (function == 0 && !(pci_read32(f, 0x0c) & 0x800000)) break;
      }
    }
  }
  return 0;
}

struct id_list {
  const uint32_t *ids;
  int count;
};
static int has_id(struct pci_function f, const void *context) {
  const struct id_list *list = context;
  const uint32_t id = pci_read32(f, 0);
  for (int i = 0; i < list->count; ++i) {
    if (id == list->ids[i]) return 1;
  }
  return 0;
}

int pci_find(const uint32_t *ids, int id_count, struct pci_function *found) {
  const struct id_list list = {ids, id_count};
  return pci_scan(has_id, &list, found);
}

static int has_class(struct pci_function f, const void *context) {
  return pci_read32(f, 0x08) >> 8 == *(const uint32_t *)context;
}

int pci_find_class(uint32_t class_code, struct pci_function *found) {
  return pci_scan(has_class, &class_code, found);
}

/* Sets and clears bits of a function's command register (PCI 3.0
 * 6.2.2), the low half of register 4; writing 0 to the status half above
 * it changes nothing there. */
static void update_command(struct pci_function f, uint32_t set,
                           uint32_t clear) {
  const uint32_t command = pci_read32(f, 0x04) & 0xffff;
  pci_write32(f, 0x04, (command | set) & ~clear);
}

/* Sets one function's Interrupt Disable (command bit 10); never matches,
 * so the scan visits every function. */
static int silence(struct pci_function f, const void *context) {
  (void)context;
  update_command(f, kCommandIntxDisable, 0);
  return 0;
}

void pci_silence_interrupts(void) {
  struct pci_function unused;
  (void)pci_scan(silence, 0, &unused);
}

void pci_enable_intx(struct pci_function f) {
  update_command(f, 0, kCommandIntxDisable);
}

uint64_t pci_enable_memory_bar(struct pci_function f, uint32_t bar) {
  const uint32_t offset = 0x10 + 4 * bar;
  const uint32_t original = pci_read32(f, offset);
  if (original & 1) return 0; /* an I/O BAR */
  if (original & 4) return 0; /* 64-bit: not needed by our devices */
  uint32_t address = original & ~0xfu;
  if (address == 0) {
    /* The size: the bits that stay 0 when all are written 1. */
    pci_write32(f, offset, 0xffffffffu);
    const uint32_t size = ~(pci_read32(f, offset) & ~0xfu) + 1;
    const uint32_t at = (g_next_bar + size - 1) & ~(size - 1);
    if (size == 0 || at < g_next_bar || at + size > kBarWindowEnd) {
      pci_write32(f, offset, original);
      return 0;
    }
    pci_write32(f, offset, at);
    g_next_bar = at + size;
    address = at;
  }
  update_command(f, kCommandMemory | kCommandBusMaster, 0);
  return address;
}

uint8_t pci_interrupt_line(struct pci_function f) {
  return (uint8_t)pci_read32(f, 0x3c);
}
