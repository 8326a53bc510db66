/* The ABI conformance guest's shared parts: every file checks one part of
 * docs/abi.md from inside the VM and counts its checks here. */
#ifndef HVBIOS_TESTS_GUESTS_CONFORMANCE_CONFORMANCE_H_
#define HVBIOS_TESTS_GUESTS_CONFORMANCE_CONFORMANCE_H_

#include "hvbios/guest/hvb.h"

extern int conformance_passed, conformance_failed;

#define CHECK(name, cond, ...)       \
  do {                               \
    if (cond) {                      \
      ++conformance_passed;          \
    } else {                         \
      ++conformance_failed;          \
      hvb_printf("FAIL %s: ", name); \
      hvb_printf(__VA_ARGS__);       \
      hvb_printf("\n");              \
    }                                \
  } while (0)

#define CHECK_STATUS(name, result, want)                         \
  CHECK(name, (result).status == (want), "status %ld, want %ld", \
        (long)(result).status, (long)(want))

/* Vectors: each check that takes events uses its own. */
enum {
  kTestVector = 0x60, /* vCPU 0's timer and console checks */
  kIpiVector = 0x61,
  kApVector = 0x62,      /* events on vCPU 1 */
  kQueueVector = 0x63,   /* block queue completions */
  kApTimerVector = 0x64, /* vCPU 1's timer */
  kInputVector = 0x65,   /* console input, routed late */
  kLowVector = 0x70,     /* the EOI rules: three priority classes */
  kHeldVector = 0x80,
  kHighVector = 0x90,
};

extern uint64_t ram_top; /* one past the highest RAM byte */
extern char scratch[8192];
extern uint8_t ap_stack[16384];
extern volatile uint64_t test_vector_hits;

/* Busy-wait (interrupts on) until *v == want or `ms` pass on the platform
 * clock: a broken platform fails a check instead of hanging. */
int poll_until(volatile uint64_t *v, uint64_t want, uint64_t ms);
int poll_at_least(volatile uint64_t *v, uint64_t least, uint64_t ms);
void spin_ms(uint64_t ms);
int wait_vcpu_state(uint32_t id, uint32_t want, uint64_t ms);

void test_base(void);
void test_nosys(void);
void test_preserved(void);
void test_debug(void);
void test_power_errors(void);
void test_console(void);
void test_console_input(const char *want);
void test_clock(void);
void test_clock_page(const struct hvb_boot_info *boot);
void test_vcpu(const struct hvb_boot_info *boot);
void test_timer(void);
void test_event(void);
void test_eoi(void);
void test_rng(void);
void test_block(const struct hvb_boot_info *boot);
void test_net(const struct hvb_boot_info *boot);
void test_platform_memory(const struct hvb_boot_info *boot);
void test_memory_service(const struct hvb_boot_info *boot);

#endif /* HVBIOS_TESTS_GUESTS_CONFORMANCE_CONFORMANCE_H_ */
