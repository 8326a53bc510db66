/* Time on a PC: the TSC measured against the PIT, the wall clock from
 * the CMOS RTC, and the clocks the ABI serves, both on the TSC. */
#include "cpu.h"
#include "devices.h"
#include "firmware.h"

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

void delay_us(uint64_t us) {
  const uint64_t start = rdtsc();
  const uint64_t ticks = us * (g_platform.tsc_hz / 1000000);
  while (rdtsc() - start < ticks) {
  }
}

uint64_t clock_monotonic_ns(void) {
  const uint64_t ticks = rdtsc() - g_platform.tsc_at_start;
  return (uint64_t)(((unsigned __int128)ticks * g_platform.ns_mul) >> 32);
}

uint64_t clock_wall_ns(void) {
  return g_platform.wall_ns_at_start + clock_monotonic_ns();
}
