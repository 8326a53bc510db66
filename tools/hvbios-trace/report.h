// What hvbios-trace makes of a trace file (hvbios/trace.h): the records
// read back, a table of counts and host-latency percentiles per function,
// a Chrome/Perfetto trace-event JSON of the timeline, and a gnuplot script
// for a latency histogram. Pure functions, for the tool and its tests.
#ifndef HVBIOS_TOOLS_HVBIOS_TRACE_REPORT_H_
#define HVBIOS_TOOLS_HVBIOS_TRACE_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "hvbios/trace.h"

namespace hvbios::trace {

struct TraceFile {
  TraceFileHeader header;
  std::vector<TraceRecord> records;
  bool truncated = false;  // it ended inside a record (the run was killed)
};

// Parses a trace file's bytes: InvalidArgument unless it starts with a
// header of this version and record size.
absl::StatusOr<TraceFile> ParseTrace(absl::string_view bytes);

// What a record is about: "console.write" (from the ABI's function table),
// "vendor 0x80000001", "doorbell", "port 0x3f8", "mmio", "dropped".
std::string EventName(const TraceRecord& record);

struct EventStats {
  std::string name;
  uint64_t count = 0;
  uint64_t errors = 0;  // hypercalls that returned an HVB_ERR_*
  uint64_t p50_ns = 0, p90_ns = 0, p99_ns = 0, max_ns = 0;
};
// One row per event name, the most frequent first; percentiles by the
// nearest-rank method over the host's time.
std::vector<EventStats> Summarize(const std::vector<TraceRecord>& records);

// The table hvbios-trace prints.
std::string FormatTable(const TraceFile& trace);

// The Chrome trace-event format (a JSON object with "traceEvents"), which
// Perfetto and chrome://tracing open: one complete event per record, on
// one track per vCPU.
std::string ChromeTraceJson(const TraceFile& trace);

// A gnuplot script drawing the host-latency histogram of the `top` most
// frequent events into `png`, data inline.
std::string GnuplotScript(const std::vector<TraceRecord>& records,
                          const std::string& png, size_t top = 6);

}  // namespace hvbios::trace

#endif  // HVBIOS_TOOLS_HVBIOS_TRACE_REPORT_H_
