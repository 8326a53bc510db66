/* console (docs/abi.md 5.2): COM1, and the screen when the boot loader
 * set one up (screen.c; output only). Guest buffers are used in place. Only
 * their range is checked, never their contents, so another vCPU writing
 * one meanwhile changes only the bytes printed or overwritten. Output is
 * never refused (no HVB_ERR_AGAIN): the UART is polled until it takes
 * each byte. */
#include "devices.h"
#include "firmware.h"
#include "services/services.h"

static uint64_t io_length(uint64_t requested) {
  return requested < HVB_CONSOLE_MAX_IO ? requested : HVB_CONSOLE_MAX_IO;
}

struct fw_result fw_console_write(const uint64_t *args) {
  const uint64_t length = io_length(args[1]);
  if (length == 0) return fw_ok(0);
  if (!fw_guest_owns(args[0], length)) return fw_error(HVB_ERR_FAULT);
  console_out((const char *)(uintptr_t)args[0], length);
  return fw_ok(length);
}

struct fw_result fw_console_read(const uint64_t *args) {
  const uint64_t length = io_length(args[1]);
  if (length == 0) return fw_ok(0);
  if (!fw_guest_owns(args[0], length)) return fw_error(HVB_ERR_FAULT);
  return fw_ok(uart_read((char *)(uintptr_t)args[0], length));
}
