/*
 * hvbios ABI: the clock page, an exit-free clock.monotonic (since 0.4).
 *
 * Freestanding: usable in guest kernels, firmware and the host library.
 * Specification: docs/abi.md, section "The clock page". Like kvmclock and
 * pvclock: the platform publishes a TSC-to-nanoseconds conversion; the
 * guest reads the TSC and converts, with no exit.
 */
#ifndef HVBIOS_ABI_CLOCK_H_
#define HVBIOS_ABI_CLOCK_H_

#include <stdint.h>

#include "hvbios/abi/static_assert.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The page's contents are valid: without it, use the clock hypercall. */
#define HVB_CLOCK_F_VALID 1u
/* Since 0.7: the conversion (sequence up to tsc_frequency_hz) never
 * changes after the guest's entry, so a reader may read its fields once,
 * without the sequence protocol below. */
#define HVB_CLOCK_F_STABLE 2u
/* Since 0.8: the platform keeps coarse_ns current (below). */
#define HVB_CLOCK_F_COARSE 4u

/* At boot_info.clock_page (read-only, HVB_MEM_PLATFORM). A reader:
 *
 *   do {
 *     seq = page->sequence;              (load, then a compiler barrier)
 *     if (seq & 1) continue;             (the platform is updating it)
 *     tsc = rdtsc();
 *     ns = page->ns_base +
 *          (uint64_t)(((unsigned __int128)(tsc - page->tsc_base) *
 *                      page->mul) >> page->shift);
 *   } while (page->sequence != seq);     (compiler barrier, then reload)
 *
 * ns is on the clock.monotonic scale. The TSC is the vCPU's own (rdtsc);
 * the platform sets flags to HVB_CLOCK_F_VALID only where every vCPU's TSC
 * runs at tsc_frequency_hz, constant, synchronised across vCPUs.
 *
 * With HVB_CLOCK_F_COARSE, coarse_ns is clock.monotonic as of at most
 * coarse_period_ns ago (give or take the host's scheduling), written by the
 * platform with single 8-byte stores and never decreasing: one load reads
 * the time, to that resolution, outside the sequence protocol. Without the
 * flag, both fields are 0. */
struct hvb_clock_page {
  volatile uint32_t sequence; /* odd while the platform writes the page */
  uint32_t flags;             /* HVB_CLOCK_F_* */
  uint64_t tsc_base;          /* a TSC value... */
  uint64_t ns_base;           /* ...and clock.monotonic at that moment */
  uint64_t mul;               /* ns per TSC tick, as mul / 2^shift */
  uint32_t shift;
  uint32_t reserved0;
  uint64_t tsc_frequency_hz;
  volatile uint64_t coarse_ns; /* HVB_CLOCK_F_COARSE */
  uint64_t coarse_period_ns;   /* HVB_CLOCK_F_COARSE */
  uint64_t reserved1;
};

#ifdef __cplusplus
} /* extern "C" */
#endif

HVB_STATIC_ASSERT(sizeof(struct hvb_clock_page) == 72, "hvb_clock_page");

#endif /* HVBIOS_ABI_CLOCK_H_ */
