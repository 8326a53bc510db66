// The tracer (hvbios/trace.h): records go into one buffer under a mutex,
// which a vCPU holds for a copy of 64 bytes; a thread of the tracer's own
// swaps the buffer out every few milliseconds and writes it with one
// write(2). The writer never waits on the mutex's condition (it sleeps),
// so recording wakes nobody.
#include "hvbios/trace.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "hvbios/internal/mutex.h"
#include "lib/status_macros.h"
#include "lib/threads.h"
#include "lib/unique_fd.h"

namespace hvbios {
namespace {

constexpr absl::Duration kWriterPeriod = absl::Milliseconds(5);

// Writes all of `bytes` to `fd` (retrying short writes and EINTR).
absl::Status WriteAll(int fd, const void* bytes, size_t length) {
  const char* p = static_cast<const char*>(bytes);
  while (length > 0) {
    const ssize_t n = write(fd, p, length);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "writing the trace");
    p += n;
    length -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

class FileTracer final : public Tracer {
 public:
  explicit FileTracer(UniqueFd fd) : fd_(std::move(fd)) {
    pending_.reserve(kBufferRecords);
    spare_.reserve(kBufferRecords);
  }

  ~FileTracer() override {
    stop_.store(true, std::memory_order_relaxed);
    if (writer_.joinable()) writer_.join();
    (void)Flush();
  }

  absl::Status Start() {
    start_ns_ = NowNs();
    TraceFileHeader header = {};
    std::memcpy(header.magic, kTraceMagic, sizeof(header.magic));
    header.version = kTraceVersion;
    header.record_size = sizeof(TraceRecord);
    header.start_unix_ns = static_cast<uint64_t>(absl::GetCurrentTimeNanos());
    header.start_ns = start_ns_;
    RETURN_IF_ERROR(WriteAll(fd_.get(), &header, sizeof(header)));
    ASSIGN_OR_RETURN(writer_, StartThread("trace writer", [this] {
                       while (!stop_.load(std::memory_order_relaxed)) {
                         absl::SleepFor(kWriterPeriod);
                         (void)Flush();
                       }
                     }));
    return absl::OkStatus();
  }

  void Record(const TraceRecord& record) override {
    MutexLock lock(&mu_);
    if (pending_.size() + 1 >= kBufferRecords) {  // room for a kDropped
      ++lost_;
      return;
    }
    if (lost_ != 0) {
      TraceRecord gap = {};
      gap.start_ns = record.start_ns;
      gap.vcpu = record.vcpu;
      gap.kind = TraceKind::kDropped;
      gap.code = lost_;
      pending_.push_back(gap);
      dropped_ += lost_;
      lost_ = 0;
    }
    pending_.push_back(record);
  }

  absl::Status Flush() override {
    MutexLock write_lock(&write_mu_);
    {
      MutexLock lock(&mu_);
      pending_.swap(spare_);
    }
    if (!write_error_.ok() || spare_.empty()) {
      spare_.clear();
      return write_error_;
    }
    write_error_ =
        WriteAll(fd_.get(), spare_.data(), spare_.size() * sizeof(TraceRecord));
    spare_.clear();
    return write_error_;
  }

  uint64_t dropped() const override {
    MutexLock lock(&mu_);
    return dropped_ + lost_;
  }
  uint64_t start_ns() const override { return start_ns_; }

 private:
  const UniqueFd fd_;
  uint64_t start_ns_ = 0;
  std::atomic<bool> stop_{false};
  std::thread writer_;

  mutable Mutex mu_;
  std::vector<TraceRecord> pending_ ABSL_GUARDED_BY(mu_);
  uint64_t lost_ ABSL_GUARDED_BY(mu_) = 0;  // since the last kDropped
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;

  Mutex write_mu_;  // one writer at a time: the thread or Flush()
  std::vector<TraceRecord> spare_ ABSL_GUARDED_BY(write_mu_);
  absl::Status write_error_ ABSL_GUARDED_BY(write_mu_);
};

}  // namespace

void Tracer::RecordExit(uint64_t at, uint32_t vcpu, TraceKind kind,
                        uint64_t code, std::array<uint64_t, 4> args,
                        int64_t result) {
  const uint64_t host_ns = NowNs() - at;
  TraceRecord r = {};
  r.start_ns = at - start_ns();
  r.host_ns = static_cast<uint32_t>(std::min<uint64_t>(host_ns, UINT32_MAX));
  r.vcpu = static_cast<uint16_t>(vcpu);
  r.kind = kind;
  r.code = code;
  std::copy(args.begin(), args.end(), r.args);
  r.result = result;
  Record(r);
}

void Tracer::RecordEvent(uint32_t vcpu, uint8_t vector, uint32_t source) {
  TraceRecord r = {};
  r.start_ns = NowNs() - start_ns();
  r.vcpu = static_cast<uint16_t>(vcpu);
  r.kind = TraceKind::kEvent;
  r.code = vector;
  r.args[0] = source;
  Record(r);
}

uint64_t Tracer::NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u +
         static_cast<uint64_t>(ts.tv_nsec);
}

absl::StatusOr<std::shared_ptr<Tracer>> Tracer::Create(
    const std::string& path) {
  const int fd =
      open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus(errno, "cannot create trace " + path);
  return CreateOnFd(fd);
}

absl::StatusOr<std::shared_ptr<Tracer>> Tracer::CreateOnFd(int fd) {
  UniqueFd owned(fd);
  if (fd < 0) return absl::InvalidArgumentError("no file descriptor");
  auto tracer = std::make_shared<FileTracer>(std::move(owned));
  RETURN_IF_ERROR(tracer->Start());
  return tracer;
}

}  // namespace hvbios
