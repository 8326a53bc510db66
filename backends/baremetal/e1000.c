/* An Intel 8254x gigabit Ethernet controller (the 82540EM QEMU's `e1000`
 * emulates, and its 82544GC and 82545EM siblings), driven with legacy
 * descriptors and polling; its interrupt only tells the guest that frames
 * arrived (services/net.c). References: the PCI/PCI-X Family of Gigabit
 * Ethernet Controllers Software Developer's Manual (8254x SDM), chapters
 * 3 (descriptors), 13 (registers) and 14 (initialisation). Callers
 * serialise (the firmware lock). */
#include "cpu.h"
#include "devices.h"
#include "firmware.h"

enum {
  /* Registers (8254x SDM 13.4). */
  kCtrl = 0x0000,
  kStatus = 0x0008,
  kEerd = 0x0014,
  kIcr = 0x00c0,
  kIms = 0x00d0,
  kIcs = 0x00c8,
  kImc = 0x00d8,
  kRctl = 0x0100,
  kTctl = 0x0400,
  kTipg = 0x0410,
  kRdbal = 0x2800,
  kRdbah = 0x2804,
  kRdlen = 0x2808,
  kRdh = 0x2810,
  kRdt = 0x2818,
  kRdtr = 0x2820,
  kTdbal = 0x3800,
  kTdbah = 0x3804,
  kTdlen = 0x3808,
  kTdh = 0x3810,
  kTdt = 0x3818,
  kMta = 0x5200,
  kRal = 0x5400,
  kRah = 0x5404,
  /* Bits. */
  kCtrlSetLinkUp = 1u << 6,
  kCtrlAutoSpeed = 1u << 5,
  kCtrlReset = 1u << 26,
  kStatusLinkUp = 1u << 1,
  kIntRxTimer = 1u << 7, /* RXT0: a frame was stored */
  kRctlEnable = 1u << 1,
  kRctlUnicastPromiscuous = 1u << 3,
  kRctlMulticastPromiscuous = 1u << 4,
  kRctlBroadcast = 1u << 15,
  kRctlStripCrc = 1u << 26, /* BSIZE 00: 2048-byte buffers */
  kTctlEnable = 1u << 1,
  kTctlPadShort = 1u << 3,
  kTctlCollisionThreshold = 0x0fu << 4,
  kTctlCollisionDistance = 0x40u << 12, /* full duplex */
  kDescDone = 1u << 0,
  kRxEndOfPacket = 1u << 1,
  kTxEndOfPacket = 1u << 0,
  kTxInsertCrc = 1u << 1,
  kTxReportStatus = 1u << 3,
  kBufferSize = 2048,
  kElcrMaster = 0x4d0, /* the PIIX/ICH edge/level control registers */
  kElcrSlave = 0x4d1,
};

/* Legacy descriptors (8254x SDM 3.2.3, 3.3.3). */
struct rx_desc {
  uint64_t buffer;
  uint16_t length;
  uint16_t checksum;
  uint8_t status;
  uint8_t errors;
  uint16_t special;
};
struct tx_desc {
  uint64_t buffer;
  uint16_t length;
  uint8_t cso;
  uint8_t command;
  uint8_t status;
  uint8_t css;
  uint16_t special;
};

/* The controller's memory, which it reads and writes by DMA: in low
 * memory the guest's map gives to the platform (E1000_DMA_BASE). */
struct dma_area {
  uint8_t rx_buffers[E1000_RX_SLOTS][kBufferSize];
  uint8_t tx_buffers[E1000_TX_SLOTS][kBufferSize];
  struct rx_desc rx[E1000_RX_SLOTS];
  struct tx_desc tx[E1000_TX_SLOTS];
};
_Static_assert(sizeof(struct dma_area) <= E1000_DMA_END - E1000_DMA_BASE,
               "the NIC's DMA area");
_Static_assert(
    E1000_RX_SLOTS * sizeof(struct rx_desc) % 128 == 0 &&
        E1000_TX_SLOTS * sizeof(struct tx_desc) % 128 == 0,
    "descriptor rings are multiples of 128 bytes (8254x SDM 13.4.27)");

static struct {
  int present;
  uint64_t mmio;
  uint8_t irq;
  uint8_t mac[6];
  uint32_t rx_next; /* the next descriptor the controller fills */
  uint32_t tx_next; /* the next descriptor to send with */
} g_nic;

#define DMA ((volatile struct dma_area *)(uintptr_t)E1000_DMA_BASE)

static uint32_t reg_read(uint32_t reg) { return mmio_read32(g_nic.mmio + reg); }
static void reg_write(uint32_t reg, uint32_t v) {
  mmio_write32(g_nic.mmio + reg, v);
}

/* The station address: the receive-address registers hold it after the
 * controller's reset loaded the EEPROM; else the EEPROM's words 0-2. */
static void read_mac(void) {
  const uint32_t low = reg_read(kRal), high = reg_read(kRah);
  if ((high & 0x80000000u) && (low | (high & 0xffff)) != 0) {
    for (int i = 0; i < 4; ++i) g_nic.mac[i] = (uint8_t)(low >> (8 * i));
    g_nic.mac[4] = (uint8_t)high;
    g_nic.mac[5] = (uint8_t)(high >> 8);
    return;
  }
  for (uint32_t word = 0; word < 3; ++word) {
    reg_write(kEerd, word << 8 | 1); /* start a read (13.4.4) */
    uint32_t v = 0;
    for (int spins = 0; spins < 100000 && !((v = reg_read(kEerd)) & 0x10);
         ++spins) {
    }
    g_nic.mac[2 * word] = (uint8_t)(v >> 16);
    g_nic.mac[2 * word + 1] = (uint8_t)(v >> 24);
  }
}

/* Spins until `pic_requests() & mask` differs from `from`, or about
 * `ms`: the bits it reads. */
static uint16_t requests_leaving(uint16_t mask, uint16_t from, uint64_t ms) {
  const uint64_t limit = rdtsc() + ms * (g_platform.tsc_hz / 1000);
  uint16_t now;
  while ((now = (uint16_t)(pic_requests() & mask)) == from) {
    if (rdtsc() > limit) break;
  }
  return now;
}

/* The ISA IRQ the card's INTx reaches, found by raising and lowering it
 * and watching the 8259s' request registers (as ISA drivers probed): the
 * boot firmware's word for it (PCI register 0x3c) can be wrong; qboot's
 * is on QEMU's i440fx, whose slots swizzle INTx onto PIRQs differently.
 * A PCI IRQ is level-triggered (the chipset's ELCR says so), and a level
 * IRQ's request follows its line; three rounds of up and down rule out
 * other devices' lines. No fixed delays: the card may hold a raise back
 * (interrupt moderation, 8254x SDM 13.4.18, which QEMU models) and a busy
 * emulator runs late. Falls back to the boot firmware's word. */
static uint8_t probe_irq(uint8_t reported) {
  const uint16_t level = (uint16_t)(inb(kElcrMaster) | inb(kElcrSlave) << 8);
  uint16_t candidates = (uint16_t)((level ? level : 0xffff) & ~(1u << 2));
  for (int round = 0; round < 3 && candidates != 0; ++round) {
    e1000_clear_interrupt();
    const uint16_t idle = requests_leaving(candidates, 0, 0);
    e1000_raise_interrupt();
    const uint16_t up = requests_leaving(candidates, idle, 100) & ~idle;
    e1000_clear_interrupt();
    const uint16_t after = requests_leaving(up, up, 100);
    candidates &= (uint16_t)(up & ~after);
  }
  if (candidates == 0 || (candidates & (candidates - 1)) != 0) {
    return reported;
  }
  return (uint8_t)__builtin_ctz(candidates);
}

int e1000_init(void) {
  static const uint32_t kIds[] = {
      0x100e8086, /* 82540EM (QEMU's e1000) */
      0x100c8086, /* 82544GC (QEMU's e1000-82544gc) */
      0x100f8086, /* 82545EM (QEMU's e1000-82545em) */
  };
  struct pci_function f;
  if (!pci_find(kIds, 3, &f)) return 0;
  const uint64_t mmio = pci_enable_memory_bar(f, 0);
  if (mmio == 0) {
    fw_printf("hvbios-firmware: the e1000 has no usable memory BAR\n");
    return 0;
  }
  g_nic.mmio = mmio;
  g_nic.irq = pci_interrupt_line(f);

  /* Reset (14.5), interrupts masked before and after. */
  reg_write(kImc, 0xffffffffu);
  reg_write(kCtrl, reg_read(kCtrl) | kCtrlReset);
  delay_us(1000);
  for (int spins = 0; spins < 100000 && (reg_read(kCtrl) & kCtrlReset);
       ++spins) {
  }
  reg_write(kImc, 0xffffffffu);
  (void)reg_read(kIcr);
  reg_write(kCtrl, (reg_read(kCtrl) | kCtrlSetLinkUp | kCtrlAutoSpeed));
  read_mac();
  /* Its INTx on only now, with every cause masked and read: a boot
   * firmware may have left the card interrupting (OVMF's network driver
   * does), and under QEMU the line then stayed up across the reset until
   * INTx was switched off and on again, so that no edge ever came. */
  pci_enable_intx(f);
  /* Before the receiver is on: no frame may raise the line meanwhile. */
  reg_write(kIms, kIntRxTimer);
  g_nic.irq = probe_irq(g_nic.irq);
  reg_write(kImc, 0xffffffffu);
  for (uint32_t i = 0; i < 128; ++i) reg_write(kMta + 4 * i, 0);

  /* Every descriptor field written: the memory holds whatever a boot
   * firmware left there (OVMF's network driver leaves plenty), and a
   * controller may write back only some fields (QEMU's leaves `errors`
   * as it found it, so a stale error bit would drop every frame). */
  volatile struct dma_area *dma = DMA;
  for (uint32_t i = 0; i < E1000_RX_SLOTS; ++i) {
    dma->rx[i] =
        (struct rx_desc){.buffer = (uint64_t)(uintptr_t)dma->rx_buffers[i]};
  }
  for (uint32_t i = 0; i < E1000_TX_SLOTS; ++i) {
    dma->tx[i] =
        (struct tx_desc){.buffer = (uint64_t)(uintptr_t)dma->tx_buffers[i],
                         .status = kDescDone}; /* free */
  }
  reg_write(kRdbal, (uint32_t)(uintptr_t)dma->rx);
  reg_write(kRdbah, 0);
  reg_write(kRdlen, E1000_RX_SLOTS * sizeof(struct rx_desc));
  reg_write(kRdh, 0);
  reg_write(kRdt, E1000_RX_SLOTS - 1); /* all but one given (3.2.6) */
  reg_write(kRdtr, 0);                 /* RXT0 at once, no delay */
  /* Every frame on the link, as every hvbios device delivers (the guest
   * filters by address, as a virtual NIC's owner does). */
  reg_write(kRctl, kRctlEnable | kRctlUnicastPromiscuous |
                       kRctlMulticastPromiscuous | kRctlBroadcast |
                       kRctlStripCrc);
  reg_write(kTdbal, (uint32_t)(uintptr_t)dma->tx);
  reg_write(kTdbah, 0);
  reg_write(kTdlen, E1000_TX_SLOTS * sizeof(struct tx_desc));
  reg_write(kTdh, 0);
  reg_write(kTdt, 0);
  reg_write(kTipg, 10 | 10 << 10 | 10 << 20); /* IEEE 802.3 (13.4.34) */
  reg_write(kTctl, kTctlEnable | kTctlPadShort | kTctlCollisionThreshold |
                       kTctlCollisionDistance);
  g_nic.rx_next = 0;
  g_nic.tx_next = 0;
  /* Only "a frame arrived" asserts the line, and only until the next
   * e1000_clear_interrupt(). */
  reg_write(kIms, kIntRxTimer);
  g_nic.present = 1;
  return 1;
}

int e1000_present(void) { return g_nic.present; }
void e1000_mac(uint8_t mac[6]) { memcpy(mac, g_nic.mac, 6); }
int e1000_link_up(void) { return (reg_read(kStatus) & kStatusLinkUp) != 0; }
uint8_t e1000_irq(void) { return g_nic.irq; }
void e1000_clear_interrupt(void) { (void)reg_read(kIcr); }
void e1000_raise_interrupt(void) { reg_write(kIcs, kIntRxTimer); }

int e1000_send(const void *frame, uint32_t length) {
  volatile struct dma_area *dma = DMA;
  volatile struct tx_desc *d = &dma->tx[g_nic.tx_next];
  /* The slot's last frame is sent before it is reused: at most about a
   * millisecond on a link (a 1514-byte frame at 10 Mbit/s takes 1.2). */
  const uint64_t limit = rdtsc() + g_platform.tsc_hz / 500;
  while (!(d->status & kDescDone)) {
    if (rdtsc() > limit) return -1;
  }
  memcpy((void *)dma->tx_buffers[g_nic.tx_next], frame, length);
  d->length = (uint16_t)length;
  d->command = kTxEndOfPacket | kTxInsertCrc | kTxReportStatus;
  d->status = 0;
  __asm__ volatile("" ::: "memory");
  g_nic.tx_next = (g_nic.tx_next + 1) % E1000_TX_SLOTS;
  reg_write(kTdt, g_nic.tx_next);
  return 0;
}

/* Gives descriptor rx_next back to the controller and moves on. */
static void recycle(void) {
  volatile struct rx_desc *d = &DMA->rx[g_nic.rx_next];
  d->errors = 0; /* not every controller writes it back (see e1000_init) */
  d->status = 0;
  __asm__ volatile("" ::: "memory");
  reg_write(kRdt, g_nic.rx_next);
  g_nic.rx_next = (g_nic.rx_next + 1) % E1000_RX_SLOTS;
}

uint32_t e1000_peek(const uint8_t **frame) {
  for (;;) {
    volatile struct rx_desc *d = &DMA->rx[g_nic.rx_next];
    if (!(d->status & kDescDone)) return 0;
    __asm__ volatile("" ::: "memory");
    const uint32_t length = d->length;
    /* A frame the ABI cannot carry (a runt, one longer than max_frame,
     * one with receive errors or spread over buffers) is dropped. */
    if ((d->status & kRxEndOfPacket) && d->errors == 0 &&
        length >= HVB_NET_MIN_FRAME && length <= HVB_NET_MAX_FRAME) {
      *frame = (const uint8_t *)DMA->rx_buffers[g_nic.rx_next];
      return length;
    }
    recycle();
  }
}

void e1000_pop(void) {
  if (DMA->rx[g_nic.rx_next].status & kDescDone) recycle();
}
