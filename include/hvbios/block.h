// Disks for the guest's block service (docs/abi.md): the interface an
// embedding VMM implements for its own storage, and raw image files.
#ifndef HVBIOS_BLOCK_H_
#define HVBIOS_BLOCK_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace hvbios {

// A disk. Requests arrive from vCPU threads (synchronous calls) and I/O
// threads (rings) at once: implementations are thread-safe. Offsets and
// lengths are multiples of 512 and lie inside size_bytes(); the library
// checks them before calling.
//
// Read() and Write() get guest RAM itself, not a copy (no bounce buffer on
// the data path): another vCPU of the guest may change those bytes while
// the call runs. Treat them as untrusted data, and read each byte once.
//
// Errors: a Write() or Discard() that fails with ResourceExhausted (no
// space) must have changed nothing; the guest sees HVB_ERR_NOMEM. Any other
// error is HVB_ERR_IO to the guest, after which the request's sectors hold
// unspecified data (docs/abi.md, block).
class BlockDevice {
 public:
  virtual ~BlockDevice() = default;
  // Capacity in bytes, a multiple of 512. Constant.
  virtual uint64_t size_bytes() const = 0;
  virtual bool read_only() const = 0;
  virtual absl::Status Read(uint64_t offset, absl::Span<uint8_t> dst) = 0;
  // Reads adjacent ranges at `offset` into `dsts` in order, as one request
  // where the device can (the ring's batches of adjacent reads). The
  // default reads them one by one.
  virtual absl::Status ReadV(uint64_t offset,
                             absl::Span<const absl::Span<uint8_t>> dsts) {
    for (absl::Span<uint8_t> dst : dsts) {
      if (absl::Status s = Read(offset, dst); !s.ok()) return s;
      offset += dst.size();
    }
    return absl::OkStatus();
  }
  virtual absl::Status Write(uint64_t offset,
                             absl::Span<const uint8_t> src) = 0;
  // Makes every completed write durable (survives a crash of the VMM and
  // of the host) before returning OK.
  virtual absl::Status Flush() = 0;
  // The range's contents become unspecified (zeros, for image files).
  virtual absl::Status Discard(uint64_t offset, uint64_t length) = 0;
};

// A raw image file: pread/pwrite, Flush = fdatasync, Discard = a punched
// hole (zeros written where the file system cannot punch). The file's size
// is rounded down to whole sectors. A write reserves its range first
// (fallocate), so that a full file system fails it before it changes
// anything.
//
// The image is locked while the device exists, as QEMU locks its images:
// a writable one exclusively, a read-only one shared (whole-file open file
// description locks, F_OFD_SETLK), so two VMs can never write one image,
// nor one write what another reads. A second open that conflicts fails
// with Unavailable, naming the process that holds the lock where /proc
// tells. File systems without lock support are used unlocked.
//
// NotFound / PermissionDenied / InvalidArgument (empty; not a regular file
// or block device: a FIFO or a character device is refused before it is
// opened) / Unavailable (locked).
absl::StatusOr<std::unique_ptr<BlockDevice>> OpenDiskImage(
    const std::string& path, bool read_only);

// A device whose operations are the given functions (for VMMs that keep
// storage elsewhere). Unset Flush/Discard functions succeed doing nothing.
// The functions are called on vCPU and I/O threads, concurrently; they are
// callbacks in the sense of hvbios/vm.h (they may not make calls that wait
// for vCPUs) and must not throw.
struct BlockCallbacks {
  uint64_t size_bytes = 0;
  bool read_only = false;
  std::function<absl::Status(uint64_t offset, absl::Span<uint8_t> dst)> read;
  std::function<absl::Status(uint64_t offset, absl::Span<const uint8_t> src)>
      write;
  std::function<absl::Status()> flush;
  std::function<absl::Status(uint64_t offset, uint64_t length)> discard;
};
absl::StatusOr<std::unique_ptr<BlockDevice>> MakeCallbackBlockDevice(
    BlockCallbacks callbacks);

}  // namespace hvbios

#endif  // HVBIOS_BLOCK_H_
