/*
 * A guest's stack by frame pointers, as both platforms' crash reports walk
 * it (hvbios-run's and the firmware's panic and fault reports), written
 * once. Freestanding C.
 */
#ifndef HVBIOS_COMMON_STACK_WALK_H_
#define HVBIOS_COMMON_STACK_WALK_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Reads the 8 bytes at guest-virtual `va` into *value: 0 if not mapped. */
typedef int (*hvb_read_virt64_fn)(void *context, uint64_t va, uint64_t *value);

/* Return addresses on the stack at `rsp` with frame pointer `rbp`: out[0]
 * is the one on top of the stack (a call into the hypercall page, or any
 * call not yet framed, leaves it there; 0 if unreadable), then those of
 * the saved frame pointers' chain. The chain is followed only while it
 * looks like one: each rbp 8-byte aligned, at or above the last frame and
 * less than 1 MiB beyond it, readable. Writes at most `max` addresses
 * (max >= 1) and returns how many. The report names them from the guest
 * image's symbols and stops at the first that names no function. */
uint32_t hvb_stack_walk(uint64_t rsp, uint64_t rbp, hvb_read_virt64_fn read,
                        void *context, uint64_t *out, uint32_t max);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* HVBIOS_COMMON_STACK_WALK_H_ */
