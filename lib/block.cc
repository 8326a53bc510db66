#include "lib/block.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "absl/strings/str_format.h"
#include "hvbios/abi/hypercall.h"
#include "hvbios/abi/status.h"
#include "lib/status_macros.h"
#include "lib/unique_fd.h"

namespace hvbios {
namespace {

constexpr uint64_t kSector = HVB_BLOCK_SECTOR_SIZE;

class FileBlockDevice final : public BlockDevice {
 public:
  FileBlockDevice(UniqueFd fd, uint64_t size, bool read_only)
      : fd_(std::move(fd)), size_(size), read_only_(read_only) {}

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

  absl::Status Write(uint64_t offset, absl::Span<const uint8_t> src) override {
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
  const UniqueFd fd_;
  const uint64_t size_;
  const bool read_only_;
};

class CallbackBlockDevice final : public BlockDevice {
 public:
  explicit CallbackBlockDevice(BlockCallbacks callbacks)
      : callbacks_(std::move(callbacks)) {}
  uint64_t size_bytes() const override { return callbacks_.size_bytes; }
  bool read_only() const override { return callbacks_.read_only; }
  absl::Status Read(uint64_t offset, absl::Span<uint8_t> dst) override {
    return callbacks_.read(offset, dst);
  }
  absl::Status Write(uint64_t offset, absl::Span<const uint8_t> src) override {
    return callbacks_.write(offset, src);
  }
  absl::Status Flush() override {
    return callbacks_.flush ? callbacks_.flush() : absl::OkStatus();
  }
  absl::Status Discard(uint64_t offset, uint64_t length) override {
    return callbacks_.discard ? callbacks_.discard(offset, length)
                              : absl::OkStatus();
  }

 private:
  const BlockCallbacks callbacks_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<BlockDevice>> OpenDiskImage(
    const std::string& path, bool read_only) {
  UniqueFd fd(open(path.c_str(), (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC));
  if (!fd.valid()) {
    return ErrnoStatus(errno, absl::StrFormat("cannot open disk '%s'", path));
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0) {
    return ErrnoStatus(errno, absl::StrFormat("cannot stat disk '%s'", path));
  }
  uint64_t size = 0;
  if (S_ISREG(st.st_mode)) {
    size = static_cast<uint64_t>(st.st_size);
  } else if (S_ISBLK(st.st_mode)) {
    if (ioctl(fd.get(), BLKGETSIZE64, &size) != 0) {
      return ErrnoStatus(errno, "BLKGETSIZE64");
    }
  } else {
    return absl::InvalidArgumentError(absl::StrFormat(
        "disk '%s' is neither a regular file nor a block device", path));
  }
  size -= size % kSector;
  if (size == 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("disk '%s' is smaller than one 512-byte sector", path));
  }
  return std::make_unique<FileBlockDevice>(std::move(fd), size, read_only);
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

hvb_block_info BlockInfoOf(const BlockDevice& device) {
  hvb_block_info info = {};
  info.sectors = device.size_bytes() / kSector;
  info.sector_size = kSector;
  info.flags = device.read_only() ? HVB_BLOCK_F_READ_ONLY : 0;
  info.optimal_sectors = kBlockOptimalSectors;
  info.max_sectors = kBlockMaxSectors;
  return info;
}

int64_t ExecuteBlockRequest(BlockDevice& device, const GuestMemory& memory,
                            uint32_t op, uint64_t sector, uint64_t count,
                            uint64_t buf) {
  const bool modifies = op == HVB_RING_OP_WRITE || op == HVB_RING_OP_DISCARD;
  switch (op) {
    case HVB_RING_OP_READ:
    case HVB_RING_OP_WRITE:
    case HVB_RING_OP_DISCARD:
      break;
    case HVB_RING_OP_FLUSH:
      if (device.read_only()) return HVB_OK;
      return device.Flush().ok() ? HVB_OK : HVB_ERR_IO;
    default:
      return HVB_ERR_INVAL;
  }
  if (modifies && device.read_only()) return HVB_ERR_PERM;
  const uint64_t capacity = device.size_bytes() / kSector;
  if (count == 0 || count > kBlockMaxSectors || sector > capacity ||
      count > capacity - sector) {
    return HVB_ERR_RANGE;
  }
  const uint64_t offset = sector * kSector, length = count * kSector;
  if (op == HVB_RING_OP_DISCARD) {
    return device.Discard(offset, length).ok() ? HVB_OK : HVB_ERR_IO;
  }
  uint8_t* host = memory.Translate(buf, length);
  if (host == nullptr) return HVB_ERR_FAULT;
  const absl::Status s =
      op == HVB_RING_OP_READ
          ? device.Read(offset, absl::MakeSpan(host, length))
          : device.Write(offset, absl::MakeConstSpan(host, length));
  return s.ok() ? static_cast<int64_t>(count) : HVB_ERR_IO;
}

}  // namespace hvbios
