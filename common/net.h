/*
 * The net service's checks (docs/abi.md 5.15), written once for every
 * platform: which frames a device takes, which buffers receive, and what
 * net.info reports. Freestanding C.
 */
#ifndef HVBIOS_COMMON_NET_H_
#define HVBIOS_COMMON_NET_H_

#include <stdint.h>

#include "hvbios/abi/net.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A network device as the checks see it. */
struct hvb_nic_shape {
  uint8_t mac[6];
  uint32_t link_up;
};

/* net.send of `len` bytes: HVB_OK, or HVB_ERR_INVAL unless
 * HVB_NET_MIN_FRAME <= len <= HVB_NET_MAX_FRAME. The buffer is the
 * platform's to check next (HVB_ERR_FAULT, common/memmap.h). */
int64_t hvb_net_check_send(uint64_t len);

/* net.recv into `capacity` bytes when the oldest waiting frame has
 * `frame_len` bytes (0: none waiting): HVB_OK, HVB_ERR_AGAIN (none) or
 * HVB_ERR_RANGE (it does not fit; it stays waiting). */
int64_t hvb_net_check_recv(uint64_t capacity, uint32_t frame_len);

/* What net.info reports for `nic`. */
struct hvb_net_info hvb_net_info_of(const struct hvb_nic_shape *nic);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* HVBIOS_COMMON_NET_H_ */
