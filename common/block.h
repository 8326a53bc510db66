/*
 * The block service's checks (docs/abi.md 5.9, 5.10), written once for
 * every platform: what a request may ask, in the order the errors are
 * reported, the info a disk reports, and where a request ring may lie.
 * Freestanding C.
 */
#ifndef HVBIOS_COMMON_BLOCK_H_
#define HVBIOS_COMMON_BLOCK_H_

#include <stdint.h>

#include "hvbios/abi/boot.h"
#include "hvbios/abi/ring.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A disk as the checks see it. */
struct hvb_disk_shape {
  uint64_t sectors; /* capacity */
  uint32_t read_only;
  uint32_t max_sectors; /* largest count of one request */
  uint32_t optimal_sectors;
};

/* Checks request `op` (HVB_RING_OP_*) for `count` sectors at `sector`:
 * HVB_OK, or HVB_ERR_INVAL (unknown op), HVB_ERR_PERM (write or discard on
 * a read-only disk), HVB_ERR_RANGE (count 0 or above max_sectors, or past
 * the end; never wraps). A flush is HVB_OK whatever its other fields. The
 * buffer (read, write) is the platform's to check next: HVB_ERR_FAULT
 * unless the guest owns [buf, buf + count * 512) (common/memmap.h). */
int64_t hvb_block_check(const struct hvb_disk_shape *disk, uint32_t op,
                        uint64_t sector, uint64_t count);

/* What block.info reports for `disk`. */
struct hvb_block_info hvb_block_info_of(const struct hvb_disk_shape *disk);

/* Where a ring may lie (block.queue_setup): HVB_OK, HVB_ERR_INVAL (entries
 * not a power of two from 1 to HVB_RING_MAX_ENTRIES, ring not 4 KiB
 * aligned) or HVB_ERR_FAULT (not all of it the guest's RAM by `map`). */
int64_t hvb_ring_check_placement(const struct hvb_mem_region *map,
                                 uint32_t map_count, uint64_t ring,
                                 uint64_t entries);

/* A ring being served: the platform's own copies of the indices it owns
 * (never re-read from guest memory, which the guest may change). */
struct hvb_ring_server {
  volatile uint8_t *ring; /* the platform's pointer to the ring */
  uint32_t entries;
  uint32_t sq_head, cq_tail; /* equal but while hvb_ring_take()n requests
                                wait for their completion */
  uint32_t errors; /* failed completions so far (the header's `errors`) */
  int broken;
};

/* Resets the ring's header for `entries` slots and starts serving it. */
void hvb_ring_server_init(struct hvb_ring_server *server, void *ring,
                          uint32_t entries);

/* Serves requests posted so far (docs/abi.md 5.10): copies up to `max` of
 * them once, into requests[], has `execute` carry out the batch (it fills
 * statuses[i], the completion status of requests[i]: what the synchronous
 * call would return), then writes the completions in order, counting the
 * failed ones in `errors`, and publishes both indices. A guest that breaks
 * the index rules breaks its ring: `error` is set and nothing more is
 * served. Returns how many requests were completed (0: none was posted). */
uint32_t hvb_ring_serve_batch(
    struct hvb_ring_server *server,
    void (*execute)(void *context, const struct hvb_ring_request *requests,
                    int64_t *statuses, uint32_t count),
    void *context, struct hvb_ring_request *requests, int64_t *statuses,
    uint32_t max);

/* For requests that complete later (the net service's receive buffers,
 * which complete as frames arrive): copies up to `max` posted requests
 * once into requests[], advancing sq_head, without completing them. The
 * caller completes each, in the order taken, with hvb_ring_complete(). The
 * index rules are hvb_ring_serve_batch's (a guest that breaks them breaks
 * its ring). Returns how many were taken. */
uint32_t hvb_ring_take(struct hvb_ring_server *server,
                       struct hvb_ring_request *requests, uint32_t max);
/* Publishes the completion of the oldest taken request. */
void hvb_ring_complete(struct hvb_ring_server *server, uint64_t tag,
                       int64_t status);

/* Serves the requests posted when called, one at a time: each completion is
 * published as soon as its request is done. For platforms with no use for
 * batches (the firmware's disks take one request at a time). */
uint32_t hvb_ring_serve(struct hvb_ring_server *server,
                        int64_t (*execute)(void *context,
                                           const struct hvb_ring_request *),
                        void *context);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* HVBIOS_COMMON_BLOCK_H_ */
