/* net (docs/abi.md 5.15): one Intel 8254x card (e1000.c), device 0. The
 * checks are common/net.c's and the ring engine common/block.c's; this
 * file holds the firmware's I/O.
 *
 * The firmware runs only inside hypercalls, so frames wait in the card's
 * receive descriptors (31 frames) until the guest takes them: with recv,
 * or into a receive ring's buffers when it rings that queue's doorbell. The
 * card's interrupt, "a frame was stored", goes straight to the guest
 * through the I/O APIC (services/event.c) as HVB_EVENT_SRC_NET_RX(0), or
 * as the receive ring's queue event once there is one. It is edge-
 * triggered on a level line: the line stays up from the first frame until
 * the firmware reads the card's interrupt cause, which it does only when
 * it finds no frame waiting (the queue drained by recv or a receive
 * doorbell), and then it looks once more. So a frame that arrives at an
 * empty queue raises one event, as the ABI says. */
#include "common/net.h"

#include "common/block.h"
#include "devices.h"
#include "firmware.h"
#include "services/services.h"

enum { kNoQueue = -1 };

static struct {
  int tx_queue, rx_queue; /* queue ids, or kNoQueue */
  struct hvb_ring_server tx, rx;
  /* The receive buffer taken from the ring and waiting for a frame: the
   * firmware takes one buffer at a time, so sq_head runs at most one
   * buffer ahead of the frames. */
  struct hvb_ring_request buffer;
  int holding_buffer;
} g_net = {.tx_queue = kNoQueue, .rx_queue = kNoQueue};

uint32_t fw_net_init(void) { return (uint32_t)e1000_init(); }

static int nic_exists(uint64_t dev) { return dev == 0 && e1000_present(); }

int fw_net_rx_queue(void) { return g_net.rx_queue; }

/* The oldest frame waiting, or 0; when there is none, the interrupt line
 * is lowered first so that the next frame raises it again. */
static uint32_t next_frame(const uint8_t **frame) {
  const uint32_t length = e1000_peek(frame);
  if (length != 0) return length;
  e1000_clear_interrupt();
  return e1000_peek(frame);
}

/* After frames were taken: if none waits now, the line is lowered so that
 * the next frame raises it, and a frame that came just then is announced
 * at once (the queue was empty when it arrived, as far as the guest
 * knows). */
static void settle(void) {
  const uint8_t *frame;
  if (e1000_peek(&frame) != 0) return;
  e1000_clear_interrupt();
  if (e1000_peek(&frame) != 0) e1000_raise_interrupt();
}

int fw_net_rearm(void) {
  if (!e1000_present()) return 0;
  const uint8_t *frame;
  return next_frame(&frame) != 0;
}

struct fw_result fw_net_info(const uint64_t *args) {
  if (!nic_exists(args[0])) return fw_error(HVB_ERR_NODEV);
  if (!fw_guest_owns(args[1], sizeof(struct hvb_net_info))) {
    return fw_error(HVB_ERR_FAULT);
  }
  struct hvb_nic_shape shape = {{0}, (uint32_t)e1000_link_up()};
  e1000_mac(shape.mac);
  const struct hvb_net_info info = hvb_net_info_of(&shape);
  memcpy((void *)(uintptr_t)args[1], &info, sizeof(info));
  return fw_ok(0);
}

/* One frame out: what net.send returns. */
static int64_t send_frame(uint64_t frame, uint64_t length) {
  const int64_t checked = hvb_net_check_send(length);
  if (checked != HVB_OK) return checked;
  if (!fw_guest_owns(frame, length)) return HVB_ERR_FAULT;
  return e1000_send((const void *)(uintptr_t)frame, (uint32_t)length) == 0
             ? HVB_OK
             : HVB_ERR_AGAIN;
}

struct fw_result fw_net_send(const uint64_t *args) {
  if (!nic_exists(args[0])) return fw_error(HVB_ERR_NODEV);
  return fw_ok_or_error(send_frame(args[1], args[2]));
}

struct fw_result fw_net_recv(const uint64_t *args) {
  if (!nic_exists(args[0])) return fw_error(HVB_ERR_NODEV);
  const uint64_t buf = args[1], capacity = args[2];
  if (capacity != 0 && !fw_guest_owns(buf, capacity)) {
    return fw_error(HVB_ERR_FAULT);
  }
  const uint8_t *frame;
  const uint32_t length = next_frame(&frame);
  const int64_t checked = hvb_net_check_recv(capacity, length);
  if (checked != HVB_OK) return fw_error(checked);
  memcpy((void *)(uintptr_t)buf, frame, length);
  e1000_pop();
  settle();
  return fw_ok(length);
}

struct fw_result fw_net_queue_setup(const uint64_t *args) {
  const uint64_t dev = args[0], ring = args[1], entries = args[2];
  const uint64_t direction = args[3];
  if (!nic_exists(dev)) return fw_error(HVB_ERR_NODEV);
  const int64_t placed = hvb_ring_check_placement(
      g_platform.map, g_platform.map_count, ring, entries);
  if (placed != HVB_OK) return fw_error(placed);
  if (direction != HVB_NET_QUEUE_TX && direction != HVB_NET_QUEUE_RX) {
    return fw_error(HVB_ERR_INVAL);
  }
  const int rx = direction == HVB_NET_QUEUE_RX;
  int *queue = rx ? &g_net.rx_queue : &g_net.tx_queue;
  if (*queue != kNoQueue) return fw_error(HVB_ERR_BUSY);
  const int id = fw_event_new_queue();
  if (id < 0) return fw_error(HVB_ERR_NOMEM);
  hvb_ring_server_init(rx ? &g_net.rx : &g_net.tx, (void *)(uintptr_t)ring,
                       (uint32_t)entries);
  *queue = id;
  /* The card's interrupt now announces the ring's event. */
  if (rx) fw_event_net_apply();
  return fw_ok((uint64_t)id);
}

static int64_t transmit(void *context, const struct hvb_ring_request *r) {
  (void)context;
  if (r->op != HVB_RING_OP_NET_SEND) return HVB_ERR_INVAL;
  const int64_t sent = send_frame(r->buf, r->count);
  return sent == HVB_OK ? (int64_t)r->count : sent;
}

/* Fills receive buffers with the frames waiting, in order; returns how
 * many buffers completed. A buffer that cannot take a frame (a wrong op,
 * not the guest's RAM, too short) completes with why, and the frame goes
 * to the next. */
static uint32_t fill_buffers(void) {
  uint32_t completed = 0;
  for (;;) {
    struct hvb_ring_request *b = &g_net.buffer;
    if (!g_net.holding_buffer) {
      if (hvb_ring_take(&g_net.rx, b, 1) == 0) break;
      g_net.holding_buffer = 1;
      int64_t st = b->op == HVB_RING_OP_NET_RECV ? HVB_OK : HVB_ERR_INVAL;
      if (st == HVB_OK && b->count != 0 && !fw_guest_owns(b->buf, b->count)) {
        st = HVB_ERR_FAULT;
      }
      if (st != HVB_OK) {
        hvb_ring_complete(&g_net.rx, b->tag, st);
        g_net.holding_buffer = 0;
        ++completed;
        continue;
      }
    }
    const uint8_t *frame;
    const uint32_t length = next_frame(&frame);
    if (length == 0) break; /* the buffer waits for the next frame */
    int64_t st = hvb_net_check_recv(b->count, length);
    if (st == HVB_OK) {
      memcpy((void *)(uintptr_t)b->buf, frame, length);
      e1000_pop();
      st = length;
    }
    hvb_ring_complete(&g_net.rx, b->tag, st);
    g_net.holding_buffer = 0;
    ++completed;
  }
  settle();
  return completed;
}

void fw_net_notify(uint64_t queue) {
  uint32_t completed = 0;
  if (g_net.tx_queue != kNoQueue && queue == (uint64_t)g_net.tx_queue) {
    completed = hvb_ring_serve(&g_net.tx, transmit, 0);
  } else if (g_net.rx_queue != kNoQueue && queue == (uint64_t)g_net.rx_queue) {
    completed = fill_buffers();
  } else {
    return;
  }
  if (completed > 0) fw_event_queue_completed((uint32_t)queue);
}
