/* The block service's checks and the ring engine: common/block.h. */
#include "common/block.h"

#include "common/memmap.h"
#include "hvbios/abi/hypercall.h"
#include "hvbios/abi/status.h"

int64_t hvb_block_check(const struct hvb_disk_shape *disk, uint32_t op,
                        uint64_t sector, uint64_t count) {
  switch (op) {
    case HVB_RING_OP_FLUSH:
      return HVB_OK;
    case HVB_RING_OP_WRITE:
    case HVB_RING_OP_DISCARD:
      if (disk->read_only) return HVB_ERR_PERM;
      break;
    case HVB_RING_OP_READ:
      break;
    default:
      return HVB_ERR_INVAL;
  }
  if (count == 0 || count > disk->max_sectors || sector > disk->sectors ||
      count > disk->sectors - sector) {
    return HVB_ERR_RANGE;
  }
  return HVB_OK;
}

struct hvb_block_info hvb_block_info_of(const struct hvb_disk_shape *disk) {
  struct hvb_block_info info = {0};
  info.sectors = disk->sectors;
  info.sector_size = HVB_BLOCK_SECTOR_SIZE;
  info.flags = disk->read_only ? HVB_BLOCK_F_READ_ONLY : 0;
  info.optimal_sectors = disk->optimal_sectors;
  info.max_sectors = disk->max_sectors;
  return info;
}

int64_t hvb_ring_check_placement(const struct hvb_mem_region *map,
                                 uint32_t map_count, uint64_t ring,
                                 uint64_t entries) {
  if (entries == 0 || entries > HVB_RING_MAX_ENTRIES ||
      (entries & (entries - 1)) != 0 || ring % 4096 != 0) {
    return HVB_ERR_INVAL;
  }
  return hvb_memmap_guest_owns(map, map_count, ring, HVB_RING_BYTES(entries))
             ? HVB_OK
             : HVB_ERR_FAULT;
}

static struct hvb_ring_header *header_of(struct hvb_ring_server *s) {
  return (struct hvb_ring_header *)s->ring;
}

void hvb_ring_server_init(struct hvb_ring_server *server, void *ring,
                          uint32_t entries) {
  server->ring = (volatile uint8_t *)ring;
  server->entries = entries;
  server->sq_head = 0;
  server->cq_tail = 0;
  server->errors = 0;
  server->broken = 0;
  volatile uint8_t *header = server->ring;
  for (uint32_t i = 0; i < sizeof(struct hvb_ring_header); ++i) header[i] = 0;
  header_of(server)->entries = entries;
  header_of(server)->features = HVB_RING_F_ERROR_COUNT;
}

/* Byte copies through volatile pointers: the guest may write the ring
 * while it is read, and the copy is what is used, once. */
static void copy_in(void *dst, const volatile uint8_t *src, uint32_t n) {
  uint8_t *d = (uint8_t *)dst;
  for (uint32_t i = 0; i < n; ++i) d[i] = src[i];
}
static void copy_out(volatile uint8_t *dst, const void *src, uint32_t n) {
  const uint8_t *s = (const uint8_t *)src;
  for (uint32_t i = 0; i < n; ++i) dst[i] = s[i];
}

static void break_ring(struct hvb_ring_server *s) {
  s->broken = 1;
  __atomic_store_n(&header_of(s)->error, 1u, __ATOMIC_RELEASE);
}

uint32_t hvb_ring_serve_batch(
    struct hvb_ring_server *s,
    void (*execute)(void *context, const struct hvb_ring_request *requests,
                    int64_t *statuses, uint32_t count),
    void *context, struct hvb_ring_request *requests, int64_t *statuses,
    uint32_t max) {
  if (s->broken || max == 0) return 0;
  struct hvb_ring_header *header = header_of(s);
  const uint32_t mask = s->entries - 1;
  const uint32_t sq_tail = __atomic_load_n(&header->sq_tail, __ATOMIC_ACQUIRE);
  if (sq_tail - s->sq_head > s->entries) {
    break_ring(s);
    return 0;
  }
  /* Copy each request once, up to `max`. The guest keeps at most `entries`
   * requests outstanding; one more would overflow the completion queue, and
   * breaks the ring once the ones before it are complete. */
  uint32_t taken = 0;
  int overflow = 0;
  while (s->sq_head + taken != sq_tail && taken < max) {
    const uint32_t cq_head =
        __atomic_load_n(&header->cq_head, __ATOMIC_ACQUIRE);
    if (s->cq_tail + taken - cq_head >= s->entries) {
      overflow = 1;
      break;
    }
    copy_in(&requests[taken],
            s->ring + HVB_RING_SQ_OFFSET +
                (uint64_t)((s->sq_head + taken) & mask) *
                    sizeof(struct hvb_ring_request),
            sizeof(struct hvb_ring_request));
    ++taken;
  }
  if (taken > 0) execute(context, requests, statuses, taken);
  for (uint32_t i = 0; i < taken; ++i) {
    struct hvb_ring_completion completion;
    completion.tag = requests[i].tag;
    completion.status = statuses[i];
    copy_out(s->ring + HVB_RING_CQ_OFFSET(s->entries) +
                 (uint64_t)(s->cq_tail & mask) * sizeof(completion),
             &completion, sizeof(completion));
    /* The count first: a guest that sees cq_tail sees its failures. */
    if (completion.status < 0) {
      __atomic_store_n(&header->errors, ++s->errors, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&header->cq_tail, ++s->cq_tail, __ATOMIC_RELEASE);
    __atomic_store_n(&header->sq_head, ++s->sq_head, __ATOMIC_RELEASE);
  }
  if (overflow) break_ring(s);
  return taken;
}

uint32_t hvb_ring_take(struct hvb_ring_server *s,
                       struct hvb_ring_request *requests, uint32_t max) {
  if (s->broken) return 0;
  struct hvb_ring_header *header = header_of(s);
  const uint32_t mask = s->entries - 1;
  const uint32_t sq_tail = __atomic_load_n(&header->sq_tail, __ATOMIC_ACQUIRE);
  if (sq_tail - s->sq_head > s->entries) {
    break_ring(s);
    return 0;
  }
  uint32_t taken = 0;
  while (s->sq_head != sq_tail && taken < max) {
    /* Request k completes into cq slot k: it must be free when taken. */
    const uint32_t cq_head =
        __atomic_load_n(&header->cq_head, __ATOMIC_ACQUIRE);
    if (s->sq_head - cq_head >= s->entries) {
      break_ring(s);
      break;
    }
    copy_in(&requests[taken],
            s->ring + HVB_RING_SQ_OFFSET +
                (uint64_t)(s->sq_head & mask) * sizeof(struct hvb_ring_request),
            sizeof(struct hvb_ring_request));
    ++taken;
    __atomic_store_n(&header->sq_head, ++s->sq_head, __ATOMIC_RELEASE);
  }
  return taken;
}

void hvb_ring_complete(struct hvb_ring_server *s, uint64_t tag,
                       int64_t status) {
  if (s->broken || s->cq_tail == s->sq_head) return;
  struct hvb_ring_header *header = header_of(s);
  struct hvb_ring_completion completion;
  completion.tag = tag;
  completion.status = status;
  copy_out(s->ring + HVB_RING_CQ_OFFSET(s->entries) +
               (uint64_t)(s->cq_tail & (s->entries - 1)) * sizeof(completion),
           &completion, sizeof(completion));
  if (status < 0) {
    __atomic_store_n(&header->errors, ++s->errors, __ATOMIC_RELAXED);
  }
  __atomic_store_n(&header->cq_tail, ++s->cq_tail, __ATOMIC_RELEASE);
}

/* hvb_ring_serve's one-request-at-a-time executor, as a batch of one. */
struct one_by_one {
  int64_t (*execute)(void *context, const struct hvb_ring_request *);
  void *context;
};
static void execute_one(void *context, const struct hvb_ring_request *requests,
                        int64_t *statuses, uint32_t count) {
  const struct one_by_one *one = (const struct one_by_one *)context;
  for (uint32_t i = 0; i < count; ++i) {
    statuses[i] = one->execute(one->context, &requests[i]);
  }
}

uint32_t hvb_ring_serve(struct hvb_ring_server *s,
                        int64_t (*execute)(void *context,
                                           const struct hvb_ring_request *),
                        void *context) {
  /* Up to what was posted when called: a request posted later comes with a
   * doorbell of its own, and a guest that keeps posting cannot keep the
   * platform here. (A corrupt sq_tail breaks the ring at the first call.) */
  const uint32_t posted =
      __atomic_load_n(&header_of(s)->sq_tail, __ATOMIC_ACQUIRE) - s->sq_head;
  struct one_by_one one = {execute, context};
  struct hvb_ring_request request;
  int64_t status;
  uint32_t completed = 0;
  while (completed < posted &&
         hvb_ring_serve_batch(s, execute_one, &one, &request, &status, 1)) {
    ++completed;
  }
  return completed;
}
