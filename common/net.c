/* The net service's checks: common/net.h. */
#include "common/net.h"

#include "hvbios/abi/status.h"

int64_t hvb_net_check_send(uint64_t len) {
  return len >= HVB_NET_MIN_FRAME && len <= HVB_NET_MAX_FRAME ? HVB_OK
                                                              : HVB_ERR_INVAL;
}

int64_t hvb_net_check_recv(uint64_t capacity, uint32_t frame_len) {
  if (frame_len == 0) return HVB_ERR_AGAIN;
  return frame_len <= capacity ? HVB_OK : HVB_ERR_RANGE;
}

struct hvb_net_info hvb_net_info_of(const struct hvb_nic_shape *nic) {
  struct hvb_net_info info = {{0}, 0, 0, 0, {0, 0}};
  for (int i = 0; i < 6; ++i) info.mac[i] = nic->mac[i];
  info.flags = nic->link_up ? HVB_NET_F_LINK_UP : 0;
  info.mtu = HVB_NET_MTU;
  info.max_frame = HVB_NET_MAX_FRAME;
  return info;
}
