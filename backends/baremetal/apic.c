/* Interrupt controllers: the local APIC (timer, IPIs, EOI, starting
 * CPUs), the I/O APIC (device interrupts) and the legacy PIC (masked).
 * Register numbers and behaviour: SDM Vol. 3A, chapter 11.
 *
 * The local APIC is driven in x2APIC mode, through MSRs, on every CPU
 * that has it, and as an xAPIC, through its MMIO page, otherwise (SDM
 * Vol. 3A 11.12): only x2APIC mode reaches APIC ids above 255, and a
 * machine that has such CPUs hands them over in it. The boot CPU decides
 * once (lapic_choose_mode); the others follow it as they start (hcpage.S,
 * ap_long_mode). */
#include "cpu.h"
#include "devices.h"

enum {
  kLapic = 0xfee00000,
  kLapicId = 0x020,
  kLapicEoi = 0x0b0,
  kLapicSpurious = 0x0f0,
  kLapicIcrLow = 0x300,
  kLapicIcrHigh = 0x310,
  kLapicLvtTimer = 0x320,
  kLapicLvtLint0 = 0x350,
  kLapicLvtLint1 = 0x360,
  kLapicLvtError = 0x370,
  kLapicTimerInitial = 0x380,
  kLapicTimerCurrent = 0x390,
  kLapicTimerDivide = 0x3e0,
  kLvtMasked = 1u << 16,
  kIoapic = 0xfec00000,
  /* IA32_APIC_BASE: EN enables the local APIC, EXTD selects x2APIC mode. */
  kMsrApicBase = 0x1b,
  kApicBaseEnable = 1u << 11,
  kApicBaseX2apic = 1u << 10,
  /* x2APIC mode: register r (an xAPIC offset) is MSR 0x800 + r / 16; the
   * ICR is one 64-bit MSR, the destination in its high half (11.12.1). */
  kX2apicMsrs = 0x800,
  kX2apicIcr = 0x830,
};

uint8_t fw_x2apic;

/* Local APIC timer ticks per second (bus clock / 128), measured. */
static uint64_t g_lapic_timer_hz;

void lapic_choose_mode(void) {
  uint32_t a, b, c, d;
  cpuid(1, &a, &b, &c, &d);
  fw_x2apic = (c >> 21) & 1; /* CPUID.01H:ECX.x2APIC */
  if (!fw_x2apic) return;
  /* Into x2APIC mode through xAPIC mode: a disabled APIC cannot go to
   * x2APIC mode directly (11.12.5, "x2APIC State Transitions"). */
  const uint64_t base = rdmsr(kMsrApicBase);
  if (base & kApicBaseX2apic) return;
  wrmsr(kMsrApicBase, base | kApicBaseEnable);
  wrmsr(kMsrApicBase, base | kApicBaseEnable | kApicBaseX2apic);
}

static uint32_t lapic_read(uint32_t reg) {
  return fw_x2apic ? (uint32_t)rdmsr(kX2apicMsrs + reg / 16)
                   : mmio_read32(kLapic + reg);
}
static void lapic_write(uint32_t reg, uint32_t v) {
  if (fw_x2apic) {
    wrmsr(kX2apicMsrs + reg / 16, v);
  } else {
    mmio_write32(kLapic + reg, v);
  }
}

/* The x2APIC ID register holds all 32 bits; the xAPIC one, 8 at the top. */
uint32_t lapic_id(void) {
  return fw_x2apic ? lapic_read(kLapicId) : lapic_read(kLapicId) >> 24;
}

static void ioapic_write(uint32_t reg, uint32_t v) {
  mmio_write32(kIoapic, reg);
  mmio_write32(kIoapic + 0x10, v);
}

/* Software-enabled with spurious vector 0xff (SDM Vol. 3A 11.9), local
 * interrupt pins and errors masked, timer stopped, dividing by 128. */
void lapic_init_this_cpu(void) {
  lapic_write(kLapicSpurious, 0x1ff);
  lapic_write(kLapicLvtLint0, kLvtMasked);
  lapic_write(kLapicLvtLint1, kLvtMasked);
  lapic_write(kLapicLvtError, kLvtMasked);
  lapic_write(kLapicLvtTimer, kLvtMasked);
  lapic_write(kLapicTimerDivide, 0x0a);
  lapic_write(kLapicTimerInitial, 0);
}

static void lapic_send(uint32_t apic_id, uint32_t command) {
  if (fw_x2apic) {
    /* One write sends it; x2APIC mode has no delivery status to wait on
     * (11.12.9). */
    wrmsr(kX2apicIcr, (uint64_t)apic_id << 32 | command);
    return;
  }
  lapic_write(kLapicIcrHigh, apic_id << 24);
  lapic_write(kLapicIcrLow, command);
  while (lapic_read(kLapicIcrLow) & (1u << 12)) { /* delivery pending */
  }
}

void lapic_send_ipi(uint32_t apic_id, uint8_t vector) {
  lapic_send(apic_id, vector); /* fixed, physical destination */
}

void lapic_start_cpu(uint32_t apic_id, uint64_t page) {
  lapic_send(apic_id, 0x4500); /* INIT, level assert */
  delay_us(10000);
  for (int i = 0; i < 2; ++i) {
    lapic_send(apic_id, 0x4600 | (uint32_t)(page >> 12)); /* STARTUP */
    delay_us(200);
  }
}

void lapic_end_all_in_service(void) {
  for (int eois = 0; eois < 256; ++eois) {
    int any = 0;
    for (uint32_t reg = 0x100; reg < 0x180; reg += 0x10) {
      any |= lapic_read(reg) != 0; /* ISR, SDM Vol. 3A 11.8.4 */
    }
    if (!any) return;
    lapic_write(kLapicEoi, 0);
  }
}

void interrupts_init(uint64_t tsc_hz) {
  /* The 8259s: remapped away from the exception vectors, then masked;
   * every interrupt the guest sees comes through the APICs. */
  outb(0x20, 0x11);
  outb(0xa0, 0x11);
  outb(0x21, 0x20);
  outb(0xa1, 0x28);
  outb(0x21, 0x04);
  outb(0xa1, 0x02);
  outb(0x21, 0x01);
  outb(0xa1, 0x01);
  outb(0x21, 0xff);
  outb(0xa1, 0xff);

  lapic_init_this_cpu();
  /* The local APIC timer's rate, against the TSC over 10 ms (every CPU's
   * runs off the same bus clock). */
  lapic_write(kLapicTimerInitial, 0xffffffff);
  const uint64_t start = rdtsc();
  while (rdtsc() - start < tsc_hz / 100) {
  }
  const uint32_t counted = 0xffffffff - lapic_read(kLapicTimerCurrent);
  lapic_write(kLapicTimerInitial, 0);
  g_lapic_timer_hz = (uint64_t)counted * 100;

  /* Every I/O APIC input masked until the guest routes a source. */
  for (uint32_t pin = 0; pin < 24; ++pin) ioapic_route(pin, 0, 0, 1);
}

void lapic_timer_arm(uint64_t ns, uint8_t vector) {
  lapic_write(kLapicTimerInitial, 0);
  if (ns == 0) {
    lapic_write(kLapicLvtTimer, kLvtMasked);
    return;
  }
  /* One-shot mode (LVT timer bits 18:17 = 0). Deadlines beyond the
   * counter's range (2^32 ticks, about 9 minutes at QEMU's 1 GHz bus
   * clock / 128) fire at its end: README.md, "Limits". */
  const uint64_t us = ns / 1000;
  uint64_t ticks = us > UINT64_MAX / g_lapic_timer_hz
                       ? 0xffffffff
                       : us * g_lapic_timer_hz / 1000000;
  if (ticks == 0) ticks = 1;
  if (ticks > 0xffffffff) ticks = 0xffffffff;
  lapic_write(kLapicLvtTimer, vector);
  lapic_write(kLapicTimerInitial, (uint32_t)ticks);
}

uint16_t pic_requests(void) {
  outb(0x20, 0x0a); /* OCW3: read the IRR next */
  outb(0xa0, 0x0a);
  return (uint16_t)(inb(0x20) | inb(0xa0) << 8);
}

int ioapic_reaches(uint32_t apic_id) { return apic_id <= 0xff; }

void ioapic_route(uint32_t irq, uint32_t apic_id, uint8_t vector, int masked) {
  /* Redirection entry `irq`: fixed, physical destination, edge, active
   * high (ISA interrupts); bit 16 masks it. */
  if (!ioapic_reaches(apic_id)) masked = 1;
  ioapic_write(0x10 + 2 * irq, vector | (masked ? 1u << 16 : 0));
  ioapic_write(0x11 + 2 * irq, apic_id << 24);
}
