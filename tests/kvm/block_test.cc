// Storage on real KVM: the conformance suite with disks, data integrity
// against the image file, concurrent writers, a disk on callbacks, and
// durability across SIGKILL. The guest is tests/guests/disk_io.c; the
// expected contents are recomputed here from the same pattern and PRNG.
#include "hvbios/block.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/kvm/kvm_guest.h"
#include "tests/run_command.h"
#include "tests/test_util.h"

namespace hvbios {
namespace {

using testing::CapturedVm;
using testing::GuestPath;

uint8_t PatternByte(uint64_t sector, uint32_t j, uint64_t seed) {
  return static_cast<uint8_t>(sector * 131 + j * 7 + seed * 17);
}

void Fill(std::vector<uint8_t>& image, uint64_t sector, uint32_t count,
          uint64_t seed) {
  for (uint32_t s = 0; s < count; ++s) {
    for (uint32_t j = 0; j < 512; ++j) {
      image[(sector + s) * 512 + j] = PatternByte(sector + s, j, seed);
    }
  }
}

uint64_t Xorshift(uint64_t* state) {
  uint64_t x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *state = x;
}

class BlockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_KVM();
    ASSERT_TRUE(temp_dir_.Create("hvbios_block_test"));
    dir_ = temp_dir_.path();
  }
  std::string MakeImage(const std::string& name, size_t bytes) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(std::vector<char>(bytes, 0).data(), bytes);
    return path;
  }
  std::vector<uint8_t> ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
  }
  // Boots disk_io with `cmdline` on `disks` and expects "disk_io: ok".
  void RunDiskIo(std::vector<std::shared_ptr<BlockDevice>> disks,
                 const std::string& cmdline, uint32_t vcpus = 1) {
    ASSERT_OK_AND_ASSIGN(
        auto vm, CapturedVm::Boot("disk_io", {.memory_bytes = 32 << 20,
                                              .vcpu_count = vcpus,
                                              .cmdline = cmdline,
                                              .disks = std::move(disks)}));
    ASSERT_OK_AND_ASSIGN(VmExit exit, vm->Wait(absl::Seconds(240)));
    EXPECT_EQ(exit.exit_code, 0) << vm->console() << exit.message;
    EXPECT_NE(vm->console().find("disk_io: ok"), std::string::npos)
        << vm->console();
  }
  testing::ScopedTempDir temp_dir_;
  std::string dir_;
};

TEST_F(BlockTest, ConformanceWithAWritableAndAReadOnlyDisk) {
  ASSERT_OK_AND_ASSIGN(auto rw, OpenDiskImage(MakeImage("rw.img", 1 << 20),
                                              /*read_only=*/false));
  ASSERT_OK_AND_ASSIGN(auto ro, OpenDiskImage(MakeImage("ro.img", 64 << 10),
                                              /*read_only=*/true));
  ASSERT_OK_AND_ASSIGN(
      auto vm, CapturedVm::Boot("conformance",
                                {.disks = {std::move(rw), std::move(ro)}}));
  ASSERT_OK_AND_ASSIGN(VmExit exit, vm->Wait());
  std::cout << vm->console();
  EXPECT_EQ(exit.exit_code, 0) << exit.message;
  EXPECT_NE(vm->console().find("testing block device 0"), std::string::npos);
  EXPECT_NE(vm->console().find(" passed, 0 failed"), std::string::npos);
}

TEST_F(BlockTest, RandomSizesAndOffsetsMatchTheImageFile) {
  constexpr uint64_t kSeed = 4242, kOps = 24;
  const std::string path = MakeImage("random.img", 4 << 20);
  ASSERT_OK_AND_ASSIGN(auto disk, OpenDiskImage(path, false));
  RunDiskIo({std::move(disk)}, absl::StrCat("random ", kSeed, " ", kOps));

  std::vector<uint8_t> expected(4 << 20, 0);
  const uint64_t sectors = expected.size() / 512;
  uint64_t state = kSeed;
  for (uint64_t i = 0; i < kOps; ++i) {
    const uint32_t count = 1 + Xorshift(&state) % 64;
    const uint64_t sector = Xorshift(&state) % (sectors - count + 1);
    Fill(expected, sector, count, kSeed + i);
  }
  EXPECT_TRUE(ReadFile(path) == expected)
      << "the image file differs from what the guest wrote";
}

TEST_F(BlockTest, ConcurrentWritersOnFourVcpus) {
  const std::string path = MakeImage("vcpus.img", 1 << 20);
  ASSERT_OK_AND_ASSIGN(auto disk, OpenDiskImage(path, false));
  RunDiskIo({std::move(disk)}, "vcpus", 4);
  std::vector<uint8_t> expected(1 << 20, 0);
  for (uint64_t id = 0; id < 4; ++id) Fill(expected, id * 64, 64, id);
  EXPECT_TRUE(ReadFile(path) == expected);
}

TEST_F(BlockTest, ADiskOnTheEmbeddersCallbacks) {
  auto storage = std::make_shared<std::vector<uint8_t>>(1 << 20, 0);
  auto mu = std::make_shared<Mutex>();
  int flushes = 0;
  BlockCallbacks callbacks;
  callbacks.size_bytes = storage->size();
  callbacks.read = [storage, mu](uint64_t offset, absl::Span<uint8_t> dst) {
    MutexLock lock(mu.get());
    std::memcpy(dst.data(), storage->data() + offset, dst.size());
    return absl::OkStatus();
  };
  callbacks.write = [storage, mu](uint64_t offset,
                                  absl::Span<const uint8_t> src) {
    MutexLock lock(mu.get());
    std::memcpy(storage->data() + offset, src.data(), src.size());
    return absl::OkStatus();
  };
  callbacks.flush = [&flushes, mu] {
    MutexLock lock(mu.get());
    ++flushes;
    return absl::OkStatus();
  };
  ASSERT_OK_AND_ASSIGN(auto disk, MakeCallbackBlockDevice(callbacks));
  RunDiskIo({std::move(disk)}, "vcpus", 2);
  std::vector<uint8_t> expected(1 << 20, 0);
  for (uint64_t id = 0; id < 2; ++id) Fill(expected, id * 64, 64, id);
  MutexLock lock(mu.get());
  EXPECT_TRUE(*storage == expected);
  EXPECT_GE(flushes, 1);
}

TEST_F(BlockTest, BadCallbackDisksAreRejected) {
  EXPECT_EQ(CodeOf(MakeCallbackBlockDevice({.size_bytes = 1000})),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(MakeCallbackBlockDevice({.size_bytes = 4096})),
            absl::StatusCode::kInvalidArgument)
      << "no read function";
  EXPECT_EQ(CodeOf(OpenDiskImage(dir_ + "/missing.img", false)),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(CodeOf(OpenDiskImage(MakeImage("tiny.img", 100), false)),
            absl::StatusCode::kInvalidArgument);
}

// A write the guest saw acknowledged after a flush survives the VMM being
// killed with SIGKILL right after.
TEST_F(BlockTest, FlushedWritesSurviveSigkill) {
  const std::string path = MakeImage("durable.img", 1 << 20);
  const testing::KilledRun run =
      testing::RunUntilThenKill({HVBIOS_RUN_PATH, "--disk", path, "--cmdline",
                                 "durable", GuestPath("disk_io")},
                                "flushed\n");
  ASSERT_NE(run.out.find("flushed\n"), std::string::npos) << run.out;
  EXPECT_TRUE(run.killed);
  std::vector<uint8_t> expected(1 << 20, 0);
  Fill(expected, 0, 128, 77);
  EXPECT_TRUE(ReadFile(path) == expected) << "flushed data was lost";
}

TEST_F(BlockTest, BlkExampleVerifiesAndMeasuresBothPaths) {
  const std::string img = MakeImage("blk.img", 2 << 20);
  testing::CommandResult r = testing::RunCommand(
      {HVBIOS_RUN_PATH, "--disk", img, GuestPath("blk")}, "", 240);
  EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
  for (const char* line :
       {"read back (sync): ok", "read back through the ring: ok",
        "sync seq 4 KiB", "sync random 4 KiB", "ring seq 64 KiB batch 32",
        "ring random 4 KiB batch 8", "all checks passed"}) {
    EXPECT_NE(r.out.find(line), std::string::npos) << line << "\n" << r.out;
  }
  EXPECT_EQ(r.out.find("FAILED"), std::string::npos) << r.out;
}

TEST_F(BlockTest, TarfsExampleReadsAFileOutOfATarImage) {
  const std::string src = dir_ + "/tarsrc";
  std::system(
      absl::StrCat("rm -rf ", src, " && mkdir -p ", src, "/docs").c_str());
  std::ofstream(src + "/hello.txt") << "Hello from inside a tar archive!\n";
  std::ofstream(src + "/docs/notes.md") << std::string(3000, 'n') << "\nend\n";
  const std::string tar = dir_ + "/fs.tar";
  ASSERT_EQ(std::system(absl::StrCat("tar --format=ustar -C ", src, " -cf ",
                                     tar, " hello.txt docs")
                            .c_str()),
            0);
  testing::CommandResult r =
      testing::RunCommand({HVBIOS_RUN_PATH, "--disk", tar + ",ro", "--cmdline",
                           "cat docs/notes.md hello.txt", GuestPath("tarfs")});
  EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("hello.txt"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("3005 docs/notes.md"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Hello from inside a tar archive!"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(std::string(3000, 'n') + "\nend"), std::string::npos);
  r = testing::RunCommand({HVBIOS_RUN_PATH, "--disk", tar + ",ro", "--cmdline",
                           "cat missing.txt", GuestPath("tarfs")});
  EXPECT_EQ(r.exit_status, 2) << r.out;
  EXPECT_NE(r.out.find("missing.txt: no such file"), std::string::npos);
}

TEST_F(BlockTest, HvbiosRunRejectsBadDisks) {
  testing::CommandResult r = testing::RunCommand(
      {HVBIOS_RUN_PATH, "--disk", dir_ + "/nope.img", GuestPath("hello")});
  EXPECT_EQ(r.exit_status, 122) << r.err;
  EXPECT_NE(r.err.find("cannot open disk"), std::string::npos) << r.err;
  std::vector<std::string> args = {HVBIOS_RUN_PATH};
  const std::string img = MakeImage("many.img", 4096);
  for (int i = 0; i < 17; ++i) {
    args.push_back("--disk");
    args.push_back(img + ",ro");
  }
  args.push_back(GuestPath("hello"));
  r = testing::RunCommand(args);
  EXPECT_EQ(r.exit_status, 121) << r.err;
  EXPECT_NE(r.err.find("at most 16"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace hvbios
