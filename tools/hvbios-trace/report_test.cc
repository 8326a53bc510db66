// The tracer's file (lib/trace.cc) read back by hvbios-trace's report
// (tools/hvbios-trace/report.cc), and the tool itself.
#include "tools/hvbios-trace/report.h"

#include <fstream>
#include <iterator>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "hvbios/abi/hypercall.h"
#include "hvbios/abi/status.h"
#include "tests/run_command.h"
#include "tests/test_util.h"

namespace hvbios::trace {
namespace {

using testing::RunCommand;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
}

TraceRecord Hypercall(uint16_t vcpu, uint64_t fid, uint32_t host_ns,
                      int64_t result = 0) {
  TraceRecord r = {};
  r.vcpu = vcpu;
  r.kind = TraceKind::kHypercall;
  r.code = fid;
  r.host_ns = host_ns;
  r.result = result;
  return r;
}

class TraceTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(dir_.Create("trace_test")); }
  std::string Path(const std::string& name) { return dir_.path() + "/" + name; }
  testing::ScopedTempDir dir_;
};

// Four threads record at once; every record reaches the file exactly once,
// each thread's in its order, or is counted as dropped.
TEST_F(TraceTest, EveryRecordIsWrittenOrCountedDropped) {
  constexpr int kThreads = 4, kPerThread = 50000;
  uint64_t dropped = 0;
  {
    absl::StatusOr<std::shared_ptr<Tracer>> tracer =
        Tracer::Create(Path("t.trace"));
    ASSERT_TRUE(tracer.ok()) << tracer.status();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          TraceRecord r = Hypercall(t, HVB_FN_DEBUG_NULL, 100);
          r.args[0] = i;
          (*tracer)->Record(r);
        }
      });
    }
    for (std::thread& t : threads) t.join();
    ASSERT_TRUE((*tracer)->Flush().ok());
    dropped = (*tracer)->dropped();
  }
  absl::StatusOr<TraceFile> trace = ParseTrace(ReadAll(Path("t.trace")));
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_FALSE(trace->truncated);
  EXPECT_EQ(trace->header.version, kTraceVersion);
  uint64_t written = 0, dropped_in_file = 0;
  std::vector<int64_t> last(kThreads, -1);
  for (const TraceRecord& r : trace->records) {
    if (r.kind == TraceKind::kDropped) {
      dropped_in_file += r.code;
      continue;
    }
    ASSERT_LT(r.vcpu, kThreads);
    ASSERT_GT(static_cast<int64_t>(r.args[0]), last[r.vcpu]) << "in order";
    last[r.vcpu] = static_cast<int64_t>(r.args[0]);
    ++written;
  }
  EXPECT_EQ(written + dropped, uint64_t{kThreads} * kPerThread);
  EXPECT_LE(dropped_in_file, dropped);
}

TEST_F(TraceTest, NamesPercentilesAndErrors) {
  std::vector<TraceRecord> records;
  for (uint32_t ns = 1; ns <= 100; ++ns) {
    records.push_back(Hypercall(0, HVB_FN_CONSOLE_WRITE, ns * 1000));
  }
  records.push_back(Hypercall(1, HVB_FN_NET_SEND, 5000, HVB_ERR_INVAL));
  TraceRecord doorbell = {};
  doorbell.kind = TraceKind::kDoorbell;
  records.push_back(doorbell);
  const std::vector<EventStats> rows = Summarize(records);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].name, "console.write");
  EXPECT_EQ(rows[0].count, 100u);
  EXPECT_EQ(rows[0].p50_ns, 50000u);
  EXPECT_EQ(rows[0].p90_ns, 90000u);
  EXPECT_EQ(rows[0].p99_ns, 99000u);
  EXPECT_EQ(rows[0].max_ns, 100000u);
  EXPECT_EQ(rows[0].errors, 0u);
  const EventStats& send = rows[1].name == "net.send" ? rows[1] : rows[2];
  EXPECT_EQ(send.name, "net.send");
  EXPECT_EQ(send.errors, 1u);
  EXPECT_EQ(EventName(Hypercall(0, HVB_FID(0x8001, 2), 0)),
            "vendor 0x80010002");
  EXPECT_EQ(EventName(doorbell), "doorbell");
  TraceRecord event = {};
  event.kind = TraceKind::kEvent;
  for (const auto& [source, name] :
       std::vector<std::pair<uint64_t, std::string>>{
           {HVB_EVENT_SRC_CONSOLE_INPUT, "event console-input"},
           {HVB_EVENT_SRC_MEMORY_MAP, "event memory-map"},
           {HVB_EVENT_SRC_QUEUE(3), "event queue"},
           {HVB_EVENT_SRC_NET_RX(1), "event net-rx"},
           {HVB_EVENT_SRC_VENDOR_FIRST + 5, "event vendor"},
           {kTraceNoSource, "event ipi/timer"}}) {
    event.args[0] = source;
    EXPECT_EQ(EventName(event), name);
  }
}

TEST_F(TraceTest, MalformedFilesAreRefused) {
  EXPECT_FALSE(ParseTrace("HVBTRACE").ok()) << "too short";
  std::string bytes(sizeof(TraceFileHeader), '\0');
  EXPECT_FALSE(ParseTrace(bytes).ok()) << "no magic";
  TraceFileHeader header = {};
  std::memcpy(header.magic, kTraceMagic, sizeof(header.magic));
  header.version = kTraceVersion + 1;
  header.record_size = sizeof(TraceRecord);
  bytes.assign(reinterpret_cast<const char*>(&header), sizeof(header));
  EXPECT_FALSE(ParseTrace(bytes).ok()) << "a later version";
  header.version = kTraceVersion;
  bytes.assign(reinterpret_cast<const char*>(&header), sizeof(header));
  bytes += std::string(sizeof(TraceRecord) + 10, '\0');
  absl::StatusOr<TraceFile> cut = ParseTrace(bytes);
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(cut->records.size(), 1u);
  EXPECT_TRUE(cut->truncated);
}

// The tool: the table, the JSON timeline (one complete event per exit, an
// instant per event raised) and, where gnuplot is installed, the plot.
TEST_F(TraceTest, TheToolPrintsTheTableAndWritesJsonAndPlot) {
  {
    absl::StatusOr<std::shared_ptr<Tracer>> tracer =
        Tracer::Create(Path("t.trace"));
    ASSERT_TRUE(tracer.ok());
    for (int i = 0; i < 30; ++i) {
      (*tracer)->Record(Hypercall(i % 2, HVB_FN_CLOCK_MONOTONIC, 1000 + i));
    }
    (*tracer)->Record(Hypercall(0, HVB_FN_BLOCK_READ, 9000, HVB_ERR_FAULT));
    (*tracer)->RecordEvent(1, 0x41, HVB_EVENT_SRC_QUEUE(0));
    (*tracer)->RecordEvent(0, 0x42, kTraceNoSource);
  }
  const bool gnuplot =
      RunCommand({"sh", "-c", "command -v gnuplot"}).exit_status == 0;
  std::vector<std::string> args = {HVBIOS_TRACE_PATH, Path("t.trace"), "--json",
                                   Path("t.json")};
  if (gnuplot) {
    args.push_back("--plot");
    args.push_back(Path("t.png"));
  }
  const testing::CommandResult r = RunCommand(args);
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_NE(r.out.find("33 records"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nevent queue "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("clock.monotonic"), std::string::npos) << r.out;
  const std::vector<std::string> lines = absl::StrSplit(r.out, '\n');
  bool block_row = false;
  for (const std::string& line : lines) {
    if (line.rfind("block.read", 0) == 0) {
      block_row = true;
      EXPECT_NE(line.find(" 1       1 "), std::string::npos)
          << "one call, one error: " << line;
    }
  }
  EXPECT_TRUE(block_row) << r.out;
  const std::string json = ReadAll(Path("t.json"));
  EXPECT_EQ(json.rfind("{\"displayTimeUnit\"", 0), 0u);
  size_t events = 0;
  for (size_t at = 0; (at = json.find("\"ph\":\"X\"", at)) != std::string::npos;
       ++at) {
    ++events;
  }
  EXPECT_EQ(events, 31u);
  EXPECT_NE(
      json.find("{\"name\":\"event queue\",\"cat\":\"event\",\"ph\":\"i\""),
      std::string::npos)
      << "events are instants: " << json;
  if (gnuplot) {
    EXPECT_EQ(ReadAll(Path("t.png")).substr(1, 3), "PNG");
  } else {
    GTEST_LOG_(INFO) << "gnuplot is not installed: the plot is not checked";
  }
  EXPECT_EQ(RunCommand({HVBIOS_TRACE_PATH, Path("missing")}).exit_status, 1);
  EXPECT_EQ(RunCommand({HVBIOS_TRACE_PATH}).exit_status, 2);
}

}  // namespace
}  // namespace hvbios::trace
