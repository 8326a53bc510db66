#include "lib/gdb_protocol.h"

#include <cstring>

#include "gtest/gtest.h"

namespace hvbios::gdb {
namespace {

using Kind = PacketReader::Item::Kind;

TEST(PacketReaderTest, SplitsAcksInterruptsAndPacketsFedInPieces) {
  PacketReader reader;
  reader.Feed("+junk$qSupp");
  ASSERT_EQ(reader.Next()->kind, Kind::kAck);
  EXPECT_FALSE(reader.Next().has_value()) << "half a packet waits";
  reader.Feed("orted#37");
  std::optional<PacketReader::Item> item = reader.Next();
  ASSERT_TRUE(item.has_value());
  EXPECT_EQ(item->kind, Kind::kPacket);
  EXPECT_EQ(item->payload, "qSupported");
  reader.Feed("\x03-$g#67$g#00");
  EXPECT_EQ(reader.Next()->kind, Kind::kInterrupt);
  EXPECT_EQ(reader.Next()->kind, Kind::kNack);
  item = reader.Next();
  EXPECT_EQ(item->kind, Kind::kPacket);
  EXPECT_EQ(item->payload, "g");
  EXPECT_EQ(reader.Next()->kind, Kind::kBadPacket) << "checksum 00 is wrong";
  EXPECT_FALSE(reader.Next().has_value());
}

TEST(PacketReaderTest, AnEndlessPacketIsDroppedNotBuffered) {
  PacketReader reader;
  reader.Feed("$");
  reader.Feed(std::string(PacketReader::kMaxPacket + 1, 'a'));
  std::optional<PacketReader::Item> item = reader.Next();
  ASSERT_TRUE(item.has_value());
  EXPECT_EQ(item->kind, Kind::kBadPacket);
  reader.Feed("$g#68");  // a wrong checksum
  reader.Feed("$g#zz");  // checksum digits that are no hex
  EXPECT_EQ(reader.Next()->kind, Kind::kBadPacket);
  EXPECT_EQ(reader.Next()->kind, Kind::kBadPacket);
}

TEST(FramingTest, FramesEscapeAndChecksum) {
  EXPECT_EQ(Frame("OK"), "$OK#9a");
  EXPECT_EQ(Frame(""), "$#00");
  // '#', '$', '}' and '*' travel escaped; the checksum covers the escapes.
  const std::string framed = Frame("a#b");
  EXPECT_EQ(framed.substr(0, 6),
            "$a}\x03"
            "b#");
  PacketReader reader;
  reader.Feed(framed);
  EXPECT_EQ(UnescapeBinary(reader.Next()->payload), "a#b");
  EXPECT_EQ(UnescapeBinary("x}]y}\x03"), "x}y#");
  EXPECT_EQ(UnescapeBinary("x}"), std::nullopt) << "cut inside an escape";
}

TEST(HexTest, EncodesAndRejectsMalformedHex) {
  const uint8_t bytes[] = {0x00, 0xab, 0x7f};
  EXPECT_EQ(ToHex(bytes, 3), "00ab7f");
  EXPECT_EQ(HexOfString("OK\n"), "4f4b0a");
  EXPECT_EQ(FromHex("00aB7f"), (std::vector<uint8_t>{0x00, 0xab, 0x7f}));
  EXPECT_FALSE(FromHex("abc").has_value());
  EXPECT_FALSE(FromHex("zz").has_value());
  EXPECT_EQ(ParseHexNumber("100020"), 0x100020u);
  EXPECT_EQ(ParseHexNumber("ffffffffffffffff"), UINT64_MAX);
  EXPECT_FALSE(ParseHexNumber("1ffffffffffffffff").has_value());
  EXPECT_FALSE(ParseHexNumber("").has_value());
  EXPECT_FALSE(ParseHexNumber("-1").has_value());
}

TEST(RegistersTest, TheGPacketFollowsTheTargetDescription) {
  const std::vector<RegisterInfo>& layout = RegisterLayout();
  ASSERT_EQ(layout.size(), 47u);
  size_t bytes = 0;
  for (const RegisterInfo& r : layout) {
    EXPECT_NE(
        TargetXml().find(std::string("name=\"") + r.name + "\" bitsize=\"" +
                         std::to_string(8 * r.size) + "\""),
        std::string::npos)
        << r.name;
    bytes += r.size;
  }
  Registers regs = {};
  regs.rax = 0x1122334455667788;
  regs.rflags = 0x246;
  regs.cs = 0x8;
  regs.efer = 0xd00;
  const std::string g = AllRegistersHex(regs);
  EXPECT_EQ(g.size(), 2 * bytes);
  EXPECT_EQ(g.substr(0, 16), "8877665544332211") << "little-endian";
  EXPECT_EQ(RegisterHex(regs, 17), "46020000") << "eflags: 4 bytes";
  EXPECT_EQ(RegisterHex(regs, 18), "08000000") << "cs: 4 bytes";
  EXPECT_EQ(RegisterHex(regs, 24), std::string(20, 'x')) << "st0 unavailable";
  EXPECT_EQ(RegisterHex(regs, 46), "000d000000000000") << "efer";
  EXPECT_EQ(RegisterHex(regs, 47), "");
  EXPECT_NE(TargetXml().find("<architecture>i386:x86-64</architecture>"),
            std::string::npos);
}

TEST(RegistersTest, OnlyGeneralRegistersRipAndEflagsAreWritten) {
  Registers regs = {};
  regs.cr3 = 0x5000;
  EXPECT_TRUE(SetRegisterFromHex(&regs, 1, "efbeadde00000000"));
  EXPECT_EQ(regs.rbx, 0xdeadbeefu);
  EXPECT_TRUE(SetRegisterFromHex(&regs, 17, "02030000"));
  EXPECT_EQ(regs.rflags, 0x302u);
  EXPECT_FALSE(SetRegisterFromHex(&regs, 17, "0203")) << "wrong size";
  EXPECT_FALSE(SetRegisterFromHex(&regs, 44, "0000000000000000")) << "cr3";
  EXPECT_FALSE(SetRegisterFromHex(&regs, 18, "10000000")) << "cs";

  Registers source = {};
  source.rdi = 7, source.r15 = 15, source.rip = 0x100000, source.rflags = 2;
  source.cr3 = 0x9000;  // read-only: G leaves it alone
  Registers target = regs;
  ASSERT_TRUE(SetAllRegistersFromHex(&target, AllRegistersHex(source)));
  EXPECT_EQ(target.rdi, 7u);
  EXPECT_EQ(target.r15, 15u);
  EXPECT_EQ(target.rip, 0x100000u);
  EXPECT_EQ(target.rbx, 0u);
  EXPECT_EQ(target.cr3, 0x5000u);
  EXPECT_FALSE(SetAllRegistersFromHex(&target, "0011")) << "too short";
}

}  // namespace
}  // namespace hvbios::gdb
