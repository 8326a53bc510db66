/* The hvbios services as the bare-metal firmware provides them, table-
 * driven like the host's (lib/hypercall.cc), with the same argument checks
 * in the same order so that one conformance suite holds both to the ABI.
 * This platform's vCPUs are the PC's CPUs, the console is on COM1, the
 * clock on the TSC, the timer and events on the local APIC, console input
 * through the I/O APIC, RDRAND for rng, and disks on the IDE channels
 * (block.c). */
#include "firmware.h"

typedef struct fw_result (*handler)(const uint64_t *a);

static struct fw_result ok(uint64_t value) {
  struct fw_result r = {HVB_OK, value};
  return r;
}
static struct fw_result error(int64_t status) {
  struct fw_result r = {status, 0};
  return r;
}

static int valid_vector(uint64_t v) {
  return v >= HVB_VECTOR_MIN && v <= HVB_VECTOR_MAX;
}
static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* ---- base */

static int implemented(uint64_t fid);

static struct fw_result base_abi_version(const uint64_t *a) {
  (void)a;
  return ok(HVB_ABI_VERSION);
}
static struct fw_result base_impl_id(const uint64_t *a) {
  (void)a;
  return ok(HVB_IMPL_HVBIOS_BAREMETAL);
}
static struct fw_result base_impl_version(const uint64_t *a) {
  (void)a;
  return ok((0u << 16) | 1u); /* 0.1, like the host library */
}
static struct fw_result base_probe(const uint64_t *a) {
  return ok(implemented(a[0]) ? 1 : 0);
}

/* ---- console */
/* Guest buffers are used in place. Only their range is checked, never
 * their contents, so another vCPU writing one meanwhile changes only the
 * bytes printed or overwritten. */

static struct fw_result console_write(const uint64_t *a) {
  const uint64_t length = min_u64(a[1], HVB_CONSOLE_MAX_IO);
  if (length == 0) return ok(0);
  if (!fw_guest_owns(a[0], length)) return error(HVB_ERR_FAULT);
  uart_write((const char *)(uintptr_t)a[0], length);
  return ok(length);
}
static struct fw_result console_read(const uint64_t *a) {
  const uint64_t length = min_u64(a[1], HVB_CONSOLE_MAX_IO);
  if (length == 0) return ok(0);
  if (!fw_guest_owns(a[0], length)) return error(HVB_ERR_FAULT);
  return ok(uart_read((char *)(uintptr_t)a[0], length));
}

/* ---- clock, power, debug */

static struct fw_result clock_monotonic(const uint64_t *a) {
  (void)a;
  return ok(clock_monotonic_ns());
}
static struct fw_result clock_wallclock(const uint64_t *a) {
  (void)a;
  return ok(clock_wall_ns());
}

static struct fw_result power_shutdown(const uint64_t *a) {
  if (a[0] > 255) return error(HVB_ERR_INVAL);
  char line[16] = "shutdown ";
  char *p = line + 9;
  const unsigned code = (unsigned)a[0];
  if (code >= 100) *p++ = (char)('0' + code / 100);
  if (code >= 10) *p++ = (char)('0' + code / 10 % 10);
  *p++ = (char)('0' + code % 10);
  *p = 0;
  machine_exit(line);
}
static struct fw_result power_reboot(const uint64_t *a) {
  (void)a;
  machine_reboot();
}

static struct fw_result debug_null(const uint64_t *a) {
  (void)a;
  return ok(0);
}
static struct fw_result debug_echo(const uint64_t *a) {
  return ok(a[0] ^ a[1] ^ a[2] ^ a[3] ^ a[4] ^ a[5]);
}

/* ---- The firmware lock */
/* One lock serializes the services across CPUs. The firmware runs with
 * interrupts off, so a holder is never interrupted: a CPU spins for at
 * most one service call. */
static volatile int g_lock;
static void fw_lock(void) {
  while (__atomic_exchange_n(&g_lock, 1, __ATOMIC_ACQUIRE)) {
    while (__atomic_load_n(&g_lock, __ATOMIC_RELAXED)) __builtin_ia32_pause();
  }
}
static void fw_unlock(void) { __atomic_store_n(&g_lock, 0, __ATOMIC_RELEASE); }

/* ---- vcpu: the PC's CPUs; vCPU 0 is the boot CPU */

extern char ap_trampoline[];

static struct fw_result vcpu_count(const uint64_t *a) {
  (void)a;
  return ok(g_platform.cpu_count);
}
static struct fw_result vcpu_self(const uint64_t *a) {
  (void)a;
  return ok(this_cpu());
}
static struct fw_result vcpu_start(const uint64_t *a) {
  const uint64_t id = a[0], rip = a[1], rsp = a[2], cr3 = a[4];
  if (id >= g_platform.cpu_count) return error(HVB_ERR_NODEV);
  if (!fw_guest_owns(rip, 1)) return error(HVB_ERR_FAULT);
  if (rsp % 16 != 0) return error(HVB_ERR_INVAL);
  if (rsp < 8 || !fw_guest_owns(rsp - 8, 8)) return error(HVB_ERR_FAULT);
  if (cr3 != 0 && (cr3 % 4096 != 0 || !fw_guest_owns(cr3, 4096))) {
    return error(HVB_ERR_INVAL);
  }
  struct fw_cpu *cpu = &g_platform.cpus[id];
  if (cpu->state != HVB_VCPU_STOPPED) return error(HVB_ERR_STATE);
  cpu->entry = rip;
  cpu->stack = rsp;
  cpu->arg = a[3];
  cpu->cr3 = cr3;
  cpu->started = 1;
  __atomic_store_n(&cpu->state, HVB_VCPU_RUNNING, __ATOMIC_RELEASE);
  /* An application processor starts afresh through INIT-SIPI-SIPI, which
   * also drops the events raised on it while it was stopped. The boot CPU
   * cannot (INIT sends it back to the BIOS): it waits in vcpu_stop(). */
  if (id != 0) {
    cpu->coming_up = 1;
    lapic_start_cpu(cpu->apic_id, (uint64_t)(uintptr_t)ap_trampoline);
    /* Events raised once start returns must reach it, and a local APIC
     * accepts them only once software-enabled (SDM Vol. 3A 11.4.7.2):
     * return when ap_main() has done that (allowing 10 s: an emulated CPU
     * on a loaded host can be slow to come up). */
    const uint64_t limit = rdtsc() + 10 * g_platform.tsc_hz;
    while (__atomic_load_n(&cpu->coming_up, __ATOMIC_ACQUIRE)) {
      if (rdtsc() > limit) {
        cpu->state = HVB_VCPU_STOPPED;
        return error(HVB_ERR_NOMEM); /* it did not come up */
      }
      __builtin_ia32_pause();
    }
  }
  return ok(0);
}
static struct fw_result vcpu_stop(const uint64_t *a) {
  (void)a;
  const uint32_t self = this_cpu();
  struct fw_cpu *cpu = &g_platform.cpus[self];
  lapic_timer_arm(0, 0);
  __atomic_store_n(&cpu->state, HVB_VCPU_STOPPED, __ATOMIC_RELEASE);
  int running = 0;
  for (uint32_t i = 0; i < g_platform.cpu_count; ++i) {
    running |= g_platform.cpus[i].state == HVB_VCPU_RUNNING;
  }
  if (!running) {
    machine_exit(
        "fault every vCPU stopped itself (vcpu.stop): nothing can run again");
  }
  fw_unlock();
  if (self != 0) {
    for (;;) __asm__ volatile("cli; hlt"); /* until INIT-SIPI */
  }
  while (__atomic_load_n(&cpu->state, __ATOMIC_ACQUIRE) != HVB_VCPU_RUNNING) {
    __builtin_ia32_pause();
  }
  lapic_end_all_in_service();
  enter_guest(cpu->cr3 ? cpu->cr3 : g_platform.boot_tables, cpu->entry,
              cpu->stack, cpu->arg);
}
static struct fw_result vcpu_status(const uint64_t *a) {
  if (a[0] >= g_platform.cpu_count) return error(HVB_ERR_NODEV);
  return ok(g_platform.cpus[a[0]].state);
}

/* ---- timer: the local APIC's, one-shot */

static struct fw_result timer_set(const uint64_t *a) {
  if (!valid_vector(a[1])) return error(HVB_ERR_INVAL);
  const uint64_t now = clock_monotonic_ns();
  if (a[0] <= now) {
    lapic_timer_arm(0, 0); /* replaces an armed deadline */
    lapic_send_ipi(g_platform.cpus[this_cpu()].apic_id, (uint8_t)a[1]);
  } else {
    lapic_timer_arm(a[0] - now, (uint8_t)a[1]);
  }
  return ok(0);
}
static struct fw_result timer_cancel(const uint64_t *a) {
  (void)a;
  lapic_timer_arm(0, 0);
  return ok(0);
}

/* ---- event: console input through the I/O APIC; queue completions and
 * IPIs as IPIs */

enum { kUartIrq = 4, kMaxSources = 1 + FW_MAX_QUEUES };
/* Sources by index: 0 console input, 1 + q queue q. */
static struct {
  int routed, masked, pending;
  uint32_t vcpu;
  uint8_t vector;
} g_sources[kMaxSources];

/* The index of event source `source`, or -1 if it does not exist. */
static int source_index(uint64_t source) {
  if (source == HVB_EVENT_SRC_CONSOLE_INPUT) return 0;
  if (source >= HVB_EVENT_SRC_QUEUE(0) &&
      source < HVB_EVENT_SRC_QUEUE(queue_count())) {
    return 1 + (int)(source - HVB_EVENT_SRC_QUEUE(0));
  }
  return -1;
}

static void raise_source(int i) {
  lapic_send_ipi(g_platform.cpus[g_sources[i].vcpu].apic_id,
                 g_sources[i].vector);
}

/* Console input: the UART's IRQ through the I/O APIC while routed and
 * unmasked. The I/O APIC drops edges while masked, so input that arrived
 * meanwhile is the one event kept pending, raised at unmask. */
static void console_source_apply(void) {
  ioapic_route(kUartIrq, g_platform.cpus[g_sources[0].vcpu].apic_id,
               g_sources[0].vector,
               !g_sources[0].routed || g_sources[0].masked);
  uart_input_interrupt(g_sources[0].routed);
}

void event_queue_completed(uint32_t id) {
  const int i = 1 + (int)id;
  if (!g_sources[i].routed) return; /* unrouted: dropped */
  if (g_sources[i].masked) {
    g_sources[i].pending = 1;
  } else {
    raise_source(i);
  }
}

static struct fw_result event_route(const uint64_t *a) {
  const int i = source_index(a[0]);
  if (i < 0) return error(HVB_ERR_NODEV);
  if (a[1] >= g_platform.cpu_count) return error(HVB_ERR_NODEV);
  if (!valid_vector(a[2])) return error(HVB_ERR_INVAL);
  g_sources[i].routed = 1;
  g_sources[i].vcpu = (uint32_t)a[1];
  g_sources[i].vector = (uint8_t)a[2];
  if (i == 0) {
    console_source_apply();
    /* Input already waiting raised its IRQ while unrouted, or holds the
     * line high without a new edge: one event says it is there
     * (docs/abi.md, event.route). */
    if (!g_sources[0].masked && uart_has_input()) raise_source(0);
  }
  return ok(0);
}
static struct fw_result event_mask(const uint64_t *a) {
  const int i = source_index(a[0]);
  if (i < 0) return error(HVB_ERR_NODEV);
  g_sources[i].masked = 1;
  if (i == 0) console_source_apply();
  return ok(0);
}
static struct fw_result event_unmask(const uint64_t *a) {
  const int i = source_index(a[0]);
  if (i < 0) return error(HVB_ERR_NODEV);
  g_sources[i].masked = 0;
  if (i == 0) {
    console_source_apply();
    g_sources[0].pending = g_sources[0].routed && uart_has_input();
  }
  if (g_sources[i].pending) {
    g_sources[i].pending = 0;
    raise_source(i);
  }
  return ok(0);
}
static struct fw_result event_send_ipi(const uint64_t *a) {
  /* Like KVM's: a vCPU never started has no interrupt controller yet. */
  if (a[0] >= g_platform.cpu_count || !g_platform.cpus[a[0]].started) {
    return error(HVB_ERR_NODEV);
  }
  if (!valid_vector(a[1])) return error(HVB_ERR_INVAL);
  /* A stopped vCPU keeps it pending only until its next start (INIT). */
  lapic_send_ipi(g_platform.cpus[a[0]].apic_id, (uint8_t)a[1]);
  return ok(0);
}

/* ---- rng: RDRAND */

static int rdrand64(uint64_t *out) {
  /* Intel's guidance: retry a few times on a transient underflow. */
  for (int i = 0; i < 10; ++i) {
    unsigned char ok_flag;
    __asm__ volatile("rdrand %0; setc %1" : "=r"(*out), "=qm"(ok_flag));
    if (ok_flag) return 1;
  }
  return 0;
}
static struct fw_result rng_fill(const uint64_t *a) {
  const uint64_t length = min_u64(a[1], HVB_RNG_MAX_FILL);
  if (length == 0) return ok(0);
  if (!fw_guest_owns(a[0], length)) return error(HVB_ERR_FAULT);
  uint8_t *dst = (uint8_t *)(uintptr_t)a[0];
  for (uint64_t done = 0; done < length;) {
    uint64_t word;
    if (!rdrand64(&word)) return error(HVB_ERR_IO);
    const uint64_t n = min_u64(8, length - done);
    memcpy(dst + done, &word, n);
    done += n;
  }
  return ok(length);
}

/* ---- dispatch */

static const handler kBase[] = {base_abi_version, base_impl_id,
                                base_impl_version, base_probe};
static const handler kConsole[] = {console_write, console_read};
static const handler kClock[] = {clock_monotonic, clock_wallclock};
static const handler kPower[] = {power_shutdown, power_reboot};
static const handler kDebug[] = {debug_null, debug_echo};
static const handler kVcpu[] = {vcpu_count, vcpu_self, vcpu_start, vcpu_stop,
                                vcpu_status};
static const handler kTimer[] = {timer_set, timer_cancel};
static const handler kEvent[] = {event_route, event_mask, event_unmask,
                                 event_send_ipi};
static const handler kBlock[] = {block_info,  block_read,    block_write,
                                 block_flush, block_discard, block_queue_setup};
static const handler kRng[] = {rng_fill};

#define SERVICE(table) \
  { table, sizeof(table) / sizeof(table[0]) }
static const struct {
  const handler *functions;
  uint32_t count;
} kServices[] = {
    SERVICE(kBase),  SERVICE(kConsole), SERVICE(kClock),
    SERVICE(kPower), SERVICE(kDebug),   SERVICE(kVcpu),
    SERVICE(kTimer), SERVICE(kEvent),   SERVICE(kBlock),
    {0, 0}, /* net: reserved */
    SERVICE(kRng),
};

static handler lookup(uint64_t fid) {
  if (fid > UINT32_MAX) return 0;
  const uint32_t service = HVB_FID_SERVICE(fid);
  const uint32_t function = HVB_FID_FUNCTION(fid);
  if (service >= sizeof(kServices) / sizeof(kServices[0])) return 0;
  if (service == HVB_SVC_RNG && !g_platform.has_rdrand) return 0;
  if (function >= kServices[service].count) return 0;
  return kServices[service].functions[function];
}

static int implemented(uint64_t fid) { return lookup(fid) != 0; }

/* The hypercall page's notify entry (hcpage.S). */
void fw_notify(uint64_t queue);
void fw_notify(uint64_t queue) {
  fw_lock();
  block_queue_notify(queue);
  fw_unlock();
}

struct fw_result fw_dispatch(uint64_t fid, const uint64_t args[6]) {
  const handler h = lookup(fid);
  if (!h) return error(HVB_ERR_NOSYS);
  fw_lock();
  const struct fw_result r = h(args);
  fw_unlock();
  return r;
}
