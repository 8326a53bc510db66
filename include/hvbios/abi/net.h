/*
 * hvbios ABI: network devices (since 0.10).
 *
 * Freestanding: usable in guest kernels, firmware and the host library.
 * Specification: docs/abi.md, section "net".
 *
 * A frame is an Ethernet II frame as it travels on the wire without its
 * preamble and frame check sequence: destination MAC, source MAC,
 * EtherType, payload. The platform does not check its contents, and
 * frames shorter than 60 bytes are legal. A link through Ethernet hardware
 * (a real card, or one QEMU emulates) pads them with zeros to
 * HVB_NET_PADDED_FRAME on the way: a protocol finds its own length in its
 * header, as IPv4 and ARP do.
 */
#ifndef HVBIOS_ABI_NET_H_
#define HVBIOS_ABI_NET_H_

#include <stdint.h>

#include "hvbios/abi/static_assert.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The Ethernet header: the shortest frame a device takes. */
#define HVB_NET_MIN_FRAME 14u
/* The Ethernet minimum (64 bytes on the wire, less the frame check
 * sequence): what a padding link makes of a shorter frame. */
#define HVB_NET_PADDED_FRAME 60u
/* The MTU every device has in this version, and its longest frame. */
#define HVB_NET_MTU 1500u
#define HVB_NET_MAX_FRAME (HVB_NET_MTU + HVB_NET_MIN_FRAME)

/* HVB_FN_NET_INFO's answer. */
struct hvb_net_info {
  uint8_t mac[6];     /* the device's own address */
  uint16_t flags;     /* HVB_NET_F_* */
  uint32_t mtu;       /* largest payload of a frame: HVB_NET_MTU */
  uint32_t max_frame; /* largest frame: mtu + HVB_NET_MIN_FRAME */
  uint64_t reserved[2];
};
/* The link is connected: frames sent reach the other end. Without it,
 * net.send still succeeds, and the frame is lost, as on an unplugged
 * cable. */
#define HVB_NET_F_LINK_UP 1u

/* net.queue_setup's directions: a ring of frames to send
 * (HVB_RING_OP_NET_SEND requests), or of empty buffers for frames received
 * (HVB_RING_OP_NET_RECV), which complete as frames arrive. */
#define HVB_NET_QUEUE_TX 0u
#define HVB_NET_QUEUE_RX 1u

#ifdef __cplusplus
} /* extern "C" */
#endif

HVB_STATIC_ASSERT(sizeof(struct hvb_net_info) == 32, "hvb_net_info");

#endif /* HVBIOS_ABI_NET_H_ */
