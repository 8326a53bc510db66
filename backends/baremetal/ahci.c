/* SATA disks on an AHCI controller (Serial ATA AHCI 1.3.1), as on a PC
 * with an ICH or later chipset and QEMU's q35: the first controller on the
 * PCI bus (class 01, subclass 06, interface 01), its ATA disks (not ATAPI)
 * in port order, one command slot per port, polled, no interrupts. Data
 * moves by DMA through a bounce buffer in the firmware's own memory
 * (AHCI_DMA_*), so the controller never writes the guest's RAM. Callers
 * serialise (the firmware lock). */
#include "cpu.h"
#include "devices.h"
#include "firmware.h"

enum {
  /* HBA registers (3.1). */
  kCap = 0x00,
  kGhc = 0x04,
  kPortsImplemented = 0x0c,
  kCap2 = 0x24,
  kBohc = 0x28,
  kGhcAhciEnable = 1u << 31,
  kGhcInterrupt = 1u << 1,
  /* Port registers (3.3), from 0x100 + 0x80 * port. */
  kPxClb = 0x00,
  kPxClbu = 0x04,
  kPxFb = 0x08,
  kPxFbu = 0x0c,
  kPxIs = 0x10,
  kPxIe = 0x14,
  kPxCmd = 0x18,
  kPxTfd = 0x20,
  kPxSig = 0x24,
  kPxSsts = 0x28,
  kPxSerr = 0x30,
  kPxCi = 0x38,
  kCmdStart = 1u << 0,
  kCmdFisReceive = 1u << 4,
  kCmdFisRunning = 1u << 14,
  kCmdListRunning = 1u << 15,
  kIsTaskFileError = 1u << 30,
  kTfdBusy = 0x80,
  kTfdDataRequest = 0x08,
  kTfdError = 0x01,
  kSignatureAta = 0x00000101,
  /* ATA commands. */
  kAtaReadDmaExt = 0x25,
  kAtaWriteDmaExt = 0x35,
  kAtaFlushExt = 0xea,
  kAtaIdentify = 0xec,
  kSector = 512,
  kBounceSectors = (AHCI_DMA_END - AHCI_BOUNCE) / kSector,
};

/* Per port, in its 4 KiB of AHCI_DMA: the command list (32 headers; slot
 * 0 used) at 0, the received FIS area at 0x400, the command table (the
 * command FIS, then one PRD entry at 0x80) at 0x800. */
struct command_header {
  uint16_t flags; /* CFL in dwords (bits 4:0), W (bit 6) */
  uint16_t prd_count;
  volatile uint32_t bytes_transferred;
  uint32_t table, table_upper;
  uint32_t reserved[4];
};
struct command_table {
  uint8_t fis[64];
  uint8_t atapi[16];
  uint8_t reserved[48];
  struct {
    uint32_t address, address_upper, reserved, byte_count_minus_1;
  } prd[1];
};

struct port {
  uint64_t registers;
  struct command_header *list;
  struct command_table *table;
};
static struct port g_ports[FW_MAX_DISKS];
static uint32_t g_port_count;
static uint64_t g_hba;

static uint32_t port_read(const struct port *p, uint32_t reg) {
  return mmio_read32(p->registers + reg);
}
static void port_write(const struct port *p, uint32_t reg, uint32_t value) {
  mmio_write32(p->registers + reg, value);
}

/* Polls until (register & mask) == want, for at most `ms`: 0, or -1. */
static int wait_for(const struct port *p, uint32_t reg, uint32_t mask,
                    uint32_t want, uint64_t ms) {
  const uint64_t limit = rdtsc() + ms * (g_platform.tsc_hz / 1000);
  while ((port_read(p, reg) & mask) != want) {
    if (rdtsc() > limit) return -1;
  }
  return 0;
}

/* Runs one command in slot 0: `bytes` of data (0: none) through the
 * bounce buffer, `write` from it; 0, or -1 on an error or after 5 s. */
static int run(const struct port *p, uint8_t command, uint64_t lba,
               uint32_t sectors, uint32_t bytes, int write) {
  if (wait_for(p, kPxTfd, kTfdBusy | kTfdDataRequest, 0, 5000) != 0) return -1;
  uint8_t *fis = p->table->fis;
  memset(fis, 0, 20);
  fis[0] = 0x27; /* register FIS, host to device */
  fis[1] = 0x80; /* a command */
  fis[2] = command;
  fis[4] = (uint8_t)lba;
  fis[5] = (uint8_t)(lba >> 8);
  fis[6] = (uint8_t)(lba >> 16);
  fis[7] = 0x40; /* LBA addressing */
  fis[8] = (uint8_t)(lba >> 24);
  fis[9] = (uint8_t)(lba >> 32);
  fis[10] = (uint8_t)(lba >> 40);
  fis[12] = (uint8_t)sectors;
  fis[13] = (uint8_t)(sectors >> 8);
  p->table->prd[0].address = AHCI_BOUNCE;
  p->table->prd[0].address_upper = 0;
  p->table->prd[0].byte_count_minus_1 = bytes - 1;
  p->list[0].flags = (uint16_t)(5 | (write ? 1u << 6 : 0));
  p->list[0].prd_count = bytes ? 1 : 0;
  p->list[0].bytes_transferred = 0;
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  port_write(p, kPxIs, 0xffffffffu);
  port_write(p, kPxCi, 1);
  const uint64_t limit = rdtsc() + 5 * g_platform.tsc_hz;
  while (port_read(p, kPxCi) & 1) {
    if ((port_read(p, kPxIs) & kIsTaskFileError) || rdtsc() > limit) return -1;
  }
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  return (port_read(p, kPxIs) & kIsTaskFileError) ||
                 (port_read(p, kPxTfd) & kTfdError)
             ? -1
             : 0;
}

static int ahci_read(uint32_t unit, uint64_t lba, uint32_t count, void *dst) {
  for (uint32_t done = 0; done < count;) {
    const uint32_t n =
        count - done < kBounceSectors ? count - done : kBounceSectors;
    if (run(&g_ports[unit], kAtaReadDmaExt, lba + done, n, n * kSector, 0))
      return -1;
    memcpy((uint8_t *)dst + (uint64_t)done * kSector,
           (const void *)(uintptr_t)AHCI_BOUNCE, n * kSector);
    done += n;
  }
  return 0;
}

static int ahci_write(uint32_t unit, uint64_t lba, uint32_t count,
                      const void *src) {
  if (src == 0)
    memset((void *)(uintptr_t)AHCI_BOUNCE, 0, AHCI_DMA_END - AHCI_BOUNCE);
  for (uint32_t done = 0; done < count;) {
    const uint32_t n =
        count - done < kBounceSectors ? count - done : kBounceSectors;
    if (src != 0) {
      memcpy((void *)(uintptr_t)AHCI_BOUNCE,
             (const uint8_t *)src + (uint64_t)done * kSector, n * kSector);
    }
    if (run(&g_ports[unit], kAtaWriteDmaExt, lba + done, n, n * kSector, 1))
      return -1;
    done += n;
  }
  return 0;
}

static int ahci_flush(uint32_t unit) {
  return run(&g_ports[unit], kAtaFlushExt, 0, 0, 0, 0);
}

static const struct fw_disk_driver kAhciDriver = {ahci_read, ahci_write,
                                                  ahci_flush};

/* Stops the port's command and FIS engines (10.1.2): 0, or -1. */
static int port_stop(const struct port *p) {
  port_write(p, kPxCmd, port_read(p, kPxCmd) & ~kCmdStart);
  if (wait_for(p, kPxCmd, kCmdListRunning, 0, 500) != 0) return -1;
  port_write(p, kPxCmd, port_read(p, kPxCmd) & ~kCmdFisReceive);
  return wait_for(p, kPxCmd, kCmdFisRunning, 0, 500);
}

/* Points a stopped port's engines at our memory and starts them (10.3.1). */
static int port_start(struct port *p, uint32_t index) {
  if (port_stop(p) != 0) return -1;
  const uint64_t base = AHCI_DMA_BASE + (uint64_t)index * 0x1000;
  memset((void *)(uintptr_t)base, 0, 0x1000);
  p->list = (struct command_header *)(uintptr_t)base;
  p->table = (struct command_table *)(uintptr_t)(base + 0x800);
  p->list[0].table = (uint32_t)(base + 0x800);
  port_write(p, kPxClb, (uint32_t)base);
  port_write(p, kPxClbu, 0);
  port_write(p, kPxFb, (uint32_t)(base + 0x400));
  port_write(p, kPxFbu, 0);
  port_write(p, kPxIe, 0);
  port_write(p, kPxSerr, 0xffffffffu);
  port_write(p, kPxIs, 0xffffffffu);
  port_write(p, kPxCmd, port_read(p, kPxCmd) | kCmdFisReceive);
  port_write(p, kPxCmd, port_read(p, kPxCmd) | kCmdStart);
  return 0;
}

/* The disk's size from IDENTIFY DEVICE (ATA8-ACS 7.16): 48-bit LBA
 * required. 0 if it has none or does not answer. */
static uint64_t identify(const struct port *p) {
  if (run(p, kAtaIdentify, 0, 0, kSector, 0) != 0) return 0;
  const uint16_t *id = (const uint16_t *)(uintptr_t)AHCI_BOUNCE;
  if (!(id[83] & (1u << 10))) return 0;
  return (uint64_t)id[100] | (uint64_t)id[101] << 16 | (uint64_t)id[102] << 32 |
         (uint64_t)id[103] << 48;
}

/* Takes the controller from the BIOS if it owns it (10.6.3). */
static void take_ownership(void) {
  if (!(mmio_read32(g_hba + kCap2) & 1)) return; /* no handoff */
  mmio_write32(g_hba + kBohc, mmio_read32(g_hba + kBohc) | 2);
  const uint64_t limit = rdtsc() + 2 * g_platform.tsc_hz;
  while ((mmio_read32(g_hba + kBohc) & 1) && rdtsc() < limit) {
  }
}

void ahci_probe(struct fw_disk *disks, uint32_t *count, uint32_t capacity) {
  struct pci_function f;
  if (!pci_find_class(0x010601, &f)) return;
  g_hba = pci_enable_memory_bar(f, 5);
  if (g_hba == 0) {
    fw_printf("hvbios-firmware: the AHCI controller has no usable BAR\n");
    return;
  }
  take_ownership();
  /* AHCI mode on, its interrupt off: the firmware polls, and a boot
   * firmware's leftover interrupt enable would hold the PCI line (shared
   * with other functions, the network card's among them) asserted. */
  mmio_write32(g_hba + kGhc,
               (mmio_read32(g_hba + kGhc) | kGhcAhciEnable) & ~kGhcInterrupt);
  const uint32_t implemented = mmio_read32(g_hba + kPortsImplemented);
  (void)mmio_read32(g_hba + kCap);
  for (uint32_t i = 0; i < 32 && *count < capacity; ++i) {
    if (!(implemented & (1u << i)) || g_port_count == FW_MAX_DISKS) continue;
    struct port *p = &g_ports[g_port_count];
    p->registers = g_hba + 0x100 + 0x80 * i;
    /* A device with its link up (DET 3); once FIS reception is on, its
     * first register FIS gives the signature: an ATA disk, not ATAPI. */
    if ((port_read(p, kPxSsts) & 0xf) != 3) continue;
    if (port_start(p, g_port_count) != 0) continue;
    (void)wait_for(p, kPxTfd, kTfdBusy, 0, 1000);
    const uint64_t sectors =
        port_read(p, kPxSig) == kSignatureAta ? identify(p) : 0;
    if (sectors == 0) {
      (void)port_stop(p); /* its memory goes to the next port */
      continue;
    }
    disks[(*count)++] =
        (struct fw_disk){&kAhciDriver, g_port_count, sectors, 0};
    ++g_port_count;
  }
}

int ahci_present(void) { return g_port_count != 0; }
