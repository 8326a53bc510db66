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

#include "hvbios/abi/functions.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ABI version: major in bits 31..16, minor in bits 15..0. A guest built for
 * major M runs on any implementation reporting major M and a minor at least
 * the one it needs (probe individual functions with HVB_FN_BASE_PROBE). */
#define HVB_ABI_VERSION_MAJOR 0u
#define HVB_ABI_VERSION_MINOR 10u
#define HVB_ABI_VERSION ((HVB_ABI_VERSION_MAJOR << 16) | HVB_ABI_VERSION_MINOR)

/* ---- Function ids --------------------------------------------------------
 * rax = (service << 16) | function. Bits 63..32 of rax must be zero. */
#define HVB_FID(service, function) \
  ((uint32_t)(((uint32_t)(service) << 16) | ((uint32_t)(function)&0xffffu)))
#define HVB_FID_SERVICE(fid) ((uint32_t)(fid) >> 16)
#define HVB_FID_FUNCTION(fid) ((uint32_t)(fid)&0xffffu)

/* Services and functions: the rows of functions.h, as ids. */
enum hvb_service_id {
#define HVB_SERVICE_ID_(SVC, svc, id) HVB_SVC_##SVC = id,
  HVB_SERVICES(HVB_SERVICE_ID_)
#undef HVB_SERVICE_ID_
  /* Services an embedding VMM adds for its own guests (vendor services,
   * docs/abi.md 5.13): numbered from here up. */
  HVB_SVC_VENDOR_FIRST = 0x8000,
  HVB_SVC_VENDOR_LAST = 0xfffe,
};

enum hvb_function_id {
#define HVB_FUNCTION_ID_(SVC, svc, FN, fn, number) \
  HVB_FN_##SVC##_##FN = (int)HVB_FID(HVB_SVC_##SVC, number),
  HVB_FUNCTIONS(HVB_FUNCTION_ID_)
#undef HVB_FUNCTION_ID_
};

#define HVB_IMPL_HVBIOS_KVM 1u
#define HVB_IMPL_HVBIOS_BAREMETAL 2u

/* console */
#define HVB_CONSOLE_MAX_IO 4096u

/* vcpu.status */
#define HVB_VCPU_STOPPED 0u /* never started, or stopped itself */
#define HVB_VCPU_RUNNING 1u /* started (possibly halted in `hlt`) */
#define HVB_VCPU_PAUSED 2u  /* held by the host; resumes where it was */

/* Interrupt vectors events may use: 0..31 are exceptions, 255 is the
 * platform's spurious vector. */
#define HVB_VECTOR_MIN 32u
#define HVB_VECTOR_MAX 254u

/* Event sources. */
#define HVB_EVENT_SRC_CONSOLE_INPUT 0u /* console input became readable */
/* The memory map changed (memory.generation moved on). Since 0.6. */
#define HVB_EVENT_SRC_MEMORY_MAP 1u
/* Completions were posted on queue q (since 0.3). */
#define HVB_EVENT_SRC_QUEUE(q) (0x100u + (uint32_t)(q))
/* Net device d's receive queue went from empty to holding a frame (since
 * 0.10): take frames with net.recv until HVB_ERR_AGAIN. */
#define HVB_EVENT_SRC_NET_RX(d) (0x200u + (uint32_t)(d))
/* Sources of the embedding VMM's own (its devices, host events): exist
 * only where it adds them. Since 0.6. */
#define HVB_EVENT_SRC_VENDOR_FIRST 0x10000u
#define HVB_EVENT_SRC_VENDOR_LAST 0x1ffffu

/* block */
#define HVB_BLOCK_SECTOR_SIZE 512u

/* rng */
#define HVB_RNG_MAX_FILL 4096u
/* debug.panic's longest message (since 0.9). */
#define HVB_PANIC_MAX_MESSAGE 1024u

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
