// The pieces of gdb's remote serial protocol (gdb manual, "Remote Protocol")
// that need no VM: framing packets out of a byte stream, hex and binary
// encodings, and the x86-64 register layout the stub's target description
// declares. lib/gdb_server.cc builds the session on them.
#ifndef HVBIOS_LIB_GDB_PROTOCOL_H_
#define HVBIOS_LIB_GDB_PROTOCOL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "hvbios/backend.h"

namespace hvbios::gdb {

// Splits the byte stream from gdb into what it carries.
class PacketReader {
 public:
  struct Item {
    enum class Kind {
      kPacket,     // `payload` (checksum good)
      kBadPacket,  // checksum mismatch or oversized: answer '-'
      kAck,        // '+'
      kNack,       // '-': resend the last packet
      kInterrupt,  // 0x03 (Ctrl-C)
    };
    Kind kind;
    std::string payload;
  };

  // A packet longer than this is dropped as bad (a peer cannot make the
  // stub buffer without bound).
  static constexpr size_t kMaxPacket = 64 * 1024;

  void Feed(absl::string_view bytes);
  // The next complete item, if any; junk between packets is skipped.
  std::optional<Item> Next();

 private:
  std::string buffer_;
};

// "$payload#cs", escaping '$', '#', '}' and '*' in the payload.
std::string Frame(absl::string_view payload);

// X packets' binary data: "}x" stands for x ^ 0x20; nullopt if the data
// ends inside an escape.
std::optional<std::string> UnescapeBinary(absl::string_view data);

std::string ToHex(const void* data, size_t length);
std::string HexOfString(absl::string_view text);
// Decodes pairs of hex digits; nullopt on odd length or a non-hex digit.
std::optional<std::vector<uint8_t>> FromHex(absl::string_view hex);
// A hex number (no prefix); nullopt if empty, not hex, or over 64 bits.
std::optional<uint64_t> ParseHexNumber(absl::string_view text);

// The registers as the target description (TargetXml) numbers them: the
// order of the 'g' packet. x87 registers are declared (gdb's x86-64
// architecture requires them) but reported unavailable: the guest ABI is
// general-registers-only (docs/abi.md) and the backend does not read them.
struct RegisterInfo {
  const char* name;
  int size;  // bytes
};
const std::vector<RegisterInfo>& RegisterLayout();
// The target description for qXfer:features:read:target.xml.
const std::string& TargetXml();

// Register `index` of `regs` as hex, little-endian ("xx.." if unavailable);
// "" if there is no such register.
std::string RegisterHex(const Registers& regs, size_t index);
// Every register, in order: the 'g' reply.
std::string AllRegistersHex(const Registers& regs);
// Sets register `index` from `hex` (its full size). False for a register
// that cannot be written (only rax..r15, rip and eflags can) or bad hex.
bool SetRegisterFromHex(Registers* regs, size_t index, absl::string_view hex);
// A 'G' payload: every writable register in it, the rest ignored. False
// if it is too short or not hex.
bool SetAllRegistersFromHex(Registers* regs, absl::string_view hex);

}  // namespace hvbios::gdb

#endif  // HVBIOS_LIB_GDB_PROTOCOL_H_
