/* The PC devices the firmware drives: the 16550 UART (console), the PIT
 * (to measure the TSC), the CMOS RTC (wall clock), the local APIC (timer,
 * IPIs, EOI), the I/O APIC (device interrupts) and the legacy PIC (masked).
 * Port and register numbers are the PC's; the SDM sections are cited where
 * the APIC is concerned. */
#include <stdarg.h>

#include "firmware.h"

/* ---- 16550 UART on COM1 */

enum {
  kCom1 = 0x3f8,
  kUartData = 0,         /* RBR / THR (DLAB 0), divisor low (DLAB 1) */
  kUartIntEnable = 1,    /* IER, divisor high (DLAB 1) */
  kUartFifoControl = 2,  /* FCR (write) */
  kUartLineControl = 3,  /* LCR */
  kUartModemControl = 4, /* MCR */
  kUartLineStatus = 5,   /* LSR */
  kLsrDataReady = 0x01,
  kLsrThrEmpty = 0x20,
};

/* Input that arrived before the FIFOs were switched on. */
static char g_early[16];
static uint32_t g_early_count, g_early_taken;

void uart_init(void) {
  outb(kCom1 + kUartIntEnable, 0);
  outb(kCom1 + kUartLineControl, 0x80); /* DLAB: set the divisor */
  outb(kCom1 + kUartData, 1);           /* 115200 baud */
  outb(kCom1 + kUartIntEnable, 0);
  outb(kCom1 + kUartLineControl, 0x03); /* 8 data bits, no parity, 1 stop */
  /* The FIFOs on, so that input typed ahead waits there, 16 bytes of it,
   * and one console.read takes it all. Switching them on empties them: the
   * bytes already waiting are kept aside first. */
  while ((inb(kCom1 + kUartLineStatus) & kLsrDataReady) &&
         g_early_count < sizeof(g_early)) {
    g_early[g_early_count++] = (char)inb(kCom1 + kUartData);
  }
  /* Enabled, both cleared, the interrupt at 14 bytes or after four
   * characters' time without one (QEMU takes in as much as that leaves room
   * for, where trigger level 1 would make it feed one byte per read). */
  outb(kCom1 + kUartFifoControl, 0xc7);
  /* DTR, RTS, and OUT2, which gates the UART's IRQ line on a PC. */
  outb(kCom1 + kUartModemControl, 0x0b);
}

void uart_write(const char *bytes, size_t length) {
  for (size_t i = 0; i < length; ++i) {
    while (!(inb(kCom1 + kUartLineStatus) & kLsrThrEmpty)) {
    }
    outb(kCom1 + kUartData, (uint8_t)bytes[i]);
  }
}

static int uart_data_ready(void) {
  return (inb(kCom1 + kUartLineStatus) & kLsrDataReady) != 0;
}

int uart_has_input(void) {
  return g_early_taken < g_early_count || uart_data_ready();
}

size_t uart_read(char *bytes, size_t length) {
  size_t n = 0;
  while (n < length && g_early_taken < g_early_count) {
    bytes[n++] = g_early[g_early_taken++];
  }
  while (n < length && uart_data_ready()) {
    bytes[n++] = (char)inb(kCom1 + kUartData);
  }
  return n;
}

void uart_input_interrupt(int enable) {
  outb(kCom1 + kUartIntEnable, enable ? 0x01 : 0x00); /* data available */
}

/* ---- fw_printf: common/format.c's formatting, on COM1 */

void fw_printf(const char *format, ...) {
  char line[256];
  va_list ap;
  va_start(ap, format);
  const int n = hvb_vsnprintf(line, sizeof(line), format, ap);
  va_end(ap);
  uart_write(line, n < (int)sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* ---- PIT and TSC */

uint64_t tsc_calibrate(void) {
  /* PIT channel 2, gated by port 0x61 bit 0, counts down once from
   * `ticks` at 1,193,182 Hz in mode 0; port 0x61 bit 5 (its output)
   * goes high when it reaches 0. The shortest of three 10 ms windows
   * wins (the others were interrupted by the emulator or an SMI). */
  enum { kPitHz = 1193182, kTicks = 11932 }; /* 10 ms */
  uint64_t best = UINT64_MAX;
  for (int attempt = 0; attempt < 3; ++attempt) {
    outb(0x61, (inb(0x61) & ~0x02) | 0x01); /* gate on, speaker off */
    outb(0x43, 0xb0);                       /* channel 2, lo/hi, mode 0 */
    outb(0x42, kTicks & 0xff);
    outb(0x42, kTicks >> 8);
    const uint64_t start = rdtsc();
    uint64_t spins = 0;
    while (!(inb(0x61) & 0x20)) {
      if (++spins > 100000000) return 0; /* no PIT */
    }
    const uint64_t elapsed = rdtsc() - start;
    if (elapsed < best) best = elapsed;
  }
  return best * kPitHz / kTicks;
}

/* ---- CMOS RTC */

static uint8_t cmos(uint8_t reg) {
  outb(0x70, reg);
  return inb(0x71);
}

static uint64_t days_from_civil(uint64_t y, uint64_t m, uint64_t d) {
  /* Days since 1970-01-01 of a proleptic Gregorian date (m 1..12). */
  y -= m <= 2;
  const uint64_t era = y / 400;
  const uint64_t yoe = y - era * 400;
  const uint64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const uint64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

uint64_t rtc_read_unix_seconds(void) {
  /* Wait out an update in progress (status A bit 7), read, and read again
   * until two reads agree. */
  uint8_t t[6], again[6];
  for (int tries = 0; tries < 5; ++tries) {
    while (cmos(0x0a) & 0x80) {
    }
    const uint8_t regs[6] = {0x00, 0x02, 0x04, 0x07, 0x08, 0x09};
    for (int i = 0; i < 6; ++i) t[i] = cmos(regs[i]);
    while (cmos(0x0a) & 0x80) {
    }
    for (int i = 0; i < 6; ++i) again[i] = cmos(regs[i]);
    int same = 1;
    for (int i = 0; i < 6; ++i) same &= t[i] == again[i];
    if (same) break;
  }
  const uint8_t status_b = cmos(0x0b);
  const int pm = !(status_b & 0x02) && (t[2] & 0x80); /* 12-hour clock */
  t[2] &= 0x7f;
  if (!(status_b & 0x04)) { /* BCD */
    for (int i = 0; i < 6; ++i)
      t[i] = (uint8_t)((t[i] >> 4) * 10 + (t[i] & 15));
  }
  uint64_t hour = t[2];
  if (!(status_b & 0x02)) hour = hour % 12 + (pm ? 12 : 0);
  const uint64_t days = days_from_civil(2000 + t[5], t[4], t[3]);
  return days * 86400 + hour * 3600 + t[1] * 60ull + t[0];
}

/* ---- Interrupt controllers */

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
};

/* Local APIC timer ticks per second (bus clock / 128), measured. */
static uint64_t g_lapic_timer_hz;

static uint32_t lapic_read(uint32_t reg) { return mmio_read32(kLapic + reg); }
static void lapic_write(uint32_t reg, uint32_t v) {
  mmio_write32(kLapic + reg, v);
}

uint32_t lapic_id(void) { return lapic_read(kLapicId) >> 24; }

static void ioapic_write(uint32_t reg, uint32_t v) {
  mmio_write32(kIoapic, reg);
  mmio_write32(kIoapic + 0x10, v);
}

void delay_us(uint64_t us) {
  const uint64_t start = rdtsc();
  const uint64_t ticks = us * (g_platform.tsc_hz / 1000000);
  while (rdtsc() - start < ticks) {
  }
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

void ioapic_route(uint32_t irq, uint32_t apic_id, uint8_t vector, int masked) {
  /* Redirection entry `irq`: fixed, physical destination, edge, active
   * high (ISA interrupts); bit 16 masks it. */
  ioapic_write(0x10 + 2 * irq, vector | (masked ? 1u << 16 : 0));
  ioapic_write(0x11 + 2 * irq, apic_id << 24);
}

/* ---- Leaving the machine */

void machine_exit(const char *status_line) {
  /* QEMU's debug console (port 0xe9) carries the status line to
   * hvbios-qemu; isa-debug-exit (port 0xf4) ends QEMU. On a PC without
   * them both writes go nowhere and the CPU halts. */
  for (const char *p = status_line; *p; ++p) outb(0xe9, (uint8_t)*p);
  outb(0xe9, '\n');
  outl(0xf4, 0);
  for (;;) __asm__ volatile("cli; hlt");
}

void machine_reboot(void) {
  for (const char *p = "reboot\n"; *p; ++p) outb(0xe9, (uint8_t)*p);
  outb(0x64, 0xfe); /* pulse the CPU reset line through the 8042 */
  for (;;) __asm__ volatile("cli; hlt");
}
