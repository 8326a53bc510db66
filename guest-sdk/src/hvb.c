/* hvbios guest SDK: initialisation and the ABI wrappers. */
#include "hvbios/guest/hvb.h"

uint64_t hvb_hypercall_entry;
const volatile uint64_t *hvb_clock_coarse_word;
static const struct hvb_boot_info *g_boot_info;

hvb_status hvb_init(const struct hvb_boot_info *boot) {
  if (boot == 0 || boot->magic != HVB_BOOT_MAGIC) return HVB_ERR_INVAL;
  if ((boot->abi_version >> 16) != HVB_ABI_VERSION_MAJOR) return HVB_ERR_NOSYS;
  g_boot_info = boot;
  hvb_hypercall_entry = boot->hypercall_page + HVB_HCPAGE_CALL;
  /* The page is published before the guest's entry: its flags are final. */
  const struct hvb_clock_page *page =
      (const struct hvb_clock_page *)(uintptr_t)boot->clock_page;
  hvb_clock_coarse_word =
      page != 0 && (page->flags & HVB_CLOCK_F_COARSE) ? &page->coarse_ns : 0;
  return HVB_OK;
}

const struct hvb_boot_info *hvb_boot_info(void) { return g_boot_info; }

__attribute__((weak)) uint64_t hvb_virt_to_phys(const void *p) {
  return (uint64_t)(uintptr_t)p;
}

uint32_t hvb_base_abi_version(void) {
  return (uint32_t)hvb_call0(HVB_FN_BASE_GET_ABI_VERSION).value;
}
uint32_t hvb_base_impl_id(void) {
  return (uint32_t)hvb_call0(HVB_FN_BASE_GET_IMPL_ID).value;
}
uint32_t hvb_base_impl_version(void) {
  return (uint32_t)hvb_call0(HVB_FN_BASE_GET_IMPL_VERSION).value;
}
int hvb_base_probe(uint32_t fid) {
  struct hvb_result r = hvb_call1(HVB_FN_BASE_PROBE, fid);
  return r.status == HVB_OK && r.value == 1;
}

#define HVB_FUNCTION_INFO_ROW(SVC, svc, FN, fn, number) \
  {HVB_FN_##SVC##_##FN, #svc "." #fn},
const struct hvb_function_info hvb_abi_functions[] = {
    HVB_FUNCTIONS(HVB_FUNCTION_INFO_ROW)};
#undef HVB_FUNCTION_INFO_ROW
const size_t hvb_abi_function_count =
    sizeof(hvb_abi_functions) / sizeof(hvb_abi_functions[0]);

const char *hvb_function_name(uint32_t fid) {
  for (size_t i = 0; i < hvb_abi_function_count; ++i) {
    if (hvb_abi_functions[i].fid == fid) return hvb_abi_functions[i].name;
  }
  return 0;
}

/* Calls `fid(buf, length)` until it has moved all `length` bytes: the
 * console and rng calls may do less than asked (docs/abi.md). */
static hvb_status call_until_done(uint32_t fid, const void *buf,
                                  size_t length) {
  const char *p = (const char *)buf;
  while (length > 0) {
    struct hvb_result r = hvb_call2(fid, hvb_virt_to_phys(p), length);
    if (r.status != HVB_OK) return r.status;
    if (r.value == 0 || r.value > length) return HVB_ERR_IO;
    p += r.value;
    length -= r.value;
  }
  return HVB_OK;
}

hvb_status hvb_console_write(const void *buf, size_t length) {
  return call_until_done(HVB_FN_CONSOLE_WRITE, buf, length);
}

hvb_status hvb_console_read(void *buf, size_t capacity, size_t *count) {
  struct hvb_result r =
      hvb_call2(HVB_FN_CONSOLE_READ, hvb_virt_to_phys(buf), capacity);
  if (count != 0) *count = r.status == HVB_OK ? r.value : 0;
  return r.status;
}

hvb_status hvb_puts(const char *s) {
  hvb_status st = hvb_console_write(s, strlen(s));
  return st != HVB_OK ? st : hvb_console_write("\n", 1);
}

uint64_t hvb_clock_monotonic_ns(void) {
  return hvb_call0(HVB_FN_CLOCK_MONOTONIC).value;
}
/* The page's time now: this vCPU's TSC through the page's conversion. */
static inline uint64_t clock_page_now(const struct hvb_clock_page *page) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  const uint64_t tsc = ((uint64_t)hi << 32) | lo;
  return page->ns_base +
         (uint64_t)(((unsigned __int128)(tsc - page->tsc_base) * page->mul) >>
                    page->shift);
}

uint64_t hvb_clock_page_ns(void) {
  if (g_boot_info == 0 || g_boot_info->clock_page == 0) return 0;
  const struct hvb_clock_page *page =
      (const struct hvb_clock_page *)(uintptr_t)g_boot_info->clock_page;
  const uint32_t stable = HVB_CLOCK_F_VALID | HVB_CLOCK_F_STABLE;
  if ((page->flags & stable) == stable) return clock_page_now(page);
  uint32_t seq;
  uint64_t ns;
  do {
    seq = __atomic_load_n(&page->sequence, __ATOMIC_ACQUIRE);
    if (seq & 1) continue;
    if (!(page->flags & HVB_CLOCK_F_VALID)) return 0;
    ns = clock_page_now(page);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
  } while ((seq & 1) ||
           __atomic_load_n(&page->sequence, __ATOMIC_RELAXED) != seq);
  return ns;
}

uint64_t hvb_clock_now_ns(void) {
  const uint64_t ns = hvb_clock_page_ns();
  return ns != 0 ? ns : hvb_clock_monotonic_ns();
}

uint64_t hvb_clock_wallclock_ns(void) {
  return hvb_call0(HVB_FN_CLOCK_WALLCLOCK).value;
}

hvb_status hvb_power_shutdown(uint32_t code) {
  return hvb_call1(HVB_FN_POWER_SHUTDOWN, code).status;
}
hvb_status hvb_power_reboot(void) {
  return hvb_call0(HVB_FN_POWER_REBOOT).status;
}

hvb_status hvb_debug_null(void) { return hvb_call0(HVB_FN_DEBUG_NULL).status; }
uint64_t hvb_debug_echo(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
                        uint64_t a4, uint64_t a5) {
  return hvb_call6(HVB_FN_DEBUG_ECHO, a0, a1, a2, a3, a4, a5).value;
}

uint32_t hvb_vcpu_count(void) {
  return (uint32_t)hvb_call0(HVB_FN_VCPU_COUNT).value;
}
uint32_t hvb_vcpu_self(void) {
  return (uint32_t)hvb_call0(HVB_FN_VCPU_SELF).value;
}
hvb_status hvb_vcpu_start(uint32_t id, uint64_t entry, uint64_t stack,
                          uint64_t arg, uint64_t cr3) {
  return hvb_call6(HVB_FN_VCPU_START, id, entry, stack, arg, cr3, 0).status;
}

/* vcpu_trampoline.S: pops fn from the new stack, calls fn(rdi), then
 * vcpu.stop. */
extern char hvb_vcpu_trampoline[];

hvb_status hvb_vcpu_start_c(uint32_t id, void (*fn)(uint64_t arg), void *stack,
                            size_t stack_size, uint64_t arg) {
  uint64_t top = ((uint64_t)(uintptr_t)stack + stack_size) & ~(uint64_t)15;
  if (stack_size < 64 || top < 16) return HVB_ERR_INVAL;
  *(uint64_t *)(uintptr_t)(top - 16) = (uint64_t)(uintptr_t)fn;
  uint64_t cr3;
  __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
  return hvb_vcpu_start(id, hvb_virt_to_phys(hvb_vcpu_trampoline),
                        hvb_virt_to_phys((void *)(uintptr_t)(top - 16)), arg,
                        cr3 & ~(uint64_t)0xfff);
}
hvb_status hvb_vcpu_stop(void) { return hvb_call0(HVB_FN_VCPU_STOP).status; }
hvb_status hvb_vcpu_status(uint32_t id, uint32_t *state) {
  struct hvb_result r = hvb_call1(HVB_FN_VCPU_STATUS, id);
  if (state != 0) *state = (uint32_t)r.value;
  return r.status;
}

hvb_status hvb_timer_set(uint64_t deadline_ns, uint8_t vector) {
  return hvb_call2(HVB_FN_TIMER_SET, deadline_ns, vector).status;
}
hvb_status hvb_timer_cancel(void) {
  return hvb_call0(HVB_FN_TIMER_CANCEL).status;
}

hvb_status hvb_event_route(uint32_t source, uint32_t vcpu, uint8_t vector) {
  return hvb_call6(HVB_FN_EVENT_ROUTE, source, vcpu, vector, 0, 0, 0).status;
}
hvb_status hvb_event_mask(uint32_t source) {
  return hvb_call1(HVB_FN_EVENT_MASK, source).status;
}
hvb_status hvb_event_unmask(uint32_t source) {
  return hvb_call1(HVB_FN_EVENT_UNMASK, source).status;
}
hvb_status hvb_event_send_ipi(uint32_t vcpu, uint8_t vector) {
  return hvb_call2(HVB_FN_EVENT_SEND_IPI, vcpu, vector).status;
}

hvb_status hvb_block_info(uint32_t dev, struct hvb_block_info *info) {
  return hvb_call2(HVB_FN_BLOCK_INFO, dev, hvb_virt_to_phys(info)).status;
}
static hvb_status block_transfer(uint32_t fid, uint32_t dev, uint64_t sector,
                                 uint32_t count, const void *buf) {
  struct hvb_result r =
      hvb_call6(fid, dev, sector, count, hvb_virt_to_phys(buf), 0, 0);
  if (r.status != HVB_OK) return r.status;
  return r.value == count ? HVB_OK : HVB_ERR_IO;
}
hvb_status hvb_block_read(uint32_t dev, uint64_t sector, uint32_t count,
                          void *buf) {
  return block_transfer(HVB_FN_BLOCK_READ, dev, sector, count, buf);
}
hvb_status hvb_block_write(uint32_t dev, uint64_t sector, uint32_t count,
                           const void *buf) {
  return block_transfer(HVB_FN_BLOCK_WRITE, dev, sector, count, buf);
}
hvb_status hvb_block_flush(uint32_t dev) {
  return hvb_call1(HVB_FN_BLOCK_FLUSH, dev).status;
}
hvb_status hvb_block_discard(uint32_t dev, uint64_t sector, uint32_t count) {
  return hvb_call6(HVB_FN_BLOCK_DISCARD, dev, sector, count, 0, 0, 0).status;
}

hvb_status hvb_net_info(uint32_t dev, struct hvb_net_info *info) {
  return hvb_call2(HVB_FN_NET_INFO, dev, hvb_virt_to_phys(info)).status;
}
hvb_status hvb_net_send(uint32_t dev, const void *frame, uint32_t len) {
  return hvb_call3(HVB_FN_NET_SEND, dev, hvb_virt_to_phys(frame), len).status;
}
hvb_status hvb_net_recv(uint32_t dev, void *buf, uint32_t capacity,
                        uint32_t *len) {
  struct hvb_result r =
      hvb_call3(HVB_FN_NET_RECV, dev, hvb_virt_to_phys(buf), capacity);
  *len = (uint32_t)r.value;
  return r.status;
}

/* The guest's view of a ring the platform just set up as queue `r`. */
static hvb_status ring_attach(struct hvb_ring *ring, struct hvb_result r,
                              void *memory, uint32_t entries) {
  if (r.status != HVB_OK) return r.status;
  uint8_t *base = (uint8_t *)memory;
  ring->header = (struct hvb_ring_header *)base;
  ring->sq = (struct hvb_ring_request *)(base + HVB_RING_SQ_OFFSET);
  ring->cq = (struct hvb_ring_completion *)(base + HVB_RING_CQ_OFFSET(entries));
  ring->entries = entries;
  ring->queue = (uint32_t)r.value;
  ring->sq_tail = 0;
  ring->cq_head = 0;
  ring->errors_seen = 0;
  ring->features = ring->header->features;
  return HVB_OK;
}

hvb_status hvb_block_queue_setup(struct hvb_ring *ring, uint32_t dev,
                                 void *memory, uint32_t entries) {
  return ring_attach(ring,
                     hvb_call6(HVB_FN_BLOCK_QUEUE_SETUP, dev,
                               hvb_virt_to_phys(memory), entries, 0, 0, 0),
                     memory, entries);
}

hvb_status hvb_net_queue_setup(struct hvb_ring *ring, uint32_t dev,
                               void *memory, uint32_t entries,
                               uint32_t direction) {
  return ring_attach(
      ring,
      hvb_call6(HVB_FN_NET_QUEUE_SETUP, dev, hvb_virt_to_phys(memory), entries,
                direction, 0, 0),
      memory, entries);
}

hvb_status hvb_ring_post(struct hvb_ring *ring, uint8_t op, uint64_t sector,
                         uint32_t count, void *buf, uint64_t tag) {
  if (hvb_ring_outstanding(ring) >= ring->entries) return HVB_ERR_AGAIN;
  struct hvb_ring_request *req = &ring->sq[ring->sq_tail & (ring->entries - 1)];
  req->op = op;
  req->reserved0 = 0;
  req->reserved1 = 0;
  req->count = count;
  req->sector = sector;
  req->buf = buf ? hvb_virt_to_phys(buf) : 0;
  req->tag = tag;
  ring->sq_tail++;
  return HVB_OK;
}

void hvb_ring_submit(struct hvb_ring *ring) {
  __atomic_store_n(&ring->header->sq_tail, ring->sq_tail, __ATOMIC_RELEASE);
  hvb_notify(ring->queue);
}

int hvb_ring_reap(struct hvb_ring *ring, struct hvb_ring_completion *out) {
  const uint32_t tail =
      __atomic_load_n(&ring->header->cq_tail, __ATOMIC_ACQUIRE);
  if (tail == ring->cq_head) return 0;
  *out = ring->cq[ring->cq_head & (ring->entries - 1)];
  ring->cq_head++;
  __atomic_store_n(&ring->header->cq_head, ring->cq_head, __ATOMIC_RELEASE);
  return 1;
}

void hvb_ring_prefill(struct hvb_ring *ring, uint8_t op, uint32_t count,
                      void *const *bufs) {
  for (uint32_t i = 0; i < ring->entries; ++i) {
    struct hvb_ring_request *req = &ring->sq[i];
    req->op = op;
    req->reserved0 = 0;
    req->reserved1 = 0;
    req->count = count;
    req->buf = bufs != 0 && bufs[i] != 0 ? hvb_virt_to_phys(bufs[i]) : 0;
    req->tag = i;
  }
}

uint32_t hvb_ring_complete_all(struct hvb_ring *ring) {
  const uint32_t end = ring->sq_tail;
  while (__atomic_load_n(&ring->header->cq_tail, __ATOMIC_ACQUIRE) != end) {
    __builtin_ia32_pause();
  }
  uint32_t failed = 0;
  if (ring->features & HVB_RING_F_ERROR_COUNT) {
    const uint32_t errors = ring->header->errors; /* ordered by cq_tail */
    failed = errors - ring->errors_seen;
    ring->errors_seen = errors;
  } else {
    for (uint32_t i = ring->cq_head; i != end; ++i) {
      failed += ring->cq[i & (ring->entries - 1)].status < 0;
    }
  }
  ring->cq_head = end;
  __atomic_store_n(&ring->header->cq_head, end, __ATOMIC_RELEASE);
  return failed;
}

void hvb_notify(uint32_t queue) {
  const uint64_t entry = g_boot_info->hypercall_page + HVB_HCPAGE_NOTIFY;
  register uint64_t rdi __asm__("rdi") = queue;
  __asm__ volatile("call *%[entry]"
                   : "+r"(rdi)
                   : [entry] "r"(entry)
                   : "memory");
}

hvb_status hvb_rng_fill(void *buf, size_t length) {
  return call_until_done(HVB_FN_RNG_FILL, buf, length);
}

void hvb_wait_for_event(void) {
  uint64_t entry = g_boot_info->hypercall_page + HVB_HCPAGE_HALT;
  __asm__ volatile("call *%0" : : "r"(entry) : "memory");
}
void hvb_eoi(void) {
  uint64_t entry = g_boot_info->hypercall_page + HVB_HCPAGE_EOI;
  __asm__ volatile("call *%0" : : "r"(entry) : "memory");
}

void hvb_halt_forever(void) {
  for (;;) __asm__ volatile("cli; hlt");
}
