/* The console's serial side: the PC's 16550 UART on COM1, polled for
 * output, its receive interrupt routed through the I/O APIC for input
 * events. */
#include "cpu.h"
#include "devices.h"

enum {
  kCom1 = 0x3f8,
  kUartData = 0,         /* RBR / THR (DLAB 0), divisor low (DLAB 1) */
  kUartIntEnable = 1,    /* IER, divisor high (DLAB 1) */
  kUartFifoControl = 2,  /* FCR (write) */
  kUartLineControl = 3,  /* LCR */
  kUartModemControl = 4, /* MCR */
  kUartLineStatus = 5,   /* LSR */
  kLsrDataReady = 0x01,
  kLsrThrEmpty = 0x20,
};

/* Bytes that fit the transmitter once it says it is empty. */
static size_t g_transmit_burst = 1;
/* Input that arrived before the FIFOs were switched on. */
static char g_early[16];
static uint32_t g_early_count, g_early_taken;

void uart_init(void) {
  outb(kCom1 + kUartIntEnable, 0);
  outb(kCom1 + kUartLineControl, 0x80); /* DLAB: set the divisor */
  outb(kCom1 + kUartData, 1);           /* 115200 baud */
  outb(kCom1 + kUartIntEnable, 0);
  outb(kCom1 + kUartLineControl, 0x03); /* 8 data bits, no parity, 1 stop */
  /* The FIFOs on, so that input typed ahead waits there, 16 bytes of it,
   * and one console.read takes it all. Switching them on empties them: the
   * bytes already waiting are kept aside first; one that arrives between
   * the last check and the switch is lost, the 16550's own rule and so that
   * of every PC driver that turns the FIFOs on (the UART holds one byte with
   * them off, and QEMU passes the next a main-loop turn after it is read,
   * so the window is two port accesses wide). */
  while ((inb(kCom1 + kUartLineStatus) & kLsrDataReady) &&
         g_early_count < sizeof(g_early)) {
    g_early[g_early_count++] = (char)inb(kCom1 + kUartData);
  }
  /* Enabled, both cleared, the interrupt at 14 bytes or after four
   * characters' time without one (QEMU takes in as much as that leaves room
   * for, where trigger level 1 would make it feed one byte per read). */
  outb(kCom1 + kUartFifoControl, 0xc7);
  /* IIR bits 7:6 read 11 once the FIFOs work (a 16550A; an 8250 has
   * none). */
  g_transmit_burst = (inb(kCom1 + kUartFifoControl) & 0xc0) == 0xc0 ? 16 : 1;
  /* DTR, RTS, and OUT2, which gates the UART's IRQ line on a PC. */
  outb(kCom1 + kUartModemControl, 0x0b);
}

void uart_write(const char *bytes, size_t length) {
  /* With the FIFOs on, THRE means the whole 16-byte transmit FIFO is
   * empty: a burst of 16 follows each wait, not one byte. */
  for (size_t i = 0; i < length;) {
    while (!(inb(kCom1 + kUartLineStatus) & kLsrThrEmpty)) {
    }
    for (size_t n = 0; n < g_transmit_burst && i < length; ++n, ++i)
      outb(kCom1 + kUartData, (uint8_t)bytes[i]);
  }
}

static int uart_data_ready(void) {
  return (inb(kCom1 + kUartLineStatus) & kLsrDataReady) != 0;
}

int uart_has_input(void) {
  return g_early_taken < g_early_count || uart_data_ready();
}

size_t uart_read(char *bytes, size_t length) {
  size_t n = 0;
  while (n < length && g_early_taken < g_early_count) {
    bytes[n++] = g_early[g_early_taken++];
  }
  while (n < length && uart_data_ready()) {
    bytes[n++] = (char)inb(kCom1 + kUartData);
  }
  return n;
}

void uart_input_interrupt(int enable) {
  outb(kCom1 + kUartIntEnable, enable ? 0x01 : 0x00); /* data available */
}
