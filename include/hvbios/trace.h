// Tracing a VM's exits: every hypercall, doorbell and served port or MMIO
// access, with its vCPU, what the guest asked, what it got and how long the
// host took, recorded into a bounded buffer that a thread of the tracer's
// own writes to a file, off the vCPUs' path. hvbios-run --trace FILE is
// this; hvbios-trace FILE reads it (docs/debugging.md, "Tracing").
//
// The file: a 64-byte header (TraceFileHeader), then 64-byte records
// (TraceRecord), both little-endian as x86-64 writes them. A file cut
// short (a run killed mid-write) loses at most its last partial record.
#ifndef HVBIOS_TRACE_H_
#define HVBIOS_TRACE_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace hvbios {

inline constexpr char kTraceMagic[8] = {'H', 'V', 'B', 'T', 'R', 'A', 'C', 'E'};
inline constexpr uint32_t kTraceVersion = 1;

struct TraceFileHeader {
  char magic[8];           // kTraceMagic
  uint32_t version;        // kTraceVersion
  uint32_t record_size;    // sizeof(TraceRecord)
  uint64_t start_unix_ns;  // wall-clock time of the tracer's start
  uint64_t start_ns;       // CLOCK_MONOTONIC then: records count from it
  uint64_t reserved[4];
};
static_assert(sizeof(TraceFileHeader) == 64);

enum class TraceKind : uint8_t {
  kHypercall = 1,  // `code` = function id, `args` = rdi, rsi, rdx, rcx,
                   // `result` = the status it returned (rax)
  kDoorbell = 2,   // `code` = queue id
  kPortIo = 3,     // `code` = port, `args[0]` = size, `args[1]` = write
  kMmio = 4,       // `code` = guest-physical address, the same
  kDropped = 5,    // `code` = records lost before this one (buffer full)
  kEvent = 6,      // an event raised on vCPU `vcpu` (since 0.7): `code` =
                   // its vector, `args[0]` = its event source
                   // (HVB_EVENT_SRC_*, or kTraceNoSource), host_ns 0
};

// kEvent's source for events no source raised: IPIs (event.send_ipi),
// timers and the embedder's Vm::RaiseEvent.
inline constexpr uint32_t kTraceNoSource = 0xffffffff;

struct TraceRecord {
  uint64_t start_ns;  // CLOCK_MONOTONIC, since TraceFileHeader.start_ns
  uint32_t host_ns;   // time the host spent serving it (saturating)
  uint16_t vcpu;
  TraceKind kind;
  uint8_t reserved;
  uint64_t code;
  uint64_t args[4];
  int64_t result;
};
static_assert(sizeof(TraceRecord) == 64);

// Records into a bounded buffer and writes it out on its own thread. Any
// number of VMs and vCPUs may record into one tracer at once.
class Tracer {
 public:
  // Records kept in memory at most; when the writer falls behind further,
  // records are dropped and a kDropped record counts them.
  static constexpr size_t kBufferRecords = 1 << 16;

  // Creates (or truncates) `path`, writes the header and starts the writer.
  static absl::StatusOr<std::shared_ptr<Tracer>> Create(
      const std::string& path);
  // The same, on a file descriptor the tracer owns from the call on.
  static absl::StatusOr<std::shared_ptr<Tracer>> CreateOnFd(int fd);

  virtual ~Tracer() = default;
  // Copies `record` into the buffer; never waits for the file. Callable
  // from any thread, including callbacks.
  virtual void Record(const TraceRecord& record) = 0;
  // Records an exit served since `at` (NowNs() when it returned): its
  // host time is NowNs() - at.
  void RecordExit(uint64_t at, uint32_t vcpu, TraceKind kind, uint64_t code,
                  std::array<uint64_t, 4> args, int64_t result);
  // Records an event raised on `vcpu` now (TraceKind::kEvent).
  void RecordEvent(uint32_t vcpu, uint8_t vector, uint32_t source);
  // Writes out everything recorded so far; the first write error, if any
  // (from then on, nothing more is written).
  virtual absl::Status Flush() = 0;
  // Records dropped so far.
  virtual uint64_t dropped() const = 0;
  // CLOCK_MONOTONIC in ns: what TraceRecord.start_ns counts from, plus
  // the header's start_ns.
  static uint64_t NowNs();
  // NowNs() at the tracer's start (the header's start_ns).
  virtual uint64_t start_ns() const = 0;
};

}  // namespace hvbios

#endif  // HVBIOS_TRACE_H_
