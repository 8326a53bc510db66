// hvbios-trace: summarises a trace that hvbios-run --trace FILE recorded
// (hvbios/trace.h): counts and host-latency percentiles per function on
// stdout, and on request a Chrome/Perfetto JSON timeline and a latency
// histogram drawn by gnuplot. docs/debugging.md, "Tracing".
#include <sys/wait.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/str_cat.h"
#include "tools/hvbios-trace/report.h"

namespace {

constexpr char kUsage[] =
    "Usage: hvbios-trace TRACE [--json OUT.json] [--plot OUT.png]\n"
    "\n"
    "Summarises a trace recorded by hvbios-run --trace TRACE: per event\n"
    "(hypercall function, doorbell, port or MMIO access) its count, the\n"
    "hypercalls that failed, and the host's time serving it: p50, p90, p99\n"
    "and max, in microseconds.\n"
    "\n"
    "  --json OUT.json  the timeline in Chrome's trace-event format: open it\n"
    "                   in https://ui.perfetto.dev or chrome://tracing\n"
    "  --plot OUT.png   a histogram of the host's time per event, drawn by\n"
    "                   gnuplot (Debian: gnuplot-nox)\n"
    "\n"
    "Exit status: 0, 1 on an unreadable or malformed trace, 2 on bad usage.\n";

int Fail(int status, const std::string& message) {
  std::fprintf(stderr, "hvbios-trace: %s\n", message.c_str());
  return status;
}

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return static_cast<bool>(out.flush());
}

}  // namespace

int main(int argc, char** argv) {
  std::string trace_path, json_path, plot_path;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if ((arg == "--json" || arg == "--plot") && i + 1 < argc) {
      (arg == "--json" ? json_path : plot_path) = argv[++i];
    } else if (!arg.empty() && arg[0] != '-' && trace_path.empty()) {
      trace_path = arg;
    } else {
      return Fail(2,
                  absl::StrCat("unexpected argument '", arg, "' (see --help)"));
    }
  }
  if (trace_path.empty()) return Fail(2, "no trace given (see --help)");

  std::ifstream in(trace_path, std::ios::binary);
  if (!in) return Fail(1, absl::StrCat("cannot open ", trace_path));
  const std::string bytes((std::istreambuf_iterator<char>(in)),
                          std::istreambuf_iterator<char>());
  absl::StatusOr<hvbios::trace::TraceFile> trace =
      hvbios::trace::ParseTrace(bytes);
  if (!trace.ok()) {
    return Fail(1, absl::StrCat(trace_path, ": ", trace.status().message()));
  }
  std::fputs(hvbios::trace::FormatTable(*trace).c_str(), stdout);
  if (!json_path.empty() &&
      !WriteFile(json_path, hvbios::trace::ChromeTraceJson(*trace))) {
    return Fail(1, absl::StrCat("cannot write ", json_path));
  }
  if (!plot_path.empty()) {
    FILE* gnuplot = popen("gnuplot", "w");
    if (gnuplot == nullptr) return Fail(1, "cannot run gnuplot");
    const std::string script =
        hvbios::trace::GnuplotScript(trace->records, plot_path);
    std::fwrite(script.data(), 1, script.size(), gnuplot);
    const int status = pclose(gnuplot);
    if (status != 0) {
      return Fail(1, "gnuplot failed (Debian: apt-get install gnuplot-nox)");
    }
  }
  return 0;
}
