/* Benchmark guest: one hypercall through the hypercall page, forever, with
 * the SDK's inline calls (no wrapper function). The command line picks it:
 *   null     debug.null
 *   console  console.write of 1 byte
 *   clock    clock.monotonic
 *   block    block.read of 4 KiB (8 sectors) from disk 0, sector 0
 *   clockpage  no call of its own: times 16 clock-page reads with the
 *              page itself and reports the total through debug.echo
 * The host benchmark drives the vCPU one exit at a time. */
#include "hvbios/guest/hvb.h"

static char dot = '.';
static uint8_t buf[4096] __attribute__((aligned(4096)));

int hvb_main(const struct hvb_boot_info *boot) {
  const char *cmd = boot->cmdline ? (const char *)(uintptr_t)boot->cmdline : "";
  if (strcmp(cmd, "console") == 0) {
    for (;;) hvb_call2(HVB_FN_CONSOLE_WRITE, (uint64_t)(uintptr_t)&dot, 1);
  }
  if (strcmp(cmd, "clock") == 0) {
    for (;;) hvb_call0(HVB_FN_CLOCK_MONOTONIC);
  }
  if (strcmp(cmd, "block") == 0) {
    for (;;) {
      hvb_call6(HVB_FN_BLOCK_READ, 0, 0, 8, (uint64_t)(uintptr_t)buf, 0, 0);
    }
  }
  if (strcmp(cmd, "clockpage") == 0) {
    for (;;) {
      const uint64_t start = hvb_clock_page_ns();
      for (int i = 0; i < 16; ++i) hvb_clock_page_ns();
      hvb_call1(HVB_FN_DEBUG_ECHO, hvb_clock_page_ns() - start);
    }
  }
  for (;;) hvb_call0(HVB_FN_DEBUG_NULL);
}
