/* Leaving the machine: the status line for hvbios-qemu, then QEMU's
 * isa-debug-exit where hvbios-qemu provides one, or the PC's own ways:
 * ACPI S5 to power off, the FADT's reset register (or the 8042) to reset.
 * On a PC the status line also goes to the console, so that whoever
 * watches learns why the machine stopped. */
#include "acpi.h"
#include "cpu.h"
#include "devices.h"
#include "firmware.h"

static void status_to_debug_console(const char *line) {
  /* QEMU's debug console (port 0xe9) carries the status line to
   * hvbios-qemu; only where QEMU's fw_cfg says that is what runs us. */
  if (!g_platform.debug_exit) return;
  for (const char *p = line; *p; ++p) outb(0xe9, (uint8_t)*p);
  outb(0xe9, '\n');
}

void machine_note(const char *text) {
  if (!g_platform.debug_exit) {
    fw_printf("hvbios-firmware: %s\n", text);
    return;
  }
  for (const char *p = "note "; *p; ++p) outb(0xe9, (uint8_t)*p);
  status_to_debug_console(text);
}

void machine_exit(const char *status_line) {
  status_to_debug_console(status_line);
  if (g_platform.debug_exit) outl(0xf4, 0); /* isa-debug-exit */
  /* Without hvbios-qemu, the console is all there is ("error" lines were
   * printed there already). */
  if (strcmp(status_line, "shutdown 0") != 0 &&
      strncmp(status_line, "error ", 6) != 0) {
    fw_printf("hvbios-firmware: %s\n", status_line);
  }
  if (strncmp(status_line, "shutdown ", 9) == 0) {
    acpi_power_off();
    fw_printf("hvbios-firmware: cannot power off (no ACPI S5); halted\n");
  }
  halt_forever();
}

void machine_reboot(void) {
  status_to_debug_console("reboot");
  acpi_reset();
  outb(0x64, 0xfe); /* pulse the CPU reset line through the 8042 */
  halt_forever();
}
