/*
 * hvbios C API: create a VM on KVM, load a guest image, start its boot vCPU
 * and wait for it, with the guest's hypercalls (docs/abi.md) served by the
 * library on its own vCPU threads.
 *
 * Conventions:
 *  - Every function returning int returns HYPERV_BIOS_OK (0) or a negative
 *    HYPERV_BIOS_E* code; hyperv_bios_last_error() then describes the
 *    failure (thread-local, valid until the thread's next call).
 *  - Handles are opaque. A VM owns its vCPUs: vCPU handles stay valid until
 *    hyperv_bios_destroy_vm(). _destroy functions accept NULL.
 *  - Every function may be called from any thread. No C++ exception ever
 *    leaves one.
 *  - Structs grow (docs/architecture.md, "The C API grows"): each starts
 *    with `struct_size`, which the caller sets to sizeof the struct as its
 *    header declares it. The library reads a smaller, older struct as if
 *    the fields it lacks were zero, and refuses (EINVAL) a larger one whose
 *    bytes past the fields it knows are not all zero. Structs the library
 *    fills (exit, status, registers) are filled up to struct_size; bytes it
 *    does not know are zeroed. Arrays of structs (disks, services) are laid
 *    out as the config's struct_size says: a config from a header before
 *    0.6 has them without struct_size, as that header declared them.
 *
 * Callbacks (console output, a disk's functions) run on library threads:
 * the console callback on the VM's console thread, disk functions on vCPU
 * and I/O threads. Inside a callback, calls that wait for vCPUs or library
 * threads would wait for the callback's own thread (or one waiting for
 * it), so they fail with HYPERV_BIOS_ESTATE instead: _pause_vm,
 * _resume_vm, _pause_vcpu, _resume_vcpu, _destroy_vcpu, _wait_vm and
 * _destroy_vm. Every other call works there, among them _stop_vm (which
 * does not wait), _raise_event, _push_console_input, _read_guest_memory,
 * _write_guest_memory, _get_vcpu_status, _start_vcpu_at. A callback must
 * return eventually: destroying the VM waits for callbacks in progress.
 */
#ifndef HVBIOS_HVBIOS_H_
#define HVBIOS_HVBIOS_H_

#include <stddef.h>
#include <stdint.h>

#include "hvbios/abi/hypercall.h" /* HVB_SVC_VENDOR_* */
#include "hvbios/abi/status.h"    /* HVB_OK, HVB_ERR_* */

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes: one per absl::StatusCode, negated. */
#define HYPERV_BIOS_OK 0
#define HYPERV_BIOS_ECANCELLED (-1)
#define HYPERV_BIOS_EUNKNOWN (-2)
#define HYPERV_BIOS_EINVAL (-3)    /* invalid argument */
#define HYPERV_BIOS_ETIMEDOUT (-4) /* deadline exceeded */
#define HYPERV_BIOS_ENOTFOUND (-5)
#define HYPERV_BIOS_EEXIST (-6) /* already exists */
#define HYPERV_BIOS_EPERM (-7)  /* permission denied */
#define HYPERV_BIOS_ENOMEM (-8) /* resource exhausted */
#define HYPERV_BIOS_ESTATE (-9) /* failed precondition */
#define HYPERV_BIOS_EABORTED (-10)
#define HYPERV_BIOS_ERANGE (-11)  /* out of range */
#define HYPERV_BIOS_ENOTSUP (-12) /* unimplemented */
#define HYPERV_BIOS_EINTERNAL (-13)
#define HYPERV_BIOS_EUNAVAILABLE (-14)
#define HYPERV_BIOS_EDATALOSS (-15)
#define HYPERV_BIOS_EUNAUTHENTICATED (-16)

typedef struct hyperv_bios_vm hyperv_bios_vm;
typedef struct hyperv_bios_vcpu hyperv_bios_vcpu;

/* Console output callback: called on the VM's console thread, one call at a
 * time, with a copy of the guest's bytes in order (the guest may go on
 * writing meanwhile: output is buffered, up to 64 KiB, after which the
 * guest's console.write is held back). hyperv_bios_wait_vm returns only
 * once the callback has had all of the output. */
typedef void (*hyperv_bios_console_fn)(void *context, const char *bytes,
                                       size_t length);

/* A disk backed by the embedder's functions: each returns 0 or a negative
 * errno-style code. The guest sees -ENOSPC and -EDQUOT as HVB_ERR_NOMEM
 * (the function must then have changed nothing), anything else as
 * HVB_ERR_IO. Called from vCPU and I/O threads concurrently. flush and
 * discard may be NULL (no-ops).
 *
 * `dst` and `src` point into guest RAM itself (no copy is made): another
 * vCPU may change those bytes while the function runs. Treat them as
 * untrusted data and read each byte once. */
typedef struct hyperv_bios_block_ops {
  size_t struct_size; /* since 0.6 */
  int (*read)(void *context, uint64_t offset, void *dst, size_t length);
  int (*write)(void *context, uint64_t offset, const void *src, size_t length);
  int (*flush)(void *context);
  int (*discard)(void *context, uint64_t offset, uint64_t length);
} hyperv_bios_block_ops;

/* One block device: an image file (`path`), or the embedder's `ops` with
 * `size_bytes` (a multiple of 512) when `ops` is not NULL. */
typedef struct hyperv_bios_disk {
  size_t struct_size; /* since 0.6 */
  const char *path;
  int read_only;
  const hyperv_bios_block_ops *ops;
  void *context;
  uint64_t size_bytes;
} hyperv_bios_disk;

/* ---- Vendor services: hypercall services of the embedder's own
 * (docs/abi.md 5.13, docs/adding-a-service.md). A guest calls function f
 * of service s as fid (s << 16) | f, like any other; base.probe answers
 * for them. */

/* One call, as the handler sees it. */
typedef struct hyperv_bios_service_call {
  size_t struct_size;   /* since 0.6: as filled by the library */
  uint32_t vcpu_id;     /* the caller */
  uint32_t function;    /* 0 .. function_count - 1 */
  uint64_t args[6];     /* rdi, rsi, rdx, rcx, r8, r9 */
  const void *internal; /* for hyperv_bios_copy_{from,to}_guest */
} hyperv_bios_service_call;

/* A service's handler. Returns HVB_OK (0) with the guest's rdx in *value,
 * or an HVB_ERR_* status (hvbios/abi/status.h; *value is then ignored);
 * any other value reaches the guest as HVB_ERR_IO. Runs on the calling
 * vCPU's thread, which waits meanwhile, and on several at once: it must be
 * thread-safe. It may block, but a vCPU inside it cannot be paused until
 * it returns. It is a callback: the calls that wait fail in it (above). */
typedef int64_t (*hyperv_bios_service_fn)(void *context,
                                          const hyperv_bios_service_call *call,
                                          uint64_t *value);

typedef struct hyperv_bios_service {
  size_t struct_size; /* since 0.6 */
  /* HVB_SVC_VENDOR_FIRST (0x8000) .. HVB_SVC_VENDOR_LAST (0xfffe); each
   * once per VM. */
  uint32_t id;
  const char *name;        /* for messages; may be NULL; copied */
  uint32_t function_count; /* 1 .. 65536; others answer HVB_ERR_NOSYS */
  hyperv_bios_service_fn handler;
  void *context;
} hyperv_bios_service;

/* Copy between a buffer the guest named in `call` and the host, inside a
 * handler. HYPERV_BIOS_ERANGE, with nothing copied, unless all of
 * [gpa, gpa + length) is the guest's own RAM by its memory map (docs/abi.md
 * 3.1): the handler should answer HVB_ERR_FAULT then. Copy once and use
 * the copy: the guest may change its bytes meanwhile. */
int hyperv_bios_copy_from_guest(const hyperv_bios_service_call *call,
                                uint64_t gpa, void *dst, size_t length);
int hyperv_bios_copy_to_guest(const hyperv_bios_service_call *call,
                              uint64_t gpa, const void *src, size_t length);

/* Since 0.6: a network device (docs/abi.md 5.15) and its link, one of:
 *  - `tap`: a TAP interface of that name (created if missing: needs
 *    CAP_NET_ADMIN);
 *  - `dgram_path` and `dgram_peer`: a Unix datagram socket bound at
 *    dgram_path (a socket file left there is replaced) that sends each
 *    frame to dgram_peer, a cable to another process;
 *  - `send`: the embedder's function, with frames to the guest handed in
 *    through hyperv_bios_net_deliver(). It gets one frame (guest RAM
 *    itself: read each byte once) on a vCPU thread, several at once, and
 *    returns 0 (taken, or dropped as a cable does), -EAGAIN (the guest is
 *    told to try again) or another negative errno (HVB_ERR_IO). It is a
 *    callback: the calls that wait fail in it.
 * `mac`: the device's address; all zeros picks a random local one. */
typedef int (*hyperv_bios_net_send_fn)(void *context, const void *frame,
                                       size_t length);
typedef struct hyperv_bios_net {
  size_t struct_size;
  const char *tap;
  const char *dgram_path;
  const char *dgram_peer;
  hyperv_bios_net_send_fn send;
  void *context;
  uint8_t mac[6];
} hyperv_bios_net;

/* Hands one frame (14 .. 1514 bytes, copied before it returns) to network
 * device `dev` of `vm`, whose link is the embedder's `send` function; any
 * thread, not from inside that function. HYPERV_BIOS_EINVAL (no such
 * device, not a `send` device, or a bad length). A frame the guest's full
 * receive queue has no room for is dropped, as a NIC drops it. */
int hyperv_bios_net_deliver(hyperv_bios_vm *vm, uint32_t dev, const void *frame,
                            size_t length);

typedef struct hyperv_bios_vm_config {
  size_t struct_size;    /* sizeof(hyperv_bios_vm_config): versioning */
  uint64_t memory_bytes; /* multiple of 2 MiB, 2 MiB .. 64 GiB */
  uint32_t vcpu_count;   /* >= 1 */
  const char *cmdline;   /* may be NULL; copied */
  hyperv_bios_console_fn console_output; /* may be NULL: discarded */
  void *console_context;
  /* Signal that kicks vCPU threads out of the guest; 0 = SIGRTMIN. The
   * library installs its handler; the embedder must not use it otherwise. */
  int kick_signal;
  /* Block devices, ids 0 .. disk_count - 1 (at most 16); copied. */
  const hyperv_bios_disk *disks;
  uint32_t disk_count;
  /* Since 0.5. The embedder's hypercall services; copied. */
  const hyperv_bios_service *services;
  uint32_t service_count;
  /* Since 0.6. HYPERV_BIOS_VM_* flags. */
  uint64_t flags;
  /* Since 0.6. Network devices, ids 0 .. net_count - 1 (at most 8);
   * copied. */
  const hyperv_bios_net *nets;
  uint32_t net_count;
  /* Since 0.7. May be NULL. A file (created or truncated) that records
   * every hypercall, doorbell, served port or MMIO access and event
   * raised, for `hvbios-trace` (format: hvbios/trace.h); as
   * hvbios-run --trace. */
  const char *trace_path;
} hyperv_bios_vm_config;

/* A port or MMIO access nobody serves reads as all ones and its writes are
 * dropped, as on a PC's open bus, instead of ending the VM with
 * HYPERV_BIOS_EXIT_GUEST_FAULT (for guests that probe for legacy
 * hardware). */
#define HYPERV_BIOS_VM_OPEN_BUS 0x1ull

/* Fills `config` with defaults (128 MiB, 1 vCPU, no command line). */
void hyperv_bios_init_vm_config(hyperv_bios_vm_config *config);

/* Why a VM stopped (hyperv_bios_wait_vm). */
#define HYPERV_BIOS_EXIT_NONE 0        /* it has not: the wait timed out */
#define HYPERV_BIOS_EXIT_SHUTDOWN 1    /* guest power.shutdown: exit_code */
#define HYPERV_BIOS_EXIT_REBOOT 2      /* guest power.reboot */
#define HYPERV_BIOS_EXIT_GUEST_FAULT 3 /* see message */
#define HYPERV_BIOS_EXIT_STOPPED 4     /* hyperv_bios_stop_vm */
#define HYPERV_BIOS_EXIT_HOST_ERROR 5  /* see message */
/* Since 0.6: the guest called debug.panic (ABI 0.9): its code in
 * exit_code, vcpu_id, its message then the registers in message. */
#define HYPERV_BIOS_EXIT_PANIC 6

typedef struct hyperv_bios_vm_exit {
  size_t struct_size; /* since 0.6 */
  int reason;         /* HYPERV_BIOS_EXIT_* */
  int exit_code;      /* SHUTDOWN: 0..255 */
  uint32_t vcpu_id;   /* GUEST_FAULT, HOST_ERROR */
  /* GUEST_FAULT, HOST_ERROR: reason and registers, NUL-terminated,
   * truncated to fit. */
  char message[2048];
} hyperv_bios_vm_exit;

/* The library's version and the hypercall ABI it serves. */
typedef struct hyperv_bios_version_info {
  size_t struct_size; /* sizeof as this library knows it */
  uint32_t major, minor, patch;
  uint32_t abi_major, abi_minor; /* HVB_ABI_VERSION_MAJOR / _MINOR */
  const char *string;            /* "major.minor.patch" */
} hyperv_bios_version_info;
/* Static data, never NULL; any thread, any time (also inside callbacks).
 * Compare major/minor against HVBIOS_VERSION_* (hvbios/version.h) to see
 * whether the library matches the header a program was built with. */
const hyperv_bios_version_info *hyperv_bios_version(void);

/* Creates a VM on /dev/kvm. On success *out owns it. */
int hyperv_bios_create_vm(const hyperv_bios_vm_config *config,
                          hyperv_bios_vm **out);
/* Stops the VM's vCPUs, joins their threads, frees everything. NULL is
 * accepted. ESTATE (and nothing destroyed) inside a callback. */
int hyperv_bios_destroy_vm(hyperv_bios_vm *vm);

/* Loads a guest ELF image from a file / from memory (boot protocol). */
int hyperv_bios_load_guest(hyperv_bios_vm *vm, const char *path);
int hyperv_bios_load_guest_image(hyperv_bios_vm *vm, const void *image,
                                 size_t length);

/* Creates vCPU `id` (0 .. vcpu_count - 1). *out is owned by the VM. */
int hyperv_bios_create_vcpu(hyperv_bios_vm *vm, uint32_t id,
                            hyperv_bios_vcpu **out);
/* Starts the boot vCPU (id 0) at the loaded guest's entry. */
int hyperv_bios_start_vcpu(hyperv_bios_vcpu *vcpu);

/* Starts a created or stopped vCPU at rip with rsp (16-byte aligned),
 * rdi = arg and page tables at cr3 (0: the platform's identity map). */
int hyperv_bios_start_vcpu_at(hyperv_bios_vcpu *vcpu, uint64_t rip,
                              uint64_t rsp, uint64_t arg, uint64_t cr3);
/* The vCPU with this id (created by the host or by the guest's
 * vcpu.start); HYPERV_BIOS_ENOTFOUND if it does not exist yet. */
int hyperv_bios_get_vcpu(hyperv_bios_vm *vm, uint32_t id,
                         hyperv_bios_vcpu **out);
/* Returns once the vCPU is out of guest mode and parked. ESTATE unless it
 * runs. */
int hyperv_bios_pause_vcpu(hyperv_bios_vcpu *vcpu);
/* Continues a paused vCPU exactly where it was. ESTATE unless paused. */
int hyperv_bios_resume_vcpu(hyperv_bios_vcpu *vcpu);
/* Stops the vCPU for good (first taking it out of the guest); every later
 * call on it fails with ESTATE. The handle stays valid until the VM goes. */
int hyperv_bios_destroy_vcpu(hyperv_bios_vcpu *vcpu);
/* Pause / resume every running / paused vCPU of the VM. */
int hyperv_bios_pause_vm(hyperv_bios_vm *vm);
int hyperv_bios_resume_vm(hyperv_bios_vm *vm);

#define HYPERV_BIOS_VCPU_CREATED 0
#define HYPERV_BIOS_VCPU_RUNNING 1
#define HYPERV_BIOS_VCPU_PAUSED 2
#define HYPERV_BIOS_VCPU_STOPPED 3 /* stopped itself, or the VM stopped */
#define HYPERV_BIOS_VCPU_DESTROYED 4

/* Why a vCPU last left the guest. */
#define HYPERV_BIOS_VCPU_EXIT_HYPERCALL 0
#define HYPERV_BIOS_VCPU_EXIT_KICKED 1 /* paused, stopped or interrupted */
#define HYPERV_BIOS_VCPU_EXIT_HALT 2
#define HYPERV_BIOS_VCPU_EXIT_TRIPLE_FAULT 3
#define HYPERV_BIOS_VCPU_EXIT_IO 4   /* port access */
#define HYPERV_BIOS_VCPU_EXIT_MMIO 5 /* access outside RAM */
#define HYPERV_BIOS_VCPU_EXIT_INTERNAL_ERROR 6
#define HYPERV_BIOS_VCPU_EXIT_FAIL_ENTRY 7
#define HYPERV_BIOS_VCPU_EXIT_OTHER 8
#define HYPERV_BIOS_VCPU_EXIT_DOORBELL 9

typedef struct hyperv_bios_vcpu_status {
  size_t struct_size; /* since 0.6 */
  int state;          /* HYPERV_BIOS_VCPU_* */
  int last_exit;      /* HYPERV_BIOS_VCPU_EXIT_* */
  uint64_t exits;     /* exits served since creation */
} hyperv_bios_vcpu_status;
int hyperv_bios_get_vcpu_status(hyperv_bios_vcpu *vcpu,
                                hyperv_bios_vcpu_status *status);

/* A vCPU's registers (for diagnostics, debuggers, snapshots). */
typedef struct hyperv_bios_regs {
  size_t struct_size;
  uint64_t rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
  uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
  uint64_t rip, rflags;
  /* Read-only: _set_vcpu_regs ignores them. */
  uint64_t cr0, cr2, cr3, cr4, efer;
  uint16_t cs, ss;
  /* Since 0.7 (a struct_size that ends before them leaves them out). */
  uint16_t ds, es, fs, gs;
  uint64_t fs_base, gs_base;
} hyperv_bios_regs;
/* Reads the registers of a vCPU that is not running (created, paused or
 * stopped); ESTATE while it runs or once destroyed. */
int hyperv_bios_get_vcpu_regs(hyperv_bios_vcpu *vcpu, hyperv_bios_regs *regs);
/* Writes the general-purpose registers, rip and rflags of a paused vCPU;
 * _resume_vcpu continues from them. ESTATE unless paused. */
int hyperv_bios_set_vcpu_regs(hyperv_bios_vcpu *vcpu,
                              const hyperv_bios_regs *regs);

/* Raises interrupt `vector` (32..254) on vCPU `vcpu_id`, for an embedder's
 * own devices. */
int hyperv_bios_raise_event(hyperv_bios_vm *vm, uint32_t vcpu_id,
                            uint8_t vector);

/* Copy between guest RAM and the host. ERANGE (nothing copied) unless
 * [gpa, gpa + length) lies entirely in guest RAM. */
int hyperv_bios_read_guest_memory(hyperv_bios_vm *vm, uint64_t gpa, void *dst,
                                  size_t length);
int hyperv_bios_write_guest_memory(hyperv_bios_vm *vm, uint64_t gpa,
                                   const void *src, size_t length);

/* ---- Run-time memory (docs/architecture.md, "Run-time memory"). */

#define HYPERV_BIOS_MEMORY_READ_ONLY 0x1u /* the guest can only read it */
#define HYPERV_BIOS_MEMORY_FD 0x2u        /* its bytes are fd's */

/* Guest-physical memory added while the VM lives. Its bytes: with
 * neither `host` nor HYPERV_BIOS_MEMORY_FD, fresh zeroed memory the
 * library owns (RAM added at run time: HVB_MEM_USABLE in the guest's
 * map); or the embedder's memory at `host` (4 KiB-aligned, mapped until
 * _unmap_memory returns); or `fd` at `fd_offset`, mapped shared by the
 * library (a memfd a device model maps too; fd may be closed afterwards).
 * Those two are HVB_MEM_SHARED to the guest, HVB_MEM_ROM if read-only
 * (guest writes dropped). */
typedef struct hyperv_bios_memory_region {
  size_t struct_size;
  uint64_t gpa;  /* 4 KiB-aligned; not RAM, another region, 3-4 GiB hole */
  uint64_t size; /* multiple of 4 KiB; gpa + size <= 512 GiB */
  void *host;
  int fd;
  uint64_t fd_offset;
  uint32_t flags; /* HYPERV_BIOS_MEMORY_* */
} hyperv_bios_memory_region;

/* Adds a region, at run time or before the guest is loaded (then it is in
 * the boot memory map); *id names it. Waits for host threads using guest
 * memory: ESTATE inside a callback. */
int hyperv_bios_map_memory(hyperv_bios_vm *vm,
                           const hyperv_bios_memory_region *region,
                           uint32_t *id);
/* Removes a region; afterwards neither guest nor library touches it.
 * ESTATE for the VM's own RAM (ids 0, 1), for a region holding a block
 * ring, inside a callback; ENOTFOUND for an unknown id. */
int hyperv_bios_unmap_memory(hyperv_bios_vm *vm, uint32_t id);

/* Dirty-page logs of region `id` (0: RAM below 3 GiB; 1: RAM from 4 GiB;
 * others from _map_memory). _fetch_ sets bit i of bitmap[i / 64] for each
 * page i (4 KiB) the guest or the library wrote since the last fetch and
 * clears the log; `words` must be at least (region pages + 63) / 64
 * (ERANGE otherwise, nothing fetched). Not inside callbacks. */
int hyperv_bios_start_dirty_log(hyperv_bios_vm *vm, uint32_t id);
int hyperv_bios_fetch_dirty_log(hyperv_bios_vm *vm, uint32_t id,
                                uint64_t *bitmap, size_t words);
int hyperv_bios_stop_dirty_log(hyperv_bios_vm *vm, uint32_t id);

/* ---- Devices of the embedder's own: a window of ports or MMIO whose
 * accesses call its functions on the trapping vCPU's thread (callbacks:
 * see the top). The guest finds them in the boot info's device list
 * (HVB_DEV_VENDOR). */

#define HYPERV_BIOS_DEVICE_PIO 0x1u /* the window is ports */

typedef struct hyperv_bios_device {
  size_t struct_size;
  uint32_t id;    /* the embedder's device id, as the guest sees it */
  uint32_t flags; /* HYPERV_BIOS_DEVICE_* */
  /* Ports within 0x1000..0xffff; MMIO 4 KiB-aligned within
   * [0xc0000000, 0xfec00000). */
  uint64_t base;
  uint64_t size;
  uint32_t event_source; /* _add_event_source id, or 0 */
  /* A read of `size` (1, 2, 4, 8) bytes at `offset`: the value; NULL
   * reads all ones. A write; NULL drops it. */
  uint64_t (*read)(void *context, uint64_t offset, uint32_t size);
  void (*write)(void *context, uint64_t offset, uint32_t size, uint64_t value);
  void *context;
} hyperv_bios_device;

/* Adds a device before the guest is loaded (ESTATE after). */
int hyperv_bios_add_device(hyperv_bios_vm *vm,
                           const hyperv_bios_device *device);
/* Makes the guest's writes of `size` bytes at `offset` into device `id`'s
 * window (only of `value`, if match_value is non-zero) signal `eventfd`
 * without an exit (KVM_IOEVENTFD): a doorbell for the embedder's own I/O
 * thread. `eventfd` stays the embedder's, open while the VM lives. */
int hyperv_bios_bind_device_doorbell(hyperv_bios_vm *vm, uint32_t id,
                                     uint64_t offset, uint32_t size,
                                     int match_value, uint64_t value,
                                     int eventfd);

/* ---- Interrupt routes and event sources of the embedder's own. */

/* An eventfd (*eventfd, owned by the VM: do not close it) whose every
 * write (8 bytes, any non-zero count) raises `vector` (32..254) on vCPU
 * `vcpu_id` as an edge-triggered MSI, without a call into the library
 * (KVM_IRQFD): for a device model's own threads. Any thread, callbacks
 * included. Level-triggered routes are not offered (docs/architecture.md,
 * "Interrupts (KVM)"). */
int hyperv_bios_add_interrupt_route(hyperv_bios_vm *vm, uint32_t vcpu_id,
                                    uint8_t vector, uint32_t *id, int *eventfd);
/* Moves route `id` to another vCPU or vector. */
int hyperv_bios_retarget_interrupt_route(hyperv_bios_vm *vm, uint32_t id,
                                         uint32_t vcpu_id, uint8_t vector);
/* Unbinds route `id` and closes its eventfd. ENOTFOUND if unknown. */
int hyperv_bios_remove_interrupt_route(hyperv_bios_vm *vm, uint32_t id);

/* An event source of the embedder's (HVB_EVENT_SRC_VENDOR_FIRST ..
 * _LAST, hvbios/abi/hypercall.h) that the guest routes, masks and unmasks
 * with the event service like the platform's own. EEXIST if added
 * already. */
int hyperv_bios_add_event_source(hyperv_bios_vm *vm, uint32_t source);
/* One event from `source`: delivered as the guest routed it, held while
 * masked, dropped while unrouted. Any thread, callbacks included. */
int hyperv_bios_trigger_event(hyperv_bios_vm *vm, uint32_t source);

/* Waits until the VM stops, up to timeout_ms (< 0: forever), and fills
 * *exit. HYPERV_BIOS_ETIMEDOUT if it still runs then: *exit is then filled
 * too, with reason 0 (still running). */
int hyperv_bios_wait_vm(hyperv_bios_vm *vm, int64_t timeout_ms,
                        hyperv_bios_vm_exit *exit);
/* Asks the VM to stop; returns at once (wait for it with _wait_vm). */
int hyperv_bios_stop_vm(hyperv_bios_vm *vm);

/* Queues console input for the guest; returns bytes accepted (>= 0) or a
 * negative code. */
int64_t hyperv_bios_push_console_input(hyperv_bios_vm *vm, const void *bytes,
                                       size_t length);

/* The seccomp sandbox (docs/sandbox.md, hvbios/sandbox.h for C++): once a
 * VMM is set up, it may make only the system calls that running VMs need;
 * a violation is reported on stderr, naming the call, and ends the process
 * with exit_status. It opens the KVM device first: VMs created afterwards
 * use that descriptor, for nothing can be opened inside. Every thread, for
 * good. ESTATE in a sanitizer build or if installed already, EINVAL for an
 * unknown name, EINTERNAL if the kernel refuses; config may be NULL (the
 * defaults). Since 0.6. */
typedef struct hyperv_bios_sandbox_config {
  size_t struct_size;  /* sizeof(hyperv_bios_sandbox_config) */
  const char *program; /* the report's first word; NULL: "hvbios" */
  int exit_status;     /* after a violation; 0: 125 */
  /* System calls the VMM needs besides, by name ("sendmsg"), allowed with
   * any arguments. */
  const char *const *extra_syscalls;
  uint32_t extra_syscall_count;
} hyperv_bios_sandbox_config;
int hyperv_bios_sandbox_install(const hyperv_bios_sandbox_config *config);

/* Description of the calling thread's last failure ("" if none). */
const char *hyperv_bios_last_error(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* HVBIOS_HVBIOS_H_ */
