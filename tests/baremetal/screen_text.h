// Reading the bare-metal firmware's screen console back as text, for tests:
// a screenshot (QEMU's screendump, binary PPM) decoded cell by cell with the
// firmware's own glyphs (backends/baremetal/font.h), and the text a screen
// of a given size must show after some console output, as
// backends/baremetal/screen.c draws it.
#ifndef HVBIOS_TESTS_BAREMETAL_SCREEN_TEXT_H_
#define HVBIOS_TESTS_BAREMETAL_SCREEN_TEXT_H_

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "backends/baremetal/font.h"

namespace hvbios::testing {

// A screenshot: lit[y * width + x] is true where any colour channel is on.
struct Screenshot {
  int width = 0, height = 0;
  std::vector<bool> lit;
};

// Reads a binary PPM ("P6", maxval 255) as QEMU's screendump writes it.
inline std::optional<Screenshot> ReadPpm(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string magic;
  int maxval = 0;
  Screenshot shot;
  if (!(in >> magic >> shot.width >> shot.height >> maxval) || magic != "P6" ||
      maxval != 255 || shot.width <= 0 || shot.height <= 0) {
    return std::nullopt;
  }
  in.get();  // the one whitespace byte before the pixels
  const std::string rgb(std::istreambuf_iterator<char>(in), {});
  const size_t pixels = static_cast<size_t>(shot.width) * shot.height;
  if (rgb.size() < pixels * 3) return std::nullopt;
  shot.lit.resize(pixels);
  for (size_t i = 0; i < pixels; ++i) {
    shot.lit[i] = rgb[3 * i] != 0 || rgb[3 * i + 1] != 0 || rgb[3 * i + 2] != 0;
  }
  return shot;
}

// The screen's geometry, by screen.c's rule: a cell is one pixel wider and
// two taller than a glyph, scaled by min(width / 480, height / 300), at
// least 1.
struct ScreenGeometry {
  int scale, columns, rows;
};
inline ScreenGeometry GeometryOf(int width, int height) {
  int scale = std::min(width / 480, height / 300);
  if (scale < 1) scale = 1;
  return {scale, width / ((FW_FONT_WIDTH + 1) * scale),
          height / ((FW_FONT_HEIGHT + 2) * scale)};
}

// The screen's rows as text, trailing spaces and blank rows at the end
// dropped. A cell that is not exactly a glyph, at the screen's scale,
// reads as '\x01', which no console text holds.
inline std::vector<std::string> ScreenText(const Screenshot& shot) {
  const ScreenGeometry g = GeometryOf(shot.width, shot.height);
  std::map<std::array<uint8_t, FW_FONT_HEIGHT>, char> glyphs;
  for (int c = FW_FONT_FIRST; c <= FW_FONT_BOX; ++c) {
    std::array<uint8_t, FW_FONT_HEIGHT> rows;
    for (int r = 0; r < FW_FONT_HEIGHT; ++r) rows[r] = fw_font_row(c, r);
    glyphs[rows] = static_cast<char>(c);
  }
  const int cell_w = (FW_FONT_WIDTH + 1) * g.scale;
  const int cell_h = (FW_FONT_HEIGHT + 2) * g.scale;
  std::vector<std::string> text;
  for (int row = 0; row < g.rows; ++row) {
    std::string line;
    for (int column = 0; column < g.columns; ++column) {
      std::array<uint8_t, FW_FONT_HEIGHT> rows{};
      bool exact = true;
      for (int y = 0; y < cell_h; ++y) {
        for (int x = 0; x < cell_w; ++x) {
          const bool on =
              shot.lit[(row * cell_h + y) * shot.width + column * cell_w + x];
          const int fx = x / g.scale, fy = y / g.scale;
          if (fx < FW_FONT_WIDTH && fy < FW_FONT_HEIGHT) {
            if (on) rows[fy] |= 1 << (FW_FONT_WIDTH - 1 - fx);
            // Every screen pixel of a font pixel agrees with its first.
            const bool first = x % g.scale == 0 && y % g.scale == 0;
            if (!first && on != ((rows[fy] >> (FW_FONT_WIDTH - 1 - fx)) & 1))
              exact = false;
          } else if (on) {
            exact = false;  // the gap between cells is dark
          }
        }
      }
      const auto found = glyphs.find(rows);
      line += exact && found != glyphs.end() ? found->second : '\x01';
    }
    line.erase(line.find_last_not_of(' ') + 1);
    text.push_back(line);
  }
  while (!text.empty() && text.back().empty()) text.pop_back();
  return text;
}

// What a screen of `g` shows after `output` is written to a cleared one:
// printable bytes drawn (others above 0x7e as the box), a line wrapping
// after the last column, '\r' back to the first column, and, when a new
// line would leave the last row, the lower half of the rows moving up.
inline std::vector<std::string> ExpectedScreenText(const std::string& output,
                                                   const ScreenGeometry& g) {
  std::vector<std::string> rows(g.rows, std::string(g.columns, ' '));
  int row = 0, column = 0;
  auto new_line = [&] {
    column = 0;
    if (++row < g.rows) return;
    const int shift = g.rows / 2 ? g.rows / 2 : 1;
    rows.erase(rows.begin(), rows.begin() + shift);
    rows.resize(g.rows, std::string(g.columns, ' '));
    row -= shift;
  };
  for (unsigned char c : output) {
    if (c == '\n') {
      new_line();
    } else if (c == '\r') {
      column = 0;
    } else if (c >= 0x20) {
      if (column == g.columns) new_line();
      rows[row][column++] =
          static_cast<char>(c > FW_FONT_BOX ? FW_FONT_BOX : c);
    }
  }
  for (std::string& line : rows) line.erase(line.find_last_not_of(' ') + 1);
  while (!rows.empty() && rows.back().empty()) rows.pop_back();
  return rows;
}

}  // namespace hvbios::testing

#endif  // HVBIOS_TESTS_BAREMETAL_SCREEN_TEXT_H_
