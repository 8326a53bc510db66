/* A guest that brings its own _start (own_start.S) and uses the SDK as a
 * library: hvb_init() first, then any call, vCPU start included. */
#include "hvbios/guest/hvb.h"

static volatile uint32_t g_ran_on;
static uint8_t g_stack[8192] __attribute__((aligned(16)));

static void second_vcpu(uint64_t arg) {
  g_ran_on = hvb_vcpu_self() + (uint32_t)arg;
}

void kernel_main(const struct hvb_boot_info *boot);
void kernel_main(const struct hvb_boot_info *boot) {
  if (hvb_init(boot) != HVB_OK) hvb_halt_forever();
  hvb_printf("own _start: ABI %u.%u, %u vCPU(s)\n",
             hvb_base_abi_version() >> 16, hvb_base_abi_version() & 0xffff,
             boot->vcpu_count);
  uint32_t code = 0;
  if (boot->vcpu_count > 1) {
    hvb_status status =
        hvb_vcpu_start_c(1, second_vcpu, g_stack, sizeof(g_stack), 100);
    if (status != HVB_OK) {
      hvb_printf("vcpu.start: %d\n", (int)status);
      code = 1;
    } else {
      /* fn ran, and the trampoline stopped the vCPU after it. */
      uint32_t state = HVB_VCPU_RUNNING;
      while (g_ran_on == 0 || state != HVB_VCPU_STOPPED) {
        if (hvb_vcpu_status(1, &state) != HVB_OK) break;
      }
      hvb_printf("vCPU 1 ran: %u\n", g_ran_on);
      if (g_ran_on != 101) code = 2;
    }
  }
  hvb_power_shutdown(code);
  hvb_halt_forever();
}
