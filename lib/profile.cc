#include "hvbios/profile.h"

#include <cerrno>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "hvbios/block.h"
#include "hvbios/net.h"
#include "lib/file_util.h"
#include "lib/status_macros.h"

namespace hvbios {
namespace {

// A profile is a page of text; this bounds what a mistaken path (a log
// file, a disk image) makes the parser read.
constexpr size_t kMaxProfileBytes = 1 << 20;

// Keeps the first error the text-format parser reports, with its position
// (the parser's line and column are 0-based).
class FirstError : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (error_.empty()) {
      error_ = absl::StrFormat("line %d, column %d: %s", line + 1, column + 1,
                               message);
    }
  }
  const std::string& error() const { return error_; }

 private:
  std::string error_;
};

// `path` relative to `dir` unless it is absolute (or `dir` is empty).
std::string Resolve(const std::string& dir, const std::string& path) {
  if (dir.empty() || path.empty() || path[0] == '/') return path;
  return absl::StrCat(dir, "/", path);
}

// A --net spec with its socket paths (dgram=, peer=) resolved against
// `dir`; everything else as it was.
std::string ResolveNetSpec(const std::string& dir, absl::string_view spec) {
  std::vector<std::string> items;
  for (absl::string_view item : absl::StrSplit(spec, ',')) {
    const size_t eq = item.find('=');
    const absl::string_view key = item.substr(0, eq);
    if (eq != absl::string_view::npos && (key == "dgram" || key == "peer")) {
      items.push_back(absl::StrCat(
          key, "=", Resolve(dir, std::string(item.substr(eq + 1)))));
    } else {
      items.push_back(std::string(item));
    }
  }
  return absl::StrJoin(items, ",");
}

}  // namespace

absl::StatusOr<VmProfile> ParseVmProfile(absl::string_view text) {
  google::protobuf::TextFormat::Parser parser;
  FirstError errors;
  parser.RecordErrorsTo(&errors);
  VmProfile profile;
  if (!parser.ParseFromString(std::string(text), &profile)) {
    return absl::InvalidArgumentError(
        absl::StrCat("VM profile: ", errors.error().empty() ? "cannot be parsed"
                                                            : errors.error()));
  }
  return profile;
}

absl::StatusOr<VmProfile> ReadVmProfile(const std::string& path) {
  ASSIGN_OR_RETURN(const std::vector<uint8_t> text,
                   ReadUserFile(path, kMaxProfileBytes, "VM profile"));
  absl::StatusOr<VmProfile> profile = ParseVmProfile(absl::string_view(
      reinterpret_cast<const char*>(text.data()), text.size()));
  if (!profile.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", profile.status().message()));
  }
  const size_t slash = path.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "" : path.substr(0, slash == 0 ? 1 : slash);
  if (profile->has_guest()) {
    profile->set_guest(Resolve(dir, profile->guest()));
  }
  for (Disk& disk : *profile->mutable_disks()) {
    disk.set_path(Resolve(dir, disk.path()));
  }
  for (std::string& net : *profile->mutable_nets()) {
    net = ResolveNetSpec(dir, net);
  }
  return profile;
}

absl::StatusOr<VmOptions> VmOptionsFromProfile(const VmProfile& profile) {
  VmOptions options;
  if (profile.has_memory()) {
    absl::StatusOr<uint64_t> bytes = ParseMemorySize(profile.memory());
    if (!bytes.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("VM profile, memory: ", bytes.status().message()));
    }
    options.memory_bytes = *bytes;
  }
  if (profile.has_vcpus()) options.vcpu_count = profile.vcpus();
  if (profile.has_cmdline()) options.cmdline = profile.cmdline();
  for (int i = 0; i < profile.disks_size(); ++i) {
    const Disk& disk = profile.disks(i);
    absl::StatusOr<std::unique_ptr<BlockDevice>> device =
        OpenDiskImage(disk.path(), disk.read_only());
    if (!device.ok()) {
      return absl::Status(device.status().code(),
                          absl::StrFormat("VM profile, disks[%d]: %s", i,
                                          device.status().message()));
    }
    options.disks.push_back(*std::move(device));
  }
  for (int i = 0; i < profile.nets_size(); ++i) {
    absl::StatusOr<NetDeviceConfig> net = OpenNetDevice(profile.nets(i));
    if (!net.ok()) {
      return absl::Status(net.status().code(),
                          absl::StrFormat("VM profile, nets[%d]: %s", i,
                                          net.status().message()));
    }
    options.nets.push_back(*std::move(net));
  }
  if (absl::Status s = ValidateVmOptions(options); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("VM profile: ", s.message()));
  }
  return options;
}

}  // namespace hvbios
