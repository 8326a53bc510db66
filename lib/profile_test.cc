#include "hvbios/profile.h"

#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace hvbios {
namespace {

using testing::ScopedTempDir;

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

TEST(VmProfileTest, ParsesEveryField) {
  ASSERT_OK_AND_ASSIGN(VmProfile p, ParseVmProfile(R"pb(
                         # a comment
                         guest: "smp.elf"
                         memory: "64M"
                         vcpus: 4
                         cmdline: "verbose"
                         disks { path: "a.img" }
                         disks { path: "b.img" read_only: true }
                         nets: "tap=hv0"
                         nets: "user"
                         timeout_seconds: 2.5
                       )pb"));
  EXPECT_EQ(p.nets_size(), 2);
  EXPECT_EQ(p.nets(1), "user");
  EXPECT_EQ(p.guest(), "smp.elf");
  EXPECT_EQ(p.memory(), "64M");
  EXPECT_EQ(p.vcpus(), 4u);
  EXPECT_EQ(p.cmdline(), "verbose");
  ASSERT_EQ(p.disks_size(), 2);
  EXPECT_FALSE(p.disks(0).read_only());
  EXPECT_TRUE(p.disks(1).read_only());
  EXPECT_EQ(p.timeout_seconds(), 2.5);
  ASSERT_OK_AND_ASSIGN(VmProfile empty, ParseVmProfile(""));
  EXPECT_FALSE(empty.has_vcpus()) << "unset fields stay unset";
}

TEST(VmProfileTest, ErrorsNameTheLineAndColumn) {
  absl::StatusOr<VmProfile> p = ParseVmProfile("vcpus: 2\ncpus: 4\n");
  ASSERT_EQ(CodeOf(p), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(p.status().message().find("line 2, column "), std::string::npos)
      << p.status();
  EXPECT_NE(p.status().message().find("cpus"), std::string::npos);
  p = ParseVmProfile("vcpus: \"four\"");
  EXPECT_EQ(CodeOf(p), absl::StatusCode::kInvalidArgument);
  p = ParseVmProfile("disks { path: \"a\" ");
  EXPECT_EQ(CodeOf(p), absl::StatusCode::kInvalidArgument);
}

TEST(VmProfileTest, ReadMakesPathsRelativeToTheFile) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create("profile"));
  const std::string path = dir.path() + "/vm.textproto";
  std::ofstream(path) << "guest: \"g.elf\"\n"
                         "disks { path: \"d.img\" }\n"
                         "disks { path: \"/abs/e.img\" }\n"
                         "nets: \"dgram=a.sock,peer=/abs/b.sock,mac=02:0:0\"\n"
                         "nets: \"tap=t.sock,peer=p\"\n";
  ASSERT_OK_AND_ASSIGN(VmProfile p, ReadVmProfile(path));
  EXPECT_EQ(p.nets(0), absl::StrCat("dgram=", dir.path(),
                                    "/a.sock,peer=/abs/b.sock,mac=02:0:0"))
      << "socket paths only, and the rest as written";
  EXPECT_EQ(p.nets(1), absl::StrCat("tap=t.sock,peer=", dir.path(), "/p"));
  EXPECT_EQ(p.guest(), dir.path() + "/g.elf");
  EXPECT_EQ(p.disks(0).path(), dir.path() + "/d.img");
  EXPECT_EQ(p.disks(1).path(), "/abs/e.img");

  EXPECT_EQ(CodeOf(ReadVmProfile(dir.path() + "/missing")),
            absl::StatusCode::kNotFound);
  std::ofstream(path) << "memory: 64\n";  // a number, not a string
  absl::StatusOr<VmProfile> bad = ReadVmProfile(path);
  ASSERT_EQ(CodeOf(bad), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find(path), std::string::npos)
      << bad.status();
}

TEST(VmProfileTest, OptionsFromAProfile) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create("profile"));
  const std::string disk = dir.path() + "/d.img";
  const std::string disk2 = dir.path() + "/e.img";
  std::ofstream(disk) << std::string(4096, 'x');
  std::ofstream(disk2) << std::string(4096, 'y');
  VmProfile p;
  p.set_memory("64M");
  p.set_vcpus(3);
  p.set_cmdline("x=1");
  p.add_disks()->set_path(disk);
  Disk* ro = p.add_disks();
  ro->set_path(disk2);
  ro->set_read_only(true);
  ASSERT_OK_AND_ASSIGN(VmOptions o, VmOptionsFromProfile(p));
  EXPECT_EQ(o.memory_bytes, 64u << 20);
  EXPECT_EQ(o.vcpu_count, 3u);
  EXPECT_EQ(o.cmdline, "x=1");
  ASSERT_EQ(o.disks.size(), 2u);
  EXPECT_FALSE(o.disks[0]->read_only());
  EXPECT_TRUE(o.disks[1]->read_only());

  // Links the library opens itself: a datagram cable, with its MAC.
  VmProfile with_net;
  with_net.add_nets(absl::StrCat("dgram=", dir.path(), "/a.sock,peer=",
                                 dir.path(), "/b.sock,mac=02:00:00:00:00:07"));
  ASSERT_OK_AND_ASSIGN(VmOptions n, VmOptionsFromProfile(with_net));
  ASSERT_EQ(n.nets.size(), 1u);
  EXPECT_EQ(n.nets[0].mac, (std::array<uint8_t, 6>{2, 0, 0, 0, 0, 7}));
  EXPECT_NE(n.nets[0].link, nullptr);

  ASSERT_OK_AND_ASSIGN(VmOptions defaults, VmOptionsFromProfile(VmProfile()));
  EXPECT_EQ(defaults.memory_bytes, VmOptions().memory_bytes);
  EXPECT_EQ(defaults.vcpu_count, 1u);
}

TEST(VmProfileTest, BadValuesNameTheirField) {
  struct Case {
    const char* text;
    absl::StatusCode code;
    const char* mentions;
  };
  for (const Case& c : {
           Case{"memory: \"3M\"", absl::StatusCode::kInvalidArgument, "2 MiB"},
           Case{"memory: \"lots\"", absl::StatusCode::kInvalidArgument,
                "memory"},
           Case{"vcpus: 0", absl::StatusCode::kInvalidArgument, "vCPU"},
           Case{"vcpus: 300", absl::StatusCode::kInvalidArgument, "vCPU"},
           Case{"disks { path: \"/nonexistent/x.img\" }",
                absl::StatusCode::kNotFound, "disks[0]"},
           Case{"nets: \"dgram=/tmp/x\"", absl::StatusCode::kInvalidArgument,
                "nets[0]"},
           Case{"nets: \"tap=a,mac=01:00:00:00:00:00\"",
                absl::StatusCode::kInvalidArgument, "unicast"},
           Case{"nets: \"user,hostfwd=udp::1-:7\"",
                absl::StatusCode::kUnimplemented, "hvbios-net-user"},
       }) {
    ASSERT_OK_AND_ASSIGN(VmProfile p, ParseVmProfile(c.text));
    absl::StatusOr<VmOptions> o = VmOptionsFromProfile(p);
    EXPECT_EQ(CodeOf(o), c.code) << c.text << ": " << o.status();
    EXPECT_NE(o.status().message().find(c.mentions), std::string::npos)
        << c.text << ": " << o.status();
  }
}

}  // namespace
}  // namespace hvbios
