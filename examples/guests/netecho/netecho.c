/* netecho: a small, correct IPv4 host on net device 0. It answers ARP
 * requests for its address, ICMP echo requests (ping) and UDP datagrams to
 * port 7 (echo, RFC 862), learning its neighbours' addresses in an ARP
 * cache. It checks every checksum it receives and drops what fails.
 *
 * Command line (space-separated):
 *   ip=A.B.C.D        its address (default 10.0.2.15)
 *   ping=A.B.C.D      also pings that address: resolves it with ARP, then
 *                     sends `count` echo requests (count=N, default 10) one
 *                     at a time, each waiting up to 1 s for its reply, and
 *                     prints how many came back
 *   quit-port=P       a UDP datagram to port P shuts the guest down with 0
 *                     (for tests)
 * Shuts down with 0 when pinging is done and every ping was answered, 1 if
 * any was not, 2 if the platform has no net device. */
#include "hvbios/guest/hvb.h"

enum {
  kRxVector = 0x50,
  kTimerVector = 0x51,
  kArpCacheSize = 16,
  kEtherArp = 0x0806,
  kEtherIpv4 = 0x0800,
  kProtoIcmp = 1,
  kProtoUdp = 17,
  kEchoPort = 7,
};

/* Frames are parsed in place; multi-byte fields are big-endian on the
 * wire. */
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static uint32_t get32(const uint8_t *p) {
  return (uint32_t)get16(p) << 16 | get16(p + 2);
}
static void put32(uint8_t *p, uint32_t v) {
  put16(p, (uint16_t)(v >> 16));
  put16(p + 2, (uint16_t)v);
}

/* The Internet checksum (RFC 1071): the ones' complement sum of 16-bit
 * big-endian words, folded. Summed 8 bytes at a time in native order
 * (byte order does not change a ones' complement sum, RFC 1071 2(B)):
 * every guest instruction may be emulated, so fewer is faster. */
static uint64_t sum_bytes(const uint8_t *p, uint32_t len, uint64_t sum) {
  while (len >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    sum += w;
    sum += sum < w; /* end-around carry */
    p += 8;
    len -= 8;
  }
  uint8_t tail[8] = {0};
  memcpy(tail, p, len);
  uint64_t w;
  memcpy(&w, tail, 8);
  sum += w;
  sum += sum < w;
  return sum;
}
/* Folds a native-order sum to the 16-bit checksum field's value (in wire
 * order when stored with memcpy). */
static uint16_t fold(uint64_t sum) {
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffu) + (sum >> 16);
  sum = (sum & 0xffffu) + (sum >> 16);
  sum = (sum & 0xffffu) + (sum >> 16);
  return (uint16_t)~sum;
}
static void store_checksum(uint8_t *field, uint16_t folded) {
  memcpy(field, &folded, 2);
}

static struct {
  uint32_t dev;
  uint8_t mac[6];
  uint32_t ip;
  uint32_t quit_port; /* 0: none */
  uint32_t ping_ip;   /* 0: none */
  uint32_t ping_count;
} config = {0, {0}, 0x0a00020f, 0, 0, 10};

static struct {
  uint32_t ip;
  uint8_t mac[6];
} arp_cache[kArpCacheSize];
static uint32_t arp_next; /* the slot replaced next (round robin) */

static void arp_learn(uint32_t ip, const uint8_t *mac) {
  for (uint32_t i = 0; i < kArpCacheSize; ++i) {
    if (arp_cache[i].ip == ip) {
      memcpy(arp_cache[i].mac, mac, 6);
      return;
    }
  }
  arp_cache[arp_next].ip = ip;
  memcpy(arp_cache[arp_next].mac, mac, 6);
  arp_next = (arp_next + 1) % kArpCacheSize;
}
static const uint8_t *arp_lookup(uint32_t ip) {
  for (uint32_t i = 0; i < kArpCacheSize; ++i) {
    if (ip != 0 && arp_cache[i].ip == ip) return arp_cache[i].mac;
  }
  return 0;
}

static uint8_t frame[HVB_NET_MAX_FRAME] __attribute__((aligned(8)));
static uint64_t echoed, pings_answered;
static int quit;

static void send_frame(uint8_t *f, uint32_t len) {
  hvb_status st;
  while ((st = hvb_net_send(config.dev, f, len)) == HVB_ERR_AGAIN) {
  }
  if (st != HVB_OK) hvb_printf("netecho: send failed: %ld\n", (long)st);
}

/* Fills the Ethernet header: to `dst`, from us. */
static void ether_header(uint8_t *f, const uint8_t *dst, uint16_t type) {
  memcpy(f, dst, 6);
  memcpy(f + 6, config.mac, 6);
  put16(f + 12, type);
}

static void arp_send(uint16_t op, const uint8_t *to_mac, uint32_t to_ip) {
  static uint8_t f[42];
  static const uint8_t kBroadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  ether_header(f, op == 1 ? kBroadcast : to_mac, kEtherArp);
  uint8_t *a = f + 14;
  put16(a, 1);          /* hardware: Ethernet */
  put16(a + 2, 0x0800); /* protocol: IPv4 */
  a[4] = 6;
  a[5] = 4;
  put16(a + 6, op);
  memcpy(a + 8, config.mac, 6);
  put32(a + 14, config.ip);
  memset(a + 18, 0, 6);
  if (op == 2) memcpy(a + 18, to_mac, 6);
  put32(a + 24, to_ip);
  send_frame(f, sizeof(f));
}

static void handle_arp(const uint8_t *a, uint32_t len) {
  if (len < 28 || get16(a) != 1 || get16(a + 2) != 0x0800 || a[4] != 6 ||
      a[5] != 4) {
    return;
  }
  const uint16_t op = get16(a + 6);
  const uint32_t sender_ip = get32(a + 14), target_ip = get32(a + 24);
  if (target_ip != config.ip || sender_ip == 0) return;
  uint8_t sender_mac[6];
  memcpy(sender_mac, a + 8, 6);
  if (sender_mac[0] & 1) return; /* a multicast sender is bogus */
  arp_learn(sender_ip, sender_mac);
  if (op == 1) arp_send(2, sender_mac, sender_ip);
}

/* Turns the IPv4 packet at `ip` (header `ihl` bytes) around: back to its
 * sender, from us, with a fresh header checksum. */
static void ip_turn_around(uint8_t *ip, uint32_t ihl) {
  memcpy(ip + 16, ip + 12, 4);
  put32(ip + 12, config.ip);
  ip[8] = 64; /* TTL */
  memset(ip + 10, 0, 2);
  store_checksum(ip + 10, fold(sum_bytes(ip, ihl, 0)));
}

static void handle_icmp(uint8_t *f, uint8_t *ip, uint32_t ihl, uint8_t *icmp,
                        uint32_t len) {
  if (len < 8 || fold(sum_bytes(icmp, len, 0)) != 0) return;
  if (icmp[0] == 8 && icmp[1] == 0) { /* echo request */
    icmp[0] = 0;                      /* echo reply, same id, seq, data */
    memset(icmp + 2, 0, 2);
    store_checksum(icmp + 2, fold(sum_bytes(icmp, len, 0)));
    ip_turn_around(ip, ihl);
    memcpy(f, f + 6, 6);
    memcpy(f + 6, config.mac, 6);
    send_frame(f, (uint32_t)(icmp - f) + len);
    ++echoed;
  } else if (icmp[0] == 0 && icmp[1] == 0 && get16(icmp + 4) == 0x4876) {
    ++pings_answered; /* a reply to one of our own ("Hv" id) */
  }
}

static void handle_udp(uint8_t *f, uint8_t *ip, uint32_t ihl, uint8_t *udp,
                       uint32_t len) {
  if (len < 8 || get16(udp + 4) != len) return;
  if (get16(udp + 6) != 0) { /* 0: the sender computed no checksum */
    /* Pseudo-header: source, destination, protocol, UDP length. */
    uint8_t pseudo[12];
    memcpy(pseudo, ip + 12, 8);
    pseudo[8] = 0;
    pseudo[9] = kProtoUdp;
    put16(pseudo + 10, (uint16_t)len);
    if (fold(sum_bytes(udp, len, sum_bytes(pseudo, 12, 0))) != 0) return;
  }
  const uint16_t dst_port = get16(udp + 2);
  if (config.quit_port != 0 && dst_port == config.quit_port) {
    quit = 1;
    return;
  }
  if (dst_port != kEchoPort) return;
  /* Swapping addresses and ports leaves every sum the checksum covers
   * unchanged: the request's checksum is the reply's. */
  memcpy(udp + 2, udp, 2);
  put16(udp, kEchoPort);
  ip_turn_around(ip, ihl);
  memcpy(f, f + 6, 6);
  memcpy(f + 6, config.mac, 6);
  send_frame(f, (uint32_t)(udp - f) + len);
  ++echoed;
}

static void handle_ipv4(uint8_t *f, uint32_t len) {
  uint8_t *ip = f + 14;
  len -= 14;
  if (len < 20 || ip[0] >> 4 != 4) return;
  const uint32_t ihl = (ip[0] & 0xfu) * 4u;
  const uint32_t total = get16(ip + 2);
  if (ihl < 20 || total < ihl || total > len) return;
  if (fold(sum_bytes(ip, ihl, 0)) != 0) return;
  if ((get16(ip + 6) & 0x3fffu) != 0) return; /* a fragment: not handled */
  if (get32(ip + 16) != config.ip) return;
  /* The sender is a neighbour (no router here): learn it from its frame,
   * as a reply goes back to it. */
  arp_learn(get32(ip + 12), f + 6);
  if (ip[9] == kProtoIcmp) handle_icmp(f, ip, ihl, ip + ihl, total - ihl);
  if (ip[9] == kProtoUdp) handle_udp(f, ip, ihl, ip + ihl, total - ihl);
}

static void handle_frame(uint8_t *f, uint32_t len) {
  const int for_us = memcmp(f, config.mac, 6) == 0;
  const int broadcast = (f[0] & f[1] & f[2] & f[3] & f[4] & f[5]) == 0xff;
  if (!for_us && !broadcast) return;
  if ((f[6] & 1) != 0) return; /* from a multicast address: bogus */
  const uint16_t type = get16(f + 12);
  if (type == kEtherArp) handle_arp(f + 14, len - 14);
  if (type == kEtherIpv4 && for_us) handle_ipv4(f, len);
}

static volatile int rx_pending, timer_fired;
static void on_rx(struct hvb_interrupt_frame *f) {
  (void)f;
  rx_pending = 1;
}
static void on_timer(struct hvb_interrupt_frame *f) {
  (void)f;
  timer_fired = 1;
}

/* Takes every waiting frame, then waits for more until `done` says so or
 * the deadline (0: none) passes. */
static void serve(int (*done)(void), uint64_t deadline_ns) {
  timer_fired = 0;
  if (deadline_ns != 0) hvb_timer_set(deadline_ns, kTimerVector);
  for (;;) {
    rx_pending = 0;
    for (;;) {
      uint32_t len;
      const hvb_status st =
          hvb_net_recv(config.dev, frame, sizeof(frame), &len);
      if (st == HVB_ERR_AGAIN) break;
      if (st != HVB_OK) {
        hvb_printf("netecho: recv failed: %ld\n", (long)st);
        hvb_power_shutdown(3);
      }
      handle_frame(frame, len);
      if (done()) break;
    }
    if (done() || (deadline_ns != 0 && timer_fired)) break;
    HVB_WAIT_UNTIL(rx_pending || (deadline_ns != 0 && timer_fired));
  }
  if (deadline_ns != 0) hvb_timer_cancel();
}

static uint32_t parse_ip(const char *s) {
  uint32_t ip = 0, part = 0, parts = 0;
  for (;; ++s) {
    if (*s >= '0' && *s <= '9') {
      part = part * 10 + (uint32_t)(*s - '0');
      if (part > 255) return 0;
    } else {
      ip = ip << 8 | part;
      part = 0;
      if (++parts == 4 || *s != '.') break;
    }
  }
  return parts == 4 ? ip : 0;
}
static uint32_t parse_number(const char *s) {
  uint32_t n = 0;
  while (*s >= '0' && *s <= '9') n = n * 10 + (uint32_t)(*s++ - '0');
  return n;
}
static void parse_cmdline(const char *s) {
  while (*s) {
    if (strncmp(s, "ip=", 3) == 0) config.ip = parse_ip(s + 3);
    if (strncmp(s, "ping=", 5) == 0) config.ping_ip = parse_ip(s + 5);
    if (strncmp(s, "count=", 6) == 0) config.ping_count = parse_number(s + 6);
    if (strncmp(s, "quit-port=", 10) == 0) {
      config.quit_port = parse_number(s + 10);
    }
    while (*s && *s != ' ') ++s;
    while (*s == ' ') ++s;
  }
}

static int never(void) { return quit; }
static uint32_t ping_target_seen;
static int peer_resolved(void) { return arp_lookup(config.ping_ip) != 0; }
static int ping_answered(void) { return pings_answered > ping_target_seen; }

static void send_ping(const uint8_t *to_mac, uint16_t seq) {
  static uint8_t f[14 + 20 + 8 + 32];
  ether_header(f, to_mac, kEtherIpv4);
  uint8_t *ip = f + 14, *icmp = ip + 20;
  memset(ip, 0, 20);
  ip[0] = 0x45;
  put16(ip + 2, 20 + 8 + 32);
  ip[8] = 64;
  ip[9] = kProtoIcmp;
  put32(ip + 12, config.ip);
  put32(ip + 16, config.ping_ip);
  store_checksum(ip + 10, fold(sum_bytes(ip, 20, 0)));
  icmp[0] = 8;
  icmp[1] = 0;
  memset(icmp + 2, 0, 2);
  put16(icmp + 4, 0x4876); /* id "Hv" */
  put16(icmp + 6, seq);
  for (int i = 0; i < 32; ++i) icmp[8 + i] = (uint8_t)('a' + i % 26);
  store_checksum(icmp + 2, fold(sum_bytes(icmp, 8 + 32, 0)));
  send_frame(f, sizeof(f));
}

static int ping_peer(void) {
  const uint64_t second = 1000000000ull;
  for (int tries = 0; tries < 5 && !peer_resolved(); ++tries) {
    arp_send(1, 0, config.ping_ip);
    serve(peer_resolved, hvb_clock_monotonic_ns() + second);
  }
  const uint8_t *mac = arp_lookup(config.ping_ip);
  if (mac == 0) {
    hvb_printf("netecho: no ARP reply from the peer\n");
    return 1;
  }
  uint8_t peer_mac[6];
  memcpy(peer_mac, mac, 6);
  for (uint32_t seq = 0; seq < config.ping_count; ++seq) {
    ping_target_seen = (uint32_t)pings_answered;
    send_ping(peer_mac, (uint16_t)seq);
    serve(ping_answered, hvb_clock_monotonic_ns() + second);
  }
  hvb_printf("netecho: %lu of %u pings answered\n", pings_answered,
             config.ping_count);
  return pings_answered == config.ping_count ? 0 : 1;
}

int hvb_main(const struct hvb_boot_info *boot) {
  if (boot->cmdline) parse_cmdline((const char *)(uintptr_t)boot->cmdline);
  struct hvb_net_info info;
  if (hvb_find_device(HVB_DEV_NET, 0) == 0 ||
      hvb_net_info(config.dev, &info) != HVB_OK) {
    hvb_printf("netecho: no network device\n");
    return 2;
  }
  memcpy(config.mac, info.mac, 6);
  hvb_interrupts_init();
  hvb_interrupt_set_handler(kRxVector, on_rx);
  hvb_interrupt_set_handler(kTimerVector, on_timer);
  if (hvb_event_route(HVB_EVENT_SRC_NET_RX(config.dev), 0, kRxVector) !=
      HVB_OK) {
    return 3;
  }
  hvb_printf("netecho: %02x:%02x:%02x:%02x:%02x:%02x at %u.%u.%u.%u, link %s\n",
             info.mac[0], info.mac[1], info.mac[2], info.mac[3], info.mac[4],
             info.mac[5], config.ip >> 24, config.ip >> 16 & 0xff,
             config.ip >> 8 & 0xff, config.ip & 0xff,
             info.flags & HVB_NET_F_LINK_UP ? "up" : "down");
  if (config.ping_ip != 0) {
    const int result = ping_peer();
    /* Keep answering (the peer may still be pinging us) until told. */
    if (config.quit_port == 0) return result;
    serve(never, 0);
    return result;
  }
  serve(never, 0);
  hvb_printf("netecho: %lu echoes, quitting\n", echoed);
  return 0;
}
