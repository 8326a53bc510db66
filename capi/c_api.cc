// The C API (include/hvbios/hvbios.h) over the C++ API: creating a VM from
// a config, and the versioning of what a config points to. No exception or
// C++ type crosses it; every failure becomes a code plus a thread-local
// message.
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "capi/c_api_internal.h"
#include "hvbios/block.h"
#include "hvbios/hvbios.h"
#include "hvbios/kvm.h"
#include "hvbios/net.h"
#include "hvbios/service.h"
#include "hvbios/trace.h"
#include "hvbios/version.h"
#include "hvbios/vm.h"
#include "lib/status_macros.h"
#include "lib/threads.h"

namespace hvbios::capi {
namespace {

thread_local std::string last_error;

// Config sizes ever published: before 0.5 it ended at disk_count, in 0.5
// at service_count. Configs of both eras lay their disks and services out
// without struct_size (the Legacy* structs below).
constexpr size_t kConfigSize04 = offsetof(hyperv_bios_vm_config, services);
constexpr size_t kConfigSize05 = offsetof(hyperv_bios_vm_config, flags);

struct LegacyBlockOps {
  int (*read)(void*, uint64_t, void*, size_t);
  int (*write)(void*, uint64_t, const void*, size_t);
  int (*flush)(void*);
  int (*discard)(void*, uint64_t, uint64_t);
};
struct LegacyDisk {
  const char* path;
  int read_only;
  const LegacyBlockOps* ops;
  void* context;
  uint64_t size_bytes;
};
struct LegacyServiceCall {
  uint32_t vcpu_id;
  uint32_t function;
  uint64_t args[6];
  const void* internal;
};
struct LegacyService {
  uint32_t id;
  const char* name;
  uint32_t function_count;
  hyperv_bios_service_fn handler;  // called with a LegacyServiceCall*
  void* context;
};

constexpr size_t kBlockOpsSize05 = offsetof(hyperv_bios_block_ops, read);
constexpr size_t kMinBlockOpsSize =
    HVBIOS_SIZE_THROUGH(hyperv_bios_block_ops, discard);
constexpr size_t kMinDiskSize =
    HVBIOS_SIZE_THROUGH(hyperv_bios_disk, size_bytes);
constexpr size_t kMinServiceSize =
    HVBIOS_SIZE_THROUGH(hyperv_bios_service, context);
static_assert(kBlockOpsSize05 == sizeof(size_t));

absl::Status FromErrno(int rc, absl::string_view what) {
  return rc == 0 ? absl::OkStatus() : absl::ErrnoToStatus(-rc, what);
}

absl::StatusOr<std::unique_ptr<BlockDevice>> MakeCallbackDisk(
    const hyperv_bios_disk& d, const hyperv_bios_block_ops& ops) {
  void* ctx = d.context;
  BlockCallbacks callbacks;
  callbacks.size_bytes = d.size_bytes;
  callbacks.read_only = d.read_only != 0;
  if (ops.read != nullptr) {
    callbacks.read = [ops, ctx](uint64_t offset, absl::Span<uint8_t> dst) {
      return FromErrno(ops.read(ctx, offset, dst.data(), dst.size()), "read");
    };
  }
  if (ops.write != nullptr) {
    callbacks.write = [ops, ctx](uint64_t offset,
                                 absl::Span<const uint8_t> src) {
      return FromErrno(ops.write(ctx, offset, src.data(), src.size()), "write");
    };
  }
  if (ops.flush != nullptr) {
    callbacks.flush = [ops, ctx] { return FromErrno(ops.flush(ctx), "flush"); };
  }
  if (ops.discard != nullptr) {
    callbacks.discard = [ops, ctx](uint64_t offset, uint64_t length) {
      return FromErrno(ops.discard(ctx, offset, length), "discard");
    };
  }
  return MakeCallbackBlockDevice(std::move(callbacks));
}

// Disk `i` of `config` in this library's layout (ops copied to *ops).
absl::Status DiskAt(const hyperv_bios_vm_config& config, uint32_t i,
                    hyperv_bios_disk* disk, hyperv_bios_block_ops* ops) {
  const std::string what = absl::StrCat("disks[", i, "]");
  *ops = {};
  if (config.struct_size <= kConfigSize05) {
    const LegacyDisk& d = static_cast<const LegacyDisk*>(
        static_cast<const void*>(config.disks))[i];
    *disk = {sizeof(*disk), d.path,    d.read_only,
             nullptr,       d.context, d.size_bytes};
    if (d.ops == nullptr) return absl::OkStatus();
    std::memcpy(&ops->read, d.ops, sizeof(LegacyBlockOps));
  } else {
    RETURN_IF_ERROR(CopyIn(&config.disks[i], kMinDiskSize, what, disk));
    if (disk->ops == nullptr) return absl::OkStatus();
    RETURN_IF_ERROR(
        CopyIn(disk->ops, kMinBlockOpsSize, absl::StrCat(what, ".ops"), ops));
  }
  disk->ops = ops;
  return absl::OkStatus();
}

VendorService MakeVendorService(const hyperv_bios_service& s, bool legacy) {
  VendorService service;
  service.id = s.id;
  service.name =
      s.name != nullptr ? s.name : absl::StrCat("0x", absl::Hex(s.id));
  service.function_count = s.function_count;
  if (s.handler == nullptr) return service;
  service.handler = [fn = s.handler, ctx = s.context,
                     legacy](const ServiceRequest& request) {
    hyperv_bios_service_call call = {};
    call.struct_size = sizeof(call);
    call.vcpu_id = request.vcpu_id();
    call.function = request.function();
    for (int i = 0; i < 6; ++i) call.args[i] = request.arg(i);
    call.internal = &request;
    uint64_t value = 0;
    LegacyServiceCall old = {call.vcpu_id, call.function, {}, &request};
    std::memcpy(old.args, call.args, sizeof(old.args));
    const void* given = legacy ? static_cast<const void*>(&old) : &call;
    ActiveCall& active = ActiveCallOfThisThread();
    const ActiveCall outer = active;
    active = {given, &request};
    const int64_t status =
        fn(ctx, static_cast<const hyperv_bios_service_call*>(given), &value);
    active = outer;
    return ServiceReply{status, status == HVB_OK ? value : 0};
  };
  return service;
}

absl::Status ServiceAt(const hyperv_bios_vm_config& config, uint32_t i,
                       hyperv_bios_service* service) {
  if (config.struct_size <= kConfigSize05) {
    const LegacyService& s = static_cast<const LegacyService*>(
        static_cast<const void*>(config.services))[i];
    *service = {sizeof(*service), s.id,      s.name,
                s.function_count, s.handler, s.context};
    return absl::OkStatus();
  }
  return CopyIn(&config.services[i], kMinServiceSize,
                absl::StrCat("services[", i, "]"), service);
}

constexpr size_t kMinNetSize = HVBIOS_SIZE_THROUGH(hyperv_bios_net, mac);

// Network device `i`'s link, as `config` describes it.
absl::StatusOr<std::shared_ptr<NetLink>> NetLinkAt(
    const hyperv_bios_net& n, uint32_t i,
    std::shared_ptr<NetCallbackLink>* callback) {
  const int kinds =
      (n.tap != nullptr) + (n.dgram_path != nullptr) + (n.send != nullptr);
  if (kinds != 1 || (n.dgram_path != nullptr) != (n.dgram_peer != nullptr)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "nets[", i, "]: give one of tap, dgram_path with dgram_peer, send"));
  }
  if (n.tap != nullptr) return OpenTapLink(n.tap);
  if (n.dgram_path != nullptr) {
    return OpenUnixDatagramLink(n.dgram_path, n.dgram_peer);
  }
  ASSIGN_OR_RETURN(
      *callback,
      MakeCallbackNetLink(
          {.send = [fn = n.send, ctx = n.context](
                       absl::Span<const uint8_t> frame) -> absl::Status {
            const int rc = fn(ctx, frame.data(), frame.size());
            if (rc == -EAGAIN) return absl::UnavailableError("full");
            return FromErrno(rc < 0 ? rc : 0, "send");
          }}));
  return *callback;
}

absl::StatusOr<VmOptions> OptionsFrom(
    const hyperv_bios_vm_config& config,
    std::vector<std::shared_ptr<NetCallbackLink>>* net_callbacks) {
  VmOptions options;
  options.memory_bytes = config.memory_bytes;
  options.vcpu_count = config.vcpu_count;
  if (config.cmdline != nullptr) options.cmdline = config.cmdline;
  if (config.console_output != nullptr) {
    options.console_output =
        [fn = config.console_output, ctx = config.console_context](
            absl::string_view bytes) { fn(ctx, bytes.data(), bytes.size()); };
  }
  if (config.flags & ~HYPERV_BIOS_VM_OPEN_BUS) {
    return absl::InvalidArgumentError(
        absl::StrCat("config->flags has unknown bits 0x",
                     absl::Hex(config.flags & ~HYPERV_BIOS_VM_OPEN_BUS)));
  }
  options.open_bus = (config.flags & HYPERV_BIOS_VM_OPEN_BUS) != 0;
  if (config.disk_count != 0 && config.disks == nullptr) {
    return absl::InvalidArgumentError("disks is NULL");
  }
  for (uint32_t i = 0; i < config.disk_count; ++i) {
    hyperv_bios_disk d;
    hyperv_bios_block_ops ops;
    RETURN_IF_ERROR(DiskAt(config, i, &d, &ops));
    absl::StatusOr<std::unique_ptr<BlockDevice>> disk =
        d.ops != nullptr    ? MakeCallbackDisk(d, ops)
        : d.path != nullptr ? OpenDiskImage(d.path, d.read_only)
                            : absl::InvalidArgumentError(absl::StrCat(
                                  "disk ", i, ": neither path nor ops"));
    if (!disk.ok()) return disk.status();
    options.disks.push_back(*std::move(disk));
  }
  if (config.service_count != 0 && config.services == nullptr) {
    return absl::InvalidArgumentError("services is NULL");
  }
  for (uint32_t i = 0; i < config.service_count; ++i) {
    hyperv_bios_service s;
    RETURN_IF_ERROR(ServiceAt(config, i, &s));
    options.services.push_back(
        MakeVendorService(s, config.struct_size <= kConfigSize05));
  }
  if (config.net_count != 0 && config.nets == nullptr) {
    return absl::InvalidArgumentError("nets is NULL");
  }
  for (uint32_t i = 0; i < config.net_count; ++i) {
    hyperv_bios_net n;
    RETURN_IF_ERROR(CopyIn(&config.nets[i], kMinNetSize,
                           absl::StrCat("nets[", i, "]"), &n));
    std::shared_ptr<NetCallbackLink> callback;
    ASSIGN_OR_RETURN(std::shared_ptr<NetLink> link, NetLinkAt(n, i, &callback));
    NetDeviceConfig net{.link = std::move(link)};
    std::memcpy(net.mac.data(), n.mac, net.mac.size());
    options.nets.push_back(std::move(net));
    net_callbacks->push_back(std::move(callback));
  }
  if (config.trace_path != nullptr) {
    ASSIGN_OR_RETURN(options.trace, Tracer::Create(config.trace_path));
  }
  return options;
}

}  // namespace

int Fail(const absl::Status& status) {
  last_error = status.ToString();
  return -static_cast<int>(status.code());
}

ActiveCall& ActiveCallOfThisThread() {
  thread_local ActiveCall active;
  return active;
}

int Succeed() {
  last_error.clear();
  return HYPERV_BIOS_OK;
}

static_assert(-static_cast<int>(absl::StatusCode::kInvalidArgument) ==
              HYPERV_BIOS_EINVAL);
static_assert(-static_cast<int>(absl::StatusCode::kDeadlineExceeded) ==
              HYPERV_BIOS_ETIMEDOUT);
static_assert(-static_cast<int>(absl::StatusCode::kFailedPrecondition) ==
              HYPERV_BIOS_ESTATE);
static_assert(-static_cast<int>(absl::StatusCode::kUnauthenticated) ==
              HYPERV_BIOS_EUNAUTHENTICATED);

}  // namespace hvbios::capi

using namespace hvbios::capi;  // NOLINT: the C entry points below

extern "C" {

void hyperv_bios_init_vm_config(hyperv_bios_vm_config* config) {
  if (config == nullptr) return;
  *config = {};
  config->struct_size = sizeof(*config);
  config->memory_bytes = hvbios::VmOptions().memory_bytes;
  config->vcpu_count = 1;
}

const hyperv_bios_version_info* hyperv_bios_version(void) {
  static constexpr hyperv_bios_version_info kVersion = {
      sizeof(hyperv_bios_version_info),
      HVBIOS_VERSION_MAJOR,
      HVBIOS_VERSION_MINOR,
      HVBIOS_VERSION_PATCH,
      HVB_ABI_VERSION_MAJOR,
      HVB_ABI_VERSION_MINOR,
      HVBIOS_VERSION_STRING};
  return &kVersion;
}

int hyperv_bios_create_vm(const hyperv_bios_vm_config* config,
                          hyperv_bios_vm** out) {
  return Guard(__func__, [&]() -> int {
    if (config == nullptr || out == nullptr) {
      return Fail(absl::StatusCode::kInvalidArgument,
                  "hyperv_bios_create_vm: config and out must not be NULL");
    }
    hyperv_bios_vm_config c;
    if (absl::Status s = CopyIn(config, kConfigSize04, "config", &c); !s.ok()) {
      return Fail(s.code(), absl::StrCat("hyperv_bios_create_vm: ", s.message(),
                                         " (hyperv_bios_init_vm_config() "
                                         "sets it)"));
    }
    c.struct_size = config->struct_size;  // the era of disks and services
    std::vector<std::shared_ptr<hvbios::NetCallbackLink>> net_callbacks;
    absl::StatusOr<hvbios::VmOptions> options = OptionsFrom(c, &net_callbacks);
    if (!options.ok()) {
      return Fail(
          options.status().code(),
          absl::StrCat("hyperv_bios_create_vm: ", options.status().message()));
    }
    hvbios::kvm::KvmOptions kvm_options;
    kvm_options.kick_signal = c.kick_signal;
    kvm_options.device_fd = hvbios::capi::SandboxKvmDevice();
    absl::StatusOr<std::unique_ptr<hvbios::Vm>> vm =
        hvbios::CreateKvmVm(*std::move(options), kvm_options);
    if (!vm.ok()) return Fail(vm.status());
    *out = new hyperv_bios_vm{*std::move(vm), std::move(net_callbacks)};
    return Succeed();
  });
}

int hyperv_bios_net_deliver(hyperv_bios_vm* vm, uint32_t dev, const void* frame,
                            size_t length) {
  return Guard(__func__, [&] {
    if (vm == nullptr || frame == nullptr || dev >= vm->net_callbacks.size() ||
        vm->net_callbacks[dev] == nullptr) {
      return Fail(absl::StatusCode::kInvalidArgument,
                  "hyperv_bios_net_deliver: no such device with a send "
                  "function, or no frame");
    }
    if (!vm->net_callbacks[dev]->Deliver(
            absl::MakeConstSpan(static_cast<const uint8_t*>(frame), length))) {
      return Fail(absl::StatusCode::kInvalidArgument,
                  "hyperv_bios_net_deliver: a frame is 14 to 1514 bytes");
    }
    return Succeed();
  });
}

int hyperv_bios_destroy_vm(hyperv_bios_vm* vm) {
  return Guard(__func__, [&] {
    // Destroying joins the VM's threads, one of which may be the caller's.
    if (absl::Status s = hvbios::RefuseInsideCallback(__func__); !s.ok()) {
      return Fail(s);
    }
    delete vm;
    return Succeed();
  });
}

const char* hyperv_bios_last_error(void) { return last_error.c_str(); }

}  // extern "C"
