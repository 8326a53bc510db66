#include "tools/hvbios-trace/report.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "hvbios/abi/functions.h"
#include "hvbios/abi/hypercall.h"

namespace hvbios::trace {
namespace {

// The nearest-rank percentile `p` (0..100) of sorted `v`.
uint64_t Percentile(const std::vector<uint64_t>& v, double p) {
  if (v.empty()) return 0;
  const size_t rank = static_cast<size_t>(std::ceil(p / 100 * v.size()));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

std::string Micros(uint64_t ns) {
  return absl::StrFormat("%.1f", static_cast<double>(ns) / 1000);
}

// One event's records: their host times, and how many failed.
struct Group {
  std::vector<uint64_t> times;
  uint64_t errors = 0;
};

// Records grouped by event name (each named once).
std::map<std::string, Group> ByName(const std::vector<TraceRecord>& records) {
  std::map<std::string, Group> by_name;
  for (const TraceRecord& r : records) {
    if (r.kind == TraceKind::kDropped) continue;
    Group& g = by_name[EventName(r)];
    g.times.push_back(r.host_ns);
    if (r.kind == TraceKind::kHypercall && r.result < 0) ++g.errors;
  }
  return by_name;
}

// Names by count, most frequent first (ties by name).
std::vector<std::string> NamesByCount(
    const std::map<std::string, Group>& by_name) {
  std::vector<std::string> names;
  for (const auto& [name, group] : by_name) names.push_back(name);
  std::stable_sort(names.begin(), names.end(),
                   [&](const std::string& a, const std::string& b) {
                     return by_name.at(a).times.size() >
                            by_name.at(b).times.size();
                   });
  return names;
}

}  // namespace

absl::StatusOr<TraceFile> ParseTrace(absl::string_view bytes) {
  TraceFile trace;
  if (bytes.size() < sizeof(TraceFileHeader)) {
    return absl::InvalidArgumentError("not an hvbios trace (too short)");
  }
  std::memcpy(&trace.header, bytes.data(), sizeof(trace.header));
  if (std::memcmp(trace.header.magic, kTraceMagic, sizeof(kTraceMagic)) != 0) {
    return absl::InvalidArgumentError("not an hvbios trace (no HVBTRACE)");
  }
  if (trace.header.version != kTraceVersion ||
      trace.header.record_size != sizeof(TraceRecord)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "trace version %d with %d-byte records; this hvbios-trace reads "
        "version %d",
        trace.header.version, trace.header.record_size, kTraceVersion));
  }
  bytes.remove_prefix(sizeof(TraceFileHeader));
  const size_t count = bytes.size() / sizeof(TraceRecord);
  trace.records.resize(count);
  std::memcpy(trace.records.data(), bytes.data(), count * sizeof(TraceRecord));
  trace.truncated = bytes.size() % sizeof(TraceRecord) != 0;
  return trace;
}

namespace {

// "event console-input", "event queue", "event net-rx", "event vendor",
// "event ipi/timer".
std::string EventSourceName(uint64_t source) {
  if (source == kTraceNoSource) return "event ipi/timer";
  if (source == HVB_EVENT_SRC_CONSOLE_INPUT) return "event console-input";
  if (source == HVB_EVENT_SRC_MEMORY_MAP) return "event memory-map";
  if (source >= HVB_EVENT_SRC_VENDOR_FIRST &&
      source <= HVB_EVENT_SRC_VENDOR_LAST) {
    return "event vendor";
  }
  if (source >= HVB_EVENT_SRC_NET_RX(0)) return "event net-rx";
  if (source >= HVB_EVENT_SRC_QUEUE(0)) return "event queue";
  return absl::StrFormat("event 0x%x", source);
}

}  // namespace

std::string EventName(const TraceRecord& r) {
  switch (r.kind) {
    case TraceKind::kHypercall:
#define HVB_TRACE_NAME(SVC, svc, FN, fn, number) \
  if (r.code == HVB_FN_##SVC##_##FN) return #svc "." #fn;
      HVB_FUNCTIONS(HVB_TRACE_NAME)
#undef HVB_TRACE_NAME
      if (HVB_FID_SERVICE(r.code) >= HVB_SVC_VENDOR_FIRST) {
        return absl::StrFormat("vendor 0x%x", r.code);
      }
      return absl::StrFormat("function 0x%x", r.code);
    case TraceKind::kDoorbell:
      return "doorbell";
    case TraceKind::kPortIo:
      return absl::StrFormat("port 0x%x", r.code);
    case TraceKind::kMmio:
      return "mmio";
    case TraceKind::kDropped:
      return "dropped";
    case TraceKind::kEvent:
      return EventSourceName(r.args[0]);
  }
  return absl::StrFormat("kind %d", static_cast<int>(r.kind));
}

std::vector<EventStats> Summarize(const std::vector<TraceRecord>& records) {
  std::map<std::string, Group> by_name = ByName(records);
  std::vector<EventStats> rows;
  for (const std::string& name : NamesByCount(by_name)) {
    std::vector<uint64_t>& times = by_name[name].times;
    std::sort(times.begin(), times.end());
    rows.push_back({.name = name,
                    .count = times.size(),
                    .errors = by_name[name].errors,
                    .p50_ns = Percentile(times, 50),
                    .p90_ns = Percentile(times, 90),
                    .p99_ns = Percentile(times, 99),
                    .max_ns = times.back()});
  }
  return rows;
}

std::string FormatTable(const TraceFile& trace) {
  uint64_t dropped = 0, span_ns = 0;
  for (const TraceRecord& r : trace.records) {
    if (r.kind == TraceKind::kDropped) dropped += r.code;
    span_ns = std::max<uint64_t>(span_ns, r.start_ns + r.host_ns);
  }
  std::string out = absl::StrFormat(
      "%d records over %.3f s%s%s\n", trace.records.size(), span_ns / 1e9,
      dropped
          ? absl::StrFormat(", %d dropped (the writer fell behind)", dropped)
          : "",
      trace.truncated ? ", the last one cut short" : "");
  absl::StrAppendFormat(&out, "%-24s %9s %7s %9s %9s %9s %9s\n", "event",
                        "count", "errors", "p50 us", "p90 us", "p99 us",
                        "max us");
  for (const EventStats& s : Summarize(trace.records)) {
    absl::StrAppendFormat(&out, "%-24s %9d %7d %9s %9s %9s %9s\n", s.name,
                          s.count, s.errors, Micros(s.p50_ns), Micros(s.p90_ns),
                          Micros(s.p99_ns), Micros(s.max_ns));
  }
  return out;
}

std::string ChromeTraceJson(const TraceFile& trace) {
  std::string out = "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[";
  bool first = true;
  for (const TraceRecord& r : trace.records) {
    absl::StrAppend(&out, first ? "\n" : ",\n");
    first = false;
    // Names come from the ABI's table or are formatted numbers: no
    // character needs escaping. Events are instants on the target vCPU's
    // track.
    if (r.kind == TraceKind::kEvent) {
      absl::StrAppendFormat(
          &out,
          "{\"name\":\"%s\",\"cat\":\"event\",\"ph\":\"i\",\"s\":\"t\","
          "\"pid\":1,\"tid\":%d,\"ts\":%.3f,\"args\":{\"vector\":\"0x%x\","
          "\"source\":\"0x%x\"}}",
          EventName(r), r.vcpu, r.start_ns / 1e3, r.code, r.args[0]);
      continue;
    }
    absl::StrAppendFormat(
        &out,
        "{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"X\",\"pid\":1,\"tid\":%d,"
        "\"ts\":%.3f,\"dur\":%.3f,\"args\":{\"a0\":\"0x%x\",\"a1\":\"0x%x\","
        "\"a2\":\"0x%x\",\"a3\":\"0x%x\",\"status\":%d}}",
        EventName(r), r.kind == TraceKind::kHypercall ? "hypercall" : "exit",
        r.vcpu, r.start_ns / 1e3, r.host_ns / 1e3, r.args[0], r.args[1],
        r.args[2], r.args[3], r.result);
  }
  absl::StrAppend(&out, "\n]}\n");
  return out;
}

std::string GnuplotScript(const std::vector<TraceRecord>& records,
                          const std::string& png, size_t top) {
  // Events take no host time of their own: the plot leaves them out.
  std::vector<TraceRecord> timed;
  std::copy_if(
      records.begin(), records.end(), std::back_inserter(timed),
      [](const TraceRecord& r) { return r.kind != TraceKind::kEvent; });
  const std::map<std::string, Group> by_name = ByName(timed);
  std::vector<std::string> names = NamesByCount(by_name);
  if (names.size() > top) names.resize(top);
  // Log-spaced bins of the host's time: 4 per decade from 100 ns.
  constexpr int kBins = 24;
  auto bin_of = [](uint64_t ns) {
    const double decades = std::log10(std::max<double>(ns, 100) / 100);
    return std::min(kBins - 1, static_cast<int>(decades * 4));
  };
  std::string out = absl::StrFormat(
      "set terminal pngcairo size 1000,520 font \",10\"\n"
      "set output '%s'\n"
      "set title 'host time per exit (hvbios-trace)'\n"
      "set logscale x\nset xlabel 'host time (us)'\nset ylabel 'exits'\n"
      "set key top right\nset style data linespoints\n",
      png);
  std::string plot = "plot ";
  std::string data;
  for (size_t i = 0; i < names.size(); ++i) {
    std::vector<uint64_t> counts(kBins);
    for (uint64_t ns : by_name.at(names[i]).times) ++counts[bin_of(ns)];
    absl::StrAppendFormat(&data, "$d%d << EOD\n", i);
    for (int b = 0; b < kBins; ++b) {
      absl::StrAppendFormat(&data, "%.3f %d\n",
                            0.1 * std::pow(10.0, (b + 0.5) / 4), counts[b]);
    }
    absl::StrAppend(&data, "EOD\n");
    absl::StrAppendFormat(&plot, "%s$d%d using 1:2 title '%s'", i ? ", " : "",
                          i, names[i]);
  }
  return out + data + (names.empty() ? "" : plot + "\n");
}

}  // namespace hvbios::trace
