/* Conformance: network devices (docs/abi.md 5.15). Without a net device,
 * every call names a device that does not exist. With one, its info and
 * every refusal; with "net-loopback" on the command line the device's link
 * is a loop (hvbios-run --net dgram=P,peer=P), and frames sent come back:
 * the receive path, its event and its length rules are checked too. */
#include "conformance.h"

enum { kNetVector = 0x66, kRxRingVector = 0x67 };

static uint8_t frame[HVB_NET_MAX_FRAME + 64] __attribute__((aligned(8)));
static uint8_t got[HVB_NET_MAX_FRAME + 64] __attribute__((aligned(8)));
static volatile uint64_t rx_events;
static void on_rx(struct hvb_interrupt_frame *f) {
  (void)f;
  rx_events = rx_events + 1;
}

static int contains(const char *s, const char *word) {
  const size_t n = strlen(word);
  for (; *s; ++s) {
    if (strncmp(s, word, n) == 0) return 1;
  }
  return 0;
}

static volatile uint64_t rx_ring_events;
static void on_rx_ring(struct hvb_interrupt_frame *f) {
  (void)f;
  rx_ring_events = rx_ring_events + 1;
}

/* Whether `n` bytes received at `got` are the `len` bytes sent from
 * `sent`: as they were, or, below the Ethernet minimum, zero-padded to 60
 * bytes by a link that pads (docs/abi.md 5.15). */
static int same_frame(const uint8_t *got, uint64_t n, const uint8_t *sent,
                      uint32_t len) {
  if (n == len) return memcmp(got, sent, len) == 0;
  if (len >= HVB_NET_PADDED_FRAME || n != HVB_NET_PADDED_FRAME) return 0;
  if (memcmp(got, sent, len) != 0) return 0;
  for (uint64_t i = len; i < n; ++i) {
    if (got[i] != 0) return 0;
  }
  return 1;
}

static void fill(uint32_t len, uint8_t seed) {
  for (uint32_t i = 0; i < len; ++i) frame[i] = (uint8_t)(seed + i * 13);
}

/* Sends `len` bytes and takes them back through the loop. */
static void loop_one(const char *name, uint32_t len, uint8_t seed) {
  fill(len, seed);
  const uint64_t events = rx_events;
  CHECK(name, hvb_net_send(0, frame, len) == HVB_OK, "send failed");
  CHECK("net.rx_event", poll_at_least(&rx_events, events + 1, 5000),
        "no event for a frame at an empty queue");
  uint32_t n = 0;
  const hvb_status st = hvb_net_recv(0, got, sizeof(got), &n);
  CHECK(name, st == HVB_OK && same_frame(got, n, frame, len),
        "status %ld, %u bytes of %u", (long)st, n, len);
}

static uint8_t tx_ring_mem[4096] __attribute__((aligned(4096)));
static uint8_t rx_ring_mem[4096] __attribute__((aligned(4096)));
static uint8_t rx_bufs[4][HVB_NET_MAX_FRAME];

/* A ring's next completion within 5 s: 1 and *out, else 0. A receive
 * ring's doorbell is rung while polling, which a platform that fills
 * buffers only when called needs (docs/abi.md 5.15). */
static int reap(struct hvb_ring *ring, struct hvb_ring_completion *out) {
  const uint64_t deadline = hvb_clock_monotonic_ns() + 5000000000ull;
  while (!hvb_ring_reap(ring, out)) {
    if (hvb_clock_monotonic_ns() > deadline) return 0;
    hvb_notify(ring->queue);
  }
  return 1;
}

/* Frames sent through a transmit ring come back through a receive ring's
 * buffers, each with its own length, in order. */
static void test_rings(void) {
  static struct hvb_ring tx, rx;
  struct hvb_result r = hvb_call6(HVB_FN_NET_QUEUE_SETUP, 0,
                                  hvb_virt_to_phys(tx_ring_mem), 8, 2, 0, 0);
  CHECK_STATUS("net.queue_setup.bad_direction", r, HVB_ERR_INVAL);
  r = hvb_call6(HVB_FN_NET_QUEUE_SETUP, 0, hvb_virt_to_phys(tx_ring_mem), 6,
                HVB_NET_QUEUE_TX, 0, 0);
  CHECK_STATUS("net.queue_setup.entries", r, HVB_ERR_INVAL);
  r = hvb_call6(HVB_FN_NET_QUEUE_SETUP, 0, ram_top - 4096, 256,
                HVB_NET_QUEUE_TX, 0, 0);
  CHECK_STATUS("net.queue_setup.outside_ram", r, HVB_ERR_FAULT);
  CHECK("net.queue_setup.tx",
        hvb_net_queue_setup(&tx, 0, tx_ring_mem, 8, HVB_NET_QUEUE_TX) == HVB_OK,
        "failed");
  CHECK("net.queue_setup.rx",
        hvb_net_queue_setup(&rx, 0, rx_ring_mem, 8, HVB_NET_QUEUE_RX) == HVB_OK,
        "failed");
  r = hvb_call6(HVB_FN_NET_QUEUE_SETUP, 0, hvb_virt_to_phys(tx_ring_mem), 8,
                HVB_NET_QUEUE_RX, 0, 0);
  CHECK_STATUS("net.queue_setup.one_per_direction", r, HVB_ERR_BUSY);
  hvb_interrupt_set_handler(kRxRingVector, on_rx_ring);
  CHECK("net.ring.route",
        hvb_event_route(HVB_EVENT_SRC_QUEUE(rx.queue), 0, kRxRingVector) ==
            HVB_OK,
        "route failed");
  for (uint32_t i = 0; i < 4; ++i) {
    hvb_ring_post(&rx, HVB_RING_OP_NET_RECV, 0, HVB_NET_MAX_FRAME, rx_bufs[i],
                  100 + i);
  }
  hvb_ring_submit(&rx);
  static const uint32_t kLengths[4] = {14, 60, 1000, HVB_NET_MAX_FRAME};
  static uint8_t frames[4][HVB_NET_MAX_FRAME];
  for (uint32_t i = 0; i < 4; ++i) {
    for (uint32_t j = 0; j < kLengths[i]; ++j) {
      frames[i][j] = (uint8_t)(i * 31 + j);
    }
    hvb_ring_post(&tx, HVB_RING_OP_NET_SEND, 0, kLengths[i], frames[i], i);
  }
  hvb_ring_post(&tx, HVB_RING_OP_NET_SEND, 0, 13, frames[0], 9); /* a runt */
  hvb_ring_submit(&tx);
  struct hvb_ring_completion c;
  for (uint32_t i = 0; i < 5; ++i) {
    const int64_t want = i < 4 ? (int64_t)kLengths[i] : HVB_ERR_INVAL;
    CHECK("net.ring.tx_completion",
          reap(&tx, &c) && c.tag == (i < 4 ? i : 9) && c.status == want,
          "completion %u: tag %lu status %ld", i, c.tag, (long)c.status);
  }
  for (uint32_t i = 0; i < 4; ++i) {
    CHECK(
        "net.ring.rx_completion",
        reap(&rx, &c) && c.tag == 100 + i && c.status > 0 &&
            same_frame(rx_bufs[i], (uint64_t)c.status, frames[i], kLengths[i]),
        "buffer %u: tag %lu status %ld", i, c.tag, (long)c.status);
  }
  CHECK("net.ring.rx_event", poll_at_least(&rx_ring_events, 1, 5000),
        "no event for the receive ring");
  hvb_event_mask(HVB_EVENT_SRC_QUEUE(rx.queue));
}

static void test_loopback(void) {
  hvb_interrupt_set_handler(kNetVector, on_rx);
  CHECK("net.route",
        hvb_event_route(HVB_EVENT_SRC_NET_RX(0), 0, kNetVector) == HVB_OK,
        "route failed");
  loop_one("net.loop.min_frame", HVB_NET_MIN_FRAME, 1);
  loop_one("net.loop.max_frame", HVB_NET_MAX_FRAME, 2);
  /* A frame longer than the buffer stays waiting: RANGE, then it fits. */
  fill(200, 3);
  const uint64_t events = rx_events;
  hvb_net_send(0, frame, 200);
  poll_at_least(&rx_events, events + 1, 5000);
  uint32_t n = 0;
  struct hvb_result r =
      hvb_call3(HVB_FN_NET_RECV, 0, hvb_virt_to_phys(got), 199);
  CHECK_STATUS("net.recv.too_small", r, HVB_ERR_RANGE);
  hvb_status st = hvb_net_recv(0, got, 200, &n);
  CHECK("net.recv.stays_after_range",
        st == HVB_OK && n == 200 && memcmp(got, frame, 200) == 0,
        "status %ld, %u bytes", (long)st, n);
  st = hvb_net_recv(0, got, sizeof(got), &n);
  CHECK("net.recv.drained_is_again", st == HVB_ERR_AGAIN, "status %ld",
        (long)st);
  hvb_event_mask(HVB_EVENT_SRC_NET_RX(0));
  test_rings();
}

static void test_device(int loopback) {
  struct hvb_net_info info;
  memset(&info, 0xa5, sizeof(info));
  const hvb_status st = hvb_net_info(0, &info);
  CHECK("net.info",
        st == HVB_OK && info.mtu == HVB_NET_MTU &&
            info.max_frame == HVB_NET_MAX_FRAME && (info.mac[0] & 1) == 0 &&
            (info.flags & ~HVB_NET_F_LINK_UP) == 0 && info.reserved[0] == 0 &&
            info.reserved[1] == 0,
        "status %ld mtu %u max_frame %u flags %x", (long)st, info.mtu,
        info.max_frame, info.flags);
  struct hvb_result r = hvb_call2(HVB_FN_NET_INFO, 0, ram_top - 8);
  CHECK_STATUS("net.info.outside_ram", r, HVB_ERR_FAULT);
  /* Refusals, in the specification's order: length, then buffer. */
  const uint64_t buf = hvb_virt_to_phys(frame);
  r = hvb_call3(HVB_FN_NET_SEND, 0, buf, HVB_NET_MIN_FRAME - 1);
  CHECK_STATUS("net.send.runt", r, HVB_ERR_INVAL);
  r = hvb_call3(HVB_FN_NET_SEND, 0, buf, HVB_NET_MAX_FRAME + 1);
  CHECK_STATUS("net.send.oversize", r, HVB_ERR_INVAL);
  r = hvb_call3(HVB_FN_NET_SEND, 0, ram_top - 8, HVB_NET_MAX_FRAME + 1);
  CHECK_STATUS("net.send.length_before_buffer", r, HVB_ERR_INVAL);
  r = hvb_call3(HVB_FN_NET_SEND, 0, ram_top - 30, 60);
  CHECK_STATUS("net.send.outside_ram", r, HVB_ERR_FAULT);
  r = hvb_call3(HVB_FN_NET_SEND, 0, ~0ull - 10, 60);
  CHECK_STATUS("net.send.wraps", r, HVB_ERR_FAULT);
  r = hvb_call3(HVB_FN_NET_RECV, 0, ram_top - 30, HVB_NET_MAX_FRAME);
  CHECK_STATUS("net.recv.outside_ram", r, HVB_ERR_FAULT);
  if (loopback) test_loopback();
}

void test_net(const struct hvb_boot_info *boot) {
  uint32_t nets = 0;
  const struct hvb_device *d =
      (const struct hvb_device *)(uintptr_t)boot->devices;
  for (uint32_t i = 0; i < boot->device_count; ++i) {
    if (d[i].type == HVB_DEV_NET) {
      CHECK("net.device_ids_in_order", d[i].id == nets && d[i].flags == 0,
            "id %u flags %lx", d[i].id, d[i].flags);
      ++nets;
    }
  }
  /* One past the last device (0 when there is none) does not exist. */
  struct hvb_net_info info;
  struct hvb_result r =
      hvb_call2(HVB_FN_NET_INFO, nets, hvb_virt_to_phys(&info));
  CHECK_STATUS("net.info.no_such_device", r, HVB_ERR_NODEV);
  r = hvb_call3(HVB_FN_NET_SEND, nets, hvb_virt_to_phys(frame), 60);
  CHECK_STATUS("net.send.no_such_device", r, HVB_ERR_NODEV);
  r = hvb_call3(HVB_FN_NET_RECV, nets, hvb_virt_to_phys(got), sizeof(got));
  CHECK_STATUS("net.recv.no_such_device", r, HVB_ERR_NODEV);
  r = hvb_call3(HVB_FN_NET_RECV, ~0ull, hvb_virt_to_phys(got), sizeof(got));
  CHECK_STATUS("net.recv.huge_device_id", r, HVB_ERR_NODEV);
  if (nets > 0) {
    const char *cmdline = (const char *)(uintptr_t)boot->cmdline;
    test_device(boot->cmdline != 0 && contains(cmdline, "net-loopback"));
  }
}
