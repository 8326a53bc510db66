// Disk images: locking, refusing what is not an image, and writes that
// fail for want of space without changing anything.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "hvbios/abi/ring.h"
#include "hvbios/abi/status.h"
#include "hvbios/block.h"
#include "lib/guest_memory.h"
#include "lib/services/block.h"
#include "tests/test_util.h"

namespace hvbios {
namespace {

using testing::ScopedTempDir;

class DiskImageTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(dir_.Create("disk_image_test")); }
  std::string MakeImage(const std::string& name, size_t bytes = 4096) {
    const std::string path = dir_.path() + "/" + name;
    std::ofstream(path, std::ios::binary) << std::string(bytes, 'D');
    return path;
  }
  ScopedTempDir dir_;
};

TEST_F(DiskImageTest, AWritableImageIsExclusiveAndReadOnlyOnesShare) {
  const std::string image = MakeImage("a.img");
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<BlockDevice> writer,
                         OpenDiskImage(image, false));
    auto second = OpenDiskImage(image, false);
    ASSERT_EQ(CodeOf(second), absl::StatusCode::kUnavailable);
    EXPECT_NE(
        second.status().message().find(absl::StrCat("process ", getpid())),
        std::string::npos)
        << "names the holder: " << second.status();
    EXPECT_EQ(CodeOf(OpenDiskImage(image, true)),
              absl::StatusCode::kUnavailable)
        << "a reader would see another VM's writes";
  }
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<BlockDevice> reader1,
                       OpenDiskImage(image, true));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<BlockDevice> reader2,
                       OpenDiskImage(image, true));
  EXPECT_EQ(CodeOf(OpenDiskImage(image, false)),
            absl::StatusCode::kUnavailable);
}

// ReadV fills adjacent ranges in order with one preadv, and a file that
// shrank under it reads as zeros past its end, as Read does.
TEST_F(DiskImageTest, AVectoredReadFillsEachRangeInOrder) {
  const std::string path = dir_.path() + "/v.img";
  {
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 8192; ++i) out.put(static_cast<char>(i / 512 + 1));
  }
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<BlockDevice> disk,
                       OpenDiskImage(path, true));
  std::vector<uint8_t> a(512), b(1024), c(512);
  const absl::Span<uint8_t> dsts[] = {absl::MakeSpan(a), absl::MakeSpan(b),
                                      absl::MakeSpan(c)};
  ASSERT_OK(disk->ReadV(2 * 512, dsts));
  EXPECT_EQ(a.front(), 3);
  EXPECT_EQ(a.back(), 3);
  EXPECT_EQ(b.front(), 4);
  EXPECT_EQ(b.back(), 5);
  EXPECT_EQ(c.front(), 6);
  EXPECT_EQ(c.back(), 6);

  ASSERT_EQ(truncate(path.c_str(), 3 * 512 + 100), 0);
  std::fill(b.begin(), b.end(), 0xff);
  std::fill(c.begin(), c.end(), 0xff);
  ASSERT_OK(disk->ReadV(2 * 512, dsts));
  EXPECT_EQ(a.front(), 3);
  EXPECT_EQ(b[99], 4);
  EXPECT_EQ(b[100], 0) << "past the shrunk file's end";
  EXPECT_EQ(b.back(), 0);
  EXPECT_EQ(c.front(), 0);
}

TEST_F(DiskImageTest, OnlyFilesAndBlockDevicesAreImages) {
  const std::string fifo = dir_.path() + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  auto disk = OpenDiskImage(fifo, false);  // would block in open() before
  EXPECT_EQ(CodeOf(disk), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(disk.status().message().find("FIFO"), std::string::npos);
  EXPECT_EQ(CodeOf(OpenDiskImage("/dev/zero", true)),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(OpenDiskImage(dir_.path(), true)),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(OpenDiskImage(dir_.path() + "/missing", true)),
            absl::StatusCode::kNotFound);
}

// In a child with a private mount namespace: a 256 KiB tmpfs holding a
// sparse 1 MiB image. Writing where no block is allocated yet must fail
// with "no space" (HVB_ERR_NOMEM) and leave the sectors as they were; it
// used to leave the part that fitted. Exit codes: 0 pass, 77 skip.
int NoSpaceChild(const std::string& dir) {
  if (unshare(CLONE_NEWNS) != 0) return 77;
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=256k") != 0) {
    return 77;
  }
  const std::string image = dir + "/sparse.img";
  const int fd = open(image.c_str(), O_CREAT | O_RDWR, 0600);
  if (fd < 0 || ftruncate(fd, 1 << 20) != 0) return 10;
  close(fd);
  absl::StatusOr<std::unique_ptr<GuestMemory>> memory =
      GuestMemory::Create(2 << 20);
  absl::StatusOr<std::unique_ptr<BlockDevice>> disk =
      OpenDiskImage(image, false);
  if (!memory.ok() || !disk.ok()) return 11;
  const uint64_t buffer = 0x100000;
  std::memset((*memory)->Translate(buffer, 1 << 19), 'W', 1 << 19);
  // 512 KiB into 256 KiB of file system: cannot fit.
  const int64_t status = ExecuteBlockRequest(
      **disk, **memory, HVB_RING_OP_WRITE, 0, (512 << 10) / 512, buffer);
  if (status != HVB_ERR_NOMEM) return 12;
  std::ifstream in(image, std::ios::binary);
  const std::string contents(std::istreambuf_iterator<char>(in), {});
  if (contents != std::string(1 << 20, '\0')) return 13;  // a partial write
  // What fits still works.
  if (ExecuteBlockRequest(**disk, **memory, HVB_RING_OP_WRITE, 0, 8, buffer) !=
      8) {
    return 14;
  }
  return 0;
}

TEST_F(DiskImageTest, AWriteWithoutSpaceChangesNothing) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(NoSpaceChild(dir_.path()));
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) {
    GTEST_SKIP() << "needs root to mount a small tmpfs in a private mount "
                    "namespace";
  }
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "12: not HVB_ERR_NOMEM, 13: part of it was written, 14: a write "
         "that fits failed";
}

}  // namespace
}  // namespace hvbios
