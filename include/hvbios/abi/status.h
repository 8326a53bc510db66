/*
 * hvbios ABI: hypercall status codes.
 *
 * Freestanding: usable in guest kernels, firmware and the host library.
 * Specification: docs/abi.md, section "Status codes".
 */
#ifndef HVBIOS_ABI_STATUS_H_
#define HVBIOS_ABI_STATUS_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Every hypercall returns one of these in rax: 0 or a negative code. */
typedef int64_t hvb_status;

#define HVB_OK 0
/* The service or function does not exist in this implementation. */
#define HVB_ERR_NOSYS (-1)
/* An argument is invalid (bad flag, reserved bits set, value out of domain). */
#define HVB_ERR_INVAL (-2)
/* A guest-physical buffer is not entirely inside guest RAM, or wraps. */
#define HVB_ERR_FAULT (-3)
/* The named device, vCPU or other object does not exist. */
#define HVB_ERR_NODEV (-4)
/* The object is in use; the call may succeed later. */
#define HVB_ERR_BUSY (-5)
/* The host's I/O on the guest's behalf failed. */
#define HVB_ERR_IO (-6)
/* Nothing to do now (no data, queue full); try again. */
#define HVB_ERR_AGAIN (-7)
/* Not permitted (e.g. writing a read-only device). */
#define HVB_ERR_PERM (-8)
/* A numeric argument is outside the supported range (sector, length). */
#define HVB_ERR_RANGE (-9)
/* The object is in the wrong state for this call (e.g. already started). */
#define HVB_ERR_STATE (-10)
/* The host ran out of a resource it needed to complete the call. */
#define HVB_ERR_NOMEM (-11)

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* HVBIOS_ABI_STATUS_H_ */
