// Opening the files a user names (guest images, disk images, profiles)
// without trusting them: a FIFO, a terminal or a device that is not what
// it should be is refused before it is opened (opening some devices has
// effects of its own), and a file is read with a bound.
#ifndef HVBIOS_LIB_FILE_UTIL_H_
#define HVBIOS_LIB_FILE_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lib/unique_fd.h"

namespace hvbios {

enum class FileKinds {
  kRegular,               // regular files only
  kRegularOrBlockDevice,  // disks: image files and block devices
};

// Opens `path` with `flags` (O_RDONLY or O_RDWR; O_CLOEXEC is added) if it
// is one of `kinds`: checked with stat() before opening and with fstat()
// after, on the same file. `what` names the file in messages ("disk",
// "guest image", ...). NotFound / PermissionDenied / InvalidArgument.
absl::StatusOr<UniqueFd> OpenUserFile(const std::string& path, int flags,
                                      FileKinds kinds, absl::string_view what);

// Reads a whole regular file of at most `max_bytes`. InvalidArgument if it
// is larger or not a regular file.
absl::StatusOr<std::vector<uint8_t>> ReadUserFile(const std::string& path,
                                                  size_t max_bytes,
                                                  absl::string_view what);

}  // namespace hvbios

#endif  // HVBIOS_LIB_FILE_UTIL_H_
