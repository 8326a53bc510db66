#include "tools/hvbios-run/options.h"

#include <arpa/inet.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "tests/run_command.h"
#include "tests/test_util.h"
#include "tools/hvbios-net-user/hostfwd.h"
#include "tools/hvbios-profile/run_args.h"
#include "tools/hvbios-run/profile_tool.h"

namespace hvbios::run {
namespace {

// hvbios-run's parser with profiles read in this process; the tests of
// RunProfileTool below check that the tool reads them the same way.
absl::StatusOr<RunOptions> Parse(const std::vector<std::string>& args) {
  return ParseRunOptions(args, profile_tool::ReadProfileRunArgs);
}

TEST(ParseRunOptionsTest, FlagsInBothForms) {
  ASSERT_OK_AND_ASSIGN(
      RunOptions o, Parse({"--mem", "64M", "--cmdline=a b", "--timeout", "1.5",
                           "--cpus", "4", "guest.elf"}));
  EXPECT_EQ(o.memory_bytes, 64u << 20);
  EXPECT_EQ(o.cmdline, "a b");
  EXPECT_EQ(o.timeout, absl::Milliseconds(1500));
  EXPECT_EQ(o.image, "guest.elf");
  EXPECT_EQ(o.cpus, 4u);
  ASSERT_OK_AND_ASSIGN(o, Parse({"-m", "8M", "--timeout=250ms", "g"}));
  EXPECT_EQ(o.memory_bytes, 8u << 20);
  EXPECT_EQ(o.timeout, absl::Milliseconds(250));
  ASSERT_OK_AND_ASSIGN(o, Parse({"--help"}));
  EXPECT_TRUE(o.help);
  // After "--", an argument that looks like an option is the image.
  ASSERT_OK_AND_ASSIGN(o, Parse({"--cpus=2", "--", "-odd.elf"}));
  EXPECT_EQ(o.image, "-odd.elf");
  EXPECT_EQ(o.cpus, 2u);
  EXPECT_EQ(CodeOf(Parse({"--", "a.elf", "--cpus=2"})),
            absl::StatusCode::kInvalidArgument);
  // An empty argument is an image too: a second one is an error.
  EXPECT_EQ(CodeOf(Parse({"", "b.elf"})), absl::StatusCode::kInvalidArgument);
}

TEST(ParseRunOptionsTest, Disks) {
  ASSERT_OK_AND_ASSIGN(
      RunOptions o,
      Parse({"--disk", "a.img", "--disk=b.img,ro", "-d", "c,rw", "g"}));
  ASSERT_EQ(o.disks.size(), 3u);
  EXPECT_EQ(o.disks[0].path, "a.img");
  EXPECT_FALSE(o.disks[0].read_only);
  EXPECT_EQ(o.disks[1].path, "b.img");
  EXPECT_TRUE(o.disks[1].read_only);
  EXPECT_EQ(o.disks[2].path, "c");
  EXPECT_EQ(CodeOf(Parse({"--disk", ",ro", "g"})),
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
    absl::StatusOr<RunOptions> o = Parse(args);
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
    nets: "dgram=vm.sock,peer=/run/peer.sock,mac=02:00:00:00:00:09"
    nets: "user,hostfwd=udp::5555-:7"
    timeout_seconds: 30
  )pb");
  ASSERT_OK_AND_ASSIGN(RunOptions o, Parse({"--profile", path}));
  ASSERT_EQ(o.nets.size(), 2u);
  EXPECT_EQ(o.nets[0].kind, NetSpec::Kind::kDgram);
  EXPECT_EQ(o.nets[0].local, dir_.path() + "/vm.sock")
      << "relative to the profile";
  EXPECT_EQ(o.nets[0].peer, "/run/peer.sock");
  EXPECT_EQ(o.nets[0].mac, (std::array<uint8_t, 6>{0x02, 0, 0, 0, 0, 0x09}));
  EXPECT_EQ(o.nets[1].kind, NetSpec::Kind::kUser);
  EXPECT_EQ(o.nets[1].user_args,
            (std::vector<std::string>{"--hostfwd", "udp::5555-:7"}));
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
      o, Parse({"--cpus", "2", "-p", path, "--mem=8M", "--cmdline", "",
                "--timeout", "1", "-d", "b.img", "other.elf"}));
  EXPECT_EQ(o.image, "other.elf");
  EXPECT_EQ(o.memory_bytes, 8u << 20);
  EXPECT_EQ(o.cpus, 2u);
  EXPECT_EQ(o.cmdline, "");
  EXPECT_EQ(o.timeout, absl::Seconds(1));
  ASSERT_EQ(o.disks.size(), 1u);
  EXPECT_EQ(o.disks[0].path, "b.img");
  EXPECT_EQ(o.nets.size(), 2u) << "no --net: the profile's";
  // --net replaces the profile's nets.
  ASSERT_OK_AND_ASSIGN(o, Parse({"-p", path, "--net", "tap=hv0"}));
  ASSERT_EQ(o.nets.size(), 1u);
  EXPECT_EQ(o.nets[0].tap, "hv0");
}

TEST_F(ProfileOptionsTest, BadProfilesAreUsageErrorsNamingTheFile) {
  for (const char* text :
       {"vcpus: 0", "memory: \"lots\"", "timeout_seconds: -1", "colour: 3",
        "vcpus: 2" /* and no guest anywhere */}) {
    const std::string path = Write(text);
    absl::StatusOr<RunOptions> o = Parse({"--profile", path});
    EXPECT_EQ(CodeOf(o), absl::StatusCode::kInvalidArgument) << text;
    if (std::string(text) != "vcpus: 2") {
      EXPECT_NE(o.status().message().find(path), std::string::npos)
          << o.status();
    }
  }
  EXPECT_EQ(CodeOf(Parse({"--profile", dir_.path() + "/none"})),
            absl::StatusCode::kNotFound);
  const std::string path = Write("guest: \"g.elf\"");
  EXPECT_EQ(CodeOf(Parse({"-p", path, "-p", path})),
            absl::StatusCode::kInvalidArgument);
}

// The args hvbios-profile prints are the ones its library function
// returns, and its errors keep their kind across the process boundary.
TEST_F(ProfileOptionsTest, TheToolReadsProfilesAsTheLibraryDoes) {
  const std::string path = Write(R"pb(
    guest: "-g.elf"
    memory: "64M"
    vcpus: 4
    cmdline: "a 'quoted' \"line\""
    disks { path: "ends,ro" }
    disks { path: "/abs.img" read_only: true }
    nets: "dgram=a b,peer=c"
    timeout_seconds: 1234567.125
  )pb");
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> in_process,
                       profile_tool::ReadProfileRunArgs(path));
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> from_tool,
                       RunProfileTool(HVBIOS_PROFILE_TOOL_PATH, path));
  EXPECT_EQ(from_tool, in_process);
  ASSERT_OK_AND_ASSIGN(RunOptions o, Parse({"-p", path}));
  EXPECT_EQ(o.image, dir_.path() + "/-g.elf");
  EXPECT_EQ(o.cmdline, "a 'quoted' \"line\"");
  ASSERT_EQ(o.disks.size(), 2u);
  EXPECT_EQ(o.disks[0].path, dir_.path() + "/ends,ro");
  EXPECT_FALSE(o.disks[0].read_only);
  EXPECT_TRUE(o.disks[1].read_only);
  EXPECT_EQ(o.timeout, absl::Seconds(1234567.125));

  const std::string bad = Write("vcpus: 2\ncolour: 3");
  absl::StatusOr<std::vector<std::string>> r =
      RunProfileTool(HVBIOS_PROFILE_TOOL_PATH, bad);
  EXPECT_EQ(CodeOf(r), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find(bad + ": VM profile: line 2"),
            std::string::npos)
      << r.status();
  EXPECT_EQ(CodeOf(RunProfileTool(HVBIOS_PROFILE_TOOL_PATH, bad + ".none")),
            absl::StatusCode::kNotFound);
  const std::string fifo = dir_.path() + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  r = RunProfileTool(HVBIOS_PROFILE_TOOL_PATH, fifo);
  EXPECT_EQ(CodeOf(r), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("not a regular file"), std::string::npos)
      << r.status();
}

TEST(RunProfileToolTest, AToolThatBreaksTheProtocolIsAnInternalError) {
  // echo prints its arguments with a newline, not NUL-terminated.
  EXPECT_EQ(CodeOf(RunProfileTool("/bin/echo", "x")),
            absl::StatusCode::kInternal);
  EXPECT_EQ(CodeOf(RunProfileTool("/nonexistent/hvbios-profile", "x")),
            absl::StatusCode::kInternal);
  EXPECT_EQ(CodeOf(RunProfileTool("/bin/false", "x")),
            absl::StatusCode::kInvalidArgument);  // exit status 1
}

// hvbios-run itself reads profiles through the tool next to it: the
// settings arrive (checked before any VM exists, so no /dev/kvm needed).
TEST_F(ProfileOptionsTest, HvbiosRunTakesProfilesThroughTheTool) {
  testing::CommandResult r = testing::RunCommand(
      {HVBIOS_RUN_PATH, "--profile", Write("vcpus: 300\nguest: \"g.elf\"")});
  EXPECT_EQ(r.exit_status, kExitUsage) << r.err;
  EXPECT_NE(r.err.find("254"), std::string::npos) << r.err;
  r = testing::RunCommand(
      {HVBIOS_RUN_PATH, "--profile", Write("guest: \"missing.elf\"")});
  EXPECT_EQ(r.exit_status, kExitBadImage) << r.err;
  EXPECT_NE(r.err.find(dir_.path() + "/missing.elf"), std::string::npos)
      << r.err;
  r = testing::RunCommand({HVBIOS_RUN_PATH, "-p", Write("memory: \"x\"")});
  EXPECT_EQ(r.exit_status, kExitUsage) << r.err;
  EXPECT_NE(r.err.find("vm.textproto: malformed memory size 'x'"),
            std::string::npos)
      << r.err;
}

TEST(ParseRunOptionsTest, Nets) {
  ASSERT_OK_AND_ASSIGN(
      RunOptions o, Parse({"--net", "tap=hv0", "--net=dgram=/tmp/a,peer=/tmp/b",
                           "-n", "tap=hv1,mac=52:54:00:00:00:01", "g"}));
  ASSERT_EQ(o.nets.size(), 3u);
  EXPECT_EQ(o.nets[0].kind, NetSpec::Kind::kTap);
  EXPECT_EQ(o.nets[0].tap, "hv0");
  EXPECT_FALSE(o.nets[0].mac.has_value());
  EXPECT_EQ(o.nets[1].kind, NetSpec::Kind::kDgram);
  EXPECT_EQ(o.nets[1].local, "/tmp/a");
  EXPECT_EQ(o.nets[1].peer, "/tmp/b");
  ASSERT_TRUE(o.nets[2].mac.has_value());
  EXPECT_EQ((*o.nets[2].mac)[5], 1);
  ASSERT_OK_AND_ASSIGN(
      o,
      Parse({"--net", "user", "--net",
             "user,hostfwd=udp::5555-:7,hostfwd=tcp:0.0.0.0:8080-10.0.2.15:80,"
             "restrict=on,mac=02:00:00:00:00:09",
             "g"}));
  ASSERT_EQ(o.nets.size(), 2u);
  EXPECT_EQ(o.nets[0].kind, NetSpec::Kind::kUser);
  EXPECT_TRUE(o.nets[0].user_args.empty());
  EXPECT_EQ(o.nets[1].user_args,
            (std::vector<std::string>{"--hostfwd", "udp::5555-:7", "--hostfwd",
                                      "tcp:0.0.0.0:8080-10.0.2.15:80",
                                      "--restrict"}));
  for (const char* bad :
       {"", "tap", "tap=", "user=1", "user,hostfwd=udp::0-:7",
        "user,hostfwd=udp::5555", "user,hostfwd=icmp::1-:1",
        "user,hostfwd=udp:300.1.1.1:1-:1", "user,restrict=yes",
        "tap=a,hostfwd=udp::1-:1", "dgram=/tmp/a", "peer=/tmp/b,dgram=/tmp/a",
        "tap=a,peer=/tmp/b", "tap=a,mac=01:00:5e:00:00:01", "tap=a,mac=1",
        "tap=a,mac=52:54:00:00:00:01,mac=52:54:00:00:00:02", "tap=a,tap=b",
        "dgram=/a,peer=/b,peer=/c", "tap=a,x=1"}) {
    EXPECT_EQ(CodeOf(Parse({"--net", bad, "g"})),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  std::vector<std::string> args;
  for (size_t i = 0; i <= kMaxNets; ++i) {
    args.push_back("--net=tap=hv" + std::to_string(i));
  }
  args.push_back("g");
  EXPECT_EQ(CodeOf(Parse(args)), absl::StatusCode::kInvalidArgument);
}

TEST(HostForwardTest, ParsesQemusSyntaxWithALoopbackDefault) {
  ASSERT_OK_AND_ASSIGN(net_user::HostForward f,
                       net_user::ParseHostForward("udp::5555-:7"));
  EXPECT_TRUE(f.udp);
  EXPECT_EQ(ntohl(f.host_address.s_addr), 0x7f000001u) << "loopback only";
  EXPECT_EQ(f.host_port, 5555);
  EXPECT_EQ(ntohl(f.guest_address.s_addr), net_user::kGuestAddress);
  EXPECT_EQ(f.guest_port, 7);
  ASSERT_OK_AND_ASSIGN(
      f, net_user::ParseHostForward(":192.168.1.5:80-10.0.2.20:8080"));
  EXPECT_FALSE(f.udp) << "TCP by default, as in QEMU";
  EXPECT_EQ(ntohl(f.host_address.s_addr), 0xc0a80105u);
  EXPECT_EQ(ntohl(f.guest_address.s_addr), 0x0a000214u);
  EXPECT_EQ(f.guest_port, 8080);
  for (const char* bad : {"", "udp", "udp::5555-:", "udp::65536-:7",
                          "udp:::5555-:7", "sctp::1-:1", "udp::1-:1-:1"}) {
    EXPECT_FALSE(net_user::ParseHostForward(bad).ok()) << bad;
  }
}

TEST(UsageTextTest, DocumentsEveryFlagAndExitStatus) {
  const std::string usage = UsageText();
  for (const char* text :
       {"--mem", "--cpus", "--net", "--cmdline", "--timeout", "--trace",
        "--profile", "--help", "120", "121", "122", "123", "124", "125"}) {
    EXPECT_NE(usage.find(text), std::string::npos) << text;
  }
}

}  // namespace
}  // namespace hvbios::run
