// Disks: raw image files (and block devices) and the embedder's callbacks
// (include/hvbios/block.h).
#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <fstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "hvbios/abi/hypercall.h"
#include "hvbios/block.h"
#include "lib/file_util.h"
#include "lib/status_macros.h"
#include "lib/threads.h"
#include "lib/unique_fd.h"

namespace hvbios {
namespace {

constexpr uint64_t kSector = HVB_BLOCK_SECTOR_SIZE;

// Who holds a lock on the file `fd` is open on: "process 1234 (hvbios-run)",
// or "" if that cannot be found out (another user's process, say). Scans
// /proc for an open file description of the same file that holds a lock
// (its fdinfo lists the locks taken through it).
std::string LockHolder(int fd) {
  struct stat target;
  if (fstat(fd, &target) != 0) return "";
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return "";
  std::string holder;
  while (dirent* entry = readdir(proc)) {
    int pid;
    if (!absl::SimpleAtoi(entry->d_name, &pid)) continue;
    const std::string fd_dir = absl::StrFormat("/proc/%d/fd", pid);
    DIR* fds = opendir(fd_dir.c_str());
    if (fds == nullptr) continue;
    while (dirent* f = readdir(fds)) {
      struct stat st;
      if (f->d_name[0] == '.' ||
          stat(absl::StrFormat("%s/%s", fd_dir, f->d_name).c_str(), &st) != 0 ||
          st.st_dev != target.st_dev || st.st_ino != target.st_ino) {
        continue;
      }
      std::ifstream info(absl::StrFormat("/proc/%d/fdinfo/%s", pid, f->d_name));
      std::string line;
      bool locked = false;
      while (std::getline(info, line)) locked |= line.rfind("lock:", 0) == 0;
      if (!locked) continue;
      std::ifstream comm_file(absl::StrFormat("/proc/%d/comm", pid));
      std::string comm;
      std::getline(comm_file, comm);
      holder = absl::StrFormat("process %d (%s)", pid,
                               absl::StripAsciiWhitespace(comm));
      break;
    }
    closedir(fds);
    if (!holder.empty()) break;
  }
  closedir(proc);
  return holder;
}

// Locks the whole image: exclusively for a writable disk, shared for a
// read-only one, as QEMU does. Open file description locks (F_OFD_SETLK)
// belong to this open file, not to the process, so nothing else in the
// process (another open of the same file) can drop them by accident, and
// they conflict with QEMU's own locks on an image. A file system without
// lock support is used unlocked.
absl::Status LockImage(int fd, const std::string& path, bool read_only) {
  struct flock lock = {};
  lock.l_type = read_only ? F_RDLCK : F_WRLCK;
  lock.l_whence = SEEK_SET;  // l_start = l_len = 0: the whole file
  if (fcntl(fd, F_OFD_SETLK, &lock) == 0) return absl::OkStatus();
  if (errno != EAGAIN && errno != EACCES) {
    return absl::OkStatus();  // ENOLCK, EINVAL, EOPNOTSUPP: no locking here
  }
  const std::string holder = LockHolder(fd);
  return absl::UnavailableError(absl::StrFormat(
      "disk '%s' is in use: %s holds a %s lock on it (a writable disk is "
      "locked for one VM only; read-only disks can be shared)",
      path, holder.empty() ? "another process" : holder,
      read_only ? "write" : "conflicting"));
}

class FileBlockDevice final : public BlockDevice {
 public:
  FileBlockDevice(UniqueFd fd, uint64_t size, bool read_only, bool regular)
      : fd_(std::move(fd)),
        size_(size),
        read_only_(read_only),
        reserve_space_(regular && !read_only) {}

  uint64_t size_bytes() const override { return size_; }
  bool read_only() const override { return read_only_; }

  absl::Status Read(uint64_t offset, absl::Span<uint8_t> dst) override {
    size_t done = 0;
    while (done < dst.size()) {
      const ssize_t n = pread(fd_.get(), dst.data() + done, dst.size() - done,
                              static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoStatus(errno, "pread");
      if (n == 0) {  // the file shrank under us: the rest reads as zeros
        std::fill(dst.begin() + done, dst.end(), 0);
        break;
      }
      done += static_cast<size_t>(n);
    }
    return absl::OkStatus();
  }

  // One preadv for the whole run (a ring's batch: at most its 256
  // entries); a short read is finished with Read().
  static constexpr size_t kMaxIov = 256;
  absl::Status ReadV(uint64_t offset,
                     absl::Span<const absl::Span<uint8_t>> dsts) override {
    iovec iov[kMaxIov];
    if (dsts.size() > kMaxIov) return BlockDevice::ReadV(offset, dsts);
    size_t total = 0;
    for (size_t i = 0; i < dsts.size(); ++i) {
      iov[i] = {dsts[i].data(), dsts[i].size()};
      total += dsts[i].size();
    }
    ssize_t n;
    do {
      n = preadv(fd_.get(), iov, static_cast<int>(dsts.size()),
                 static_cast<off_t>(offset));
    } while (n < 0 && errno == EINTR);
    if (n < 0) return ErrnoStatus(errno, "preadv");
    if (static_cast<size_t>(n) == total) return absl::OkStatus();
    size_t skip = static_cast<size_t>(n);  // bytes preadv delivered
    for (absl::Span<uint8_t> dst : dsts) {
      if (skip < dst.size()) {
        RETURN_IF_ERROR(Read(offset + skip, dst.subspan(skip)));
      }
      skip -= std::min(skip, dst.size());
      offset += dst.size();
    }
    return absl::OkStatus();
  }

  absl::Status Write(uint64_t offset, absl::Span<const uint8_t> src) override {
    RETURN_IF_ERROR(ReserveSpace(offset, src.size()));
    size_t done = 0;
    while (done < src.size()) {
      const ssize_t n = pwrite(fd_.get(), src.data() + done, src.size() - done,
                               static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return ErrnoStatus(n < 0 ? errno : EIO, "pwrite");
      done += static_cast<size_t>(n);
    }
    return absl::OkStatus();
  }

  absl::Status Flush() override {
    if (fdatasync(fd_.get()) != 0) return ErrnoStatus(errno, "fdatasync");
    return absl::OkStatus();
  }

  absl::Status Discard(uint64_t offset, uint64_t length) override {
    if (fallocate(fd_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  static_cast<off_t>(offset),
                  static_cast<off_t>(length)) == 0) {
      return absl::OkStatus();
    }
    if (errno != EOPNOTSUPP && errno != ENOSYS) {
      return ErrnoStatus(errno, "fallocate(PUNCH_HOLE)");
    }
    // No hole punching here (e.g. a block device): write zeros instead.
    const std::vector<uint8_t> zeros(
        std::min<uint64_t>(length, uint64_t{1} << 20));
    for (uint64_t done = 0; done < length;) {
      const uint64_t n = std::min<uint64_t>(zeros.size(), length - done);
      RETURN_IF_ERROR(
          Write(offset + done, absl::MakeConstSpan(zeros.data(), n)));
      done += n;
    }
    return absl::OkStatus();
  }

 private:
  // A sparse image allocates blocks as it is written, so a full file system
  // would fail a pwrite() half-way, leaving part of a failed write behind.
  // Reserving the range first (a no-op where it is allocated) makes "no
  // space" fail the request before it changes anything (docs/abi.md,
  // block.write).
  absl::Status ReserveSpace(uint64_t offset, uint64_t length) {
    if (!reserve_space_.load(std::memory_order_relaxed)) {
      return absl::OkStatus();
    }
    if (fallocate(fd_.get(), FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                  static_cast<off_t>(length)) == 0) {
      return absl::OkStatus();
    }
    if (errno == EOPNOTSUPP || errno == ENOSYS) {
      reserve_space_.store(false, std::memory_order_relaxed);
      return absl::OkStatus();
    }
    return ErrnoStatus(errno, "fallocate (reserving space for a write)");
  }

  const UniqueFd fd_;
  const uint64_t size_;
  const bool read_only_;
  std::atomic<bool> reserve_space_;
};

// Every call into the embedder's functions is a callback (CallbackScope):
// they run on vCPU and I/O threads, which must not wait for themselves.
class CallbackBlockDevice final : public BlockDevice {
 public:
  explicit CallbackBlockDevice(BlockCallbacks callbacks)
      : callbacks_(std::move(callbacks)) {}
  uint64_t size_bytes() const override { return callbacks_.size_bytes; }
  bool read_only() const override { return callbacks_.read_only; }
  absl::Status Read(uint64_t offset, absl::Span<uint8_t> dst) override {
    CallbackScope in_callback;
    return callbacks_.read(offset, dst);
  }
  absl::Status Write(uint64_t offset, absl::Span<const uint8_t> src) override {
    CallbackScope in_callback;
    return callbacks_.write(offset, src);
  }
  absl::Status Flush() override {
    CallbackScope in_callback;
    return callbacks_.flush ? callbacks_.flush() : absl::OkStatus();
  }
  absl::Status Discard(uint64_t offset, uint64_t length) override {
    CallbackScope in_callback;
    return callbacks_.discard ? callbacks_.discard(offset, length)
                              : absl::OkStatus();
  }

 private:
  const BlockCallbacks callbacks_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<BlockDevice>> OpenDiskImage(
    const std::string& path, bool read_only) {
  ASSIGN_OR_RETURN(UniqueFd fd,
                   OpenUserFile(path, read_only ? O_RDONLY : O_RDWR,
                                FileKinds::kRegularOrBlockDevice, "disk"));
  struct stat st;
  if (fstat(fd.get(), &st) != 0) {
    return ErrnoStatus(errno, absl::StrFormat("cannot stat disk '%s'", path));
  }
  uint64_t size = 0;
  if (S_ISREG(st.st_mode)) {
    size = static_cast<uint64_t>(st.st_size);
  } else if (ioctl(fd.get(), BLKGETSIZE64, &size) != 0) {
    return ErrnoStatus(errno, "BLKGETSIZE64");
  }
  size -= size % kSector;
  if (size == 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("disk '%s' is smaller than one 512-byte sector", path));
  }
  RETURN_IF_ERROR(LockImage(fd.get(), path, read_only));
  return std::make_unique<FileBlockDevice>(std::move(fd), size, read_only,
                                           S_ISREG(st.st_mode));
}

absl::StatusOr<std::unique_ptr<BlockDevice>> MakeCallbackBlockDevice(
    BlockCallbacks callbacks) {
  if (callbacks.size_bytes == 0 || callbacks.size_bytes % kSector != 0) {
    return absl::InvalidArgumentError(
        "a callback disk needs a size that is a non-zero multiple of 512");
  }
  if (!callbacks.read || (!callbacks.read_only && !callbacks.write)) {
    return absl::InvalidArgumentError(
        "a callback disk needs a read function, and a write function unless "
        "it is read-only");
  }
  return std::make_unique<CallbackBlockDevice>(std::move(callbacks));
}

}  // namespace hvbios
