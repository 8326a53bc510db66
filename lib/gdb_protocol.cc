#include "lib/gdb_protocol.h"

#include <cstring>

#include "absl/strings/str_format.h"

namespace hvbios::gdb {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

uint8_t Checksum(absl::string_view bytes) {
  uint8_t sum = 0;
  for (char c : bytes) sum += static_cast<uint8_t>(c);
  return sum;
}

// Where each register of RegisterLayout() lives in Registers; null for the
// unavailable x87 ones. Writable: the first 18 (rax..r15, rip, eflags).
constexpr size_t kWritableRegisters = 18;

struct Field {
  RegisterInfo info;
  size_t offset;  // in Registers
  int stored;     // bytes there (0: unavailable)
};

#define HVB_REG(name, size, field) \
  { {name, size}, offsetof(Registers, field), sizeof(Registers::field) }
#define HVB_UNAVAILABLE(name, size) \
  { {name, size}, 0, 0 }

const std::vector<Field>& Fields() {
  static const std::vector<Field>* fields = new std::vector<Field>{
      HVB_REG("rax", 8, rax),         HVB_REG("rbx", 8, rbx),
      HVB_REG("rcx", 8, rcx),         HVB_REG("rdx", 8, rdx),
      HVB_REG("rsi", 8, rsi),         HVB_REG("rdi", 8, rdi),
      HVB_REG("rbp", 8, rbp),         HVB_REG("rsp", 8, rsp),
      HVB_REG("r8", 8, r8),           HVB_REG("r9", 8, r9),
      HVB_REG("r10", 8, r10),         HVB_REG("r11", 8, r11),
      HVB_REG("r12", 8, r12),         HVB_REG("r13", 8, r13),
      HVB_REG("r14", 8, r14),         HVB_REG("r15", 8, r15),
      HVB_REG("rip", 8, rip),         HVB_REG("eflags", 4, rflags),
      HVB_REG("cs", 4, cs),           HVB_REG("ss", 4, ss),
      HVB_REG("ds", 4, ds),           HVB_REG("es", 4, es),
      HVB_REG("fs", 4, fs),           HVB_REG("gs", 4, gs),
      HVB_UNAVAILABLE("st0", 10),     HVB_UNAVAILABLE("st1", 10),
      HVB_UNAVAILABLE("st2", 10),     HVB_UNAVAILABLE("st3", 10),
      HVB_UNAVAILABLE("st4", 10),     HVB_UNAVAILABLE("st5", 10),
      HVB_UNAVAILABLE("st6", 10),     HVB_UNAVAILABLE("st7", 10),
      HVB_UNAVAILABLE("fctrl", 4),    HVB_UNAVAILABLE("fstat", 4),
      HVB_UNAVAILABLE("ftag", 4),     HVB_UNAVAILABLE("fiseg", 4),
      HVB_UNAVAILABLE("fioff", 4),    HVB_UNAVAILABLE("foseg", 4),
      HVB_UNAVAILABLE("fooff", 4),    HVB_UNAVAILABLE("fop", 4),
      HVB_REG("fs_base", 8, fs_base), HVB_REG("gs_base", 8, gs_base),
      HVB_REG("cr0", 8, cr0),         HVB_REG("cr2", 8, cr2),
      HVB_REG("cr3", 8, cr3),         HVB_REG("cr4", 8, cr4),
      HVB_REG("efer", 8, efer),
  };
  return *fields;
}

#undef HVB_REG
#undef HVB_UNAVAILABLE

// Little-endian bytes of a Registers field, widened to `size`.
std::string FieldHex(const Registers& regs, const Field& f) {
  if (f.stored == 0) return std::string(2 * f.info.size, 'x');
  uint8_t bytes[16] = {};
  std::memcpy(bytes, reinterpret_cast<const uint8_t*>(&regs) + f.offset,
              f.stored);
  return ToHex(bytes, f.info.size);
}

bool SetField(Registers* regs, const Field& f, absl::string_view hex) {
  std::optional<std::vector<uint8_t>> bytes = FromHex(hex);
  if (!bytes.has_value() || bytes->size() != static_cast<size_t>(f.info.size)) {
    return false;
  }
  uint8_t value[8] = {};
  std::memcpy(value, bytes->data(), std::min<size_t>(bytes->size(), 8));
  std::memcpy(reinterpret_cast<uint8_t*>(regs) + f.offset, value, f.stored);
  return true;
}

}  // namespace

void PacketReader::Feed(absl::string_view bytes) {
  buffer_.append(bytes.data(), bytes.size());
}

std::optional<PacketReader::Item> PacketReader::Next() {
  while (!buffer_.empty()) {
    const char c = buffer_[0];
    if (c == '+' || c == '-' || c == '\x03') {
      buffer_.erase(0, 1);
      return Item{c == '+'   ? Item::Kind::kAck
                  : c == '-' ? Item::Kind::kNack
                             : Item::Kind::kInterrupt,
                  ""};
    }
    if (c != '$') {  // line noise between packets
      buffer_.erase(0, 1);
      continue;
    }
    const size_t hash = buffer_.find('#');
    if (hash == std::string::npos) {
      if (buffer_.size() > kMaxPacket) {
        buffer_.clear();
        return Item{Item::Kind::kBadPacket, ""};
      }
      return std::nullopt;  // not all here yet
    }
    if (buffer_.size() < hash + 3) return std::nullopt;
    const std::string payload = buffer_.substr(1, hash - 1);
    const int hi = HexDigit(buffer_[hash + 1]),
              lo = HexDigit(buffer_[hash + 2]);
    buffer_.erase(0, hash + 3);
    if (hi < 0 || lo < 0 || Checksum(payload) != hi * 16 + lo ||
        payload.size() > kMaxPacket) {
      return Item{Item::Kind::kBadPacket, ""};
    }
    return Item{Item::Kind::kPacket, payload};
  }
  return std::nullopt;
}

std::string Frame(absl::string_view payload) {
  std::string body;
  body.reserve(payload.size());
  for (char c : payload) {
    if (c == '$' || c == '#' || c == '}' || c == '*') {
      body.push_back('}');
      body.push_back(static_cast<char>(c ^ 0x20));
    } else {
      body.push_back(c);
    }
  }
  return absl::StrFormat("$%s#%02x", body, Checksum(body));
}

std::optional<std::string> UnescapeBinary(absl::string_view data) {
  std::string out;
  out.reserve(data.size());
  for (size_t i = 0; i < data.size(); ++i) {
    if (data[i] == '}') {
      if (++i == data.size()) return std::nullopt;
      out.push_back(static_cast<char>(data[i] ^ 0x20));
    } else {
      out.push_back(data[i]);
    }
  }
  return out;
}

std::string ToHex(const void* data, size_t length) {
  static constexpr char kDigits[] = "0123456789abcdef";
  const auto* bytes = static_cast<const uint8_t*>(data);
  std::string out(2 * length, '0');
  for (size_t i = 0; i < length; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 15];
  }
  return out;
}

std::string HexOfString(absl::string_view text) {
  return ToHex(text.data(), text.size());
}

std::optional<std::vector<uint8_t>> FromHex(absl::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::vector<uint8_t> out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = HexDigit(hex[2 * i]), lo = HexDigit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return out;
}

std::optional<uint64_t> ParseHexNumber(absl::string_view text) {
  if (text.empty() || text.size() > 16) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    const int d = HexDigit(c);
    if (d < 0) return std::nullopt;
    value = value << 4 | d;
  }
  return value;
}

const std::vector<RegisterInfo>& RegisterLayout() {
  static const std::vector<RegisterInfo>* layout = [] {
    auto* out = new std::vector<RegisterInfo>;
    for (const Field& f : Fields()) out->push_back(f.info);
    return out;
  }();
  return *layout;
}

const std::string& TargetXml() {
  // gdb's x86-64 architecture needs the core feature's 40 registers by
  // name (rax..gs, st0..fop); the segments feature adds fs_base and
  // gs_base; the system feature, unknown to gdb, makes cr0..efer plain
  // registers ("p $cr3").
  static const std::string* xml = [] {
    auto* out = new std::string(
        "<?xml version=\"1.0\"?>\n"
        "<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n"
        "<target version=\"1.0\">\n"
        "<architecture>i386:x86-64</architecture>\n");
    const std::vector<RegisterInfo>& regs = RegisterLayout();
    auto feature = [&](const char* name, size_t from, size_t to) {
      absl::StrAppendFormat(out, "<feature name=\"%s\">\n", name);
      for (size_t i = from; i < to; ++i) {
        const absl::string_view n = regs[i].name;
        const char* type = n == "rip"                 ? "code_ptr"
                           : n == "rsp" || n == "rbp" ? "data_ptr"
                           : n.substr(0, 2) == "st"   ? "i387_ext"
                           : n == "eflags"            ? "int32"
                           : regs[i].size == 4        ? "int32"
                                                      : "int64";
        absl::StrAppendFormat(
            out, "  <reg name=\"%s\" bitsize=\"%d\" type=\"%s\"%s/>\n", n,
            8 * regs[i].size, type,
            i >= 24 && i < 40 ? " group=\"float\"" : "");
      }
      absl::StrAppend(out, "</feature>\n");
    };
    feature("org.gnu.gdb.i386.core", 0, 40);
    feature("org.gnu.gdb.i386.segments", 40, 42);
    feature("org.hvbios.x86.system", 42, regs.size());
    absl::StrAppend(out, "</target>\n");
    return out;
  }();
  return *xml;
}

std::string RegisterHex(const Registers& regs, size_t index) {
  if (index >= Fields().size()) return "";
  return FieldHex(regs, Fields()[index]);
}

std::string AllRegistersHex(const Registers& regs) {
  std::string out;
  for (const Field& f : Fields()) out += FieldHex(regs, f);
  return out;
}

bool SetRegisterFromHex(Registers* regs, size_t index, absl::string_view hex) {
  if (index >= kWritableRegisters) return false;
  return SetField(regs, Fields()[index], hex);
}

bool SetAllRegistersFromHex(Registers* regs, absl::string_view hex) {
  Registers out = *regs;
  size_t at = 0;
  for (size_t i = 0; i < kWritableRegisters; ++i) {
    const size_t digits = 2 * Fields()[i].info.size;
    if (hex.size() < at + digits ||
        !SetField(&out, Fields()[i], hex.substr(at, digits))) {
      return false;
    }
    at += digits;
  }
  *regs = out;
  return true;
}

}  // namespace hvbios::gdb
