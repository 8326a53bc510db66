// The bare-metal firmware booted as a PC boots it: hvbios-mkimage's GRUB
// image from a CD drive, started by the PC's own firmware — SeaBIOS on pc
// (IDE disks) and on q35 (AHCI disks), OVMF (UEFI) on q35 — under QEMU
// (TCG). The guest images are the ones every other test boots, unchanged.
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <optional>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/baremetal/screen_text.h"
#include "tests/kvm/kvm_guest.h"
#include "tests/run_command.h"
#include "tests/test_util.h"

namespace hvbios {
namespace {

using testing::CommandResult;
using testing::GuestPath;
using testing::RunCommand;

constexpr char kOvmfCode[] = "/usr/share/OVMF/OVMF_CODE_4M.fd";
constexpr char kOvmfVars[] = "/usr/share/OVMF/OVMF_VARS_4M.fd";
// The suite gives typed-ahead input 300 ms to arrive after this.
constexpr char kConformanceBanner[] = "hvbios conformance, ABI";
// Booting through OVMF under TCG takes seconds; guard hangs generously.
constexpr int kBootGuardSeconds = 240;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// "N passed, 0 failed" as the suite's last line says it, or "".
std::string Tally(const std::string& out) {
  const size_t end = out.rfind(" passed, 0 failed");
  if (end == std::string::npos) return "";
  const size_t start = out.rfind('\n', end);
  return out.substr(start == std::string::npos ? 0 : start + 1,
                    end - (start == std::string::npos ? 0 : start + 1)) +
         " passed, 0 failed";
}

class ImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* tool :
         {"qemu-system-x86_64", "grub-mkrescue", "xorriso", "mformat"}) {
      if (testing::CommandPath(tool).empty()) {
        GTEST_SKIP() << tool
                     << " is not installed (scripts/install-deps.sh "
                        "installs it)";
      }
    }
    ASSERT_TRUE(temp_dir_.Create("image_test"));
  }
  bool HaveOvmf() {
    struct stat st;
    return stat(kOvmfCode, &st) == 0 && stat(kOvmfVars, &st) == 0;
  }
  // hvbios-mkimage GUEST [--cmdline CMDLINE] -o NAME.iso: its path.
  std::string MakeImage(const std::string& guest, const std::string& name,
                        const std::string* cmdline = nullptr) {
    const std::string out = Path(name + ".iso");
    std::vector<std::string> args = {HVBIOS_MKIMAGE_PATH, GuestPath(guest),
                                     "-o", out};
    if (cmdline) args.insert(args.end(), {"--cmdline", *cmdline});
    CommandResult r = RunCommand(args, "", 120);
    EXPECT_EQ(r.exit_status, 0) << r.err;
    return out;
  }
  std::string Path(const std::string& name) {
    return temp_dir_.path() + "/" + name;
  }
  std::string Write(const std::string& name, const std::vector<uint8_t>& b) {
    const std::string path = Path(name);
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(b.data()), b.size());
    return path;
  }
  // QEMU itself, as a user would run it: no isa-debug-exit, no debug
  // console, so only the firmware's ACPI power-off ends it.
  std::vector<std::string> PlainQemuArgs(const std::string& image, bool uefi) {
    std::vector<std::string> args = {"qemu-system-x86_64",
                                     "-machine",
                                     uefi ? "q35" : "pc",
                                     "-m",
                                     "128M",
                                     "-nodefaults",
                                     "-display",
                                     "none",
                                     "-no-reboot",
                                     "-serial",
                                     "stdio",
                                     "-cdrom",
                                     image};
    if (uefi) {
      const std::string vars = Path("vars.fd");
      EXPECT_EQ(std::system(absl::StrCat("cp ", kOvmfVars, " ", vars).c_str()),
                0);
      args.insert(
          args.end(),
          {"-drive",
           absl::StrCat("if=pflash,format=raw,readonly=on,file=", kOvmfCode),
           "-drive", "if=pflash,format=raw,file=" + vars});
    }
    return args;
  }
  CommandResult BootPlainQemu(const std::string& image, bool uefi) {
    return RunCommand(PlainQemuArgs(image, uefi), "", kBootGuardSeconds);
  }
  testing::ScopedTempDir temp_dir_;
};

// A CPU without RDRAND (QEMU's qemu64, or a PC from before 2012) gives no
// rng: base.probe says so, fill answers HVB_ERR_NOSYS, and the suite
// passes, checking buffers through the console alone.
TEST_F(ImageTest, TheConformanceSuitePassesWithoutRdrand) {
  std::vector<std::string> args =
      PlainQemuArgs(MakeImage("conformance", "no-rdrand"), /*uefi=*/false);
  args.insert(args.end(), {"-cpu", "qemu64,-rdrand"});
  CommandResult r = RunCommand(args, "", kBootGuardSeconds);
  EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("conformance: no rng on this platform"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(" passed, 0 failed"), std::string::npos) << r.out;
}

// The console is on the screen too where the PC has one: GRUB hands the
// firmware a framebuffer (32 bits a pixel on SeaBIOS, 24 on OVMF), and
// what the serial console shows from the guest's first line on is on the
// screen, cell for cell, read back from QEMU's screendump with the
// firmware's glyphs. On BIOS, a command line of 100 lines scrolls it (hello
// prints up to 512 bytes a line). QEMU
// waits after the power-off (-no-shutdown) for the screendump, typed on its
// monitor (Ctrl-A c on the console).
TEST_F(ImageTest, TheConsoleIsOnTheScreenToo) {
  std::string long_cmdline;
  for (int i = 1; i <= 100; ++i) absl::StrAppend(&long_cmdline, i, "\n");
  long_cmdline += "the end";
  const std::string short_cmdline = "on a screen";
  for (bool uefi : {false, true}) {
    if (uefi && !HaveOvmf()) {
      GTEST_SKIP() << kOvmfCode << " is missing (Debian: ovmf)";
    }
    SCOPED_TRACE(uefi ? "UEFI (OVMF, q35)" : "BIOS (SeaBIOS, pc)");
    const std::string& cmdline = uefi ? short_cmdline : long_cmdline;
    const std::string name = uefi ? "screen-uefi" : "screen-bios";
    std::vector<std::string> args =
        PlainQemuArgs(MakeImage("hello", name, &cmdline), uefi);
    args[0] = testing::CommandPath(args[0]);
    *std::find(args.begin(), args.end(), "stdio") = "mon:stdio";
    args.insert(args.end(), {"-vga", "std", "-no-shutdown"});
    const std::string shot = Path(name + ".ppm");
    const std::string last_line =
        uefi ? "command line: on a screen" : "the end";
    CommandResult r = testing::RunCommandTypingAfter(args, last_line,
                                                     "\x01"
                                                     "c"
                                                     "screendump " +
                                                         shot + "\nquit\n",
                                                     kBootGuardSeconds);
    EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
    const size_t start = r.out.find("Hello from an hvbios guest!");
    const size_t end = r.out.find("QEMU ", start);  // the monitor's banner
    ASSERT_NE(start, std::string::npos) << r.out;
    ASSERT_NE(end, std::string::npos) << r.out;
    const std::optional<testing::Screenshot> screenshot =
        testing::ReadPpm(shot);
    ASSERT_TRUE(screenshot.has_value()) << r.out;
    const testing::ScreenGeometry geometry =
        testing::GeometryOf(screenshot->width, screenshot->height);
    const std::vector<std::string> text = testing::ScreenText(*screenshot);
    EXPECT_EQ(text, testing::ExpectedScreenText(
                        r.out.substr(start, end - start), geometry));
    ASSERT_FALSE(text.empty());
    EXPECT_EQ(text.back(), uefi ? last_line : "the end");
    // 100 lines scroll a screen of any usual shape (the scale keeps it
    // under 55 rows); hello's greeting stays on the other.
    EXPECT_EQ(text.front().rfind("Hello from an hvbios guest!", 0) == 0, uefi)
        << text.front() << " on " << screenshot->width << "x"
        << screenshot->height;
  }
}

// The issue's own check: hello from a CD, on BIOS and on UEFI, prints its
// greeting and its command line byte for byte, and powers the PC off
// through ACPI S5: QEMU exits 0 by itself (a firmware that halted instead
// would be killed by the guard, and fail).
TEST_F(ImageTest, HelloBootsFromACdAndPowersOffThroughAcpi) {
  const std::string cmdline = "say 'it'  \"twice\" \\ back";
  const std::string image = MakeImage("hello", "hello", &cmdline);
  for (bool uefi : {false, true}) {
    if (uefi && !HaveOvmf()) {
      GTEST_SKIP() << kOvmfCode << " is missing (Debian: ovmf)";
    }
    SCOPED_TRACE(uefi ? "UEFI (OVMF, q35)" : "BIOS (SeaBIOS, pc)");
    CommandResult r = BootPlainQemu(image, uefi);
    EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("Hello from an hvbios guest!"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("command line: " + cmdline + "\n"), std::string::npos)
        << r.out;
  }
}

// On a PC nobody reads hvbios-qemu's debug console: why the machine stops
// goes to the serial console. A non-zero shutdown code is said and the PC
// powers off; a panic's report is printed and the PC halts, so that it can
// be read.
TEST_F(ImageTest, OnAPcTheConsoleSaysWhyTheMachineStopped) {
  const std::string exit3 = "exit=3";
  CommandResult r =
      BootPlainQemu(MakeImage("behave", "exit3", &exit3), /*uefi=*/false);
  EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("hvbios-firmware: shutdown 3\n"), std::string::npos)
      << r.out;

  const std::string panic = "panic";
  const std::string image = MakeImage("behave", "panic", &panic);
  const testing::KilledRun halted = testing::RunUntilThenKill(
      {"/bin/sh", "-c",  // execv: a path, not a name to look up
       "exec qemu-system-x86_64 -m 128M -nodefaults -display none "
       "-no-reboot -serial stdio -cdrom " +
           image + " 2>&1"},
      "second line", kBootGuardSeconds);
  EXPECT_TRUE(halted.killed) << "the PC went off instead of halting";
  EXPECT_NE(halted.out.find("hvbios-firmware: panic 7 0 "), std::string::npos)
      << halted.out;
  EXPECT_NE(halted.out.find("the disk is on fire"), std::string::npos)
      << halted.out;
}

// The conformance matrix: one image, on every PC, with a writable and a
// read-only disk, gives the tally the same suite gives through PVH (which
// the KVM tests compare with hvbios-run's); the read-only image is left as
// it was.
TEST_F(ImageTest, TheConformanceSuitePassesOnEveryPc) {
  std::vector<uint8_t> pattern(4 << 20);
  for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = uint8_t(i * 7);
  const std::string rw = Write("rw.img", std::vector<uint8_t>(8 << 20, 0));
  const std::string ro = Write("ro.img", pattern);
  const std::vector<std::string> common = {"--cpus", "2",      "--disk",
                                           rw,       "--disk", ro + ",ro"};
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), HVBIOS_QEMU_PATH);
    args.insert(args.end(), common.begin(), common.end());
    return testing::RunCommandTypingAfter(args, kConformanceBanner, "ping",
                                          kBootGuardSeconds);
  };
  CommandResult reference =
      run({"--cmdline", "input=ping", GuestPath("conformance")});
  ASSERT_EQ(reference.exit_status, 0) << reference.out << reference.err;
  const std::string tally = Tally(reference.out);
  ASSERT_NE(tally, "") << reference.out;

  const std::string cmdline = "input=ping";
  const std::string image = MakeImage("conformance", "conformance", &cmdline);
  std::vector<std::vector<std::string>> pcs = {{"--machine", "pc"},
                                               {"--machine", "q35"}};
  if (HaveOvmf()) pcs.push_back({"--machine", "q35", "--uefi"});
  for (std::vector<std::string> pc : pcs) {
    SCOPED_TRACE(absl::StrCat(pc[1], pc.size() > 2 ? " UEFI" : " BIOS"));
    pc.insert(pc.end(), {"--image", image});
    CommandResult r = run(pc);
    EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("testing block device 0"), std::string::npos) << r.out;
    EXPECT_EQ(Tally(r.out), tally) << r.out;
    EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
  }
  EXPECT_TRUE(ReadFile(ro) == std::string(pattern.begin(), pattern.end()))
      << "the read-only image changed";
}

// The block example through AHCI: every request path (calls and rings)
// against an image on q35's SATA controller.
TEST_F(ImageTest, TheBlockExampleRunsOnAhci) {
  const std::string disk = Write("blk.img", std::vector<uint8_t>(16 << 20, 0));
  const std::string image = MakeImage("blk", "blk");
  CommandResult r = RunCommand(
      {HVBIOS_QEMU_PATH, "--machine", "q35", "--disk", disk, "--image", image},
      "", kBootGuardSeconds);
  EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("blk: all checks passed"), std::string::npos) << r.out;
}

// The other examples, unchanged, from images on q35 (SeaBIOS): timer, smp
// on four CPUs, and tarfs reading a tar archive on a read-only SATA disk
// with its command line from the image.
TEST_F(ImageTest, TheExamplesBootFromImages) {
  auto boot = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {HVBIOS_QEMU_PATH, "--machine", "q35"});
    return RunCommand(args, "", kBootGuardSeconds);
  };
  CommandResult r = boot({"--image", MakeImage("timer", "timer")});
  EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("10 ticks of 10 ms"), std::string::npos) << r.out;
  r = boot({"--cpus", "4", "--image", MakeImage("smp", "smp")});
  EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("4 of 4 vCPUs took part"), std::string::npos) << r.out;

  const std::string tar = testing::WriteHelloTar(temp_dir_.path());
  ASSERT_NE(tar, "");
  const std::string cat = "cat hello.txt";
  r = boot(
      {"--disk", tar + ",ro", "--image", MakeImage("tarfs", "tarfs", &cat)});
  EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Hello from inside a tar archive!"), std::string::npos)
      << r.out;
}

TEST_F(ImageTest, MkimageWritesOnlyTheFileItIsNamed) {
  auto mkimage = [](std::vector<std::string> args) {
    args.insert(args.begin(), HVBIOS_MKIMAGE_PATH);
    return RunCommand(args, "", 120);
  };
  CommandResult r = mkimage({GuestPath("hello")});
  EXPECT_EQ(r.exit_status, 121);
  EXPECT_NE(r.err.find("no output image given"), std::string::npos) << r.err;
  r = mkimage({Path("missing.elf"), "-o", Path("x.iso")});
  EXPECT_EQ(r.exit_status, 122);
  r = mkimage({Write("text.elf", {'h', 'i'}), "-o", Path("x.iso")});
  EXPECT_EQ(r.exit_status, 122);
  EXPECT_NE(r.err.find("not an ELF file"), std::string::npos) << r.err;
  // Not a regular file: a directory, a device.
  r = mkimage({GuestPath("hello"), "-o", temp_dir_.path()});
  EXPECT_EQ(r.exit_status, 121);
  EXPECT_NE(r.err.find("not a regular file"), std::string::npos) << r.err;
  r = mkimage({GuestPath("hello"), "-o", "/dev/null"});
  EXPECT_EQ(r.exit_status, 121);
  r = mkimage(
      {GuestPath("hello"), "-o", "x.iso", "--cmdline", std::string(4096, 'a')});
  EXPECT_EQ(r.exit_status, 121);
  // None of the failures left anything behind.
  EXPECT_EQ(RunCommand({"sh", "-c", "ls -A " + temp_dir_.path()}).out,
            "text.elf\n");
  // An existing file is replaced whole.
  const std::string out = Write("old.iso", {'o', 'l', 'd'});
  r = mkimage({GuestPath("hello"), "-o", out});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_GT(ReadFile(out).size(), 1u << 20);
  EXPECT_EQ(ReadFile(out).substr(0x8001, 5), "CD001");  // ISO 9660
}

}  // namespace
}  // namespace hvbios
