/*
 * hvbios ABI: block device information and request rings (since 0.3).
 *
 * Freestanding: usable in guest kernels, firmware and the host library.
 * Specification: docs/abi.md, section "Rings".
 *
 * A ring lives in guest RAM at a 4 KiB aligned address:
 *
 *   offset 0                      struct hvb_ring_header
 *   HVB_RING_SQ_OFFSET            struct hvb_ring_request sq[entries]
 *   HVB_RING_CQ_OFFSET(entries)   struct hvb_ring_completion cq[entries]
 *
 * Indices are free-running 32-bit counters; slot = index & (entries - 1).
 * The guest owns sq_tail and cq_head, the platform sq_head and cq_tail.
 * The guest fills sq slots, then stores sq_tail (release), then rings the
 * doorbell; the platform loads sq_tail (acquire), copies each request
 * once, and for each completes a cq slot before storing cq_tail (release).
 * The guest keeps at most `entries` requests outstanding (posted but whose
 * completion it has not consumed), so the completion queue cannot overflow.
 */
#ifndef HVBIOS_ABI_RING_H_
#define HVBIOS_ABI_RING_H_

#include <stddef.h>
#include <stdint.h>

#include "hvbios/abi/static_assert.h"

#ifdef __cplusplus
extern "C" {
#endif

/* HVB_FN_BLOCK_INFO's answer. */
struct hvb_block_info {
  uint64_t sectors;         /* capacity in HVB_BLOCK_SECTOR_SIZE sectors */
  uint32_t sector_size;     /* HVB_BLOCK_SECTOR_SIZE */
  uint32_t flags;           /* HVB_BLOCK_F_* */
  uint32_t optimal_sectors; /* a transfer size that performs well */
  uint32_t max_sectors;     /* largest count of one read/write/discard */
  uint64_t reserved;
};
#define HVB_BLOCK_F_READ_ONLY 1u

struct hvb_ring_header {
  volatile uint32_t sq_head; /* platform: next request it will take */
  volatile uint32_t sq_tail; /* guest: one past the last request posted */
  volatile uint32_t cq_head; /* guest: next completion it will consume */
  volatile uint32_t cq_tail; /* platform: one past the last completion */
  uint32_t entries;          /* platform, at setup */
  volatile uint32_t error;   /* platform: non-zero once the ring is broken
                                (indices out of bounds); nothing more is
                                processed on it */
  volatile uint32_t errors;  /* platform (since 0.7): completions so far
                                whose status is an HVB_ERR_*, free-running,
                                stored before the cq_tail that publishes
                                them */
  uint32_t features;         /* platform, at setup: HVB_RING_F_* */
  uint32_t reserved[8];
};

/* hvb_ring_header.features: the platform counts failed completions in
 * `errors` (since 0.7; a platform without this bit leaves `errors` 0). */
#define HVB_RING_F_ERROR_COUNT 1u

#define HVB_RING_OP_READ 1u
#define HVB_RING_OP_WRITE 2u
#define HVB_RING_OP_FLUSH 3u
#define HVB_RING_OP_DISCARD 4u
/* Net rings (since 0.10, net.h): `count` is the frame's length (send) or
 * the buffer's capacity (receive), `sector` is unused (0). */
#define HVB_RING_OP_NET_SEND 5u
#define HVB_RING_OP_NET_RECV 6u

struct hvb_ring_request {
  uint8_t op; /* HVB_RING_OP_* */
  uint8_t reserved0;
  uint16_t reserved1;
  uint32_t count; /* sectors (read, write, discard) */
  uint64_t sector;
  uint64_t buf; /* guest-physical buffer (read, write) */
  uint64_t tag; /* returned unchanged in the completion */
};

struct hvb_ring_completion {
  uint64_t tag;
  int64_t status; /* as the synchronous call: count or 0, or HVB_ERR_* */
};

#define HVB_RING_MAX_ENTRIES 256u
#define HVB_RING_SQ_OFFSET 64u
#define HVB_RING_CQ_OFFSET(entries) \
  (HVB_RING_SQ_OFFSET + (uint64_t)(entries) * sizeof(struct hvb_ring_request))
#define HVB_RING_BYTES(entries)  \
  (HVB_RING_CQ_OFFSET(entries) + \
   (uint64_t)(entries) * sizeof(struct hvb_ring_completion))

#ifdef __cplusplus
} /* extern "C" */
#endif

HVB_STATIC_ASSERT(sizeof(struct hvb_block_info) == 32, "hvb_block_info");
HVB_STATIC_ASSERT(sizeof(struct hvb_ring_header) == 64, "hvb_ring_header");
HVB_STATIC_ASSERT(sizeof(struct hvb_ring_request) == 32, "hvb_ring_request");
HVB_STATIC_ASSERT(sizeof(struct hvb_ring_completion) == 16,
                  "hvb_ring_completion");

#endif /* HVBIOS_ABI_RING_H_ */
