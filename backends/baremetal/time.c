/* Time on a PC: the TSC measured against the PIT (or the ACPI PM timer
 * where there is no PIT), the wall clock from the CMOS RTC, and the clocks
 * the ABI serves, both on the TSC. */
#include "acpi.h"
#include "cpu.h"
#include "devices.h"
#include "firmware.h"

static uint64_t tsc_against_pit(void) {
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
    /* Mode 0 drives the output low once the count is written: high at
     * once means no PIT answers here (a PC without one reads 0xff). */
    if (inb(0x61) & 0x20) return 0;
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

/* The ACPI PM timer (ACPI 6.4, 4.8.3.3): free-running at 3,579,545 Hz,
 * 24 or 32 bits wide. Both counters run through an interruption, so any
 * 10 ms window measures alike; the smallest of three is kept as with the
 * PIT. */
static uint64_t tsc_against_pm_timer(void) {
  if (g_acpi.pm_timer == 0) return 0;
  enum { kPmHz = 3579545, kTicks = 35795 }; /* 10 ms */
  const uint32_t mask = g_acpi.pm_timer_32bit ? 0xffffffffu : 0xffffffu;
  uint64_t best = UINT64_MAX;
  for (int attempt = 0; attempt < 3; ++attempt) {
    const uint32_t first = inl(g_acpi.pm_timer) & mask;
    const uint64_t start = rdtsc();
    uint32_t ticks;
    uint64_t spins = 0;
    do {
      ticks = ((inl(g_acpi.pm_timer) & mask) - first) & mask;
      if (++spins > 100000000) return 0; /* the timer does not count */
    } while (ticks < kTicks);
    const uint64_t hz = (rdtsc() - start) * kPmHz / ticks;
    if (hz < best) best = hz;
  }
  return best;
}

uint64_t tsc_calibrate(int *pm_timer_used) {
  const uint64_t hz = tsc_against_pit();
  *pm_timer_used = hz == 0;
  return hz != 0 ? hz : tsc_against_pm_timer();
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
