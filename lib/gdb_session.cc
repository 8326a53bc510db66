// One gdb session (lib/gdb_session.h): the remote protocol's packets
// served with hvbios::Debugger, all-stop.
#include "lib/gdb_session.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "hvbios/debug.h"
#include "lib/gdb_protocol.h"

namespace hvbios {
namespace {

using gdb::PacketReader;

// Bytes one m/M/X packet moves: within the PacketSize we announce (0x4000
// characters) once hex-encoded.
constexpr size_t kMaxTransfer = 4096;

// gdb's thread ids start at 1.
uint32_t ThreadId(uint32_t vcpu_id) { return vcpu_id + 1; }

std::string StopReply(int signal, uint32_t vcpu_id) {
  return absl::StrFormat("T%02xthread:%x;", signal, ThreadId(vcpu_id));
}

constexpr int kSigInt = 2, kSigTrap = 5, kSigAbrt = 6, kSigKill = 9,
              kSigSegv = 11;

std::string BreakpointMethod(uint32_t hardware_breakpoints) {
  return hardware_breakpoints > 0
             ? absl::StrFormat(
                   "in debug registers (%d; more are found by "
                   "single-stepping)",
                   hardware_breakpoints)
             : "by single-stepping (the hypervisor delivers no hardware "
               "breakpoints for guests)";
}

class Session {
 public:
  Session(Vm* vm, int fd, int wake_fd,
          const std::function<void(absl::string_view)>& log)
      : vm_(vm), fd_(fd), wake_fd_(wake_fd), log_(log) {}

  void Run() {
    absl::StatusOr<std::unique_ptr<Debugger>> debugger = vm_->AttachDebugger();
    if (!debugger.ok()) {
      Log(absl::StrCat("gdb refused: ", debugger.status().message()));
      return;
    }
    debugger_ = *std::move(debugger);
    Log(absl::StrCat("gdb connected; breakpoints ",
                     BreakpointMethod(debugger_->hardware_breakpoints())));
    // gdb expects the target stopped when it connects.
    if (!debugger_->Interrupt().ok()) return;
    running_ = true;
    initial_ = true;
    while (!ended_ && Poll()) {
    }
    Detach();
    Log(killed_ ? "gdb killed the guest" : "gdb left; the guest runs on");
  }

 private:
  void Log(absl::string_view line) {
    if (log_) log_(line);
  }

  // One round of waiting: a stop, bytes from gdb, or the server ending.
  bool Poll() {
    pollfd fds[3] = {{fd_, POLLIN, 0},
                     {wake_fd_, POLLIN, 0},
                     {running_ ? debugger_->stop_fd() : -1, POLLIN, 0}};
    if (poll(fds, 3, -1) < 0) return errno == EINTR;
    if (fds[1].revents != 0) return false;
    if (fds[2].revents != 0) {
      absl::StatusOr<std::optional<DebugStop>> stop = debugger_->TakeStop();
      if (!stop.ok()) return false;
      if (stop->has_value()) {
        running_ = false;
        if (!ReportStop(**stop)) return false;
      }
    }
    if (fds[0].revents != 0) {
      char buffer[4096];
      const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) return n < 0 && errno == EINTR;
      reader_.Feed(absl::string_view(buffer, n));
      while (!ended_) {
        std::optional<PacketReader::Item> item = reader_.Next();
        if (!item.has_value()) break;
        if (!Serve(*item)) return false;
      }
    }
    return true;
  }

  bool Serve(const PacketReader::Item& item) {
    switch (item.kind) {
      case PacketReader::Item::Kind::kAck:
        return true;
      case PacketReader::Item::Kind::kNack:
        return last_sent_.empty() || SendRaw(last_sent_);
      case PacketReader::Item::Kind::kBadPacket:
        return !ack_mode_ || SendRaw("-");
      case PacketReader::Item::Kind::kInterrupt:
        if (running_) (void)debugger_->Interrupt();
        return true;
      case PacketReader::Item::Kind::kPacket:
        if (ack_mode_ && !SendRaw("+")) return false;
        return Handle(item.payload);
    }
    return true;
  }

  bool SendRaw(absl::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(n);
    }
    return true;
  }

  bool Send(absl::string_view payload) {
    last_sent_ = gdb::Frame(payload);
    return SendRaw(last_sent_);
  }

  // Tells gdb why the VM stopped, except for the stop gdb connected to:
  // gdb asks for that one ('?').
  bool ReportStop(const DebugStop& stop) {
    last_stop_ = stop;
    thread_ = stop.vcpu_id;
    if (initial_) {
      initial_ = false;
      return true;
    }
    return Send(StopReplyFor(stop, /*initial=*/false));
  }

  std::string StopReplyFor(const DebugStop& stop, bool initial) {
    switch (stop.reason) {
      case DebugStop::Reason::kStep:
      case DebugStop::Reason::kBreakpoint:
        return StopReply(kSigTrap, stop.vcpu_id);
      case DebugStop::Reason::kInterrupt:
        return StopReply(initial ? kSigTrap : kSigInt, stop.vcpu_id);
      case DebugStop::Reason::kVmExit:
        break;
    }
    // The VM's end. A fault or a panic stops first, so that gdb can look
    // at the vCPU; the next resume reports the end.
    const VmExit& exit = stop.exit;
    switch (exit.reason) {
      case VmExit::Reason::kShutdown:
        return absl::StrFormat("W%02x", exit.exit_code & 0xff);
      case VmExit::Reason::kReboot:
        return "W00";
      case VmExit::Reason::kGuestFault:
        exit_reply_ = absl::StrFormat("X%02x", kSigSegv);
        return StopReply(kSigSegv, stop.vcpu_id);
      case VmExit::Reason::kPanic:
        exit_reply_ = absl::StrFormat("X%02x", kSigAbrt);
        return StopReply(kSigAbrt, stop.vcpu_id);
      case VmExit::Reason::kStopped:
      case VmExit::Reason::kHostError:
        break;
    }
    return absl::StrFormat("X%02x", kSigKill);
  }

  bool Handle(absl::string_view p) {
    if (p.empty()) return Send("");  // "$#00": nothing asked
    if (p == "?") {
      // Before the first stop arrived (it comes at once): "stopped".
      if (!last_stop_.has_value()) return Send("S05");
      return Send(StopReplyFor(*last_stop_, /*initial=*/true));
    }
    if (p == "g") return ReadRegisters();
    if (p[0] == 'G') return WriteRegisters(p.substr(1));
    if (p[0] == 'p') return ReadRegister(p.substr(1));
    if (p[0] == 'P') return WriteRegister(p.substr(1));
    if (p[0] == 'm') return ReadMemory(p.substr(1));
    if (p[0] == 'M' || p[0] == 'X') return WriteMemory(p);
    if (p[0] == 'Z' || p[0] == 'z') return Breakpoint(p);
    if (p[0] == 'H') return SelectThread(p.substr(1));
    if (p[0] == 'T') {
      return Send(VcpuExists(p.substr(1)).has_value() ? "OK" : "E01");
    }
    if (p[0] == 'c') return Resume(std::nullopt, true);
    if (p[0] == 's') return Resume(thread_, false);
    if (p == "vCont?") return Send("vCont;c;C;s;S");
    if (absl::ConsumePrefix(&p, "vCont;")) return ResumeActions(p);
    if (p == "D" || absl::StartsWith(p, "D;")) {
      ended_ = true;
      return Send("OK");
    }
    if (p == "k" || absl::StartsWith(p, "vKill")) {
      vm_->Stop();
      ended_ = killed_ = true;
      return p == "k" || Send("OK");
    }
    if (p[0] == 'q' || p[0] == 'Q') return Query(p);
    return Send("");  // not supported
  }

  bool Query(absl::string_view p) {
    if (absl::StartsWith(p, "qSupported")) {
      return Send(
          "PacketSize=4000;qXfer:features:read+;QStartNoAckMode+;"
          "vContSupported+");
    }
    if (p == "QStartNoAckMode") {
      const bool sent = Send("OK");
      ack_mode_ = false;
      return sent;
    }
    if (p == "qAttached") return Send("1");
    if (p == "qC") return Send(absl::StrFormat("QC%x", ThreadId(thread_)));
    if (p == "qfThreadInfo") {
      std::string list;
      for (uint32_t id = 0; id < vm_->options().vcpu_count; ++id) {
        Vcpu* v = vm_->vcpu(id);
        if (v == nullptr || v->state() == VcpuState::kDestroyed) continue;
        absl::StrAppendFormat(&list, "%s%x", list.empty() ? "m" : ",",
                              ThreadId(id));
      }
      return Send(list.empty() ? "l" : list);
    }
    if (p == "qsThreadInfo") return Send("l");
    if (absl::ConsumePrefix(&p, "qThreadExtraInfo,")) {
      std::optional<uint32_t> id = VcpuExists(p);
      if (!id.has_value()) return Send("E01");
      return Send(gdb::HexOfString(absl::StrFormat(
          "vCPU %d, %s", *id, VcpuStateName(vm_->vcpu(*id)->state()))));
    }
    if (absl::ConsumePrefix(&p, "qXfer:features:read:target.xml:")) {
      return TargetXml(p);
    }
    if (absl::ConsumePrefix(&p, "qRcmd,")) return Monitor(p);
    if (absl::StartsWith(p, "qSymbol")) return Send("OK");
    return Send("");
  }

  bool TargetXml(absl::string_view range) {
    std::vector<absl::string_view> parts = absl::StrSplit(range, ',');
    std::optional<uint64_t> offset, length;
    if (parts.size() == 2) {
      offset = gdb::ParseHexNumber(parts[0]);
      length = gdb::ParseHexNumber(parts[1]);
    }
    if (!offset.has_value() || !length.has_value()) return Send("E00");
    const std::string& xml = gdb::TargetXml();
    if (*offset >= xml.size()) return Send("l");
    const std::string chunk = xml.substr(*offset, *length);
    return Send(
        absl::StrCat(*offset + chunk.size() < xml.size() ? "m" : "l", chunk));
  }

  bool Monitor(absl::string_view hex) {
    std::optional<std::vector<uint8_t>> bytes = gdb::FromHex(hex);
    if (!bytes.has_value()) return Send("E01");
    const std::string command(bytes->begin(), bytes->end());
    std::string out;
    if (command == "phys on" || command == "phys off") {
      physical_ = command == "phys on";
      out = physical_ ? "memory: guest-physical addresses\n"
                      : "memory: virtual addresses (the vCPU's page tables)\n";
    } else if (command == "phys") {
      out = physical_ ? "guest-physical\n" : "virtual\n";
    } else {
      out = absl::StrCat(
          "hvbios gdb stub. Breakpoints ",
          BreakpointMethod(debugger_->hardware_breakpoints()),
          ".\n"
          "  monitor phys on|off   memory by guest-physical address, or "
          "virtual (default)\n");
    }
    return Send(absl::StrCat("O", gdb::HexOfString(out))) && Send("OK");
  }

  // "<tid>" of a live vCPU.
  std::optional<uint32_t> VcpuExists(absl::string_view tid) {
    std::optional<uint64_t> id = gdb::ParseHexNumber(tid);
    if (!id.has_value() || *id == 0 || *id > vm_->options().vcpu_count) {
      return std::nullopt;
    }
    Vcpu* v = vm_->vcpu(*id - 1);
    if (v == nullptr || v->state() == VcpuState::kDestroyed)
      return std::nullopt;
    return *id - 1;
  }

  bool SelectThread(absl::string_view p) {
    if (p.empty()) return Send("E01");
    const absl::string_view tid = p.substr(1);
    if (tid == "0" || tid == "-1") return Send("OK");  // any: keep ours
    std::optional<uint32_t> id = VcpuExists(tid);
    if (!id.has_value()) return Send("E01");
    if (p[0] == 'g') thread_ = *id;
    return Send("OK");
  }

  absl::StatusOr<Registers> CurrentRegisters() {
    Vcpu* v = vm_->vcpu(thread_);
    if (v == nullptr) return absl::NotFoundError("no such vCPU");
    return v->GetRegisters();
  }

  bool ReadRegisters() {
    absl::StatusOr<Registers> regs = CurrentRegisters();
    return Send(regs.ok() ? gdb::AllRegistersHex(*regs) : "E01");
  }

  bool ReadRegister(absl::string_view p) {
    std::optional<uint64_t> index = gdb::ParseHexNumber(p);
    absl::StatusOr<Registers> regs = CurrentRegisters();
    if (!index.has_value() || !regs.ok()) return Send("E01");
    const std::string hex = gdb::RegisterHex(*regs, *index);
    return Send(hex.empty() ? "E01" : hex);
  }

  bool WriteRegisters(absl::string_view hex) {
    absl::StatusOr<Registers> regs = CurrentRegisters();
    if (!regs.ok() || !gdb::SetAllRegistersFromHex(&*regs, hex)) {
      return Send("E01");
    }
    return Send(vm_->vcpu(thread_)->SetRegisters(*regs).ok() ? "OK" : "E01");
  }

  bool WriteRegister(absl::string_view p) {
    const size_t eq = p.find('=');
    std::optional<uint64_t> index =
        gdb::ParseHexNumber(p.substr(0, std::min(eq, p.size())));
    absl::StatusOr<Registers> regs = CurrentRegisters();
    if (eq == absl::string_view::npos || !index.has_value() || !regs.ok() ||
        !gdb::SetRegisterFromHex(&*regs, *index, p.substr(eq + 1))) {
      return Send("E01");
    }
    return Send(vm_->vcpu(thread_)->SetRegisters(*regs).ok() ? "OK" : "E01");
  }

  // "addr,length" as numbers, the length within kMaxTransfer.
  static bool ParseRange(absl::string_view text, uint64_t* address,
                         uint64_t* length) {
    std::vector<absl::string_view> parts = absl::StrSplit(text, ',');
    if (parts.size() != 2) return false;
    std::optional<uint64_t> a = gdb::ParseHexNumber(parts[0]);
    std::optional<uint64_t> n = gdb::ParseHexNumber(parts[1]);
    if (!a.has_value() || !n.has_value() || *n > kMaxTransfer) return false;
    *address = *a;
    *length = *n;
    return true;
  }

  // Copies guest memory at `address`, virtual or physical as the monitor
  // chose: how many bytes, up to the first that is not RAM.
  size_t CopyMemory(uint64_t address, uint8_t* host, size_t length,
                    bool write) {
    if (!physical_) {
      absl::StatusOr<size_t> n =
          write ? debugger_->WriteVirtual(thread_, address, {host, length})
                : debugger_->ReadVirtual(thread_, address, {host, length});
      return n.ok() ? *n : 0;
    }
    size_t done = 0;
    while (done < length) {
      const uint64_t at = address + done;
      const size_t n = std::min<uint64_t>(length - done, 4096 - at % 4096);
      const absl::Status s = write ? vm_->WriteGuestMemory(at, host + done, n)
                                   : vm_->ReadGuestMemory(at, host + done, n);
      if (!s.ok()) break;
      done += n;
    }
    return done;
  }

  bool ReadMemory(absl::string_view p) {
    uint64_t address, length;
    if (!ParseRange(p, &address, &length)) return Send("E01");
    std::vector<uint8_t> bytes(length);
    const size_t n = CopyMemory(address, bytes.data(), length, false);
    if (n == 0 && length != 0) return Send("E0e");  // EFAULT
    return Send(gdb::ToHex(bytes.data(), n));
  }

  bool WriteMemory(absl::string_view p) {
    const size_t colon = p.find(':');
    uint64_t address, length;
    if (colon == absl::string_view::npos ||
        !ParseRange(p.substr(1, colon - 1), &address, &length)) {
      return Send("E01");
    }
    std::vector<uint8_t> bytes;
    if (p[0] == 'M') {
      std::optional<std::vector<uint8_t>> hex =
          gdb::FromHex(p.substr(colon + 1));
      if (!hex.has_value()) return Send("E01");
      bytes = *std::move(hex);
    } else {
      std::optional<std::string> raw = gdb::UnescapeBinary(p.substr(colon + 1));
      if (!raw.has_value()) return Send("E01");
      bytes.assign(raw->begin(), raw->end());
    }
    if (bytes.size() != length) return Send("E01");
    if (length == 0) return Send("OK");  // gdb probing for X
    const size_t n = CopyMemory(address, bytes.data(), length, true);
    return Send(n == length ? "OK" : "E0e");
  }

  bool Breakpoint(absl::string_view p) {
    // Z0/Z1 (software / hardware): both are instruction breakpoints here.
    // Z2..Z4 (watchpoints): unsupported, so gdb watches by stepping.
    if (p.size() < 3 || (p[1] != '0' && p[1] != '1') || p[2] != ',') {
      return Send("");
    }
    std::vector<absl::string_view> parts = absl::StrSplit(p.substr(3), ',');
    std::optional<uint64_t> address =
        parts.empty() ? std::nullopt : gdb::ParseHexNumber(parts[0]);
    if (!address.has_value()) return Send("E01");
    const absl::Status s = p[0] == 'Z' ? debugger_->InsertBreakpoint(*address)
                                       : debugger_->RemoveBreakpoint(*address);
    return Send(s.ok() || absl::IsNotFound(s) ? "OK" : "E01");
  }

  // "s:1;c", "c", "s:2", "C05:1;c": at most one vCPU steps; a 'c' lets
  // the others run. Signals cannot be delivered to a VM and are dropped.
  bool ResumeActions(absl::string_view actions) {
    std::optional<uint32_t> step;
    bool others_run = false;
    for (absl::string_view action : absl::StrSplit(actions, ';')) {
      if (action.empty()) continue;
      const size_t colon = action.find(':');
      std::optional<uint32_t> id = thread_;
      if (colon != absl::string_view::npos) {
        const absl::string_view tid = action.substr(colon + 1);
        id = tid == "-1" ? std::nullopt : VcpuExists(tid);
        if (tid != "-1" && !id.has_value()) return Send("E01");
      }
      const char kind = action[0];
      if ((kind == 's' || kind == 'S') && !step.has_value()) {
        step = id.value_or(thread_);
      } else if (kind == 'c' || kind == 'C') {
        others_run = true;
      } else if (kind != 's' && kind != 'S') {
        return Send("");  // 't', 'r': not offered
      }
    }
    return Resume(step, others_run);
  }

  bool Resume(std::optional<uint32_t> step, bool others_run) {
    if (!exit_reply_.empty()) {  // stopped at the VM's end: now it ends
      ended_ = true;
      return Send(exit_reply_);
    }
    const absl::Status s = debugger_->Resume(step, others_run);
    if (!s.ok() && !absl::IsFailedPrecondition(s)) return Send("E01");
    // Running; or the VM ended meanwhile, which the stop fd now tells.
    running_ = true;
    return true;
  }

  // The session ends: the debugger's breakpoints go; the VM runs on unless
  // gdb killed it.
  void Detach() {
    debugger_.reset();
    (void)vm_->Resume();  // FailedPrecondition once the VM has stopped
  }

  Vm* const vm_;
  const int fd_;
  const int wake_fd_;
  const std::function<void(absl::string_view)>& log_;
  std::unique_ptr<Debugger> debugger_;
  PacketReader reader_;
  bool ack_mode_ = true;
  bool running_ = false;
  bool initial_ = false;  // the next stop is the one gdb connected to
  bool ended_ = false;
  bool killed_ = false;
  bool physical_ = false;
  uint32_t thread_ = 0;     // vCPU of g/G/p/P/m/M/X and of 's'
  std::string exit_reply_;  // after a fault or panic stop: W/X to send
  std::string last_sent_;
  std::optional<DebugStop> last_stop_;
};

}  // namespace

void RunGdbSession(Vm* vm, int fd, int wake_fd,
                   const std::function<void(absl::string_view)>& log) {
  Session(vm, fd, wake_fd, log).Run();
}

}  // namespace hvbios
