// The implementation behind hvbios::Vm and hvbios::Vcpu (hvbios/vm.h):
// the vCPU state machine and run loop (lib/vcpu.cc), the VM's lifecycle
// (lib/vm.cc) and the services' view of the VM (ServiceContext).
#ifndef HVBIOS_LIB_VM_IMPL_H_
#define HVBIOS_LIB_VM_IMPL_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "hvbios/backend.h"
#include "hvbios/debug.h"
#include "hvbios/internal/mutex.h"
#include "hvbios/trace.h"
#include "hvbios/vm.h"
#include "lib/coarse_clock.h"
#include "lib/guest_memory.h"
#include "lib/services/services.h"
#include "lib/unique_fd.h"

namespace hvbios {

class DebuggerImpl;
class VmImpl;

class VcpuImpl final : public Vcpu {
 public:
  VcpuImpl(VmImpl* vm, uint32_t id, std::unique_ptr<BackendVcpu> backend);
  VcpuImpl(const VcpuImpl&) = delete;
  VcpuImpl& operator=(const VcpuImpl&) = delete;
  ~VcpuImpl() override;

  uint32_t id() const override { return id_; }
  absl::Status Start() override;
  absl::Status StartAt(const VcpuEntry& entry) override;
  absl::Status Pause() override;
  absl::Status Resume() override;
  absl::Status Destroy() override;
  VcpuState state() const override;
  VcpuStatus status() const override;
  absl::StatusOr<Registers> GetRegisters() const override;
  absl::Status SetRegisters(const Registers& regs) override;

 private:
  friend class DebuggerImpl;
  friend class VmImpl;

  // Starts (or restarts) the vCPU at `entry`. vm_->mu_ held.
  absl::Status StartLocked(const LongModeEntry& entry);
  // A port or MMIO exit: a dropped ROM write, the embedder's device, or
  // the open bus. False if none of them serves it (a guest fault).
  bool ServeIo(const VcpuExit& exit);
  // Body of the vCPU thread.
  void ThreadMain();
  // Serves the mailbox (start, pause, stop, exit requests). Returns false
  // when the thread must end.
  bool ServeRequests();
  // Sets a request flag's companion `attention_` and kicks. mu_ held.
  void NotifyLocked();
  // The pause/resume protocol, shared by Vcpu and Vm (mu_ held): post the
  // request and return a snapshot; the request is served once
  // *ServedLocked(snapshot) holds.
  uint64_t RequestPauseLocked();
  bool PauseServedLocked(uint64_t parks) const;
  uint64_t RequestResumeLocked();
  bool ResumeServedLocked(uint64_t unparks) const;
  // A guest fault or host error on this vCPU: ends the VM with its
  // registers.
  void Fail(VmExit::Reason reason, const std::string& what);
  // Debugging (lib/vm_debug.cc). A kDebug exit at `rip`: a stop if a step
  // was asked for or `rip` is a breakpoint. vCPU thread.
  void OnDebugExit(uint64_t rip);
  // What the debugger needs of the backend: a step asked for, and the
  // breakpoints in debug registers if they all fit, else single-stepping.
  GuestDebug WantedDebugLocked() const;
  // Tells the backend when that changed. vCPU thread, mu_ held; false
  // (and the VM ends) if the backend failed.
  bool ApplyGuestDebugLocked();

  VmImpl* const vm_;
  const uint32_t id_;
  const std::unique_ptr<BackendVcpu> backend_;

  // Set (under vm_->mu_) whenever the mailbox below changes, cleared by the
  // vCPU thread before it reads the mailbox; checked before every entry.
  std::atomic<bool> attention_{false};
  std::atomic<VcpuExit::Kind> last_exit_{VcpuExit::Kind::kCanceled};
  std::atomic<uint64_t> exits_{0};

  // Mailbox and state, guarded by the VM's mutex (one lock for all of the
  // VM's lifecycle state: no lock ordering to get wrong).
  VcpuState state_ = VcpuState::kCreated;
  bool start_pending_ = false;   // started: a parked thread may go on
  bool stop_requested_ = false;  // vcpu.stop served: stop before re-entry
  bool pause_requested_ = false;
  bool parked_ = false;  // its thread waits in the pause park
  // Counters, not states, tell Pause/Resume their request was served, so
  // that racing Pause/Resume calls from other threads cannot strand them.
  uint64_t parks_ = 0;       // times the thread entered the paused state
  uint64_t unparks_ = 0;     // times it left it
  uint64_t resume_gen_ = 0;  // bumped by every resume; a parked thread
                             // leaves when it changes
  bool exit_requested_ = false;
  bool thread_running_ = false;  // ThreadMain has not returned
  bool step_pending_ = false;    // the debugger asked for one instruction
  GuestDebug applied_debug_;     // as the backend was last told
  std::thread thread_;           // joined by Destroy() or ~VmImpl
};

class VmImpl final : public Vm, public ServiceContext {
 public:
  static absl::StatusOr<std::unique_ptr<VmImpl>> Create(
      std::unique_ptr<BackendVm> backend, VmOptions options);
  VmImpl(const VmImpl&) = delete;
  VmImpl& operator=(const VmImpl&) = delete;
  ~VmImpl() override;

  // Vm
  absl::Status LoadGuest(absl::Span<const uint8_t> elf) override;
  absl::Status LoadGuestFile(const std::string& path) override;
  absl::StatusOr<Vcpu*> CreateVcpu(uint32_t id) override;
  Vcpu* vcpu(uint32_t id) const override;
  absl::Status Pause() override;
  absl::Status Resume() override;
  absl::Status RaiseEvent(uint32_t vcpu_id, uint8_t vector) override;
  absl::StatusOr<VmExit> Wait(absl::Duration timeout) override;
  void Stop() override;
  size_t PushConsoleInput(absl::string_view bytes) override;
  absl::Status ReadGuestMemory(uint64_t gpa, void* dst,
                               size_t length) const override;
  absl::Status WriteGuestMemory(uint64_t gpa, const void* src,
                                size_t length) override;
  absl::StatusOr<uint32_t> MapMemory(const MemoryRegionSpec& spec) override;
  absl::Status UnmapMemory(uint32_t id) override;
  absl::Status StartDirtyLog(uint32_t id) override;
  absl::StatusOr<std::vector<uint64_t>> FetchDirtyLog(uint32_t id) override;
  absl::Status StopDirtyLog(uint32_t id) override;
  absl::Status AddDevice(DeviceSpec spec) override;
  absl::Status BindDeviceDoorbell(uint32_t id, uint64_t offset, uint32_t size,
                                  std::optional<uint64_t> value,
                                  int eventfd) override;
  absl::StatusOr<InterruptRoute> AddInterruptRoute(uint32_t vcpu_id,
                                                   uint8_t vector) override;
  absl::Status RetargetInterruptRoute(uint32_t id, uint32_t vcpu_id,
                                      uint8_t vector) override;
  absl::Status RemoveInterruptRoute(uint32_t id) override;
  absl::Status AddEventSource(uint32_t source) override;
  absl::Status TriggerEvent(uint32_t source) override;
  absl::StatusOr<std::unique_ptr<Debugger>> AttachDebugger() override;
  const GuestMemory& memory() const override { return *memory_; }
  const VmOptions& options() const override { return options_; }

  // ServiceContext
  BackendVm& backend() override { return *backend_; }
  uint32_t vcpu_count() const override { return options_.vcpu_count; }
  uint64_t epoch_ns() const override { return created_monotonic_ns_; }
  void RequestExit(const VmExit& exit) override ABSL_LOCKS_EXCLUDED(mu_);
  std::string CallerRegisters(uint32_t caller) override
      ABSL_LOCKS_EXCLUDED(mu_);
  int64_t StartVcpu(uint32_t id, const LongModeEntry& entry) override;
  void StopVcpu(uint32_t caller) override;
  int64_t VcpuStateOf(uint32_t id) override;
  bool VcpuCanTakeEvents(uint32_t id) override;
  Tracer* tracer() override { return options_.trace.get(); }

 private:
  friend class DebuggerImpl;
  friend class VcpuImpl;

  VmImpl(std::unique_ptr<BackendVm> backend,
         std::unique_ptr<GuestMemory> memory, VmOptions options);

  void RequestExitLocked(const VmExit& exit) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The vCPU, created on demand for a guest's vcpu.start.
  absl::StatusOr<VcpuImpl*> GetOrCreateVcpuLocked(uint32_t id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The long-mode entry for a VcpuEntry, checked against guest RAM.
  absl::StatusOr<LongModeEntry> EntryFor(const VcpuEntry& entry) const;
  // Publishes the clock page (docs/abi.md) from `vcpu`'s TSC; once, before
  // the boot vCPU first runs.
  void InitClockPageLocked(BackendVcpu& vcpu)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Lets paused vCPUs run again: all of them (and ends the VM-wide
  // pause), or only `only`. Waits until each has left its park.
  void ResumeLocked(std::optional<uint32_t> only)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Debugging (lib/vm_debug.cc): queues `stop` for the debugger, asks
  // every vCPU to pause (all-stop) and wakes the debugger.
  void ReportDebugStopLocked(const DebugStop& stop)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WakeDebuggerLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether any vCPU but `except` is running or paused (and not stopping).
  bool AnyVcpuActiveLocked(uint32_t except) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Guest RAM is declared first so it is unmapped last: the backend maps it
  // and must be gone before it (BackendVm::MapMemory contract).
  const std::unique_ptr<GuestMemory> memory_;
  const std::unique_ptr<BackendVm> backend_;
  const VmOptions options_;
  const uint64_t created_monotonic_ns_;  // clock.monotonic counts from here
  // The clock page's coarse word, kept current once the page is published;
  // goes before guest RAM does.
  std::unique_ptr<CoarseClockWord> coarse_clock_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Services> services_;

  // Orders changes of the guest-physical layout: loading the guest, adding
  // and removing regions, switching dirty logs. Taken before mu_ or the
  // memory's lock, never while holding mu_.
  Mutex layout_mu_;
  uint64_t used_region_ids_ ABSL_GUARDED_BY(layout_mu_) = 0;  // bit per id

  // Serves a port or MMIO exit with the embedder's device, if one's
  // window holds it: whether one did. vCPU threads.
  bool ServeDeviceAccess(const VcpuExit& exit);
  // Closes the device list (LoadGuest) and returns its boot-info entries.
  std::vector<hvb_device> FreezeDevices()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(layout_mu_);
  // The embedder's devices: added under layout_mu_ until the guest is
  // loaded, read-only from then on (vCPUs run only after that).
  std::vector<DeviceSpec> devices_;
  std::atomic<bool> devices_frozen_{false};

  // The embedder's interrupt routes by id, with their eventfds.
  Mutex routes_mu_;
  std::map<uint32_t, UniqueFd> routes_ ABSL_GUARDED_BY(routes_mu_);
  uint32_t next_route_id_ ABSL_GUARDED_BY(routes_mu_) = 1;

  // Guards the VM's lifecycle: these fields and every vCPU's mailbox.
  mutable Mutex mu_;
  std::optional<LongModeEntry> boot_entry_ ABSL_GUARDED_BY(mu_);
  // Indexed by id; slots fill as vCPUs are created, never shrink.
  std::vector<std::unique_ptr<VcpuImpl>> vcpus_ ABSL_GUARDED_BY(mu_);
  int live_threads_ ABSL_GUARDED_BY(mu_) = 0;
  bool ever_started_ ABSL_GUARDED_BY(mu_) = false;
  bool paused_ ABSL_GUARDED_BY(mu_) = false;  // Pause() until Resume()
  std::optional<VmExit> exit_ ABSL_GUARDED_BY(mu_);
  // The attached debugger's state (hvbios/debug.h).
  struct DebugState {
    bool attached = false;
    std::set<uint64_t> breakpoints;
    std::deque<DebugStop> stops;  // reported, not yet taken
    bool exit_reported = false;   // TakeStop() told of the VM's end
    int stop_fd = -1;             // the debugger's eventfd
    uint32_t hardware_slots = 0;  // the backend's hardware breakpoints
  };
  DebugState debug_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hvbios

#endif  // HVBIOS_LIB_VM_IMPL_H_
