#include "tools/hvbios-run/options.h"

#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace hvbios::run {
namespace {

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
      // Not finite, or overflowing deadline arithmetic (1e11 s fired
      // after 28 ms; nan and inf meant "no limit").
      {"--timeout", "nan", "g"},
      {"--timeout", "inf", "g"},
      {"--timeout", "-inf", "g"},
      {"--timeout", "1e30", "g"},
      {"--timeout", "1e11", "g"},
      {"--timeout", "9223372035", "g"},
      {"--timeout", "100000h", "g"},
      {"--timeout", "-1", "g"},
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

class ProfileOptionsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(dir_.Create("profile_options")); }
  std::string Write(const std::string& text) {
    const std::string path = dir_.path() + "/vm.textproto";
    std::ofstream(path) << text;
    return path;
  }
  testing::ScopedTempDir dir_;
};

TEST_F(ProfileOptionsTest, TheProfileFillsWhatTheFlagsLeaveOut) {
  const std::string path = Write(R"pb(
    guest: "smp.elf"
    memory: "64M"
    vcpus: 4
    cmdline: "from the profile"
    disks { path: "a.img" read_only: true }
    timeout_seconds: 30
  )pb");
  ASSERT_OK_AND_ASSIGN(RunOptions o, ParseRunOptions({"--profile", path}));
  EXPECT_EQ(o.image, dir_.path() + "/smp.elf");
  EXPECT_EQ(o.memory_bytes, 64u << 20);
  EXPECT_EQ(o.cpus, 4u);
  EXPECT_EQ(o.cmdline, "from the profile");
  ASSERT_EQ(o.disks.size(), 1u);
  EXPECT_EQ(o.disks[0].path, dir_.path() + "/a.img");
  EXPECT_TRUE(o.disks[0].read_only);
  EXPECT_EQ(o.timeout, absl::Seconds(30));

  // Flags win, wherever they stand; --disk replaces the profile's disks.
  ASSERT_OK_AND_ASSIGN(
      o, ParseRunOptions({"--cpus", "2", "-p", path, "--mem=8M", "--cmdline",
                          "", "--timeout", "1", "-d", "b.img", "other.elf"}));
  EXPECT_EQ(o.image, "other.elf");
  EXPECT_EQ(o.memory_bytes, 8u << 20);
  EXPECT_EQ(o.cpus, 2u);
  EXPECT_EQ(o.cmdline, "");
  EXPECT_EQ(o.timeout, absl::Seconds(1));
  ASSERT_EQ(o.disks.size(), 1u);
  EXPECT_EQ(o.disks[0].path, "b.img");
}

TEST_F(ProfileOptionsTest, BadProfilesAreUsageErrorsNamingTheFile) {
  for (const char* text :
       {"vcpus: 0", "memory: \"lots\"", "timeout_seconds: -1", "colour: 3",
        "vcpus: 2" /* and no guest anywhere */}) {
    const std::string path = Write(text);
    absl::StatusOr<RunOptions> o = ParseRunOptions({"--profile", path});
    EXPECT_EQ(CodeOf(o), absl::StatusCode::kInvalidArgument) << text;
    if (std::string(text) != "vcpus: 2") {
      EXPECT_NE(o.status().message().find(path), std::string::npos)
          << o.status();
    }
  }
  EXPECT_EQ(CodeOf(ParseRunOptions({"--profile", dir_.path() + "/none"})),
            absl::StatusCode::kNotFound);
  const std::string path = Write("guest: \"g.elf\"");
  EXPECT_EQ(CodeOf(ParseRunOptions({"-p", path, "-p", path})),
            absl::StatusCode::kInvalidArgument);
}

TEST(UsageTextTest, DocumentsEveryFlagAndExitStatus) {
  const std::string usage = UsageText();
  for (const char* text :
       {"--mem", "--cpus", "--cmdline", "--timeout", "--profile", "--help",
        "120", "121", "122", "123", "124", "125"}) {
    EXPECT_NE(usage.find(text), std::string::npos) << text;
  }
}

}  // namespace
}  // namespace hvbios::run
