/* The screen console: what the console shows (the guest's console.write
 * and the firmware's own messages) drawn on the linear framebuffer the
 * boot loader set up (loader.c), besides COM1. A PC booted from a stick
 * often has a screen and no serial port.
 *
 * Light grey on black, in font.h's glyphs, each in a cell one pixel wider
 * and two taller, scaled up on large screens to keep about 80 to 130
 * columns. Output only: the keyboard is not read. The framebuffer is
 * written, and read back only to scroll: reading video memory is slow on
 * real hardware, so the screen scrolls by half its height at a time. */
#include <stdarg.h>

#include "common/format.h"
#include "devices.h"
#include "font.h"
#include "loader.h"

enum {
  kCellWidth = FW_FONT_WIDTH + 1,
  kCellHeight = FW_FONT_HEIGHT + 2,
  kEscape = 0x1b,
};

static struct {
  volatile uint8_t *base; /* 0: no screen */
  uint32_t pitch;         /* bytes from one pixel row to the next */
  uint32_t bytes;         /* per pixel: 3 or 4 */
  uint32_t scale;         /* screen pixels per font pixel, each way */
  uint32_t columns, rows; /* cells */
  uint32_t column, row;   /* the cursor */
  uint32_t foreground;    /* as a pixel */
  int in_escape;          /* skipping an ANSI escape sequence: 1 after ESC,
                             2 inside "ESC [" until its final byte */
} g_screen;

/* Pixel row y as 32-bit words (the pitch is a multiple of 4). */
static volatile uint32_t *pixel_row(uint32_t y) {
  return (volatile uint32_t *)(g_screen.base + (uint64_t)y * g_screen.pitch);
}

static void clear_pixel_rows(uint32_t first, uint32_t count) {
  for (uint32_t y = first; y < first + count; ++y) {
    volatile uint32_t *row = pixel_row(y);
    for (uint32_t w = 0; w < g_screen.pitch / 4; ++w) row[w] = 0;
  }
}

static void put_pixel(volatile uint8_t *at, uint32_t value) {
  if (g_screen.bytes == 4) {
    *(volatile uint32_t *)at = value;
  } else {
    at[0] = (uint8_t)value;
    at[1] = (uint8_t)(value >> 8);
    at[2] = (uint8_t)(value >> 16);
  }
}

static void draw(uint32_t column, uint32_t row, uint8_t c) {
  const uint32_t s = g_screen.scale;
  const uint32_t top = row * kCellHeight * s, left = column * kCellWidth * s;
  for (uint32_t y = 0; y < kCellHeight * s; ++y) {
    const uint32_t font_row = y / s;
    const uint8_t bits =
        font_row < FW_FONT_HEIGHT ? fw_font_row(c, font_row) : 0;
    volatile uint8_t *at = (volatile uint8_t *)pixel_row(top + y) +
                           (uint64_t)left * g_screen.bytes;
    for (uint32_t x = 0; x < kCellWidth * s; ++x, at += g_screen.bytes) {
      const uint32_t font_column = x / s;
      const int lit = font_column < FW_FONT_WIDTH &&
                      ((bits >> (FW_FONT_WIDTH - 1 - font_column)) & 1);
      put_pixel(at, lit ? g_screen.foreground : 0);
    }
  }
}

/* Moves the lower half of the text up to the top and clears the rest. */
static void scroll(void) {
  const uint32_t shift = g_screen.rows / 2 ? g_screen.rows / 2 : 1;
  const uint32_t cell_pixels = kCellHeight * g_screen.scale;
  const uint32_t kept = (g_screen.rows - shift) * cell_pixels;
  for (uint32_t y = 0; y < kept; ++y) {
    volatile uint32_t *to = pixel_row(y);
    volatile const uint32_t *from = pixel_row(y + shift * cell_pixels);
    for (uint32_t w = 0; w < g_screen.pitch / 4; ++w) to[w] = from[w];
  }
  clear_pixel_rows(kept, shift * cell_pixels);
  g_screen.row -= shift;
}

static void new_line(void) {
  g_screen.column = 0;
  if (++g_screen.row == g_screen.rows) scroll();
}

void screen_init(const struct fw_framebuffer *fb) {
  if (fb->address == 0) return;
  /* About 80 to 130 columns: 480 pixels of width, or 300 of height, per
   * step of scale. */
  const uint32_t by_width = fb->width / 480, by_height = fb->height / 300;
  uint32_t scale = by_width < by_height ? by_width : by_height;
  if (scale == 0) scale = 1;
  if (fb->width < kCellWidth * scale || fb->height < kCellHeight * scale)
    return;
  g_screen.base = (volatile uint8_t *)(uintptr_t)fb->address;
  g_screen.pitch = fb->pitch;
  g_screen.bytes = fb->bytes_per_pixel;
  g_screen.scale = scale;
  g_screen.columns = fb->width / (kCellWidth * scale);
  g_screen.rows = fb->height / (kCellHeight * scale);
  g_screen.column = g_screen.row = 0;
  g_screen.foreground = 0xaau << fb->red_shift | 0xaau << fb->green_shift |
                        0xaau << fb->blue_shift;
  clear_pixel_rows(0, fb->height);
}

/* Printable ASCII is drawn, other bytes above 0x7e as a box; newline,
 * carriage return, tab and backspace move the cursor; other control
 * bytes and ANSI escape sequences ("ESC [ ... final byte", colours and
 * the like) are skipped. */
void screen_write(const char *bytes, size_t length) {
  if (g_screen.base == 0) return;
  for (size_t i = 0; i < length; ++i) {
    const uint8_t c = (uint8_t)bytes[i];
    if (g_screen.in_escape == 1) {
      g_screen.in_escape = c == '[' ? 2 : 0;
      continue;
    }
    if (g_screen.in_escape == 2) {
      if (c >= 0x40 && c <= 0x7e) g_screen.in_escape = 0;
      continue;
    }
    if (c == '\n') {
      new_line();
    } else if (c == '\r') {
      g_screen.column = 0;
    } else if (c == '\t') {
      g_screen.column = (g_screen.column + 8) & ~7u;
      if (g_screen.column > g_screen.columns)
        g_screen.column = g_screen.columns;
    } else if (c == '\b') {
      if (g_screen.column > 0) --g_screen.column;
    } else if (c == kEscape) {
      g_screen.in_escape = 1;
    } else if (c >= 0x20) {
      if (g_screen.column == g_screen.columns) new_line();
      draw(g_screen.column++, g_screen.row, c);
    }
  }
}

/* The screen first: what the serial console shows is on the screen
 * already, which tests that read the screen once a line appears rely on. */
void console_out(const char *bytes, size_t length) {
  screen_write(bytes, length);
  uart_write(bytes, length);
}

void fw_printf(const char *format, ...) {
  char line[256];
  va_list ap;
  va_start(ap, format);
  const int n = hvb_vsnprintf(line, sizeof(line), format, ap);
  va_end(ap);
  console_out(line, n < (int)sizeof(line) ? (size_t)n : sizeof(line) - 1);
}
