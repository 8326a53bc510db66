#include "tools/hvbios-run/options.h"

#include <cctype>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "hvbios/net.h"
#include "hvbios/vm.h"
#include "lib/status_macros.h"
#include "tools/hvbios-net-user/hostfwd.h"

namespace hvbios::run {

namespace {

// Parses a --timeout value.
absl::StatusOr<absl::Duration> ParseTimeout(absl::string_view text) {
  absl::Duration d;
  double seconds;
  if (absl::SimpleAtod(text, &seconds)) {
    // SimpleAtod takes "nan" and "inf", which no one means as a limit.
    if (!std::isfinite(seconds)) {
      return absl::InvalidArgumentError(
          absl::StrCat("timeout '", text, "' is not a finite number"));
    }
    d = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(text, &d)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed timeout '", text, "' (expected e.g. 10, 2.5s, 500ms)"));
  }
  if (d <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("timeout must be positive");
  }
  if (d > kMaxTimeout) {  // "inf" as a duration lands here too
    return absl::InvalidArgumentError(
        absl::StrCat("timeout '", text, "' is longer than the largest, ",
                     absl::FormatDuration(kMaxTimeout)));
  }
  return d;
}

}  // namespace

absl::StatusOr<NetSpec> ParseNetSpec(absl::string_view text) {
  ASSIGN_OR_RETURN(NetSpec spec, hvbios::ParseNetSpec(text, "--net"));
  for (size_t i = 0; i + 1 < spec.user_args.size(); ++i) {
    if (spec.user_args[i] != "--hostfwd") continue;
    if (absl::Status s =
            net_user::ParseHostForward(spec.user_args[i + 1]).status();
        !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--net '", text, "': ", s.message()));
    }
  }
  return spec;
}

namespace {

// Which settings an argument list gave.
struct Given {
  bool memory = false, cpus = false, cmdline = false, timeout = false,
       disks = false, nets = false, image = false;
};

// What one argument list says: the command line's, or a profile's.
struct ParsedArgs {
  RunOptions options;
  Given given;
  std::string profile;  // --profile's value, if given
};

absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args) {
  ParsedArgs parsed;
  RunOptions& options = parsed.options;
  Given& given = parsed.given;
  bool options_ended = false;  // after "--" every argument is the image
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (options_ended || arg == "-" || !absl::StartsWith(arg, "-")) {
      if (given.image) {
        return absl::InvalidArgumentError(
            absl::StrCat("unexpected argument '", arg,
                         "': only one guest image can be given"));
      }
      options.image = arg;
      given.image = true;
      continue;
    }
    if (arg == "--") {
      options_ended = true;
      continue;
    }
    // Accept both "--flag value" and "--flag=value".
    std::string name = arg, value;
    bool has_inline_value = false;
    if (absl::StartsWith(arg, "--")) {
      if (size_t eq = arg.find('='); eq != std::string::npos) {
        name = arg.substr(0, eq);
        value = arg.substr(eq + 1);
        has_inline_value = true;
      }
    }
    auto take_value = [&]() -> absl::StatusOr<std::string> {
      if (has_inline_value) return value;
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("option ", name, " needs a value"));
      }
      return args[++i];
    };
    if (name == "-h" || name == "--help") {
      options.help = true;
    } else if (name == "--no-sandbox") {
      options.sandbox = false;
    } else if (name == "--mem" || name == "-m") {
      absl::StatusOr<std::string> v = take_value();
      if (!v.ok()) return v.status();
      absl::StatusOr<uint64_t> bytes = ParseMemorySize(*v);
      if (!bytes.ok()) return bytes.status();
      options.memory_bytes = *bytes;
      given.memory = true;
    } else if (name == "--cpus" || name == "-c") {
      absl::StatusOr<std::string> v = take_value();
      if (!v.ok()) return v.status();
      if (!absl::SimpleAtoi(*v, &options.cpus) || options.cpus == 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "malformed vCPU count '", *v, "' (expected a number from 1)"));
      }
      given.cpus = true;
    } else if (name == "--disk" || name == "-d") {
      absl::StatusOr<std::string> v = take_value();
      if (!v.ok()) return v.status();
      RunOptions::Disk disk;
      disk.path = *v;
      if (absl::EndsWith(disk.path, ",ro")) {
        disk.path.resize(disk.path.size() - 3);
        disk.read_only = true;
      } else if (absl::EndsWith(disk.path, ",rw")) {
        disk.path.resize(disk.path.size() - 3);
      }
      if (disk.path.empty()) {
        return absl::InvalidArgumentError("--disk needs a path");
      }
      if (options.disks.size() == kMaxDisks) {
        return absl::InvalidArgumentError(
            absl::StrCat("too many --disk options: at most ", kMaxDisks));
      }
      options.disks.push_back(disk);
      given.disks = true;
    } else if (name == "--net" || name == "-n") {
      absl::StatusOr<std::string> v = take_value();
      if (!v.ok()) return v.status();
      absl::StatusOr<NetSpec> net = ParseNetSpec(*v);
      if (!net.ok()) return net.status();
      if (options.nets.size() == kMaxNets) {
        return absl::InvalidArgumentError(
            absl::StrCat("too many --net options: at most ", kMaxNets));
      }
      options.nets.push_back(*std::move(net));
      given.nets = true;
    } else if (name == "--cmdline") {
      absl::StatusOr<std::string> v = take_value();
      if (!v.ok()) return v.status();
      options.cmdline = *v;
      given.cmdline = true;
    } else if (name == "--timeout") {
      absl::StatusOr<std::string> v = take_value();
      if (!v.ok()) return v.status();
      absl::StatusOr<absl::Duration> d = ParseTimeout(*v);
      if (!d.ok()) return d.status();
      options.timeout = *d;
      given.timeout = true;
    } else if (name == "--trace") {
      absl::StatusOr<std::string> v = take_value();
      if (!v.ok()) return v.status();
      if (v->empty()) return absl::InvalidArgumentError("--trace needs a path");
      options.trace_path = *v;
    } else if (name == "--gdb") {
      absl::StatusOr<std::string> v = take_value();
      if (!v.ok()) return v.status();
      uint32_t port;
      if (!absl::SimpleAtoi(*v, &port) || port == 0 || port > 65535) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--gdb takes a TCP port number (1-65535), not '", *v, "'"));
      }
      options.gdb_port = port;
    } else if (name == "--gdb-wait") {
      options.gdb_wait = true;
    } else if (name == "--profile" || name == "-p") {
      absl::StatusOr<std::string> v = take_value();
      if (!v.ok()) return v.status();
      if (!parsed.profile.empty()) {
        return absl::InvalidArgumentError("only one --profile can be given");
      }
      parsed.profile = *v;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown option '", arg, "' (see --help)"));
    }
  }
  return parsed;
}

// Fills in what the command line left unset from a profile's settings:
// flags win, and --disk (--net) options replace the profile's disks (nets).
void Merge(const ParsedArgs& profile, const Given& given, RunOptions* options) {
  const RunOptions& from = profile.options;
  if (profile.given.memory && !given.memory) {
    options->memory_bytes = from.memory_bytes;
  }
  if (profile.given.cpus && !given.cpus) options->cpus = from.cpus;
  if (profile.given.cmdline && !given.cmdline) options->cmdline = from.cmdline;
  if (profile.given.timeout && !given.timeout) options->timeout = from.timeout;
  if (!given.disks) options->disks = from.disks;
  if (!given.nets) options->nets = from.nets;
  if (!given.image) options->image = from.image;
}

}  // namespace

absl::StatusOr<RunOptions> ParseRunOptions(const std::vector<std::string>& args,
                                           const ProfileReader& read_profile) {
  ASSIGN_OR_RETURN(ParsedArgs parsed, ParseArgs(args));
  RunOptions& options = parsed.options;
  if (!options.help && !parsed.profile.empty()) {
    const std::string& path = parsed.profile;
    ASSIGN_OR_RETURN(const std::vector<std::string> profile_args,
                     read_profile(path));
    absl::StatusOr<ParsedArgs> from_profile = ParseArgs(profile_args);
    if (from_profile.ok() &&
        (from_profile->options.help || !from_profile->profile.empty())) {
      from_profile = absl::InvalidArgumentError("not a profile's setting");
    }
    if (!from_profile.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": ", from_profile.status().message()));
    }
    Merge(*from_profile, parsed.given, &options);
  }
  if (options.gdb_wait && !options.gdb_port.has_value()) {
    return absl::InvalidArgumentError("--gdb-wait needs --gdb PORT");
  }
  if (!options.help && options.image.empty()) {
    return absl::InvalidArgumentError(
        "no guest image given, on the command line or in a profile (see "
        "--help)");
  }
  return options;
}

std::string UsageText() {
  return absl::StrFormat(
      R"(Usage: hvbios-run [OPTIONS] GUEST.elf
       hvbios-run --profile VM.textproto [OPTIONS] [GUEST.elf]

Boots GUEST.elf (a static x86-64 ELF executable, hvbios boot protocol) in a
KVM virtual machine and serves its hvbios hypercalls. The guest's console
goes to stdout; stdin is forwarded to the guest's console input. The guest's
power.reboot boots the same image again in a fresh VM.

Options:
  -m, --mem SIZE      guest RAM: a multiple of 2 MiB from 2M to 64G,
                      with unit K, M or G (default 128M)
  -c, --cpus N        vCPUs (default 1, at most 254); the guest starts all
                      but vCPU 0 itself (vcpu.start)
  -d, --disk PATH[,ro] a raw disk image (or block device) as the next block
                      device (ids 0, 1, ...), read-only with ",ro";
                      repeatable, at most 16
  -n, --net SPEC      a network device (ids 0, 1, ...; repeatable, at most
                      8) on a link: tap=NAME (a TAP interface, created if
                      missing: needs CAP_NET_ADMIN) or dgram=LOCAL,peer=PEER
                      (a Unix datagram socket bound at LOCAL that sends to
                      PEER: a cable to another hvbios-run or a program) or
                      user (user-mode networking, no privileges: the guest
                      is 10.0.2.15 behind a NAT at 10.0.2.2, with DHCP;
                      ",hostfwd=udp::5555-:7" forwards 127.0.0.1:5555 on
                      the host to the guest's port 7, repeatable;
                      ",restrict=on" cuts the guest off from the outside);
                      ",mac=52:54:00:12:34:56" sets its address (default:
                      random, kept across reboots)
      --cmdline STR   the guest's command line (at most 4095 bytes)
      --timeout T     stop the guest after T (seconds, or e.g. 500ms, 2m;
                      at most a year); default: no limit
      --trace FILE    record every hypercall, doorbell and served port or
                      MMIO access, with its vCPU, arguments, status and
                      the host's time, into FILE (created or truncated);
                      hvbios-trace FILE summarises it
      --gdb PORT      serve gdb on 127.0.0.1:PORT (target remote :PORT):
                      vCPUs are threads; breakpoints, steps, registers,
                      memory by virtual address (docs/debugging.md)
      --gdb-wait      with --gdb: the guest waits for gdb to connect and
                      continue before its first instruction
  -p, --profile FILE  a VM profile (protobuf text format, hvbios.VmProfile in
                      proto/hvbios/vm_profile.proto): guest, memory, vcpus,
                      cmdline, disks, nets, timeout_seconds; options given
                      on the command line win, and --disk (--net) replaces
                      its disks (nets)
      --no-sandbox    run without the seccomp sandbox that otherwise
                      confines hvbios-run once the VM is set up (for
                      debugging: strace, gdb; docs/sandbox.md)
  -h, --help          print this help and exit 0
  --                  the next argument is the guest image, even if it
                      starts with "-"

Exit status:
  0-119  the guest shut down with this code (%d: the report of an unhandled
         exception by a guest SDK before ABI 0.9; a line on stderr says so)
  %d    the guest shut down with a code of 120 or more (printed on stderr)
  %d    bad command line
  %d    the guest image was rejected (missing, not a static x86-64 ELF,
         does not fit in the guest's memory, ...), a --disk cannot be
         opened (missing, not an image file or block device, in use by
         another VM: writable disks are locked), or a --net link cannot
         be opened
  %d    the guest died: triple fault, an instruction the hypervisor cannot
         run, an access to an unknown port or address, or a halt nothing
         can end; the reason and the vCPU's registers are on stderr
  %d    --timeout expired; the vCPUs' registers are on stderr
  %d    host failure (no usable /dev/kvm, out of memory, the console
         output on stdout failing: a closed pipe, a full disk, ...), or
         a system call the sandbox forbids (named on stderr)
  %d    the guest panicked (debug.panic; the guest SDK's report of an
         unhandled exception): its code, message and the vCPU's registers
         are on stderr
)",
      kExitGuestException, kExitGuestCodeTooLarge, kExitUsage, kExitBadImage,
      kExitGuestFault, kExitTimeout, kExitHostError, kExitGuestPanic);
}

}  // namespace hvbios::run
