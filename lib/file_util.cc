#include "lib/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_format.h"
#include "lib/status_macros.h"

namespace hvbios {
namespace {

const char* KindName(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISBLK(mode)) return "a block device";
  return "of an unknown kind";
}

absl::Status CheckKind(const struct stat& st, FileKinds kinds,
                       const std::string& path, absl::string_view what) {
  if (S_ISREG(st.st_mode)) return absl::OkStatus();
  if (kinds == FileKinds::kRegularOrBlockDevice && S_ISBLK(st.st_mode)) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrFormat(
      "%s '%s' is %s, not a regular file%s", what, path, KindName(st.st_mode),
      kinds == FileKinds::kRegularOrBlockDevice ? " or a block device" : ""));
}

}  // namespace

absl::StatusOr<UniqueFd> OpenUserFile(const std::string& path, int flags,
                                      FileKinds kinds, absl::string_view what) {
  struct stat before;
  if (stat(path.c_str(), &before) != 0) {
    return ErrnoStatus(errno,
                       absl::StrFormat("cannot open %s '%s'", what, path));
  }
  RETURN_IF_ERROR(CheckKind(before, kinds, path, what));
  // O_NONBLOCK: should the path have become a FIFO since, open() must not
  // wait for a writer; fstat() below then refuses it.
  UniqueFd fd(open(path.c_str(), flags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd.valid()) {
    return ErrnoStatus(errno,
                       absl::StrFormat("cannot open %s '%s'", what, path));
  }
  struct stat after;
  if (fstat(fd.get(), &after) != 0) {
    return ErrnoStatus(errno,
                       absl::StrFormat("cannot stat %s '%s'", what, path));
  }
  RETURN_IF_ERROR(CheckKind(after, kinds, path, what));
  if (after.st_dev != before.st_dev || after.st_ino != before.st_ino) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s '%s' was replaced while it was being opened", what, path));
  }
  const int status_flags = fcntl(fd.get(), F_GETFL);
  if (status_flags < 0 ||
      fcntl(fd.get(), F_SETFL, status_flags & ~O_NONBLOCK) != 0) {
    return ErrnoStatus(errno, absl::StrFormat("fcntl on %s '%s'", what, path));
  }
  return fd;
}

absl::StatusOr<std::vector<uint8_t>> ReadUserFile(const std::string& path,
                                                  size_t max_bytes,
                                                  absl::string_view what) {
  ASSIGN_OR_RETURN(UniqueFd fd,
                   OpenUserFile(path, O_RDONLY, FileKinds::kRegular, what));
  struct stat st;
  if (fstat(fd.get(), &st) != 0) {
    return ErrnoStatus(errno,
                       absl::StrFormat("cannot stat %s '%s'", what, path));
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s '%s' is larger than %d bytes", what, path, max_bytes));
  }
  // One byte more than the size, to notice a file that grew meanwhile.
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size) + 1);
  size_t done = 0;
  for (;;) {
    if (done == bytes.size()) {
      if (bytes.size() > max_bytes) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s '%s' is larger than %d bytes", what, path, max_bytes));
      }
      bytes.resize(std::min(max_bytes + 1, 2 * bytes.size()));
    }
    const ssize_t n = read(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return ErrnoStatus(errno,
                         absl::StrFormat("cannot read %s '%s'", what, path));
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  bytes.resize(done);
  return bytes;
}

}  // namespace hvbios
