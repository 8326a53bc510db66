/* event (docs/abi.md 5.8): the routing rules are common/events.c's. Console
 * input and the network card's "frame stored" arrive as their IRQs through
 * the I/O APIC; queue completions and IPIs are sent as IPIs from the local
 * APIC. */
#include "common/events.h"
#include "devices.h"
#include "firmware.h"
#include "services/services.h"

/* Sources by index: 0 console input, 1 memory map (its map never
 * changes here: routable, never raised), 2 net device 0's receive queue,
 * 3 + q queue q. */
enum {
  kConsoleSource = 0,
  kMemoryMapSource = 1,
  kNetSource = 2,
  kFirstQueueSource = 3
};
static struct hvb_event_source g_sources[kFirstQueueSource + FW_MAX_QUEUES];
static uint32_t g_queue_count;

/* The index of event source `source`, or -1 if it does not exist. */
static int source_index(uint64_t source) {
  if (source == HVB_EVENT_SRC_CONSOLE_INPUT) return kConsoleSource;
  if (source == HVB_EVENT_SRC_MEMORY_MAP) return kMemoryMapSource;
  if (source == HVB_EVENT_SRC_NET_RX(0) && e1000_present()) return kNetSource;
  if (source >= HVB_EVENT_SRC_QUEUE(0) &&
      source < HVB_EVENT_SRC_QUEUE(g_queue_count)) {
    return kFirstQueueSource + (int)(source - HVB_EVENT_SRC_QUEUE(0));
  }
  return -1;
}

static void raise_source(int i) {
  lapic_send_ipi(fw_apic_ids[g_sources[i].vcpu], (uint8_t)g_sources[i].vector);
}

/* Console input: the UART's IRQ through the I/O APIC while routed and
 * unmasked. The I/O APIC drops edges while masked, so input that arrived
 * meanwhile is the work waiting that an unmask raises. */
static void console_source_apply(void) {
  const struct hvb_event_source *s = &g_sources[0];
  ioapic_route(UART_IRQ, fw_apic_ids[s->vcpu], (uint8_t)s->vector,
               !s->routed || s->masked);
  uart_input_interrupt(s->routed);
}

/* The source the network card's interrupt announces: the receive ring's
 * queue once there is one (no HVB_EVENT_SRC_NET_RX then, as on every
 * platform), else the device's. */
static int net_irq_source(void) {
  const int rx_queue = fw_net_rx_queue();
  return rx_queue < 0 ? kNetSource : kFirstQueueSource + rx_queue;
}

void fw_event_net_apply(void) {
  const uint8_t irq = e1000_irq();
  if (!e1000_present() || irq == 0 || irq >= 16) return; /* polled only */
  const struct hvb_event_source *s = &g_sources[net_irq_source()];
  ioapic_route(irq, fw_apic_ids[s->vcpu], (uint8_t)s->vector,
               !s->routed || s->masked);
}

/* Whether source i's events come from a device's interrupt line, through
 * the I/O APIC. */
static int raised_by_a_device(int i) {
  return i == kConsoleSource || i == net_irq_source();
}

/* Whether source i has work the guest has not taken. For the network
 * card's source, the interrupt is re-armed first: an edge that came while
 * its input was masked or routed elsewhere is lost, and the line stays up
 * until the card's cause is read. */
static int work_waiting(int i) {
  if (i == kConsoleSource) return uart_has_input();
  if (i == net_irq_source()) return fw_net_rearm();
  return 0;
}

/* After a route, mask or unmask of source i: the I/O APIC entries that
 * follow its state. */
static void apply(int i) {
  if (i == kConsoleSource) console_source_apply();
  if (i == net_irq_source()) fw_event_net_apply();
}

int fw_event_new_queue(void) {
  if (g_queue_count == FW_MAX_QUEUES) return -1;
  return (int)g_queue_count++;
}

void fw_event_queue_completed(uint32_t queue) {
  const int i = kFirstQueueSource + (int)queue;
  if (hvb_event_trigger(&g_sources[i])) raise_source(i);
}

struct fw_result fw_event_route(const uint64_t *args) {
  const int i = source_index(args[0]);
  const int64_t checked =
      hvb_event_check_route(i >= 0, args[1], g_platform.cpu_count, args[2]);
  if (checked != HVB_OK) return fw_error(checked);
  /* A device's interrupt reaches only the CPUs the I/O APIC can name
   * (apic.c): on a machine with APIC ids above 255, not all of them. */
  if (raised_by_a_device(i) && !ioapic_reaches(fw_apic_ids[args[1]])) {
    return fw_error(HVB_ERR_RANGE);
  }
  /* The IRQ first: input already waiting raised it while unrouted, or
   * holds the line high without a new edge; the route raises one event
   * for it. */
  struct hvb_event_source *s = &g_sources[i];
  const int raise =
      hvb_event_route(s, (uint32_t)args[1], (uint32_t)args[2], work_waiting(i));
  apply(i);
  if (raise) raise_source(i);
  return fw_ok(0);
}

struct fw_result fw_event_mask(const uint64_t *args) {
  const int i = source_index(args[0]);
  if (i < 0) return fw_error(HVB_ERR_NODEV);
  hvb_event_mask(&g_sources[i]);
  apply(i);
  return fw_ok(0);
}

struct fw_result fw_event_unmask(const uint64_t *args) {
  const int i = source_index(args[0]);
  if (i < 0) return fw_error(HVB_ERR_NODEV);
  if (raised_by_a_device(i)) {
    g_sources[i].masked = 0;
    apply(i);
  }
  if (hvb_event_unmask(&g_sources[i], work_waiting(i))) raise_source(i);
  return fw_ok(0);
}

struct fw_result fw_event_send_ipi(const uint64_t *args) {
  const int64_t checked =
      hvb_event_check_ipi(args[0], g_platform.cpu_count, args[1]);
  if (checked != HVB_OK) return fw_error(checked);
  /* Like KVM's: a vCPU never started has no interrupt controller yet. */
  if (!g_platform.cpus[args[0]].started) return fw_error(HVB_ERR_NODEV);
  /* A stopped vCPU keeps it pending only until its next start (INIT). */
  lapic_send_ipi(fw_apic_ids[args[0]], (uint8_t)args[1]);
  return fw_ok(0);
}
