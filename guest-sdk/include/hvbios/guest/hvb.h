/*
 * hvbios guest SDK: call the hvbios ABI from a freestanding C or C++ guest.
 *
 * A guest links libhvbios-guest.a with the SDK's linker script (CMake:
 * hvbios_add_guest(); Make: pkg-config hvbios-guest), defines
 *
 *     int hvb_main(const struct hvb_boot_info *boot);
 *
 * and gets the SDK's start file: a 64 KiB stack, a checked boot info, and the
 * wrappers below; the value hvb_main returns becomes the power.shutdown code.
 * A guest that defines its own _start instead gets neither the start file nor
 * a reference to hvb_main; it calls hvb_init(boot_info) before any other SDK
 * function (hvb_vcpu_start_c() included).
 *
 * Every wrapper returns an hvb_status (HVB_OK or HVB_ERR_*, see
 * hvbios/abi/status.h) unless its result is a plain value. Buffers are
 * passed by pointer and translated with hvb_virt_to_phys() (identity by
 * default; a guest with its own page tables overrides it).
 */
#ifndef HVBIOS_GUEST_HVB_H_
#define HVBIOS_GUEST_HVB_H_

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "hvbios/abi/abi.h"

#ifdef __cplusplus
extern "C" {
#endif

struct hvb_result {
  hvb_status status; /* rax */
  uint64_t value;    /* rdx */
};

/* Address of the hypercall page's call entry; set by hvb_init(). */
extern uint64_t hvb_hypercall_entry;

/* Checks the boot info (magic, ABI major) and remembers the hypercall page.
 * Returns HVB_OK, or HVB_ERR_INVAL if `boot` is not an hvbios boot info or
 * HVB_ERR_NOSYS if the platform's ABI major differs from the SDK's. */
hvb_status hvb_init(const struct hvb_boot_info *boot);

/* The boot info given to hvb_init(), or NULL before it. */
const struct hvb_boot_info *hvb_boot_info(void);

/* Guest-physical address of a guest pointer, for hypercall buffers.
 * Identity by default (the boot page tables identity map RAM); weak, so a
 * guest that remaps memory provides its own. */
uint64_t hvb_virt_to_phys(const void *p);

/* The raw call: rax = fid, args in rdi rsi rdx rcx r8 r9; returns
 * rax = status, rdx = value. Every other register is preserved by the
 * platform (docs/abi.md, "Calling convention"). */
static inline struct hvb_result hvb_call6(uint32_t fid, uint64_t a0,
                                          uint64_t a1, uint64_t a2, uint64_t a3,
                                          uint64_t a4, uint64_t a5) {
  register uint64_t rax __asm__("rax") = fid;
  register uint64_t rdi __asm__("rdi") = a0;
  register uint64_t rsi __asm__("rsi") = a1;
  register uint64_t rdx __asm__("rdx") = a2;
  register uint64_t rcx __asm__("rcx") = a3;
  register uint64_t r8 __asm__("r8") = a4;
  register uint64_t r9 __asm__("r9") = a5;
  __asm__ volatile("call *%[entry]"
                   : "+r"(rax), "+r"(rdx)
                   : [entry] "m"(hvb_hypercall_entry), "r"(rdi), "r"(rsi),
                     "r"(rcx), "r"(r8), "r"(r9)
                   : "memory", "cc");
  struct hvb_result result = {(hvb_status)rax, rdx};
  return result;
}
/* Fewer arguments, fewer instructions: the platform ignores argument
 * registers a function does not take, so these leave them as they are.
 * (Every guest instruction counts where ring-0 code is emulated.) */
static inline struct hvb_result hvb_call0(uint32_t fid) {
  register uint64_t rax __asm__("rax") = fid;
  register uint64_t rdx __asm__("rdx");
  __asm__ volatile("call *%[entry]"
                   : "+r"(rax), "=r"(rdx)
                   : [entry] "m"(hvb_hypercall_entry)
                   : "memory", "cc");
  struct hvb_result result = {(hvb_status)rax, rdx};
  return result;
}
static inline struct hvb_result hvb_call1(uint32_t fid, uint64_t a0) {
  register uint64_t rax __asm__("rax") = fid;
  register uint64_t rdi __asm__("rdi") = a0;
  register uint64_t rdx __asm__("rdx");
  __asm__ volatile("call *%[entry]"
                   : "+r"(rax), "=r"(rdx)
                   : [entry] "m"(hvb_hypercall_entry), "r"(rdi)
                   : "memory", "cc");
  struct hvb_result result = {(hvb_status)rax, rdx};
  return result;
}
static inline struct hvb_result hvb_call2(uint32_t fid, uint64_t a0,
                                          uint64_t a1) {
  register uint64_t rax __asm__("rax") = fid;
  register uint64_t rdi __asm__("rdi") = a0;
  register uint64_t rsi __asm__("rsi") = a1;
  register uint64_t rdx __asm__("rdx");
  __asm__ volatile("call *%[entry]"
                   : "+r"(rax), "=r"(rdx)
                   : [entry] "m"(hvb_hypercall_entry), "r"(rdi), "r"(rsi)
                   : "memory", "cc");
  struct hvb_result result = {(hvb_status)rax, rdx};
  return result;
}
static inline struct hvb_result hvb_call3(uint32_t fid, uint64_t a0,
                                          uint64_t a1, uint64_t a2) {
  register uint64_t rax __asm__("rax") = fid;
  register uint64_t rdi __asm__("rdi") = a0;
  register uint64_t rsi __asm__("rsi") = a1;
  register uint64_t rdx __asm__("rdx") = a2;
  __asm__ volatile("call *%[entry]"
                   : "+r"(rax), "+r"(rdx)
                   : [entry] "m"(hvb_hypercall_entry), "r"(rdi), "r"(rsi)
                   : "memory", "cc");
  struct hvb_result result = {(hvb_status)rax, rdx};
  return result;
}

/* ---- base ---------------------------------------------------------------- */
uint32_t hvb_base_abi_version(void);
uint32_t hvb_base_impl_id(void);
uint32_t hvb_base_impl_version(void);
/* 1 if the platform implements `fid`, else 0. */
int hvb_base_probe(uint32_t fid);

/* Every function of the ABI this SDK was built against, from the function
 * table (hvbios/abi/functions.h): to probe them all, or name one. */
struct hvb_function_info {
  uint32_t fid;
  const char *name; /* "service.function", as in docs/abi.md */
};
extern const struct hvb_function_info hvb_abi_functions[];
extern const size_t hvb_abi_function_count;
/* The name of `fid`, or NULL if it is not one of hvb_abi_functions. */
const char *hvb_function_name(uint32_t fid);

/* ---- console ------------------------------------------------------------- */
/* Writes all `length` bytes (several calls if needed). */
hvb_status hvb_console_write(const void *buf, size_t length);
/* Reads up to `capacity` pending bytes without blocking; *count = how many
 * (0 when no input is pending). */
hvb_status hvb_console_read(void *buf, size_t capacity, size_t *count);
hvb_status hvb_puts(const char *s); /* s and a newline */

/* ---- clock --------------------------------------------------------------- */
uint64_t hvb_clock_monotonic_ns(void);
/* clock.monotonic without an exit, from the clock page (rdtsc), or the
 * hypercall where the platform publishes no valid page. */
uint64_t hvb_clock_now_ns(void);
/* The clock page's reading, or 0 if there is no valid page. */
uint64_t hvb_clock_page_ns(void);
/* clock.monotonic to a coarse resolution in one load: the clock page's
 * coarse word where the platform keeps it (HVB_CLOCK_F_COARSE; current to
 * within its coarse_period_ns, 1 ms on hvbios/KVM), else hvb_clock_now_ns().
 * For timestamps and timeouts, not for measuring short intervals. Inline:
 * four instructions where ring-0 code may be emulated one by one. */
extern const volatile uint64_t *hvb_clock_coarse_word; /* set by hvb_init */
static inline uint64_t hvb_clock_coarse_ns(void) {
  const volatile uint64_t *word = hvb_clock_coarse_word;
  return word != 0 ? *word : hvb_clock_now_ns();
}
uint64_t hvb_clock_wallclock_ns(void);

/* ---- power --------------------------------------------------------------- */
/* Do not return unless the platform refuses (status returned). */
hvb_status hvb_power_shutdown(uint32_t code);
hvb_status hvb_power_reboot(void);

/* ---- debug --------------------------------------------------------------- */
hvb_status hvb_debug_null(void);
uint64_t hvb_debug_echo(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
                        uint64_t a4, uint64_t a5);
/* Panics (debug.panic, ABI 0.9): the platform reports `code` (0..255), the
 * formatted message (its first HVB_PANIC_MAX_MESSAGE bytes) and this
 * vCPU's registers, and stops the machine: hvbios-run and hvbios-qemu exit
 * with 126. On a platform without debug.panic it prints the message and
 * shuts down with `code`. Never returns. */
__attribute__((noreturn, format(printf, 2, 3))) void hvb_panic(uint32_t code,
                                                               const char *fmt,
                                                               ...);

/* ---- vcpu -----------------------------------------------------------------
 */
uint32_t hvb_vcpu_count(void);
uint32_t hvb_vcpu_self(void);
/* Raw vcpu.start: entry/stack/arg/cr3 as docs/abi.md describes. */
hvb_status hvb_vcpu_start(uint32_t id, uint64_t entry, uint64_t stack,
                          uint64_t arg, uint64_t cr3);
/* Starts vCPU `id` running fn(arg) on the stack [stack, stack + size), in
 * the caller's address space (its cr3). When fn returns the vCPU stops
 * (vcpu.stop); it can be started again. */
hvb_status hvb_vcpu_start_c(uint32_t id, void (*fn)(uint64_t arg), void *stack,
                            size_t stack_size, uint64_t arg);
/* Stops the calling vCPU; returns only if the platform refuses. */
hvb_status hvb_vcpu_stop(void);
/* HVB_VCPU_* of vCPU `id` in *state. */
hvb_status hvb_vcpu_status(uint32_t id, uint32_t *state);

/* ---- timer ----------------------------------------------------------------
 */
/* Raises `vector` on this vCPU when clock.monotonic reaches deadline_ns. */
hvb_status hvb_timer_set(uint64_t deadline_ns, uint8_t vector);
hvb_status hvb_timer_cancel(void);

/* ---- event ----------------------------------------------------------------
 */
hvb_status hvb_event_route(uint32_t source, uint32_t vcpu, uint8_t vector);
hvb_status hvb_event_mask(uint32_t source);
hvb_status hvb_event_unmask(uint32_t source);
hvb_status hvb_event_send_ipi(uint32_t vcpu, uint8_t vector);

/* ---- block --------------------------------------------------------------- */
hvb_status hvb_block_info(uint32_t dev, struct hvb_block_info *info);
/* Synchronous transfers of `count` sectors (1..info.max_sectors). */
hvb_status hvb_block_read(uint32_t dev, uint64_t sector, uint32_t count,
                          void *buf);
hvb_status hvb_block_write(uint32_t dev, uint64_t sector, uint32_t count,
                           const void *buf);
hvb_status hvb_block_flush(uint32_t dev);
hvb_status hvb_block_discard(uint32_t dev, uint64_t sector, uint32_t count);

/* Request rings (hvbios/abi/ring.h). A ring is memory the guest provides,
 * 4 KiB aligned, HVB_RING_BYTES(entries) long. */
struct hvb_ring {
  struct hvb_ring_header *header;
  struct hvb_ring_request *sq;
  struct hvb_ring_completion *cq;
  uint32_t entries;
  uint32_t queue;   /* the platform's queue id, for hvb_notify() */
  uint32_t sq_tail; /* guest-owned copies */
  uint32_t cq_head;
  uint32_t errors_seen; /* header->errors when the last batch was consumed */
  uint32_t features;    /* header->features at setup */
};
/* Registers `memory` as a ring of `entries` slots on disk `dev`. */
hvb_status hvb_block_queue_setup(struct hvb_ring *ring, uint32_t dev,
                                 void *memory, uint32_t entries);
/* Requests posted but not yet reaped (at most ring->entries). */
static inline uint32_t hvb_ring_outstanding(const struct hvb_ring *ring) {
  return ring->sq_tail - ring->cq_head;
}
/* Queues one request (not yet visible to the platform); HVB_ERR_AGAIN if
 * `entries` requests are outstanding. */
hvb_status hvb_ring_post(struct hvb_ring *ring, uint8_t op, uint64_t sector,
                         uint32_t count, void *buf, uint64_t tag);
/* Publishes the posted requests (store-release of sq_tail) and rings the
 * doorbell: one notify for any number of requests. */
void hvb_ring_submit(struct hvb_ring *ring);
/* Takes one completion if there is one: 1 and *out filled, else 0. */
int hvb_ring_reap(struct hvb_ring *ring, struct hvb_ring_completion *out);

/* The lean path, for batches of like requests (docs/abi.md 5.10): a
 * handful of guest instructions per request where every instruction may be
 * emulated. hvb_ring_prefill() writes, once, what every slot's request
 * shares: `op`, `count`, slot i's buffer bufs[i] (bufs may be 0: no buffer)
 * and tag i. Then per request only hvb_ring_post_sector() stores a sector;
 * hvb_ring_submit() publishes the batch; hvb_ring_complete_all() waits for
 * every posted request and consumes them with one store, returning how many
 * completions failed since the last hvb_ring_complete_all() (or the setup):
 * the ring's error count, read once (on platforms before 0.7, which do not
 * count, the batch's statuses). The caller keeps at most `entries`
 * requests posted. */
void hvb_ring_prefill(struct hvb_ring *ring, uint8_t op, uint32_t count,
                      void *const *bufs);
static inline void hvb_ring_post_sector(struct hvb_ring *ring,
                                        uint64_t sector) {
  ring->sq[ring->sq_tail++ & (ring->entries - 1)].sector = sector;
}
uint32_t hvb_ring_complete_all(struct hvb_ring *ring);
/* Rings queue `queue`'s doorbell (the hypercall page's notify entry). */
void hvb_notify(uint32_t queue);

/* ---- net (since 0.10) ------------------------------------------------------
 */
hvb_status hvb_net_info(uint32_t dev, struct hvb_net_info *info);
/* Sends one frame (HVB_NET_MIN_FRAME..max_frame bytes); HVB_ERR_AGAIN if
 * the link takes nothing now. */
hvb_status hvb_net_send(uint32_t dev, const void *frame, uint32_t len);
/* Takes the oldest waiting frame into `buf` and stores its length in *len;
 * HVB_ERR_AGAIN if none is waiting (HVB_EVENT_SRC_NET_RX(dev) says when
 * one arrives at an empty queue). */
hvb_status hvb_net_recv(uint32_t dev, void *buf, uint32_t capacity,
                        uint32_t *len);
/* Registers `memory` (4 KiB aligned, HVB_RING_BYTES(entries)) as a ring on
 * net device `dev` (struct hvb_ring below): of frames to send
 * (HVB_NET_QUEUE_TX; post HVB_RING_OP_NET_SEND with count = the frame's
 * length) or of buffers to receive into (HVB_NET_QUEUE_RX; post
 * HVB_RING_OP_NET_RECV with count = the buffer's capacity: each completes
 * with the length of the frame it got). Post with hvb_ring_post(), sector
 * 0; hvb_ring_submit(); reap with hvb_ring_reap(). */
struct hvb_ring;
hvb_status hvb_net_queue_setup(struct hvb_ring *ring, uint32_t dev,
                               void *memory, uint32_t entries,
                               uint32_t direction);

/* ---- rng ------------------------------------------------------------------
 */
/* Fills all `length` bytes with random bytes (several calls if needed). */
hvb_status hvb_rng_fill(void *buf, size_t length);

/* ---- memory (since 0.6) --------------------------------------------------
 */
/* The memory map's generation: the boot info's mem_map_generation at boot,
 * one more after each change the host makes (HVB_EVENT_SRC_MEMORY_MAP). */
uint64_t hvb_memory_generation(void);
/* Copies up to `capacity` entries of the current memory map (sorted by
 * base) to `out` and stores the map's entry count in *count. The copy is
 * consistent: it is retried while the generation moves meanwhile. */
hvb_status hvb_memory_read_map(struct hvb_mem_region *out, uint32_t capacity,
                               uint32_t *count);
/* Identity-maps [base, base + size), widened to 2 MiB boundaries, in the
 * page tables cr3 names (read-write, supervisor; `uncached` for device
 * windows), where nothing is mapped yet: for RAM the host adds at run time
 * and device windows, which the boot page tables do not cover. Takes
 * page-table pages from a pool in the SDK (HVB_ERR_NOMEM once it is used
 * up). Below 512 GiB only. Not thread-safe: one vCPU at a time. */
hvb_status hvb_map_identity(uint64_t base, uint64_t size, int uncached);

/* The boot info's entry for device `id` of `type` (HVB_DEV_*), or NULL. */
const struct hvb_device *hvb_find_device(uint32_t type, uint32_t id);

/* ---- interrupts (IDT, handlers, EOI, waiting) ------------------------------
 */
/* What an interrupt handler sees: the interrupted context. */
struct hvb_interrupt_frame {
  uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
  uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
  uint64_t vector, error_code; /* error_code 0 where the CPU pushes none */
  uint64_t rip, cs, rflags, rsp, ss;
};
typedef void (*hvb_interrupt_handler)(struct hvb_interrupt_frame *frame);

/* Builds the SDK's IDT (all 256 vectors, code selector 0x08 of the
 * platform's GDT) and loads it on the calling vCPU. Once per guest. */
void hvb_interrupts_init(void);
/* Loads the IDT on the calling vCPU (each other vCPU, once). */
void hvb_interrupts_load(void);
/* Installs `handler` for `vector` (NULL: default). Handlers of events
 * (vectors 32..254) are followed by an EOI; the SDK does it. Unhandled
 * exceptions (0..31) panic (hvb_panic) with code HVB_EXIT_EXCEPTION and
 * the frame in the message; unhandled events are acknowledged and ignored; the
 * spurious vector (255) is never acknowledged. */
void hvb_interrupt_set_handler(uint8_t vector, hvb_interrupt_handler handler);
/* With `manual` set, `vector`'s handler acknowledges its event itself, by
 * calling hvb_eoi() then or later (say, once deferred work is done). Until
 * then the event stays in service: it holds back its own vector and every
 * vector of its priority class (vector / 16) and below (docs/abi.md 5.8). */
void hvb_interrupt_set_manual_eoi(uint8_t vector, int manual);
#define HVB_EXIT_EXCEPTION 111

static inline void hvb_interrupts_enable(void) {
  __asm__ volatile("sti" ::: "memory");
}
static inline void hvb_interrupts_disable(void) {
  __asm__ volatile("cli" ::: "memory");
}
/* Enables interrupts and waits until at least one event was handled
 * (the hypercall page's halt entry). Returns with interrupts enabled.
 *
 * Events are doorbells, not messages: one raised while the same vector is
 * still pending on that vCPU merges with it. Keep state in memory and wait
 * for it without a lost wake-up: check with interrupts off, then wait
 * (the entry enables them and halts atomically), as HVB_WAIT_UNTIL does. */
void hvb_wait_for_event(void);
#define HVB_WAIT_UNTIL(condition) \
  do {                            \
    hvb_interrupts_disable();     \
    while (!(condition)) {        \
      hvb_wait_for_event();       \
      hvb_interrupts_disable();   \
    }                             \
    hvb_interrupts_enable();      \
  } while (0)
/* Acknowledges the highest-priority event in service on this vCPU: the
 * one being handled, from its handler (the SDK's dispatcher does this for
 * handlers it calls, unless told otherwise: hvb_interrupt_set_manual_eoi). */
void hvb_eoi(void);

/* ---- formatted output ---------------------------------------------------- */
/* printf subset: %d %i %u %x %X %p %s %c %%, flags '-' '0', width,
 * precision for %s, length modifiers l, ll, z. */
int hvb_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int hvb_snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Formats to the console; returns bytes written or a negative status. */
int hvb_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- freestanding essentials (the compiler may emit calls to these) ------ */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

/* Stops this vCPU for good (cli; hlt), for when nothing else can be done. */
__attribute__((noreturn)) void hvb_halt_forever(void);

/* Entry point a guest defines when it uses the SDK's start file. */
int hvb_main(const struct hvb_boot_info *boot);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* HVBIOS_GUEST_HVB_H_ */
