/* Benchmark guest: one hypercall through the hypercall page, forever, with
 * the SDK's inline calls (no wrapper function). The command line picks it:
 *   null     debug.null
 *   console  console.write of 1 byte
 *   clock    clock.monotonic
 *   block    block.read of 4 KiB (8 sectors) from disk 0, sector 0
 *   clockpage  no call of its own: times 16 clock-page reads with the
 *              page itself and reports the total through debug.echo
 * The host benchmark drives the vCPU one exit at a time. With "timed "
 * before the call's name (bench/compare.sh), the guest times 11 rounds of
 * 2000 calls itself, prints "round NAME NS_PER_CALL" for each, and shuts
 * down: what runs the same on every platform, hvbios-run and hvbios-qemu. */
#include "hvbios/guest/hvb.h"

static char dot = '.';
static uint8_t buf[4096] __attribute__((aligned(4096)));

static void call_null(void) { hvb_call0(HVB_FN_DEBUG_NULL); }
static void call_console(void) {
  hvb_call2(HVB_FN_CONSOLE_WRITE, (uint64_t)(uintptr_t)&dot, 1);
}
static void call_clock(void) { hvb_call0(HVB_FN_CLOCK_MONOTONIC); }
static void call_block(void) {
  hvb_call6(HVB_FN_BLOCK_READ, 0, 0, 8, (uint64_t)(uintptr_t)buf, 0, 0);
}
static void call_clock_page(void) { hvb_clock_page_ns(); }

static int timed(const char *cmd) {
  enum { kRounds = 11, kCalls = 2000 };
  void (*call)(void) = call_null;
  if (strcmp(cmd, "console") == 0) call = call_console;
  if (strcmp(cmd, "clock") == 0) call = call_clock;
  if (strcmp(cmd, "block") == 0) call = call_block;
  if (strcmp(cmd, "clockpage") == 0) call = call_clock_page;
  for (int round = 0; round < kRounds; ++round) {
    const uint64_t start = hvb_clock_now_ns();
    for (int i = 0; i < kCalls; ++i) call();
    const uint64_t ns = hvb_clock_now_ns() - start;
    /* On a line of its own: console's dots precede it. */
    hvb_printf("\nround %s %lu\n", cmd, ns / kCalls);
  }
  return 0;
}

int hvb_main(const struct hvb_boot_info *boot) {
  const char *cmd = boot->cmdline ? (const char *)(uintptr_t)boot->cmdline : "";
  if (strncmp(cmd, "timed ", 6) == 0) return timed(cmd + 6);
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
