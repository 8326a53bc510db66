/* hvbios guest SDK: initialisation and the ABI wrappers. */
#include "hvbios/guest/hvb.h"

uint64_t hvb_hypercall_entry;
static const struct hvb_boot_info *g_boot_info;

hvb_status hvb_init(const struct hvb_boot_info *boot) {
  if (boot == 0 || boot->magic != HVB_BOOT_MAGIC) return HVB_ERR_INVAL;
  if ((boot->abi_version >> 16) != HVB_ABI_VERSION_MAJOR) return HVB_ERR_NOSYS;
  g_boot_info = boot;
  hvb_hypercall_entry = boot->hypercall_page + HVB_HCPAGE_CALL;
  return HVB_OK;
}

const struct hvb_boot_info *hvb_boot_info(void) { return g_boot_info; }

__attribute__((weak)) uint64_t hvb_virt_to_phys(const void *p) {
  return (uint64_t)(uintptr_t)p;
}

uint32_t hvb_base_abi_version(void) {
  return (uint32_t)hvb_call0(HVB_FN_BASE_GET_ABI_VERSION).value;
}
uint32_t hvb_base_impl_id(void) {
  return (uint32_t)hvb_call0(HVB_FN_BASE_GET_IMPL_ID).value;
}
uint32_t hvb_base_impl_version(void) {
  return (uint32_t)hvb_call0(HVB_FN_BASE_GET_IMPL_VERSION).value;
}
int hvb_base_probe(uint32_t fid) {
  struct hvb_result r = hvb_call1(HVB_FN_BASE_PROBE, fid);
  return r.status == HVB_OK && r.value == 1;
}

hvb_status hvb_console_write(const void *buf, size_t length) {
  const char *p = (const char *)buf;
  while (length > 0) {
    struct hvb_result r =
        hvb_call2(HVB_FN_CONSOLE_WRITE, hvb_virt_to_phys(p), length);
    if (r.status != HVB_OK) return r.status;
    if (r.value == 0 || r.value > length) return HVB_ERR_IO;
    p += r.value;
    length -= r.value;
  }
  return HVB_OK;
}

hvb_status hvb_console_read(void *buf, size_t capacity, size_t *count) {
  struct hvb_result r =
      hvb_call2(HVB_FN_CONSOLE_READ, hvb_virt_to_phys(buf), capacity);
  if (count != 0) *count = r.status == HVB_OK ? r.value : 0;
  return r.status;
}

hvb_status hvb_puts(const char *s) {
  hvb_status st = hvb_console_write(s, strlen(s));
  return st != HVB_OK ? st : hvb_console_write("\n", 1);
}

uint64_t hvb_clock_monotonic_ns(void) {
  return hvb_call0(HVB_FN_CLOCK_MONOTONIC).value;
}
uint64_t hvb_clock_wallclock_ns(void) {
  return hvb_call0(HVB_FN_CLOCK_WALLCLOCK).value;
}

hvb_status hvb_power_shutdown(uint32_t code) {
  return hvb_call1(HVB_FN_POWER_SHUTDOWN, code).status;
}
hvb_status hvb_power_reboot(void) {
  return hvb_call0(HVB_FN_POWER_REBOOT).status;
}

hvb_status hvb_debug_null(void) { return hvb_call0(HVB_FN_DEBUG_NULL).status; }
uint64_t hvb_debug_echo(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
                        uint64_t a4, uint64_t a5) {
  return hvb_call6(HVB_FN_DEBUG_ECHO, a0, a1, a2, a3, a4, a5).value;
}

void hvb_halt_forever(void) {
  for (;;) __asm__ volatile("cli; hlt");
}

/* Called by start.S on the SDK's stack. */
__attribute__((noreturn)) void hvb_start_c(const struct hvb_boot_info *boot);
void hvb_start_c(const struct hvb_boot_info *boot) {
  /* Without a valid boot info there is no hypercall page to report
   * through; halting makes the VMM report the vCPU as stuck. */
  if (hvb_init(boot) != HVB_OK) hvb_halt_forever();
  int code = hvb_main(boot);
  hvb_power_shutdown((uint32_t)code & 0xffu);
  hvb_halt_forever();
}
