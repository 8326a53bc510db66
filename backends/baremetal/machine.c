/* Leaving the machine: the status line for hvbios-qemu, then QEMU's
 * isa-debug-exit or the 8042's reset line. */
#include "cpu.h"
#include "devices.h"

void machine_exit(const char *status_line) {
  /* QEMU's debug console (port 0xe9) carries the status line to
   * hvbios-qemu; isa-debug-exit (port 0xf4) ends QEMU. On a PC without
   * them both writes go nowhere and the CPU halts. */
  for (const char *p = status_line; *p; ++p) outb(0xe9, (uint8_t)*p);
  outb(0xe9, '\n');
  outl(0xf4, 0);
  halt_forever();
}

void machine_reboot(void) {
  for (const char *p = "reboot\n"; *p; ++p) outb(0xe9, (uint8_t)*p);
  outb(0x64, 0xfe); /* pulse the CPU reset line through the 8042 */
  halt_forever();
}
