#include "tools/hvbios-run/options.h"

#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace hvbios::run {
namespace {

TEST(ParseMemorySizeTest, UnitsAndErrors) {
  EXPECT_EQ(*ParseMemorySize("2097152"), 2097152u);
  EXPECT_EQ(*ParseMemorySize("64M"), 64u << 20);
  EXPECT_EQ(*ParseMemorySize("64m"), 64u << 20);
  EXPECT_EQ(*ParseMemorySize("64MiB"), 64u << 20);
  EXPECT_EQ(*ParseMemorySize("64MB"), 64u << 20);
  EXPECT_EQ(*ParseMemorySize("2G"), 2ull << 30);
  EXPECT_EQ(*ParseMemorySize("512K"), 512u << 10);
  for (const char* bad : {"", "M", "lots", "12X", "-4M", "1.5G", "64 M",
                          "99999999999999999999", "17179869184G"}) {
    EXPECT_EQ(CodeOf(ParseMemorySize(bad)), absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(ParseRunOptionsTest, FlagsInBothForms) {
  ASSERT_OK_AND_ASSIGN(
      RunOptions o,
      ParseRunOptions({"--mem", "64M", "--cmdline=a b", "--timeout", "1.5",
                       "--cpus", "4", "guest.elf"}));
  EXPECT_EQ(o.memory_bytes, 64u << 20);
  EXPECT_EQ(o.cmdline, "a b");
  EXPECT_EQ(o.timeout, absl::Milliseconds(1500));
  EXPECT_EQ(o.image, "guest.elf");
  EXPECT_EQ(o.cpus, 4u);
  ASSERT_OK_AND_ASSIGN(o,
                       ParseRunOptions({"-m", "8M", "--timeout=250ms", "g"}));
  EXPECT_EQ(o.memory_bytes, 8u << 20);
  EXPECT_EQ(o.timeout, absl::Milliseconds(250));
  ASSERT_OK_AND_ASSIGN(o, ParseRunOptions({"--help"}));
  EXPECT_TRUE(o.help);
}

TEST(ParseRunOptionsTest, Disks) {
  ASSERT_OK_AND_ASSIGN(
      RunOptions o, ParseRunOptions({"--disk", "a.img", "--disk=b.img,ro", "-d",
                                     "c,rw", "g"}));
  ASSERT_EQ(o.disks.size(), 3u);
  EXPECT_EQ(o.disks[0].path, "a.img");
  EXPECT_FALSE(o.disks[0].read_only);
  EXPECT_EQ(o.disks[1].path, "b.img");
  EXPECT_TRUE(o.disks[1].read_only);
  EXPECT_EQ(o.disks[2].path, "c");
  EXPECT_EQ(CodeOf(ParseRunOptions({"--disk", ",ro", "g"})),
            absl::StatusCode::kInvalidArgument);
}

TEST(ParseRunOptionsTest, Misuse) {
  const std::vector<std::vector<std::string>> bad = {
      {},
      {"--mem"},
      {"--mem", "lots", "g"},
      {"--timeout", "0", "g"},
      {"--timeout", "soon", "g"},
      {"--cpus", "0", "g"},
      {"--cpus", "many", "g"},
      {"--frobnicate", "g"},
      {"a.elf", "b.elf"},
  };
  for (const auto& args : bad) {
    absl::StatusOr<RunOptions> o = ParseRunOptions(args);
    EXPECT_EQ(CodeOf(o), absl::StatusCode::kInvalidArgument);
    if (!o.ok()) {
      EXPECT_EQ(std::string(o.status().message()).find('\n'),
                std::string::npos);
    }
  }
}

TEST(UsageTextTest, DocumentsEveryFlagAndExitStatus) {
  const std::string usage = UsageText();
  for (const char* text :
       {"--mem", "--cpus", "--cmdline", "--timeout", "--help", "120", "121",
        "122", "123", "124", "125"}) {
    EXPECT_NE(usage.find(text), std::string::npos) << text;
  }
}

}  // namespace
}  // namespace hvbios::run
