/* vcpu (docs/abi.md 5.6): the PC's CPUs; vCPU 0 is the boot CPU. The
 * checks are common/vcpu.c's. */
#include "common/vcpu.h"

#include "devices.h"
#include "firmware.h"
#include "services/services.h"

extern char ap_trampoline[]; /* hcpage.S */

struct fw_result fw_vcpu_count(const uint64_t *args) {
  (void)args;
  return fw_ok(g_platform.cpu_count);
}
struct fw_result fw_vcpu_self(const uint64_t *args) {
  (void)args;
  return fw_ok(this_cpu());
}

struct fw_result fw_vcpu_start(const uint64_t *args) {
  const uint64_t id = args[0], rip = args[1], rsp = args[2], cr3 = args[4];
  const int64_t checked =
      hvb_vcpu_check_start(g_platform.map, g_platform.map_count,
                           g_platform.cpu_count, id, rip, rsp, cr3);
  if (checked != HVB_OK) return fw_error(checked);
  struct fw_cpu *cpu = &g_platform.cpus[id];
  if (cpu->state != HVB_VCPU_STOPPED) return fw_error(HVB_ERR_STATE);
  cpu->entry = rip;
  cpu->stack = rsp;
  cpu->arg = args[3];
  cpu->cr3 = cr3;
  cpu->started = 1;
  __atomic_store_n(&cpu->state, HVB_VCPU_RUNNING, __ATOMIC_RELEASE);
  /* An application processor starts afresh through INIT-SIPI-SIPI, which
   * also drops the events raised on it while it was stopped. The boot CPU
   * cannot (INIT sends it back to the BIOS): it waits in vcpu.stop. */
  if (id != 0) {
    cpu->coming_up = 1;
    lapic_start_cpu(fw_apic_ids[id], (uint64_t)(uintptr_t)ap_trampoline);
    /* Events raised once start returns must reach it, and a local APIC
     * accepts them only once software-enabled (SDM Vol. 3A 11.4.7.2):
     * return when ap_main() has done that (allowing 10 s: an emulated CPU
     * on a loaded host can be slow to come up). */
    const uint64_t limit = rdtsc() + 10 * g_platform.tsc_hz;
    while (__atomic_load_n(&cpu->coming_up, __ATOMIC_ACQUIRE)) {
      if (rdtsc() > limit) {
        cpu->state = HVB_VCPU_STOPPED;
        return fw_error(HVB_ERR_NOMEM); /* it did not come up */
      }
      __builtin_ia32_pause();
    }
  }
  return fw_ok(0);
}

struct fw_result fw_vcpu_stop(const uint64_t *args) {
  (void)args;
  const uint32_t self = this_cpu();
  struct fw_cpu *cpu = &g_platform.cpus[self];
  lapic_timer_arm(0, 0); /* a stopped vCPU has no timer */
  __atomic_store_n(&cpu->state, HVB_VCPU_STOPPED, __ATOMIC_RELEASE);
  int running = 0;
  for (uint32_t i = 0; i < g_platform.cpu_count; ++i) {
    running |= g_platform.cpus[i].state == HVB_VCPU_RUNNING;
  }
  if (!running) {
    machine_exit(
        "fault every vCPU stopped itself (vcpu.stop): nothing can run again");
  }
  fw_unlock();
  if (self != 0) halt_forever(); /* until INIT-SIPI */
  while (__atomic_load_n(&cpu->state, __ATOMIC_ACQUIRE) != HVB_VCPU_RUNNING) {
    __builtin_ia32_pause();
  }
  lapic_end_all_in_service();
  enter_guest(cpu->cr3 ? cpu->cr3 : g_platform.boot_tables, cpu->entry,
              cpu->stack, cpu->arg);
}

struct fw_result fw_vcpu_status(const uint64_t *args) {
  if (args[0] >= g_platform.cpu_count) return fw_error(HVB_ERR_NODEV);
  return fw_ok(g_platform.cpus[args[0]].state);
}
