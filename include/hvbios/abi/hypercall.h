/*
 * hvbios ABI: hypercall numbering, the hypercall page and the services.
 *
 * Freestanding: usable in guest kernels, firmware and the host library.
 * Specification: docs/abi.md. Every constant here is part of ABI version
 * HVB_ABI_VERSION and is never renumbered; new functions get new numbers.
 */
#ifndef HVBIOS_ABI_HYPERCALL_H_
#define HVBIOS_ABI_HYPERCALL_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ABI version: major in bits 31..16, minor in bits 15..0. A guest built for
 * major M runs on any implementation reporting major M and a minor at least
 * the one it needs (probe individual functions with HVB_FN_BASE_PROBE). */
#define HVB_ABI_VERSION_MAJOR 0u
#define HVB_ABI_VERSION_MINOR 5u
#define HVB_ABI_VERSION ((HVB_ABI_VERSION_MAJOR << 16) | HVB_ABI_VERSION_MINOR)

/* ---- Function ids --------------------------------------------------------
 * rax = (service << 16) | function. Bits 63..32 of rax must be zero. */
#define HVB_FID(service, function) \
  ((uint32_t)(((uint32_t)(service) << 16) | ((uint32_t)(function)&0xffffu)))
#define HVB_FID_SERVICE(fid) ((uint32_t)(fid) >> 16)
#define HVB_FID_FUNCTION(fid) ((uint32_t)(fid)&0xffffu)

/* Services. Ids marked "reserved" are allocated for later minor versions and
 * answer HVB_ERR_NOSYS until an implementation provides them. */
#define HVB_SVC_BASE 0x00u
#define HVB_SVC_CONSOLE 0x01u
#define HVB_SVC_CLOCK 0x02u
#define HVB_SVC_POWER 0x03u
#define HVB_SVC_DEBUG 0x04u
#define HVB_SVC_VCPU 0x05u  /* since 0.2 */
#define HVB_SVC_TIMER 0x06u /* since 0.2 */
#define HVB_SVC_EVENT 0x07u /* since 0.2 */
#define HVB_SVC_BLOCK 0x08u /* since 0.3 */
#define HVB_SVC_NET 0x09u   /* reserved */
#define HVB_SVC_RNG 0x0au   /* since 0.3 */
#define HVB_SVC_MEM 0x0bu   /* reserved */

/* base: discovering the implementation. */
/* () -> value = HVB_ABI_VERSION implemented. */
#define HVB_FN_BASE_GET_ABI_VERSION HVB_FID(HVB_SVC_BASE, 0)
/* () -> value = implementation id (HVB_IMPL_*). */
#define HVB_FN_BASE_GET_IMPL_ID HVB_FID(HVB_SVC_BASE, 1)
/* () -> value = implementation version (major << 16 | minor). */
#define HVB_FN_BASE_GET_IMPL_VERSION HVB_FID(HVB_SVC_BASE, 2)
/* (fid) -> value = 1 if function fid is implemented, else 0. */
#define HVB_FN_BASE_PROBE HVB_FID(HVB_SVC_BASE, 3)

#define HVB_IMPL_HVBIOS_KVM 1u
#define HVB_IMPL_HVBIOS_BAREMETAL 2u

/* console: a byte stream, like a serial line. */
/* (gpa buf, len) -> value = bytes written, 1..min(len, HVB_CONSOLE_MAX_IO);
 * 0 if len is 0. Short writes are allowed: loop until done. HVB_ERR_AGAIN
 * when the platform's output lags and takes nothing now: try again. */
#define HVB_FN_CONSOLE_WRITE HVB_FID(HVB_SVC_CONSOLE, 0)
/* (gpa buf, len) -> value = bytes read, 0 if no input is pending.
 * Never blocks. */
#define HVB_FN_CONSOLE_READ HVB_FID(HVB_SVC_CONSOLE, 1)
#define HVB_CONSOLE_MAX_IO 4096u

/* clock: nanosecond clocks. */
/* () -> value = monotonic ns since an unspecified point before boot. */
#define HVB_FN_CLOCK_MONOTONIC HVB_FID(HVB_SVC_CLOCK, 0)
/* () -> value = wall-clock ns since 1970-01-01T00:00:00Z (UTC, no leap). */
#define HVB_FN_CLOCK_WALLCLOCK HVB_FID(HVB_SVC_CLOCK, 1)

/* power: leaving the machine. Neither returns on success. */
/* (code 0..255) -> does not return; HVB_ERR_INVAL for code > 255. */
#define HVB_FN_POWER_SHUTDOWN HVB_FID(HVB_SVC_POWER, 0)
/* () -> does not return; the platform boots the same image again. */
#define HVB_FN_POWER_REBOOT HVB_FID(HVB_SVC_POWER, 1)

/* debug: measuring and checking the call path itself. */
/* () -> value = 0. Does nothing; its cost is the cost of the path. */
#define HVB_FN_DEBUG_NULL HVB_FID(HVB_SVC_DEBUG, 0)
/* (a0, a1, a2, a3, a4, a5) -> value = a0 ^ a1 ^ a2 ^ a3 ^ a4 ^ a5. Proves
 * that all six argument registers arrive. */
#define HVB_FN_DEBUG_ECHO HVB_FID(HVB_SVC_DEBUG, 1)

/* vcpu: bringing virtual CPUs up and down (after RISC-V SBI HSM and ARM
 * PSCI CPU_ON/CPU_OFF). Since 0.2. */
/* () -> value = number of vCPUs (ids 0 .. count - 1). */
#define HVB_FN_VCPU_COUNT HVB_FID(HVB_SVC_VCPU, 0)
/* () -> value = the calling vCPU's id. */
#define HVB_FN_VCPU_SELF HVB_FID(HVB_SVC_VCPU, 1)
/* (id, entry, stack, arg, cr3) -> 0. Starts stopped vCPU `id` in long mode
 * at `entry` with rsp = `stack` (16-byte aligned), rdi = `arg`, interrupts
 * off, the platform's GDT, and page tables at `cr3` (0: the platform's boot
 * identity map). Returns once the start is under way. */
#define HVB_FN_VCPU_START HVB_FID(HVB_SVC_VCPU, 2)
/* () -> does not return: the calling vCPU stops until started again; its
 * timer is disarmed. */
#define HVB_FN_VCPU_STOP HVB_FID(HVB_SVC_VCPU, 3)
/* (id) -> value = HVB_VCPU_STOPPED / _RUNNING / _PAUSED. */
#define HVB_FN_VCPU_STATUS HVB_FID(HVB_SVC_VCPU, 4)

#define HVB_VCPU_STOPPED 0u /* never started, or stopped itself */
#define HVB_VCPU_RUNNING 1u /* started (possibly halted in `hlt`) */
#define HVB_VCPU_PAUSED 2u  /* held by the host; resumes where it was */

/* Interrupt vectors events may use: 0..31 are exceptions, 255 is the
 * platform's spurious vector. */
#define HVB_VECTOR_MIN 32u
#define HVB_VECTOR_MAX 254u

/* timer: one one-shot deadline per vCPU. Since 0.2. */
/* (deadline_ns, vector) -> 0. When clock.monotonic reaches deadline_ns,
 * raises `vector` on the calling vCPU (at once if it already has).
 * Replaces the vCPU's armed deadline, if any. */
#define HVB_FN_TIMER_SET HVB_FID(HVB_SVC_TIMER, 0)
/* () -> 0. Disarms the calling vCPU's deadline (no-op if none). */
#define HVB_FN_TIMER_CANCEL HVB_FID(HVB_SVC_TIMER, 1)

/* event: routing event sources to vCPUs and vectors; IPIs. Since 0.2. */
/* (source, vcpu, vector) -> 0. Delivers `source`'s events as `vector` on
 * `vcpu`. A source starts unrouted and unmasked. */
#define HVB_FN_EVENT_ROUTE HVB_FID(HVB_SVC_EVENT, 0)
/* (source) -> 0. Holds the source's events; one is kept pending. */
#define HVB_FN_EVENT_MASK HVB_FID(HVB_SVC_EVENT, 1)
/* (source) -> 0. Releases the source; a pending event is delivered now. */
#define HVB_FN_EVENT_UNMASK HVB_FID(HVB_SVC_EVENT, 2)
/* (vcpu, vector) -> 0. Raises `vector` on `vcpu` (may be the caller). */
#define HVB_FN_EVENT_SEND_IPI HVB_FID(HVB_SVC_EVENT, 3)

/* Event sources. */
#define HVB_EVENT_SRC_CONSOLE_INPUT 0u /* console input became readable */
/* Completions were posted on queue q (since 0.3). */
#define HVB_EVENT_SRC_QUEUE(q) (0x100u + (uint32_t)(q))

/* block: disks, by device id from the boot info's device list. Since 0.3.
 * Sectors are HVB_BLOCK_SECTOR_SIZE bytes. A write is durable once a later
 * flush of the same device has returned HVB_OK. */
#define HVB_BLOCK_SECTOR_SIZE 512u
/* (dev, gpa info) -> 0. Writes a struct hvb_block_info (ring.h) to info. */
#define HVB_FN_BLOCK_INFO HVB_FID(HVB_SVC_BLOCK, 0)
/* (dev, sector, count, gpa buf) -> count. 1 <= count <= max_sectors. */
#define HVB_FN_BLOCK_READ HVB_FID(HVB_SVC_BLOCK, 1)
/* (dev, sector, count, gpa buf) -> count. HVB_ERR_PERM if read-only,
 * HVB_ERR_NOMEM (nothing written) if the host has no space; after
 * HVB_ERR_IO the sectors hold unspecified data. */
#define HVB_FN_BLOCK_WRITE HVB_FID(HVB_SVC_BLOCK, 2)
/* (dev) -> 0. Makes every write completed before it durable. */
#define HVB_FN_BLOCK_FLUSH HVB_FID(HVB_SVC_BLOCK, 3)
/* (dev, sector, count) -> 0. The sectors' contents become unspecified
 * (reads return zeros on hvbios-run's file disks). */
#define HVB_FN_BLOCK_DISCARD HVB_FID(HVB_SVC_BLOCK, 4)
/* (dev, gpa ring, entries) -> queue id. Registers a request ring
 * (ring.h) of `entries` (a power of two, 1..256) slots at `ring`
 * (4 KiB aligned, HVB_RING_BYTES(entries) bytes of RAM). */
#define HVB_FN_BLOCK_QUEUE_SETUP HVB_FID(HVB_SVC_BLOCK, 5)

/* rng: random bytes from the host's kernel CSPRNG. Since 0.3. */
/* (gpa buf, len) -> bytes written, min(len, HVB_RNG_MAX_FILL); never
 * blocks once the host's pool is initialised. */
#define HVB_FN_RNG_FILL HVB_FID(HVB_SVC_RNG, 0)
#define HVB_RNG_MAX_FILL 4096u

/* ---- The hypercall page --------------------------------------------------
 * One 4 KiB page, read-only and executable, at boot_info.hypercall_page.
 * It is a table of entry points at fixed offsets; each is entered with
 * `call` and returns with `ret`. What an entry executes is the platform's
 * business and differs between backends; a guest never depends on it. */
#define HVB_HCPAGE_SIZE 4096u
/* Make a hypercall: rax = fid, args in rdi rsi rdx rcx r8 r9; returns
 * rax = status, rdx = value. All other registers (including the argument
 * registers and rflags.DF) are preserved. Needs 64 bytes of stack. */
#define HVB_HCPAGE_CALL 0x000u
/* Acknowledge the event being handled (end of interrupt): the highest-
 * priority event in service on this vCPU. Never for the spurious vector
 * (255). Preserves every register. */
#define HVB_HCPAGE_EOI 0x040u
/* Ring doorbell: edi = queue id (HVB_FN_BLOCK_QUEUE_SETUP). Tells the
 * platform new requests are posted. Preserves every register; a doorbell
 * for a queue that does not exist is ignored. Since 0.3 (returned
 * HVB_ERR_NOSYS in rax before). */
#define HVB_HCPAGE_NOTIFY 0x080u
/* Enable interrupts and wait until at least one event has been delivered
 * (its handler has run), then return with interrupts enabled. Preserves
 * every register. Since 0.2. */
#define HVB_HCPAGE_HALT 0x0c0u

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* HVBIOS_ABI_HYPERCALL_H_ */
