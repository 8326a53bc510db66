/* embed: a complete VMM in C on the hvbios C API. Boots a guest image,
 * prints its console, waits for it and reports how it ended.
 *
 *   embed GUEST.elf [CMDLINE]
 */
#include <stdio.h>
#include <string.h>

#include "hvbios/hvbios.h"

static void print_console(void *context, const char *bytes, size_t length) {
  (void)context;
  fwrite(bytes, 1, length, stdout);
  fflush(stdout);
}

static int fail(const char *what) {
  fprintf(stderr, "embed: %s: %s\n", what, hyperv_bios_last_error());
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: embed GUEST.elf [CMDLINE]\n");
    return 2;
  }
  hyperv_bios_vm_config config;
  hyperv_bios_init_vm_config(&config);
  config.memory_bytes = 32u << 20;
  config.cmdline = argc > 2 ? argv[2] : NULL;
  config.console_output = print_console;

  hyperv_bios_vm *vm = NULL;
  if (hyperv_bios_create_vm(&config, &vm) != HYPERV_BIOS_OK) {
    return fail("create VM");
  }
  int rc = 1;
  hyperv_bios_vcpu *vcpu = NULL;
  hyperv_bios_vm_exit exit_info = {.struct_size = sizeof(exit_info)};
  if (hyperv_bios_load_guest(vm, argv[1]) != HYPERV_BIOS_OK) {
    fail("load guest");
  } else if (hyperv_bios_create_vcpu(vm, 0, &vcpu) != HYPERV_BIOS_OK) {
    fail("create vCPU 0");
  } else if (hyperv_bios_start_vcpu(vcpu) != HYPERV_BIOS_OK) {
    fail("start vCPU 0");
  } else if (hyperv_bios_wait_vm(vm, 60 * 1000, &exit_info) != HYPERV_BIOS_OK) {
    fail("wait");
  } else if (exit_info.reason == HYPERV_BIOS_EXIT_SHUTDOWN) {
    printf("embed: guest shut down with code %d\n", exit_info.exit_code);
    rc = exit_info.exit_code;
  } else {
    printf("embed: guest stopped (reason %d): %s\n", exit_info.reason,
           exit_info.message);
  }
  hyperv_bios_destroy_vm(vm);
  return rc;
}
