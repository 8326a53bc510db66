/* Benchmark guest: one hypercall through the hypercall page, forever, with
 * the SDK's inline calls (no wrapper function). The command line picks it:
 *   null     debug.null
 *   console  console.write of 1 byte
 *   clock    clock.monotonic
 *   block    block.read of 4 KiB (8 sectors) from disk 0, sector 0
 *   clockpage  no call of its own: times 16 clock-page reads with the
 *              page itself and reports the total through debug.echo
 *   clockcoarse  the same for 16 loads of the page's coarse word
 * The host benchmark drives the vCPU one exit at a time. With "timed "
 * before the call's name (bench/compare.sh), the guest times 11 rounds of
 * 2000 calls itself, prints "round NAME NS_PER_CALL" for each, and shuts
 * down: what runs the same on every platform, hvbios-run and hvbios-qemu.
 * "timed entry" compares the two ways to enter the hypercall page, round
 * by round: the SDK's indirect call and a direct `call rel32`. */
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
static void call_clock_coarse(void) { hvb_clock_coarse_ns(); }

/* Two loops of `count` debug.null calls, identical but for the call: an
 * indirect `call *[rip+d]` through hvb_hypercall_entry (the SDK's), or a
 * direct `call rel32` to the page. Written at run time, since only then is
 * the page's address known (the boot page tables map RAM writable and
 * executable); the platform preserves rcx across the call.
 *   mov ecx, count; 1: mov eax, fid; call ...; dec ecx; jnz 1b; ret */
static uint8_t entry_loops[2][32] __attribute__((aligned(64)));

static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = (uint8_t)(v >> (8 * i));
}

static void build_entry_loop(uint8_t *code, int direct, uint32_t count) {
  uint8_t *p = code;
  *p++ = 0xb9;
  put32(p, count);
  p += 4; /* mov ecx, count */
  uint8_t *const loop = p;
  *p++ = 0xb8;
  put32(p, HVB_FN_DEBUG_NULL);
  p += 4; /* mov eax, fid */
  if (direct) {
    *p++ = 0xe8; /* call rel32 */
    put32(p, (uint32_t)(hvb_hypercall_entry - (uint64_t)(uintptr_t)(p + 4)));
    p += 4;
  } else {
    *p++ = 0xff;
    *p++ = 0x15; /* call [rip+d32] */
    put32(p, (uint32_t)((uint64_t)(uintptr_t)&hvb_hypercall_entry -
                        (uint64_t)(uintptr_t)(p + 4)));
    p += 4;
  }
  *p++ = 0xff;
  *p++ = 0xc9; /* dec ecx */
  *p++ = 0x75;
  *p = (uint8_t)(loop - (p + 1));
  ++p;         /* jnz loop */
  *p++ = 0xc3; /* ret */
}

static int timed_entry(void) {
  enum { kRounds = 11, kCalls = 2000 };
  build_entry_loop(entry_loops[0], 0, kCalls);
  build_entry_loop(entry_loops[1], 1, kCalls);
  static const char *const kNames[2] = {"indirect", "direct"};
  for (int round = 0; round < kRounds; ++round) {
    for (int direct = 0; direct < 2; ++direct) {
      void (*loop)(void) = (void (*)(void))(uintptr_t)entry_loops[direct];
      const uint64_t start = hvb_clock_now_ns();
      loop();
      const uint64_t ns = hvb_clock_now_ns() - start;
      hvb_printf("round %s %lu\n", kNames[direct], ns / kCalls);
    }
  }
  return 0;
}

static int timed(const char *cmd) {
  if (strcmp(cmd, "entry") == 0) return timed_entry();
  enum { kRounds = 11, kCalls = 2000 };
  void (*call)(void) = call_null;
  if (strcmp(cmd, "console") == 0) call = call_console;
  if (strcmp(cmd, "clock") == 0) call = call_clock;
  if (strcmp(cmd, "block") == 0) call = call_block;
  if (strcmp(cmd, "clockpage") == 0) call = call_clock_page;
  if (strcmp(cmd, "clockcoarse") == 0) call = call_clock_coarse;
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
  if (strcmp(cmd, "clockcoarse") == 0) {
    /* 16 coarse reads timed by the page's clock, less an empty interval's
     * time (the timing read itself). */
    for (;;) {
      const uint64_t t0 = hvb_clock_page_ns();
      for (int i = 0; i < 16; ++i) hvb_clock_coarse_ns();
      const uint64_t t1 = hvb_clock_page_ns();
      const uint64_t t2 = hvb_clock_page_ns();
      const uint64_t loop = t1 - t0, empty = t2 - t1;
      hvb_call1(HVB_FN_DEBUG_ECHO, loop > empty ? loop - empty : 1);
    }
  }
  for (;;) hvb_call0(HVB_FN_DEBUG_NULL);
}
